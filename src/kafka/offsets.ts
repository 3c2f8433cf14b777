/**
 * The offset text of a Kafka record, `<partition>:<offset>`, and its parsing.
 *
 * @module
 */

import { describeValue } from "../core/mod.ts";

/** A parsed `<partition>:<offset>`. */
export interface KafkaPosition {
  /** Partition number. */
  readonly partition: number;
  /** Offset of the record within the partition. */
  readonly offset: bigint;
}

/** Formats the offset text of a record. */
export function formatOffset(partition: number, offset: bigint): string {
  return `${partition}:${offset}`;
}

const OFFSET_PATTERN = /^(\d{1,9}):(\d{1,19})$/;

/**
 * Parses an offset text produced by {@linkcode formatOffset}.
 *
 * @throws {TypeError} when the text is not `<partition>:<offset>`.
 */
export function parseOffset(text: unknown): KafkaPosition {
  const match = typeof text === "string" ? OFFSET_PATTERN.exec(text) : null;
  if (!match) {
    throw new TypeError(
      `a Kafka offset is "<partition>:<offset>" (as found on a delivered message), received ${
        describeValue(text)
      }`,
    );
  }
  return { partition: Number(match[1]), offset: BigInt(match[2]!) };
}
