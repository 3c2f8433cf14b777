/**
 * How the Socket.IO cluster protocol travels over an {@linkcode EventStore}.
 *
 * The seven built-in types carry what they can:
 *
 * | cluster operation | event type | extra fields (validated here) |
 * |---|---|---|
 * | broadcast (with or without acknowledgements) | `DISPATCH` | `rooms`, `except`, `flags`, `requestId?`, `id?`, `batch?` |
 * | `socketsJoin` (one room / several) | `JOIN` / `BULK_JOIN` | `selector` |
 * | `socketsLeave` (one room / several) | `LEAVE` / `BULK_LEAVE` | `selector` |
 * | `disconnectSockets` | `DISCONNECT` | `selector`, `close` |
 * | a session ended (kept for connection state recovery) | `DISCONNECT` | `session` |
 * | a session was restored (other nodes forget it) | `CONNECT` | — |
 *
 * What they cannot carry goes through three extension types registered with
 * {@linkcode registerMessageType} (typed by {@linkcode SocketIoPayloadMap}):
 * `SIO_HEARTBEAT` (node arrival, liveness, departure), `SIO_REQUEST` (`fetchSockets`,
 * `serverSideEmit`) and `SIO_RESPONSE` (answers addressed to one node).
 *
 * `sessionId` of a room or disconnect command is {@linkcode ANY_SESSION} (`"*"`): the `selector`
 * field says which sockets are meant (one socket is the room named by its id).
 *
 * Rooms ({@linkcode SocketIoRoom}) are strings or finite numbers, and travel as they are: a number
 * stays a number in every codec, so `42` and `"42"` remain two rooms on every node, as on one
 * socket.io server. The core's own room fields hold strings, so they hold a room's string form:
 * the `room` of a `DISPATCH` (its `rooms` field has the rooms themselves), and the `room`/`rooms`
 * of a room change (its `roomKeys` field has the rooms themselves when one is a number).
 *
 * @module
 */

import {
  describeValue,
  type DispatchPayload,
  type EventMessage,
  type EventStore,
  expectString,
  type MessageMeta,
  messageRegistry,
  MessageValidationError,
  type MessageValidator,
  type PublishResult,
  registerMessageType,
  type RoomPayload,
  roomsOf,
  type RoomsPayload,
  type SessionPayload,
} from "../core/mod.ts";

/** `sessionId` of a command that targets a selection of sockets rather than one. */
export const ANY_SESSION = "*";

/**
 * A room that can travel between nodes: a string, or a finite number. socket.io keys rooms by
 * value (its type says `string`, but plain JavaScript may call `socket.join(42)`), so `42` and
 * `"42"` are two rooms; both travel as they are. socket.io takes any other value too (an object
 * is a room of its own on one server), but such a room cannot reach other nodes: an operation
 * on it is reported to the adapter's `onError` and applied on this node only (`fetchSockets`
 * rejects).
 */
export type SocketIoRoom = string | number;

/** Whether `value` is a {@linkcode SocketIoRoom}: a string or a finite number. */
export function isSocketIoRoom(value: unknown): value is SocketIoRoom {
  return typeof value === "string" || (typeof value === "number" && Number.isFinite(value));
}

/** Which sockets a command targets: those in any of `rooms` (all when empty) and in none of `except`. */
export interface SocketSelector {
  /** Rooms (socket ids are rooms too); empty means every socket of the namespace. */
  readonly rooms: readonly SocketIoRoom[];
  /** Rooms whose sockets are left out. */
  readonly except: readonly SocketIoRoom[];
}

/** Broadcast flags that travel with a `DISPATCH` (the subset of socket.io's that matter remotely). */
export interface DispatchFlags {
  /** Volatile packets may be dropped and are not kept for recovery. */
  readonly volatile?: boolean;
  /** Per-message compression. */
  readonly compress?: boolean;
  /** Acknowledgement timeout in ms (broadcasts with acknowledgements). */
  readonly timeout?: number;
}

/** One broadcast: what a `DISPATCH` carries besides its namespace (and `batch` entries hold). */
export interface DispatchEntry {
  /** First target room as a string (`"42"` for `42`), or `""` for the whole namespace. */
  readonly room: string;
  /** The socket.io packet. */
  readonly packet: unknown;
  /** Every target room. */
  readonly rooms: readonly SocketIoRoom[];
  /** Rooms whose sockets do not receive the packet. */
  readonly except: readonly SocketIoRoom[];
  /** Broadcast flags. */
  readonly flags: DispatchFlags;
}

