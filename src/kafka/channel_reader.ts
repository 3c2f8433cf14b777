/**
 * The consumer of one channel: its own consumer group per node and channel (broadcast — every
 * node reads every record), a start position fixed before `open()` resolves (the topic's end, or
 * the record after `fromOffset`), records handed to the core in partition order with their
 * `<partition>:<offset>`. A stream the client ends by itself (a broker restart, a lost
 * connection) is started again from the record after the last one delivered.
 *
 * Records that retention (or `deleteRecords`) removed before this node read them are a gap, not
 * a dead end: a `fromOffset` below a partition's earliest offset, or a read the broker answers
 * with OFFSET_OUT_OF_RANGE, resumes at the earliest record still there and reports the gap (how
 * many records, from which offset) to `onError` once. A `fromOffset` past a partition's end is a
 * `RangeError`.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import { Consumer, type Message, type MessagesStream } from "@platformatic/kafka";
import { BackendError, type ChannelSink } from "../core/mod.ts";
import { formatOffset, parseOffset } from "./offsets.ts";
import type { ResolvedKafkaOptions } from "./options.ts";
import { describe } from "./topics.ts";

type Stream = MessagesStream<Buffer, Buffer, Buffer, Buffer>;

const EMPTY = new Uint8Array(0);

/** `listOffsets` timestamps: the earliest offset still in a partition, and its end. */
const EARLIEST = -2n;
const LATEST = -1n;

/** Whether the broker refused a fetch because the offset is not in the partition's range. */
function isOffsetOutOfRange(error: unknown): boolean {
  return Boolean(
    (error as { findBy?: (key: string, value: unknown) => unknown }).findBy?.(
      "apiId",
      "OFFSET_OUT_OF_RANGE",
    ),
  );
}

/** Delay before starting a stream again after the client ended it, in ms. */
const RESTART_DELAY_MS = 500;

/** Reads one topic into one sink, from a fixed start position. */
export class ChannelReader {
  readonly #topic: string;
  readonly #groupId: string;
  readonly #sink: ChannelSink;
  readonly #options: ResolvedKafkaOptions;
  // By partition, the offset of the last record delivered (the record before the start position
  // until one is): comparing and storing the client's own bigint allocates nothing per record.
  readonly #delivered: bigint[] = [];
  #consumer: Consumer | undefined;
  #stream: Stream | undefined;
  #closing = false;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #restarting: Promise<void> | undefined;
  // The last stream ended on OFFSET_OUT_OF_RANGE: realign before starting the next one.
  #outOfRange = false;

  /**
   * @param topic the topic to read.
   * @param groupId the consumer group of this node and channel.
   * @param sink where records go.
   */
  constructor(topic: string, groupId: string, sink: ChannelSink, options: ResolvedKafkaOptions) {
    this.#topic = topic;
    this.#groupId = groupId;
    this.#sink = sink;
    this.#options = options;
  }

  /** The consumer group this reader joins. */
  get groupId(): string {
    return this.#groupId;
  }

