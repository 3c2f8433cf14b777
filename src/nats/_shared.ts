/**
 * Internals shared by the NATS event stores: subject and stream names, the server's
 * `max_payload` check, timeouts and error wrapping. Web-standard APIs only (no `node:` import).
 *
 * @module
 */

import type { NatsConnection } from "@nats-io/nats-core";
import { BackendError, DEFAULT_MAX_MESSAGE_BYTES } from "../core/mod.ts";

/** Backend label of every {@linkcode BackendError} the NATS stores raise. */
export const BACKEND = "nats";

/** Subject of a logical channel: `<prefix>.<channel>`. */
export function subjectOf(prefix: string, channel: string): string {
  return `${prefix}.${channel}`;
}

/** Default JetStream stream name of a prefix: the prefix with `.` replaced by `_`. */
export function streamNameOf(prefix: string): string {
  return prefix.replaceAll(".", "_");
}

/**
 * Rejects a record the connected server would refuse: over its `max_payload` (read from the
 * server's `INFO` on every call, since a reconnect may land on another server).
 *
 * @param reserve bytes kept free for headers the store adds.
 */
export function assertFitsServer(
  nc: NatsConnection,
  channel: string,
  bytes: Uint8Array,
  reserve = 0,
): void {
  const maxPayload = nc.info?.max_payload;
  if (maxPayload !== undefined && bytes.byteLength + reserve > maxPayload) {
    throw new RangeError(
      `${channel} message encodes to ${bytes.byteLength} bytes${
        reserve > 0 ? ` (+${reserve} reserved for headers)` : ""
      }, over the NATS server's max_payload (${maxPayload} bytes); nothing was sent. Raise max_payload in the server configuration or send smaller payloads`,
    );
  }
}

/** The server's `max_payload`, if the connection knows it. */
export function serverMaxPayload(nc: NatsConnection): number | undefined {
  return nc.info?.max_payload;
}

/** Rejects when `nc` is closed or draining, before anything is sent. */
export function assertUsable(nc: NatsConnection, operation: string): void {
  if (nc.isClosed()) {
    throw new BackendError(BACKEND, `cannot ${operation}: the NATS connection is closed`);
  }
  if (nc.isDraining()) {
    throw new BackendError(BACKEND, `cannot ${operation}: the NATS connection is draining`);
  }
}

/** Wraps a client failure in a {@linkcode BackendError} naming what could not be done. */
export function backendError(what: string, cause: unknown): BackendError {
  if (cause instanceof BackendError) return cause;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new BackendError(BACKEND, `${what}: ${reason}`, { cause });
}

/** Checks a positive integer option. */
export function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved <= 0) {
    throw new RangeError(`${name} must be a positive integer, received ${String(value)}`);
  }
  return resolved;
}

/** A promise with its settle functions (`Promise.withResolvers` is missing on Node 20). */
export interface Deferred<T> {
  /** The promise. */
  readonly promise: Promise<T>;
  /** Fulfils it. */
  resolve(value: T): void;
  /** Rejects it. */
  reject(reason: unknown): void;
}

/** Creates a {@linkcode Deferred}. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Checks that `nc` looks like a `NatsConnection` (nats.js 3.x, either transport). */
export function assertNatsConnection(nc: unknown): asserts nc is NatsConnection {
  const candidate = nc as Partial<NatsConnection> | null | undefined;
  if (
    typeof candidate?.publish !== "function" || typeof candidate.subscribe !== "function" ||
    typeof candidate.flush !== "function" || typeof candidate.isClosed !== "function"
  ) {
    throw new TypeError(
      "expected a NatsConnection from wsconnect() (@nats-io/nats-core) or connect() (@nats-io/transport-node)",
    );
  }
}

/**
 * The largest message a store on `nc` should accept: `requested` (checked against the server's
 * `max_payload`), or the smaller of the core default and `max_payload`.
 */
export function resolveMaxMessageBytes(
  nc: NatsConnection,
  requested: number | undefined,
  reserve = 0,
): number {
  const serverLimit = serverMaxPayload(nc);
  const usable = serverLimit === undefined ? undefined : serverLimit - reserve;
  if (requested === undefined) {
    return usable === undefined ? DEFAULT_MAX_MESSAGE_BYTES : Math.min(
      DEFAULT_MAX_MESSAGE_BYTES,
      usable,
    );
  }
  if (usable !== undefined && Number.isSafeInteger(requested) && requested > usable) {
    throw new RangeError(
      `maxMessageBytes (${requested}) is over what the NATS server accepts (max_payload ${serverLimit}${
        reserve > 0 ? ` minus ${reserve} bytes for headers` : ""
      }); raise max_payload on the server or lower maxMessageBytes`,
    );
  }
  return requested;
}
