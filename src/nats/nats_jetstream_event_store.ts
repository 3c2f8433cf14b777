/**
 * {@linkcode NatsJetStreamEventStore}: cluster events on a NATS JetStream stream (at-least-once,
 * offsets, replay), on a connection the user opened (WebSocket or TCP).
 *
 * @module
 */

import { nanos } from "@nats-io/nats-core";
import type { NatsConnection } from "./connection_type.ts";
import {
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type JetStreamPublishOptions,
  type PubAck,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import {
  BackendError,
  BaseEventStore,
  type ChannelSink,
  EventStoreKind,
  type EventStoreOptions,
  type EventTransport,
  PublishMode,
  type PublishResult,
  resolvePrefix,
} from "../core/mod.ts";
import {
  assertFitsServer,
  assertNatsConnection,
  assertUsable,
  BACKEND,
  backendError,
  positiveInteger,
  resolveMaxMessageBytes,
  streamNameOf,
  subjectOf,
} from "./_shared.ts";
import { DEFAULT_NATS_TIMEOUT_MS } from "./nats_event_store.ts";
import { withTimeout } from "../core/_timers.ts";
import { InFlight } from "../core/_in_flight.ts";

/** Retention limits of the stream a {@linkcode NatsJetStreamEventStore} creates. */
export interface JetStreamRetention {
  /** Most messages kept in the stream (oldest dropped first); 1,000,000 by default. */
  readonly maxMsgs?: number;
  /** Most bytes kept in the stream (oldest dropped first); unlimited by default. */
  readonly maxBytes?: number;
  /** Longest a message is kept, in milliseconds; 24 hours by default. */
  readonly maxAgeMs?: number;
}

/** Options of {@linkcode NatsJetStreamEventStore}. */
export interface NatsJetStreamEventStoreOptions extends EventStoreOptions {
  /** Stream name; the prefix with `.` replaced by `_` by default. */
  readonly stream?: string;
  /** Limits of the stream when this store creates it (an existing stream keeps its own). */
  readonly retention?: JetStreamRetention;
  /** Where the stream keeps messages when this store creates it; `"file"` by default. */
  readonly storage?: "file" | "memory";
  /** Replicas of the stream when this store creates it; 1 by default. */
  readonly replicas?: number;
  /** How long a publish waits for the stream's acknowledgement, in ms; 5000 by default. */
  readonly timeoutMs?: number;
  /**
   * Extra attempts of a publish that got no acknowledgement (timeout or no responder); 0 by
   * default, like nats.js's `js.publish`. With 1 or more, every publish carries a `Nats-Msg-Id`
   * header, so that the stream stores a retried publish once; that header cost raw nats.js and
   * this store alike up to 8% of publish throughput in our runs. A retried publish is stored
   * when its retry arrives: publishes made meanwhile without awaiting it may be stored before it,
   * so order within a channel then holds only among publishes that needed no retry.
   */
  readonly publishRetries?: number;
  /** Messages pulled per request by each consumer; 256 by default. */
  readonly batchSize?: number;
}

const DEFAULT_MAX_MSGS = 1_000_000;
const DEFAULT_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** Bytes kept free under `max_payload` for the `Nats-Msg-Id` header of retried publishes. */
const HEADER_RESERVE = 128;
/** Lifetime of a pull request, in ms (nats.js retries a lost consumer at this interval). */
const PULL_EXPIRES_MS = 5_000;
const STREAM_NAME_PATTERN = /^[^.*>\s/\\]{1,255}$/;

interface OpenConsumer {
  readonly consumer: Consumer;
  readonly messages: ConsumerMessages;
  /** `created` of the stream this consumer reads: another value means the stream was replaced. */
  readonly created: string;
  /** Cleared when the consumer is replaced, so that it delivers nothing more. */
  readonly live: { active: boolean };
}

interface StartedConsumer {
  readonly entry: OpenConsumer;
  readonly stopped: Promise<Error | undefined>;
}

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

/**
 * Whether a publish failed because no stream captures its subject: nats.js reports the request's
 * "no responders" as `JetStreamNotEnabled` ("jetstream is not enabled"), and a stream named in
 * the request that is missing as API error 10059.
 */
function isStreamMissing(error: unknown): boolean {
  return (error instanceof Error && error.name === "JetStreamNotEnabled") ||
    isApiError(error, JetStreamApiCodes.StreamNotFound);
}

/** A `BackendError` message without the `nats: ` that `BackendError` puts before it. */
function withoutBackend(message: string): string {
  return message.startsWith(`${BACKEND}: `) ? message.slice(BACKEND.length + 2) : message;
}

function limit(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || (resolved <= 0 && resolved !== -1)) {
    throw new RangeError(
      `retention.${name} must be a positive integer (or -1 for no limit), received ${
        String(value)
      }`,
    );
  }
  return resolved;
}

