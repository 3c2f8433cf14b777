/**
 * The TCP command port when Redis is not reachable for a while, on the shared Redis behind a TCP
 * proxy of the test's own (a free loopback port that refuses connections until the proxy opens,
 * and again once it is cut):
 *
 * - a first connect that was refused is not remembered: once Redis is reachable, storage and
 *   events work on the same client (node-redis reconnects by itself);
 * - a session destroy that failed during an outage can be retried once Redis is back, and the
 *   session's hash is then gone.
 *
 * Deno only (`Deno.listen` / `Deno.connect` make the proxy).
 */

import assert from "node:assert/strict";
import { createClient } from "redis";
import { BackendError, StoreDestroyedError } from "../../mod.ts";
import {
  type NodeRedisClient,
  RedisStoreFactory,
  RedisStreamEventStore,
} from "../../src/redis/mod.ts";
import { REDIS_PORT } from "../../scripts/services/redis.ts";
import { Inbox, within } from "../conformance/_helpers.ts";
import { requireService, serviceTest } from "../_services.ts";
import { closeClient, outOfTheWayPort, rawClient, testPrefix } from "./_redis.ts";

const redis = await requireService("redis");

/** Forwards a loopback port to the shared Redis while open; refuses connections while cut. */
class RedisProxy {
  readonly port: number = outOfTheWayPort();
  #listener: Deno.Listener | undefined;
  #accepting: Promise<void> = Promise.resolve();
  readonly #conns = new Set<Deno.Conn>();
  readonly #pipes = new Set<Promise<void>>();

  /** Starts accepting and forwarding. */
  open(): void {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.#listener = listener;
    this.#accepting = (async () => {
      try {
        for await (const downstream of listener) void this.#forward(downstream);
      } catch {
        // the listener was closed
      }
    })();
  }

  async #forward(downstream: Deno.Conn): Promise<void> {
    this.#conns.add(downstream);
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: REDIS_PORT });
    } catch {
      this.#close(downstream);
      return;
    }
    this.#conns.add(upstream);
    for (const [from, to] of [[downstream, upstream], [upstream, downstream]] as const) {
      const pipe = from.readable.pipeTo(to.writable).catch(() => {}).finally(() => {
        this.#close(from);
        this.#close(to);
        this.#pipes.delete(pipe);
      });
      this.#pipes.add(pipe);
    }
  }

  #close(conn: Deno.Conn): void {
    if (!this.#conns.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // already closed by its stream
    }
  }

  /** Stops listening and drops every connection: clients see Redis go away. */
  async cut(): Promise<void> {
    this.#listener?.close();
    this.#listener = undefined;
    await this.#accepting;
    for (const conn of [...this.#conns]) this.#close(conn);
    await Promise.all([...this.#pipes]);
  }
}

/** A node-redis client on the proxy that retries every 20 ms (as node-redis does by default). */
function proxiedClient(proxy: RedisProxy) {
  const client = createClient({
    url: `redis://127.0.0.1:${proxy.port}`,
    socket: { reconnectStrategy: () => 20 },
  });
  client.on("error", () => {
    // reported through the stores under test
  });
  return client;
}

serviceTest(
  redis,
  "nodeRedisPort: a refused first connect is not kept; storage and events work once Redis is reachable",
  async () => {
    const proxy = new RedisProxy();
    const client = proxiedClient(proxy);
    const prefix = testPrefix("tcp-first-connect");
    const tcp = client as unknown as NodeRedisClient;
    const events = new RedisStreamEventStore({ client: tcp, prefix, nodeId: "a" });
    const peer = new RedisStreamEventStore({ client: tcp, prefix, nodeId: "b" });
    const factory = new RedisStoreFactory({ client: tcp, prefix, eventStore: events });
    try {
      const store = factory.createStore("s1");
      const refused = await store.set("k", 1).then(() => undefined, (error) => error);
      assert.ok(refused instanceof BackendError, `a BackendError, got ${refused}`);
      assert.match(refused.message, /connecting the Redis client failed: .*ECONNREFUSED/);
      assert.match(refused.message, /Redis could not be reached/);

      proxy.open(); // Redis comes up
      await store.set("k", 1);
      assert.equal(await store.get("k"), 1);
      await factory.createMap("m").set("x", true);
      assert.equal(await factory.createMap("m").size(), 1);
      const inbox = await new Inbox().listen(events, "JOIN");
      await peer.publish("JOIN", { sessionId: "s1", namespace: "/", room: "lobby" });
      const [message] = await inbox.waitFor(1, "a JOIN after Redis came up");
      assert.equal(message?.nodeId, "b");
      await store.destroy();
      await factory.createMap("m").clear();
    } finally {
      await Promise.allSettled([factory.shutdown(), peer.shutdown()]);
      const raw = await rawClient();
      try {
        await raw.del([`${prefix}:JOIN`, `${prefix}:session:s1`, `${prefix}:map:m`]);
        const left = await raw.keys(`${prefix}:*`);
        await raw.del(left.length > 0 ? left : ["-"]);
      } finally {
        closeClient(raw);
      }
      closeClient(client);
      await proxy.cut();
    }
  },
);

serviceTest(
  redis,
  "RedisStoreFactory: a destroy that failed during an outage is retried once Redis is back",
  async () => {
    const proxy = new RedisProxy();
    proxy.open();
    const client = proxiedClient(proxy);
    const prefix = testPrefix("tcp-destroy-retry");
    const factory = new RedisStoreFactory({
      client: client as unknown as NodeRedisClient,
      prefix,
      commandTimeoutMs: 300,
    });
    const raw = await rawClient();
    const key = factory.sessionKey("s1");
    try {
      const old = factory.createStore("s1");
      await old.set("secret", "x");
      await proxy.cut(); // Redis goes away
      const failure = await factory.onDisconnect("s1").then(() => undefined, (error) => error);
      assert.ok(failure instanceof BackendError, `a BackendError, got ${failure}`);
      assert.match(failure.message, /destroy\(\) of the store of session "s1" failed/);
      assert.match(failure.message, /to retry/);
      // The command's own failure: the socket closing under it, or no reply within 300 ms.
      assert.match(failure.message, /Cause: DEL ".*:session:s1" failed: /);
      assert.equal(await raw.hLen(key), 1, "the session's hash is still in Redis");
      const fresh = factory.createStore("s1");
      assert.notEqual(fresh, old, "the store whose destroy failed is not handed out again");
      await assert.rejects(old.get("secret"), StoreDestroyedError);

      proxy.open(); // Redis is back
      await within(factory.onDisconnect("s1"), "the retried destroy");
      assert.equal(await raw.exists(key), 0, "the session's hash is gone");
      await old.destroy(); // the old store's own retry works too
    } finally {
      await raw.del(key);
      closeClient(raw);
      await factory.shutdown();
      closeClient(client);
      await proxy.cut();
    }
  },
);
