/**
 * Hazelcast backends of `@socketio4ts/stores`, on `hazelcast-client` (Deno via the npm specifier,
 * and Node):
 *
 * - {@linkcode HazelcastStoreFactory} — storage: an IMap per session (`<prefix>:session:<id>`,
 *   destroyed by `destroy()`), an IMap per shared map (`<prefix>:map:<name>`), optional per-entry
 *   TTL / max idle; paired by default with the reliable-topic event store on the same client.
 * - {@linkcode HazelcastReliableTopicEventStore} — events on reliable topics (ring buffers), one
 *   per channel (`<prefix>.<channel>`), at-least-once with the ring-buffer sequence as offset; or,
 *   with `publishMode: "UNRELIABLE"`, the fire-and-forget configuration that serves as Hazelcast
 *   Pub/Sub.
 * - {@linkcode connectHazelcast} — a bounded connect with a clear error (a wrong cluster name says
 *   so).
 *
 * @example
 * ```ts
 * import { HazelcastStoreFactory } from "@socketio4ts/stores/hazelcast";
 *
 * // Two nodes of one application on one Hazelcast cluster (here the project's local member:
 * // `deno task services:up hazelcast`).
 * const clientConfig = {
 *   clusterName: "socketio4ts",
 *   network: { clusterMembers: ["127.0.0.1:15701"] },
 *   properties: { "hazelcast.logging.level": "OFF" },
 * };
 * const prefix = `example-${crypto.randomUUID().slice(0, 8)}`;
 * await using nodeA = new HazelcastStoreFactory({ clientConfig, prefix });
 * await using nodeB = new HazelcastStoreFactory({ clientConfig, prefix });
 *
 * let joined!: (room: string) => void;
 * const arrived = new Promise<string>((resolve) => joined = resolve);
 * const ignore = () => {};
 * await nodeB.init({
 *   connect: ignore,
 *   disconnect: ignore,
 *   join: (message) => joined("room" in message ? message.room : message.rooms.join()),
 *   leave: ignore,
 *   dispatch: ignore,
 * });
 *
 * await nodeA.createStore("s1").set("name", "Ada");
 * console.log(await nodeB.createStore("s1").get("name")); // "Ada": one session map, cluster-wide
 * await nodeA.eventStore().publish("JOIN", { sessionId: "s1", namespace: "/", room: "lobby" });
 * console.log(await arrived); // "lobby", delivered to node B through a reliable topic
 * await nodeA.onDisconnect("s1"); // destroys the session's IMap
 * ```
 *
 * @module
 */

export { connectHazelcast, DEFAULT_CLUSTER_CONNECT_TIMEOUT_MS } from "./client.ts";
export type {
  HazelcastClient,
  HazelcastClientConfig,
  HazelcastConnectionOptions,
} from "./client.ts";
export { HazelcastReliableTopicEventStore } from "./reliable_topic_event_store.ts";
export type { HazelcastReliableTopicEventStoreOptions } from "./reliable_topic_event_store.ts";
export type { TopicOverloadPolicyName } from "./ring_topic_transport.ts";
export { HazelcastStoreFactory } from "./store_factory.ts";
export type { HazelcastStoreFactoryOptions } from "./store_factory.ts";
export { RELIABLE_TOPIC_RINGBUFFER_PREFIX, ringbufferNameOf } from "./topic_message.ts";
