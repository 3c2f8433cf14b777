/**
 * Connecting to a Hazelcast cluster with `hazelcast-client`: {@linkcode connectHazelcast} (a
 * bounded connect with a clear error) and the {@linkcode HazelcastConnectionOptions} every
 * Hazelcast class of this library accepts — a client you own, or a client configuration from which
 * the library creates, and later shuts down, a client of its own.
 *
 * @module
 */

import { Client, type ClientConfig, type ILogger, LogLevel } from "hazelcast-client";
import { BackendError } from "../core/mod.ts";
import { withTimeout } from "../core/_timers.ts";

/** A connected `hazelcast-client` instance. */
export type HazelcastClient = Client;

/** `hazelcast-client` configuration (its `ClientConfig`). */
export type HazelcastClientConfig = ClientConfig;

/**
 * How long the first connect of a client the library creates may take when the configuration
 * sets no `clusterConnectTimeoutMillis`: 20 s. Later reconnects (after a member outage) are
 * retried for ever, as `hazelcast-client` does by default.
 */
export const DEFAULT_CLUSTER_CONNECT_TIMEOUT_MS = 20_000;

/** Where a Hazelcast class gets its client from. */
export interface HazelcastConnectionOptions {
  /**
   * A client you created. It is used as is and never shut down by this library (shut it down
   * yourself after the store).
   */
  readonly client?: HazelcastClient;
  /**
   * Configuration of a client the library creates on first use and shuts down in `shutdown()`.
   * Without `connectionStrategy.connectionRetry.clusterConnectTimeoutMillis` the first connect
   * gives up after {@linkcode DEFAULT_CLUSTER_CONNECT_TIMEOUT_MS} and reconnects are retried for
   * ever. With it, `hazelcast-client` applies it to reconnects too: a member outage longer than
   * that shuts the client down for good (subscriptions end, reported to `onError`). Ignored when
   * `client` is given.
   */
  readonly clientConfig?: HazelcastClientConfig;
}

const LEVEL_NAMES: Record<string, LogLevel> = {
  OFF: LogLevel.OFF,
  ERROR: LogLevel.ERROR,
  WARN: LogLevel.WARN,
  INFO: LogLevel.INFO,
  DEBUG: LogLevel.DEBUG,
  TRACE: LogLevel.TRACE,
};

const AUTH_FAILURE = /cluster name .*does not match|Authentication failed/i;

/** Forwards to the user's logger (or to the console at the configured level) and remembers why
 * the members refused the client. */
class WatchingLogger implements ILogger {
  refusal: string | undefined;
  readonly #inner: ILogger | undefined;
  readonly #level: LogLevel;

  constructor(inner: ILogger | undefined, level: LogLevel) {
    this.#inner = inner;
    this.#level = level;
  }

