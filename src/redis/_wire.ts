/**
 * How event records travel on Redis: always as text, so that Pub/Sub subscribers read plain
 * strings and stream entries read back identically over TCP and REST (the REST client decodes
 * replies as UTF-8).
 *
 * - A text record that starts with `{` (the JSON text of the default codec) travels as it is.
 * - Any other record travels as standard base64 of its bytes (text as UTF-8). Base64 never starts
 *   with `{`, so a reader tells the two apart by the first character.
 *
 * @module
 */

import { base64ToBytes, bytesToBase64, recordBytes, type WireRecord } from "../core/mod.ts";

/** Stream entry field that holds the record. */
export const RECORD_FIELD = "d";

const OPEN_BRACE = 0x7b;

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

/** Encodes a record for Redis. */
export function toWire(record: WireRecord): string {
  if (typeof record === "string" && record.charCodeAt(0) === OPEN_BRACE) return record;
  const bytes = recordBytes(record);
  return nativeTo ? nativeTo.call(bytes) : bytesToBase64(bytes);
}

/**
 * Decodes a record from Redis: text that starts with `{` as it is, anything else as base64.
 * Text that is neither (written by someone else) becomes bytes all the same, which the codec then
 * rejects: the event store reports an undecodable record instead of failing.
 */
export function fromWire(text: string): WireRecord {
  if (text.charCodeAt(0) === OPEN_BRACE) return text;
  if (NodeBuffer) {
    // About three times faster than Uint8Array.fromBase64 where both exist (Node, Bun, Deno). It
    // skips characters that are not base64 instead of throwing.
    return NodeBuffer.from(text, "base64");
  }
  try {
    return nativeFrom ? nativeFrom(text) : base64ToBytes(text);
  } catch {
    return new TextEncoder().encode(text);
  }
}
