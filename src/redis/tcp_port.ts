/**
 * The TCP side of the command port: {@linkcode nodeRedisPort} over a client of the `redis` npm
 * package (node-redis 5/6, RESP2 or RESP3) that the user created. This module imports nothing at
 * run time: the client is duck-typed.
 *
 * @module
 */

import type { DedicatedConnection, RedisCommandPort, RedisReply } from "./command_port.ts";
import { commandError, connectionError } from "./_errors.ts";

/** node-redis command options this module uses. */
export interface NodeRedisCommandOptions {
  /** Cancels the command while it waits in the client's queue. */
  readonly abortSignal?: AbortSignal;
  /** How RESP types map to JavaScript values. */
  readonly typeMapping?: Readonly<Record<number, unknown>>;
}

/**
 * The part of a node-redis client (`createClient()` of the `redis` package) the TCP port uses.
 * Any node-redis 5/6 client satisfies it.
 */
export interface NodeRedisClient {
  /** Whether the socket is open (possibly reconnecting). */
  readonly isOpen: boolean;
  /** Whether the client is connected and ready. */
  readonly isReady: boolean;
  /** Sends a raw command. */
  sendCommand(args: ReadonlyArray<string>, options?: NodeRedisCommandOptions): Promise<unknown>;
  /** Opens the connection. */
  connect(): Promise<unknown>;
  /** A new client with the same options (the library's dedicated connections). */
  duplicate(): NodeRedisClient;
  /** Closes the connection at once. */
  destroy(): void;
  /** Registers an event listener (`error`). */
  on(event: "error", listener: (error: Error) => void): unknown;
  /** Removes an event listener. */
  off?(event: "error", listener: (error: Error) => void): unknown;
  /** Subscribes to a channel (string messages). */
  subscribe(
    channel: string,
    listener: (message: string, channel: string) => unknown,
  ): Promise<void>;
  /** Unsubscribes from a channel. */
  unsubscribe(channel: string): Promise<void>;
}

/** Options of {@linkcode nodeRedisPort}. */
export interface NodeRedisPortOptions {
  /**
   * How long a command may wait for its reply before it rejects with a `BackendError`; 10 000 ms
   * by default. A command issued while the client is not ready (reconnecting, Redis unreachable)
   * is also withdrawn from the client's offline queue then, so it never runs late. Blocking reads
   * on dedicated connections are not limited.
   */
  readonly commandTimeoutMs?: number;
}

/** RESP3 map type code; mapped to a flat array so replies have the RESP2 shape. */
const RESP3_MAP = 37;
const FLAT_MAPS: NodeRedisCommandOptions = { typeMapping: { [RESP3_MAP]: Array } };

/** Whether `value` looks like a node-redis client. */
export function isNodeRedisClient(value: unknown): value is NodeRedisClient {
  const candidate = value as Partial<NodeRedisClient> | null;
  return typeof candidate === "object" && candidate !== null &&
    typeof candidate.sendCommand === "function" && typeof candidate.duplicate === "function" &&
    typeof candidate.connect === "function";
}

function normalize(reply: unknown): RedisReply {
  if (reply === null || reply === undefined) return null;
  if (typeof reply === "string" || typeof reply === "number") return reply;
  if (Array.isArray(reply)) return reply.map(normalize);
  if (typeof reply === "bigint" || typeof reply === "boolean") return Number(reply);
  if (reply instanceof Uint8Array) return new TextDecoder().decode(reply);
  if (reply instanceof Map) {
    return [...reply].flatMap(([key, value]) => [normalize(key), normalize(value)]);
  }
  if (typeof reply === "object") {
    return Object.entries(reply).flatMap(([key, value]) => [key, normalize(value)]);
  }
  return String(reply);
}

/**
 * Connects a client, rejecting on the first error it reports while connecting: node-redis keeps
 * retrying a refused connection or a wrong password in the background, and its `connect()`
 * promise would otherwise wait for as long as that lasts.
 */
async function connectOrFail(client: NodeRedisClient): Promise<void> {
  let onError: ((error: Error) => void) | undefined;
  const failed = new Promise<never>((_, reject) => {
    onError = (error) => reject(error);
  });
  failed.catch(() => {});
  client.on("error", onError!);
  try {
    await Promise.race([client.connect(), failed]);
  } finally {
    client.off?.("error", onError!);
  }
}

class NodeRedisConnection implements DedicatedConnection {
  readonly #client: NodeRedisClient;
  readonly #handlers = new Set<(error: Error) => void>();
  readonly #closing: Promise<never>;
  #markClosed: () => void = () => {};
  #closed = false;