/** What a `DISPATCH` sent by the adapter holds besides {@linkcode DispatchPayload}. */
export interface SocketIoDispatch extends DispatchPayload {
  /**
   * Every target room (`room` holds the first one as a string, or `""` for the whole
   * namespace).
   */
  readonly rooms: readonly SocketIoRoom[];
  /** Rooms whose sockets do not receive the packet. */
  readonly except: readonly SocketIoRoom[];
  /** Broadcast flags. */
  readonly flags: DispatchFlags;
  /** Present when the sender waits for acknowledgements (answers go to it as `SIO_RESPONSE`). */
  readonly requestId?: string;
  /**
   * Stand-in offset set by the sender when the event store gives none (at-most-once stores with
   * connection state recovery on).
   */
  readonly id?: string;
  /**
   * Further broadcasts emitted in the same tick, in order (never with `requestId`). The `n`-th
   * has the offset `<offset>+<n>` for connection state recovery.
   */
  readonly batch?: readonly DispatchEntry[];
}

/**
 * What a `JOIN`/`LEAVE` sent by the adapter holds besides {@linkcode RoomPayload} (whose `room`
 * is the room as a string: `"42"` for `42`).
 */
export interface SocketIoRoomChange extends RoomPayload {
  /** The sockets that join or leave. */
  readonly selector: SocketSelector;
  /**
   * The room itself, as the only entry, when it is a number (`room` holds its string form);
   * absent for a string room.
   */
  readonly roomKeys?: readonly SocketIoRoom[];
}

/**
 * What a `BULK_JOIN`/`BULK_LEAVE` sent by the adapter holds besides {@linkcode RoomsPayload}
 * (whose `rooms` are the rooms as strings: `"42"` for `42`).
 */
export interface SocketIoRoomsChange extends RoomsPayload {
  /** The sockets that join or leave. */
  readonly selector: SocketSelector;
  /**
   * The rooms themselves, in the order of `rooms`, when one of them is a number; absent when
   * they are all strings.
   */
  readonly roomKeys?: readonly SocketIoRoom[];
}

/** A session as socket.io persists it for connection state recovery. */
export interface PersistedSession {
  /** Public socket id. */
  readonly sid: string;
  /** Private session id (what the client presents to recover). */
  readonly pid: string;
  /** Rooms the socket was in. */
  readonly rooms: readonly SocketIoRoom[];
  /** `socket.data`. */
  readonly data: unknown;
}

/** `DISCONNECT` as the adapter sends it: a command, or the announcement of an ended session. */
export type SocketIoDisconnect =
  & SessionPayload
  & { readonly namespace: string }
  & (
    | { readonly selector: SocketSelector; readonly close: boolean }
    | { readonly session: PersistedSession }
    | {
      /**
       * The session (`sessionId`: its private id) ended for good: its client's next connection
       * is a new session, which nodes then accept without waiting for an announcement.
       */
      readonly ended: true;
    }
  );

/** `CONNECT` as the adapter sends it: a recovered session, which other nodes forget. */
export interface SocketIoConnect extends SessionPayload {
  /** Namespace of the session. */
  readonly namespace: string;
  /** The recovered socket's id (its session store lives on). */
  readonly sid?: string;
}

/** Payload of `SIO_HEARTBEAT`. */
export interface HeartbeatPayload {
  /** Namespace whose adapter beats. */
  readonly namespace: string;
  /** `INITIAL` (a node arrived: answer with `ALIVE`), `ALIVE`, or `CLOSE` (a node leaves). */
  readonly beat: "INITIAL" | "ALIVE" | "CLOSE";
}

/** Payload of `SIO_REQUEST`. */
export interface RequestPayload {
  /** Namespace of the request. */
  readonly namespace: string;
  /** `FETCH_SOCKETS` or `SERVER_SIDE_EMIT`. */
  readonly request: "FETCH_SOCKETS" | "SERVER_SIDE_EMIT";
  /** Correlates the answers; absent for a `serverSideEmit` without acknowledgement. */
  readonly requestId?: string;
  /** `FETCH_SOCKETS`: which sockets. */
  readonly selector?: SocketSelector;
  /** `SERVER_SIDE_EMIT`: event name and arguments. */
  readonly packet?: readonly unknown[];
}

