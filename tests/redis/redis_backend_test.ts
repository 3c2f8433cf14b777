/**
 * What is special about the Redis backends beyond the conformance suites: the key layout seen
 * with SCAN, isolation of hostile ids, data shared across transports, stream trimming and
 * offsets, REST credentials, client settings. The checks that start a Redis of their own or a
 * Deno child process are in `redis_backend_deno_test.ts`.
 */

import assert from "node:assert/strict";
import { createClient } from "redis";
import { Redis } from "@upstash/redis";
import { BackendError, encodeValue } from "../../mod.ts";
import {
  type NodeRedisClient,
  RedisPubSubEventStore,
  RedisStoreFactory,
  RedisStreamEventStore,
} from "../../src/redis/mod.ts";
import { UPSTASH_TOKEN } from "../../scripts/services/upstash_rest.ts";
import { ROUND_TRIP_VALUES } from "../conformance/store_suite.ts";
import { Inbox } from "../conformance/_helpers.ts";
import { requireService, serviceTest } from "../_services.ts";
import {
  closeClient,
  dropPrefix,
  factoryOn,
  rawClient,
  REDIS_URL,
  REST_URL,
  restClient,
  scanKeys,
  streamStoreOn,
  testPrefix,
  type Transport,
} from "./_redis.ts";

const redis = await requireService("redis");
const upstash = await requireService("upstash");
const both = [redis, upstash];
const TRANSPORTS: readonly Transport[] = ["tcp", "rest"];

const HOSTILE = [
  "a:b",
  "*",
  "{tag}",
  "用户:🎉",
  "x".repeat(1024),
  "map:a",
  "session:a",
  "a b\n",
];

