/**
 * The serialized producer path of one channel: records queue up while a produce request is in
 * flight and leave together in the next request, so a channel has at most one request in flight
 * and its order is kept even for concurrent, un-awaited publishes. Batches are bounded in records
 * and bytes. An idle channel sends once the current synchronous run is over, so that a loop of
 * publishes makes one request; `lingerMs` waits longer for more records. A batch the broker
 * refuses as too large is sent again in halves, down to single records.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { BackendError, type PublishResult } from "../core/mod.ts";
import { formatOffsets } from "./offsets.ts";
import type { KafkaProducer } from "./options.ts";
import { describe, PARTITION_CHECK_MS } from "./topics.ts";

/**
 * Most bytes a record of ours takes in a record batch besides its value: its length (5), its
 * attributes (1), timestamp delta (up to 10), offset delta (5), null key (1), value length (5) and
 * empty header count (1), each varint at its longest.
 */
const RECORD_OVERHEAD_BYTES = 28;

/** Bytes of a record batch's header (v2), counted against the broker's `max.message.bytes`. */
const BATCH_OVERHEAD_BYTES = 61;

/** Whether the broker refused a batch as larger than the topic (or its log segment) allows. */
function isTooLarge(error: unknown): boolean {
  const found = (error as { findBy?: (key: string, value: unknown) => unknown }).findBy;
  return typeof found === "function" &&
    Boolean(
      found.call(error, "apiId", "MESSAGE_TOO_LARGE") ??
        found.call(error, "apiId", "RECORD_LIST_TOO_LARGE"),
    );
}

/** A record as the producer takes it; `partition` is set when its batch is sent. */
interface Outgoing {
  readonly topic: string;
  partition: number;
  readonly value: Buffer;
}

type Resolve = (result: PublishResult) => void;
type Reject = (error: Error) => void;

// `new Promise(executor)` with one shared executor: a closure per write would cost an allocation
// per record. The executor runs synchronously, so these hold the new promise's functions right
// after `new Promise(capture)` returns.
let capturedResolve: Resolve;
let capturedReject: Reject;
const capture = (resolve: Resolve, reject: Reject): void => {
  capturedResolve = resolve;
  capturedReject = reject;
};

/** Settings of a {@linkcode ChannelWriter}. */
export interface ChannelWriterOptions {
  /** Wait for more records before sending, in ms. */
  readonly lingerMs: number;
  /** Most records per request. */
  readonly batchMaxRecords: number;
  /**
   * Most bytes per request, each record's value and framing counted (a larger single record
   * goes alone).
   */
  readonly batchMaxBytes: number;
  /**
   * Most partitions to write to: batches go round-robin over the first `partitions` partitions
   * of the topic, or over all of them when the topic has fewer.
   */
  readonly partitions: number;
}

/** Sends the records of one topic, one request at a time. */
export class ChannelWriter {
  readonly #topic: string;
  readonly #producer: KafkaProducer;
  readonly #options: ChannelWriterOptions;
  readonly #ready: () => Promise<number>;
  // How many partitions batches go round-robin over, once the topic's real count is known; and
  // when that count was last looked up (again every PARTITION_CHECK_MS while it is below
  // `options.partitions`: partitions may be added to the topic).
  #partitions: number | undefined;
  #partitionsCheckedAt = 0;
  // The queue, as three parallel arrays: the records, and their promises' functions.
  #queue: Outgoing[] = [];
  #resolves: Resolve[] = [];
  #rejects: Reject[] = [];
  #sending = false;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #lingerDone: (() => void) | undefined;
  #flushing = false;
  #batches = 0;
  #idle: Promise<void> = Promise.resolve();
  #markIdle: (() => void) | undefined;

  /**
   * @param topic the topic written to.
   * @param producer the producer to send with.
   * @param ready resolves with the topic's real number of partitions once the topic exists
   * (awaited before requests until it succeeds once, then every few seconds while the topic has
   * fewer partitions than `options.partitions`).
   */
  constructor(
    topic: string,
    producer: KafkaProducer,
    options: ChannelWriterOptions,
    ready: () => Promise<number>,
  ) {
    this.#topic = topic;
    this.#producer = producer;
    this.#options = options;
    this.#ready = ready;
  }

