/**
 * The serialized producer path of one channel: records queue up while a produce request is in
 * flight and leave together in the next request, so a channel has at most one request in flight
 * and its order is kept even for concurrent, un-awaited publishes. Batches are bounded in records
 * and bytes. An idle channel sends once the current synchronous run is over, so that a loop of
 * publishes makes one request; `lingerMs` waits longer for more records.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { BackendError, type PublishResult } from "../core/mod.ts";
import { formatOffsets } from "./offsets.ts";
import type { KafkaProducer } from "./options.ts";
import { describe } from "./topics.ts";

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
  /** Most value bytes per request (a larger single record goes alone). */
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
  // How many partitions batches go round-robin over, once the topic's real count is known.
  #partitions: number | undefined;
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
   * (awaited before requests until it succeeds once).
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
    let bytes = 0;
    while (count < limit) {
      const size = this.#queue[count]!.value.byteLength;
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

  async #send(batch: Outgoing[], resolves: Resolve[], rejects: Reject[]): Promise<void> {
    try {
      // Only partitions the topic really has: the client would wrap a larger number around.
      const partitions = this.#partitions ??= Math.min(
        this.#options.partitions,
        await this.#ready(),
      );
      const partition = this.#batches++ % partitions;
      if (partition !== 0) { for (const record of batch) record.partition = partition; }
      const result = await this.#producer.send({ messages: batch, acks: -1 });
      // The batch went to one partition: the one asked for, unless the topic changed meanwhile
      // (the client then wraps the number), so the offsets are those of the partition written.
      const written = result.offsets?.find((entry) => entry.topic === this.#topic);
      if (!written) {
        throw new Error(`the broker acknowledged no offset for the batch (partition ${partition})`);
      }
      const offsets = formatOffsets(written.partition, written.offset, batch.length);
      for (let index = 0; index < resolves.length; index++) {
        resolves[index]!({ offset: offsets[index]! });
      }
    } catch (error) {
      const failure = error instanceof BackendError ? error : new BackendError(
        "kafka",
        `could not publish ${batch.length} record(s) to topic ${this.#topic}: ${describe(error)}`,
        { cause: error },
      );
      for (const reject of rejects) reject(failure);
    }
  }
}
