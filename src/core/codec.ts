/**
 * Codecs turn event messages into records on the wire and back. A record is bytes, or text where
 * the codec writes text ({@linkcode Codec.text}). Three codecs ship:
 *
 * - {@linkcode msgpackCodec}: MessagePack bytes, binary-safe and compact; the default on
 *   transports that carry bytes (NATS, Kafka, Hazelcast);
 * - {@linkcode hybridCodec}: JSON text for messages JSON carries exactly, MessagePack bytes for the
 *   others (binary values, for instance); the default on transports that carry text natively
 *   (Redis, memory), where text costs less than bytes;
 * - {@linkcode jsonCodec}: JSON text for everything, bytes as `{"$bin":"<base64>"}`; for interop
 *   and debugging.
 *
 * @module
 */

import { Decoder, Encoder, ExtData, ExtensionCodec } from "@msgpack/msgpack";
import { assertMsgpackLengths } from "./_msgpack_lengths.ts";
import { setOwnField } from "./_own_field.ts";
import { copyBytes } from "./byte_slab.ts";
import { ownJsonRecordTest, ownMsgpackRecordTest, type OwnRecordTest } from "./own_records.ts";
import { fromTaggedJson, toTaggedJson } from "./values.ts";

/** One encoded message: bytes, or text from a codec that writes text. */
export type WireRecord = Uint8Array | string;

/** Encodes messages to records and decodes records back to (unvalidated) values. */
export interface Codec {
  /** Short name, e.g. `msgpack` or `json`. */
  readonly name: string;
  /**
   * Whether `encode` may return text, and `decode` accepts it. A codec without it gets bytes
   * only: text that arrives anyway is handed over as its UTF-8 bytes. Either way `decode` must
   * accept the UTF-8 bytes of any text `encode` returns, since transports that carry only bytes
   * send text that way.
   */
  readonly text?: boolean;
  /**
   * Makes the test with which the event store of node `nodeId` recognises its own records
   * without decoding them (Pub/Sub hands a node's messages back to it, and it drops them). The
   * store writes `nodeId` as the last key of every message it publishes, so the test can look at
   * the record's end. It must never match the record of another node's message, which would be
   * lost; a record it does not match is decoded and filtered as usual. Without it, or when it
   * returns `undefined`, every record is decoded. The shipped codecs build theirs with
   * {@linkcode ownJsonRecordTest} and {@linkcode ownMsgpackRecordTest}.
   */
  ownRecordTest?(nodeId: string): OwnRecordTest | undefined;
  /**
   * Encodes one message. Text must be well-formed UTF-16 (no lone surrogates).
   *
   * @throws {TypeError} when the message holds something the codec cannot carry.
   */
  encode(message: Readonly<Record<string, unknown>>): WireRecord;
  /**
   * Decodes a record; the result is validated by the event store before any listener sees it.
   * Each call returns a value of its own, which the event store may change (it adds the
   * message's `offset`, for instance) rather than copy.
   *
   * @throws {Error} when the record is not a valid encoding.
   */
  decode(record: WireRecord): unknown;
}

