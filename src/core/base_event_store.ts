/**
 * {@linkcode BaseEventStore} implements the whole {@linkcode EventStore} contract once —
 * validation, node-id stamping, encoding, size limits, self-filtering, channel layout per mode,
 * listener isolation, error reporting and the shutdown state — over an {@linkcode EventTransport}
 * that a backend supplies: byte-level send/open/close on logical channels.
 *
 * @module
 */

import { callErrorHook } from "./_error_hook.ts";
import { InFlight } from "./_in_flight.ts";
import {
  type Codec,
  msgpackCodec,
  recordByteLength,
  recordBytes,
  type WireRecord,
} from "./codec.ts";
import type {
  EventErrorContext,
  EventErrorHandler,
  EventListener,
  EventStore,
  PublishResult,
  SubscribeOptions,
} from "./contracts.ts";
import { describeValue, EventStoreClosedError } from "./errors.ts";
import { hybridCodec } from "./hybrid_codec.ts";
import type { OwnRecordTest } from "./own_records.ts";
import { type EventStoreKind, EventStoreMode, PublishMode } from "./event_types.ts";
import {
  type EventMessage,
  type EventPayload,
  type EventTypeName,
  type MessageRegistry,
  messageRegistry,
} from "./messages.ts";
import { assertName } from "./values.ts";

/** Logical name of the one channel used in `SINGLE_CHANNEL` mode. */
export const SINGLE_CHANNEL_NAME = "all";

/** Default limit on one encoded message: 2 MiB, so a 1 MiB payload always fits. */
export const DEFAULT_MAX_MESSAGE_BYTES = 2 * 1024 * 1024;

/** Default channel prefix. */
export const DEFAULT_PREFIX = "socketio4ts";

/** Called by a transport for each record received on an open channel, in channel order. */
export interface ChannelSink {
  /**
   * One record (text only from a transport that {@linkcode EventTransport.carriesText}), with
   * its backend offset on reliable kinds.
   */
  record(record: WireRecord, offset?: string): void;
  /** A transport-level problem that did not end the subscription (reported to `onError`). */
  error(error: Error): void;
  /**
   * The backend ended the subscription by itself and the transport will not resume it (the
   * server refused or removed it): the transport has already forgotten the channel. The error
   * goes to `onError`, and the channel counts as closed, so the next `subscribe` of one of its
   * types opens it again.
   */
  ended(error: Error): void;
}

/** Byte-level I/O on logical channels; what an event backend supplies. */
export interface EventTransport {
  /**
   * Whether the transport carries text records as text. Then `send` gets text from codecs that
   * write it, and the default codec is {@linkcode hybridCodec}; otherwise text is sent as its
   * UTF-8 bytes, and the default codec is {@linkcode msgpackCodec}.
   */
  readonly carriesText?: boolean;
  /** Sends one record; resolves once the backend accepted it (or rejects). */
  send(channel: string, record: WireRecord): Promise<PublishResult>;
  /**
   * Starts receiving a channel; resolves once the subscription is active, so that any record
   * sent after that is received. `fromOffset` (reliable kinds) resumes after that offset.
   */
  open(channel: string, sink: ChannelSink, fromOffset?: string): Promise<void>;
  /** Stops receiving a channel. */
  close(channel: string): Promise<void>;
  /**
   * Sends at once whatever waits for a batch, and resolves once every `send` made so far has
   * settled. A transport that has it is asked on shutdown instead of having each publish
   * watched: watching costs a promise reaction per publish, and keeping thousands of them alive
   * while a batch is in flight makes the garbage collector copy them.
   */
  drain?(): Promise<void>;
  /** Releases what the transport created (never a client the user passed in). */
  shutdown(): Promise<void>;
}

/** Options every event store accepts. */
export interface EventStoreOptions {
  /** This node's id (stable, e.g. the host name); random by default. */
  readonly nodeId?: string;
  /** Channel layout; `MULTI_CHANNEL` by default. */
  readonly mode?: EventStoreMode;
  /**
   * Prefix of every channel name, so applications can share a broker; `socketio4ts` by default.
   * 1–100 characters of `A-Z a-z 0-9 . _ -`, a `.` only between two others (see
   * {@linkcode assertPrefix}).
   */
  readonly prefix?: string;
  /**
   * Wire codec; by default {@linkcode hybridCodec} where the backend carries text natively
   * (Redis, memory) and {@linkcode msgpackCodec} elsewhere. Every node of a cluster must use the
   * same codec.
   */
  readonly codec?: Codec;
  /** Registry that validates messages; the default registry by default. */
  readonly registry?: MessageRegistry;
  /** Largest encoded message accepted by `publish`, in bytes; 2 MiB by default. */
  readonly maxMessageBytes?: number;
  /** Receives errors that do not end a subscription; logs to `console.error` by default. */
  readonly onError?: EventErrorHandler;
}

