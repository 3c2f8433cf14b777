/**
 * The TCP side of the command port: {@linkcode nodeRedisPort} over a client of the `redis` npm
 * package (node-redis 5/6, RESP2 or RESP3) that the user created. This module imports nothing at
 * run time: the client is duck-typed.
 *
 * @module
 */

import type { DedicatedConnection, RedisCommandPort, RedisReply } from "./command_port.ts";
import { DeadlineWatch } from "../core/_deadlines.ts";
import { commandError, connectionError } from "./_errors.ts";
import { connectOrFail, FLAT_MAPS, normalize, UNLIMITED } from "./_node_redis.ts";
import { NodeRedisConnection } from "./_tcp_dedicated.ts";

/** node-redis command options this module uses. */
export interface NodeRedisCommandOptions {
  /** Cancels the command while it waits in the client's queue. */
  readonly abortSignal?: AbortSignal;
  /** How RESP types map to JavaScript values. */
  readonly typeMapping?: Readonly<Record<number, unknown>>;
  /** Milliseconds before the client rejects the command with its `TimeoutError`; 0: never. */
  readonly timeout?: number;
}

/**
 * The part of a node-redis client (`createClient()` of the `redis` package) the TCP port uses.
 * Any node-redis 6 client satisfies it (the per-command `timeout` option came with 6).
 */
export interface NodeRedisClient {
  /** Whether the socket is open (possibly reconnecting). */
  readonly isOpen: boolean;
  /** Whether the client is connected and ready. */
  readonly isReady: boolean;
  /** Sends a raw command. */
  sendCommand(
    args: ReadonlyArray<string | Uint8Array>,
    options?: NodeRedisCommandOptions,
  ): Promise<unknown>;
  /** Opens the connection. */
  connect(): Promise<unknown>;
  /** A new client with the same options (the library's dedicated connections). */
  duplicate(): NodeRedisClient;
  /** Closes the connection at once. */
  destroy(): void;
  /**
   * Registers an event listener: `error`, or `terminated` (node-redis 6: its
   * `reconnectStrategy` gave up and the client is closed for good).
   */
  on(event: "error" | "terminated", listener: (error: Error) => void): unknown;
  /** Removes an event listener. */
  off?(event: "error", listener: (error: Error) => void): unknown;
  /** Subscribes to a channel; the listener gets each message as text. */
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

/** Whether `value` looks like a node-redis client. */
export function isNodeRedisClient(value: unknown): value is NodeRedisClient {
  const candidate = value as Partial<NodeRedisClient> | null;
  return typeof candidate === "object" && candidate !== null &&
    typeof candidate.sendCommand === "function" && typeof candidate.duplicate === "function" &&
    typeof candidate.connect === "function";
}

class NodeRedisPort implements RedisCommandPort {
  readonly transport = "tcp" as const;
  readonly #client: NodeRedisClient;
  readonly #timeoutMs: number;
  // While the client is ready, commands are timed by one shared watch; node-redis's own
  // per-command timeout (an AbortSignal.timeout each) is switched off for them. A command sent
  // while the client is not ready waits in node-redis's offline queue: it keeps node-redis's
  // timeout, which also takes it out of the queue at the deadline, so it never runs late.
  readonly #deadlines: DeadlineWatch;
  readonly #offlineOptions: NodeRedisCommandOptions;
  readonly #dedicated = new Set<NodeRedisConnection>();
  readonly #onError = (error: Error) => {
    this.#lastError = error;
  };
  #lastError: Error | undefined;
  /** The port's connect of an unopened client, while it runs. */
  #connecting: Promise<void> | undefined;
  /** The port's connect succeeded once. */
  #connected = false;

  constructor(client: NodeRedisClient, options: NodeRedisPortOptions) {
    const timeoutMs = options.commandTimeoutMs ?? 10_000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError(`commandTimeoutMs must be a positive number, received ${timeoutMs}`);
    }
    this.#client = client;
    this.#timeoutMs = timeoutMs;
    this.#deadlines = new DeadlineWatch(timeoutMs);
    this.#offlineOptions = { ...FLAT_MAPS, timeout: Math.ceil(timeoutMs) };
    client.on("error", this.#onError);
  }

  /**
   * Connects an unopened client at first use; `undefined` when there is nothing to wait for.
   * Operations issued meanwhile share the attempt. A failed attempt is not kept: node-redis
   * usually goes on reconnecting by itself (the client stays open and later commands wait in its
   * offline queue, within commandTimeoutMs), and if it gave up, the next operation connects
   * again. After a connect that succeeded the port never opens the client again, so a client
   * its owner closed stays closed.
   */
  #ready(): Promise<void> | undefined {
    if (this.#connecting) return this.#connecting;
    if (this.#connected || this.#client.isOpen) return undefined;
    const connecting = connectOrFail(this.#client).then(
      () => {
        this.#connected = true;
      },
      (error) => {
        throw connectionError("connecting the Redis client", error);
      },
    );
    const settled = () => {
      if (this.#connecting === connecting) this.#connecting = undefined;
    };
    connecting.then(settled, settled);
    this.#connecting = connecting;
    return connecting;
  }

  send(args: readonly string[]): Promise<RedisReply> {
    const connecting = this.#ready();
    if (connecting) return connecting.then(() => this.#send(args));
    return this.#send(args);
  }

  #send(args: readonly string[]): Promise<RedisReply> {
    const sent = this.#client.isReady
      ? this.#deadlines.watch(this.#client.sendCommand(args, UNLIMITED), this.#timedOut)
      : this.#client.sendCommand(args, this.#offlineOptions);
    return sent.then(
      normalize,
      (error) => Promise.reject(commandError(args, this.#explain(error))),
    );
  }

  readonly #timedOut = (): Error => this.#timeoutError();

  /** Says why a command timed out (node-redis's `TimeoutError` only says "Timeout"). */
  #explain(error: unknown): unknown {
    if (!(error instanceof Error) || error.constructor.name !== "TimeoutError") return error;
    return this.#timeoutError(error);
  }

  #timeoutError(cause?: unknown): Error {
    const last = this.#client.isReady ? undefined : this.#lastError;
    return new Error(
      `no reply within ${this.#timeoutMs} ms (commandTimeoutMs); ${
        last
          ? `the client is not ready, its last error: ${last.message}`
          : "Redis may be unreachable"
      }`,
      cause === undefined ? undefined : { cause },
    );
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
    const connection = new NodeRedisConnection(duplicate, () => this.#client.duplicate());
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
    await Promise.all([...this.#dedicated].map((connection) => connection.close()));
    this.#deadlines.close();
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
