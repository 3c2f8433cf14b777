/**
 * What is special about the NATS event stores: the user's connection stays open and usable after
 * `shutdown()`, only the store's own subscriptions / consumers go away (seen by the server), the
 * JetStream stream (limits, concurrent creation, conflicts), publishes without acknowledgement,
 * argument checks.
 */

import assert from "node:assert/strict";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { BackendError, DEFAULT_MAX_MESSAGE_BYTES } from "../../mod.ts";
import WebSocketOfWsPackage from "ws";
import { NatsEventStore, NatsJetStreamEventStore, webSocketFactory } from "../../src/nats/mod.ts";
import { NATS_MONITOR_PORT } from "../../scripts/services/nats.ts";
import { Inbox, randomPrefix, within } from "../conformance/_helpers.ts";
import { requireService, serviceTest } from "../_services.ts";
import { connectOver, deleteStreams, type Transport } from "./_nats.ts";

const nats = await requireService("nats");

/** Subjects the server holds for one client connection (monitor endpoint). */
async function serverSubscriptions(nc: NatsConnection): Promise<string[]> {
  const cid = nc.info?.client_id;
  assert.ok(cid !== undefined);
  const response = await fetch(
    `http://127.0.0.1:${NATS_MONITOR_PORT}/connz?cid=${cid}&subs=1`,
  );
  const body = await response.json() as {
    connections: { subscriptions_list?: string[] }[];
  };
  return body.connections[0]?.subscriptions_list ?? [];
}

for (const transport of ["ws", "tcp"] as Transport[]) {
  serviceTest(
    nats,
    `NatsEventStore (${transport}): shutdown() removes only its own subscriptions from the server and leaves the connection open`,
    async () => {
      const nc = await connectOver(transport);
      try {
        const prefix = randomPrefix();
        const own = nc.subscribe(`${prefix}.mine`, { callback: () => {} });
        const store = new NatsEventStore(nc, { prefix, nodeId: "a" });
        await store.subscribe("JOIN", () => {});
        await store.subscribe("LEAVE", () => {});
        assert.deepStrictEqual((await serverSubscriptions(nc)).sort(), [
          `${prefix}.JOIN`,
          `${prefix}.LEAVE`,
          `${prefix}.mine`,
        ]);
        await store.shutdown();
        assert.equal(nc.isClosed(), false);
        assert.deepStrictEqual(await serverSubscriptions(nc), [`${prefix}.mine`]);
        // The connection still works for its owner, and for a new store.
        const other = new NatsEventStore(nc, { prefix, nodeId: "b" });
        const inbox = await new Inbox().listen(other, "JOIN");
        const third = new NatsEventStore(nc, { prefix, nodeId: "c" });
        await third.publish("JOIN", { sessionId: "s", namespace: "/", room: "after" });
        await inbox.waitFor(1);
        await Promise.all([other.shutdown(), third.shutdown()]);
        own.unsubscribe();
        assert.equal(store.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES);
      } finally {
        await nc.close();
      }
    },
  );
}

serviceTest(
  nats,
  "webSocketFactory: wsconnect opens its socket with the given class (the ws package), and events flow both ways with a node on the global WebSocket",
  async () => {
    const opened: string[] = [];
    class CountingWebSocket extends WebSocketOfWsPackage {
      constructor(url: string) {
        super(url);
        opened.push(url);
      }
    }
    const viaPackage = await connectOver("ws", { wsFactory: webSocketFactory(CountingWebSocket) });
    const viaGlobal = await connectOver("ws");
    try {
      assert.equal(opened.length, 1);
      assert.match(opened[0]!, /^ws:\/\/127\.0\.0\.1:\d+/);
      const prefix = randomPrefix();
      const a = new NatsEventStore(viaPackage, { prefix, nodeId: "a" });
      const b = new NatsEventStore(viaGlobal, { prefix, nodeId: "b" });
      const atA = await new Inbox().listen(a, "JOIN");
      const atB = await new Inbox().listen(b, "JOIN");
      await a.publish("JOIN", { sessionId: "s", namespace: "/", room: "from-a" });
      await b.publish("JOIN", { sessionId: "s", namespace: "/", room: "from-b" });
      assert.deepStrictEqual((await atB.waitFor(1)).map((m) => (m as { room?: string }).room), [
        "from-a",
      ]);
      assert.deepStrictEqual((await atA.waitFor(1)).map((m) => (m as { room?: string }).room), [
        "from-b",
      ]);
      await Promise.all([a.shutdown(), b.shutdown()]);
    } finally {
      await Promise.all([viaPackage.close(), viaGlobal.close()]);
    }
    assert.throws(
      () => webSocketFactory("WebSocket" as never),
      (error: unknown) => error instanceof TypeError && /WebSocket class/.test(error.message),
    );
  },
);

