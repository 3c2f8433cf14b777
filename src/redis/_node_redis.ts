/**
 * What the TCP port and its dedicated connections share about node-redis clients: reply
 * normalisation to the RESP2 shape, the command options, and a connect that fails fast.
 *
 * @module
 */

import type { RedisReply } from "./command_port.ts";
import type { NodeRedisClient, NodeRedisCommandOptions } from "./tcp_port.ts";

/** RESP3 map type code; mapped to a flat array so replies have the RESP2 shape. */
const RESP3_MAP = 37;
export const FLAT_MAPS: NodeRedisCommandOptions = { typeMapping: { [RESP3_MAP]: Array } };
/** Commands on dedicated connections (blocking reads) wait as long as they need. */
export const UNLIMITED: NodeRedisCommandOptions = { ...FLAT_MAPS, timeout: 0 };

/** Copy on write: an array already in RESP2 shape (the usual case) is returned as it is. */
function normalizeArray(reply: readonly unknown[]): RedisReply {
  let out: RedisReply[] | undefined;
  for (let index = 0; index < reply.length; index++) {
    const item = reply[index];
    const normal = normalize(item);
    if (normal !== item) out ??= reply.slice(0, index) as RedisReply[];
    if (out) out[index] = normal;
  }
  return (out ?? reply) as RedisReply;
}

/** A node-redis reply in the RESP2 shape the backends read (maps as flat arrays). */
export function normalize(reply: unknown): RedisReply {
  if (reply === null || reply === undefined) return null;
  if (typeof reply === "string" || typeof reply === "number") return reply;
  if (Array.isArray(reply)) return normalizeArray(reply);
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
export async function connectOrFail(client: NodeRedisClient): Promise<void> {
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
