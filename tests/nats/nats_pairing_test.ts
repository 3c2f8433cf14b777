/**
 * Pairings of storage backends with the NATS event stores, end to end through the pairing suite:
 * Redis storage + NATS core events (the seed's "Redis storage + NATS pub/sub", over TCP Redis and
 * over the Upstash REST protocol, the edge form), and Memory storage + JetStream.
 */

import assert from "node:assert/strict";
import { MemoryStoreFactory } from "../../mod.ts";
import { pairingSuite } from "../conformance/pairing_suite.ts";
import { randomPrefix } from "../conformance/_helpers.ts";
import { ignoreUnless, requireService } from "../_services.ts";
import { factoryOn } from "../redis/_redis.ts";
import { coreNode, createdStreams, deleteStreams, jetStreamNode } from "./_nats.ts";

const [nats, redis, upstash] = await Promise.all([
  requireService("nats"),
  requireService("redis"),
  requireService("upstash"),
]);

pairingSuite({
  name: "Redis storage (TCP) + NATS core events (WebSocket)",
  ignore: ignoreUnless([nats, redis]),
  createFactory: (events) =>
    factoryOn("tcp", { prefix: randomPrefix("nats-pair"), eventStore: events }),
  createEventStore: (options) => coreNode("ws", options),
});

pairingSuite({
  name: "Redis storage (REST) + NATS core events (WebSocket), the edge pairing",
  ignore: ignoreUnless([nats, upstash]),
  createFactory: (events) =>
    factoryOn("rest", { prefix: randomPrefix("nats-pair"), eventStore: events }),
  createEventStore: (options) => coreNode("ws", options),
});

pairingSuite({
  name: "Memory storage + NATS JetStream events (TCP)",
  ignore: ignoreUnless(nats),
  createFactory: (events) => new MemoryStoreFactory(events),
  createEventStore: (options) => jetStreamNode("tcp", { ...options, storage: "memory" }),
});

pairingSuite({
  name: "Memory storage + NATS core events (TCP)",
  ignore: ignoreUnless(nats),
  createFactory: (events) => new MemoryStoreFactory(events),
  createEventStore: (options) => coreNode("tcp", options),
});

Deno.test({
  name: "NATS pairing tests: delete the JetStream streams they created",
  ignore: ignoreUnless(nats),
  async fn() {
    const { deleted, remaining } = await deleteStreams();
    assert.ok(deleted > 0, "the JetStream pairing created streams");
    assert.equal(remaining, 0);
    createdStreams.clear();
  },
});
