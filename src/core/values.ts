/**
 * Store values and names: what may be stored, how it is checked, and the one text encoding every
 * storage backend writes (so data written through one backend transport reads back identically
 * through another).
 *
 * The encoding is JSON with two escapes: a `Uint8Array` becomes `{"$bin":"<base64>"}`, and an
 * object key that starts with `$` gets one more `$`, so no user object can be mistaken for bytes.
 *
 * @module
 */

import { setOwnField } from "./_own_field.ts";
import { base64ToBytes, bytesToBase64 } from "./base64.ts";

/** A JSON-like value, `Uint8Array` included, that a store can hold (nested `null` is allowed). */
export type StoreValue =
  | string
  | number
  | boolean
  | null
  | Uint8Array
  | readonly StoreValue[]
  | { readonly [key: string]: StoreValue | undefined };

/** Longest session id, store key or map name accepted, in UTF-16 code units. */
export const MAX_NAME_LENGTH = 4096;

/** Largest encoded store value accepted, in UTF-16 code units of its text form (16 MiB). */
export const MAX_VALUE_LENGTH = 16 * 1024 * 1024;

const BYTES_TAG = "$bin";

/**
 * Checks a session id, key or map name: a well-formed, non-empty string of at most
 * {@linkcode MAX_NAME_LENGTH} code units. Any character is allowed (`:`, `*`, `{`, spaces,
 * unicode).
 *
 * @param what how to name it in the error, e.g. `session id` or `key`.
 * @throws {TypeError} for a non-string, an empty string or a lone surrogate.
 * @throws {RangeError} for an over-long string.
 */
export function assertName(what: string, name: unknown): asserts name is string {
  if (typeof name !== "string") {
    throw new TypeError(
      `${what} must be a string, received ${
        typeof name === "object" ? (name === null ? "null" : "an object") : typeof name
      }`,
    );
  }
  if (name === "") throw new TypeError(`${what} must not be empty`);
  if (name.length > MAX_NAME_LENGTH) {
    throw new RangeError(
      `${what} is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`,
    );
  }
  if (!name.isWellFormed()) {
    throw new TypeError(
      `${what} ${JSON.stringify(name.slice(0, 40))} contains a lone surrogate (not valid Unicode)`,
    );
  }
}

/** Raised deep inside a value; each enclosing level adds its key to `path` on the way out. */
class Unstorable {
  readonly path: (string | number)[] = [];
  constructor(readonly problem: string, readonly advice: string) {}
}

/**
 * Nesting depth up to which a value is walked without cycle tracking: a cycle shows as a walk
 * that goes deeper, and the value is then walked again with a `Set` of the objects on the path.
 */
const UNTRACKED_DEPTH = 100;
const TOO_DEEP_UNTRACKED = Symbol("deeper than UNTRACKED_DEPTH");
/**
 * Deepest nesting a stored value may have: deeper, the walk (and `JSON.stringify`) would run out
 * of stack, with an error that names no key.
 */
export const MAX_VALUE_DEPTH = 1_000;

function descend(
  step: string | number,
  item: unknown,
  seen: Set<object> | undefined,
  depth: number,
): unknown {
  if (typeof item === "string" || typeof item === "boolean") return item;
  try {
    return toJsonSafe(item, seen, depth);
  } catch (error) {
    if (error instanceof Unstorable) error.path.unshift(step);
    throw error;
  }
}