/** Payload of `SIO_RESPONSE`. */
export interface ResponsePayload {
  /** Namespace of the request. */
  readonly namespace: string;
  /** Node id of the requester; every other node ignores the message. */
  readonly target: string;
  /** The request answered. */
  readonly requestId: string;
  /** What answers: sockets, a server-side ack, a client count or a client ack. */
  readonly response: "FETCH_SOCKETS" | "SERVER_SIDE_EMIT" | "CLIENT_COUNT" | "CLIENT_ACK";
  /** `FETCH_SOCKETS`: the matching sockets (id, handshake, rooms, data). */
  readonly sockets?: readonly unknown[];
  /** `SERVER_SIDE_EMIT` / `CLIENT_ACK`: the acknowledgement argument. */
  readonly packet?: unknown;
  /** `CLIENT_COUNT`: clients the answering node waits acknowledgements from. */
  readonly clientCount?: number;
}

/**
 * Payload shapes of the extension types, by name. A published library cannot augment the core's
 * `EventPayloadMap` (JSR refuses module augmentation), so the adapter publishes and subscribes
 * them through {@linkcode publishSocketIo} and {@linkcode subscribeSocketIo}. An application
 * that wants them on `EventStore.publish` itself augments the map with this interface:
 *
 * ```ts ignore
 * import type { SocketIoPayloadMap } from "@socketio4ts/stores/socketio";
 *
 * declare module "@socketio4ts/stores" {
 *   interface EventPayloadMap extends SocketIoPayloadMap {}
 * }
 * ```
 */
export interface SocketIoPayloadMap {
  /** Node heartbeat. */
  SIO_HEARTBEAT: HeartbeatPayload;
  /** `fetchSockets` / `serverSideEmit` request. */
  SIO_REQUEST: RequestPayload;
  /** An answer addressed to one node. */
  SIO_RESPONSE: ResponsePayload;
}

/** Name of an extension type of this module. */
export type SocketIoMessageType = keyof SocketIoPayloadMap;

/** A delivered extension message (discriminated on `type`). */
export type SocketIoMessage<T extends SocketIoMessageType = SocketIoMessageType> = {
  [K in T]: { readonly type: K } & MessageMeta & SocketIoPayloadMap[K];
}[T];

type LoosePublish = (type: string, payload: unknown) => Promise<PublishResult>;
type LooseSubscribe = (type: string, listener: (message: never) => void) => Promise<void>;

/** Publishes an extension message (validated by its registered validator, like any other). */
export function publishSocketIo<T extends SocketIoMessageType>(
  events: EventStore,
  type: T,
  payload: SocketIoPayloadMap[T],
): Promise<PublishResult> {
  return (events.publish as unknown as LoosePublish).call(events, type, payload);
}

/** Subscribes to an extension message type. */
export function subscribeSocketIo<T extends SocketIoMessageType>(
  events: EventStore,
  type: T,
  listener: (message: SocketIoMessage<T>) => void,
): Promise<void> {
  return (events.subscribe as unknown as LooseSubscribe).call(events, type, listener);
}

type Raw = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}

/** Dotted path of `field` in an object found at `path` (`""`: the message itself). */
function pathOf(path: string, field: string): string {
  return path === "" ? field : `${path}.${field}`;
}

/**
 * Requires every entry of `rooms` to be a {@linkcode SocketIoRoom} (a string or a finite
 * number): the adapter checks the rooms of an operation with it before publishing, and the
 * rooms of every message it receives.
 *
 * @param rooms the rooms.
 * @param field dotted path of the list in its message, for the error.
 * @throws {MessageValidationError} naming the first other entry (`<field>.<index>`).
 */
export function assertSocketIoRooms(
  rooms: readonly unknown[],
  field: string,
): asserts rooms is readonly SocketIoRoom[] {
  for (let index = 0; index < rooms.length; index++) {
    const room = rooms[index];
    if (!isSocketIoRoom(room)) {
      throw new MessageValidationError(
        `${field}.${index}`,
        `expected a room that can travel between nodes (a string or a finite number), received ${
          describeValue(room)
        }`,
      );
    }
  }
}

