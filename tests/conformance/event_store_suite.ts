/**
 * Conformance suite of the {@linkcode EventStore} contract (DESIGN.md §3, "EventStore"). An event
 * backend's test file calls {@linkcode eventStoreSuite} with a maker of nodes on one backend.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type Codec,
  DEFAULT_MAX_MESSAGE_BYTES,
  type EventErrorContext,
  type EventMessage,
  type EventStore,
  EventStoreClosedError,
  EventStoreMode,
  type EventStoreOptions,
  hybridCodec,
  jsonCodec,
  MessageValidationError,
  msgpackCodec,
  PublishMode,
} from "../../mod.ts";
import { Inbox, randomPrefix, shutdownAll, within } from "./_helpers.ts";

/** How an event backend plugs into the suite. */
export interface EventStoreSuiteOptions {
  /** Backend label used in test names, e.g. `RedisStreamEventStore (TCP)`. */
  readonly name: string;
  /** Skip every test (the backend's service is absent). */
  readonly ignore?: boolean;
  /**
   * Creates one node on the backend. The suite passes `prefix`, `mode`, `nodeId`, `codec` and
   * `onError`; the maker adds the connection and backend options.
   */
  createEventStore(options: EventStoreOptions): EventStore | Promise<EventStore>;
  /** Payload size the backend must carry; 1 MiB by default. */
  readonly largePayloadBytes?: number;
  /**
   * Whether a node receives its own messages back (and drops them); `true` by default. `false`
   * where the connection asks the server not to send them, such as NATS with `noEcho`.
   */
  readonly ownMessagesComeBack?: boolean;
}

interface Errors {
  readonly seen: { error: Error; context: EventErrorContext }[];
  readonly onError: (error: Error, context: EventErrorContext) => void;
}

function errorLog(): Errors {
  const seen: { error: Error; context: EventErrorContext }[] = [];
  return { seen, onError: (error, context) => seen.push({ error, context }) };
}

const MODES = [EventStoreMode.MULTI_CHANNEL, EventStoreMode.SINGLE_CHANNEL] as const;

function join(
  room: string,
  sessionId = "s1",
): { sessionId: string; namespace: string; room: string } {
  return { sessionId, namespace: "/", room };
}

function rooms(messages: readonly EventMessage[]): string[] {
  return messages.map((message) => ("room" in message ? message.room : `(${message.type})`));
}

