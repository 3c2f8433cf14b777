/**
 * The byte-level transport of {@linkcode HazelcastReliableTopicEventStore}: one reliable topic per
 * logical channel (`<prefix>.<channel>`), written and read through the ring buffer that stores it
 * (`_hz_rb_<prefix>.<channel>`), so every message has its ring-buffer sequence as offset.
 *
 * @module
 */

import {
  ClientNotActiveError,
  ClientOfflineError,
  HazelcastInstanceNotActiveError,
  IOError,
  OperationTimeoutError,
  OverflowPolicy,
  RetryableHazelcastError,
  StaleSequenceError,
  TargetDisconnectedError,
} from "hazelcast-client";
import type { Ringbuffer } from "hazelcast-client";
import {
  BackendError,
  type ChannelSink,
  type EventTransport,
  type PublishResult,
} from "../core/mod.ts";
import type { ClientHandle, HazelcastClient } from "./client.ts";
import { bytesOfItem, ringbufferNameOf, TopicMessageItem } from "./topic_message.ts";
import { BlockedLine, fullError } from "./_blocked_line.ts";
import { Pause } from "../core/_timers.ts";

/** What the publisher does when the ring buffer is full (only possible with a ring TTL). */
export type TopicOverloadPolicyName = "BLOCK" | "ERROR" | "DISCARD_OLDEST";

/** Settings of the transport, resolved by the event store. */
export interface RingTopicSettings {
  /** At-least-once with offsets (`true`), or the fire-and-forget configuration (`false`). */
  readonly reliable: boolean;
  /** Overload policy of publishes. */
  readonly overloadPolicy: TopicOverloadPolicyName;
  /** Largest number of items fetched by one read. */
  readonly readBatchSize: number;
  /**
   * How long after its call a `BLOCK` publish may wait for room in a full ring buffer before it
   * rejects.
   */
  readonly blockTimeoutMs: number;
  /** First delay before a failed read or publish is retried; doubles up to 2 s. */
  readonly retryDelayMs: number;
  /** How often a publish that failed because a member or connection was lost is retried. */
  readonly publishRetries: number;
}

/** Whether a failed write may succeed when sent again (a member or connection was lost). */
function isTransient(error: unknown): boolean {
  return error instanceof TargetDisconnectedError || error instanceof IOError ||
    error instanceof RetryableHazelcastError || error instanceof HazelcastInstanceNotActiveError ||
    error instanceof ClientOfflineError;
}

const MAX_RETRY_DELAY_MS = 2_000;
const OFFSET_PATTERN = /^(?:-1|0|[1-9]\d{0,17})$/;

type Ring = Ringbuffer<unknown>;

/** Reads one channel's ring buffer from a sequence on, for as long as it is not cancelled. */
class RingReader {
  #next: number;
  #cancelled = false;
  #skipToTail = false;
  readonly #pause = new Pause();
  readonly done: Promise<void>;

