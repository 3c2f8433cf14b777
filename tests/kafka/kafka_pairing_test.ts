/**
 * Pairings of storage backends with Kafka events, end to end through the pairing suite: Memory
 * storage + Kafka (a seed row), Redis storage (TCP) + Kafka, Hazelcast storage + Kafka (a seed
 * row). The topics the suites created are deleted at the end.
 */

import assert from "node:assert/strict";
import { MemoryStoreFactory } from "../../mod.ts";
import { HazelcastStoreFactory } from "../../src/hazelcast/mod.ts";
import { pairingSuite } from "../conformance/pairing_suite.ts";
import { randomPrefix } from "../conformance/_helpers.ts";
import { clientConfig } from "../hazelcast/_hazelcast.ts";
import { ignoreUnless, requireService } from "../_services.ts";
import { factoryOn } from "../redis/_redis.ts";
import { deleteTopics, kafkaNode } from "./_kafka.ts";

const [kafka, redis, hazelcast] = await Promise.all([
  requireService("kafka"),
  requireService("redis"),
  requireService("hazelcast"),
]);

pairingSuite({
  name: "Memory storage + Kafka events",
  ignore: ignoreUnless(kafka),
  createFactory: (events) => new MemoryStoreFactory(events),
  createEventStore: (options) => kafkaNode(options),
});

pairingSuite({
  name: "Redis storage (TCP) + Kafka events",
  ignore: ignoreUnless([kafka, redis]),
  createFactory: (events) =>
    factoryOn("tcp", { prefix: randomPrefix("kafka-pair"), eventStore: events }),
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