/** A publish waiting for the end of its tick (see `JetStreamTransport.#publishAtEndOfTick`). */
interface UnissuedPublish {
  readonly subject: string;
  readonly bytes: Uint8Array;
  readonly resolve: (ack: PubAck) => void;
  readonly reject: (error: unknown) => void;
}

class JetStreamTransport implements EventTransport {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #prefix: string;
  readonly #config: Partial<StreamConfig> & { name: string; subjects: string[] };
  readonly #timeoutMs: number;
  readonly #attempts: number;
  readonly #batchSize: number;
  readonly #consumers = new Map<string, OpenConsumer>();
  readonly #subjects = new Map<string, string>();
  /** Consumers that stopped by themselves, being deleted on the server. */
  readonly #discarding = new Set<Promise<void>>();
  #ready: Promise<JetStreamManager> | undefined;
  #manager: JetStreamManager | undefined;
  /** A creation of the stream after it went missing, shared by everyone who noticed. */
  #recreating: Promise<JetStreamManager> | undefined;
  /** This tick's publishes, issued at its end by `#issuePublishes`, in the order they were made. */
  #unissued: UnissuedPublish[] = [];
  /**
   * Publishes not yet settled, counted here rather than watched by the store (`drain`): a
   * reaction of the store's on each publish's promise would stop V8's async stack trace of a
   * failed publish's error before the caller's frames.
   */
  readonly #publishing = new InFlight();

  constructor(
    nc: NatsConnection,
    prefix: string,
    config: Partial<StreamConfig> & { name: string; subjects: string[] },
    timeoutMs: number,
    attempts: number,
    batchSize: number,
  ) {
    this.#nc = nc;
    this.#js = jetstream(nc, { timeout: timeoutMs });
    this.#prefix = prefix;
    this.#config = config;
    this.#timeoutMs = timeoutMs;
    this.#attempts = attempts;
    this.#batchSize = batchSize;
  }

  get stream(): string {
    return this.#config.name;
  }

