import assert from "node:assert/strict";
import {
  type Codec,
  hybridCodec,
  jsonCodec,
  MSGPACK_OWN_RECORD_ID_LIMIT,
  msgpackCodec,
  type WireRecord,
} from "../../src/core/mod.ts";

const utf8 = new TextEncoder();
const CODECS = [msgpackCodec, hybridCodec, jsonCodec] as const;

/** A record as an event store publishes it: the payload, then `type`, then `nodeId` last. */
function recordOf(codec: Codec, nodeId: string, packet: unknown = ["chat", "hi"]): WireRecord {
  return codec.encode({ namespace: "/", room: "r", packet, type: "DISPATCH", nodeId });
}

/** Ids of every UTF-8 shape and of lengths around the MessagePack string headers' limits. */
const IDS = [
  "a",
  "node-1",
  crypto.randomUUID(),
  "nœud-🌍",
  "x".repeat(31),
  "x".repeat(32),
  "é".repeat(20),
  "x".repeat(MSGPACK_OWN_RECORD_ID_LIMIT - 1),
];

/** Ids made to look like `id`'s record ending: `id` inside them, or its encoded key before it. */
function lookalikes(id: string): string[] {
  return [
    `${id}x`,
    `x${id}`,
    id.slice(1) || "b",
    `¦nodeId${id}`,
    `x¦nodeId${String.fromCharCode(0xa0 + utf8.encode(id).byteLength)}${id}`,
    `x¦nodeId\u0640${id}`,
    `","nodeId":${JSON.stringify(id)}`,
  ].filter((other) => other !== id);
}

Deno.test("own-record tests match a node's own records, whatever the payload", () => {
  for (const codec of CODECS) {
    for (const id of IDS) {
      const isOwn = codec.ownRecordTest?.(id);
      assert.ok(isOwn, `${codec.name} has a test for ${id}`);
      for (
        const packet of [
          ["chat", "hi"],
          { bytes: new Uint8Array([1, 2, 3]) },
          { nodeId: "other", text: `,"nodeId":"other"}` },
          "",
        ]
      ) {
        assert.ok(isOwn(recordOf(codec, id, packet)), `${codec.name}: ${id} ${String(packet)}`);
      }
    }
  }
});

Deno.test("own-record tests never match another node's record", () => {
  for (const codec of CODECS) {
    for (const id of IDS) {
      const isOwn = codec.ownRecordTest!(id)!;
      for (const other of [...IDS.filter((other) => other !== id), ...lookalikes(id)]) {
        const aEntry = msgpackCodec.encode({ nodeId: id }).subarray(1);
        for (const packet of [["chat", "hi"], { entry: aEntry, text: `,"nodeId":"${id}"}` }]) {
          const record = recordOf(codec, other, packet);
          assert.equal(isOwn(record), false, `${codec.name}: ${id} took ${other}'s record`);
          // Transports that carry bytes only send text as UTF-8.
          if (typeof record === "string") assert.equal(isOwn(utf8.encode(record)), false);
        }
      }
    }
  }
});

Deno.test("own-record tests never match records of random ids", () => {
  const alphabet = ["a", "¦nodeId", "\u00a6", "\u0640", "\u067f", "é", "字", "🌍", '"', "\\", ","];
  const randomId = () => {
    const length = 1 + Math.floor(Math.random() * 150);
    let id = "";
    while (id.length < length) id += alphabet[Math.floor(Math.random() * alphabet.length)];
    return id;
  };
  for (let round = 0; round < 2_000; round++) {
    const [id, other] = [randomId(), randomId()];
    if (id === other) continue;
    for (const codec of CODECS) {
      const isOwn = codec.ownRecordTest!(id);
      if (isOwn === undefined) continue;
      assert.equal(isOwn(recordOf(codec, other)), false, `${codec.name}: ${id} / ${other}`);
      assert.ok(isOwn(recordOf(codec, id)));
    }
  }
});

Deno.test("MessagePack has no own-record test for ids whose length header is valid UTF-8", () => {
  // 128 bytes: the string header is 0xd9 0x80, which is U+0640 in UTF-8. Another id can then end
  // with this id's whole key and header, and its record with this id's entry.
  const id = "a".repeat(MSGPACK_OWN_RECORD_ID_LIMIT);
  const other = `x¦nodeId\u0640${id}`;
  const entry = msgpackCodec.encode({ nodeId: id }).subarray(1);
  const othersRecord = msgpackCodec.encode({ type: "DISPATCH", nodeId: other });
  const tail = othersRecord.subarray(othersRecord.byteLength - entry.byteLength);
  assert.deepStrictEqual(tail, entry, "a suffix test would take the other node's record");
  assert.equal(msgpackCodec.ownRecordTest!(id), undefined);
  assert.equal(msgpackCodec.ownRecordTest!("é".repeat(95)), undefined);
  // hybridCodec keeps its JSON test, and decodes its MessagePack records.
  const isOwn = hybridCodec.ownRecordTest!(id)!;
  assert.ok(isOwn(recordOf(hybridCodec, id)));
  assert.equal(isOwn(recordOf(hybridCodec, id, new Uint8Array([1]))), false);
  assert.equal(
    isOwn(hybridCodec.encode({ type: "DISPATCH", nodeId: other, b: new Uint8Array() })),
    false,
  );
});
