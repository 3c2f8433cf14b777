/**
 * KafkaEventStore against a "broker" that accepts TCP connections and never answers (a frozen or
 * partitioned broker): `requestTimeoutMs` bounds the client's own wait, so a publish and a
 * subscribe reject after about that long, and `shutdown()` returns at once. Needs no Kafka.
 * Deno-only (`*_deno_test.ts`, skipped by the npm build's test matrix): the silent listener is a
 * `Deno.listen`.
 */

import assert from "node:assert/strict";
import { BackendError } from "../../mod.ts";
import { KafkaEventStore } from "../../src/kafka/mod.ts";
import { randomPrefix } from "../conformance/_helpers.ts";

const REQUEST_TIMEOUT_MS = 1000;

Deno.test({
  name:
    "KafkaEventStore: a broker that never answers fails publish and subscribe after requestTimeoutMs, and shutdown() returns at once",
  async fn() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const connections: Deno.Conn[] = [];
    const accepting = (async () => {
      try {
        for await (const connection of listener) connections.push(connection);
      } catch {
        // The listener was closed.
      }
    })();
    const options = {
      brokers: [`127.0.0.1:${listener.addr.port}`],
      prefix: randomPrefix("ksilent"),
      retries: 1,
      retryDelayMs: 100,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      onError: () => {},
    };
    const store = new KafkaEventStore({ ...options, nodeId: "a" });
    // Subscribes without creating the topic: the consumer's own requests wait for the broker.
    // The consumer waits longer (the broker may hold a group join for the session timeout).
    const reader = new KafkaEventStore({
      ...options,
      nodeId: "b",
      createTopics: false,
      sessionTimeoutMs: 2000,
      heartbeatIntervalMs: 500,
    });
    try {
      let started = performance.now();
      await assert.rejects(
        store.publish("JOIN", { sessionId: "s", namespace: "/", room: "r" }),
        (error: unknown) => error instanceof BackendError && /timed out/i.test(error.message),
      );
      const publishMs = performance.now() - started;
      started = performance.now();
      await assert.rejects(store.subscribe("LEAVE", () => {}), BackendError);
      const subscribeMs = performance.now() - started;
      started = performance.now();
      await assert.rejects(reader.subscribe("LEAVE", () => {}), BackendError);
      const consumerMs = performance.now() - started;
      started = performance.now();
      await Promise.all([store.shutdown(), reader.shutdown()]);
      const shutdownMs = performance.now() - started;
      console.log(
        `[kafka silent broker] publish rejected after ${
          Math.round(publishMs)
        } ms, subscribe after ${Math.round(subscribeMs)} ms (${
          Math.round(consumerMs)
        } ms without creating the topic), shutdown took ${
          Math.round(shutdownMs)
        } ms (requestTimeoutMs ${REQUEST_TIMEOUT_MS})`,
      );
      assert.ok(connections.length > 0, "the store connected to the silent broker");
      // One attempt (a timeout is not retried by the client) or two, not the client's 30 s.
      const bound = 2 * REQUEST_TIMEOUT_MS + 2000;
      assert.ok(publishMs < bound, `publish rejected after ${Math.round(publishMs)} ms`);
      assert.ok(subscribeMs < bound, `subscribe rejected after ${Math.round(subscribeMs)} ms`);
      // The consumer's wait: sessionTimeoutMs + requestTimeoutMs, once or twice.
      const consumerBound = 2 * (2000 + REQUEST_TIMEOUT_MS) + 2000;
      assert.ok(
        consumerMs < consumerBound,
        `subscribe rejected after ${Math.round(consumerMs)} ms`,
      );
      assert.ok(shutdownMs < 1000, `shutdown took ${Math.round(shutdownMs)} ms`);
    } finally {
      await Promise.allSettled([store.shutdown(), reader.shutdown()]);
      listener.close();
      await accepting;
      for (const connection of connections) connection.close();
    }
  },
});
