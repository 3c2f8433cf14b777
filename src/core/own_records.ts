/**
 * Tests that recognise a node's own records without decoding them. Pub/Sub backends hand every
 * message back to its sender too, which drops it; decoding it first would be wasted work. An
 * event store writes `nodeId` as the last key of every message it publishes, so a record of its
 * own ends with that key and the node's id in the codec's encoding, and a suffix test finds it.
 *
 * A test must never match a record of another node's message: that message would be lost. A
 * record it does not match is decoded and filtered by its `nodeId` as usual, so a miss (a record
 * whose `nodeId` is not last, written by another program) costs only the decoding.
 *
 * @module
 */

import type { WireRecord } from "./codec.ts";

/** Tells whether a record is one of this node's own messages, without decoding it. */
export type OwnRecordTest = (record: WireRecord) => boolean;

const OPEN_BRACE = 0x7b;

/**
 * Node ids of this many UTF-8 bytes or more get no MessagePack test (see
 * {@linkcode ownMsgpackRecordTest}).
 */
export const MSGPACK_OWN_RECORD_ID_LIMIT = 128;

const utf8 = new TextEncoder();

function endsWith(record: Uint8Array, suffix: Uint8Array): boolean {
  const start = record.byteLength - suffix.byteLength;
  if (start < 1) return false;
  for (let index = 0; index < suffix.byteLength; index++) {
    if (record[start + index] !== suffix[index]) return false;
  }
  return true;
}

/**
 * The test for JSON records (text, or its UTF-8 bytes): such a record of this node ends with
 * `,"nodeId":"<id>"}`. In JSON text that ending can only be the last member of the outermost
 * object: a `,` inside a string would be followed by the string's closing quote and then by
 * `nodeId`, which is not JSON. So a record that ends with it carries this node's id.
 *
 * @param nodeId this node's id.
 */
export function ownJsonRecordTest(nodeId: string): OwnRecordTest {
  const suffix = `,"nodeId":${JSON.stringify(nodeId)}}`;
  const suffixBytes = utf8.encode(suffix);
  return (record) => {
    if (typeof record === "string") {
      return record.charCodeAt(0) === OPEN_BRACE && record.endsWith(suffix);
    }
    return record[0] === OPEN_BRACE && endsWith(record, suffixBytes);
  };
}

/**
 * The test for MessagePack records: such a record of this node ends with its last map entry, the
 * key `nodeId` (`0xa6` and the 6 letters) and the id as a string (a header, then its UTF-8 bytes).
 *
 * The record of another node's message ends with that node's entry. For this node's entry to be
 * the tail of it, one of the two ids' UTF-8 bytes would have to hold a string header right after
 * the `d` of `nodeId`, or after another ASCII byte. Well-formed UTF-8 never has a continuation byte
 * (`0x80`–`0xbf`) after an ASCII byte, and the headers of strings of up to 31 bytes (`0xa0`–`0xbf`)
 * are continuation bytes. The header of a string of 32–255 bytes is `0xd9` and the length: a
 * valid UTF-8 pair only for lengths 128–191. So the test is sound for ids shorter than
 * {@linkcode MSGPACK_OWN_RECORD_ID_LIMIT} bytes, whatever the other ids are; for longer ids it
 * returns `undefined` and every record is decoded. (A record from another program whose last value
 * is bytes ending with this entry would be dropped too; no record of an event store ends so.)
 *
 * @param nodeId this node's id.
 * @param entry the MessagePack encoding of the key `nodeId` followed by `nodeId` itself, as the
 *   codec writes them (the encoding of `{ nodeId }` without its map header).
 */
export function ownMsgpackRecordTest(
  nodeId: string,
  entry: Uint8Array,
): OwnRecordTest | undefined {
  if (utf8.encode(nodeId).byteLength >= MSGPACK_OWN_RECORD_ID_LIMIT) return undefined;
  return (record) => typeof record !== "string" && endsWith(record, entry);
}