serviceTest(
  nats,
  "NatsEventStore: publish rejects with a BackendError once the user closed the connection",
  async () => {
    const nc = await connectOver("tcp");
    const store = new NatsEventStore(nc, { prefix: randomPrefix() });
    await nc.close();
    await assert.rejects(
      store.publish("CONNECT", { sessionId: "s" }),
      (error: unknown) =>
        error instanceof BackendError && /connection is closed/.test(error.message),
    );
    await assert.rejects(store.subscribe("CONNECT", () => {}), BackendError);
    await store.shutdown();
  },
);

serviceTest(nats, "NatsEventStore: arguments are checked", async () => {
  const nc = await connectOver("tcp");
  try {
    assert.throws(() => new NatsEventStore({} as NatsConnection), TypeError);
    assert.throws(
      () => new NatsEventStore(nc, { maxMessageBytes: 64 * 1024 * 1024 }),
      (error: unknown) => error instanceof RangeError && /max_payload/.test(error.message),
    );
    assert.throws(() => new NatsEventStore(nc, { timeoutMs: 0 }), RangeError);
    assert.throws(() => new NatsEventStore(nc, { prefix: "a b" }), TypeError);
    assert.throws(() => new NatsJetStreamEventStore(nc, { stream: "a.b" }), TypeError);
    assert.throws(
      () => new NatsJetStreamEventStore(nc, { retention: { maxMsgs: 0 } }),
      RangeError,
    );
    assert.throws(() => new NatsJetStreamEventStore(nc, { publishRetries: -1 }), RangeError);
    const js = new NatsJetStreamEventStore(nc, { prefix: randomPrefix() });
    await assert.rejects(js.subscribe("JOIN", () => {}, { fromOffset: "1-0" }), TypeError);
    await js.shutdown();
  } finally {
    await nc.close();
  }
});

serviceTest(
  nats,
  "NatsJetStreamEventStore: creates its stream with the configured limits, once, even when nodes race",
  async () => {
    const nc = await connectOver("tcp");
    const prefix = `${randomPrefix("js")}.app`;
    const retention = { maxMsgs: 500, maxBytes: 4 * 1024 * 1024, maxAgeMs: 60_000 };
    const stores = Array.from(
      { length: 6 },
      (_, index) => new NatsJetStreamEventStore(nc, { prefix, retention, nodeId: `n${index}` }),
    );
    try {
      assert.equal(stores[0]!.stream, prefix.replaceAll(".", "_"));
      await Promise.all(stores.map((store) => store.ready()));
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(stores[0]!.stream);
      assert.deepStrictEqual(info.config.subjects, [`${prefix}.>`]);
      assert.equal(info.config.max_msgs, 500);
      assert.equal(info.config.max_bytes, 4 * 1024 * 1024);
      assert.equal(info.config.max_age, 60_000 * 1_000_000);
      assert.equal(info.config.storage, "file");
      // A node configured with other limits uses the existing stream as it is.
      const late = new NatsJetStreamEventStore(nc, { prefix, retention: { maxMsgs: 7 } });
      stores.push(late);
      const inbox = await new Inbox().listen(stores[1]!, "JOIN");
      const result = await late.publish("JOIN", { sessionId: "s", namespace: "/", room: "r" });
      await inbox.waitFor(1);
      assert.equal(inbox.messages[0]!.offset, result.offset);
      assert.equal((await jsm.streams.info(late.stream)).config.max_msgs, 500);
      // The retention limit applies: old messages are dropped beyond max_msgs.
      await Promise.all(
        Array.from(
          { length: 600 },
          (_, index) => late.publish("LEAVE", { sessionId: "s", namespace: "/", room: `${index}` }),
        ),
      );
      assert.equal((await jsm.streams.info(late.stream)).state.messages, 500);
    } finally {
      await Promise.all(stores.map((store) => store.shutdown()));
      await deleteStreams([stores[0]!.stream]);
      await nc.close();
    }
  },
);

