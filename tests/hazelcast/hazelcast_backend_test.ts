/**
 * What is special about the Hazelcast backends beyond the conformance suites: the layout of
 * distributed objects (checked by listing the cluster's objects), cluster-wide visibility between
 * two clients, session expiry on the real member, clear connect errors, client ownership, and the
 * reliable-topic wire format shared with plain reliable-topic clients.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { OverflowPolicy } from "hazelcast-client";
import {
  BackendError,
  type EventErrorContext,
  type EventMessage,
  msgpackCodec,
} from "../../mod.ts";
import { TopicMessageItem } from "../../src/hazelcast/topic_message.ts";
import {
  HazelcastReliableTopicEventStore,
  HazelcastStoreFactory,
  ringbufferNameOf,
} from "../../src/hazelcast/mod.ts";
import { Inbox, within } from "../conformance/_helpers.ts";
import { requireService, serviceTest } from "../_services.ts";
import {
  clientConfig,
  dropPrefixes,
  objectsNamed,
  prefix,
  rawClient,
  record,
  recordedPrefixes,
} from "./_hazelcast.ts";

const hazelcast = await requireService("hazelcast");

const MAP_SERVICE = "hz:impl:mapService";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

serviceTest(
  hazelcast,
  "HazelcastStore: a session is the IMap <prefix>:session:<id>; destroy() removes it from the cluster's distributed objects",
  async () => {
    const p = record(prefix("layout"));
    const client = await rawClient();
    await using factory = new HazelcastStoreFactory({ client, prefix: p });
    try {
      const sessionId = "a:b {c} 🎉";
      const store = factory.createStore(sessionId);
      await store.set("k", 1);
      await store.set("k:2", "two");
      const shared = factory.createMap("rooms");
      await shared.set("k", "shared");
      assert.deepStrictEqual((await objectsNamed(client, p)).sort(), [
        [MAP_SERVICE, `${p}:map:rooms`],
        [MAP_SERVICE, `${p}:session:${sessionId}`],
      ]);
      const raw = await client.getMap<string, string>(`${p}:session:${sessionId}`);
      assert.equal(await raw.size(), 2);
      assert.equal(await raw.get("k:2"), '"two"');
      await store.destroy();
      assert.deepStrictEqual(await objectsNamed(client, p), [[MAP_SERVICE, `${p}:map:rooms`]]);
      // clear() of a shared map empties it but keeps it: other nodes go on using it.
      await shared.clear();
      assert.deepStrictEqual(await objectsNamed(client, p), [[MAP_SERVICE, `${p}:map:rooms`]]);
      assert.equal(await shared.size(), 0);
    } finally {
      await factory.shutdown();
      await client.shutdown();
    }
  },
);

serviceTest(
  hazelcast,
  "HazelcastStoreFactory: a map kept past shutdown() rejects with a BackendError saying why",
  async () => {
    const factory = new HazelcastStoreFactory({
      clientConfig: clientConfig(),
      prefix: record(prefix("after-shutdown")),
    });
    const map = factory.createMap("m");
    await map.set("k", 1);
    await map.clear();
    await factory.shutdown();
    await assert.rejects(
      map.get("k"),
      (error: unknown) =>
        error instanceof BackendError &&
        /get on map ".*:map:m" failed: .*(shut|not active)/i.test(error.message),
    );
  },
);

serviceTest(
  hazelcast,
  "HazelcastStore: two factories on two clients (two nodes) see and destroy the same session data",
  async () => {
    const p = record(prefix("nodes"));
    await using nodeA = new HazelcastStoreFactory({ clientConfig: clientConfig(), prefix: p });
    await using nodeB = new HazelcastStoreFactory({ clientConfig: clientConfig(), prefix: p });
    const clientA = await nodeA.client();
    const clientB = await nodeB.client();
    assert.notEqual(clientA, clientB);
    assert.notEqual(
      clientA.getLocalEndpoint().uuid.toString(),
      clientB.getLocalEndpoint().uuid.toString(),
    );
    const sessionId = `s-${crypto.randomUUID()}`;
    await nodeA.createStore(sessionId).set("user", { name: "Ada", avatar: new Uint8Array([1, 2]) });
    assert.deepStrictEqual(await nodeB.createStore(sessionId).get("user"), {
      name: "Ada",
      avatar: new Uint8Array([1, 2]),
    });
    await nodeB.createStore(sessionId).set("room", "lobby");
    assert.equal(await nodeA.createStore(sessionId).get("room"), "lobby");
    assert.equal(await nodeA.createStore(sessionId).has("room"), true);
    await nodeB.createStore(sessionId).del("room");
    assert.equal(await nodeA.createStore(sessionId).has("room"), false);
    await nodeB.onDisconnect(sessionId);
    assert.deepStrictEqual(await objectsNamed(clientA, `${p}:session:`), []);
    assert.equal(await nodeA.createStore(sessionId).get("user"), undefined);
  },
);

serviceTest(
  hazelcast,
  "HazelcastStore: sessionTtlSeconds makes the member expire a session's entries by itself",
  async () => {
    const p = record(prefix("ttl"));
    const client = await rawClient();
    const factory = new HazelcastStoreFactory({ client, prefix: p, sessionTtlSeconds: 1 });
    try {
      const sessionId = `crashed-${crypto.randomUUID()}`;
      const store = factory.createStore(sessionId);
      await store.set("a", 1);
      await store.set("b", { x: [1] });
      const raw = await client.getMap<string, string>(factory.sessionMapName(sessionId));
      assert.equal(await raw.size(), 2);
      const view = await raw.getEntryView("a");
      assert.equal(view?.ttl.toNumber(), 1_000);
      // The node "crashes": nobody calls destroy() and nobody reads the keys. The member's own
      // expiration task removes the entries (it runs every few seconds).
      const deadline = Date.now() + 20_000;
      while ((await raw.size()) > 0) {
        assert.ok(Date.now() < deadline, "entries still there 20 s after their TTL");
        await sleep(250);
      }
      assert.equal(await raw.get("a"), null);
      assert.equal(await store.get("b"), undefined);
      await store.destroy();
    } finally {
      await factory.shutdown();
      await client.shutdown();
    }
  },
);

serviceTest(
  hazelcast,
  "HazelcastStore: sessionMaxIdleSeconds keeps entries that are used and expires those left idle",
  async () => {
    const p = record(prefix("idle"));
    const client = await rawClient();
    const factory = new HazelcastStoreFactory({ client, prefix: p, sessionMaxIdleSeconds: 2 });
    try {
      const store = factory.createStore(`idle-${crypto.randomUUID()}`);
      await store.set("used", "yes");
      await store.set("idle", "no");
      for (let round = 0; round < 7; round++) {
        await sleep(500);
        assert.equal(await store.get("used"), "yes", `round ${round}`);
      }
      // 3.5 s have passed: "used" was read every 500 ms, "idle" not since it was written.
      assert.equal(await store.has("idle"), false);
      assert.equal(await store.get("used"), "yes");
      await store.destroy();
    } finally {
      await factory.shutdown();
      await client.shutdown();
    }
  },
);

serviceTest(
  hazelcast,
  "a wrong cluster name fails with a clear BackendError within the connect timeout, not a hang",
  async () => {
    const timeout = 2_000;
    const config = clientConfig(undefined, {
      clusterName: "not-socketio4ts",
      connectionStrategy: { connectionRetry: { clusterConnectTimeoutMillis: timeout } },
    });
    const factory = new HazelcastStoreFactory({ clientConfig: config, prefix: prefix("wrong") });
    const started = Date.now();
    const failure = (error: unknown) =>
      error instanceof BackendError && error.backend === "hazelcast" &&
      error.message.includes('cluster "not-socketio4ts"') &&
      /cluster name on the client does not match/.test(error.message);
    await assert.rejects(factory.connect(), failure);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < timeout + 1_500, `gave up after ${elapsed} ms`);
    await assert.rejects(factory.createStore("s").set("k", 1), failure);
    const events = new HazelcastReliableTopicEventStore({ clientConfig: config });
    await assert.rejects(events.publish("CONNECT", { sessionId: "s" }), failure);
    await assert.rejects(events.subscribe("CONNECT", () => {}), failure);
    await events.shutdown();
    await factory.shutdown();
  },
);

serviceTest(
  hazelcast,
  "a factory shuts down the client it created, never the one it was given",
  async () => {
    const given = await rawClient();
    try {
      const borrowed = new HazelcastStoreFactory({ client: given, prefix: prefix("own") });
      await borrowed.createStore("s").has("k");
      await borrowed.shutdown();
      assert.equal(given.getLifecycleService().isRunning(), true);
      const owning = new HazelcastStoreFactory({
        clientConfig: clientConfig(),
        prefix: prefix("own"),
      });
      const created = await owning.client();
      assert.ok(owning.eventStore() instanceof HazelcastReliableTopicEventStore);
      await owning.shutdown();
      assert.equal(created.getLifecycleService().isRunning(), false);
      const events = new HazelcastReliableTopicEventStore({ client: given });
      await events.subscribe("JOIN", () => {});
      await events.shutdown();
      assert.equal(given.getLifecycleService().isRunning(), true);
    } finally {
      await given.shutdown();
    }
  },
);

serviceTest(
  hazelcast,
  "the default event store shares the factory's client and carries events between factories",
  async () => {
    const p = record(prefix("dflt"));
    await using nodeA = new HazelcastStoreFactory({ clientConfig: clientConfig(), prefix: p });
    await using nodeB = new HazelcastStoreFactory({ clientConfig: clientConfig(), prefix: p });
    const inbox = await new Inbox().listen(nodeB.eventStore(), "JOIN");
    const result = await nodeA.eventStore().publish("JOIN", {
      sessionId: "s",
      namespace: "/",
      room: "r",
    });
    const [message] = await inbox.waitFor(1);
    assert.equal(message!.offset, result.offset);
    assert.equal(
      (nodeA.eventStore() as HazelcastReliableTopicEventStore).topicOf("JOIN"),
      `${p}.JOIN`,
    );
  },
);

serviceTest(
  hazelcast,
  "HazelcastReliableTopicEventStore: one reliable topic per channel, stored in ring buffer _hz_rb_<topic>; offset = ring sequence",
  async () => {
    const p = record(prefix("ring"));
    const client = await rawClient();
    const a = new HazelcastReliableTopicEventStore({ client, prefix: p, nodeId: "a" });
    try {
      const first = await a.publish("JOIN", { sessionId: "s", namespace: "/", room: "r1" });
      const second = await a.publish("JOIN", { sessionId: "s", namespace: "/", room: "r2" });
      await a.publish("DISPATCH", { namespace: "/", room: "", packet: 1 });
      assert.deepStrictEqual((await objectsNamed(client, p)).sort(), [
        ["hz:impl:reliableTopicService", `${p}.DISPATCH`],
        ["hz:impl:reliableTopicService", `${p}.JOIN`],
        ["hz:impl:ringbufferService", `_hz_rb_${p}.DISPATCH`],
        ["hz:impl:ringbufferService", `_hz_rb_${p}.JOIN`],
      ]);
      assert.equal(ringbufferNameOf(`${p}.JOIN`), `_hz_rb_${p}.JOIN`);
      const ring = await client.getRingbuffer(ringbufferNameOf(`${p}.JOIN`));
      assert.equal(first.offset, "0");
      assert.equal(second.offset, (await ring.tailSequence()).toString());
      assert.equal((await ring.capacity()).toNumber(), 100_000); // the harness member's config
    } finally {
      await a.shutdown();
      await client.shutdown();
    }
  },
);

serviceTest(
  hazelcast,
  "HazelcastReliableTopicEventStore speaks the reliable-topic format both ways with a plain client",
  async () => {
    const p = record(prefix("wire"));
    const client = await rawClient();
    const errors: { error: Error; context: EventErrorContext }[] = [];
    const store = new HazelcastReliableTopicEventStore({
      client,
      prefix: p,
      nodeId: "ours",
      onError: (error, context) => errors.push({ error, context }),
    });
    try {
      // Ours → a plain reliable-topic listener: it receives the encoded event as a byte[].
      const topic = await client.getReliableTopic<Buffer>(`${p}.JOIN`);
      const heard = new Promise<Buffer>((resolve) => {
        const id = topic.addMessageListener((message) => {
          topic.removeMessageListener(id);
          resolve(message.messageObject);
        });
      });
      await sleep(200); // the plain listener starts from the tail it fetches asynchronously
      await store.publish("JOIN", { sessionId: "s", namespace: "/", room: "to-plain" });
      const bytes = await within(heard, "the plain listener");
      assert.ok(Buffer.isBuffer(bytes));
      assert.deepStrictEqual(msgpackCodec.decode(bytes), {
        sessionId: "s",
        namespace: "/",
        room: "to-plain",
        type: "JOIN",
        nodeId: "ours",
      });
      // A plain publish of a byte[] → our subscriber, with its sequence; a non-byte[] item is
      // skipped and reported, and delivery goes on.
      const inbox = await new Inbox().listen(store, "JOIN");
      const plain = msgpackCodec.encode({
        type: "JOIN",
        nodeId: "plain",
        sessionId: "p",
        namespace: "/",
        room: "from-plain",
      });
      await (topic as unknown as { publish(message: unknown): Promise<void> }).publish("a string");
      await topic.publish(Buffer.from(plain));
      const [message] = await inbox.waitFor(1);
      assert.equal(message!.nodeId, "plain");
      assert.ok(message!.type === "JOIN" && message!.room === "from-plain");
      assert.equal(message!.offset, "2");
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.context.stage, "transport");
      assert.match(errors[0]!.error.message, /item 1 of topic .*not a byte array/);
    } finally {
      await store.shutdown();
      await client.shutdown();
    }
  },
);

serviceTest(
  hazelcast,
  "HazelcastReliableTopicEventStore validates fromOffset and its options",
  async () => {
    const p = record(prefix("opts"));
    const client = await rawClient();
    const store = new HazelcastReliableTopicEventStore({ client, prefix: p });
    try {
      const { offset } = await store.publish("JOIN", { sessionId: "s", namespace: "/", room: "r" });
      await assert.rejects(store.subscribe("JOIN", () => {}, { fromOffset: "abc" }), TypeError);
      await assert.rejects(store.subscribe("JOIN", () => {}, { fromOffset: "-2" }), TypeError);
      await assert.rejects(store.subscribe("JOIN", () => {}, { fromOffset: "5" }), RangeError);
      const inbox = new Inbox();
      await store.subscribe("JOIN", inbox.push, { fromOffset: "-1" });
      assert.equal(offset, "0");
      assert.throws(
        () => new HazelcastReliableTopicEventStore({ client, readBatchSize: 0 }),
        RangeError,
      );
      assert.throws(
        () => new HazelcastReliableTopicEventStore({ client, readBatchSize: 1001 }),
        RangeError,
      );
      assert.throws(
        () =>
          new HazelcastReliableTopicEventStore({
            client,
            publishMode: "UNRELIABLE",
            overloadPolicy: "BLOCK",
          }),
        TypeError,
      );
      assert.throws(
        () =>
          new HazelcastReliableTopicEventStore({
            client,
            overloadPolicy: "DISCARD_NEWEST" as unknown as "BLOCK",
          }),
        TypeError,
      );
      // deno-lint-ignore no-explicit-any
      assert.throws(() => new HazelcastReliableTopicEventStore({ client: {} as any }), TypeError);
      assert.throws(() => new HazelcastStoreFactory({ client, sessionTtlSeconds: 0 }), RangeError);
      const fireAndForget = new HazelcastReliableTopicEventStore({
        client,
        publishMode: "UNRELIABLE",
      });
      assert.equal(fireAndForget.kind, "PUBSUB");
      assert.equal(fireAndForget.overloadPolicy, "DISCARD_OLDEST");
      assert.equal(store.kind, "STREAM");
      assert.equal(store.overloadPolicy, "BLOCK");
      await fireAndForget.shutdown();
    } finally {
      await store.shutdown();
      await client.shutdown();
    }
  },
);

serviceTest(
  hazelcast,
  "HazelcastReliableTopicEventStore: resuming from an overwritten sequence reports the loss and delivers from the ring's head",
  async () => {
    const p = record(prefix("ring-full"));
    const client = await rawClient();
    const errors: Error[] = [];
    const store = new HazelcastReliableTopicEventStore({
      client,
      prefix: p,
      nodeId: "reader",
      onError: (error) => errors.push(error),
    });
    try {
      const ring = await client.getRingbuffer<TopicMessageItem>(
        ringbufferNameOf(store.topicOf("JOIN")),
      );
      const capacity = (await ring.capacity()).toNumber();
      const total = capacity + 5; // one lap and five more: sequences 0..4 are overwritten
      for (let base = 0; base < total; base += 1000) {
        const items = [];
        for (let i = base; i < Math.min(base + 1000, total); i++) {
          items.push(
            new TopicMessageItem(
              msgpackCodec.encode({
                type: "JOIN",
                nodeId: "writer",
                sessionId: "s",
                namespace: "/",
                room: `r${i}`,
              }),
            ),
          );
        }
        await ring.addAll(items, OverflowPolicy.OVERWRITE);
      }
      assert.equal((await ring.headSequence()).toNumber(), 5);
      let first: EventMessage | undefined;
      const got = new Promise<void>((resolve) =>
        store.subscribe("JOIN", (message) => {
          first ??= message;
          resolve();
        }, { fromOffset: "0" })
      );
      await within(got, "the first message after the overwritten ones");
      assert.ok(first?.type === "JOIN" && first.room === "r5", JSON.stringify(first));
      assert.equal(first.offset, "5");
      assert.equal(errors.length, 1);
      assert.match(
        errors[0]!.message,
        /sequences 1\.\.4 were already overwritten; delivering from 5/,
      );
    } finally {
      await store.shutdown();
      await client.shutdown();
    }
  },
);

serviceTest(hazelcast, "clean-up: destroy the maps and topics this file created", async () => {
  await dropPrefixes(recordedPrefixes);
  const client = await rawClient();
  try {
    for (const p of recordedPrefixes) assert.deepStrictEqual(await objectsNamed(client, p), []);
  } finally {
    await client.shutdown();
  }
});