/** What a backend tells the base class about itself. */
export interface EventStoreTraits {
  /** Transport kind. */
  readonly kind: EventStoreKind;
  /** Delivery guarantee. */
  readonly publishMode: PublishMode;
}

// Words of `A-Z a-z 0-9 _ -` joined by single dots: NATS subjects have no empty token.
const PREFIX_PATTERN = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
const PREFIX_MAX_LENGTH = 100;

/**
 * Checks a channel prefix: 1–100 characters of `A-Z a-z 0-9 . _ -`, where a `.` separates two
 * words (not first, not last, never two in a row: `app..x` or `app.` would be subjects with an
 * empty token, which NATS drops silently).
 */
export function assertPrefix(prefix: unknown): asserts prefix is string {
  if (
    typeof prefix !== "string" || prefix.length > PREFIX_MAX_LENGTH || !PREFIX_PATTERN.test(prefix)
  ) {
    throw new TypeError(
      `prefix must be 1-100 characters of A-Z a-z 0-9 . _ -, with a "." only between two others (valid in every broker's channel names), received ${
        describeValue(prefix)
      }`,
    );
  }
}

/** Calls `operation` now; a throw becomes a rejection (a transport's `open` may throw). */
function settledCall<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return operation();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Where a received record came from, for error reports. */
function where(channel: string, offset: string | undefined): { channel: string; offset?: string } {
  return offset === undefined ? { channel } : { channel, offset };
}

function defaultErrorHandler(error: Error, context: EventErrorContext): void {
  console.error(`[socketio4ts] event ${context.stage} error`, context, error);
}

interface ChannelState {
  /** Settles once the transport opened the channel (or failed to). */
  opened: Promise<void>;
  /**
   * Until `opened` settles, the listeners that subscribe calls added while it was pending: they
   * are removed again if the channel fails to open, so a rejected subscribe leaves nothing behind.
   */
  added: [EventTypeName, EventListener<EventTypeName>][] | undefined;
}

/** What a channel's sink keeps between records. */
interface ReceiveState {
  /** The offset of the last record received on the channel. */
  lastOffset: string | undefined;
  /**
   * The type name that a received message's `type` is replaced with when equal: the channel's
   * type in `MULTI_CHANNEL` mode, the last delivered type in `SINGLE_CHANNEL` mode. A freshly
   * decoded string has no hash yet, so each map lookup by it (the registry's, the listeners')
   * would compute one: about 90 ns per record, an eighth of decoding a small message. An equal
   * string that was looked up before has its hash.
   */
  type: string | undefined;
}

/** The shared implementation of {@linkcode EventStore}; backends extend it with a transport. */
export abstract class BaseEventStore implements EventStore {
  /** This node's id. */
  readonly nodeId: string;
  /** Channel layout. */
  readonly mode: EventStoreMode;
  /** Channel prefix. */
  readonly prefix: string;
  /** Transport kind. */
  readonly kind: EventStoreKind;
  /** Delivery guarantee. */
  readonly publishMode: PublishMode;
  /** Wire codec. */
  readonly codec: Codec;
  /** Whether text records go to the transport as text. */
  readonly #sendsText: boolean;
  /** Largest encoded message accepted by `publish`. */
  readonly maxMessageBytes: number;

  readonly #transport: EventTransport;
  readonly #transportDrains: boolean;
  readonly #registry: MessageRegistry;
  readonly #onError: EventErrorHandler;
  // Arrays, copied on subscribe: delivery iterates them without an iterator object.
  readonly #listeners = new Map<string, readonly EventListener<EventTypeName>[]>();
  readonly #channels = new Map<string, ChannelState>();
  // Channels an unsubscribe is closing, until the transport has closed them.
  readonly #closing = new Map<string, Promise<void>>();
  // One state per channel, kept by its sink: delivery updates a field, not a map entry.
  readonly #receiveStates = new Map<string, ReceiveState>();
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed: Promise<void> | undefined;