function expectRooms(message: Raw, field: string, path = ""): void {
  const value = message[field];
  if (!Array.isArray(value)) {
    throw new MessageValidationError(
      pathOf(path, field),
      `expected an array of rooms (strings or finite numbers), received ${describeValue(value)}`,
    );
  }
  assertSocketIoRooms(value, pathOf(path, field));
}

function expectText(message: Raw, field: string, path = "", allowEmpty = false): void {
  const value = message[field];
  if (typeof value !== "string") {
    throw new MessageValidationError(
      pathOf(path, field),
      `expected a string, received ${describeValue(value)}`,
    );
  }
  if (value === "" && !allowEmpty) {
    throw new MessageValidationError(
      pathOf(path, field),
      'expected a non-empty string, received ""',
    );
  }
}

function expectObject(message: Raw, field: string, path = ""): Raw {
  const value = message[field];
  if (!isObject(value)) {
    throw new MessageValidationError(
      pathOf(path, field),
      `expected an object, received ${describeValue(value)}`,
    );
  }
  return value;
}

function expectSelector(message: Raw, field: string): void {
  const selector = expectObject(message, field);
  expectRooms(selector, "rooms", field);
  expectRooms(selector, "except", field);
}

function expectOneOf(message: Raw, field: string, allowed: readonly string[]): void {
  const value = message[field];
  if (typeof value !== "string" || !allowed.includes(value)) {
    throw new MessageValidationError(
      field,
      `expected one of ${allowed.join(", ")}, received ${describeValue(value)}`,
    );
  }
}

function expectOptionalString(message: Raw, field: string): void {
  if (message[field] !== undefined) expectString(message, field);
}

/**
 * Checks the socket.io fields of a `DISPATCH` (a message from another producer, without them, is
 * refused: this adapter cannot tell which sockets it is for).
 *
 * @throws {MessageValidationError} naming the offending field.
 */
export function assertSocketIoDispatch(
  message: EventMessage<"DISPATCH">,
): asserts message is EventMessage<"DISPATCH"> & SocketIoDispatch {
  const raw = message as unknown as Raw;
  expectRooms(raw, "rooms");
  expectRooms(raw, "except");
  expectObject(raw, "flags");
  expectOptionalString(raw, "requestId");
  expectOptionalString(raw, "id");
  expectPacket(raw, "packet");
  if (raw.batch === undefined) return;
  if (!Array.isArray(raw.batch) || raw.requestId !== undefined) {
    throw new MessageValidationError(
      "batch",
      `expected an array (and no requestId), received ${describeValue(raw.batch)}`,
    );
  }
  raw.batch.forEach((entry: unknown, index: number) => {
    const path = `batch.${index}`;
    if (!isObject(entry)) {
      throw new MessageValidationError(
        path,
        `expected an object, received ${describeValue(entry)}`,
      );
    }
    expectText(entry, "room", path, true);
    expectRooms(entry, "rooms", path);
    expectRooms(entry, "except", path);
    expectObject(entry, "flags", path);
    expectPacket(entry, "packet", path);
  });
}

function expectPacket(message: Raw, field: string, path = ""): void {
  const packet = message[field];
  if (!isObject(packet) || typeof packet.type !== "number") {
    throw new MessageValidationError(
      pathOf(path, field),
      `expected a socket.io packet object, received ${describeValue(packet)}`,
    );
  }
}

/**
 * Checks the `selector` of a room change, and its `roomKeys` when present: one room for each
 * entry of `room`/`rooms`, written as that entry (`42` for `"42"`, `"42"` for itself).
 *
 * @throws {MessageValidationError} naming the offending field.
 */
export function assertSocketIoRoomChange(
  message: EventMessage<"JOIN" | "BULK_JOIN" | "LEAVE" | "BULK_LEAVE">,
): asserts message is
  & EventMessage<"JOIN" | "BULK_JOIN" | "LEAVE" | "BULK_LEAVE">
  & { readonly selector: SocketSelector; readonly roomKeys?: readonly SocketIoRoom[] } {
  const raw = message as unknown as Raw;
  expectSelector(raw, "selector");
  if (raw.roomKeys === undefined) return;
  expectRooms(raw, "roomKeys");
  const keys = raw.roomKeys as readonly SocketIoRoom[];
  const bulk = "rooms" in message;
  const names = roomsOf(message);
  if (keys.length !== names.length) {
    throw new MessageValidationError(
      "roomKeys",
      `expected an array of ${
        bulk ? `${names.length} rooms (one for each entry of rooms)` : "one room (that of room)"
      }, received ${describeValue(keys)}`,
    );
  }
  for (let index = 0; index < keys.length; index++) {
    if (String(keys[index]) !== names[index]) {
      throw new MessageValidationError(
        `roomKeys.${index}`,
        `expected the room whose string form ${bulk ? `rooms.${index}` : "room"} holds (${
          JSON.stringify(names[index])
        }), received ${describeValue(keys[index])}`,
      );
    }
  }
}

