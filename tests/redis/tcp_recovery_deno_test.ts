/**
 * The TCP command port when Redis is not reachable for a while, on the shared Redis behind a TCP
 * proxy of the test's own (a free loopback port that refuses connections until the proxy opens,
 * and again once it is cut):
 *
 * - a first connect that was refused is not remembered: once Redis is reachable, storage and
 *   events work on the same client (node-redis reconnects by itself);
 * - a session destroy that failed during an outage can be retried once Redis is back, and the
 *   session's hash is then gone;
 * - a dedicated connection (subscriptions, blocking reads) whose `reconnectStrategy` gave up is
 *   replaced: Pub/Sub delivery resumes, and a stream entry added during the outage is delivered.
 *
 * Deno only (`Deno.listen` / `Deno.connect` make the proxy).
 */

import assert from "node:assert/strict";
import { createClient } from "redis";
import { BackendError, type EventStore, StoreDestroyedError } from "../../mod.ts";
import {
  type NodeRedisClient,
  RedisPubSubEventStore,
  RedisStoreFactory,
  RedisStreamEventStore,
} from "../../src/redis/mod.ts";
import { REDIS_PORT } from "../../scripts/services/redis.ts";
import { Inbox, within } from "../conformance/_helpers.ts";
import { requireService, serviceTest } from "../_services.ts";
import { closeClient, outOfTheWayPort, rawClient, tcpClient, testPrefix } from "./_redis.ts";

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

/**
 * A node-redis client on the proxy that retries every 20 ms (as node-redis does by default), or
 * gives up after `retries` retries.
 */
function proxiedClient(proxy: RedisProxy, retries = Infinity) {
  const client = createClient({
    url: `redis://127.0.0.1:${proxy.port}`,
    socket: {
      reconnectStrategy: (attempt: number) =>
        attempt >= retries ? new Error(`gave up after ${retries} retries`) : 20,
    },
  });
  client.on("error", () => {
    // reported through the stores under test
  });
  return client;
}

/**
 * Shuts stores down, giving up after 5 s: a shutdown that hangs (the bug some tests here look
 * for) then fails the test through the resources it leaves open instead of stalling the run.
 */
async function cleanUp(stores: readonly EventStore[]): Promise<void> {
  await within(Promise.allSettled(stores.map((store) => store.shutdown())), "shutdown", 5_000)
    .catch(() => {});
}