/** A codec that always writes bytes, such as {@linkcode msgpackCodec}. */
export interface BytesCodec extends Codec {
  /** Encodes one message to bytes. */
  encode(message: Readonly<Record<string, unknown>>): Uint8Array;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** The UTF-8 bytes of a text record; bytes are returned as they are. */
export function recordBytes(record: WireRecord): Uint8Array {
  return typeof record === "string" ? utf8Encoder.encode(record) : record;
}

/** Text of UTF-8 bytes; throws a `TypeError` on bytes that are not valid UTF-8. */
export function utf8Text(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

/**
 * Size of a record on the wire in bytes (text as UTF-8). When `limit` is given, text that cannot
 * exceed it (at most 3 bytes per UTF-16 unit) is not measured and its length is returned.
 */
export function recordByteLength(record: WireRecord, limit = 0): number {
  if (typeof record !== "string") return record.byteLength;
  if (record.length * 3 <= limit) return record.length;
  let bytes = record.length;
  for (let index = 0; index < record.length; index++) {
    const unit = record.charCodeAt(index);
    if (unit >= 0x800 && (unit < 0xd800 || unit > 0xdfff)) bytes += 2;
    else if (unit >= 0x80) bytes += 1; // two-byte characters, and each half of a surrogate pair
  }
  return bytes;
}

/**
 * MessagePack extension type of an object that has an own field named `__proto__` (`JSON.parse`
 * makes one from a client's `{"__proto__": …}`): MessagePack decoders refuse that key in a map, so
 * such an object travels as this extension, its fields as a flat `[key, value, …]` array.
 */
const PROTO_OBJECT_EXTENSION = 0;

const PROTO_KEY = "__proto__";

/** How errors name a value that MessagePack would not carry as it is. */
function kindOf(value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof name !== "string" || name === "") return "an object with a prototype";
  return /^[AEIOU]/i.test(name) ? `an ${name}` : `a ${name}`;
}

/** The fields of an object with an own `__proto__` field, as the extension's flat array. */
function encodeFields(object: Record<string, unknown>, encoder: Encoder): Uint8Array {
  const entries: unknown[] = [];
  for (const field of Object.keys(object)) {
    if (object[field] !== undefined) entries.push(field, object[field]);
  }
  // The encoder is re-entrant: it encodes nested values with a clone of itself.
  return encoder.encode(entries);
}

/**
 * The extensions of {@linkcode createMsgpackCodec}. The encoder asks them about every object it
 * meets (after its own `Date` extension), which makes them the place to refuse what MessagePack
 * would change without a word: a `Map`, a `Set`, a class instance or an `ArrayBuffer` would arrive
 * as `{}` or a plain object, an `Int16Array` as its bytes.
 */
function protoObjectExtensions(): ExtensionCodec {
  const extensions = new ExtensionCodec();
  // For the fields of such an object; they see the extension once it is registered below.
  const encoder = new Encoder({ ignoreUndefined: true, extensionCodec: extensions });
  const decoder = new Decoder({ extensionCodec: extensions });
  extensions.register({
    type: PROTO_OBJECT_EXTENSION,
    encode(value) {
      // Called with objects only (the encoder asks about nothing else).
      const object = value as Record<string, unknown>;
      const proto = Object.getPrototypeOf(object);
      if (proto === Object.prototype || proto === null) {
        return Object.hasOwn(object, PROTO_KEY) ? encodeFields(object, encoder) : null;
      }
      if (proto === Array.prototype || Array.isArray(object)) return null;
      if (object instanceof Uint8Array || object instanceof ExtData) return null; // Node's Buffer too
      throw new TypeError(
        `${
          kindOf(object)
        } cannot travel as MessagePack unchanged: only plain objects, arrays, strings, numbers, booleans, null, Date and Uint8Array do`,
      );
    },
    decode(data) {
      assertMsgpackLengths(data);
      const entries = decoder.decode(data);
      if (!Array.isArray(entries) || entries.length % 2 !== 0) {
        throw new TypeError("malformed object extension: expected [key, value, …] pairs");
      }
      const out: Record<string, unknown> = {};
      for (let index = 0; index < entries.length; index += 2) {
        const field = entries[index];
        if (typeof field !== "string") {
          throw new TypeError(`a field name must be a string, received ${typeof field}`);
        }
        setOwnField(out, field, entries[index + 1]);
      }
      return out;
    },
  });
  return extensions;
}

/** Creates a MessagePack codec (`Uint8Array` travels as MessagePack `bin`). */
export function createMsgpackCodec(): BytesCodec {
  const extensions = protoObjectExtensions();
  // The encoder asks the extensions about every object it meets, which costs a prototype lookup.
  // The decoder consults them only for a record that holds an extension.
  const encoder = new Encoder({ ignoreUndefined: true, extensionCodec: extensions });
  const decoder = new Decoder({ extensionCodec: extensions });
  return {
    name: "msgpack",
    encode(message) {
      try {
        // The encoder's own buffer is reused by the next call: hand out a copy.
        return copyBytes(encoder.encodeSharedRef(message));
      } catch (error) {
        throw new TypeError(
          `message cannot be encoded as MessagePack: ${(error as Error).message}`,
          { cause: error },
        );
      }
    },
    decode(record) {
      const bytes = recordBytes(record);
      assertMsgpackLengths(bytes);
      return decoder.decode(bytes);
    },
    ownRecordTest(nodeId) {
      // The encoding of `{ nodeId }` without its map header: the key, then the id. A message
      // sent as the `__proto__` extension ends the same way: its field array ends with them.
      return ownMsgpackRecordTest(nodeId, encoder.encode({ nodeId }).subarray(1));
    },
  };
}

/** Creates a JSON codec (JSON text; bytes as `{"$bin":"<base64>"}`). */
export function createJsonCodec(): Codec {
  return {
    name: "json",
    text: true,
    encode(message) {
      return JSON.stringify(toTaggedJson(message));
    },
    ownRecordTest: ownJsonRecordTest,
    decode(record) {
      return fromTaggedJson(JSON.parse(typeof record === "string" ? record : utf8Text(record)));
    },
  };
}

/** MessagePack codec, the default on transports that carry bytes. */
export const msgpackCodec: BytesCodec = createMsgpackCodec();

/** JSON codec for interop and debugging. */
export const jsonCodec: Codec = createJsonCodec();
