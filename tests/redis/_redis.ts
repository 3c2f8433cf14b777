/**
 * Helpers of the Redis tests: clients of both transports on the harness services, and makers of
 * factories and event stores whose `shutdown()` also closes the client the test created (the
 * library never closes a client it was given).
 *
 * @module
 */

import { createClient } from "redis";
import { Redis } from "@upstash/redis";
import type { EventStore, EventStoreOptions, StoreFactory } from "../../mod.ts";
import {
  type NodeRedisClient,
  RedisPubSubEventStore,
  type RedisPubSubEventStoreOptions,
  RedisStoreFactory,
  type RedisStoreFactoryOptions,
  RedisStreamEventStore,
  type RedisStreamEventStoreOptions,
} from "../../src/redis/mod.ts";
import { REDIS_PORT } from "../../scripts/services/redis.ts";
import { findFreePort } from "../../scripts/services/_process.ts";
import { UPSTASH_PORT, UPSTASH_TOKEN } from "../../scripts/services/upstash_rest.ts";

/** The transports under test. */
export type Transport = "tcp" | "rest";

/** URL of the shared Redis. */
export const REDIS_URL = `redis://127.0.0.1:${REDIS_PORT}`;
/** URL of the shared REST fixture. */
export const REST_URL = `http://127.0.0.1:${UPSTASH_PORT}`;

/** The node-redis client type used in the tests. */
export type TcpClient = ReturnType<typeof createClient>;

/** A key prefix unique to one test: `<label>-<8 random hex digits>`. */
export function testPrefix(label: string): string {
  return `${label}-${crypto.randomUUID().slice(0, 8)}`;
}

/** A node-redis client (not connected: the library connects it at first use). */
export function tcpClient(url = REDIS_URL): TcpClient {
  const client: TcpClient = createClient({ url });
  client.on("error", () => {
    // reconnects are reported through the stores under test
  });
  return client;
}

/** An @upstash/redis client on the REST fixture. */
export function restClient(url = REST_URL, token = UPSTASH_TOKEN): Redis {
  return new Redis({ url, token, enableTelemetry: false });
}

/** A connected node-redis client for looking at Redis directly. */
export async function rawClient(url = REDIS_URL): Promise<TcpClient> {
  const client = tcpClient(url);
  await client.connect();
  return client;
}

/** Closes a node-redis client the test created, whatever its state. */
export function closeClient(client: { destroy(): void } | undefined): void {
  try {
    client?.destroy();
  } catch {
    // already closed
  }
}

function closing<T extends { shutdown(): Promise<void> }>(
  target: T,
  client: { destroy(): void } | undefined,
): T {
  const shutdown = target.shutdown.bind(target);
  let done: Promise<void> | undefined;
  target.shutdown = () =>
    done ??= shutdown().finally(async () => {
      closeClient(client);
      await new Promise((resolve) => setTimeout(resolve, 0));
    });
  return target;
}

/** A client of `transport` plus what closes it. */
export function clientOf(transport: Transport): {
  client: NodeRedisClient | Redis;
  owned: { destroy(): void } | undefined;
} {
  if (transport === "tcp") {
    const client = tcpClient();
    return { client: client as unknown as NodeRedisClient, owned: client };
  }
  return { client: restClient(), owned: undefined };
}

/** A factory on its own client; its `shutdown()` closes that client too. */
export function factoryOn(
  transport: Transport,
  options: Omit<RedisStoreFactoryOptions, "client"> = {},
): RedisStoreFactory {
  const { client, owned } = clientOf(transport);
  return closing(new RedisStoreFactory({ ...options, client }), owned);
}

/** A Streams event store on its own client; its `shutdown()` closes that client too. */
export function streamStoreOn(
  transport: Transport,
  options: EventStoreOptions & Omit<RedisStreamEventStoreOptions, "client"> = {},
): RedisStreamEventStore {
  const { client, owned } = clientOf(transport);
  return closing(new RedisStreamEventStore({ pollIntervalMs: 20, ...options, client }), owned);
}

/** A Pub/Sub event store on its own TCP client; its `shutdown()` closes that client too. */
export function pubSubStore(
  options: EventStoreOptions & Omit<RedisPubSubEventStoreOptions, "client"> = {},
): RedisPubSubEventStore {
  const client = tcpClient();
  return closing(
    new RedisPubSubEventStore({ ...options, client: client as unknown as NodeRedisClient }),
    client,
  );
}

/** Every key under `<prefix>:`, found with SCAN. */
export async function scanKeys(
  client: TcpClient,
  prefix: string,
): Promise<string[]> {
  const found: string[] = [];
  for await (const batch of client.scanIterator({ MATCH: `${prefix}:*`, COUNT: 1000 })) {
    found.push(...batch);
  }
  return found;
}

/** Deletes every key under `<prefix>:` (streams left by event tests). */
export async function dropPrefix(prefix: string): Promise<void> {
  const client = await rawClient();
  try {
    const keys = await scanKeys(client, prefix);
    if (keys.length > 0) await client.del(keys);
  } finally {
    closeClient(client);
  }
}

/** Shuts a store or factory down and deletes its keys. */
export async function shutdownAndDrop(
  target: EventStore | StoreFactory,
  prefix: string,
): Promise<void> {
  await target.shutdown();
  await dropPrefix(prefix);
}

/**
 * A free port at a random place in 20000-29999 for a private Redis: while it is stopped its port
 * is free, and tests of other backends picking ports from 16400 upwards must not take it.
 */
export function outOfTheWayPort(): number {
  return findFreePort(20_000 + Math.floor(Math.random() * 10_000));
}
