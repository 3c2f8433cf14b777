/**
 * Redis backends of `@socketio4ts/stores`, over TCP (a node-redis client) or REST (an
 * `@upstash/redis` client) with one implementation and one data layout:
 *
 * - {@linkcode RedisStoreFactory}: sessions and shared maps in Redis hashes.
 * - {@linkcode RedisPubSubEventStore}: cluster events over Pub/Sub (TCP), at-most-once.
 * - {@linkcode RedisStreamEventStore}: cluster events over Streams (TCP or REST), at-least-once,
 *   with offsets and resume.
 *
 * The library never closes a client you pass in; it closes the dedicated connections it opens
 * with `client.duplicate()` for subscriptions and blocking reads. This module imports no client
 * library at run time and no `node:` module, so it runs on the edge with `@upstash/redis`.
 *
 * @example
 * ```ts
 * import { Redis } from "@upstash/redis";
 * import { RedisStoreFactory } from "@socketio4ts/stores/redis";
 *
 * const client = new Redis({ url: "http://127.0.0.1:18079", token: "socketio4ts-local-token" });
 * await using factory = new RedisStoreFactory({ client, prefix: "example" });
 * const store = factory.createStore("session-1");
 * await store.set("avatar", new Uint8Array([1, 2, 3]));
 * console.log(await store.get("avatar"));
 * await factory.onDisconnect("session-1");
 * ```
 *
 * @module
 */

export * from "./command_port.ts";
export * from "./keys.ts";
export * from "./ports.ts";
export * from "./pubsub_event_store.ts";
export * from "./redis_store_factory.ts";
export * from "./rest_port.ts";
export * from "./stream_event_store.ts";
export * from "./tcp_port.ts";
