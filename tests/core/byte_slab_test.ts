import assert from "node:assert/strict";
import { copyBytes, SLAB_COPY_LIMIT } from "../../src/core/byte_slab.ts";

Deno.test("copyBytes: copies are independent of the source and of each other", () => {
  const source = new Uint8Array(100);
  const copies: Uint8Array[] = [];
  // Enough copies to fill several slabs, in sizes that leave gaps at slab ends.
  for (let index = 0; index < 500; index++) {
    source.fill(index % 251);
    copies.push(copyBytes(source.subarray(0, 1 + (index % 97))));
  }
  source.fill(255);
  copies.forEach((copy, index) => {
    assert.equal(copy.byteLength, 1 + (index % 97));
    assert.ok(copy.every((byte) => byte === index % 251), `copy ${index} was overwritten`);
    assert.equal(copy.byteOffset % 8, 0);
  });
});

Deno.test("copyBytes: a large copy gets a buffer of its own", () => {
  const large = new Uint8Array(SLAB_COPY_LIMIT + 1).fill(7);
  const copy = copyBytes(large);
  assert.deepEqual(copy, large);
  assert.notEqual(copy.buffer, large.buffer);
  assert.equal(copy.byteOffset, 0);
  assert.equal(copy.buffer.byteLength, SLAB_COPY_LIMIT + 1);
});

Deno.test("copyBytes: an empty input gives an empty copy", () => {
  assert.equal(copyBytes(new Uint8Array(0)).byteLength, 0);
});