/** Registers the event-store conformance tests for one backend. */
export function eventStoreSuite(options: EventStoreSuiteOptions): void {
  const made: EventStore[] = [];
  const node = async (extra: EventStoreOptions): Promise<EventStore> => {
    const store = await options.createEventStore(extra);
    made.push(store);
    return store;
  };
  const test = (name: string, body: () => Promise<void>) =>
    Deno.test({
      name: `${options.name}: ${name}`,
      ignore: options.ignore ?? false,
      async fn() {
        try {
          await body();
        } finally {
          await shutdownAll(made.splice(0));
        }
      },
    });

  for (const mode of MODES) {
    test(`[${mode}] a message reaches every other node and never its publisher`, async () => {
      const prefix = randomPrefix();
      const [a, b, c] = await Promise.all(
        ["a", "b", "c"].map((nodeId) => node({ prefix, mode, nodeId })),
      );
      const [inA, inB, inC] = await Promise.all(
        [a!, b!, c!].map((store) => new Inbox().listen(store, "JOIN")),
      );
      await a!.publish("JOIN", join("from-a"));
      await inB!.waitFor(1, "b receives a's message");
      await b!.publish("JOIN", join("from-b"));
      await inA!.waitFor(1, "a receives b's message");
      await c!.publish("JOIN", join("from-c"));
      await inA!.waitFor(2, "a receives c's message");
      await inB!.waitFor(2, "b receives c's message");
      await inC!.waitFor(2, "c receives a's and b's messages");
      assert.deepStrictEqual(rooms(inA!.messages), ["from-b", "from-c"]);
      assert.deepStrictEqual(rooms(inB!.messages), ["from-a", "from-c"]);
      assert.deepStrictEqual(rooms(inC!.messages), ["from-a", "from-b"]);
      assert.deepStrictEqual(inB!.messages[0]!.nodeId, "a");
      assert.equal(inB!.messages[0]!.type, "JOIN");
    });

    test(`[${mode}] order within a channel is kept, awaited or not`, async () => {
      const prefix = randomPrefix();
      const [a, b] = await Promise.all(["a", "b"].map((nodeId) => node({ prefix, mode, nodeId })));
      const inbox = await new Inbox().listen(b!, "DISPATCH");
      const expected: string[] = [];
      for (let index = 0; index < 50; index++) {
        expected.push(`awaited-${index}`);
        await a!.publish("DISPATCH", { namespace: "/", room: `awaited-${index}`, packet: index });
      }
      const burst = Array.from({ length: 200 }, (_, index) => `burst-${index}`);
      expected.push(...burst);
      await Promise.all(
        burst.map((room, index) => a!.publish("DISPATCH", { namespace: "/", room, packet: index })),
      );
      await inbox.waitFor(expected.length, "all dispatches");
      assert.deepStrictEqual(rooms(inbox.messages), expected);
    });

    test(`[${mode}] a payload's binary data survives, nested anywhere`, async () => {
      const prefix = randomPrefix();
      const [a, b] = await Promise.all(["a", "b"].map((nodeId) => node({ prefix, mode, nodeId })));
      const inbox = await new Inbox().listen(b!, "DISPATCH");
      const bytes = Uint8Array.from({ length: 256 }, (_, index) => index);
      const packet = {
        type: 2,
        data: ["file", bytes, { thumb: new Uint8Array([0, 255]) }],
        text: "é✓",
      };
      await a!.publish("DISPATCH", { namespace: "/chat", room: "", packet });
      const [message] = await inbox.waitFor(1);
      assert.equal(message!.type, "DISPATCH");
      assert.deepStrictEqual(message!.type === "DISPATCH" && message!.packet, packet);
    });

    test(`[${mode}] unsubscribe stops delivery; subscribing again starts afresh`, async () => {
      const prefix = randomPrefix();
      const [a, b] = await Promise.all(["a", "b"].map((nodeId) => node({ prefix, mode, nodeId })));
      const first = await new Inbox().listen(b!, "JOIN");
      await a!.publish("JOIN", join("before"));
      await first.waitFor(1);
      await b!.unsubscribe("JOIN");
      await a!.publish("JOIN", join("while-unsubscribed"));
      const second = await new Inbox().listen(b!, "JOIN");
      await a!.publish("JOIN", join("after"));
      await second.waitFor(1);
      assert.deepStrictEqual(rooms(first.messages), ["before"]);
      assert.deepStrictEqual(rooms(second.messages), ["after"]);
    });
  }

  test("[SINGLE_CHANNEL] order is kept across event types", async () => {
    const prefix = randomPrefix();
    const mode = EventStoreMode.SINGLE_CHANNEL;
    const [a, b] = await Promise.all(["a", "b"].map((nodeId) => node({ prefix, mode, nodeId })));
    const inbox = await new Inbox().listen(b!, "JOIN", "LEAVE", "DISPATCH", "CONNECT");
    const sent: string[] = [];
    const types: string[] = [];
    const publishes: Promise<unknown>[] = [];
    for (let index = 0; index < 90; index++) {
      const room = `r${index}`;
      sent.push(room);
      // A mix of runs of one type and changes of type; each message must keep its own type.
      switch (Math.floor(index / (1 + (index % 4))) % 3) {
        case 0:
          types.push("JOIN");
          publishes.push(a!.publish("JOIN", join(room)));
          break;
        case 1:
          types.push("LEAVE");
          publishes.push(a!.publish("LEAVE", join(room)));
          break;
        default:
          types.push("DISPATCH");
          publishes.push(a!.publish("DISPATCH", { namespace: "/", room, packet: null }));
      }
    }
    await Promise.all(publishes);
    await inbox.waitFor(sent.length);
    assert.deepStrictEqual(rooms(inbox.messages), sent);
    assert.deepStrictEqual(inbox.messages.map((message) => message.type), types);
    assert.deepStrictEqual(new Set(types), new Set(["JOIN", "LEAVE", "DISPATCH"]));
  });

  test("[MULTI_CHANNEL] a node only receives the types it subscribed to", async () => {
    const prefix = randomPrefix();
    const [a, b] = await Promise.all(["a", "b"].map((nodeId) => node({ prefix, nodeId })));
    const inbox = await new Inbox().listen(b!, "LEAVE");
    await a!.publish("JOIN", join("ignored"));
    await a!.publish("LEAVE", join("wanted"));
    await inbox.waitFor(1);
    assert.deepStrictEqual(rooms(inbox.messages), ["wanted"]);
  });

  test("channel prefixes keep two applications on one broker apart", async () => {
    const [p1, p2] = [randomPrefix("app1"), randomPrefix("app2")];
    const a1 = await node({ prefix: p1, nodeId: "a" });
    const b1 = await node({ prefix: p1, nodeId: "b" });
    const a2 = await node({ prefix: p2, nodeId: "a" });
    const b2 = await node({ prefix: p2, nodeId: "b" });
    const in1 = await new Inbox().listen(b1, "JOIN");
    const in2 = await new Inbox().listen(b2, "JOIN");
    await a1.publish("JOIN", join("app1"));
    await in1.waitFor(1);
    await a2.publish("JOIN", join("app2"));
    await in2.waitFor(1);
    assert.deepStrictEqual(rooms(in1.messages), ["app1"]);
    assert.deepStrictEqual(rooms(in2.messages), ["app2"]);
  });

  test("nodeId is configurable and random by default", async () => {
    const prefix = randomPrefix();
    const named = await node({ prefix, nodeId: "node-42" });
    const [r1, r2] = await Promise.all([node({ prefix }), node({ prefix })]);
    assert.equal(named.nodeId, "node-42");
    assert.notEqual(r1!.nodeId, r2!.nodeId);
    assert.ok(r1!.nodeId.length >= 8);
    assert.equal(named.mode, EventStoreMode.MULTI_CHANNEL);
  });

  test("a listener that throws or rejects does not end the subscription", async () => {
    const prefix = randomPrefix();
    const errors = errorLog();
    const a = await node({ prefix, nodeId: "a" });
    const b = await node({ prefix, nodeId: "b", onError: errors.onError });
    const inbox = new Inbox();
    let calls = 0;
    await b.subscribe("JOIN", (message) => {
      inbox.push(message);
      calls++;
      if (calls === 1) throw new Error("listener bug");
      if (calls === 2) return Promise.reject(new Error("async listener bug"));
    });
    for (const room of ["one", "two", "three"]) await a.publish("JOIN", join(room));
    await inbox.waitFor(3);
    assert.deepStrictEqual(rooms(inbox.messages), ["one", "two", "three"]);
    await within(
      (async () => {
        while (errors.seen.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      "two listener errors reported",
    );
    assert.deepStrictEqual(errors.seen.map((seen) => seen.context.stage), ["listener", "listener"]);
    assert.deepStrictEqual(errors.seen.map((seen) => seen.error.message), [
      "listener bug",
      "async listener bug",
    ]);
  });

  test("an undecodable record on the wire is skipped and reported; delivery goes on", async () => {
    const prefix = randomPrefix();
    const errors = errorLog();
    const garbage: Codec = {
      name: "garbage",
      encode: () => new Uint8Array([0xc1, 0xff, 0x00]),
      decode: () => null,
    };
    const bad = await node({ prefix, nodeId: "bad", codec: garbage });
    const a = await node({ prefix, nodeId: "a" });
    const b = await node({ prefix, nodeId: "b", onError: errors.onError });
    const inbox = await new Inbox().listen(b, "JOIN");
    await bad.publish("JOIN", join("garbage"));
    await a.publish("JOIN", join("good"));
    await inbox.waitFor(1);
    assert.deepStrictEqual(rooms(inbox.messages), ["good"]);
    assert.equal(errors.seen.length, 1);
    assert.equal(errors.seen[0]!.context.stage, "decode");
  });

  test("a record that fails validation is skipped and reported, naming the field", async () => {
    const prefix = randomPrefix();
    const errors = errorLog();
    const dropsRoom: Codec = {
      name: "drops-room",
      encode: ({ room: _room, ...rest }) => msgpackCodec.encode(rest),
      decode: (bytes) => msgpackCodec.decode(bytes),
    };
    const bad = await node({ prefix, nodeId: "bad", codec: dropsRoom });
    const a = await node({ prefix, nodeId: "a" });
    const b = await node({ prefix, nodeId: "b", onError: errors.onError });
    const inbox = await new Inbox().listen(b, "JOIN");
    await bad.publish("JOIN", join("invalid"));
    await a.publish("JOIN", join("valid"));
    await inbox.waitFor(1);
    assert.deepStrictEqual(rooms(inbox.messages), ["valid"]);
    assert.equal(errors.seen.length, 1);
    assert.equal(errors.seen[0]!.context.stage, "validate");
    assert.ok(errors.seen[0]!.error instanceof MessageValidationError);
    assert.equal((errors.seen[0]!.error as MessageValidationError).field, "room");
  });

  test("[MULTI_CHANNEL] a message of another type on a channel is skipped and reported", async () => {
    const prefix = randomPrefix();
    const errors = errorLog();
    // Writes LEAVE as the type of whatever it is given: a JOIN publish puts a LEAVE message on
    // the JOIN channel.
    const mislabels: Codec = {
      name: "mislabels",
      encode: (message) => msgpackCodec.encode({ ...message, type: "LEAVE" }),
      decode: (bytes) => msgpackCodec.decode(bytes),
    };
    const bad = await node({ prefix, nodeId: "bad", codec: mislabels });
    const a = await node({ prefix, nodeId: "a" });
    const b = await node({ prefix, nodeId: "b", onError: errors.onError });
    const inbox = await new Inbox().listen(b, "JOIN", "LEAVE");
    await bad.publish("JOIN", join("mislabelled"));
    await a.publish("JOIN", join("joined"));
    await a.publish("LEAVE", join("left"));
    await inbox.waitFor(2);
    assert.deepStrictEqual(rooms(inbox.messages).sort(), ["joined", "left"]);
    assert.deepStrictEqual(
      inbox.messages.map((message) => message.type).sort(),
      ["JOIN", "LEAVE"],
    );
    assert.equal(errors.seen.length, 1);
    assert.equal(errors.seen[0]!.context.stage, "validate");
    assert.equal(errors.seen[0]!.context.channel, "JOIN");
    assert.match(errors.seen[0]!.error.message, /a LEAVE message arrived on the JOIN channel/);
  });

  test("a malformed publish rejects with an error naming the field, and sends nothing", async () => {
    const prefix = randomPrefix();
    const a = await node({ prefix, nodeId: "a" });
    const b = await node({ prefix, nodeId: "b" });
    const inbox = await new Inbox().listen(b, "JOIN", "BULK_JOIN");
    const field = (name: string) => (error: unknown) =>
      error instanceof MessageValidationError && error.field === name;
    // deno-lint-ignore no-explicit-any
    const loose = a as any;
    await assert.rejects(loose.publish("JOIN", { sessionId: "s", namespace: "/" }), field("room"));
    await assert.rejects(
      loose.publish("JOIN", { sessionId: 5, namespace: "/", room: "r" }),
      field("sessionId"),
    );
    await assert.rejects(
      loose.publish("BULK_JOIN", { sessionId: "s", namespace: "/", rooms: [] }),
      field("rooms"),
    );
    await assert.rejects(
      loose.publish("BULK_JOIN", { sessionId: "s", namespace: "/", rooms: ["a", 3] }),
      field("rooms.1"),
    );
    await assert.rejects(loose.publish("DISPATCH", { namespace: "/", room: "" }), field("packet"));
    await assert.rejects(loose.publish("NOPE", { sessionId: "s" }), field("type"));
    await assert.rejects(loose.publish("JOIN", null), TypeError);
    await assert.rejects(
      loose.publish("DISPATCH", { namespace: "/", room: "", packet: () => 1 }),
      TypeError,
    );
    await a.publish("JOIN", join("marker"));
    await inbox.waitFor(1);
    assert.deepStrictEqual(rooms(inbox.messages), ["marker"]);
  });

  test("payloads of 1 MiB arrive intact; oversized ones reject with RangeError", async () => {
    const prefix = randomPrefix();
    const a = await node({ prefix, nodeId: "a" });
    const b = await node({ prefix, nodeId: "b" });
    const inbox = await new Inbox().listen(b, "DISPATCH");
    const size = options.largePayloadBytes ?? 1024 * 1024;
    const big = new Uint8Array(size);
    for (let index = 0; index < size; index += 65536) {
      crypto.getRandomValues(big.subarray(index, index + 65536));
    }
    await a.publish("DISPATCH", { namespace: "/", room: "big", packet: big });
    const limit = (a as { maxMessageBytes?: number }).maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    await assert.rejects(
      a.publish("DISPATCH", { namespace: "/", room: "huge", packet: new Uint8Array(limit + 1) }),
      (error: unknown) => error instanceof RangeError && /maxMessageBytes/.test(error.message),
    );
    // Text is measured in UTF-8 bytes: "é" takes two.
    const bigText = "é".repeat(Math.floor(size / 2));
    await a.publish("DISPATCH", { namespace: "/", room: "big-text", packet: bigText });
    await assert.rejects(
      a.publish("DISPATCH", {
        namespace: "/",
        room: "huge-text",
        packet: "é".repeat(Math.ceil(limit / 2) + 1),
      }),
      (error: unknown) => error instanceof RangeError && /maxMessageBytes/.test(error.message),
    );
    await a.publish("DISPATCH", { namespace: "/", room: "after", packet: 1 });
    await inbox.waitFor(3);
    assert.deepStrictEqual(rooms(inbox.messages), ["big", "big-text", "after"]);
    const text = inbox.messages[1]!;
    assert.ok(text.type === "DISPATCH" && text.packet === bigText);
    const received = inbox.messages[0]!;
    assert.ok(received.type === "DISPATCH" && received.packet instanceof Uint8Array);
    assert.equal(received.packet.byteLength, size);
    assert.deepStrictEqual(received.packet, big);
  });

  test("the JSON codec carries every message type, binary included", async () => {
    const prefix = randomPrefix();
    const a = await node({ prefix, nodeId: "a", codec: jsonCodec });
    const b = await node({ prefix, nodeId: "b", codec: jsonCodec });
    const inbox = await new Inbox().listen(b, "CONNECT", "BULK_LEAVE", "DISPATCH");
    await a.publish("CONNECT", { sessionId: "s1" });
    await inbox.waitFor(1);
    await a.publish("BULK_LEAVE", { sessionId: "s1", namespace: "/", rooms: ["x", "y"] });
    await inbox.waitFor(2);
    await a.publish("DISPATCH", {
      namespace: "/",
      room: "r",
      packet: { $bin: "literal", b: new Uint8Array([7]) },
    });
    const [connect, leave, dispatch] = await inbox.waitFor(3);
    assert.deepStrictEqual({ ...connect }, {
      type: "CONNECT",
      nodeId: "a",
      sessionId: "s1",
      ...offsetOf(connect!),
    });
    assert.ok(leave!.type === "BULK_LEAVE");
    assert.deepStrictEqual(leave!.rooms, ["x", "y"]);
    assert.ok(dispatch!.type === "DISPATCH");
    assert.deepStrictEqual(dispatch!.packet, { $bin: "literal", b: new Uint8Array([7]) });
  });

  test("the default codec carries what JSON cannot: bytes, NaN, infinities, dates", async () => {
    const prefix = randomPrefix();
    const a = await node({ prefix, nodeId: "a" });
    const b = await node({ prefix, nodeId: "b" });
    const inbox = await new Inbox().listen(b, "DISPATCH");
    const packet = {
      text: "héllo 🌍",
      bytes: new Uint8Array([0, 123, 255]),
      numbers: [NaN, Infinity, -Infinity, 1.5],
      at: new Date(1_700_000_000_000),
    };
    await a.publish("DISPATCH", { namespace: "/", room: "r", packet: { plain: [1, "two"] } });
    await a.publish("DISPATCH", { namespace: "/", room: "r", packet });
    const [plain, special] = await inbox.waitFor(2);
    assert.ok(plain?.type === "DISPATCH" && special?.type === "DISPATCH");
    assert.deepStrictEqual(plain.packet, { plain: [1, "two"] });
    assert.deepStrictEqual(special.packet, packet);
  });

  test("a node on the default codec reads records of a node on the MessagePack codec", async () => {
    const prefix = randomPrefix();
    const writer = await node({ prefix, nodeId: "writer", codec: msgpackCodec });
    const reader = await node({ prefix, nodeId: "reader" });
    const inbox = await new Inbox().listen(reader, "JOIN", "DISPATCH");
    await writer.publish("JOIN", join("from-msgpack"));
    await writer.publish("DISPATCH", {
      namespace: "/",
      room: "r",
      packet: { b: new Uint8Array([9]) },
    });
    // Two channels in the default MULTI_CHANNEL mode: which arrives first is not defined.
    const received = await inbox.waitFor(2);
    const joins = received.filter((message) => message.type === "JOIN");
    assert.deepStrictEqual(rooms(joins), ["from-msgpack"]);
    const dispatched = received.find((message) => message.type === "DISPATCH");
    assert.ok(dispatched?.type === "DISPATCH");
    assert.deepStrictEqual(dispatched.packet, { b: new Uint8Array([9]) });
  });

  /** `base`, counting the values it decodes and the records its own-record test matches. */
  const counted = (base: Codec) => {
    const decoded: unknown[] = [];
    const counts = { ownMatched: 0 };
    const codec: Codec = {
      name: `counting-${base.name}`,
      ...(base.text ? { text: true } : {}),
      encode: (message) => base.encode(message),
      decode: (record) => {
        const message = base.decode(record);
        decoded.push(message);
        return message;
      },
      ownRecordTest: (nodeId) => {
        const isOwn = base.ownRecordTest?.(nodeId);
        assert.ok(isOwn, `${base.name} has an own-record test for node ${nodeId}`);
        return (record) => {
          const own = isOwn(record);
          if (own) counts.ownMatched++;
          return own;
        };
      },
    };
    return { codec, decoded, counts };
  };

  for (const base of [hybridCodec, msgpackCodec]) {
    test(`a node drops its own ${base.name} records undecoded; payloads naming nodes change nothing`, async () => {
      const prefix = randomPrefix();
      const [forA, forB] = [counted(base), counted(base)];
      const a = await node({ prefix, nodeId: "a", codec: forA.codec });
      const b = await node({ prefix, nodeId: "b", codec: forB.codec });
      const [inA, inB] = await Promise.all(
        [a, b].map((store) => new Inbox().listen(store, "DISPATCH")),
      );
      // What a's records end with, as JSON and as MessagePack, inside payloads.
      const looksLikeA = { nodeId: "b", text: ',"nodeId":"a"}' };
      const aEntry = msgpackCodec.encode({ nodeId: "a" }).subarray(1);
      // JSON text under hybridCodec.
      await a.publish("DISPATCH", { namespace: "/", room: "plain", packet: looksLikeA });
      // A payload with its own nodeId key (publish puts a's last anyway) and bytes (MessagePack
      // under either codec).
      await a.publish("DISPATCH", {
        nodeId: "someone-else",
        namespace: "/",
        room: "forged",
        packet: { ...looksLikeA, entry: aEntry },
      } as { namespace: string; room: string; packet: unknown });
      // Published after a's two were acknowledged: once a has it, a has had its own two back.
      await b.publish("DISPATCH", { namespace: "/", room: "from-b", packet: looksLikeA });
      await b.publish("DISPATCH", {
        namespace: "/",
        room: "from-b-bytes",
        packet: { ...looksLikeA, entry: aEntry },
      });
      // Its own nodeId key holding undefined, and its own type key (a relay's
      // `{ ...message, nodeId: undefined }`), keep their places: the packet comes last, and its
      // last field is a's entry.
      await b.publish("DISPATCH", {
        nodeId: undefined,
        type: "DISPATCH",
        namespace: "/",
        room: "from-b-relayed",
        packet: { bytes: new Uint8Array([1]), nodeId: "a" },
      } as { namespace: string; room: string; packet: unknown });
      await inA!.waitFor(3, "a receives b's messages");
      await inB!.waitFor(2, "b receives a's two messages");
      assert.deepStrictEqual(rooms(inA!.messages), ["from-b", "from-b-bytes", "from-b-relayed"]);
      assert.deepStrictEqual(rooms(inB!.messages), ["plain", "forged"]);
      assert.ok(inB!.messages.every((message) => message.nodeId === "a"));
      assert.deepStrictEqual(
        (inB!.messages[1] as { packet: unknown }).packet,
        { ...looksLikeA, entry: aEntry },
      );
      // a decoded b's messages only: its own two came back and were recognised undecoded (unless
      // the connection does not send them back at all).
      const roomsSeen = (seen: unknown[]) =>
        seen.map((message) => (message as { room: string }).room);
      assert.deepStrictEqual(roomsSeen(forA.decoded), ["from-b", "from-b-bytes", "from-b-relayed"]);
      assert.equal(forA.counts.ownMatched, options.ownMessagesComeBack === false ? 0 : 2);
      assert.deepStrictEqual(roomsSeen(forB.decoded), ["plain", "forged"]);
    });
  }

  for (const mode of MODES) {
    test(`[${mode}] unsubscribe and subscribe again without waiting: only the new listener receives, once`, async () => {
      const prefix = randomPrefix();
      const errors = errorLog();
      const a = await node({ prefix, mode, nodeId: "a" });
      const b = await node({ prefix, mode, nodeId: "b", onError: errors.onError });
      const seen: string[] = [];
      const inbox = new Inbox();
      const listener = (name: string) => (message: EventMessage) => {
        seen.push(`${name}:${rooms([message])[0]}`);
        inbox.push(message);
      };
      // A listener swapped on an open channel: the unsubscribe is still closing the channel when
      // the subscribe wants it open.
      await b.subscribe("JOIN", listener("old"));
      await Promise.all([b.unsubscribe("JOIN"), b.subscribe("JOIN", listener("new"))]);
      await a.publish("JOIN", join("j1"));
      await inbox.waitFor(1, "j1");
      // Subscribe, unsubscribe and subscribe again, nothing awaited in between.
      await Promise.all([
        b.subscribe("LEAVE", listener("first")),
        b.unsubscribe("LEAVE"),
        b.subscribe("LEAVE", listener("second")),
      ]);
      await a.publish("LEAVE", join("l1"));
      await inbox.waitFor(2, "l1");
      // A copy from a subscription left behind would arrive by these markers.
      await a.publish("JOIN", join("j-end"));
      await a.publish("LEAVE", join("l-end"));
      await inbox.waitFor(4, "both markers");
      assert.deepStrictEqual(seen.toSorted(), [
        "new:j-end",
        "new:j1",
        "second:l-end",
        "second:l1",
      ]);
      assert.deepStrictEqual(errors.seen.map((seen) => seen.error.message), []);
    });
  }

  test("a subscribe that rejects leaves no listener behind", async () => {
    const prefix = randomPrefix();
    const a = await node({ prefix, nodeId: "a" });
    const b = await node({ prefix, nodeId: "b" });
    const seen: string[] = [];
    const inbox = new Inbox();
    await b.subscribe("JOIN", (message) => {
      seen.push(`kept:${rooms([message])[0]}`);
      inbox.push(message);
    });
    // fromOffset on a channel already open (reliable stores), or on an at-most-once store.
    await assert.rejects(
      b.subscribe("JOIN", (message) => void seen.push(`rejected:${rooms([message])[0]}`), {
        fromOffset: "1",
      }),
      TypeError,
    );
    await a.publish("JOIN", join("r1"));
    await inbox.waitFor(1);
    // Both listeners of a type are called for the same record, one after the other.
    assert.deepStrictEqual(seen, ["kept:r1"]);
  });

  test("a payload with an own __proto__ field (as JSON.parse makes one) arrives intact", async () => {
    const prefix = randomPrefix();
    const errors = errorLog();
    const a = await node({ prefix, nodeId: "a" });
    const b = await node({ prefix, nodeId: "b", onError: errors.onError });
    const inbox = await new Inbox().listen(b, "DISPATCH");
    // A client's `{"__proto__": …}` as socket.io hands it to the server, without bytes and with
    // them (then hybridCodec writes MessagePack).
    const packets = [
      JSON.parse('["chat",{"__proto__":{"admin":true},"text":"plain"}]'),
      JSON.parse('["chat",{"__proto__":{"admin":true},"text":"bytes"}]'),
    ];
    packets[1][1].bytes = new Uint8Array([1, 2, 3]);
    for (const packet of packets) {
      await a.publish("DISPATCH", { namespace: "/", room: "", packet });
    }
    await inbox.waitFor(2);
    for (const [index, message] of inbox.messages.entries()) {
      const data = (message as EventMessage<"DISPATCH">).packet as [
        string,
        Record<string, unknown>,
      ];
      assert.ok(Object.hasOwn(data[1], "__proto__"), `packet ${index}: own __proto__ field`);
      assert.equal(Object.getPrototypeOf(data[1]), Object.prototype);
      assert.equal(data[1].admin, undefined);
      assert.deepStrictEqual(
        Object.getOwnPropertyDescriptor(data[1], "__proto__")?.value,
        { admin: true },
      );
    }
    assert.deepStrictEqual(
      inbox.messages.map((message) => {
        const data = (message as EventMessage<"DISPATCH">).packet as [string, { text: string }];
        return data[1].text;
      }),
      ["plain", "bytes"],
    );
    assert.deepStrictEqual(errors.seen, []);
  });

  test("shutdown() is idempotent; afterwards publish and subscribe reject clearly", async () => {
    const a = await node({ prefix: randomPrefix(), nodeId: "a" });
    await a.subscribe("JOIN", () => {});
    await Promise.all([a.shutdown(), a.shutdown()]);
    await a.shutdown();
    await assert.rejects(a.publish("JOIN", join("late")), EventStoreClosedError);
    await assert.rejects(a.subscribe("JOIN", () => {}), EventStoreClosedError);
    await a.unsubscribe("JOIN");
  });

  test("shutdown() right after un-awaited publishes waits for them: each resolves and arrives", async () => {
    const prefix = randomPrefix();
    const a = await node({ prefix, nodeId: "a" });
    const b = await node({ prefix, nodeId: "b" });
    const inbox = await new Inbox().listen(b, "JOIN");
    const count = 200;
    // What settled, in order: each publish as "resolved"/"rejected", then "shutdown".
    const log: string[] = [];
    const publishes: Promise<void>[] = [];
    for (let index = 0; index < count; index++) {
      publishes.push(
        a.publish("JOIN", join(`r${index}`)).then(
          () => void log.push("resolved"),
          () => void log.push("rejected"),
        ),
      );
    }
    await a.shutdown().then(() => log.push("shutdown"));
    await Promise.all(publishes);
    assert.deepStrictEqual(log, [...Array<string>(count).fill("resolved"), "shutdown"]);
    const received = await inbox.waitFor(count);
    assert.deepStrictEqual(
      rooms(received),
      Array.from({ length: count }, (_, index) => `r${index}`),
    );
  });

  test("subscribe validates its arguments", async () => {
    const a = await node({ prefix: randomPrefix(), nodeId: "a" });
    // deno-lint-ignore no-explicit-any
    const loose = a as any;
    await assert.rejects(loose.subscribe("NOPE", () => {}), MessageValidationError);
    await assert.rejects(loose.subscribe("JOIN", "not a function"), TypeError);
    if (a.publishMode !== PublishMode.RELIABLE) {
      await assert.rejects(a.subscribe("JOIN", () => {}, { fromOffset: "1" }), TypeError);
    }
  });

  for (const mode of MODES) {
    test(`[${mode}] reliable stores put offsets on messages and resume from one`, async () => {
      const prefix = randomPrefix();
      const a = await node({ prefix, mode, nodeId: "a" });
      if (a.publishMode !== PublishMode.RELIABLE) {
        // At-most-once stores carry no offsets: check that, which is their contract.
        const b = await node({ prefix, mode, nodeId: "b" });
        const inbox = await new Inbox().listen(b, "JOIN");
        const result = await a.publish("JOIN", join("x"));
        await inbox.waitFor(1);
        assert.equal(result.offset, undefined);
        assert.equal(inbox.messages[0]!.offset, undefined);
        return;
      }
      const b = await node({ prefix, mode, nodeId: "b" });
      const inbox = await new Inbox().listen(b, "JOIN");
      const results = [];
      for (const room of ["m1", "m2", "m3", "m4", "m5"]) {
        results.push(await a.publish("JOIN", join(room)));
      }
      await inbox.waitFor(5);
      const offsets = inbox.messages.map((message) => message.offset);
      assert.ok(
        offsets.every((offset) => typeof offset === "string" && offset.length > 0),
        `offsets ${offsets}`,
      );
      assert.deepStrictEqual(offsets, results.map((result) => result.offset));
      assert.equal(new Set(offsets).size, 5);
      const c = await node({ prefix, mode, nodeId: "c" });
      const resumed = new Inbox();
      await c.subscribe("JOIN", resumed.push, { fromOffset: offsets[1]! });
      await resumed.waitFor(3, "the three messages after m2");
      assert.deepStrictEqual(rooms(resumed.messages).slice(0, 3), ["m3", "m4", "m5"]);
      assert.deepStrictEqual(
        resumed.messages.slice(0, 3).map((message) => message.offset),
        offsets.slice(2),
      );
    });
  }
}

function offsetOf(message: EventMessage): { offset?: string } {
  return message.offset === undefined ? {} : { offset: message.offset };
}