serviceTest(
  nats,
  "NatsJetStreamEventStore: a stream of that name capturing other subjects is a clear BackendError",
  async () => {
    const nc = await connectOver("tcp");
    const name = randomPrefix("foreign");
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name, subjects: [`${name}-other.>`] });
    const store = new NatsJetStreamEventStore(nc, { prefix: randomPrefix(), stream: name });
    try {
      await assert.rejects(
        store.ready(),
        (error: unknown) =>
          error instanceof BackendError && error.message.includes(`stream ${name} exists`),
      );
      await assert.rejects(store.publish("CONNECT", { sessionId: "s" }), BackendError);
    } finally {
      await store.shutdown();
      await jsm.streams.delete(name);
      await nc.close();
    }
  },
);

serviceTest(
  nats,
  "NatsJetStreamEventStore: shutdown() deletes its consumers and leaves the connection open; a publish that gets no ack rejects, after its retries (one attempt by default)",
  async () => {
    const nc = await connectOver("ws");
    const prefix = randomPrefix();
    const store = new NatsJetStreamEventStore(nc, {
      prefix,
      nodeId: "a",
      timeoutMs: 300,
      publishRetries: 1,
    });
    // By default a publish makes one attempt, like js.publish.
    const single = new NatsJetStreamEventStore(nc, { prefix, nodeId: "b", timeoutMs: 300 });
    try {
      await single.ready();
      await store.subscribe("JOIN", () => {});
      await store.subscribe("LEAVE", () => {});
      const jsm = await jetstreamManager(nc);
      const count = async () => {
        let consumers = 0;
        for await (const _ of jsm.consumers.list(store.stream)) consumers++;
        return consumers;
      };
      assert.equal(await count(), 2);
      await store.unsubscribe("LEAVE");
      assert.equal(await count(), 1);
      // Without its stream, nothing acknowledges a publish, and a stream of that name capturing
      // other subjects keeps the store from creating it again: it rejects, after the retry.
      await jsm.streams.delete(store.stream);
      await jsm.streams.add({ name: store.stream, subjects: [`${prefix}-elsewhere.>`] });
      const started = Date.now();
      await within(
        assert.rejects(
          store.publish("JOIN", { sessionId: "s", namespace: "/", room: "lost" }),
          (error: unknown) =>
            error instanceof BackendError && /no acknowledgement/.test(error.message) &&
            /2 attempts/.test(error.message) &&
            /does not exist and could not be created/.test(error.message),
        ),
        "the publish to reject",
      );
      assert.ok(Date.now() - started < 5_000);
      await within(
        assert.rejects(
          single.publish("JOIN", { sessionId: "s", namespace: "/", room: "lost" }),
          (error: unknown) =>
            error instanceof BackendError && /after 1 attempt of/.test(error.message),
        ),
        "the single-attempt publish to reject",
      );
      await store.shutdown();
      assert.equal(nc.isClosed(), false);
      await nc.flush();
    } finally {
      await single.shutdown();
      await store.shutdown();
      await deleteStreams([store.stream]);
      await nc.close();
    }
  },
);

