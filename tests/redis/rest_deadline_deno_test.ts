/**
 * The REST command port when the endpoint hangs, behind an HTTP proxy of the test's own in front
 * of the REST fixture that can stop answering: a publish rejects at `commandTimeoutMs` with a
 * `BackendError` saying so, and `shutdown()` of a polling Streams store does not wait for the
 * hung poll.
 *
 * Deno only (`Deno.serve` makes the proxy).
 */

import assert from "node:assert/strict";
import { BackendError } from "../../mod.ts";
import { RedisStreamEventStore } from "../../src/redis/mod.ts";
import { within } from "../conformance/_helpers.ts";
import { requireService, serviceTest } from "../_services.ts";
import { dropPrefix, REST_URL, restClient, testPrefix } from "./_redis.ts";

const redis = await requireService("redis");
const upstash = await requireService("upstash");

/** Forwards to the REST fixture; while `hang` is set, requests wait until `release()`. */
class HangingProxy {
  hang = false;
  #held = new Set<() => void>();
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor() {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const body = await req.text();
      if (this.hang) await new Promise<void>((resolve) => this.#held.add(resolve));
      const reply = await fetch(REST_URL + new URL(req.url).pathname, {
        method: "POST",
        headers: req.headers,
        body,
      });
      return new Response(await reply.arrayBuffer(), {
        status: reply.status,
        headers: reply.headers,
      });
    });
  }

  /** URL of the proxy. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Lets every held request through and stops. */
  async close(): Promise<void> {
    this.hang = false;
    for (const resolve of this.#held) resolve();
    this.#held.clear();
    await this.#server.shutdown();
  }
}

serviceTest(
  [redis, upstash],
  "RedisStreamEventStore (REST): a hung endpoint rejects publish at commandTimeoutMs, and shutdown() does not wait for it",
  async () => {
    const proxy = new HangingProxy();
    const prefix = testPrefix("rest-hang");
    const errors: Error[] = [];
    const events = new RedisStreamEventStore({
      client: restClient(proxy.url),
      prefix,
      nodeId: "a",
      pollIntervalMs: 20,
      commandTimeoutMs: 1_500,
      onError: (error) => errors.push(error),
    });
    try {
      await events.subscribe("JOIN", () => {});
      await events.publish("JOIN", { sessionId: "s", namespace: "/", room: "r" });
      proxy.hang = true;
      await new Promise((resolve) => setTimeout(resolve, 100)); // a poll is now held
      const started = performance.now();
      const failure = await within(
        events.publish("JOIN", { sessionId: "s", namespace: "/", room: "r" }).then(
          () => undefined,
          (error) => error,
        ),
        "the publish to a hung endpoint settling",
        6_000,
      );
      const took = performance.now() - started;
      assert.ok(failure instanceof BackendError, `a BackendError, got ${failure}`);
      assert.match(failure.message, /XADD ".*:stream:JOIN" failed: no reply within 1500 ms/);
      assert.ok(took < 3_500, `rejected after ${took} ms`);

      await new Promise((resolve) => setTimeout(resolve, 100)); // the next poll is held
      const stopping = performance.now();
      await within(events.shutdown(), "shutdown() while a poll hangs", 1_000);
      assert.ok(performance.now() - stopping < 1_000);
    } finally {
      await proxy.close();
      await events.shutdown();
      // The held requests end at their deadline; let them settle before the sanitizers look.
      await new Promise((resolve) => setTimeout(resolve, 1_600));
      await dropPrefix(prefix);
    }
  },
);
