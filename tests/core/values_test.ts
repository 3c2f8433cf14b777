import assert from "node:assert/strict";
import { decodeValue, encodeValue } from "../../src/core/values.ts";

Deno.test("decodeValue returns plain JSON as parsed, and restores bytes and $-keys", () => {
  const plain = { user: "ada", rooms: ["a", "b"], n: 1.5, nested: { ok: true, price: "$5" } };
  assert.deepStrictEqual(decodeValue(encodeValue("k", plain)), plain);
  const tagged = {
    avatar: new Uint8Array([0, 1, 254, 255]),
    $bin: "not bytes",
    $$x: [1, { $y: new Uint8Array([7]) }],
  };
  const text = encodeValue("k", tagged);
  assert.deepStrictEqual(decodeValue(text), tagged);
});

Deno.test("decodeValue reads a tag whose $ another JSON writer escaped as \\u0024", () => {
  assert.deepStrictEqual(decodeValue('{"a":{"\\u0024bin":"AAH+/w=="}}'), {
    a: new Uint8Array([0, 1, 254, 255]),
  });
});

Deno.test("encodeValue tags only what needs it and never changes the caller's value", () => {
  const value = {
    first: "plain",
    skipped: undefined,
    list: [1, "two", { deep: new Uint8Array([9]) }],
    later: { $money: 5, plain: [true] },
  };
  const before = structuredClone(value);
  const text = encodeValue("k", value);
  assert.deepStrictEqual(value, before);
  assert.deepStrictEqual(JSON.parse(text), {
    first: "plain",
    list: [1, "two", { deep: { $bin: "CQ==" } }],
    later: { $$money: 5, plain: [true] },
  });
  const { skipped: _, ...expected } = value;
  assert.deepStrictEqual(decodeValue(text), expected);
});