  /** Creates the stream if it is missing (once; retried after a failure). */
  ensureStream(): Promise<JetStreamManager> {
    this.#ready ??= this.#createStream().then((manager) => {
      this.#manager = manager;
      return manager;
    }, (error) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  /**
   * Forgets the stream created earlier and creates it again if it is missing (a memory stream
   * after a server restart, a deleted stream): once for all the publishes and consumers that
   * noticed at the same time.
   */
  #recreateStream(): Promise<JetStreamManager> {
    this.#recreating ??= (async () => {
      try {
        this.#ready = undefined;
        this.#manager = undefined;
        return await this.ensureStream();
      } finally {
        this.#recreating = undefined;
      }
    })();
    return this.#recreating;
  }

  async #createStream(): Promise<JetStreamManager> {
    const name = this.#config.name;
    let manager: JetStreamManager;
    try {
      manager = await jetstreamManager(this.#nc, { timeout: this.#timeoutMs });
    } catch (error) {
      throw backendError(
        "JetStream is not available on this connection (is the server started with JetStream, and the account allowed to use it?)",
        error,
      );
    }
    const check = async (): Promise<boolean> => {
      try {
        const info = await manager.streams.info(name);
        const wanted = this.#config.subjects[0]!;
        if (!info.config.subjects?.includes(wanted)) {
          throw new BackendError(
            BACKEND,
            `stream ${name} exists but does not capture ${wanted} (its subjects: ${
              JSON.stringify(info.config.subjects ?? [])
            }); choose another prefix or stream name`,
          );
        }
        return true;
      } catch (error) {
        if (isApiError(error, JetStreamApiCodes.StreamNotFound)) return false;
        throw backendError(`could not read stream ${name}`, error);
      }
    };
    if (await check()) return manager;
    try {
      await manager.streams.add(this.#config);
    } catch (error) {
      // Another node may have created it meanwhile (with other limits): use it if it fits.
      if (await check().catch(() => false)) return manager;
      throw backendError(`could not create stream ${name}`, error);
    }
    return manager;
  }

  /**
   * The options of one `js.publish`: with retries, a `Nats-Msg-Id` so that the stream stores a
   * retried publish once.
   */
  #publishOptions(): Partial<JetStreamPublishOptions> {
    return this.#attempts > 1
      ? { timeout: this.#timeoutMs, retries: this.#attempts, msgID: crypto.randomUUID() }
      : { timeout: this.#timeoutMs };
  }

  async send(channel: string, bytes: Uint8Array): Promise<PublishResult> {
    this.#publishing.begin();
    try {
      let subject = this.#subjects.get(channel);
      if (subject === undefined) {
        this.#subjects.set(channel, subject = subjectOf(this.#prefix, channel));
      }
      assertUsable(this.#nc, `publish to ${subject}`);
      assertFitsServer(this.#nc, channel, bytes, this.#attempts > 1 ? HEADER_RESERVE : 0);
      if (!this.#manager) {
        try {
          await this.ensureStream();
        } catch (error) {
          // The publishes waiting for the stream share one failure: each gets an error of its
          // own, created here, whose stack leads back to its caller.
          throw error instanceof BackendError
            ? new BackendError(BACKEND, withoutBackend(error.message), { cause: error })
            : error;
        }
      }
      let sequence: number;
      try {
        sequence = (await this.#publishAtEndOfTick(subject, bytes)).seq;
      } catch (error) {
        if (!isStreamMissing(error)) throw this.#noAcknowledgement(subject, error);
        // The stream created earlier is gone (a memory stream after a server restart, a deleted
        // stream): create it again and publish once more.
        sequence = await this.#publishAgain(subject, bytes);
      }
      return { offset: String(sequence) };
    } finally {
      this.#publishing.end();
    }
  }

  /** Resolves once every publish made so far has settled. */
  drain(): Promise<void> {
    return this.#publishing.idle();
  }

  /**
   * `js.publish` at the end of this tick, with the tick's other publishes, in call order. nats.js
   * creates two errors per request to keep its caller's stack (unless the connection sets
   * `noAsyncTraces`); issued from a microtask instead of under the store's and the caller's
   * frames, they cost this store 3 µs less CPU per publish in `scripts/bench/nats.ts` than when
   * `send` called `js.publish` itself (the store's errors keep the caller's stack, as V8 follows
   * `await`).
   */
  #publishAtEndOfTick(subject: string, bytes: Uint8Array): Promise<PubAck> {
    return new Promise((resolve, reject) => {
      if (this.#unissued.push({ subject, bytes, resolve, reject }) === 1) {
        queueMicrotask(this.#issuePublishes);
      }
    });
  }

  readonly #issuePublishes = (): void => {
    const publishes = this.#unissued;
    this.#unissued = [];
    for (const { subject, bytes, resolve, reject } of publishes) {
      this.#js.publish(subject, bytes, this.#publishOptions()).then(resolve, reject);
    }
  };

  async #publishAgain(subject: string, bytes: Uint8Array): Promise<number> {
    const stream = this.#config.name;
    try {
      await this.#recreateStream();
    } catch (error) {
      throw this.#noAcknowledgement(
        subject,
        error,
        `stream ${stream} does not exist and could not be created`,
      );
    }
    try {
      const ack = await this.#js.publish(
        subject,
        bytes,
        this.#publishOptions(),
      );
      return ack.seq;
    } catch (error) {
      throw this.#noAcknowledgement(
        subject,
        error,
        isStreamMissing(error)
          ? `stream ${stream} does not exist (it was created again, but no stream answered the publish)`
          : undefined,
      );
    }
  }

  #noAcknowledgement(subject: string, error: unknown, why?: string): BackendError {
    const reason = error instanceof BackendError
      ? withoutBackend(error.message)
      : error instanceof Error
      ? error.message
      : String(error);
    return new BackendError(
      BACKEND,
      `publish to ${subject} got no acknowledgement from stream ${this.#config.name} (after ${this.#attempts} attempt${
        this.#attempts === 1 ? "" : "s"
      } of ${this.#timeoutMs} ms)${why === undefined ? "" : `: ${why}`}: ${reason}`,
      { cause: error },
    );
  }

  async open(channel: string, sink: ChannelSink, fromOffset?: string): Promise<void> {
    const subject = subjectOf(this.#prefix, channel);
    let after: number | undefined;
    if (fromOffset !== undefined) {
      if (!/^\d{1,15}$/.test(fromOffset)) {
        throw new TypeError(
          `fromOffset of a JetStream store is a stream sequence number, received ${
            JSON.stringify(fromOffset)
          }`,
        );
      }
      after = Number(fromOffset);
    }
    assertUsable(this.#nc, `subscribe to ${subject}`);
    const manager = await this.ensureStream();
    const stream = this.#config.name;
    let info: StreamInfo;
    try {
      info = await manager.streams.info(stream);
    } catch (error) {
      throw backendError(`could not start a consumer of ${subject} on stream ${stream}`, error);
    }
    const { first_seq: first, last_seq: last } = info.state;
    if (after !== undefined && after > last) {
      throw new RangeError(
        `fromOffset ${after} is past the last sequence of stream ${stream}, ${last}`,
      );
    }
    // "New" messages are those after the stream's current last sequence. An explicit start
    // sequence (rather than deliver_policy "new") also lets the ordered consumer resume from
    // its cursor when it is recreated after a reconnect.
    const start = after === undefined ? last + 1 : after + 1;
    const { entry, stopped } = await this.#start(subject, sink, start, info.created);
    this.#consumers.set(channel, entry);
    void this.#watch(channel, subject, entry, sink, stopped);
    if (start < first) {
      sink.error(
        new BackendError(
          BACKEND,
          `stream ${stream} no longer holds sequence${
            first - start === 1 ? ` ${start}` : `s ${start} to ${first - 1}`
          } after fromOffset ${after}: removed by the stream's limits (retention) before this subscriber read them; reading ${subject} from sequence ${first}`,
        ),
      );
    }
  }

  /**
   * Starts an ordered consumer of `subject` from stream sequence `start` and waits until the
   * server has its subscription.
   */
  async #start(
    subject: string,
    sink: ChannelSink,
    start: number,
    created: string,
  ): Promise<StartedConsumer> {
    const stream = this.#config.name;
    const live = { active: true };
    let entry: OpenConsumer;
    try {
      const consumer = await this.#js.consumers.get(stream, {
        filter_subjects: subject,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: Math.max(1, start),
      });
      const messages = await consumer.consume({
        max_messages: this.#batchSize,
        // Also the retry interval of the consumer's recovery after a reconnect (nats.js backs off
        // by `expires`): short, so a restarted server is read again within seconds.
        expires: PULL_EXPIRES_MS,
        callback: (msg) => {
          if (live.active) sink.record(msg.data, String(msg.seq));
        },
      });
      entry = { consumer, messages, created, live };
    } catch (error) {
      throw backendError(`could not start a consumer of ${subject} on stream ${stream}`, error);
    }
    // `consume` resolves before the server has seen the consumer's subscription: a refused one
    // (`-ERR` Permissions Violation) stops the consumer with that error before the PONG of a
    // flush arrives. `refusal` is set one reaction after that stop, so before the flush's
    // continuation runs.
    let refusal: Error | undefined;
    const stopped = entry.messages.closed().then(
      (result) => result instanceof Error ? result : undefined,
      (error: unknown) => error instanceof Error ? error : new Error(String(error)),
    );
    void stopped.then((error) => {
      refusal ??= error;
    });
    try {
      await withTimeout(
        Promise.race([
          this.#nc.flush(),
          // A consumer stopped without an error (the connection closing) waits for the flush.
          stopped.then((error) => error === undefined ? new Promise<never>(() => {}) : undefined),
        ]),
        this.#timeoutMs,
        () =>
          new BackendError(
            BACKEND,
            `the NATS server did not confirm the consumer of ${subject} within ${this.#timeoutMs} ms`,
          ),
      );
    } catch (error) {
      await this.#discard(entry);
      throw backendError(`could not start a consumer of ${subject} on stream ${stream}`, error);
    }
    if (refusal !== undefined) {
      await this.#discard(entry);
      throw backendError(
        `the NATS server refused the consumer of ${subject} on stream ${stream}`,
        refusal,
      );
    }
    return { entry, stopped };
  }

  async #watch(
    channel: string,
    subject: string,
    entry: OpenConsumer,
    sink: ChannelSink,
    stopped: Promise<Error | undefined>,
  ): Promise<void> {
    const current = () => this.#consumers.get(channel) === entry;
    // A consumer that nats.js stopped with an error (the server refused or removed its
    // subscription, a bad request, a consumer it could not recreate) never resumes by itself.
    void stopped.then((error) => {
      if (error !== undefined && current()) {
        this.#consumers.delete(channel);
        sink.ended(
          backendError(`the consumer of ${subject} on stream ${this.#config.name} stopped`, error),
        );
        this.#forget(entry);
      }
    });
    let checking: Promise<void> | undefined;
    const check = (recreate: boolean) => {
      checking ??= this.#checkStream(channel, subject, entry, sink, recreate).finally(() => {
        checking = undefined;
      });
    };
    try {
      for await (const status of entry.messages.status()) {
        if (!current()) break;
        if (status.type === "stream_not_found") {
          if (checking === undefined) {
            sink.error(
              new BackendError(
                BACKEND,
                `stream ${this.#config.name} was not found while consuming ${subject}; creating it again`,
              ),
            );
          }
          check(true);
        } else if (status.type === "ordered_consumer_recreated") {
          // The stream may have been replaced meanwhile (by another node) without this consumer
          // ever finding it missing.
          check(false);
        }
      }
    } catch {
      // the status iterator ends with the consumer
    }
  }

  /**
   * Creates the stream again when it is missing (`recreate`), and moves the channel to a new
   * consumer when the stream is not the one `entry` read: nats.js's ordered consumer would resume
   * the new stream after its cursor in the old one, skipping the new stream's first messages.
   */
  async #checkStream(
    channel: string,
    subject: string,
    entry: OpenConsumer,
    sink: ChannelSink,
    recreate: boolean,
  ): Promise<void> {
    const stream = this.#config.name;
    const current = () => this.#consumers.get(channel) === entry;
    let info: StreamInfo;
    try {
      const manager = recreate ? await this.#recreateStream() : await this.ensureStream();
      info = await manager.streams.info(stream);
    } catch (error) {
      if (current() && recreate) {
        sink.error(
          backendError(
            `stream ${stream} was not found while consuming ${subject} and could not be created again; retrying`,
            error,
          ),
        );
      }
      return;
    }
    if (!current() || info.created === entry.created) return;
    // A new stream: everything it holds is unread by this channel.
    entry.live.active = false;
    entry.messages.stop();
    const start = Math.max(1, info.state.first_seq);
    let next: StartedConsumer;
    try {
      next = await this.#start(subject, sink, start, info.created);
    } catch (error) {
      if (current()) {
        this.#consumers.delete(channel);
        sink.ended(
          backendError(
            `stream ${stream} was created again and the consumer of ${subject} could not be restarted on it`,
            error,
          ),
        );
        this.#forget(entry);
      }
      return;
    }
    if (!current()) {
      this.#forget(next.entry);
      return;
    }
    this.#consumers.set(channel, next.entry);
    this.#forget(entry);
    sink.error(
      new BackendError(
        BACKEND,
        `stream ${stream} was created again while consuming ${subject} (messages the old stream held and this node had not read are lost); reading the new stream from sequence ${start}`,
      ),
    );
    void this.#watch(channel, subject, next.entry, sink, next.stopped);
  }

  /** Discards a consumer no longer tracked, in the background (awaited by `shutdown`). */
  #forget(entry: OpenConsumer): void {
    const discarding = this.#discard(entry);
    this.#discarding.add(discarding);
    void discarding.then(() => this.#discarding.delete(discarding));
  }

  /** Stops a consumer this transport no longer tracks and deletes it on the server. */
  async #discard(entry: OpenConsumer): Promise<void> {
    entry.messages.stop();
    await withTimeout(entry.messages.closed(), this.#timeoutMs, () => new Error("stop timed out"))
      .catch(() => {});
    if (this.#nc.isClosed() || this.#nc.isDraining()) return;
    // Ordered consumers are ephemeral; delete now rather than after the inactivity threshold.
    await withTimeout(entry.consumer.delete(), this.#timeoutMs, () => new Error("delete timed out"))
      .catch(() => {});
  }

  async close(channel: string): Promise<void> {
    const entry = this.#consumers.get(channel);
    if (!entry) return;
    this.#consumers.delete(channel);
    await this.#discard(entry);
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.#consumers.keys()].map((channel) => this.close(channel)));
    await Promise.all(this.#discarding);
  }
}

/**
 * Event store on a NATS JetStream stream (at-least-once). One stream per prefix captures
 * `<prefix>.>`; each event type is a subject `<prefix>.<TYPE>` (`<prefix>.all` in
 * `SINGLE_CHANNEL` mode). The stream is created when missing (concurrent creation by several
 * nodes is fine; an existing stream keeps its limits). Each subscribed channel is read by an
 * ephemeral ordered consumer of this node, starting after the stream's last message or after a
 * given `fromOffset`; the stream sequence is the `offset` of each delivered message, and
 * `publish` resolves with the sequence once the stream acknowledged the message (it rejects with
 * a `BackendError` when no acknowledgement arrives after the configured retries). A consumer whose
 * inbox subscription the server refuses makes `subscribe` reject with a `BackendError` naming the
 * subject and the server's reason; a consumer that nats.js stops with an error later (it does not
 * resume such a one) is reported to `onError`, and the next `subscribe` of its type starts another.
 *
 * Works on a WebSocket connection (`wsconnect` from `@nats-io/nats-core`) or a TCP one (`connect`
 * from `@nats-io/transport-node`); the connection is yours to close. Each publish is a nats.js
 * request, which builds two stack traces unless the connection has `noAsyncTraces: true`: that
 * option cut the CPU per publish by about 30% in `scripts/bench/nats.ts`, for raw nats.js and this
 * store alike, and the `BackendError` of a failed publish carries the caller's stack either way.
 *
 * @example
 * ```ts ignore
 * import { connect } from "@nats-io/transport-node";
 * import { NatsJetStreamEventStore } from "@socketio4ts/stores/nats";
 *
 * const nc = await connect({ servers: "127.0.0.1:14222", noAsyncTraces: true });
 * const events = new NatsJetStreamEventStore(nc, {
 *   prefix: "chat-app",
 *   retention: { maxMsgs: 100_000, maxAgeMs: 60 * 60 * 1000 },
 * });
 * await events.subscribe("DISPATCH", (message) => console.log(message.offset, message.packet));
 * const { offset } = await events.publish("DISPATCH", { namespace: "/", room: "", packet: "hi" });
 * console.log(`stored at sequence ${offset}`);
 * await events.shutdown();
 * await nc.close();
 * ```
 */
export class NatsJetStreamEventStore extends BaseEventStore {
  /** The connection this store works on (owned by the caller). */
  readonly connection: NatsConnection;
  /** Name of the stream. */
  readonly stream: string;
  readonly #transport: JetStreamTransport;

  /**
   * Creates a node of the cluster on a connection you opened.
   *
   * @param nc an open NATS connection (WebSocket or TCP) to a server with JetStream; never closed
   *   by the store.
   * @param options stream, retention and the options every event store accepts.
   * @throws {TypeError} when `nc` is not a NATS connection or the stream name is invalid.
   * @throws {RangeError} for invalid limits, or `maxMessageBytes` over the server's `max_payload`.
   */
  constructor(nc: NatsConnection, options: NatsJetStreamEventStoreOptions = {}) {
    assertNatsConnection(nc);
    const prefix = resolvePrefix(options);
    const stream = options.stream ?? streamNameOf(prefix);
    if (typeof stream !== "string" || !STREAM_NAME_PATTERN.test(stream)) {
      throw new TypeError(
        `stream must be 1-255 characters without . * > / \\ or spaces, received ${
          JSON.stringify(stream)
        }`,
      );
    }
    const timeoutMs = positiveInteger("timeoutMs", options.timeoutMs, DEFAULT_NATS_TIMEOUT_MS);
    const retries = options.publishRetries ?? 0;
    if (!Number.isSafeInteger(retries) || retries < 0) {
      throw new RangeError(
        `publishRetries must be a non-negative integer, received ${String(retries)}`,
      );
    }
    const batchSize = positiveInteger("batchSize", options.batchSize, 256);
    const replicas = positiveInteger("replicas", options.replicas, 1);
    const storage = options.storage ?? "file";
    if (storage !== "file" && storage !== "memory") {
      throw new TypeError(`storage must be "file" or "memory", received ${String(storage)}`);
    }
    const retention = options.retention ?? {};
    const maxAgeMs = limit("maxAgeMs", retention.maxAgeMs, DEFAULT_MAX_AGE_MS);
    const config = {
      name: stream,
      subjects: [`${prefix}.>`],
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      storage: storage === "file" ? StorageType.File : StorageType.Memory,
      num_replicas: replicas,
      max_msgs: limit("maxMsgs", retention.maxMsgs, DEFAULT_MAX_MSGS),
      max_bytes: limit("maxBytes", retention.maxBytes, -1),
      max_age: maxAgeMs === -1 ? 0 : nanos(maxAgeMs),
    };
    const attempts = retries + 1;
    const maxMessageBytes = resolveMaxMessageBytes(
      nc,
      options.maxMessageBytes,
      attempts > 1 ? HEADER_RESERVE : 0,
    );
    const transport = new JetStreamTransport(nc, prefix, config, timeoutMs, attempts, batchSize);
    super(
      transport,
      { kind: EventStoreKind.STREAM, publishMode: PublishMode.RELIABLE },
      { ...options, maxMessageBytes },
    );
    this.connection = nc;
    this.stream = stream;
    this.#transport = transport;
  }

  /**
   * Creates the stream now if it is missing (publish and subscribe do it on first use). Useful to
   * surface a configuration problem at startup.
   *
   * @throws {BackendError} when JetStream is unavailable or the stream cannot be created.
   */
  async ready(): Promise<void> {
    await this.#transport.ensureStream();
  }
}
