/**
 * Cluster event messages: their shapes, and the registry that validates them.
 *
 * The message set is closed for validation — a decoded message whose `type` is not registered is
 * rejected — but open to extension: {@linkcode registerMessageType} adds a type with its
 * validator, exactly as the seven built-in types are added. To give a new type a static shape,
 * augment {@linkcode EventPayloadMap} (at the top level of a module; `tests/core/messages_test.ts`
 * runs this very pattern):
 *
 * ```ts ignore
 * import { expectString, registerMessageType } from "@socketio4ts/stores";
 *
 * declare module "@socketio4ts/stores" {
 *   interface EventPayloadMap {
 *     PING: { readonly requestId: string };
 *   }
 * }
 *
 * registerMessageType("PING", (message) => {
 *   expectString(message, "requestId");
 * });
 * ```
 *
 * @module
 */

import { describeValue, MessageValidationError } from "./errors.ts";
import { EventType } from "./event_types.ts";

/** Payload of `CONNECT` and `DISCONNECT`. */
export interface SessionPayload {
  /** The session that connected or disconnected. */
  readonly sessionId: string;
}

/** Payload of `JOIN` and `LEAVE`. */
export interface RoomPayload {
  /** The session that joined or left. */
  readonly sessionId: string;
  /** Namespace of the room, e.g. `/` or `/chat`. */
  readonly namespace: string;
  /** The room joined or left. */
  readonly room: string;
}

/** Payload of `BULK_JOIN` and `BULK_LEAVE`. */
export interface RoomsPayload {
  /** The session that joined or left. */
  readonly sessionId: string;
  /** Namespace of the rooms. */
  readonly namespace: string;
  /** The rooms joined or left (at least one). */
  readonly rooms: readonly string[];
}

/** Payload of `DISPATCH`. */
export interface DispatchPayload {
  /** Namespace to dispatch in. */
  readonly namespace: string;
  /** Room whose clients receive the packet; `""` means every client of the namespace. */
  readonly room: string;
  /** The packet: any value the codec can carry (binary included). */
  readonly packet: unknown;
}

/**
 * Payload shape of every event type, by type name. Augment it (declaration merging) when you
 * register a message type of your own.
 */
export interface EventPayloadMap {
  /** A session connected. */
  CONNECT: SessionPayload;
  /** A session disconnected. */
  DISCONNECT: SessionPayload;
  /** A session joined a room. */
  JOIN: RoomPayload;
  /** A session joined several rooms. */
  BULK_JOIN: RoomsPayload;
  /** A session left a room. */
  LEAVE: RoomPayload;
  /** A session left several rooms. */
  BULK_LEAVE: RoomsPayload;
  /** A packet for the clients of a room on every node. */
  DISPATCH: DispatchPayload;
}

/** Any registered event type name (the seven built-ins plus registered extensions). */
export type EventTypeName = keyof EventPayloadMap & string;

/** The payload a caller passes to `publish(type, payload)`. */
export type EventPayload<T extends EventTypeName = EventTypeName> = EventPayloadMap[T];

/** Fields every delivered message carries besides its payload. */
export interface MessageMeta {
  /** Node id of the publisher. */
  readonly nodeId: string;
  /** Backend offset of the message, on reliable kinds only (stream id, sequence, `partition:offset`). */
  readonly offset?: string;
}

/** A delivered event message: a discriminated union on `type`. */
export type EventMessage<T extends EventTypeName = EventTypeName> = {
  [K in T]: { readonly type: K } & MessageMeta & EventPayloadMap[K];
}[T];

/**
 * Checks the payload fields of one message type; throws a {@linkcode MessageValidationError}
 * naming the field when something is wrong. The envelope (`type`, `nodeId`, `offset`) is checked
 * before it is called.
 */
export type MessageValidator = (message: Readonly<Record<string, unknown>>) => void;

/** Requires `message[field]` to be a string (non-empty unless `allowEmpty`). */
export function expectString(
  message: Readonly<Record<string, unknown>>,
  field: string,
  options?: { readonly allowEmpty?: boolean },
): void {
  const value = message[field];
  if (typeof value !== "string") {
    throw new MessageValidationError(field, `expected a string, received ${describeValue(value)}`);
  }
  if (value === "" && !options?.allowEmpty) {
    throw new MessageValidationError(field, 'expected a non-empty string, received ""');
  }
}

/** Requires `message[field]` to be a non-empty array of non-empty strings. */
export function expectStringArray(message: Readonly<Record<string, unknown>>, field: string): void {
  const value = message[field];
  if (!Array.isArray(value)) {
    throw new MessageValidationError(
      field,
      `expected an array of strings, received ${describeValue(value)}`,
    );
  }
  if (value.length === 0) {
    throw new MessageValidationError(field, "expected at least one entry, received an empty array");
  }
  value.forEach((entry, index) => {
    if (typeof entry !== "string" || entry === "") {
      throw new MessageValidationError(
        `${field}.${index}`,
        `expected a non-empty string, received ${describeValue(entry)}`,
      );
    }
  });
}

