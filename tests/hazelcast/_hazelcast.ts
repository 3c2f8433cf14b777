/**
 * Helpers of the Hazelcast tests: client configuration for the harness's shared member, raw
 * clients, listing and dropping the distributed objects a run created.
 *
 * @module
 */

import type { DistributedObject } from "hazelcast-client";
import {
  connectHazelcast,
  type HazelcastClient,
  type HazelcastClientConfig,
} from "../../src/hazelcast/mod.ts";
import { HAZELCAST_CLUSTER_NAME, HAZELCAST_PORT } from "../../scripts/services/hazelcast.ts";

/** Address of the shared member. */
export const SHARED_MEMBER = `127.0.0.1:${HAZELCAST_PORT}`;

/** Client configuration for members on `members` (the shared member by default), quiet. */
export function clientConfig(
  members: readonly string[] = [SHARED_MEMBER],
  extra: Partial<HazelcastClientConfig> = {},
): HazelcastClientConfig {
  return {
    clusterName: HAZELCAST_CLUSTER_NAME,
    network: { clusterMembers: [...members] },
    connectionStrategy: { connectionRetry: { clusterConnectTimeoutMillis: 10_000 } },
    properties: { "hazelcast.logging.level": "OFF" },
    ...extra,
  };
}

/** A raw client on the shared member (shut it down in the test). */
export function rawClient(members?: readonly string[]): Promise<HazelcastClient> {
  return connectHazelcast(clientConfig(members));
}

/** A random prefix for one test or factory. */
export function prefix(label: string): string {
  return `${label}-${crypto.randomUUID().slice(0, 8)}`;
}

/** The cluster's distributed objects (service name, object name) whose name contains `part`. */
export async function objectsNamed(
  client: HazelcastClient,
  part: string,
): Promise<[string, string][]> {
  const all: DistributedObject[] = await client.getDistributedObjects();
  return all.filter((object) => object.getName().includes(part)).map((
    object,
  ) => [object.getServiceName(), object.getName()]);
}

/** Prefixes used in this process, dropped by {@linkcode dropRecordedPrefixes}. */
export const recordedPrefixes: Set<string> = new Set();

/** Records a prefix for the final clean-up and returns it. */
export function record(value: string): string {
  recordedPrefixes.add(value);
  return value;
}

/**
 * Destroys a distributed object. A reliable topic proxy's own `destroy()` only destroys its ring
 * buffer and leaves the topic registered on the members, so the generic proxy `destroy()` (one
 * level up its prototype chain) is called as well.
 */
async function destroyFully(object: DistributedObject): Promise<void> {
  await object.destroy();
  if (object.getServiceName() === "hz:impl:reliableTopicService") {
    const generic = Object.getPrototypeOf(Object.getPrototypeOf(object)) as DistributedObject;
    await generic.destroy.call(object);
  }
}

/**
 * Destroys every distributed object named after one of `prefixes` (maps `<p>:…`, reliable topics
 * `<p>.…` and their ring buffers `_hz_rb_<p>.…`). Returns how many were destroyed.
 */
export async function dropPrefixes(prefixes: Iterable<string>): Promise<number> {
  const wanted = [...prefixes];
  if (wanted.length === 0) return 0;
  const client = await rawClient();
  try {
    const all: DistributedObject[] = await client.getDistributedObjects();
    const doomed = all.filter((object) => {
      const name = object.getName().replace(/^_hz_rb_/, "");
      return wanted.some((p) => name.startsWith(`${p}:`) || name.startsWith(`${p}.`));
    });
    await Promise.all(doomed.map((object) => destroyFully(object)));
    return doomed.length;
  } finally {
    await client.shutdown();
  }
}
