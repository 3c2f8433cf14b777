import assert from "node:assert/strict";
import {
  hybridCodec,
  isJsonExact,
  jsonCodec,
  msgpackCodec,
  recordByteLength,
} from "../../src/core/mod.ts";

const utf8 = new TextEncoder();

/** Messages JSON carries exactly, and how a MessagePack round trip sees them. */
const JSON_EXACT: Record<string, unknown>[] = [
  { type: "JOIN", nodeId: "n", sessionId: "s", namespace: "/", room: "lobby" },
  { type: "DISPATCH", packet: { data: ["chat", { text: "héllo 🌍", n: 1.5, ok: true }] } },
  { type: "DISPATCH", packet: { skipped: undefined, list: [undefined, null, -0, 0] } },
  { type: "DISPATCH", packet: Object.assign(Object.create(null), { bare: "prototype" }) },
  { type: "DISPATCH", packet: { "$bin": "not bytes", "__proto__x": 1, "": "" } },
];

/** Messages JSON would change, which must travel as MessagePack. */
const NOT_JSON_EXACT: Record<string, unknown>[] = [
  { type: "DISPATCH", packet: new Uint8Array([0, 1, 254, 255]) },
  { type: "DISPATCH", packet: { deep: [{ bytes: new Uint8Array([7]) }] } },
  { type: "DISPATCH", packet: { n: NaN, up: Infinity, down: -Infinity } },
  { type: "DISPATCH", packet: { at: new Date(1_700_000_000_000) } },
];

Deno.test("hybridCodec writes JSON text for messages JSON carries exactly", () => {
  for (const message of JSON_EXACT) {
    const record = hybridCodec.encode(message);
    assert.equal(typeof record, "string", JSON.stringify(message));
    assert.equal(record, JSON.stringify(message));
    assert.ok(isJsonExact(message));
  }
});

Deno.test("hybridCodec writes MessagePack bytes for messages JSON would change", () => {
  for (const message of NOT_JSON_EXACT) {
    const record = hybridCodec.encode(message);
    assert.ok(record instanceof Uint8Array);
    assert.notEqual(record[0], 0x7b, "MessagePack of a message never starts with {");
    assert.deepStrictEqual(hybridCodec.decode(record), message);
    assert.equal(isJsonExact(message), false);
  }
});

Deno.test("a hybridCodec round trip equals a msgpackCodec round trip, from text or bytes", () => {
  for (const message of [...JSON_EXACT, ...NOT_JSON_EXACT]) {
    const expected = msgpackCodec.decode(msgpackCodec.encode(message));
    const record = hybridCodec.encode(message);
    assert.deepStrictEqual({ ...hybridCodec.decode(record) as object }, { ...expected as object });
    // Transports that carry only bytes send the text as UTF-8.
    const bytes = typeof record === "string" ? utf8.encode(record) : record;
    assert.deepStrictEqual({ ...hybridCodec.decode(bytes) as object }, { ...expected as object });
  }
});

Deno.test("hybridCodec reads what msgpackCodec wrote (nodes on either codec interoperate)", () => {
  const message = { type: "LEAVE", nodeId: "n", sessionId: "s", namespace: "/", room: "r" };
  assert.deepStrictEqual(hybridCodec.decode(msgpackCodec.encode(message)), message);
});

Deno.test("hybridCodec rejects what it cannot carry, and records that are neither format", () => {
  const cyclic: Record<string, unknown> = { type: "DISPATCH" };
  cyclic.packet = { back: cyclic };
  assert.throws(() => hybridCodec.encode(cyclic), TypeError);
  assert.throws(() => hybridCodec.encode({ type: "DISPATCH", packet: 1n }), TypeError);
  assert.throws(() => hybridCodec.decode("{not json"), SyntaxError);
  assert.throws(() => hybridCodec.decode(new Uint8Array([0x7b, 0xff, 0xfe])), TypeError);
  assert.throws(() => hybridCodec.decode(new Uint8Array([0xc1])));
});

Deno.test("isJsonExact hands very deep nesting to MessagePack, which names the depth", () => {
  let deep: unknown = "leaf";
  for (let level = 0; level < 200; level++) deep = [deep];
  assert.equal(isJsonExact(deep), false);
  let shallow: unknown = "leaf";
  for (let level = 0; level < 60; level++) shallow = { next: shallow };
  assert.equal(isJsonExact(shallow), true);
  assert.equal(isJsonExact(() => {}), false);
  assert.equal(isJsonExact(Symbol("s")), false);
  assert.equal(isJsonExact(new Map()), false);
});

Deno.test("jsonCodec writes text and reads it back from text or UTF-8 bytes", () => {
  const message = { type: "DISPATCH", nodeId: "n", packet: { b: new Uint8Array([1, 2]), s: "é" } };
  const record = jsonCodec.encode(message);
  assert.equal(typeof record, "string");
  assert.deepStrictEqual(jsonCodec.decode(record), message);
  assert.deepStrictEqual(jsonCodec.decode(utf8.encode(record as string)), message);
});

Deno.test("msgpackCodec takes text as its UTF-8 bytes (and rejects JSON text)", () => {
  assert.throws(() => msgpackCodec.decode('{"type":"JOIN"}'));
  const bytes = msgpackCodec.encode({ type: "JOIN" });
  assert.deepStrictEqual(msgpackCodec.decode(bytes), { type: "JOIN" });
});

