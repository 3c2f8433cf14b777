/**
 * Hazelcast storage paired with Redis Streams events (the seed's pairing), through the pairing
 * suite: session data in IMaps on the shared Hazelcast member, cluster events in Redis streams.
 * Kept apart from the Hazelcast-only files so those need no Redis.
 */

import { HazelcastStoreFactory } from "../../src/hazelcast/mod.ts";
import { pairingSuite } from "../conformance/pairing_suite.ts";
import { ignoreUnless, requireService, serviceTest } from "../_services.ts";
import { dropPrefix, streamStoreOn } from "../redis/_redis.ts";
import { clientConfig, dropPrefixes, prefix, record, recordedPrefixes } from "./_hazelcast.ts";

const hazelcast = await requireService("hazelcast");
const redis = await requireService("redis");
const redisPrefixes = new Set<string>();

pairingSuite({
  name: "Hazelcast storage + Redis Streams events (TCP)",
  ignore: ignoreUnless([hazelcast, redis]),
  createFactory: (eventStore) =>
    new HazelcastStoreFactory({
      clientConfig: clientConfig(),
      prefix: record(prefix("pair")),
      eventStore,
    }),
  createEventStore: (options) => {
    if (options.prefix) redisPrefixes.add(options.prefix);
    return streamStoreOn("tcp", options);
  },
});

serviceTest(
  [hazelcast, redis],
  "clean-up: drop the Redis streams of the Redis pairing",
  async () => {
    for (const p of redisPrefixes) await dropPrefix(p);
  },
);

serviceTest(hazelcast, "clean-up: destroy the session maps of the Redis pairing", async () => {
  await dropPrefixes(recordedPrefixes);
});
