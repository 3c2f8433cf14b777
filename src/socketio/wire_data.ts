/**
 * The copy of application data (broadcast arguments, `serverSideEmit` arguments and answers,
 * `socket.data`) that the adapter hands to the event store, taken when socket.io hands the data
 * over.
 *
 * @module
 */

import { setOwnField } from "../core/_own_field.ts";

/** Deeper than this, the value is handed over as it is (the codec names the depth it refuses). */
const MAX_DEPTH = 100;

/**
 * `value` as the other nodes must see it, copied now:
 *
 * - an `ArrayBuffer`, or a typed array other than `Uint8Array` (a `Float32Array`, a `DataView`),
 *   becomes a `Uint8Array` over its bytes: binary, as socket.io sends it (the codecs carry only
 *   `Uint8Array` as binary, and refuse the others);
 * - an object with a `toJSON()` method (not binary, not a `Date`, which the codecs carry as
 *   such) is replaced by what it returns, as socket.io's JSON and `@socket.io/redis-adapter` do
 *   (a class may hide fields there);
 * - arrays and other objects are copied (own enumerable fields, `__proto__` included), so that a
 *   caller who changes an object after `emit` — the adapter sends a tick's broadcasts together,
 *   a microtask later — does not change what the other nodes get;
 * - a function, a symbol or `undefined` is left out of an object and becomes `null` in an array,
 *   as in socket.io's JSON (an object's methods held as fields do not travel).
 *
 * Binary values are not copied: socket.io itself sends them as they are at send time.
 */
export function wireCopy(value: unknown): unknown {
  return copy(value, 0);
}

function copy(value: unknown, depth: number): unknown {
  if (typeof value === "function" || typeof value === "symbol") return undefined;
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof Uint8Array || value instanceof Date) return value;
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (depth >= MAX_DEPTH) return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
    return copy((value as { toJSON(): unknown }).toJSON(), depth + 1);
  }
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let index = 0; index < value.length; index++) {
      out[index] = copy(value[index], depth + 1) ?? null;
    }
    return out;
  }
  const record = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of Object.keys(record)) {
    const item = copy(record[field], depth + 1);
    if (item !== undefined) setOwnField(out, field, item);
  }
  return out;
}
