/**
 * Picks the command port for whatever client the user passed: a node-redis client (TCP), an
 * `@upstash/redis` client (REST), or a ready {@linkcode RedisCommandPort}.
 *
 * @module
 */

import type { RedisCommandPort } from "./command_port.ts";
import { isUpstashClient, upstashPort, type UpstashRedisClient } from "./rest_port.ts";
import { isNodeRedisClient, type NodeRedisClient, nodeRedisPort } from "./tcp_port.ts";

/** A client the Redis backends accept. */
export type RedisClientInput = NodeRedisClient | UpstashRedisClient | RedisCommandPort;

/** Options that shape the port made from a client. */
export interface RedisPortOptions {
  /**
   * How long a command may wait for its reply before it rejects with a `BackendError`; 10 000 ms
   * by default. Over REST it bounds each HTTP request (aborted at the deadline).
   */
  readonly commandTimeoutMs?: number;
}

function isPort(value: unknown): value is RedisCommandPort {
  const port = value as Partial<RedisCommandPort> | null;
  return typeof port === "object" && port !== null && typeof port.send === "function" &&
    (port.transport === "tcp" || port.transport === "rest") && typeof port.close === "function";
}

/**
 * The command port for `client`.
 *
 * @throws {TypeError} when `client` is none of the accepted kinds.
 */
export function portFor(
  client: RedisClientInput,
  options: RedisPortOptions = {},
): RedisCommandPort {
  if (isPort(client)) return client;
  if (isNodeRedisClient(client)) {
    return nodeRedisPort(
      client,
      options.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: options.commandTimeoutMs },
    );
  }
  if (isUpstashClient(client)) {
    return upstashPort(
      client,
      options.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: options.commandTimeoutMs },
    );
  }
  throw new TypeError(
    "client must be a node-redis client (createClient() of the `redis` package), an @upstash/redis client (new Redis({ url, token })) or a RedisCommandPort",
  );
}
