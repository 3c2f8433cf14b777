/**
 * How event records travel on Redis. Stream entries, which both transports read and write, hold
 * the codec's bytes as standard base64 text: the REST client decodes replies as UTF-8, so an
 * entry written over TCP reads back identically over REST and the other way round. Pub/Sub is
 * TCP only and carries the bytes as they are, as a `Buffer` (the only binary argument node-redis
 * takes).
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
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): Uint8Array;
}
// The global Buffer of Node, Bun and Deno; absent on edge runtimes.
const NodeBuffer = (globalThis as { Buffer?: BufferClass }).Buffer;

/**
 * A `Buffer` view of `bytes` (no copy), for node-redis's binary arguments. Node, Bun and Deno
 * all have the global `Buffer` wherever node-redis runs.
 */
export function asBuffer(bytes: Uint8Array): Uint8Array {
  if (!NodeBuffer) {
    throw new TypeError("binary Redis arguments need the global Buffer of Node, Bun or Deno");
  }
  return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

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
    return NodeBuffer.from(text, "base64");
  }
  try {
    return nativeFrom ? nativeFrom(text) : base64ToBytes(text);
  } catch {
    return new TextEncoder().encode(text);
  }
}
