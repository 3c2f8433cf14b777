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
  // A number prints in about half the time of a bigint.
  return offset <= MAX_SAFE ? `${partition}:${Number(offset)}` : `${partition}:${offset}`;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The offset texts of `count` consecutive records from `base`, without a bigint per record
 * (offsets stay far below 2^53 in practice; larger ones take the bigint path).
 */
export function formatOffsets(partition: number, base: bigint, count: number): string[] {
  const texts = new Array<string>(count);
  if (base + BigInt(count) <= MAX_SAFE) {
    const first = Number(base);
    for (let index = 0; index < count; index++) texts[index] = `${partition}:${first + index}`;
  } else {
    for (let index = 0; index < count; index++) {
      texts[index] = formatOffset(partition, base + BigInt(index));
    }
  }
  return texts;
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
