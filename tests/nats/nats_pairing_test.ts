/**
 * Pairings of storage backends with the NATS event stores, end to end through the pairing suite:
 * Redis storage + NATS core events (the seed's "Redis storage + NATS pub/sub", over TCP Redis and
 * over the Upstash REST protocol, the edge form), and Memory storage + JetStream.
 */

import assert from "node:assert/strict";
import { createClient } from "redis";
import { Redis } from "@upstash/redis";
import { MemoryStoreFactory, type StoreFactory } from "../../mod.ts";
import { type NodeRedisClient, RedisStoreFactory } from "../../src/redis/mod.ts";
import { REDIS_PORT } from "../../scripts/services/redis.ts";
import { UPSTASH_PORT, UPSTASH_TOKEN } from "../../scripts/services/upstash_rest.ts";
import { pairingSuite } from "../conformance/pairing_suite.ts";
import { randomPrefix } from "../conformance/_helpers.ts";
import { ignoreUnless, requireService } from "../_services.ts";
import { coreNode, createdStreams, deleteStreams, jetStreamNode } from "./_nats.ts";

const [nats, redis, upstash] = await Promise.all([
  requireService("nats"),
  requireService("redis"),
  requireService("upstash"),
]);

/** Makes `factory.shutdown()` also destroy the node-redis client the test created. */
function destroyingClient<T extends StoreFactory>(factory: T, client: { destroy(): void }): T {
  const shutdown = factory.shutdown.bind(factory);
  let done: Promise<void> | undefined;
  factory.shutdown = () =>
    done ??= shutdown().finally(async () => {
      try {
        client.destroy();
      } catch {
        // already closed
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    });
  return factory;
}

pairingSuite({
  name: "Redis storage (TCP) + NATS core events (WebSocket)",
  ignore: ignoreUnless([nats, redis]),
  createFactory: (events) => {
    const client = createClient({ url: `redis://127.0.0.1:${REDIS_PORT}` });
    client.on("error", () => {});
    return destroyingClient(
      new RedisStoreFactory({
        client: client as unknown as NodeRedisClient,
        prefix: randomPrefix("nats-pair"),
        eventStore: events,
      }),
      client,
    );
  },
  createEventStore: (options) => coreNode("ws", options),
});

pairingSuite({
  name: "Redis storage (REST) + NATS core events (WebSocket), the edge pairing",
  ignore: ignoreUnless([nats, upstash]),
  createFactory: (events) =>
    new RedisStoreFactory({
      client: new Redis({
        url: `http://127.0.0.1:${UPSTASH_PORT}`,
        token: UPSTASH_TOKEN,
        enableTelemetry: false,
      }),
      prefix: randomPrefix("nats-pair"),
      eventStore: events,
    }),
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
