import assert from "node:assert/strict";
import { decodeValue, encodeValue, MAX_VALUE_DEPTH } from "../../src/core/values.ts";

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

Deno.test("encodeValue reports cycles, near and deep, and stores deep values that have none", () => {
  const near: Record<string, unknown> = { a: 1 };
  near.self = near;
  assert.throws(
    () => encodeValue("k", near),
    (error: unknown) =>
      error instanceof TypeError &&
      /key "k" contains a circular reference at self/.test(error.message),
  );
  // Deeper than the untracked walk goes: the value is walked again, tracking the path.
  let deep: Record<string, unknown> = { leaf: true };
  for (let level = 0; level < 150; level++) deep = { next: deep };
  assert.deepStrictEqual(decodeValue(encodeValue("k", deep)), deep);
  let tail: Record<string, unknown> = {};
  const root: Record<string, unknown> = { next: tail };
  for (let level = 0; level < 120; level++) {
    const next = {};
    tail.next = next;
    tail = next;
  }
  tail.back = root;
  assert.throws(
    () => encodeValue("k", root),
    (error: unknown) =>
      error instanceof TypeError && /circular reference at next\.next/.test(error.message),
  );
  // The same object twice (no cycle) is fine.
  const shared = { x: 1 };
  assert.deepStrictEqual(decodeValue(encodeValue("k", { a: shared, b: [shared] })), {
    a: { x: 1 },
    b: [{ x: 1 }],
  });
});

Deno.test("a stored value's own __proto__ field round-trips, beside $-keys and bytes", () => {
  // JSON.parse makes `__proto__` an own field. Copying it by assignment would set the copy's
  // prototype instead, where the runtime has that setter (Node, Bun).
  const value = JSON.parse('{"__proto__":{"admin":true},"$x":1,"n":2}');
  value.bytes = new Uint8Array([1, 2]);
  const text = encodeValue("k", value);
  const back = decodeValue(text) as Record<string, unknown>;
  assert.deepStrictEqual(Object.keys(back), ["__proto__", "$x", "n", "bytes"]);
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
  assert.equal(back.admin, undefined);
  assert.deepStrictEqual(Object.getOwnPropertyDescriptor(back, "__proto__")?.value, {
    admin: true,
  });
  // What another node (on any runtime) wrote comes back the same way.
  const written = '{"__proto__":{"admin":true},"$$x":1}';
  const read = decodeValue(written) as Record<string, unknown>;
  assert.deepStrictEqual(Object.keys(read), ["__proto__", "$x"]);
  assert.equal(read.admin, undefined);
});

Deno.test("encodeValue refuses, naming the key, what JSON would turn into something else or cannot walk", () => {
  class List extends Array<number> {}
  const refused: [unknown, RegExp][] = [
    [Object.assign([1], { toJSON: () => "swapped" }), /an array with its own toJSON/],
    [{ list: List.from([1, 2]) }, /an instance of List at list/],
  ];
  let deep: unknown = 1;
  for (let level = 0; level <= MAX_VALUE_DEPTH; level++) deep = [deep];
  refused.push([{ deep }, /nesting deeper than 1000 levels at deep(\.0)+; flatten the value/]);
  for (const [value, message] of refused) {
    assert.throws(
      () => encodeValue("k", value),
      (error: unknown) =>
        error instanceof TypeError && /value for key "k" contains /.test(error.message) &&
        message.test(error.message),
      String(message),
    );
  }
  // As deep as allowed is stored.
  let allowed: unknown = 1;
  for (let level = 0; level < MAX_VALUE_DEPTH - 1; level++) allowed = [allowed];
  assert.deepStrictEqual(decodeValue(encodeValue("k", { allowed })), { allowed });
});