// The happy path builds no path arrays: the path of a problem is assembled only while the
// Unstorable it raised unwinds.
function toJsonSafe(value: unknown, seen: Set<object> | undefined, depth: number): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) {
        throw new Unstorable(`${value}`, "only finite numbers can be stored");
      }
      return value;
    case "object":
      break;
    default:
      throw new Unstorable(`a ${typeof value}`, "it cannot be stored");
  }
  if (value === null) return null;
  if (value instanceof Uint8Array) return { [BYTES_TAG]: bytesToBase64(value) };
  if (seen) {
    if (seen.has(value)) throw new Unstorable("a circular reference", "it cannot be stored");
    if (depth > MAX_VALUE_DEPTH) {
      throw new Unstorable(
        `nesting deeper than ${MAX_VALUE_DEPTH} levels`,
        "flatten the value",
      );
    }
    seen.add(value);
  } else if (depth > UNTRACKED_DEPTH) throw TOO_DEEP_UNTRACKED;
  try {
    // Copy on write: a part that needs no tagging is returned as it is, so that the common value
    // (no bytes, no "$" key) is checked without being copied.
    if (Array.isArray(value)) {
      // JSON would call an array's own toJSON, and a subclass would come back a plain array.
      if (Object.getPrototypeOf(value) !== Array.prototype || Object.hasOwn(value, "toJSON")) {
        const name = Object.hasOwn(value, "toJSON")
          ? "an array with its own toJSON"
          : `an instance of ${Object.getPrototypeOf(value)?.constructor?.name ?? "unknown"}`;
        throw new Unstorable(name, "only plain objects, arrays and Uint8Array can be stored");
      }
      let out: unknown[] | undefined;
      for (let index = 0; index < value.length; index++) {
        const item = value[index];
        if (item === undefined) {
          const problem = new Unstorable("undefined", "use null in arrays");
          problem.path.push(index);
          throw problem;
        }
        const safe = descend(index, item, seen, depth + 1);
        if (safe !== item) out ??= value.slice(0, index);
        if (out) out[index] = safe;
      }
      return out ?? value;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const name = proto?.constructor?.name ?? "unknown";
      throw new Unstorable(
        `an instance of ${name}`,
        "only plain objects, arrays and Uint8Array can be stored",
      );
    }
    const record = value as Record<string, unknown>;
    const fields = Object.keys(record);
    let out: Record<string, unknown> | undefined;
    for (let index = 0; index < fields.length; index++) {
      const field = fields[index]!;
      const item = record[field];
      // JSON leaves out undefined members, copied or not.
      if (item === undefined) continue;
      const safe = descend(field, item, seen, depth + 1);
      const escaped = field.charCodeAt(0) === 36; /* $ */
      if ((safe !== item || escaped) && !out) {
        out = {};
        for (const earlier of fields.slice(0, index)) setOwnField(out, earlier, record[earlier]);
      }
      if (out) setOwnField(out, escaped ? `$${field}` : field, safe);
    }
    return out ?? value;
  } finally {
    seen?.delete(value);
  }
}

function checkedJsonSafe(key: string, value: unknown): unknown {
  try {
    try {
      return toJsonSafe(value, undefined, 0);
    } catch (error) {
      if (error !== TOO_DEEP_UNTRACKED) throw error;
      return toJsonSafe(value, new Set(), 0);
    }
  } catch (error) {
    if (!(error instanceof Unstorable)) throw error;
    const at = error.path.length === 0 ? "" : ` at ${error.path.join(".")}`;
    throw new TypeError(
      `value for key ${JSON.stringify(key)} contains ${error.problem}${at}; ${error.advice}`,
    );
  }
}

function fromJsonSafe(value: unknown): StoreValue {
  if (typeof value !== "object" || value === null) return value as StoreValue;
  if (Array.isArray(value)) return value.map(fromJsonSafe);
  const record = value as Record<string, unknown>;
  const fields = Object.keys(record);
  if (fields.length === 1 && fields[0] === BYTES_TAG && typeof record[BYTES_TAG] === "string") {
    return base64ToBytes(record[BYTES_TAG]);
  }
  const out: Record<string, StoreValue> = {};
  for (const field of fields) {
    setOwnField(out, field.startsWith("$$") ? field.slice(1) : field, fromJsonSafe(record[field]));
  }
  return out;
}

/**
 * Checks and encodes a value for storage under `key`.
 *
 * @throws {TypeError} for `undefined`/`null` or a value that cannot be stored (function, symbol,
 * bigint, cycle, class instance, non-finite number); the message names the key and the path.
 * @throws {RangeError} when the encoded value exceeds {@linkcode MAX_VALUE_LENGTH}.
 */
export function encodeValue(key: string, value: unknown): string {
  if (value === undefined || value === null) {
    throw new TypeError(
      `value for key ${JSON.stringify(key)} must not be ${value}; use del(key) to remove it`,
    );
  }
  const text = JSON.stringify(checkedJsonSafe(key, value));
  if (text.length > MAX_VALUE_LENGTH) {
    throw new RangeError(
      `value for key ${
        JSON.stringify(key)
      } encodes to ${text.length} characters; the limit is ${MAX_VALUE_LENGTH}`,
    );
  }
  return text;
}

/**
 * Decodes a value written by {@linkcode encodeValue}.
 *
 * @throws {TypeError} if `text` was not written by `encodeValue` (the backend holds foreign data).
 */
export function decodeValue(text: string): StoreValue {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TypeError(
      `stored value is not in this library's encoding: ${JSON.stringify(text.slice(0, 40))}`,
      { cause: error },
    );
  }
  // Tagged bytes and escaped keys both start with "$": text without a quote followed by "$" (or
  // an escaped "$") holds neither, and the parsed value is already the stored one.
  if (!text.includes('"$') && !text.includes("\\u0024")) return parsed as StoreValue;
  return fromJsonSafe(parsed);
}

/** Converts a value to the JSON-safe form of {@linkcode encodeValue} without stringifying it. */
export function toTaggedJson(value: unknown): unknown {
  return checkedJsonSafe("(message)", value);
}

/** Reverses {@linkcode toTaggedJson}. */
export function fromTaggedJson(value: unknown): unknown {
  return fromJsonSafe(value);
}