  constructor(
    readonly topic: string,
    readonly ring: Ring,
    readonly sink: ChannelSink,
    start: number,
    readonly settings: RingTopicSettings,
    readonly bigEndian: boolean,
    readonly closing: () => boolean,
    readonly forget: (reader: RingReader) => void,
  ) {
    this.#next = start;
    this.done = this.#run().catch((error) =>
      // Not expected (every read error is handled in the loop), but never an unhandled rejection.
      this.sink.error(
        new BackendError("hazelcast", `reading topic ${this.topic} stopped`, { cause: error }),
      )
    );
  }

  cancel(): void {
    this.#cancelled = true;
    this.#pause.wake();
  }

  #lost(count: number, from: number): void {
    this.sink.error(
      new BackendError(
        "hazelcast",
        `${count} message(s) of topic ${this.topic} from sequence ${from} were overwritten ` +
          "in the ring buffer before this node read them (ring capacity too small for the lag)",
      ),
    );
  }

  /**
   * After a failed read: a ring whose tail is now below the next sequence to read started over
   * (a member restart lost its data), and a read there would skip what is published first.
   */
  async #checkReset(): Promise<void> {
    const tail = await this.ring.tailSequence().then((long) => long.toNumber(), () => NaN);
    if (Number.isFinite(tail) && this.#next > tail + 1) await this.#restartFromHead(tail + 1);
  }

  /** The ring started over (its sequences now end before `#next`): read it from its head. */
  async #restartFromHead(seen: number): Promise<void> {
    const head = await this.ring.headSequence().then((long) => long.toNumber(), () => 0);
    this.sink.error(
      new BackendError(
        "hazelcast",
        `the ring buffer of topic ${this.topic} started over (a member restart lost its data): ` +
          `this node was at sequence ${this.#next}, the ring is at ${seen}; reading it again ` +
          `from sequence ${head} (messages published during the outage may be lost, and offsets ` +
          "start again from there)",
      ),
    );
    this.#next = head;
  }

  async #run(): Promise<void> {
    let delay = this.settings.retryDelayMs;
    while (!this.#cancelled) {
      let result;
      try {
        if (this.#skipToTail) {
          // At-most-once, as a plain topic: after an outage, carry on with new messages only.
          this.#next = (await this.ring.tailSequence()).toNumber() + 1;
          this.#skipToTail = false;
        }
        result = await this.ring.readMany(this.#next, 1, this.settings.readBatchSize);
      } catch (error) {
        if (this.#cancelled) return;
        if (error instanceof OperationTimeoutError) {
          // A read waits for data as long as it takes; this error means no member could be
          // reached for the client's whole invocation timeout. The timeout was the pause.
          this.sink.error(
            new BackendError(
              "hazelcast",
              `reading topic ${this.topic} at sequence ${this.#next}: no member answered within the client's invocation timeout; retrying`,
              { cause: error },
            ),
          );
          if (!this.settings.reliable) this.#skipToTail = true;
          continue;
        }
        if (error instanceof ClientNotActiveError) {
          if (!this.closing()) {
            // The client will not come back (hazelcast-client ends it after an outage longer
            // than an explicit clusterConnectTimeoutMillis): the channel has ended.
            this.forget(this);
            this.sink.ended(
              new BackendError(
                "hazelcast",
                `the client was shut down; subscription to topic ${this.topic} ended`,
                { cause: error },
              ),
            );
          }
          return;
        }
        if (error instanceof StaleSequenceError) {
          const head = await this.ring.headSequence().then((long) => long.toNumber(), () => NaN);
          if (Number.isFinite(head) && head > this.#next) {
            this.#lost(head - this.#next, this.#next);
            this.#next = head;
            continue;
          }
        }
        this.sink.error(
          new BackendError(
            "hazelcast",
            `reading topic ${this.topic} at sequence ${this.#next} failed; retrying in ${delay} ms`,
            { cause: error },
          ),
        );
        await this.#pause.sleep(delay);
        delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
        if (!this.settings.reliable) this.#skipToTail = true;
        else await this.#checkReset();
        continue;
      }
      delay = this.settings.retryDelayMs;
      if (this.#cancelled) return;
      const size = result.size();
      if (size > 0) {
        const first = result.getSequence(0).toNumber();
        if (first < this.#next) {
          // The member skipped ahead to what is there now: the ring started over. At-most-once
          // takes what comes; reliable reads the new ring from its head.
          if (this.settings.reliable) {
            await this.#restartFromHead(first);
            continue;
          }
        } else if (first > this.#next) this.#lost(first - this.#next, this.#next);
      }
      for (let index = 0; index < size && !this.#cancelled; index++) {
        const sequence = result.getSequence(index).toString();
        let bytes: Uint8Array;
        try {
          bytes = bytesOfItem(result.get(index), this.bigEndian);
        } catch (error) {
          this.sink.error(
            new BackendError(
              "hazelcast",
              `item ${sequence} of topic ${this.topic} skipped: ${(error as Error).message}`,
              { cause: error },
            ),
          );
          continue;
        }
        if (this.settings.reliable) this.sink.record(bytes, sequence);
        else this.sink.record(bytes);
      }
      const next = result.getNextSequenceToReadFrom().toNumber();
      if (next > this.#next) this.#next = next;
      else if (size > 0) this.#next = result.getSequence(size - 1).toNumber() + 1;
    }
  }
}

/** {@linkcode EventTransport} over reliable topics' ring buffers. */
export class RingTopicTransport implements EventTransport {
  readonly #handle: ClientHandle;
  readonly #prefix: string;
  readonly #settings: RingTopicSettings;
  readonly #rings = new Map<string, Promise<Ring>>();
  readonly #readers = new Map<string, RingReader>();
  /** Lines of `BLOCK` publishes waiting for room, by channel (only while one waits). */
  readonly #lines = new Map<string, BlockedLine>();
  /** Number of the next publish call (its place in a {@linkcode BlockedLine}). */
  #tickets = 0;
  #closing = false;

  constructor(handle: ClientHandle, prefix: string, settings: RingTopicSettings) {
    this.#handle = handle;
    this.#prefix = prefix;
    this.#settings = settings;
  }

  /** Name of the reliable topic of a logical channel. */
  topicName(channel: string): string {
    return `${this.#prefix}.${channel}`;
  }

  #ring(channel: string): Promise<Ring> {
    let ring = this.#rings.get(channel);
    if (!ring) {
      const topic = this.topicName(channel);
      ring = this.#handle.get().then(async (client: HazelcastClient) => {
        // Creating the reliable topic registers it (and its ring buffer) in the cluster, so it is
        // listed, configured and destroyed like any reliable topic.
        await client.getReliableTopic(topic);
        return client.getRingbuffer<unknown>(ringbufferNameOf(topic));
      });
      this.#rings.set(channel, ring);
      ring.catch(() => {
        if (this.#rings.get(channel) === ring) this.#rings.delete(channel);
      });
    }
    return ring;
  }

  async #bigEndian(): Promise<boolean> {
    const client = await this.#handle.get();
    return client.getConfig().serialization?.isBigEndian !== false;
  }

  /**
   * Stores `item` according to the overload policy; resolves with its sequence. With `BLOCK`, a
   * publish that finds the ring buffer full waits in the channel's {@linkcode BlockedLine}, and
   * so does every later publish of the channel while that line exists: none overtakes another.
   * Without a line (the ring buffer is not full) this is one add, as with the other policies.
   */
  async #addBlocking(
    channel: string,
    topic: string,
    ring: Ring,
    item: TopicMessageItem,
    ticket: number,
    deadline: number,
  ): Promise<number> {
    const policy = this.#settings.overloadPolicy;
    if (policy === "DISCARD_OLDEST") {
      return (await ring.add(item, OverflowPolicy.OVERWRITE)).toNumber();
    }
    const waiting = this.#lines.get(channel);
    if (waiting !== undefined) return await waiting.join(item, ticket, deadline);
    const sequence = (await ring.add(item, OverflowPolicy.FAIL)).toNumber();
    if (sequence !== -1) return sequence;
    if (policy === "ERROR" || Date.now() >= deadline) throw fullError(topic, this.#settings);
    if (this.#closing) {
      throw new BackendError(
        "hazelcast",
        `the ring buffer of topic ${topic} is full and the event store is shutting down; nothing was published`,
      );
    }
    // A publish of this channel may have started a line while this add was on its way. (One
    // whose add was on its way when the first publish found the ring full may still have been
    // stored before it, if items expired in between: the line orders what is not stored yet.)
    let line = this.#lines.get(channel);
    if (line === undefined) {
      line = new BlockedLine(topic, ring, this.#settings, (ended) => {
        if (this.#lines.get(channel) === ended) this.#lines.delete(channel);
      });
      this.#lines.set(channel, line);
    }
    return await line.join(item, ticket, deadline);
  }

  async send(channel: string, bytes: Uint8Array): Promise<PublishResult> {
    const ticket = this.#tickets++;
    // A BLOCK publish gives up blockTimeoutMs after its call.
    const deadline = this.#settings.overloadPolicy === "BLOCK"
      ? Date.now() + this.#settings.blockTimeoutMs
      : 0;
    const topic = this.topicName(channel);
    let ring: Ring;
    try {
      ring = await this.#ring(channel);
    } catch (error) {
      if (error instanceof BackendError) throw error;
      throw new BackendError("hazelcast", `cannot publish on topic ${topic}`, { cause: error });
    }
    const item = new TopicMessageItem(bytes);
    let delay = this.#settings.retryDelayMs;
    const pause = new Pause();
    for (let attempt = 0;; attempt++) {
      try {
        const sequence = await this.#addBlocking(channel, topic, ring, item, ticket, deadline);
        return this.#settings.reliable ? { offset: String(sequence) } : {};
      } catch (error) {
        if (error instanceof BackendError) throw error;
        if (
          this.#closing || !isTransient(error) || attempt >= this.#settings.publishRetries
        ) {
          throw new BackendError(
            "hazelcast",
            `publish on topic ${topic} failed` +
              (attempt > 0 ? ` after ${attempt} retr${attempt === 1 ? "y" : "ies"}` : ""),
            { cause: error },
          );
        }
        await pause.sleep(delay);
        delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
      }
    }
  }
  async open(channel: string, sink: ChannelSink, fromOffset?: string): Promise<void> {
    let after: number | undefined;
    if (fromOffset !== undefined) {
      if (!OFFSET_PATTERN.test(fromOffset)) {
        throw new TypeError(
          `fromOffset of a Hazelcast reliable topic is a ring-buffer sequence (an integer >= -1), received ${
            JSON.stringify(fromOffset)
          }`,
        );
      }
      after = Number(fromOffset);
    }
    const topic = this.topicName(channel);
    let ring: Ring;
    let start: number;
    let bigEndian: boolean;
    let head = 0;
    try {
      ring = await this.#ring(channel);
      bigEndian = await this.#bigEndian();
      const tail = (await ring.tailSequence()).toNumber();
      if (after === undefined) {
        start = tail + 1;
      } else {
        if (after > tail) {
          throw new RangeError(
            `fromOffset ${after} is beyond the last sequence of topic ${topic} (${tail})`,
          );
        }
        head = (await ring.headSequence()).toNumber();
        start = after + 1;
      }
    } catch (error) {
      if (error instanceof RangeError || error instanceof BackendError) throw error;
      throw new BackendError("hazelcast", `cannot subscribe to topic ${topic}`, { cause: error });
    }
    if (start < head) {
      sink.error(
        new BackendError(
          "hazelcast",
          `resuming topic ${topic} after ${after}: sequences ${start}..${
            head - 1
          } were already overwritten; delivering from ${head}`,
        ),
      );
      start = head;
    }
    this.#readers.get(channel)?.cancel();
    this.#readers.set(
      channel,
      new RingReader(
        topic,
        ring,
        sink,
        start,
        this.#settings,
        bigEndian,
        () => this.#closing,
        (reader) => {
          if (this.#readers.get(channel) === reader) this.#readers.delete(channel);
        },
      ),
    );
  }

  close(channel: string): Promise<void> {
    const reader = this.#readers.get(channel);
    this.#readers.delete(channel);
    reader?.cancel();
    return Promise.resolve();
  }

  async shutdown(): Promise<void> {
    this.#closing = true;
    for (const reader of this.#readers.values()) reader.cancel();
    this.#readers.clear();
    // The event store waits for its publishes before it shuts the transport, so a line is left
    // only when this is called directly: its waiters reject rather than hold the shutdown.
    for (const line of this.#lines.values()) {
      line.close(
        new BackendError("hazelcast", `the event store was shut down; nothing was published`),
      );
    }
    await this.#handle.release();
  }
}