serviceTest(
  nats,
  "NatsEventStore with confirmPublish: false publishes fire-and-forget, in order",
  async () => {
    const ncA = await connectOver("ws");
    const ncB = await connectOver("ws");
    try {
      const prefix = randomPrefix();
      const a = new NatsEventStore(ncA, { prefix, nodeId: "a", confirmPublish: false });
      const b = new NatsEventStore(ncB, { prefix, nodeId: "b" });
      const inbox = await new Inbox().listen(b, "JOIN");
      const flushes: number[] = [];
      const flush = ncA.flush.bind(ncA);
      ncA.flush = () => {
        flushes.push(Date.now());
        return flush();
      };
      await Promise.all(
        Array.from(
          { length: 100 },
          (_, index) => a.publish("JOIN", { sessionId: "s", namespace: "/", room: `${index}` }),
        ),
      );
      await inbox.waitFor(100);
      assert.deepStrictEqual(
        inbox.messages.map((message) => message.type === "JOIN" && message.room),
        Array.from({ length: 100 }, (_, index) => `${index}`),
      );
      assert.equal(flushes.length, 0, "no confirmation round trip");
      assert.throws(
        () => new NatsEventStore(ncA, { confirmPublish: "yes" as unknown as boolean }),
        TypeError,
      );
      await Promise.all([a.shutdown(), b.shutdown()]);
    } finally {
      await ncA.close();
      await ncB.close();
    }
  },
);

for (const transport of ["ws", "tcp"] as Transport[]) {
  serviceTest(
    nats,
    `NatsJetStreamEventStore (${transport}): a publish the stream never acknowledges rejects with the caller in its stack, and shutdown() waits for it`,
    async () => {
      const nc = await connectOver(transport);
      const prefix = randomPrefix();
      const store = new NatsJetStreamEventStore(nc, { prefix, nodeId: "a", timeoutMs: 300 });
      const jsm = await jetstreamManager(nc);
      try {
        // A stream that stores without answering: every publish times out.
        await jsm.streams.add({ name: store.stream, subjects: [`${prefix}.>`], no_ack: true });
        // A named function expression: Bun's stacks name no arrow function.
        const publishFromTheCaller = async function publishFromTheCaller(): Promise<unknown> {
          return await store.publish("JOIN", { sessionId: "s", namespace: "/", room: "r" });
        };
        const events: string[] = [];
        const publishing = publishFromTheCaller().then(
          () => events.push("resolved"),
          (error: unknown) => {
            events.push("rejected");
            return error;
          },
        );
        await Promise.resolve();
        const shutdown = store.shutdown().then(() => events.push("shut down"));
        const error = await within(publishing, "the publish to reject");
        await within(shutdown, "shutdown");
        assert.deepStrictEqual(events, ["rejected", "shut down"]);
        assert.ok(error instanceof BackendError, String(error));
        assert.match(error.message, /no acknowledgement .*\(after 1 attempt of 300 ms\): timeout/);
        // The store's own error carries the stack of the call that made the publish.
        assert.match(String(error.stack), /publishFromTheCaller/);
        assert.equal((await jsm.streams.info(store.stream)).state.messages, 1);
      } finally {
        await store.shutdown();
        await jsm.streams.delete(store.stream).catch(() => {});
        await nc.close();
      }
    },
  );
}

serviceTest(
  nats,
  "NatsJetStreamEventStore: publishes waiting for a stream that cannot be created each reject with an error of their own, with their caller in its stack",
  async () => {
    const nc = await connectOver("tcp");
    const prefix = randomPrefix();
    const store = new NatsJetStreamEventStore(nc, { prefix, nodeId: "a", timeoutMs: 1_000 });
    const jsm = await jetstreamManager(nc);
    try {
      // A stream of the store's name that captures other subjects: the store will not use it.
      await jsm.streams.add({ name: store.stream, subjects: [`${prefix}-elsewhere.>`] });
      const join = { sessionId: "s", namespace: "/", room: "r" };
      // Named function expressions: Bun's stacks name no arrow function.
      const firstCaller = async function firstCaller() {
        return await store.publish("JOIN", join);
      };
      const secondCaller = async function secondCaller() {
        return await store.publish("JOIN", join);
      };
      const [first, second] = await within(
        Promise.all([firstCaller().catch((e) => e), secondCaller().catch((e) => e)]),
        "both publishes to reject",
      );
      for (const [error, caller] of [[first, "firstCaller"], [second, "secondCaller"]] as const) {
        assert.ok(error instanceof BackendError, String(error));
        assert.match(error.message, /^nats: stream .* exists but does not capture/);
        assert.match(String(error.stack), new RegExp(caller));
      }
      assert.notEqual(first, second);
    } finally {
      await store.shutdown();
      await jsm.streams.delete(store.stream).catch(() => {});
      await nc.close();
    }
  },
);
