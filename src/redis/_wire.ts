/**
 * The one wire form of event records on Redis, shared by both transports: the codec's bytes as
 * standard base64 text. Redis over REST carries text only (the REST client decodes replies as
 * UTF-8, and Pub/Sub over server-sent events is line-based), so bytes are never written raw;
 * a record published over TCP reads back identically over REST and the other way round.
 *
 * @module
 */

import { base64ToBytes, bytesToBase64 } from "../core/mod.ts";

/** Stream entry field that holds the record. */
export const RECORD_FIELD = "d";

interface NativeBase64 {
  toBase64?: (this: Uint8Array) => string;
}
interface NativeFromBase64 {
  fromBase64?: (text: string) => Uint8Array;
}

// The built-in base64 of recent runtimes (Deno 2, Node 25, browsers) when present, else the
// core's portable one; both write and read standard padded base64.
const nativeTo = (Uint8Array.prototype as NativeBase64).toBase64;
const nativeFrom = (Uint8Array as NativeFromBase64).fromBase64;

interface BufferClass {
  from(text: string, encoding: "base64"): Uint8Array;
}
// The global Buffer of Node, Bun and Deno; absent on edge runtimes.
const NodeBuffer = (globalThis as { Buffer?: BufferClass }).Buffer;

/** Encodes a record for the wire. */
export function toWire(bytes: Uint8Array): string {
  return nativeTo ? nativeTo.call(bytes) : bytesToBase64(bytes);
}

/**
 * Decodes a record from the wire. Text that is not base64 (written by someone else) is passed on
 * as its UTF-8 bytes, so the event store reports it as an undecodable record instead of failing.
 */
export function fromWire(text: string): Uint8Array {
  if (NodeBuffer) {
    // About three times faster than Uint8Array.fromBase64 where both exist (Node, Bun, Deno). It
    // skips characters that are not base64 instead of throwing: such text then decodes to bytes
    // the codec rejects, and is reported as an undecodable record all the same.
    const bytes = NodeBuffer.from(text, "base64");
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  try {
    return nativeFrom ? nativeFrom(text) : base64ToBytes(text);
  } catch {
    return new TextEncoder().encode(text);
  }
}