  log(level: LogLevel, objectName: string, message: string, furtherInfo: unknown): void {
    if (level <= LogLevel.WARN && typeof message === "string" && AUTH_FAILURE.test(message)) {
      this.refusal ??= message;
    }
    if (this.#inner) {
      this.#inner.log(level, objectName, message, furtherInfo);
      return;
    }
    if (level > this.#level || this.#level === LogLevel.OFF) return;
    const line = `[hazelcast-client] ${LogLevel[level]} ${objectName}: ${message}`;
    if (level <= LogLevel.WARN) console.warn(line, furtherInfo ?? "");
    else console.log(line);
  }
  error(objectName: string, message: string, furtherInfo?: unknown): void {
    this.log(LogLevel.ERROR, objectName, message, furtherInfo);
  }
  warn(objectName: string, message: string, furtherInfo?: unknown): void {
    this.log(LogLevel.WARN, objectName, message, furtherInfo);
  }
  info(objectName: string, message: string, furtherInfo?: unknown): void {
    this.log(LogLevel.INFO, objectName, message, furtherInfo);
  }
  debug(objectName: string, message: string, furtherInfo?: unknown): void {
    this.log(LogLevel.DEBUG, objectName, message, furtherInfo);
  }
  trace(objectName: string, message: string, furtherInfo?: unknown): void {
    this.log(LogLevel.TRACE, objectName, message, furtherInfo);
  }
}

/**
 * Creates a `hazelcast-client` and waits until it is connected. Unlike
 * `Client.newHazelcastClient`, it gives up after {@linkcode DEFAULT_CLUSTER_CONNECT_TIMEOUT_MS}
 * when the configuration sets no connect timeout (that deadline bounds this first connect only:
 * the client still reconnects for ever after a later outage), and it fails with a
 * {@linkcode BackendError}
 * that says which cluster could not be reached where, and why (a wrong cluster name is named as
 * such).
 *
 * @example
 * ```ts ignore
 * import { connectHazelcast } from "@socketio4ts/stores/hazelcast";
 *
 * const client = await connectHazelcast({
 *   clusterName: "dev",
 *   network: { clusterMembers: ["127.0.0.1:5701"] },
 * });
 * await client.shutdown();
 * ```
 *
 * @throws {BackendError} when no member accepted the client within the connect timeout.
 */
export async function connectHazelcast(
  config: HazelcastClientConfig = {},
): Promise<HazelcastClient> {
  const retry = config.connectionStrategy?.connectionRetry ?? {};
  const ownDeadline = retry.clusterConnectTimeoutMillis === undefined;
  const timeoutMs = retry.clusterConnectTimeoutMillis ?? DEFAULT_CLUSTER_CONNECT_TIMEOUT_MS;
  const levelName = String(config.properties?.["hazelcast.logging.level"] ?? "INFO").toUpperCase();
  const logger = new WatchingLogger(config.customLogger, LEVEL_NAMES[levelName] ?? LogLevel.INFO);
  let connected: (() => void) | undefined;
  const effective: ClientConfig = {
    ...config,
    customLogger: logger,
    // hazelcast-client applies `clusterConnectTimeoutMillis` to every reconnect too, and shuts
    // the client down for good when one takes longer. The default deadline is this function's
    // own, for the first connect only: the client itself retries for ever (its own default).
    ...(ownDeadline
      ? {
        connectionStrategy: { ...config.connectionStrategy, asyncStart: true },
        lifecycleListeners: [
          ...(config.lifecycleListeners ?? []),
          (state: string) => {
            if (state === "CONNECTED") connected?.();
          },
        ],
      }
      : {}),
  };
  const started = Date.now();
  let client: HazelcastClient | undefined;
  try {
    if (!ownDeadline) return await Client.newHazelcastClient(effective);
    const reached = new Promise<void>((resolve) => (connected = resolve));
    client = await Client.newHazelcastClient(effective);
    if (client.getCluster().getMembers().length === 0) {
      await withTimeout(reached, timeoutMs, () => new Error("no member accepted the client"));
    }
    return client;
  } catch (error) {
    await client?.shutdown().catch(() => {});
    const cluster = config.clusterName ?? "dev";
    const members = config.network?.clusterMembers?.join(", ") || "127.0.0.1:5701";
    const reason = logger.refusal
      ? `the members refused the client: ${
        logger.refusal.replace(/^.*?Authentication failed - /, "")
      }` +
        ` (check clusterName ${JSON.stringify(cluster)} against the cluster's name)`
      : (error as Error)?.message ?? String(error);
    throw new BackendError(
      "hazelcast",
      `could not connect to cluster ${
        JSON.stringify(cluster)
      } at ${members} within ${timeoutMs} ms ` +
        `(gave up after ${Date.now() - started} ms): ${reason}`,
      { cause: error },
    );
  }
}

/**
 * The client of one store, borrowed or owned: an owned client is created lazily on first use and
 * shut down by {@linkcode ClientHandle.release}. Shared by a factory and its default event store.
 */
export class ClientHandle {
  /** Whether this handle created the client (and so shuts it down). */
  readonly owned: boolean;
  readonly #config: HazelcastClientConfig | undefined;
  #client: Promise<HazelcastClient> | undefined;
  #released: Promise<void> | undefined;
  #users = 1;

  /** @param options a client, or a configuration to create one from. */
  constructor(options: HazelcastConnectionOptions) {
    if (options.client !== undefined) {
      const client = options.client as Partial<HazelcastClient> | null;
      if (typeof client?.getMap !== "function" || typeof client.getRingbuffer !== "function") {
        throw new TypeError("client must be a hazelcast-client HazelcastClient instance");
      }
      this.owned = false;
      this.#client = Promise.resolve(options.client);
    } else {
      this.owned = true;
      this.#config = options.clientConfig ?? {};
    }
  }

  /** Adds one more user; each calls `release()` once. */
  retain(): this {
    this.#users++;
    return this;
  }

  /** The client, connecting an owned one on first use (a failed connect is retried next time). */
  get(): Promise<HazelcastClient> {
    if (this.#released) {
      return Promise.reject(new BackendError("hazelcast", "the client has been shut down"));
    }
    if (!this.#client) {
      const connecting = connectHazelcast(this.#config);
      this.#client = connecting;
      connecting.catch(() => {
        if (this.#client === connecting) this.#client = undefined;
      });
    }
    return this.#client;
  }

  /** Drops one user (each user calls it once); the last one shuts an owned client down. */
  release(): Promise<void> {
    if (--this.#users > 0) return Promise.resolve();
    this.#released ??= (async () => {
      if (!this.owned || !this.#client) return;
      const client = await this.#client.catch(() => undefined);
      await client?.shutdown();
    })();
    return this.#released;
  }
}