Deno.test("recordByteLength counts text as UTF-8", () => {
  for (const text of ["", "ascii", "é", "€uro", "🌍 and 🚀", "mixed é € 🌍 a"]) {
    assert.equal(recordByteLength(text), utf8.encode(text).byteLength, text);
  }
  assert.equal(recordByteLength(new Uint8Array(7)), 7);
  // Under a limit it cannot reach, text is not measured.
  assert.equal(recordByteLength("€€", 100), 2);
  assert.equal(recordByteLength("€€", 5), 6);
});

Deno.test("an own __proto__ field (as JSON.parse makes one) round-trips through every codec", () => {
  // What a socket.io server gets from a client's `{"__proto__": …}`: an own field, at the top and
  // nested, next to bytes (which send hybridCodec to MessagePack).
  const message = JSON.parse(
    '{"__proto__":{"top":true},"type":"DISPATCH","packet":["chat",{"__proto__":{"admin":true},"list":[{"__proto__":1}]}],"nodeId":"n1"}',
  );
  for (const withBytes of [false, true]) {
    const sent = withBytes ? { ...message, bytes: new Uint8Array([1, 2]) } : message;
    if (withBytes) {
      // The spread copies the own field; nodeId goes back to the end, as `publish` writes it.
      delete sent.nodeId;
      sent.nodeId = "n1";
    }
    for (const codec of [msgpackCodec, hybridCodec, jsonCodec]) {
      const label = `${codec.name}${withBytes ? " with bytes" : ""}`;
      const record = codec.encode(sent);
      const back = codec.decode(record) as Record<string, unknown>;
      const inner = (back.packet as [string, Record<string, unknown>])[1];
      for (const object of [back, inner, (inner.list as object[])[0]!]) {
        assert.ok(Object.hasOwn(object, "__proto__"), `${label}: own __proto__ field kept`);
        assert.equal(Object.getPrototypeOf(object), Object.prototype, `${label}: prototype kept`);
      }
      assert.equal(inner.admin, undefined, `${label}: nothing inherited from the field`);
      assert.deepStrictEqual(
        Object.getOwnPropertyDescriptor(inner, "__proto__")?.value,
        { admin: true },
        label,
      );
      assert.deepStrictEqual(Object.keys(back).at(-1), "nodeId", label);
      assert.equal(codec.ownRecordTest?.("n1")?.(record), true, `${label}: own record recognised`);
      assert.equal(codec.ownRecordTest?.("n2")?.(record), false, `${label}: not n2's`);
    }
  }
});

Deno.test("MessagePack headers that claim more entries than the record holds are refused before decoding", () => {
  // Each `dd 01 ff ff ff` claims 33,554,431 array items; the decoder used to allocate them all
  // (256 MiB per header) before finding the record empty: 15 bytes could exhaust the heap.
  const nested = new Uint8Array([0xdd, 1, 0xff, 0xff, 0xff, 0xdd, 1, 0xff, 0xff, 0xff, 0xdd, 1]);
  const cases = [
    new Uint8Array([0xdd, 1, 0xff, 0xff, 0xff]),
    nested,
    new Uint8Array([0xdc, 0xff, 0xff, 1, 2, 3]), // array 16 of 65,535 with 3 bytes left
    new Uint8Array([0xdf, 0, 1, 0, 0, 0xa1, 0x61]), // map 32 of 65,536 entries
    // Inside the nested values of a map: two arrays whose claims only fit one at a time.
    new Uint8Array([0x82, 0xa1, 0x61, 0xdc, 0, 3, 0xa1, 0x62, 0xdc, 0, 3, 1, 2, 3]),
  ];
  for (const record of cases) {
    for (const codec of [msgpackCodec, hybridCodec]) {
      assert.throws(() => codec.decode(record), /claims more entries than the \d+ byte\(s\) left/);
    }
  }
  // Large arrays and maps that are really there still decode.
  const big = {
    type: "DISPATCH",
    packet: { list: Array.from({ length: 70_000 }, (_, i) => i % 7) },
  };
  const wide = {
    type: "DISPATCH",
    packet: Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i])),
  };
  for (const message of [big, wide]) {
    assert.deepStrictEqual(msgpackCodec.decode(msgpackCodec.encode(message)), message);
  }
});

Deno.test("msgpackCodec refuses objects MessagePack would change (Map, Set, class instances, other typed arrays)", () => {
  class Point {
    constructor(readonly x: number) {}
  }
  const refused: [string, unknown][] = [
    ["Map", new Map([["a", 1]])],
    ["Set", new Set([1])],
    ["Point", new Point(1)],
    ["Int16Array", new Int16Array([1, 2])],
    ["ArrayBuffer", new ArrayBuffer(2)],
    ["RegExp", /x/],
    ["Number", new Number(3)],
  ];
  for (const [name, value] of refused) {
    for (const codec of [msgpackCodec, hybridCodec]) {
      assert.throws(
        () => codec.encode({ type: "DISPATCH", packet: { value } }),
        (error: unknown) =>
          error instanceof TypeError && new RegExp(`an? ${name} cannot travel`).test(error.message),
        name,
      );
    }
  }
  // What travels: plain and prototype-less objects, arrays, Uint8Array (Node's Buffer too), Date.
  const fine = {
    type: "DISPATCH",
    packet: {
      bare: Object.assign(Object.create(null), { a: 1 }),
      list: [1, "two", null],
      bytes: new Uint8Array([1, 2]),
      at: new Date(1_700_000_000_000),
    },
  };
  const decoded = msgpackCodec.decode(msgpackCodec.encode(fine)) as typeof fine;
  assert.deepStrictEqual(decoded.packet.bytes, new Uint8Array([1, 2]));
  assert.deepStrictEqual(decoded.packet.at, new Date(1_700_000_000_000));
  assert.deepStrictEqual({ ...decoded.packet.bare }, { a: 1 });
});