  /** Queues one record; resolves with its `<partition>:<offset>` once acknowledged. */
  write(bytes: Uint8Array): Promise<PublishResult> {
    const promise = new Promise<PublishResult>(capture);
    this.#queue.push({
      topic: this.#topic,
      partition: 0,
      value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    });
    this.#resolves.push(capturedResolve);
    this.#rejects.push(capturedReject);
    if (!this.#sending) void this.#pump();
    return promise;
  }

  /**
   * Sends what is queued without lingering, until the queue is empty; resolves once every queued
   * record was sent or rejected (used on shutdown).
   */
  drain(): Promise<void> {
    this.#flushing = this.#sending;
    if (this.#linger !== undefined) clearTimeout(this.#linger);
    this.#linger = undefined;
    this.#lingerDone?.();
    return this.#idle;
  }

  /** The records of the next batch, how many there are. */
  #batchLength(): number {
    const limit = Math.min(this.#queue.length, this.#options.batchMaxRecords);
    let count = 0;
    let bytes = BATCH_OVERHEAD_BYTES;
    while (count < limit) {
      const size = this.#queue[count]!.value.byteLength + RECORD_OVERHEAD_BYTES;
      if (count > 0 && bytes + size > this.#options.batchMaxBytes) break;
      bytes += size;
      count++;
    }
    return count;
  }

  async #pump(): Promise<void> {
    this.#sending = true;
    this.#idle = new Promise((resolve) => (this.#markIdle = resolve));
    try {
      // Let the rest of this tick's writes join the first batch: a loop of un-awaited publishes
      // becomes one request, not a request of one record followed by one of the rest.
      await undefined;
      while (this.#queue.length > 0) {
        if (
          this.#options.lingerMs > 0 && !this.#flushing &&
          this.#queue.length < this.#options.batchMaxRecords
        ) {
          await new Promise<void>((resolve) => {
            this.#lingerDone = resolve;
            this.#linger = setTimeout(resolve, this.#options.lingerMs);
          });
          this.#linger = undefined;
          this.#lingerDone = undefined;
        }
        // One splice per batch: shifting record by record is quadratic on a long queue.
        const count = this.#batchLength();
        await this.#send(
          this.#queue.splice(0, count),
          this.#resolves.splice(0, count),
          this.#rejects.splice(0, count),
        );
      }
    } finally {
      this.#sending = false;
      this.#flushing = false;
      this.#markIdle?.();
    }
  }

  /**
   * Looks the topic's partition count up (again): only partitions the topic really has, since
   * the client would wrap a larger number around. A failed look-up keeps the count known before,
   * if any.
   */
  async #lookUpPartitions(): Promise<number> {
    try {
      this.#partitions = Math.min(this.#options.partitions, await this.#ready());
    } catch (error) {
      if (this.#partitions === undefined) throw error;
    }
    this.#partitionsCheckedAt = performance.now();
    return this.#partitions!;
  }

  async #send(batch: Outgoing[], resolves: Resolve[], rejects: Reject[]): Promise<void> {
    // The count known is used as it is (no await) unless it is below `options.partitions` and
    // was looked up more than PARTITION_CHECK_MS ago.
    let partitions = this.#partitions;
    if (
      partitions === undefined ||
      (partitions < this.#options.partitions &&
        performance.now() - this.#partitionsCheckedAt >= PARTITION_CHECK_MS)
    ) {
      try {
        partitions = await this.#lookUpPartitions();
      } catch (error) {
        this.#fail(batch.length, error, rejects);
        return;
      }
    }
    const partition = this.#batches++ % partitions;
    if (partition !== 0) { for (const record of batch) record.partition = partition; }
    await this.#produce(batch, resolves, rejects);
  }

  /**
   * Sends one batch (its records' partition set) and settles its promises; a batch of several
   * records that the broker refuses as too large is sent again in two halves, one after the other.
   */
  async #produce(batch: Outgoing[], resolves: Resolve[], rejects: Reject[]): Promise<void> {
    try {
      const result = await this.#producer.send({ messages: batch, acks: -1 });
      // The batch went to one partition: the one asked for, unless the topic changed meanwhile
      // (the client then wraps the number), so the offsets are those of the partition written.
      const written = result.offsets?.find((entry) => entry.topic === this.#topic);
      if (!written) {
        throw new Error(
          `the broker acknowledged no offset for the batch (partition ${batch[0]?.partition})`,
        );
      }
      const offsets = formatOffsets(written.partition, written.offset, batch.length);
      for (let index = 0; index < resolves.length; index++) {
        resolves[index]!({ offset: offsets[index]! });
      }
    } catch (error) {
      if (batch.length > 1 && isTooLarge(error)) {
        const half = batch.length >>> 1;
        await this.#produce(batch.slice(0, half), resolves.slice(0, half), rejects.slice(0, half));
        await this.#produce(batch.slice(half), resolves.slice(half), rejects.slice(half));
        return;
      }
      this.#fail(batch.length, error, rejects);
    }
  }

  #fail(count: number, error: unknown, rejects: Reject[]): void {
    const failure = error instanceof BackendError ? error : new BackendError(
      "kafka",
      `could not publish ${count} record(s) to topic ${this.#topic}: ${describe(error)}`,
      { cause: error },
    );
    for (const reject of rejects) reject(failure);
  }
}
