/**
 * Codecs turn event messages into bytes on the wire and back. The default,
 * {@linkcode msgpackCodec}, is binary-safe and compact; {@linkcode jsonCodec} is for interop and
 * debugging (bytes travel as `{"$bin":"<base64>"}`).
 *
 * @module
 */

import { Decoder, Encoder } from "@msgpack/msgpack";
import { copyBytes } from "./byte_slab.ts";
import { fromTaggedJson, toTaggedJson } from "./values.ts";

/** Encodes messages to bytes and decodes bytes back to (unvalidated) values. */
export interface Codec {
  /** Short name, e.g. `msgpack` or `json`. */
  readonly name: string;
  /**
   * Encodes one message.
   *
   * @throws {TypeError} when the message holds something the codec cannot carry.
   */
  encode(message: Readonly<Record<string, unknown>>): Uint8Array;
  /**
   * Decodes bytes; the result is validated by the event store before any listener sees it.
   *
   * @throws {Error} when the bytes are not a valid encoding.
   */
  decode(bytes: Uint8Array): unknown;
}

/** Creates a MessagePack codec (`Uint8Array` travels as MessagePack `bin`). */
export function createMsgpackCodec(): Codec {
  const encoder = new Encoder({ ignoreUndefined: true });
  const decoder = new Decoder();
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
    decode(bytes) {
      return decoder.decode(bytes);
    },
  };
}

/** Creates a JSON codec (UTF-8 JSON; bytes as `{"$bin":"<base64>"}`). */
export function createJsonCodec(): Codec {
  const textEncoder = new TextEncoder();
  const textDecoder = new TextDecoder("utf-8", { fatal: true });
  return {
    name: "json",
    encode(message) {
      return textEncoder.encode(JSON.stringify(toTaggedJson(message)));
    },
    decode(bytes) {
      return fromTaggedJson(JSON.parse(textDecoder.decode(bytes)));
    },
  };
}

/** The default codec: MessagePack. */
export const msgpackCodec: Codec = createMsgpackCodec();

/** JSON codec for interop and debugging. */
export const jsonCodec: Codec = createJsonCodec();
