/**
 * Named errors a caller is expected to catch. Bad arguments use the built-in `TypeError` and
 * `RangeError` instead (see DESIGN.md §7).
 *
 * @module
 */

/**
 * Thrown (as a rejection) by every call on a {@linkcode Store} after its `destroy()`.
 *
 * @example
 * ```ts
 * import { MemoryStoreFactory, StoreDestroyedError } from "@socketio4ts/stores";
 *
 * await using factory = new MemoryStoreFactory();
 * const store = factory.createStore("session-1");
 * await store.destroy();
 * try {
 *   await store.get("name");
 * } catch (error) {
 *   console.assert(error instanceof StoreDestroyedError);
 * }
 * ```
 */
export class StoreDestroyedError extends Error {
  /** The session whose store was destroyed. */
  readonly sessionId: string;

  /**
   * Creates the error for a store that was destroyed.
   *
   * @param sessionId the session whose store was destroyed.
   */
  constructor(sessionId: string, options?: ErrorOptions) {
    super(
      `the store of session ${JSON.stringify(sessionId)} was destroyed; ` +
        "create a new one with factory.createStore(sessionId)",
      options,
    );
    this.name = "StoreDestroyedError";
    this.sessionId = sessionId;
  }
}

/** Thrown (as a rejection) by `publish` and `subscribe` after an event store's `shutdown()`. */
export class EventStoreClosedError extends Error {
  /** The node id of the closed event store. */
  readonly nodeId: string;

  /**
   * Creates the error for an operation attempted after `shutdown()`.
   *
   * @param nodeId node id of the closed event store.
   * @param operation what the caller tried to do, e.g. `publish(JOIN)`.
   */
  constructor(nodeId: string, operation: string, options?: ErrorOptions) {
    super(`cannot ${operation}: event store of node ${nodeId} has been shut down`, options);
    this.name = "EventStoreClosedError";
    this.nodeId = nodeId;
  }
}

/**
 * An event message failed validation, on publish (a caller's mistake) or on receipt (a message on
 * the wire that does not match its type). Extends `TypeError`; `field` names the offending field.
 */
export class MessageValidationError extends TypeError {
  /** Dotted path of the offending field, e.g. `rooms.2`; `""` for the message itself. */
  readonly field: string;

  /**
   * Creates the error for one offending field.
   *
   * @param field dotted path of the offending field.
   * @param problem what is wrong with it, including the value received.
   */
  constructor(field: string, problem: string, options?: ErrorOptions) {
    super(
      field === ""
        ? `invalid event message: ${problem}`
        : `invalid event message field "${field}": ${problem}`,
      options,
    );
    this.name = "MessageValidationError";
    this.field = field;
  }
}

/**
 * A backend refused an operation or could not be reached (after the configured retries). The
 * client library's own error is kept as `cause`.
 */
export class BackendError extends Error {
  /** Which backend failed, e.g. `redis`, `nats`, `kafka`, `hazelcast`. */
  readonly backend: string;

  /**
   * Creates the error for an operation a backend refused or could not carry out.
   *
   * @param backend which backend failed.
   * @param message what could not be done and why.
   */
  constructor(backend: string, message: string, options?: ErrorOptions) {
    super(`${backend}: ${message}`, options);
    this.name = "BackendError";
    this.backend = backend;
  }
}

/** Short, safe description of a received value for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") {
    return value.length > 60
      ? `string ${JSON.stringify(value.slice(0, 57))}... (${value.length} chars)`
      : `string ${JSON.stringify(value)}`;
  }
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return `symbol ${String(value.description ?? "")}`;
  if (typeof value === "bigint") return `bigint ${value}n`;
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${value}`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (value instanceof Uint8Array) return `a Uint8Array of ${value.byteLength} bytes`;
  const proto = Object.getPrototypeOf(value);
  const ctor = proto?.constructor?.name;
  return ctor && ctor !== "Object" ? `an instance of ${ctor}` : "an object";
}