/** Requires `message[field]` to be present (anything but `undefined`). */
export function expectPresent(message: Readonly<Record<string, unknown>>, field: string): void {
  if (message[field] === undefined) {
    throw new MessageValidationError(field, "is required, received undefined");
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}

const TYPE_NAME_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Keeps the validators of every known message type; see the module documentation. */
export class MessageRegistry {
  readonly #validators = new Map<string, MessageValidator>();

  /**
   * Registers a message type with its validator. Type names are upper case (`A-Z 0-9 _`,
   * starting with a letter) because in `MULTI_CHANNEL` mode they name broker channels.
   *
   * @throws {TypeError} if `type` is not a valid type name or is already registered.
   */
  register(type: string, validator: MessageValidator): this {
    if (typeof type !== "string" || !TYPE_NAME_PATTERN.test(type)) {
      throw new TypeError(
        `message type must be 1-64 characters of A-Z 0-9 _ starting with a letter (it names broker channels), received ${
          describeValue(type)
        }`,
      );
    }
    if (typeof validator !== "function") {
      throw new TypeError(
        `validator of message type ${type} must be a function, received ${
          describeValue(validator)
        }`,
      );
    }
    if (this.#validators.has(type)) {
      throw new TypeError(`message type ${type} is already registered`);
    }
    this.#validators.set(type, validator);
    return this;
  }

  /** Whether `type` is registered. */
  has(type: string): boolean {
    return this.#validators.has(type);
  }

  /** Every registered type name, in registration order. */
  types(): string[] {
    return [...this.#validators.keys()];
  }

  /**
   * Requires `type` to be registered.
   *
   * @throws {MessageValidationError} naming the `type` field otherwise.
   */
  assertType(type: unknown): asserts type is EventTypeName {
    if (typeof type !== "string" || !this.#validators.has(type)) {
      throw new MessageValidationError(
        "type",
        `expected one of ${this.types().join(", ")}, received ${describeValue(type)}`,
      );
    }
  }

  /**
   * Validates a whole message (envelope and payload) and returns it typed.
   *
   * @throws {MessageValidationError} naming the first offending field.
   */
  validate(raw: unknown): EventMessage {
    if (!isRecord(raw)) {
      throw new MessageValidationError("", `expected an object, received ${describeValue(raw)}`);
    }
    const validator = typeof raw.type === "string" ? this.#validators.get(raw.type) : undefined;
    if (!validator) this.assertType(raw.type);
    if (!isNonEmptyString(raw.nodeId)) expectString(raw, "nodeId");
    if (raw.offset !== undefined && typeof raw.offset !== "string") {
      throw new MessageValidationError(
        "offset",
        `expected a string, received ${describeValue(raw.offset)}`,
      );
    }
    validator!(raw);
    return raw as unknown as EventMessage;
  }
}

function isNonEmptyString(value: unknown): boolean {
  return typeof value === "string" && value !== "";
}

// The built-in validators read each field by name, so that every property read is specialised to
// its type's message shape. A field name passed to a shared helper makes the read generic, and
// that cost 30-40 ns per delivery (of about 700 with decoding). The `expect*` helpers then only
// raise the error.

function validateSession(message: Readonly<Record<string, unknown>>): void {
  if (!isNonEmptyString(message.sessionId)) expectString(message, "sessionId");
}

function validateRoom(message: Readonly<Record<string, unknown>>): void {
  if (!isNonEmptyString(message.sessionId)) expectString(message, "sessionId");
  if (!isNonEmptyString(message.namespace)) expectString(message, "namespace");
  if (!isNonEmptyString(message.room)) expectString(message, "room");
}

function validateRooms(message: Readonly<Record<string, unknown>>): void {
  if (!isNonEmptyString(message.sessionId)) expectString(message, "sessionId");
  if (!isNonEmptyString(message.namespace)) expectString(message, "namespace");
  expectStringArray(message, "rooms");
}

const ALLOW_EMPTY = { allowEmpty: true } as const;

function validateDispatch(message: Readonly<Record<string, unknown>>): void {
  if (!isNonEmptyString(message.namespace)) expectString(message, "namespace");
  if (typeof message.room !== "string") expectString(message, "room", ALLOW_EMPTY);
  if (message.packet === undefined) expectPresent(message, "packet");
}

/** The registry every event store uses unless given another; holds the seven built-in types. */
export const messageRegistry: MessageRegistry = new MessageRegistry()
  .register(EventType.CONNECT, validateSession)
  .register(EventType.DISCONNECT, validateSession)
  .register(EventType.JOIN, validateRoom)
  .register(EventType.BULK_JOIN, validateRooms)
  .register(EventType.LEAVE, validateRoom)
  .register(EventType.BULK_LEAVE, validateRooms)
  .register(EventType.DISPATCH, validateDispatch);

/**
 * Registers a message type with its validator in the default {@linkcode messageRegistry}.
 *
 * @example
 * ```ts
 * import { expectString, registerMessageType } from "@socketio4ts/stores";
 *
 * registerMessageType("MY_APP_NOTICE", (message) => expectString(message, "text"));
 * ```
 */
export function registerMessageType(type: string, validator: MessageValidator): void {
  messageRegistry.register(type, validator);
}
