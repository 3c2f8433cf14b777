/**
 * Names and enumerations shared by every event backend.
 *
 * @module
 */

/**
 * The seven cluster event types. Values equal their keys, so `EventType.JOIN` and `"JOIN"` are
 * interchangeable wherever a type is expected.
 */
export const EventType = {
  /** A session connected on some node. */
  CONNECT: "CONNECT",
  /** A session disconnected on some node. */
  DISCONNECT: "DISCONNECT",
  /** A session joined one room. */
  JOIN: "JOIN",
  /** A session joined several rooms at once. */
  BULK_JOIN: "BULK_JOIN",
  /** A session left one room. */
  LEAVE: "LEAVE",
  /** A session left several rooms at once. */
  BULK_LEAVE: "BULK_LEAVE",
  /** A packet to deliver to the clients of a room (or a whole namespace) on every node. */
  DISPATCH: "DISPATCH",
} as const;

/** One of the seven built-in event type names. */
export type BuiltInEventType = typeof EventType[keyof typeof EventType];

/** How event types map to broker channels (topics, subjects, streams). */
export const EventStoreMode = {
  /** One channel per event type (the default): types are independent, order kept per type. */
  MULTI_CHANNEL: "MULTI_CHANNEL",
  /** One channel for all types: order is kept across types. */
  SINGLE_CHANNEL: "SINGLE_CHANNEL",
} as const;

/** `"MULTI_CHANNEL"` or `"SINGLE_CHANNEL"`. */
export type EventStoreMode = typeof EventStoreMode[keyof typeof EventStoreMode];

/** The delivery guarantee an event store gives. */
export const PublishMode = {
  /** At-least-once: a resolved publish reaches every node subscribed at that time. */
  RELIABLE: "RELIABLE",
  /** At-most-once: messages in flight during an outage may be lost. */
  UNRELIABLE: "UNRELIABLE",
} as const;

/** `"RELIABLE"` or `"UNRELIABLE"`. */
export type PublishMode = typeof PublishMode[keyof typeof PublishMode];

/** What kind of transport an event store is built on. */
export const EventStoreKind = {
  /** In-process only. */
  LOCAL: "LOCAL",
  /** Fire-and-forget publish/subscribe (Redis Pub/Sub, NATS core). */
  PUBSUB: "PUBSUB",
  /** An append-only log with offsets and replay (Redis Streams, JetStream, ring buffer). */
  STREAM: "STREAM",
  /** A message broker with consumer groups and partitions (Kafka). */
  BROKER: "BROKER",
} as const;

/** `"LOCAL"`, `"PUBSUB"`, `"STREAM"` or `"BROKER"`. */
export type EventStoreKind = typeof EventStoreKind[keyof typeof EventStoreKind];
