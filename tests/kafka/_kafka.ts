/**
 * Shared helpers of the Kafka tests: nodes on the shared broker, and clean-up of the topics the
 * tests created.
 *
 * @module
 */

import { Admin, Producer } from "@platformatic/kafka";
import type { EventStoreOptions } from "../../mod.ts";
import { KafkaEventStore, type KafkaEventStoreOptions } from "../../src/kafka/mod.ts";
import { KAFKA_PORT } from "../../scripts/services/kafka.ts";

/** Bootstrap address of the shared broker. */
export const SHARED_BROKERS: readonly string[] = [`127.0.0.1:${KAFKA_PORT}`];

/** Topic prefixes the tests of this process used (deleted by {@linkcode deleteTopics}). */
export const usedPrefixes: Set<string> = new Set();

/** A node on the shared broker, with fast test settings. */
export function kafkaNode(
  options: EventStoreOptions,
  extra: Partial<KafkaEventStoreOptions> = {},
): KafkaEventStore {
  if (options.prefix !== undefined) usedPrefixes.add(options.prefix);
  return new KafkaEventStore({ brokers: SHARED_BROKERS, ...options, ...extra });
}

/** An idempotent producer of the user's own on the shared broker; the caller closes it. */
export function userProducer(clientId: string): Producer {
  return new Producer({ clientId, bootstrapBrokers: [...SHARED_BROKERS], idempotent: true });
}

/** An admin client on `brokers`; the caller closes it. */
export function adminClient(brokers: readonly string[] = SHARED_BROKERS): Admin {
  return new Admin({
    clientId: "socketio4ts-test-admin",
    bootstrapBrokers: [...brokers],
    retries: 2,
    retryDelay: 200,
  });
}

/**
 * Deletes every topic whose name starts with one of the used prefixes; returns how many were
 * deleted and how many such topics remain.
 */
export async function deleteTopics(): Promise<{ deleted: number; remaining: number }> {
  const admin = adminClient();
  try {
    const ours = (topics: string[]) =>
      topics.filter((topic) => [...usedPrefixes].some((prefix) => topic.startsWith(`${prefix}.`)));
    const topics = ours(await admin.listTopics());
    if (topics.length > 0) await admin.deleteTopics({ topics });
    // The broker deletes topics asynchronously: a listing right after may still show some.
    let remaining = ours(await admin.listTopics()).length;
    for (let attempt = 0; remaining > 0 && attempt < 100; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      remaining = ours(await admin.listTopics()).length;
    }
    usedPrefixes.clear();
    return { deleted: topics.length, remaining };
  } finally {
    await admin.close();
  }
}

/** Members of each consumer group in `groups`, as the broker describes them. */
export async function groupMembers(
  groups: readonly string[],
  brokers: readonly string[] = SHARED_BROKERS,
): Promise<Map<string, number>> {
  const admin = adminClient(brokers);
  try {
    const described = await admin.describeGroups({ groups: [...groups] });
    return new Map([...described].map(([id, group]) => [id, group.members.size]));
  } finally {
    await admin.close();
  }
}
