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
 * ```ts ignore
 * import { HazelcastStoreFactory } from "@socketio4ts/stores/hazelcast";
 *
 * const clientConfig = { clusterName: "dev", network: { clusterMembers: ["127.0.0.1:5701"] } };
 * await using nodeA = new HazelcastStoreFactory({ clientConfig });
 * await using nodeB = new HazelcastStoreFactory({ clientConfig });
 * await nodeB.init({
 *   connect: () => {},
 *   disconnect: () => {},
 *   join: (message) => console.log(`${message.nodeId} joined`, message),
 *   leave: () => {},
 *   dispatch: () => {},
 * });
 * await nodeA.createStore("s1").set("name", "Ada");
 * console.log(await nodeB.createStore("s1").get("name")); // "Ada": one cluster, one session map
 * await nodeA.eventStore().publish("JOIN", { sessionId: "s1", namespace: "/", room: "lobby" });
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
