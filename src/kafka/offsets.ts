/**
 * The offset text of a Kafka record, `<partition>:<offset>`, and its parsing; the position of a
 * reader in a topic of several partitions, `<partition>:<offset>,<partition>:<offset>,…`.
 *
 * @module
 */

import { describeValue } from "../core/mod.ts";

/** A parsed `<partition>:<offset>`. */
export interface KafkaPosition {
  /** Partition number. */
  readonly partition: number;
  /**
   * Offset of the record within the partition; in a position ({@linkcode parsePositions}), `-1`
   * stands for "before the first record".
   */
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

const POSITION_PATTERN = /^(\d{1,9}):(-1|\d{1,19})$/;

/**
 * Parses a reader's position in a topic: one `<partition>:<offset>` per partition, separated by
 * commas (`"0:3,1:5"`), in any order, each partition at most once. An offset is the last record
 * read in its partition, or `-1` for none (read the partition from its first record). A single
 * `<partition>:<offset>`, as found on a delivered message, is a position of one partition.
 *
 * @returns the entries, in the order written.
 * @throws {TypeError} when the text is not such a list, or names a partition twice.
 */
export function parsePositions(text: unknown): KafkaPosition[] {
  const entries = typeof text === "string" ? text.split(",") : [undefined];
  const positions: KafkaPosition[] = [];
  const seen = new Set<number>();
  for (const entry of entries) {
    const match = entry === undefined ? null : POSITION_PATTERN.exec(entry);
    const partition = match ? Number(match[1]) : -1;
    if (!match || seen.has(partition)) {
      throw new TypeError(
        `a Kafka position is "<partition>:<offset>" (as found on a delivered message) or a list of them, one per partition, separated by commas ("0:3,1:5"; offset -1 for "before the first record"), received ${
          describeValue(text)
        }${match ? ` (partition ${partition} is named twice)` : ""}`,
      );
    }
    seen.add(partition);
    positions.push({ partition, offset: BigInt(match[2]!) });
  }
  return positions;
}

/**
 * The position text of the last records read, by partition (`"0:3,1:5"`): partitions without an
 * entry (`undefined`) are left out.
 */
export function formatPositions(lastByPartition: readonly (bigint | undefined)[]): string {
  const texts: string[] = [];
  for (let partition = 0; partition < lastByPartition.length; partition++) {
    const last = lastByPartition[partition];
    if (last !== undefined) texts.push(formatOffset(partition, last));
  }
  return texts.join(",");
}