  /**
   * Joins the group and fixes the start position; resolves once the stream has its offsets, so
   * any record produced afterwards is delivered.
   */
  async open(fromOffset?: string): Promise<void> {
    const from = fromOffset === undefined ? undefined : parseOffset(fromOffset);
    const options = this.#options;
    const consumer = new Consumer({
      ...options.connection,
      clientId: `${options.clientId}-consumer`,
      bootstrapBrokers: options.brokers,
      groupId: this.#groupId,
      autocommit: false,
      retries: options.retries,
      retryDelay: options.retryDelayMs,
      timeout: options.requestTimeoutMs,
      maxWaitTime: options.maxWaitTimeMs,
      sessionTimeout: options.sessionTimeoutMs,
      rebalanceTimeout: options.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
    });
    this.#consumer = consumer;
    // The client emits `error` when rejoining the group failed after a lost heartbeat; without a
    // listener that would be an uncaught exception. Report it and start the stream again.
    consumer.on("error", (error: Error) => {
      if (this.#closing) return;
      this.#sink.error(
        new BackendError(
          "kafka",
          `consumer group ${this.#groupId} failed: ${describe(error)}; rejoining`,
          { cause: error },
        ),
      );
      const stream = this.#stream;
      this.#stream = undefined;
      if (stream && !stream.destroyed) void stream.close().catch(() => {});
      this.#scheduleRestart();
    });
    try {
      const ends = await this.#offsets(consumer, LATEST);
      if (ends.length === 0) throw new Error(`topic ${this.#topic} has no partitions`);
      ends.forEach((end, partition) => this.#delivered[partition] = end - 1n);
      let gap: Error | undefined;
      if (from) {
        const { partition } = from;
        const end = ends[partition];
        if (end === undefined) {
          throw new RangeError(
            `fromOffset ${
              formatOffset(partition, from.offset)
            } names partition ${partition}, but topic ${this.#topic} has ${ends.length}`,
          );
        }
        const next = from.offset + 1n;
        if (next > end) {
          throw new RangeError(
            `fromOffset ${
              formatOffset(partition, from.offset)
            } is past the end of partition ${partition} of topic ${this.#topic}: its end offset is ${end} (the next record written there gets offset ${end}), so no record ${
              formatOffset(partition, from.offset)
            } exists`,
          );
        }
        const earliest = (await this.#offsets(consumer, EARLIEST))[partition] ?? 0n;
        this.#delivered[partition] = from.offset;
        if (next < earliest) {
          this.#delivered[partition] = earliest - 1n;
          gap = this.#gap(partition, next, earliest);
        }
      }
      await this.#start();
      // Reported once the subscription stands: a failed open reports nothing but its rejection.
      if (gap) this.#sink.error(gap);
    } catch (error) {
      this.#closing = true;
      await this.#stop();
      if (error instanceof RangeError || error instanceof TypeError) throw error;
      throw new BackendError(
        "kafka",
        `could not subscribe to topic ${this.#topic} as group ${this.#groupId}: ${describe(error)}`,
        { cause: error },
      );
    }
  }

  /** By partition, the earliest or latest (end) offset of the topic. */
  async #offsets(consumer: Consumer, timestamp: bigint): Promise<bigint[]> {
    const offsets = await consumer.listOffsets({ topics: [this.#topic], timestamp });
    return offsets.get(this.#topic) ?? [];
  }

  /** The report of records removed from a partition before this node read them. */
  #gap(partition: number, next: bigint, earliest: bigint): BackendError {
    return new BackendError(
      "kafka",
      `${earliest - next} record(s) of partition ${partition} of topic ${this.#topic} from offset ${
        formatOffset(partition, next)
      } were removed (retention or deleteRecords) before this node read them; resuming at ${
        formatOffset(partition, earliest)
      }`,
    );
  }

  /**
   * After OFFSET_OUT_OF_RANGE: moves every partition whose next record is no longer there to the
   * earliest record still there (reporting the gap), or, past a partition's end (the topic was
   * recreated or truncated), to its end.
   */
  async #realign(): Promise<void> {
    const consumer = this.#consumer!;
    const earliest = await this.#offsets(consumer, EARLIEST);
    const ends = await this.#offsets(consumer, LATEST);
    for (let partition = 0; partition < this.#delivered.length; partition++) {
      const next = this.#delivered[partition]! + 1n;
      const first = earliest[partition];
      const end = ends[partition];
      if (first !== undefined && next < first) {
        this.#delivered[partition] = first - 1n;
        this.#sink.error(this.#gap(partition, next, first));
      } else if (end !== undefined && next > end) {
        this.#delivered[partition] = end - 1n;
        this.#sink.error(
          new BackendError(
            "kafka",
            `offset ${
              formatOffset(partition, next)
            } is past the end (${end}) of partition ${partition} of topic ${this.#topic} (the topic was recreated or truncated); resuming at ${
              formatOffset(partition, end)
            }`,
          ),
        );
      }
    }
  }

  async #start(): Promise<void> {
    const consumer = this.#consumer!;
    const stream = await consumer.consume({
      topics: [this.#topic],
      mode: "manual",
      offsets: this.#delivered.map((last, partition) => ({
        topic: this.#topic,
        partition,
        offset: last + 1n,
      })),
      autocommit: false,
      sessionTimeout: this.#options.sessionTimeoutMs,
      rebalanceTimeout: this.#options.sessionTimeoutMs,
      heartbeatInterval: this.#options.heartbeatIntervalMs,
    }) as Stream;
    this.#stream = stream;
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        stream.off("offsets", onOffsets);
        stream.off("error", onError);
        if (error) reject(error);
        else resolve();
      };
      const onOffsets = () => done();
      const onError = (error: Error) => {
        if (isOffsetOutOfRange(error)) this.#outOfRange = true;
        done(error);
      };
      stream.on("offsets", onOffsets);
      stream.on("error", onError);
    });
    stream.on("data", (message: Message) => this.#deliver(message));
    stream.on("error", (error: Error) => {
      if (this.#closing) return;
      // The records to read next are gone (retention overtook this reader) or not there: the
      // stream ends, and the restart realigns and reports the gap instead of this error.
      if (isOffsetOutOfRange(error)) {
        this.#outOfRange = true;
        return;
      }
      this.#sink.error(
        new BackendError("kafka", `reading topic ${this.#topic} failed: ${describe(error)}`, {
          cause: error,
        }),
      );
    });
    stream.on("close", () => {
      if (this.#stream === stream && !this.#closing) this.#scheduleRestart();
    });
  }

  #deliver(message: Message): void {
    if (this.#closing) return;
    const { partition, offset } = message;
    const last = this.#delivered[partition];
    // After a restart the client may hand back records already delivered: skip them.
    if (last !== undefined && offset <= last) return;
    this.#delivered[partition] = offset;
    this.#sink.record(message.value ?? EMPTY, formatOffset(partition, offset));
  }

  async #resume(): Promise<void> {
    if (this.#outOfRange) {
      await this.#realign();
      this.#outOfRange = false;
    }
    await this.#start();
  }

  #scheduleRestart(): void {
    if (this.#restartTimer !== undefined || this.#restarting !== undefined || this.#closing) return;
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#closing) return;
      this.#restarting = this.#resume().then(() => {
        this.#restarting = undefined;
      }, (error) => {
        this.#restarting = undefined;
        if (this.#closing) return;
        this.#sink.error(
          new BackendError(
            "kafka",
            `could not resume reading topic ${this.#topic}: ${describe(error)}; retrying`,
            { cause: error },
          ),
        );
        this.#scheduleRestart();
      });
    }, RESTART_DELAY_MS);
  }

  async #stop(): Promise<void> {
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    await this.#restarting?.catch(() => {});
    const stream = this.#stream;
    const consumer = this.#consumer;
    this.#stream = undefined;
    this.#consumer = undefined;
    if (stream && !stream.destroyed) await stream.close().catch(() => {});
    // Leaves the group (LeaveGroup) and closes every connection of the consumer.
    if (consumer) await consumer.close(true);
  }

  /** Stops reading, leaves the group and closes the consumer. */
  close(): Promise<void> {
    this.#closing = true;
    return this.#stop();
  }
}