  /**
   * Sets up the shared state; a backend calls it with its transport.
   *
   * @param transport the backend's byte-level I/O.
   * @param traits kind and delivery guarantee of the backend.
   * @param options options shared by every event store.
   */
  protected constructor(
    transport: EventTransport,
    traits: EventStoreTraits,
    options: EventStoreOptions = {},
  ) {
    const nodeId = options.nodeId ?? crypto.randomUUID();
    assertName("nodeId", nodeId);
    const mode = options.mode ?? EventStoreMode.MULTI_CHANNEL;
    if (mode !== EventStoreMode.MULTI_CHANNEL && mode !== EventStoreMode.SINGLE_CHANNEL) {
      throw new TypeError(
        `mode must be MULTI_CHANNEL or SINGLE_CHANNEL, received ${describeValue(mode)}`,
      );
    }
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    assertPrefix(prefix);
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes <= 0) {
      throw new RangeError(
        `maxMessageBytes must be a positive integer, received ${describeValue(maxMessageBytes)}`,
      );
    }
    this.nodeId = nodeId;
    this.mode = mode;
    this.prefix = prefix;
    this.kind = traits.kind;
    this.publishMode = traits.publishMode;
    this.codec = options.codec ?? (transport.carriesText ? hybridCodec : msgpackCodec);
    this.#sendsText = transport.carriesText === true;
    this.maxMessageBytes = maxMessageBytes;
    this.#transport = transport;
    this.#transportDrains = typeof transport.drain === "function";
    this.#isOwnRecord = this.codec.ownRecordTest?.(nodeId);
    this.#registry = options.registry ?? messageRegistry;
    this.#onError = options.onError ?? defaultErrorHandler;
  }

  /** Whether `shutdown()` has been called. */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Logical channel that carries `type` in this store's mode. */
  channelOf(type: string): string {
    return this.mode === EventStoreMode.SINGLE_CHANNEL ? SINGLE_CHANNEL_NAME : type;
  }

  /** Offset of the last message delivered on the channel of `type` (reliable kinds), if any. */
  lastOffset(type: EventTypeName): string | undefined {
    return this.#receiveStates.get(this.channelOf(type))?.lastOffset;
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inFlight.add(promise);
    const forget = () => this.#inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /** {@inheritDoc EventStore.publish} */
  publish<T extends EventTypeName>(type: T, payload: EventPayload<T>): Promise<PublishResult> {
    let record: WireRecord;
    try {
      if (this.#closed) throw new EventStoreClosedError(this.nodeId, `publish(${String(type)})`);
      if (typeof payload !== "object" || payload === null) {
        this.#registry.assertType(type);
        throw new TypeError(
          `payload of ${type} must be an object, received ${describeValue(payload)}`,
        );
      }
      // One copy of the payload with the envelope set by us, written after it so that it wins (a
      // caller's offset is dropped). Spreading first lets V8 clone the payload's shape at once.
      const message: Record<string, unknown> = { ...payload, type, nodeId: this.nodeId };
      if (message.offset !== undefined) delete message.offset;
      // A payload's own nodeId key (even one holding undefined) would keep its place: move ours to
      // the end, where the codec's own-record test (Codec.ownRecordTest) looks for it.
      if (Object.hasOwn(payload, "nodeId")) {
        delete message.nodeId;
        message.nodeId = this.nodeId;
      }
      // Checks the type too.
      this.#registry.validate(message);
      record = this.codec.encode(message);
      const size = recordByteLength(record, this.maxMessageBytes);
      if (size > this.maxMessageBytes) {
        throw new RangeError(
          `${type} message encodes to ${size} bytes, over maxMessageBytes (${this.maxMessageBytes}); nothing was sent`,
        );
      }
      if (typeof record === "string" && !this.#sendsText) record = recordBytes(record);
    } catch (error) {
      return Promise.reject(error);
    }
    const sent = this.#transport.send(this.channelOf(type), record);
    // Transports that confirm a tick's publishes together return one promise for all of them:
    // it is watched once. A transport that can drain itself is not watched at all.
    if (!this.#transportDrains && sent !== this.#lastSent) {
      this.#lastSent = sent;
      this.#publishing.begin();
      sent.then(this.#publishSettled, this.#publishSettled);
    }
    return sent;
  }

  readonly #isOwnRecord: OwnRecordTest | undefined;

  // Publishes in flight are counted, not kept: shutdown() only needs to know when none is left.
  #lastSent: Promise<PublishResult> | undefined;
  readonly #publishing = new InFlight();
  readonly #publishSettled = (): void => this.#publishing.end();

  #publishesSettled(): Promise<void> {
    return this.#transportDrains ? this.#transport.drain!() : this.#publishing.idle();
  }

  /** {@inheritDoc EventStore.subscribe} */
  subscribe<T extends EventTypeName>(
    type: T,
    listener: EventListener<T>,
    options: SubscribeOptions = {},
  ): Promise<void> {
    try {
      if (this.#closed) throw new EventStoreClosedError(this.nodeId, `subscribe(${String(type)})`);
      this.#registry.assertType(type);
      if (typeof listener !== "function") {
        throw new TypeError(
          `listener of ${type} must be a function, received ${describeValue(listener)}`,
        );
      }
      if (options.fromOffset !== undefined) {
        if (this.publishMode !== PublishMode.RELIABLE) {
          throw new TypeError(
            `fromOffset needs a reliable event store; this ${this.kind} store is at-most-once`,
          );
        }
        assertName("fromOffset", options.fromOffset);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const channel = this.channelOf(type);
    const existing = this.#channels.get(channel);
    if (existing && options.fromOffset !== undefined) {
      return Promise.reject(
        new TypeError(
          `channel ${channel} is already open: fromOffset applies only to the subscription that opens a channel`,
        ),
      );
    }
    const added = this.#addListener(type, listener as EventListener<EventTypeName>);
    if (existing) {
      if (added) existing.added?.push([type, added]);
      return existing.opened;
    }
    const state: ChannelState = { opened: Promise.resolve(), added: added ? [[type, added]] : [] };
    const sink = this.#sinkFor(channel, state);
    // An unsubscribe of this channel may still be closing it: the transport closes channels by
    // name, so opening before that close is done would have the close end the new subscription.
    const closing = this.#closing.get(channel);
    const open = () => this.#transport.open(channel, sink, options.fromOffset);
    state.opened = closing === undefined ? settledCall(open) : closing.then(open);
    this.#channels.set(channel, state);
    state.opened.then(() => {
      state.added = undefined;
    }, () => {
      if (this.#channels.get(channel) === state) this.#channels.delete(channel);
      for (const [addedType, addedListener] of state.added ?? []) {
        this.#removeListener(addedType, addedListener);
      }
      state.added = undefined;
    });
    return this.#track(state.opened);
  }

  /** Adds a listener of `type`; returns it if it was not there yet. */
  #addListener(
    type: EventTypeName,
    listener: EventListener<EventTypeName>,
  ): EventListener<EventTypeName> | undefined {
    const listeners = this.#listeners.get(type) ?? [];
    if (listeners.includes(listener)) return undefined;
    this.#listeners.set(type, [...listeners, listener]);
    return listener;
  }

  #removeListener(type: EventTypeName, listener: EventListener<EventTypeName>): void {
    const listeners = this.#listeners.get(type)?.filter((other) => other !== listener);
    if (listeners === undefined) return;
    if (listeners.length > 0) this.#listeners.set(type, listeners);
    else this.#listeners.delete(type);
  }

  /** {@inheritDoc EventStore.unsubscribe} */
  async unsubscribe(type: EventTypeName): Promise<void> {
    if (this.#closed) return;
    this.#registry.assertType(type);
    this.#listeners.delete(type);
    const channel = this.channelOf(type);
    const stillNeeded = [...this.#listeners.keys()].some((other) =>
      this.channelOf(other) === channel
    );
    const state = this.#channels.get(channel);
    // The listeners are gone already: should the pending open fail, its clean-up must not remove
    // the same listener subscribed again meanwhile.
    if (state?.added) state.added = state.added.filter(([added]) => added !== type);
    if (stillNeeded || !state) return;
    this.#channels.delete(channel);
    const closing = (async () => {
      await state.opened.catch(() => {});
      await this.#transport.close(channel);
    })();
    // A subscribe made meanwhile opens the channel again once this close is over, failed or not.
    const closed = closing.then(() => {}, () => {});
    this.#closing.set(channel, closed);
    try {
      await closing;
    } finally {
      if (this.#closing.get(channel) === closed) this.#closing.delete(channel);
    }
  }

  /** {@inheritDoc EventStore.shutdown} */
  shutdown(): Promise<void> {
    this.#closed ??= (async () => {
      this.#listeners.clear();
      await Promise.allSettled([...this.#inFlight, this.#publishesSettled()]);
      const channels = [...this.#channels.entries()];
      this.#channels.clear();
      await Promise.allSettled(channels.map(async ([channel, state]) => {
        await state.opened.catch(() => {});
        await this.#transport.close(channel);
      }));
      await Promise.all(this.#closing.values());
      await this.#transport.shutdown();
    })();
    return this.#closed;
  }

  /** Same as `shutdown()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  /** Reports an error to the `onError` hook, never throwing. */
  protected report(error: unknown, context: EventErrorContext): void {
    callErrorHook(this.#onError, error, context);
  }

  /** What the codec can take: text only if it reads text, bytes as a plain `Uint8Array`. */
  #decodable(record: WireRecord): WireRecord {
    if (typeof record === "string") return this.codec.text ? record : recordBytes(record);
    // Node's Buffer (what node-redis, nats.js and the Kafka clients hand out) would make decoded
    // binary values Buffers too: decode a plain view of the same memory.
    return record.constructor === Uint8Array
      ? record
      : new Uint8Array(record.buffer, record.byteOffset, record.byteLength);
  }

  #sinkFor(channel: string, channelState: ChannelState): ChannelSink {
    const state = this.#receiveStates.get(channel) ?? {
      lastOffset: undefined,
      type: this.mode === EventStoreMode.MULTI_CHANNEL ? channel : undefined,
    };
    this.#receiveStates.set(channel, state);
    return {
      record: (record, offset) => this.#receive(channel, state, record, offset),
      error: (error) => this.report(error, { stage: "transport", channel }),
      ended: (error) => {
        if (this.#channels.get(channel) === channelState) this.#channels.delete(channel);
        this.report(error, { stage: "transport", channel });
      },
    };
  }

  #receive(
    channel: string,
    state: ReceiveState,
    record: WireRecord,
    offset: string | undefined,
  ): void {
    if (this.#closed) return;
    if (offset !== undefined) state.lastOffset = offset;
    // This node's own message, handed back by Pub/Sub: dropped without decoding it.
    if (this.#isOwnRecord?.(record)) return;
    let decoded: unknown;
    try {
      decoded = this.codec.decode(this.#decodable(record));
    } catch (error) {
      this.report(
        new TypeError(
          `undecodable ${this.codec.name} record of ${recordByteLength(record)} bytes skipped`,
          { cause: error },
        ),
        { stage: "decode", ...where(channel, offset) },
      );
      return;
    }
    let message: EventMessage;
    try {
      // The decoded value is this delivery's own (see Codec.decode): an equal string may replace
      // its type.
      if (state.type !== undefined && (decoded as { type?: unknown } | null)?.type === state.type) {
        (decoded as { type: string }).type = state.type;
      }
      message = this.#registry.validate(decoded);
      if (this.mode === EventStoreMode.MULTI_CHANNEL) {
        if (message.type !== channel) {
          throw new TypeError(`a ${message.type} message arrived on the ${channel} channel`);
        }
      } else state.type = message.type;
    } catch (error) {
      this.report(error, { stage: "validate", ...where(channel, offset) });
      return;
    }
    if (message.nodeId === this.nodeId) return;
    const listeners = this.#listeners.get(message.type);
    if (listeners === undefined) return;
    // The decoder made this object for this delivery alone: the offset goes on it, no copy.
    if (offset !== undefined) (message as { offset?: string }).offset = offset;
    for (const listener of listeners) {
      try {
        const result = listener(message);
        if (result instanceof Promise) {
          result.catch((error) =>
            this.report(error, { stage: "listener", type: message.type, ...where(channel, offset) })
          );
        }
      } catch (error) {
        this.report(error, { stage: "listener", type: message.type, ...where(channel, offset) });
      }
    }
  }
}

/**
 * The prefix an event store will use, validated: `options.prefix` or {@linkcode DEFAULT_PREFIX}.
 * Backends call it before building their transport.
 */
export function resolvePrefix(options: EventStoreOptions): string {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  assertPrefix(prefix);
  return prefix;
}
