/**
 * Kafka event backend: {@linkcode KafkaEventStore}, built on `@platformatic/kafka` (pure
 * JavaScript; Deno 2 and Node ≥ 20.19.4).
 *
 * @example
 * ```ts ignore
 * import { KafkaEventStore } from "@socketio4ts/stores/kafka";
 * import { MemoryStoreFactory } from "@socketio4ts/stores";
 *
 * const events = new KafkaEventStore({ brokers: ["127.0.0.1:9092"], prefix: "chat-app" });
 * await using factory = new MemoryStoreFactory(events);
 * await factory.init({
 *   connect: () => {},
 *   disconnect: () => {},
 *   join: () => {},
 *   leave: () => {},
 *   dispatch: (message) => console.log("dispatch from", message.nodeId),
 * });
 * await events.publish("DISPATCH", { namespace: "/", room: "lobby", packet: ["chat", "hi"] });
 * ```
 *
 * @module
 */

export * from "./kafka_event_store.ts";
export { groupIdOf } from "./kafka_transport.ts";
export { formatOffset, type KafkaPosition, parseOffset, parsePositions } from "./offsets.ts";
export type { KafkaConnectionOptions, KafkaEventStoreOptions, KafkaProducer } from "./options.ts";
export { topicName } from "./topics.ts";
