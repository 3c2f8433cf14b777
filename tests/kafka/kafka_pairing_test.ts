/**
 * Pairings of storage backends with Kafka events, end to end through the pairing suite: Memory
 * storage + Kafka (a seed row), Redis storage (TCP) + Kafka, Hazelcast storage + Kafka (a seed
 * row). The topics the suites created are deleted at the end.
 */

import assert from "node:assert/strict";
import { createClient } from "redis";
import { MemoryStoreFactory, type StoreFactory } from "../../mod.ts";
import { HazelcastStoreFactory } from "../../src/hazelcast/mod.ts";
import { type NodeRedisClient, RedisStoreFactory } from "../../src/redis/mod.ts";
import { REDIS_PORT } from "../../scripts/services/redis.ts";
import { pairingSuite } from "../conformance/pairing_suite.ts";
import { randomPrefix } from "../conformance/_helpers.ts";
import { clientConfig } from "../hazelcast/_hazelcast.ts";
import { ignoreUnless, requireService } from "../_services.ts";
import { deleteTopics, kafkaNode } from "./_kafka.ts";

const [kafka, redis, hazelcast] = await Promise.all([
  requireService("kafka"),
  requireService("redis"),
  requireService("hazelcast"),
]);

/** Makes `factory.shutdown()` also destroy the node-redis client the test created. */
function destroyingClient<T extends StoreFactory>(factory: T, client: { destroy(): void }): T {
  const shutdown = factory.shutdown.bind(factory);
  let done: Promise<void> | undefined;
  factory.shutdown = () =>
    done ??= shutdown().finally(() => {
      try {
        client.destroy();
      } catch {
        // already closed
      }
    });
  return factory;
}

pairingSuite({
  name: "Memory storage + Kafka events",
  ignore: ignoreUnless(kafka),
  createFactory: (events) => new MemoryStoreFactory(events),
  createEventStore: (options) => kafkaNode(options),
});

pairingSuite({
  name: "Redis storage (TCP) + Kafka events",
  ignore: ignoreUnless([kafka, redis]),
  createFactory: (events) => {
    const client = createClient({ url: `redis://127.0.0.1:${REDIS_PORT}` });
    client.on("error", () => {});
    return destroyingClient(
      new RedisStoreFactory({
        client: client as unknown as NodeRedisClient,
        prefix: randomPrefix("kafka-pair"),
        eventStore: events,
      }),
      client,
    );
  },
  createEventStore: (options) => kafkaNode(options),
});

pairingSuite({
  name: "Hazelcast storage + Kafka events",
  ignore: ignoreUnless([kafka, hazelcast]),
  createFactory: (events) =>
    new HazelcastStoreFactory({
      clientConfig: clientConfig(),
      prefix: randomPrefix("kafka-pair"),
      eventStore: events,
    }),
  createEventStore: (options) => kafkaNode(options),
});

Deno.test({
  name: "Kafka pairing tests: delete the topics they created",
  ignore: ignoreUnless(kafka),
  async fn() {
    const { deleted, remaining } = await deleteTopics();
    assert.ok(deleted > 0, "the suites created topics");
    assert.equal(remaining, 0);
  },
});