  constructor(client: NodeRedisClient) {
    this.#client = client;
    this.#closing = new Promise<never>((_, reject) => {
      this.#markClosed = () => reject(new Error("the dedicated connection was closed"));
    });
    this.#closing.catch(() => {});
    client.on("error", (error) => {
      if (this.#closed) return;
      for (const handler of this.#handlers) handler(connectionError("dedicated connection", error));
    });
  }

  /** Runs `operation`, failing at once if the connection is (or gets) closed. */
  async #guard<T>(args: readonly string[], operation: () => Promise<T>): Promise<T> {
    try {
      if (this.#closed) throw new Error("the dedicated connection was closed");
      return await Promise.race([operation(), this.#closing]);
    } catch (error) {
      throw commandError(args, error);
    }
  }

  async connect(): Promise<void> {
    try {
      await connectOrFail(this.#client);
    } catch (error) {
      await this.close();
      throw connectionError("opening a dedicated Redis connection (client.duplicate())", error);
    }
  }

  async send(args: readonly string[]): Promise<RedisReply> {
    return normalize(await this.#guard(args, () => this.#client.sendCommand(args, FLAT_MAPS)));
  }

  subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    return this.#guard(
      ["SUBSCRIBE", channel],
      () => this.#client.subscribe(channel, (message) => listener(message)),
    );
  }

  unsubscribe(channel: string): Promise<void> {
    return this.#guard(["UNSUBSCRIBE", channel], () => this.#client.unsubscribe(channel));
  }

  onError(handler: (error: Error) => void): void {
    this.#handlers.add(handler);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#handlers.clear();
      this.#markClosed();
      try {
        this.#client.destroy();
      } catch {
        // never connected, or already closed
      }
    }
    // Let the socket's close settle before callers check for leaks.
    return new Promise((resolve) => setTimeout(resolve, 0));
  }
}

interface PendingCommand {
  readonly deadline: number;
  readonly args: readonly string[];
  readonly controller: AbortController | undefined;
  readonly reject: (error: Error) => void;
}

class NodeRedisPort implements RedisCommandPort {
  readonly transport = "tcp" as const;
  readonly #client: NodeRedisClient;
  readonly #timeoutMs: number;
  readonly #dedicated = new Set<NodeRedisConnection>();
  readonly #onError = (error: Error) => {
    this.#lastError = error;
  };
  readonly #pending = new Set<PendingCommand>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #lastError: Error | undefined;
  #connecting: Promise<void> | undefined;

  constructor(client: NodeRedisClient, options: NodeRedisPortOptions) {
    const timeoutMs = options.commandTimeoutMs ?? 10_000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError(`commandTimeoutMs must be a positive number, received ${timeoutMs}`);
    }
    this.#client = client;
    this.#timeoutMs = timeoutMs;
    client.on("error", this.#onError);
  }

  /** Connects a client that was passed in unopened, once; the user still owns it. */
  #ready(): Promise<void> | undefined {
    if (this.#connecting) return this.#connecting;
    if (this.#client.isOpen) return undefined;
    this.#connecting = connectOrFail(this.#client).then(
      () => {},
      (error) => {
        throw connectionError("connecting the Redis client", error);
      },
    );
    return this.#connecting;
  }

  send(args: readonly string[]): Promise<RedisReply> {
    const connecting = this.#ready();
    if (connecting) return connecting.then(() => this.#send(args));
    return this.#send(args);
  }

  #send(args: readonly string[]): Promise<RedisReply> {
    return new Promise((resolve, reject) => {
      // Every command has a deadline, watched by one shared timer. A command issued while the
      // client is not ready waits in its offline queue: its abort signal also takes it out of
      // the queue at the deadline, so it never runs late.
      const controller = this.#client.isReady ? undefined : new AbortController();
      const pending: PendingCommand = {
        deadline: performance.now() + this.#timeoutMs,
        args,
        controller,
        reject,
      };
      this.#track(pending);
      this.#client.sendCommand(
        args,
        controller ? { ...FLAT_MAPS, abortSignal: controller.signal } : FLAT_MAPS,
      ).then(
        (reply) => {
          this.#pending.delete(pending);
          resolve(normalize(reply));
        },
        (error) => {
          this.#pending.delete(pending);
          reject(commandError(args, error));
        },
      );
    });
  }

  #expire(pending: PendingCommand): void {
    pending.controller?.abort();
    const last = this.#client.isReady ? undefined : this.#lastError;
    pending.reject(commandError(
      pending.args,
      new Error(
        `no reply within ${this.#timeoutMs} ms (commandTimeoutMs); ${
          last
            ? `the client is not ready, its last error: ${last.message}`
            : "Redis may be unreachable"
        }`,
      ),
    ));
  }

  /** Watches a command's deadline with one shared timer that runs only while commands wait. */
  #track(pending: PendingCommand): void {
    this.#pending.add(pending);
    if (this.#sweeper !== undefined) return;
    const period = Math.max(5, Math.min(250, this.#timeoutMs / 4));
    this.#sweeper = setInterval(() => {
      const now = performance.now();
      for (const entry of this.#pending) {
        if (entry.deadline <= now) {
          this.#pending.delete(entry);
          this.#expire(entry);
        }
      }
      if (this.#pending.size === 0) {
        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
      }
    }, period);
  }

  async dedicated(): Promise<DedicatedConnection> {
    const connecting = this.#ready();
    if (connecting) await connecting;
    let duplicate: NodeRedisClient;
    try {
      duplicate = this.#client.duplicate();
    } catch (error) {
      throw connectionError("duplicating the Redis client", error);
    }
    const connection = new NodeRedisConnection(duplicate);
    this.#dedicated.add(connection);
    try {
      await connection.connect();
    } catch (error) {
      this.#dedicated.delete(connection);
      throw error;
    }
    const close = connection.close.bind(connection);
    connection.close = () => {
      this.#dedicated.delete(connection);
      return close();
    };
    return connection;
  }

  async close(): Promise<void> {
    this.#client.off?.("error", this.#onError);
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    await Promise.all([...this.#dedicated].map((connection) => connection.close()));
  }
}

/**
 * A command port over a node-redis client you created (`createClient()` of the `redis` npm
 * package). An unopened client is connected at first use; the port never closes it. Blocking
 * reads and subscriptions run on connections of their own (`client.duplicate()`), which the
 * port closes.
 */
export function nodeRedisPort(
  client: NodeRedisClient,
  options: NodeRedisPortOptions = {},
): RedisCommandPort {
  if (!isNodeRedisClient(client)) {
    throw new TypeError(
      "nodeRedisPort expects a client of the `redis` npm package (createClient())",
    );
  }
  return new NodeRedisPort(client, options);
}