/** Resolves once the client has noticed that Redis went away, and its duplicates too. */
async function offline(client: { readonly isReady: boolean }): Promise<void> {
  await within(
    (async () => {
      while (client.isReady) await new Promise((resolve) => setTimeout(resolve, 10));
    })(),
    "the client noticing the outage",
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
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

serviceTest(
  redis,
  "nodeRedisPort: a dedicated connection whose reconnectStrategy gave up is replaced; subscriptions and blocking reads resume",
  async () => {
    const proxy = new RedisProxy();
    proxy.open();
    const client = proxiedClient(proxy, 2);
    const direct = tcpClient();
    const prefix = testPrefix("tcp-replaced");
    const errors: Error[] = [];
    const onError = (error: Error) => void errors.push(error);
    const proxied = client as unknown as NodeRedisClient;
    const fromDirect = direct as unknown as NodeRedisClient;
    const stores: EventStore[] = [
      new RedisPubSubEventStore({ client: proxied, prefix, nodeId: "a", onError }),
      new RedisStreamEventStore({ client: proxied, prefix, nodeId: "a", read: "block", onError }),
    ];
    const [pubSub, streams] = stores as [RedisPubSubEventStore, RedisStreamEventStore];
    const pubSubPeer = new RedisPubSubEventStore({ client: fromDirect, prefix, nodeId: "b" });
    const streamsPeer = new RedisStreamEventStore({ client: fromDirect, prefix, nodeId: "b" });
    stores.push(pubSubPeer, streamsPeer);
    const join = (room: string) => ({ sessionId: "s1", namespace: "/", room });
    try {
      const pubSubInbox = await new Inbox().listen(pubSub, "JOIN");
      const streamsInbox = await new Inbox().listen(streams, "JOIN");
      await pubSubPeer.publish("JOIN", join("before"));
      await streamsPeer.publish("JOIN", join("before"));
      await pubSubInbox.waitFor(1, "a Pub/Sub JOIN before the outage");
      await streamsInbox.waitFor(1, "a stream JOIN before the outage");

      // Redis goes away for longer than the clients' 2 retries: the user's client gives up, and
      // so do the store's duplicates of it, which retry on the same schedule.
      const terminated = new Promise((resolve) => client.on("terminated", resolve));
      await proxy.cut();
      await within(terminated, "node-redis giving up on the user's client");
      await new Promise((resolve) => setTimeout(resolve, 200));
      await streamsPeer.publish("JOIN", join("during"));
      proxy.open(); // Redis is back; the replacements connect within about a second

      const [, during] = await streamsInbox.waitFor(2, "the stream JOIN added during the outage");
      assert.equal(during?.type === "JOIN" && during.room, "during");
      // Pub/Sub keeps nothing for a subscriber that is away: publish until one arrives.
      let sent = 0;
      await within(
        (async () => {
          while (pubSubInbox.messages.length < 2) {
            await pubSubPeer.publish("JOIN", join(`after-${sent++}`));
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        })(),
        "a Pub/Sub JOIN after Redis came back",
      );
      assert.match(String((pubSubInbox.messages[1] as { room?: string }).room), /^after-/);
      const gaveUp = errors.filter((error) => /reconnectStrategy gave up/.test(error.message));
      assert.equal(gaveUp.length, 2, "each dedicated connection reported giving up once");
      assert.ok(gaveUp.every((error) => error instanceof BackendError));
      assert.match(gaveUp[0]!.message, /a new connection replaces it in 1000 ms/);
    } finally {
      await cleanUp(stores);
      const raw = await rawClient();
      try {
        await raw.del(`${prefix}:stream:JOIN`);
      } finally {
        closeClient(raw);
      }
      closeClient(client);
      closeClient(direct);
      await proxy.cut();
    }
  },
);

serviceTest(
  redis,
  "RedisPubSubEventStore: unsubscribe and shutdown while Redis is unreachable return at once; the channel stays unsubscribed after",
  async () => {
    const proxy = new RedisProxy();
    proxy.open();
    const client = proxiedClient(proxy);
    const direct = tcpClient();
    const prefix = testPrefix("tcp-offline-unsubscribe");
    const onError = () => {};
    const store = new RedisPubSubEventStore({
      client: client as unknown as NodeRedisClient,
      prefix,
      nodeId: "a",
      onError,
    });
    const peer = new RedisPubSubEventStore({
      client: direct as unknown as NodeRedisClient,
      prefix,
      nodeId: "b",
    });
    const join = (room: string) => ({ sessionId: "s1", namespace: "/", room });
    try {
      const joins = await new Inbox().listen(store, "JOIN");
      const leaves = await new Inbox().listen(store, "LEAVE");
      await peer.publish("JOIN", join("before"));
      await joins.waitFor(1, "a JOIN before the outage");

      await proxy.cut(); // node-redis goes on reconnecting every 20 ms
      await offline(client);
      await within(store.unsubscribe("JOIN"), "unsubscribe while Redis is unreachable", 2_000);
      proxy.open();
      // The LEAVE subscription was renewed by node-redis; the JOIN one must not have been.
      await within(
        (async () => {
          while (leaves.messages.length === 0) {
            await peer.publish("JOIN", join("after"));
            await peer.publish("LEAVE", join("after"));
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        })(),
        "a LEAVE after Redis came back",
      );
      assert.equal(joins.messages.length, 1, "no JOIN after its unsubscribe");

      await proxy.cut();
      await offline(client);
      await within(store.shutdown(), "shutdown while Redis is unreachable", 2_000);
    } finally {
      await cleanUp([store, peer]);
      closeClient(client);
      closeClient(direct);
      await proxy.cut();
    }
  },
);
