/**
 * The command port: the one narrow seam between the Redis backends and a Redis client. Every
 * Redis command the backends issue goes through {@linkcode RedisCommandPort.send} as an array of
 * strings, and comes back as a {@linkcode RedisReply} in the RESP2 shape (maps as flat arrays),
 * whatever the transport: a TCP client or a REST client.
 *
 * @module
 */

/** A Redis reply in RESP2 shape: bulk strings, integers, nil, and nested arrays. */
export type RedisReply = string | number | null | readonly RedisReply[];

/** Which kind of transport a port speaks. */
export type RedisTransportKind = "tcp" | "rest";

/** A connection dedicated to one blocking or subscribing job, created and closed by the library. */
export interface DedicatedConnection {
  /** Sends one command on this connection only (e.g. a blocking `XREAD`). */
  send(args: readonly string[]): Promise<RedisReply>;
  /**
   * Subscribes to a Pub/Sub channel; resolves once Redis confirmed the subscription. Messages
   * arrive as text (UTF-8). The connection resubscribes by itself after a reconnect.
   */
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  /** Unsubscribes from a channel. */
  unsubscribe(channel: string): Promise<void>;
  /** Registers a handler of connection-level errors (reconnects, socket failures). */
  onError(handler: (error: Error) => void): void;
  /** Closes the connection at once, failing whatever is pending on it. */
  close(): Promise<void>;
}

/** Sends Redis commands over one transport; what the Redis backends are built on. */
export interface RedisCommandPort {
  /** `tcp` or `rest`. */
  readonly transport: RedisTransportKind;
  /**
   * Sends one command; resolves with its reply or rejects with a `BackendError` (Redis refused
   * it, or the server could not be reached in time).
   */
  send(args: readonly string[]): Promise<RedisReply>;
  /**
   * Opens a connection of its own (TCP only: `client.duplicate()`); the library closes it. Absent
   * on transports that cannot hold a connection (REST).
   */
  dedicated?(): Promise<DedicatedConnection>;
  /** Releases what the port created; never closes the client the user passed in. */
  close(): Promise<void>;
}

/** The reply as a string, or `undefined` for nil. */
export function replyString(reply: RedisReply): string | undefined {
  if (reply === null) return undefined;
  if (typeof reply === "string") return reply;
  if (typeof reply === "number") return String(reply);
  throw new TypeError(`expected a string reply from Redis, received an array`);
}

/** The reply as a number (integer replies; numeric strings are accepted too). */
export function replyNumber(reply: RedisReply): number {
  if (typeof reply === "number") return reply;
  if (typeof reply === "string" && /^-?\d+$/.test(reply)) return Number(reply);
  throw new TypeError(`expected an integer reply from Redis, received ${JSON.stringify(reply)}`);
}

/** The reply as an array (`[]` for nil). */
export function replyArray(reply: RedisReply): readonly RedisReply[] {
  if (reply === null) return [];
  if (Array.isArray(reply)) return reply;
  throw new TypeError(`expected an array reply from Redis, received ${JSON.stringify(reply)}`);
}
