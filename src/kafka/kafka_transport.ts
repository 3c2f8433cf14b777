/**
 * The byte-level {@linkcode EventTransport} of {@linkcode KafkaEventStore}: a topic per logical
 * channel, one serialized writer per channel over one producer, one reader (consumer group) per
 * subscribed channel.
 *
 * @module
 */

import { Producer } from "@platformatic/kafka";
import {
  BackendError,
  type ChannelSink,
  type EventTransport,
  type PublishResult,
} from "../core/mod.ts";
import { ChannelReader } from "./channel_reader.ts";
import { ChannelWriter } from "./channel_writer.ts";
import { kafkaIdPart, type KafkaProducer, type ResolvedKafkaOptions } from "./options.ts";
import { describe, TopicCreator, topicName } from "./topics.ts";

/**
 * Consumer group of one node on one channel: `<prefix>.<nodeId>.<channel>`, where whitespace, `.`
 * and `%` in the node id are percent-encoded (`"node a"` → `node%20a`, `"web.1"` → `web%2E1`),
 * since a group id may hold no whitespace: any node id works, and distinct nodes (of any prefix)
 * keep distinct groups.
 */
export function groupIdOf(prefix: string, nodeId: string, channel: string): string {
  return `${prefix}.${kafkaIdPart(nodeId)}.${channel}`;
}

/** Kafka I/O on logical channels. */
export class KafkaTransport implements EventTransport {
  readonly #prefix: string;
  readonly #nodeId: string;
  readonly #options: ResolvedKafkaOptions;
  readonly #topics: TopicCreator;
  readonly #ownProducer: boolean;
  readonly #producer: KafkaProducer;
  readonly #writers = new Map<string, ChannelWriter>();
  readonly #readers = new Map<string, ChannelReader>();
  // By channel, the reader that opened it last, kept after it closes for its position.
  readonly #lastReaders = new Map<string, ChannelReader>();

  /**
   * @param prefix validated channel prefix.
   * @param nodeId this node's id (names the consumer groups).
   * @param options resolved options.
   * @param producer the user's producer, left open on shutdown.
   */
  constructor(
    prefix: string,
    nodeId: string,
    options: ResolvedKafkaOptions,
    producer: KafkaProducer | undefined,
  ) {
    this.#prefix = prefix;
    this.#nodeId = nodeId;
    this.#options = options;
    this.#topics = new TopicCreator(options);
    this.#ownProducer = producer === undefined;
    this.#producer = producer ?? new Producer({
      ...options.connection,
      clientId: `${options.clientId}-producer`,
      bootstrapBrokers: options.brokers,
      idempotent: options.idempotent,
      acks: -1,
      retries: options.retries,
      retryDelay: options.retryDelayMs,
      timeout: options.requestTimeoutMs,
      // The client's own wait for an answer (30 s by default), not only the broker's.
      requestTimeout: options.requestTimeoutMs,
    });
  }

  /** Consumer groups of the channels currently read. */
  get groupIds(): string[] {
    return [...this.#readers.values()].map((reader) => reader.groupId);
  }

  /**
   * Where the last reader of `channel` is in its topic, when that has several partitions (see
   * {@linkcode ChannelReader.position}).
   */
  positionOf(channel: string): string | undefined {
    return this.#lastReaders.get(channel)?.position;
  }

  /** The physical topic of a channel. */
  topicOf(channel: string): string {
    return topicName(this.#prefix, channel);
  }

  send(channel: string, bytes: Uint8Array): Promise<PublishResult> {
    let writer = this.#writers.get(channel);
    if (!writer) {
      const topic = this.topicOf(channel);
      writer = new ChannelWriter(topic, this.#producer, {
        lingerMs: this.#options.lingerMs,
        batchMaxRecords: this.#options.batchMaxRecords,
        batchMaxBytes: this.#options.batchMaxBytes,
        partitions: this.#options.partitions,
      }, () => this.#partitionsOf(topic));
      this.#writers.set(channel, writer);
    }
    return writer.write(bytes);
  }

  /** Once `topic` exists (created if need be), its real number of partitions. */
  async #partitionsOf(topic: string): Promise<number> {
    await this.#topics.ensure(topic);
    // The producer's own metadata: `send` looks it up as well, so this costs no extra request.
    const metadata = await this.#producer.metadata({ topics: [topic] });
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    if (count < 1) throw new Error(`the broker reports no partitions for topic ${topic}`);
    return count;
  }

  async open(channel: string, sink: ChannelSink, fromOffset?: string): Promise<void> {
    if (this.#readers.has(channel)) {
      throw new BackendError("kafka", `channel ${channel} is already open`);
    }
    const topic = this.topicOf(channel);
    await this.#topics.ensure(topic);
    const reader = new ChannelReader(
      topic,
      groupIdOf(this.#prefix, this.#nodeId, channel),
      sink,
      this.#options,
    );
    this.#readers.set(channel, reader);
    const previous = this.#lastReaders.get(channel);
    this.#lastReaders.set(channel, reader);
    try {
      await reader.open(fromOffset);
    } catch (error) {
      this.#readers.delete(channel);
      if (previous) this.#lastReaders.set(channel, previous);
      else this.#lastReaders.delete(channel);
      throw error;
    }
  }

  async close(channel: string): Promise<void> {
    const reader = this.#readers.get(channel);
    this.#readers.delete(channel);
    await reader?.close();
  }

  async drain(): Promise<void> {
    await Promise.all([...this.#writers.values()].map((writer) => writer.drain()));
  }

  async shutdown(): Promise<void> {
    const readers = [...this.#readers.values()];
    this.#readers.clear();
    await this.drain();
    const results = await Promise.allSettled([
      ...readers.map((reader) => reader.close()),
      this.#topics.close(),
      this.#ownProducer ? this.#producer.close() : Promise.resolve(),
    ]);
    const failed = results.find((result) => result.status === "rejected");
    if (failed) {
      throw new BackendError(
        "kafka",
        `shutdown could not close every client: ${describe(failed.reason)}`,
        { cause: failed.reason },
      );
    }
  }
}
