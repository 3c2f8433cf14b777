/**
 * Small copies carved out of shared slabs. Allocating an `ArrayBuffer` per encoded message costs
 * more than encoding a small message; like Node's `Buffer` pool, copies of up to
 * {@linkcode SLAB_COPY_LIMIT} bytes are views into one 8 KiB slab until it is full. A view keeps
 * its slab alive while it lives, so at most 8 KiB is held per live small message.
 *
 * @module
 */

const SLAB_BYTES = 8 * 1024;

/** Copies larger than this many bytes get a buffer of their own. */
export const SLAB_COPY_LIMIT = 1024;

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

/**
 * An independent copy of `bytes` (later changes to `bytes` do not show in it), as a view into a
 * shared slab when small.
 */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  const length = bytes.byteLength;
  if (length > SLAB_COPY_LIMIT) return bytes.slice();
  if (used + length > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const copy = new Uint8Array(slab, used, length);
  copy.set(bytes);
  // Keep views 8-byte aligned, as a fresh buffer would be.
  used += (length + 7) & ~7;
  return copy;
}
