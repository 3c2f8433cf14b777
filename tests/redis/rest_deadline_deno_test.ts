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

/**
 * Forwards to the REST fixture; while `hang` is set, or for a request body `hangIf` accepts,
 * requests wait until `close()`.
 */
class HangingProxy {
  hang = false;
  hangIf: ((body: string) => boolean) | undefined;
  #held = new Set<() => void>();
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor() {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const body = await req.text();
      if (this.hang || this.hangIf?.(body)) {
        await new Promise<void>((resolve) => this.#held.add(resolve));
      }
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

serviceTest(
  [redis, upstash],
  "RedisStreamEventStore (REST): a reader whose reads time out asks for fewer entries each time, until they arrive",
  async () => {
    // Reads of more than 2 entries from the stream's start never come back, as a backlog of
    // large entries that cannot arrive within commandTimeoutMs all at once.
    const proxy = new HangingProxy();
    proxy.hangIf = (body) => {
      const count = /"XREAD","COUNT","(\d+)"/.exec(body)?.[1];
      return count !== undefined && Number(count) > 2 && body.includes('"0-0"');
    };
    const prefix = testPrefix("shrink");
    const publisher = new RedisStreamEventStore({ client: restClient(), prefix, nodeId: "pub" });
    const errors: string[] = [];
    const subscriber = new RedisStreamEventStore({
      client: restClient(proxy.url),
      prefix,
      nodeId: "sub",
      readCount: 16,
      commandTimeoutMs: 300,
      onError: (error) => errors.push(error.message),
    });
    try {
      for (let index = 0; index < 5; index++) {
        await publisher.publish("JOIN", { sessionId: "s", namespace: "/", room: `${index}` });
      }
      const rooms: string[] = [];
      await subscriber.subscribe("JOIN", (message) => {
        rooms.push(message.room);
      }, { fromOffset: "0-0" });
      // 16 → 8 → 4 → 2 entries: three timed-out reads, then every entry, in order.
      for (let wait = 0; wait < 300 && rooms.length < 5; wait++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.deepEqual(rooms, ["0", "1", "2", "3", "4"]);
      assert.equal(errors.length, 3, errors.join("\n"));
      for (const message of errors) assert.match(message, /XREAD/);
    } finally {
      await subscriber.shutdown();
      await publisher.shutdown();
      await proxy.close();
      await dropPrefix(prefix);
    }
  },
);