for (const transport of TRANSPORTS) {
  const label = transport.toUpperCase();

  serviceTest(
    both,
    `RedisStore (${label}): a field another writer filled is a TypeError naming the session or map and the key`,
    async () => {
      const p = testPrefix("foreign");
      const factory = factoryOn(transport, { prefix: p });
      const raw = await rawClient();
      try {
        await raw.hSet(factory.sessionKey("s1"), "k", "not json{");
        await raw.hSet(`${p}:map:m`, "k", "not json{");
        const store = factory.createStore("s1");
        const map = factory.createMap("m");
        for (
          const [read, owner] of [
            [() => store.get("k"), 'session "s1"'],
            [() => map.get("k"), 'map "m"'],
            [() => map.entries(), 'map "m"'],
          ] as const
        ) {
          await assert.rejects(read(), (error: unknown) =>
            error instanceof TypeError &&
            error.message.startsWith(`the value under key "k" of ${owner} cannot be read: `) &&
            /not in this library's encoding/.test(error.message));
        }
      } finally {
        closeClient(raw);
        await factory.shutdown();
        await dropPrefix(p);
      }
    },
  );

  serviceTest(
    both,
    `RedisStore (${label}): keys live in <prefix>:session:<id> hashes and destroy() leaves none (SCAN)`,
    async () => {
      const p = testPrefix("scan");
      const factory = factoryOn(transport, { prefix: p });
      const raw = await rawClient();
      try {
        for (const id of HOSTILE) {
          const store = factory.createStore(id);
          for (const key of HOSTILE) await store.set(key, `${id}/${key}`);
        }
        const map = factory.createMap("a");
        await map.set("k", 1);
        const keys = (await scanKeys(raw, p)).sort();
        assert.deepStrictEqual(
          keys,
          [...HOSTILE.map((id) => `${p}:session:${id}`), `${p}:map:a`].sort(),
        );
        for (const id of HOSTILE) {
          assert.equal(await raw.hLen(`${p}:session:${id}`), HOSTILE.length, id);
          assert.equal(
            await raw.hGet(`${p}:session:${id}`, "*"),
            encodeValue("*", `${id}/*`),
            "the raw field holds the core's text encoding",
          );
        }
        for (const id of HOSTILE) {
          for (const key of HOSTILE) {
            assert.equal(await factory.createStore(id).get(key), `${id}/${key}`);
          }
        }
        for (const id of HOSTILE) await factory.createStore(id).destroy();
        await map.clear();
        assert.deepStrictEqual(await scanKeys(raw, p), [], "no key left under the prefix");
      } finally {
        await factory.shutdown();
        closeClient(raw);
      }
    },
  );

  serviceTest(
    both,
    `RedisStore: values written over ${label} read back identically over ${
      transport === "tcp" ? "REST" : "TCP"
    }`,
    async () => {
      const p = testPrefix("cross");
      const writer = factoryOn(transport, { prefix: p });
      const reader = factoryOn(transport === "tcp" ? "rest" : "tcp", { prefix: p });
      const raw = await rawClient();
      try {
        const id = "edge:{shared} 🎉";
        for (const [key, value] of Object.entries(ROUND_TRIP_VALUES)) {
          await writer.createStore(id).set(key, value);
        }
        const binary = Uint8Array.from({ length: 256 }, (_, index) => index);
        await writer.createStore(id).set("all bytes", binary);
        await writer.createMap("shared").set("true", { json: "true", n: 1 });
        for (const [key, value] of Object.entries(ROUND_TRIP_VALUES)) {
          assert.deepStrictEqual(await reader.createStore(id).get(key), value, key);
          assert.equal(
            await raw.hGet(`${p}:session:${id}`, key),
            encodeValue(key, value),
            `raw text of ${key}`,
          );
        }
        const bytes = await reader.createStore(id).get<Uint8Array>("all bytes");
        assert.ok(bytes instanceof Uint8Array);
        assert.deepStrictEqual(bytes, binary);
        // Field names that look like JSON come back as the same strings.
        assert.deepStrictEqual(await reader.createMap("shared").keys(), ["true"]);
        assert.deepStrictEqual(await reader.createMap("shared").entries(), [[
          "true",
          { json: "true", n: 1 },
        ]]);
        await reader.createStore(id).destroy();
        await reader.createMap("shared").clear();
        assert.deepStrictEqual(await scanKeys(raw, p), []);
      } finally {
        await Promise.all([writer.shutdown(), reader.shutdown()]);
        closeClient(raw);
      }
    },
  );

  serviceTest(
    both,
    `RedisStreamEventStore (${label}): XADD trims with MAXLEN ~ maxLen`,
    async () => {
      const p = testPrefix("trim");
      const store = streamStoreOn(transport, { prefix: p, maxLen: 100 });
      const raw = await rawClient();
      try {
        await Promise.all(
          Array.from(
            { length: 1000 },
            (_, index) =>
              store.publish("JOIN", { sessionId: "s", namespace: "/", room: `${index}` }),
          ),
        );
        const length = await raw.xLen(`${p}:stream:JOIN`);
        assert.ok(length >= 100 && length < 1000, `stream length ${length} after trimming to ~100`);
      } finally {
        await store.shutdown();
        await dropPrefix(p);
        closeClient(raw);
      }
    },
  );

  serviceTest(
    both,
    `RedisStreamEventStore (${label}): offsets are stream ids, kept per type in MULTI_CHANNEL`,
    async () => {
      const p = testPrefix("offsets");
      const a = streamStoreOn(transport, { prefix: p, nodeId: "a" });
      const b = streamStoreOn(transport, { prefix: p, nodeId: "b" });
      const raw = await rawClient();
      try {
        const inbox = await new Inbox().listen(b, "JOIN", "LEAVE");
        const join = await a.publish("JOIN", { sessionId: "s", namespace: "/", room: "j" });
        const leave = await a.publish("LEAVE", { sessionId: "s", namespace: "/", room: "l" });
        await inbox.waitFor(2);
        const [joinEntry] = await raw.xRange(`${p}:stream:JOIN`, "-", "+") ?? [];
        const [leaveEntry] = await raw.xRange(`${p}:stream:LEAVE`, "-", "+") ?? [];
        assert.equal(join.offset, joinEntry!.id);
        assert.equal(leave.offset, leaveEntry!.id);
        assert.equal(b.lastOffset("JOIN"), join.offset);
        assert.equal(b.lastOffset("LEAVE"), leave.offset);
        const c = streamStoreOn(transport, { prefix: p, nodeId: "c" });
        await assert.rejects(c.subscribe("JOIN", () => {}, { fromOffset: "not-an-id" }), TypeError);
        await c.shutdown();
      } finally {
        await Promise.all([a.shutdown(), b.shutdown()]);
        await dropPrefix(p);
        closeClient(raw);
      }
    },
  );
  serviceTest(
    both,
    `RedisStreamEventStore (${label}): entries hold JSON text, or base64 when JSON cannot carry the message; foreign text is reported`,
    async () => {
      const p = testPrefix("wire");
      const errors: string[] = [];
      const a = streamStoreOn(transport, { prefix: p, nodeId: "a" });
      const b = streamStoreOn(transport, {
        prefix: p,
        nodeId: "b",
        onError: (error, context) => errors.push(`${context.stage}: ${error.message}`),
      });
      const raw = await rawClient();
      try {
        const inbox = await new Inbox().listen(b, "DISPATCH");
        const plain = { namespace: "/", room: "r", packet: ["chat", { text: "héllo" }] };
        const binary = { namespace: "/", room: "r", packet: new Uint8Array([0, 1, 255]) };
        await a.publish("DISPATCH", plain);
        await a.publish("DISPATCH", binary);
        await inbox.waitFor(2);
        await raw.xAdd(`${p}:stream:DISPATCH`, "*", { d: "not a record" });
        await raw.xAdd(`${p}:stream:DISPATCH`, "*", { d: "{not json" });
        await a.publish("DISPATCH", { ...plain, room: "after" });
        const [first, second, after] = await inbox.waitFor(3);
        assert.deepStrictEqual(first, {
          type: "DISPATCH",
          nodeId: "a",
          ...plain,
          offset: first!.offset,
        });
        assert.ok(second?.type === "DISPATCH");
        assert.deepStrictEqual(second.packet, binary.packet);
        assert.ok(after?.type === "DISPATCH" && after.room === "after");
        const entries = (await raw.xRange(`${p}:stream:DISPATCH`, "-", "+") ?? []).map((entry) =>
          entry.message.d!
        );
        assert.equal(entries[0], JSON.stringify({ ...plain, type: "DISPATCH", nodeId: "a" }));
        assert.match(entries[1]!, /^[A-Za-z0-9+/]+=*$/, "bytes travel as base64");
        assert.equal(errors.length, 2, errors.join("\n"));
        assert.ok(errors.every((line) => line.startsWith("decode: undecodable hybrid record")));
      } finally {
        await Promise.all([a.shutdown(), b.shutdown()]);
        await dropPrefix(p);
        closeClient(raw);
      }
    },
  );
}

serviceTest(
  redis,
  "RedisPubSubEventStore publishes JSON text that any subscriber reads, and base64 for bytes",
  async () => {
    const p = testPrefix("pubsub-wire");
    const raw = await rawClient();
    const subscriber = raw.duplicate();
    await subscriber.connect();
    const store = new RedisPubSubEventStore({
      client: raw as unknown as NodeRedisClient,
      prefix: p,
    });
    try {
      const seen: string[] = [];
      await subscriber.subscribe(`${p}:JOIN`, (message) => void seen.push(message));
      await store.publish("JOIN", { sessionId: "s", namespace: "/", room: "lobby" });
      await store.publish(
        "JOIN",
        { sessionId: "s", namespace: "/", room: "lobby", extra: NaN } as never,
      );
      for (let waited = 0; seen.length < 2 && waited < 5_000; waited += 5) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.equal(seen.length, 2, "both messages reach a plain subscriber");
      assert.deepStrictEqual(JSON.parse(seen[0]!), {
        type: "JOIN",
        nodeId: store.nodeId,
        sessionId: "s",
        namespace: "/",
        room: "lobby",
      });
      assert.match(seen[1]!, /^[A-Za-z0-9+/]+=*$/, "MessagePack bytes travel as base64");
    } finally {
      await store.shutdown();
      subscriber.destroy();
      closeClient(raw);
    }
  },
);

serviceTest(redis, "RedisPubSubEventStore refuses a REST client, naming the reason", () => {
  assert.throws(
    () => new RedisPubSubEventStore({ client: restClient() as unknown as NodeRedisClient }),
    (error: unknown) => error instanceof TypeError && /TCP client/.test(error.message),
  );
  assert.throws(
    () => new RedisStreamEventStore({ client: restClient(), read: "block" }),
    TypeError,
  );
  assert.throws(() => new RedisStoreFactory({ client: {} as NodeRedisClient }), TypeError);
  assert.throws(
    () => new RedisStreamEventStore({ client: restClient(), maxLen: 0 }),
    RangeError,
  );
});

serviceTest(
  both,
  "a refused REST request's errors name each command and the reason, never the values of the batch",
  async () => {
    const factory = new RedisStoreFactory({
      client: restClient(undefined, "wrong-token"),
      prefix: testPrefix("echo"),
    });
    try {
      // Two sessions' writes in one tick travel in one request, which the endpoint refuses.
      const results = await Promise.allSettled([
        factory.createStore("alice").set("upload", "alice-secret"),
        factory.createStore("bob").set("token", "bob-secret"),
      ]);
      for (const [index, result] of results.entries()) {
        assert.equal(result.status, "rejected");
        const error = (result as PromiseRejectedResult).reason;
        assert.ok(error instanceof BackendError, String(error));
        assert.match(error.message, /HSET ".*:session:(alice|bob)" failed: Unauthorized/);
        const cause = error.cause as Error;
        assert.match(cause.message, /^Unauthorized/);
        for (const text of [error.message, cause.message, String(cause.stack)]) {
          assert.doesNotMatch(text, /secret|command was/, `error ${index}: ${text}`);
        }
      }
    } finally {
      await factory.shutdown();
    }
  },
);

serviceTest(both, "a wrong REST token fails at first use with a clear BackendError", async () => {
  const factory = new RedisStoreFactory({
    client: restClient(undefined, "wrong-token"),
    prefix: testPrefix("token"),
  });
  try {
    await assert.rejects(
      factory.createStore("s").get("k"),
      (error: unknown) => error instanceof BackendError && /refused the token/.test(error.message),
    );
  } finally {
    await factory.shutdown();
  }
});

serviceTest(
  redis,
  "RedisStreamEventStore (TCP): blocking reads that time out idle report no error; delivery goes on",
  async () => {
    const p = testPrefix("idle");
    const errors: Error[] = [];
    const a = streamStoreOn("tcp", { prefix: p, nodeId: "a" });
    const b = streamStoreOn("tcp", {
      prefix: p,
      nodeId: "b",
      blockMs: 500,
      onError: (error) => void errors.push(error),
    });
    try {
      const inbox = await new Inbox().listen(b, "JOIN");
      await new Promise((resolve) => setTimeout(resolve, 1_600));
      await a.publish("JOIN", { sessionId: "s", namespace: "/", room: "after-idle" });
      await inbox.waitFor(1);
      assert.equal(inbox.messages[0]!.type === "JOIN" && inbox.messages[0]!.room, "after-idle");
      assert.deepStrictEqual(errors.map((error) => error.message), []);
    } finally {
      await Promise.all([a.shutdown(), b.shutdown()]);
      await dropPrefix(p);
    }
  },
);

serviceTest(
  both,
  "RedisStoreFactory's default event store: Pub/Sub over TCP, Streams over REST; it reaches the other nodes",
  async () => {
    const p = testPrefix("default");
    const tcpA = factoryOn("tcp", { prefix: p });
    const tcpB = factoryOn("tcp", { prefix: p });
    const restA = factoryOn("rest", { prefix: p });
    const restB = factoryOn("rest", { prefix: p });
    try {
      assert.equal(tcpA.eventStore().kind, "PUBSUB");
      assert.equal(restA.eventStore().kind, "STREAM");
      assert.equal(restA.eventStore().publishMode, "RELIABLE");
      for (const [from, to] of [[tcpA, tcpB], [restA, restB]] as const) {
        const inbox = await new Inbox().listen(to.eventStore(), "CONNECT");
        await from.eventStore().publish("CONNECT", { sessionId: `via-${from.transport}` });
        await inbox.waitFor(1);
        assert.equal(
          inbox.messages[0]!.type === "CONNECT" && inbox.messages[0]!.sessionId,
          `via-${from.transport}`,
        );
      }
    } finally {
      await Promise.all([tcpA, tcpB, restA, restB].map((factory) => factory.shutdown()));
      await dropPrefix(p);
    }
  },
);

serviceTest(
  both,
  "other client settings read the same data: node-redis on RESP2, @upstash/redis without base64 or JSON parsing",
  async () => {
    const p = testPrefix("settings");
    const resp2 = createClient({ url: REDIS_URL, RESP: 2 });
    resp2.on("error", () => {});
    const plainRest = new Redis({
      url: REST_URL,
      token: UPSTASH_TOKEN,
      responseEncoding: false,
      automaticDeserialization: false,
      enableTelemetry: false,
    });
    const writer = factoryOn("tcp", { prefix: p });
    const clients = [
      new RedisStoreFactory({ client: resp2 as unknown as NodeRedisClient, prefix: p }),
      new RedisStoreFactory({ client: plainRest, prefix: p }),
    ];
    const streams = [
      new RedisStreamEventStore({ client: resp2 as unknown as NodeRedisClient, prefix: p }),
      new RedisStreamEventStore({ client: plainRest, prefix: p, pollIntervalMs: 20 }),
    ];
    try {
      await writer.createStore("s").set("v", { text: "héllo ✓", bytes: new Uint8Array([0, 255]) });
      await writer.createMap("m").set("null", [null]);
      for (const factory of clients) {
        assert.deepStrictEqual(await factory.createStore("s").get("v"), {
          text: "héllo ✓",
          bytes: new Uint8Array([0, 255]),
        });
        assert.deepStrictEqual(await factory.createMap("m").entries(), [["null", [null]]]);
        assert.equal(await factory.createStore("s").has("v"), true);
      }
      const inboxes = await Promise.all(streams.map((store) => new Inbox().listen(store, "JOIN")));
      const sender = streamStoreOn("tcp", { prefix: p });
      const { offset } = await sender.publish("JOIN", {
        sessionId: "s",
        namespace: "/",
        room: "x",
      });
      await sender.shutdown();
      for (const inbox of inboxes) {
        await inbox.waitFor(1);
        assert.equal(inbox.messages[0]!.offset, offset);
      }
    } finally {
      await Promise.all([writer, ...clients, ...streams].map((target) => target.shutdown()));
      closeClient(resp2);
      await dropPrefix(p);
    }
  },
);

serviceTest(
  both,
  "RedisStreamEventStore (REST): six concurrent 1 MiB publishes (over the 4 MiB batch cap) all arrive, in order",
  async () => {
    const p = testPrefix("bigrest");
    const a = streamStoreOn("rest", { prefix: p, nodeId: "a" });
    const b = streamStoreOn("rest", { prefix: p, nodeId: "b" });
    try {
      const inbox = await new Inbox().listen(b, "DISPATCH");
      const payloads = Array.from(
        { length: 6 },
        (_, index) => new Uint8Array(1024 * 1024).fill(index),
      );
      await Promise.all(
        payloads.map((packet, index) =>
          a.publish("DISPATCH", { namespace: "/", room: String(index), packet })
        ),
      );
      await inbox.waitFor(6);
      assert.deepStrictEqual(
        inbox.messages.map((message) => message.type === "DISPATCH" && message.room),
        ["0", "1", "2", "3", "4", "5"],
      );
      inbox.messages.forEach((message, index) =>
        assert.deepStrictEqual(message.type === "DISPATCH" && message.packet, payloads[index])
      );
    } finally {
      await Promise.all([a.shutdown(), b.shutdown()]);
      await dropPrefix(p);
    }
  },
);
