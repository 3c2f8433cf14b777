/**
 * The consumer of one channel: its own consumer group per node and channel (broadcast — every
 * node reads every record), a start position fixed before `open()` resolves (the topic's end, or
 * the record after `fromOffset`), records handed to the core in partition order with their
 * `<partition>:<offset>`. A stream the client ends by itself (a broker restart, a lost
 * connection) is started again from the record after the last one delivered.
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
      const ends = await consumer.listOffsets({ topics: [this.#topic] });
      const partitions = ends.get(this.#topic) ?? [];
      if (partitions.length === 0) throw new Error(`topic ${this.#topic} has no partitions`);
      partitions.forEach((end, partition) => this.#delivered[partition] = end - 1n);
      if (from) {
        if (from.partition >= partitions.length) {
          throw new RangeError(
            `fromOffset ${
              formatOffset(from.partition, from.offset)
            } names partition ${from.partition}, but topic ${this.#topic} has ${partitions.length}`,
          );
        }
        this.#delivered[from.partition] = from.offset;
      }
      await this.#start();
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
      const onError = (error: Error) => done(error);
      stream.on("offsets", onOffsets);
      stream.on("error", onError);
    });
    stream.on("data", (message: Message) => this.#deliver(message));
    stream.on("error", (error: Error) => {
      if (this.#closing) return;
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

  #scheduleRestart(): void {
    if (this.#restartTimer !== undefined || this.#restarting !== undefined || this.#closing) return;
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#closing) return;
      this.#restarting = this.#start().then(() => {
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