/**
 * Checks a `DISCONNECT` from the adapter: a command (`selector` + `close`) or an ended session.
 *
 * @throws {MessageValidationError} naming the offending field.
 */
export function assertSocketIoDisconnect(
  message: EventMessage<"DISCONNECT">,
): asserts message is EventMessage<"DISCONNECT"> & SocketIoDisconnect {
  const raw = message as unknown as Raw;
  expectString(raw, "namespace");
  if (raw.ended !== undefined) {
    if (raw.ended !== true) {
      throw new MessageValidationError(
        "ended",
        `expected true, received ${describeValue(raw.ended)}`,
      );
    }
    return;
  }
  if (raw.session !== undefined) {
    const session = expectObject(raw, "session");
    expectText(session, "sid", "session");
    expectText(session, "pid", "session");
    expectRooms(session, "rooms", "session");
    return;
  }
  expectSelector(raw, "selector");
  if (typeof raw.close !== "boolean") {
    throw new MessageValidationError(
      "close",
      `expected a boolean, received ${describeValue(raw.close)}`,
    );
  }
}

/**
 * Checks a `CONNECT` from the adapter.
 *
 * @throws {MessageValidationError} naming the offending field.
 */
export function assertSocketIoConnect(
  message: EventMessage<"CONNECT">,
): asserts message is EventMessage<"CONNECT"> & SocketIoConnect {
  expectString(message as unknown as Raw, "namespace");
  expectOptionalString(message as unknown as Raw, "sid");
}

function validateHeartbeat(message: Raw): void {
  expectString(message, "namespace");
  expectOneOf(message, "beat", ["INITIAL", "ALIVE", "CLOSE"]);
}

function validateRequest(message: Raw): void {
  expectString(message, "namespace");
  expectOneOf(message, "request", ["FETCH_SOCKETS", "SERVER_SIDE_EMIT"]);
  expectOptionalString(message, "requestId");
  if (message.request === "FETCH_SOCKETS") {
    expectString(message, "requestId");
    expectSelector(message, "selector");
  } else if (!Array.isArray(message.packet) || message.packet.length === 0) {
    throw new MessageValidationError(
      "packet",
      `expected a non-empty array (event name and arguments), received ${
        describeValue(message.packet)
      }`,
    );
  }
}

function validateResponse(message: Raw): void {
  expectString(message, "namespace");
  expectString(message, "target");
  expectString(message, "requestId");
  expectOneOf(message, "response", [
    "FETCH_SOCKETS",
    "SERVER_SIDE_EMIT",
    "CLIENT_COUNT",
    "CLIENT_ACK",
  ]);
  if (message.response === "FETCH_SOCKETS" && !Array.isArray(message.sockets)) {
    throw new MessageValidationError(
      "sockets",
      `expected an array, received ${describeValue(message.sockets)}`,
    );
  }
  if (
    message.response === "CLIENT_COUNT" &&
    (typeof message.clientCount !== "number" || !Number.isSafeInteger(message.clientCount) ||
      message.clientCount < 0)
  ) {
    throw new MessageValidationError(
      "clientCount",
      `expected a non-negative integer, received ${describeValue(message.clientCount)}`,
    );
  }
}

/** The extension types this module registers, in registration order. */
export const SOCKETIO_MESSAGE_TYPES = ["SIO_HEARTBEAT", "SIO_REQUEST", "SIO_RESPONSE"] as const;

const validators: Record<typeof SOCKETIO_MESSAGE_TYPES[number], MessageValidator> = {
  SIO_HEARTBEAT: validateHeartbeat,
  SIO_REQUEST: validateRequest,
  SIO_RESPONSE: validateResponse,
};
for (const type of SOCKETIO_MESSAGE_TYPES) {
  // A bundle may evaluate this module twice; the first registration stands.
  if (!messageRegistry.has(type)) registerMessageType(type, validators[type]);
}
