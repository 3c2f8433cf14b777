/**
 * The contracts every backend implements: {@linkcode Store}, {@linkcode SharedMap},
 * {@linkcode EventStore}, {@linkcode StoreFactory}, and the {@linkcode ClusterHost} that
 * `StoreFactory.init(host)` feeds.
 *
 * @module
 */

import type { EventStoreKind, EventStoreMode, PublishMode } from "./event_types.ts";
import type {
  EventMessage,
  EventPayload,
  EventTypeName,
  RoomPayload,
  RoomsPayload,
} from "./messages.ts";
import type { StoreValue } from "./values.ts";

/**
 * Data of one client session. Keys and the session id may contain any character; one session
 * never sees another's keys. After `destroy()` every call rejects with `StoreDestroyedError`.
 */
export interface Store {
  /** The session this store belongs to. */
  readonly sessionId: string;
  /**
   * Stores `value` under `key`.
   *
   * @throws {TypeError} for `undefined`/`null` or a value that cannot be stored (nothing is written).
   */
  set(key: string, value: StoreValue): Promise<void>;
  /** The value under `key`, or `undefined` when there is none. */
  get<T extends StoreValue = StoreValue>(key: string): Promise<T | undefined>;
  /** Whether a value is stored under `key`. */
  has(key: string): Promise<boolean>;
  /** Removes the value under `key` (no error when there is none). */
  del(key: string): Promise<void>;
  /**
   * Removes every key of the session from the backend. Once it succeeded, calling it again does
   * nothing; when it failed (the backend refused the delete) it rejects saying so, and calling it
   * again retries the delete.
   */
  destroy(): Promise<void>;
}

/** A named map shared by every session and every node on the same backend. */
export interface SharedMap<V extends StoreValue = StoreValue> {
  /** The map's name. */
  readonly name: string;
  /** The value under `key`, or `undefined`. */
  get(key: string): Promise<V | undefined>;
  /** Stores `value` under `key` (`TypeError` for `undefined`/`null` or unstorable values). */
  set(key: string, value: V): Promise<void>;
  /** Whether `key` is present. */
  has(key: string): Promise<boolean>;
  /** Removes `key`; resolves `true` if it was present. */
  delete(key: string): Promise<boolean>;
  /** Removes every entry. */
  clear(): Promise<void>;
  /** Number of entries. */
  size(): Promise<number>;
  /** Every key, in no particular order. */
  keys(): Promise<string[]>;
  /** Every entry, in no particular order. */
  entries(): Promise<[string, V][]>;
}

/** Called with each delivered message of one type, in channel order. May be async. */
export type EventListener<T extends EventTypeName = EventTypeName> = (
  message: EventMessage<T>,
) => void | Promise<void>;

/** Options of {@linkcode EventStore.subscribe}. */
export interface SubscribeOptions {
  /**
   * Reliable kinds only: deliver from the message after this offset (as found on a delivered
   * message's `offset`, or returned by the store's `lastOffset(type)`) instead of from new
   * messages. In `SINGLE_CHANNEL` mode, the offset of the one shared channel. A Kafka topic of
   * several partitions takes a position of every partition (`"0:3,1:5"`, what `lastOffset`
   * returns there; see the Kafka store).
   */
  readonly fromOffset?: string;
}

/** What a resolved publish tells. */
export interface PublishResult {
  /** Backend offset of the published message, on reliable kinds. */
  readonly offset?: string;
}

/** What went wrong while receiving, as given to an `onError` hook. */
export interface EventErrorContext {
  /** The stage that failed. */
  readonly stage: "decode" | "validate" | "listener" | "transport";
  /** Channel (logical name) involved, when known. */
  readonly channel?: string;
  /** Event type involved, when known. */
  readonly type?: string;
  /** Offset of the offending record, when known. */
  readonly offset?: string;
}

/** Receives errors that must not crash the subscription (bad records, throwing listeners). */
export type EventErrorHandler = (error: Error, context: EventErrorContext) => void;

/** Carries cluster events between nodes. */
export interface EventStore extends AsyncDisposable {
  /** This node's id; messages it published are never delivered back to it. */
  readonly nodeId: string;
  /** Channel layout. */
  readonly mode: EventStoreMode;
  /** Transport kind. */
  readonly kind: EventStoreKind;
  /** Delivery guarantee. */
  readonly publishMode: PublishMode;
  /**
   * Publishes a message to every other node.
   *
   * @throws {MessageValidationError} when the payload does not match its type (nothing is sent).
   * @throws {EventStoreClosedError} after `shutdown()`.
   */
  publish<T extends EventTypeName>(type: T, payload: EventPayload<T>): Promise<PublishResult>;
  /** Adds a listener for one type; resolves once the subscription is active on the backend. */
  subscribe<T extends EventTypeName>(
    type: T,
    listener: EventListener<T>,
    options?: SubscribeOptions,
  ): Promise<void>;
  /** Stops delivery of one type to every listener of it. */
  unsubscribe(type: EventTypeName): Promise<void>;
  /** Stops everything; idempotent; releases only what the store created. */
  shutdown(): Promise<void>;
}

/** What `StoreFactory.init(host)` routes cluster events to (usually the Socket.IO server). */
export interface ClusterHost {
  /** A session connected on another node. */
  connect(message: EventMessage<"CONNECT">): void | Promise<void>;
  /** A session disconnected on another node. */
  disconnect(message: EventMessage<"DISCONNECT">): void | Promise<void>;
  /** A session joined one room (`JOIN`) or several (`BULK_JOIN`) on another node. */
  join(message: EventMessage<"JOIN" | "BULK_JOIN">): void | Promise<void>;
  /** A session left one room (`LEAVE`) or several (`BULK_LEAVE`) on another node. */
  leave(message: EventMessage<"LEAVE" | "BULK_LEAVE">): void | Promise<void>;
  /** A packet to deliver locally, published by another node. */
  dispatch(message: EventMessage<"DISPATCH">): void | Promise<void>;
}

/** Narrows a join or leave message to its rooms. */
export function roomsOf(message: RoomPayload | RoomsPayload): readonly string[] {
  return "rooms" in message ? message.rooms : [message.room];
}

/** Creates stores and shared maps on one storage backend, paired with any event store. */
export interface StoreFactory extends AsyncDisposable {
  /**
   * The store of one session (the same instance while it is alive).
   *
   * @throws {TypeError | RangeError} for an invalid session id.
   */
  createStore(sessionId: string): Store;
  /**
   * The shared map called `name` (the same instance for the same name).
   *
   * @throws {TypeError | RangeError} for an invalid name.
   */
  createMap<V extends StoreValue = StoreValue>(name: string): SharedMap<V>;
  /** The event store this factory distributes cluster events with. */
  eventStore(): EventStore;
  /** Subscribes to every cluster event type and routes messages to `host`. */
  init(host: ClusterHost): Promise<void>;
  /** Destroys the store of a session that disconnected. */
  onDisconnect(sessionId: string): Promise<void>;
  /** Shuts the event store down and releases what the factory created; idempotent. */
  shutdown(): Promise<void>;
}
