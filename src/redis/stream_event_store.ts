/**
 * {@linkcode RedisStreamEventStore}: cluster events over Redis Streams, at-least-once, with
 * offsets and resume.
 *
 * @module
 */

import {
  BaseEventStore,
  type ChannelSink,
  EventStoreKind,
  type EventStoreOptions,
  type EventTransport,
  PublishMode,
  type PublishResult,
  resolvePrefix,
  type WireRecord,
} from "../core/mod.ts";
import { type RedisCommandPort, type RedisReply, replyString } from "./command_port.ts";
import { streamKey } from "./keys.ts";
import { portFor, type RedisClientInput, type RedisPortOptions } from "./ports.ts";
import {
  BlockingReader,
  compareStreamIds,
  gapOf,
  lastEntryId,
  parseStreamId,
  PollingReader,
  type ReaderSettings,
  type StreamCursor,
  streamInfo,
} from "./_stream_readers.ts";
import { RECORD_FIELD, toWire } from "./_wire.ts";

/** Options of {@linkcode RedisStreamEventStore}. */
export interface RedisStreamEventStoreOptions extends EventStoreOptions, RedisPortOptions {
  /**
   * A node-redis client (TCP), an `@upstash/redis` client (REST) or a
   * {@linkcode RedisCommandPort}. Never closed by the store.
   */
  readonly client: RedisClientInput;
  /**
   * Approximate length each stream is trimmed to on every `XADD` (`MAXLEN ~ n`); 10 000 by
   * default. A subscriber that falls further behind than this loses the oldest entries.
   */
  readonly maxLen?: number;
  /**
   * `block`: one blocking `XREAD` per channel on a dedicated connection (`client.duplicate()`),
   * the default over TCP. `poll`: one non-blocking `XREAD` for every channel each
   * `pollIntervalMs`, the only way over REST.
   */
  readonly read?: "block" | "poll";
  /** Pause between polls that found nothing, in ms; 100 by default. */
  readonly pollIntervalMs?: number;
  /** `BLOCK` of one blocking read, in ms (the read is simply repeated); 5 000 by default. */
  readonly blockMs?: number;
  /** Entries fetched per `XREAD`; 256 by default. */
  readonly readCount?: number;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, received ${value}`);
  }
  return value;
}

/** The stream id `XADD` replied with, as the publish's offset. */
function publishResult(reply: RedisReply): PublishResult {
  const offset = replyString(reply);
  return offset === undefined ? {} : { offset };
}

class StreamTransport implements EventTransport {
  readonly carriesText = true;
  readonly #port: RedisCommandPort;
  readonly #ownsPort: boolean;
  readonly #prefix: string;
  readonly #maxLen: string;
  readonly #settings: ReaderSettings;
  readonly #blocking = new Map<string, BlockingReader>();
  /** Stream key of each channel, made once. */
  readonly #keys = new Map<string, string>();
  readonly #poller: PollingReader | undefined;

  constructor(
    port: RedisCommandPort,
    ownsPort: boolean,
    prefix: string,
    options: RedisStreamEventStoreOptions,
  ) {
    this.#port = port;
    this.#ownsPort = ownsPort;
    this.#prefix = prefix;
    this.#maxLen = String(positiveInteger("maxLen", options.maxLen ?? 10_000));
    this.#settings = {
      count: positiveInteger("readCount", options.readCount ?? 256),
      blockMs: positiveInteger("blockMs", options.blockMs ?? 5_000),
      pollIntervalMs: positiveInteger("pollIntervalMs", options.pollIntervalMs ?? 100),
    };
    const read = options.read ?? (port.dedicated ? "block" : "poll");
    if (read !== "block" && read !== "poll") {
      throw new TypeError(`read must be "block" or "poll", received ${JSON.stringify(read)}`);
    }
    if (read === "block" && !port.dedicated) {
      throw new TypeError(
        'read: "block" needs a TCP client (a dedicated connection); REST clients poll',
      );
    }
    this.#poller = read === "poll" ? new PollingReader(port, this.#settings) : undefined;
  }

  send(channel: string, record: WireRecord): Promise<PublishResult> {
    let key = this.#keys.get(channel);
    if (key === undefined) this.#keys.set(channel, key = streamKey(this.#prefix, channel));
    return this.#port.send([
      "XADD",
      key,
      "MAXLEN",
      "~",
      this.#maxLen,
      "*",
      RECORD_FIELD,
      toWire(record),
    ])
      .then(publishResult);
  }

  async open(channel: string, sink: ChannelSink, fromOffset?: string): Promise<void> {
    if (fromOffset !== undefined && parseStreamId(fromOffset) === undefined) {
      throw new TypeError(
        `fromOffset of a Redis stream is a stream id such as 1700000000000-0 (two integers up to 2^64-1), received ${
          JSON.stringify(fromOffset)
        }`,
      );
    }
    const key = streamKey(this.#prefix, channel);
    const cursor: StreamCursor = {
      key,
      lastId: fromOffset ?? await lastEntryId(this.#port, key),
      sink,
    };
    const gap = fromOffset === undefined ? undefined : await this.#checkOffset(cursor, fromOffset);
    if (this.#poller) {
      this.#poller.add(channel, cursor);
    } else {
      const connection = await this.#port.dedicated!();
      connection.onError((error) => sink.error(error));
      this.#blocking.set(channel, new BlockingReader(connection, cursor, this.#settings));
    }
    // Reported once the subscription stands: a failed open reports nothing but its rejection.
    if (gap) sink.error(gap);
  }

  /**
   * Checks a `fromOffset` against the stream (one `XINFO STREAM`): past the last id ever given
   * → `RangeError`; older than entries trimmed away → the cursor moves to the oldest entry
   * still there, and the gap is returned for reporting.
   */
  async #checkOffset(cursor: StreamCursor, fromOffset: string): Promise<Error | undefined> {
    const info = await streamInfo(this.#port, cursor.key);
    const last = info?.lastGeneratedId ?? "0-0";
    if (compareStreamIds(fromOffset, last) > 0) {
      throw new RangeError(
        `fromOffset ${fromOffset} is past the end of stream ${JSON.stringify(cursor.key)}: ${
          info === undefined
            ? "the stream does not exist (no record was ever added to it)"
            : `its last id is ${last}`
        }, so no record ${fromOffset} exists`,
      );
    }
    return info && gapOf(cursor, fromOffset, info);
  }

  async close(channel: string): Promise<void> {
    this.#poller?.remove(channel);
    const reader = this.#blocking.get(channel);
    this.#blocking.delete(channel);
    await reader?.stop();
  }

  async shutdown(): Promise<void> {
    const readers = [...this.#blocking.values()];
    this.#blocking.clear();
    await Promise.all([...readers.map((reader) => reader.stop()), this.#poller?.stop()]);
    if (this.#ownsPort) await this.#port.close();
  }
}

/**
 * Cluster events over Redis Streams: at-least-once, with offsets. Each channel is a stream
 * (`<prefix>:stream:<TYPE>` in `MULTI_CHANNEL` mode, `<prefix>:stream:all` in `SINGLE_CHANNEL`
 * mode) trimmed with `XADD ... MAXLEN ~ maxLen`; each entry has one field, `d`, holding the
 * record as text, the same over TCP and REST: the default codec's JSON as it is, bytes as base64.
 * The stream id of each entry is the `offset` of the delivered message and of the publish result;
 * `subscribe(type, listener, { fromOffset })` delivers the entries after it. Over TCP each
 * channel is read with a blocking `XREAD` on a dedicated connection; over REST every channel is
 * polled with one `XREAD`. After a reconnect, reading goes on from the last delivered id, so every
 * entry whose publish resolved is delivered (possibly twice after a failure), unless trimming
 * removed it first.
 *
 * A `fromOffset` whose parts do not fit in 64 bits rejects with a `TypeError`, one past the
 * stream's last id with a `RangeError` naming both. Entries trimmed away (`maxLen`) before this
 * node read them, whether older than `fromOffset` or missed during an outage (checked when the
 * channel opens and after a failed read, never on every read), are reported once to `onError` as a
 * `BackendError` naming the ids between which they went; delivery goes on from the oldest entry.
 *
 * @example
 * ```ts ignore
 * import { Redis } from "@upstash/redis";
 * import { RedisStreamEventStore } from "@socketio4ts/stores/redis";
 *
 * const client = new Redis({ url: "http://127.0.0.1:18079", token: "socketio4ts-local-token" });
 * await using events = new RedisStreamEventStore({ client, prefix: "chat", maxLen: 1000 });
 * await events.subscribe("JOIN", (message) => console.log(message.offset, message.room));
 * const { offset } = await events.publish("JOIN", { sessionId: "s1", namespace: "/", room: "a" });
 * ```
 */
export class RedisStreamEventStore extends BaseEventStore {
  /**
   * Creates a Streams event store over a TCP or REST client.
   *
   * @param options client, trimming, read mode, node id, mode, prefix, codec and error hook.
   * @throws {RangeError} for a non-positive `maxLen`, `readCount`, `blockMs` or `pollIntervalMs`.
   */
  constructor(options: RedisStreamEventStoreOptions) {
    const port = portFor(options?.client, options);
    super(
      new StreamTransport(port, port !== options.client, resolvePrefix(options), options),
      { kind: EventStoreKind.STREAM, publishMode: PublishMode.RELIABLE },
      options,
    );
  }
}
