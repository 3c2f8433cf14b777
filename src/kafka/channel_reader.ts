/**
 * The consumer of one channel: its own consumer group per node and channel (broadcast — every
 * node reads every record), a start position fixed before `open()` resolves (the topic's end, or
 * the records after the position `fromOffset` gives, one `<partition>:<offset>` per partition,
 * the partitions it does not name from their first record), records handed to the core in
 * partition order with their `<partition>:<offset>`. A stream the client ends by itself (a broker
 * restart, a lost connection) is started again from the record after the last one delivered.
 *
 * Partitions added to the topic while the reader runs are read from their first record: the
 * reader looks at the topic's partition count every {@linkcode PARTITION_CHECK_MS} (one timer,
 * also used to delay restarts) and whenever it starts the stream again, and starts the stream
 * again (rejoining its group, which assigns it every partition) when the count grew.
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
import { formatOffset, formatPositions, parsePositions } from "./offsets.ts";
import type { ResolvedKafkaOptions } from "./options.ts";
import { describe, PARTITION_CHECK_MS } from "./topics.ts";

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
  // A partition added after the stream started has no entry until its first record arrives (the
  // stream reads it from its first record).
  readonly #delivered: bigint[] = [];
  // How many partitions the topic has, as last seen (the stream reads all of them).
  #partitions = 0;
  #consumer: Consumer | undefined;
  #stream: Stream | undefined;
  #closing = false;
  // The reader's one timer: the delayed restart of an ended stream when `#timerRestarts`, else
  // the next partition check.
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerRestarts = false;
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
   * Where this reader is in a topic of several partitions: the last record delivered in each
   * partition, or the record before the first one to read (`-1`: before the first record), in
   * partition order (`"0:3,1:5"`), a valid `fromOffset` to resume from. A partition added since
   * this reader started and not read from yet is left out (read from its first record on
   * resuming). `undefined` while the topic has one partition (a message's offset says it all).
   */
  get position(): string | undefined {
    return this.#partitions > 1 ? formatPositions(this.#delivered) : undefined;
  }

  /**
   * Joins the group and fixes the start position; resolves once the stream has its offsets, so
   * any record produced afterwards is delivered.
   *
   * @param fromOffset a position (see {@linkcode parsePositions}): each partition it names is
   * read from the record after the one given, every other one from its first record.
   * @throws {TypeError} for a malformed `fromOffset`.
   * @throws {RangeError} when `fromOffset` names a partition the topic does not have, or a record
   * past a partition's end.
   */
  async open(fromOffset?: string): Promise<void> {
    const from = fromOffset === undefined ? undefined : parsePositions(fromOffset);
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
      // The client's own wait for an answer (30 s by default): the broker may hold a fetch for
      // `maxWaitTime` and a group join for the rebalance timeout (a departed member timing out).
      requestTimeout: Math.max(options.maxWaitTimeMs, options.sessionTimeoutMs) +
        options.requestTimeoutMs,
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
      this.#partitions = ends.length;
      const gaps: Error[] = [];
      if (from) {
        for (const { partition, offset } of from) {
          const end = ends[partition];
          if (end === undefined) {
            throw new RangeError(
              `fromOffset ${
                formatOffset(partition, offset)
              } names partition ${partition}, but topic ${this.#topic} has ${ends.length}`,
            );
          }
          if (offset + 1n > end) {
            throw new RangeError(
              `fromOffset ${
                formatOffset(partition, offset)
              } is past the end of partition ${partition} of topic ${this.#topic}: its end offset is ${end} (the next record written there gets offset ${end}), so no record ${
                formatOffset(partition, offset)
              } exists`,
            );
          }
        }
        // A partition the position does not name (added after it was taken, perhaps) is read
        // from its first record still there: records may come twice, none is skipped.
        const earliest = await this.#offsets(consumer, EARLIEST);
        ends.forEach((_, partition) => {
          this.#delivered[partition] = (earliest[partition] ?? 0n) - 1n;
        });
        for (const { partition, offset } of from) {
          const next = offset + 1n;
          const first = earliest[partition] ?? 0n;
          this.#delivered[partition] = next < first ? first - 1n : offset;
          if (next < first) gaps.push(this.#gap(partition, next, first));
        }
      } else {
        ends.forEach((end, partition) => this.#delivered[partition] = end - 1n);
      }
      await this.#start();
      // Reported once the subscription stands: a failed open reports nothing but its rejection.
      for (const gap of gaps) this.#sink.error(gap);
      this.#arm(false);
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

  /** How many partitions the topic has, from the consumer's metadata (cached for up to 5 s). */
  async #partitionCount(consumer: Consumer): Promise<number> {
    const metadata = await consumer.metadata({ topics: [this.#topic] });
    return metadata.topics.get(this.#topic)?.partitionsCount ?? 0;
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
      const last = this.#delivered[partition];
      // A partition without an entry is read from its first record: nothing to realign.
      if (last === undefined) continue;
      const next = last + 1n;
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
    const offsets = [];
    for (let partition = 0; partition < this.#delivered.length; partition++) {
      const last = this.#delivered[partition];
      if (last !== undefined) offsets.push({ topic: this.#topic, partition, offset: last + 1n });
    }
    // `consume` (re)joins the group, whose assignment is every partition the topic has now.
    const stream = await consumer.consume({
      topics: [this.#topic],
      mode: "manual",
      offsets,
      // Partitions without an offset above (added to the topic after this reader looked) are
      // read from their first record, not from their end: none of their records is skipped.
      fallbackMode: "earliest",
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

  /**
   * Starts the stream again: the current one, if any, is closed first (a restart after the
   * partition count grew); partitions added since are read from their first record.
   */
  async #restart(): Promise<void> {
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream && !stream.destroyed) await stream.close().catch(() => {});
    if (this.#outOfRange) {
      await this.#realign();
      this.#outOfRange = false;
    }
    const count = await this.#partitionCount(this.#consumer!);
    if (count > this.#partitions) this.#partitions = count;
    if (this.#closing) return;
    await this.#start();
  }

  /**
   * Sets the reader's one timer: a restart (`restart`), which replaces a pending partition check,
   * or the next partition check, unless a timer or a restart is already pending.
   */
  #arm(restart: boolean): void {
    if (this.#closing) return;
    if (this.#timer !== undefined) {
      if (this.#timerRestarts || !restart) return;
      clearTimeout(this.#timer);
    } else if (!restart && this.#restarting !== undefined) return;
    this.#timerRestarts = restart;
    this.#timer = setTimeout(this.#onTimer, restart ? RESTART_DELAY_MS : PARTITION_CHECK_MS);
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    if (this.#closing) return;
    if (this.#timerRestarts) this.#runRestart();
    else void this.#check();
  };

  /** Starts the stream again at once when the topic has more partitions than this reader saw. */
  async #check(): Promise<void> {
    let grown = false;
    try {
      grown = (await this.#partitionCount(this.#consumer!)) > this.#partitions;
    } catch {
      // The broker cannot be reached: the stream reports that; look again later.
    }
    if (this.#closing) return;
    if (grown) this.#runRestart();
    else this.#arm(false);
  }

  #scheduleRestart(): void {
    if (this.#restarting === undefined) this.#arm(true);
  }

  #runRestart(): void {
    if (this.#restarting !== undefined || this.#closing) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#restarting = this.#restart().then(() => {
      this.#restarting = undefined;
      this.#arm(false);
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
      this.#arm(true);
    });
  }

  async #stop(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    // A partition check waiting for metadata is not waited for: it sees `#closing` afterwards.
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
