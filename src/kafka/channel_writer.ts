/**
 * The serialized producer path of one channel: records queue up while a produce request is in
 * flight and leave together in the next request, so a channel has at most one request in flight
 * and its order is kept even for concurrent, un-awaited publishes. Batches are bounded in records
 * and bytes; `lingerMs` waits for more records before a batch is sent.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { BackendError, type PublishResult } from "../core/mod.ts";
import { formatOffsets } from "./offsets.ts";
import type { KafkaProducer } from "./options.ts";
import { describe } from "./topics.ts";

interface Pending {
  readonly bytes: Uint8Array;
  readonly resolve: (result: PublishResult) => void;
  readonly reject: (error: Error) => void;
}

/** Settings of a {@linkcode ChannelWriter}. */
export interface ChannelWriterOptions {
  /** Wait for more records before sending, in ms. */
  readonly lingerMs: number;
  /** Most records per request. */
  readonly batchMaxRecords: number;
  /** Most value bytes per request (a larger single record goes alone). */
  readonly batchMaxBytes: number;
  /** Number of partitions of the topic (batches go round-robin over them). */
  readonly partitions: number;
}

/** Sends the records of one topic, one request at a time. */
export class ChannelWriter {
  readonly #topic: string;
  readonly #producer: KafkaProducer;
  readonly #options: ChannelWriterOptions;
  readonly #ready: () => Promise<void>;
  #queue: Pending[] = [];
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
   * @param ready resolves once the topic exists (awaited before the first request).
   */
  constructor(
    topic: string,
    producer: KafkaProducer,
    options: ChannelWriterOptions,
    ready: () => Promise<void>,
  ) {
    this.#topic = topic;
    this.#producer = producer;
    this.#options = options;
    this.#ready = ready;
  }

  /** Queues one record; resolves with its `<partition>:<offset>` once acknowledged. */
  write(bytes: Uint8Array): Promise<PublishResult> {
    return new Promise<PublishResult>((resolve, reject) => {
      this.#queue.push({ bytes, resolve, reject });
      if (!this.#sending) void this.#pump();
    });
  }

  /** Resolves once every queued record was sent or rejected. */
  drained(): Promise<void> {
    return this.#idle;
  }

  /** Sends what is queued without lingering, until the queue is empty (used on shutdown). */
  flush(): void {
    this.#flushing = this.#sending;
    if (this.#linger !== undefined) clearTimeout(this.#linger);
    this.#linger = undefined;
    this.#lingerDone?.();
  }

  #take(): Pending[] {
    const limit = Math.min(this.#queue.length, this.#options.batchMaxRecords);
    let count = 0;
    let bytes = 0;
    while (count < limit) {
      const size = this.#queue[count]!.bytes.byteLength;
      if (count > 0 && bytes + size > this.#options.batchMaxBytes) break;
      bytes += size;
      count++;
    }
    // One splice per batch: shifting record by record is quadratic on a long queue.
    return this.#queue.splice(0, count);
  }

  async #pump(): Promise<void> {
    this.#sending = true;
    this.#idle = new Promise((resolve) => (this.#markIdle = resolve));
    try {
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
        const batch = this.#take();
        await this.#send(batch);
      }
    } finally {
      this.#sending = false;
      this.#flushing = false;
      this.#markIdle?.();
    }
  }

  async #send(batch: Pending[]): Promise<void> {
    const partition = this.#batches++ % this.#options.partitions;
    try {
      await this.#ready();
      const result = await this.#producer.send({
        messages: batch.map(({ bytes }) => ({
          topic: this.#topic,
          partition,
          value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        })),
        acks: -1,
      });
      const written = result.offsets?.find((entry) =>
        entry.topic === this.#topic && entry.partition === partition
      );
      if (!written) {
        throw new Error(`the broker acknowledged no offset for partition ${partition}`);
      }
      const offsets = formatOffsets(partition, written.offset, batch.length);
      for (let index = 0; index < batch.length; index++) {
        batch[index]!.resolve({ offset: offsets[index]! });
      }
    } catch (error) {
      const failure = error instanceof BackendError ? error : new BackendError(
        "kafka",
        `could not publish ${batch.length} record(s) to topic ${this.#topic}: ${describe(error)}`,
        { cause: error },
      );
      for (const pending of batch) pending.reject(failure);
    }
  }
}
