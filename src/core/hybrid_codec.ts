/**
 * {@linkcode hybridCodec}: JSON text where JSON carries a message exactly, MessagePack otherwise.
 *
 * @module
 */

import { type Codec, createMsgpackCodec, utf8Text } from "./codec.ts";
import { ownJsonRecordTest } from "./own_records.ts";

/** Nesting deeper than this goes to MessagePack, which reports cycles. */
const MAX_JSON_DEPTH = 64;

/** `{`: JSON text of a message starts with it; MessagePack never does (it would be the integer 123). */
const OPEN_BRACE = 0x7b;

/**
 * Whether `JSON.parse(JSON.stringify(value))` gives back the same value as a MessagePack round
 * trip: plain objects and arrays of strings, finite numbers, booleans, `null` and `undefined`
 * (dropped from objects and `null` in arrays, by both; `-0` becomes `0` in both).
 */
export function isJsonExact(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "undefined":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object": {
      if (value === null) return true;
      if (depth >= MAX_JSON_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let index = 0; index < value.length; index++) {
          if (!isJsonExact(value[index], depth + 1)) return false;
        }
        return true;
      }
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) return false;
      for (const key in value) {
        if (!isJsonExact((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/**
 * Creates a hybrid codec: a message that JSON carries exactly ({@linkcode isJsonExact}) is
 * encoded as JSON text, any other (binary values, `NaN`, a `Date`…) as MessagePack bytes. It
 * decodes both, from text or from bytes: JSON text starts with `{`, which MessagePack bytes of a
 * message never do.
 *
 * Text is what Redis clients and in-process buses move fastest, and what a raw client would
 * publish; MessagePack keeps `Uint8Array` values intact.
 *
 * @example
 * ```ts
 * import { hybridCodec } from "@socketio4ts/stores";
 *
 * hybridCodec.encode({ type: "JOIN", room: "lobby" }); // '{"type":"JOIN","room":"lobby"}'
 * hybridCodec.encode({ type: "DISPATCH", packet: new Uint8Array([1]) }); // MessagePack bytes
 * ```
 */
export function createHybridCodec(): Codec {
  const msgpack = createMsgpackCodec();
  return {
    name: "hybrid",
    text: true,
    encode(message) {
      return isJsonExact(message) ? JSON.stringify(message) : msgpack.encode(message);
    },
    decode(record) {
      if (typeof record === "string") return JSON.parse(record);
      return record[0] === OPEN_BRACE ? JSON.parse(utf8Text(record)) : msgpack.decode(record);
    },
    ownRecordTest(nodeId) {
      const ownJson = ownJsonRecordTest(nodeId);
      const ownMsgpack = msgpack.ownRecordTest!(nodeId);
      if (ownMsgpack === undefined) return ownJson;
      return (record) =>
        typeof record === "string" || record[0] === OPEN_BRACE
          ? ownJson(record)
          : ownMsgpack(record);
    },
  };
}

/** The hybrid codec, the default on transports that carry text natively (Redis, memory). */
export const hybridCodec: Codec = createHybridCodec();
