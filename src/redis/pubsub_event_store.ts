/**
 * {@linkcode RedisPubSubEventStore}: cluster events over Redis Pub/Sub, at-most-once.
 *
 * @module
 */

import {
  BaseEventStore,
  type ChannelSink,
  EventStoreKind,
  type EventStoreOptions,
  type EventTransport,
  PublishMode,
  type PublishResult,
  resolvePrefix,
  type WireRecord,
} from "../core/mod.ts";
import { fromWire, toWire } from "./_wire.ts";
import type { DedicatedConnection, RedisCommandPort } from "./command_port.ts";
import { pubSubChannel } from "./keys.ts";
import { portFor, type RedisPortOptions } from "./ports.ts";
import type { NodeRedisClient } from "./tcp_port.ts";

/** Options of {@linkcode RedisPubSubEventStore}. */
export interface RedisPubSubEventStoreOptions extends EventStoreOptions, RedisPortOptions {
  /**
   * A node-redis client (TCP) or a TCP {@linkcode RedisCommandPort}. Publishing uses it; the
   * subscriptions run on one connection of the store's own (`client.duplicate()`), closed by
   * `shutdown()`. The client itself is never closed.
   */
  readonly client: NodeRedisClient | RedisCommandPort;
}

/** Pub/Sub confirms nothing beyond Redis accepting the message: no offset. */
function unconfirmed(): PublishResult {
  return {};
}

class PubSubTransport implements EventTransport {
  readonly carriesText = true;
  readonly #port: RedisCommandPort;
  readonly #ownsPort: boolean;
  readonly #prefix: string;
  readonly #sinks = new Map<string, ChannelSink>();
  #subscriber: Promise<DedicatedConnection> | undefined;

  constructor(port: RedisCommandPort, ownsPort: boolean, prefix: string) {
    this.#port = port;
    this.#ownsPort = ownsPort;
    this.#prefix = prefix;
  }

  send(channel: string, record: WireRecord): Promise<PublishResult> {
    return this.#port.send(["PUBLISH", pubSubChannel(this.#prefix, channel), toWire(record)])
      .then(unconfirmed);
  }

  #connection(): Promise<DedicatedConnection> {
    if (!this.#subscriber) {
      const opening = this.#port.dedicated!().then((connection) => {
        connection.onError((error) => {
          for (const sink of this.#sinks.values()) sink.error(error);
        });
        return connection;
      });
      opening.catch(() => {
        if (this.#subscriber === opening) this.#subscriber = undefined;
      });
      this.#subscriber = opening;
    }
    return this.#subscriber;
  }

  async open(channel: string, sink: ChannelSink): Promise<void> {
    const connection = await this.#connection();
    this.#sinks.set(channel, sink);
    try {
      await connection.subscribe(pubSubChannel(this.#prefix, channel), (message) => {
        if (this.#sinks.get(channel) === sink) sink.record(fromWire(message));
      });
    } catch (error) {
      if (this.#sinks.get(channel) === sink) this.#sinks.delete(channel);
      throw error;
    }
  }

  async close(channel: string): Promise<void> {
    this.#sinks.delete(channel);
    const connection = await this.#subscriber?.catch(() => undefined);
    await connection?.unsubscribe(pubSubChannel(this.#prefix, channel)).catch(() => {});
  }

  async shutdown(): Promise<void> {
    this.#sinks.clear();
    const connection = await this.#subscriber?.catch(() => undefined);
    this.#subscriber = undefined;
    await connection?.close();
    if (this.#ownsPort) await this.#port.close();
  }
}

/**
 * Cluster events over Redis Pub/Sub (TCP): at-most-once, lowest latency. One channel per event
 * type (`<prefix>:<TYPE>`) in `MULTI_CHANNEL` mode, `<prefix>:all` in `SINGLE_CHANNEL` mode.
 * Subscriptions live on one dedicated connection that resubscribes by itself after a reconnect;
 * messages published while it is disconnected are lost (that is Pub/Sub). Records travel as text:
 * the default codec's JSON as it is, bytes as base64.
 *
 * Over `@upstash/redis` (REST) this store is not offered: that client's subscribe gives no signal
 * when the server-sent-event stream ends or fails (so a dropped subscription could never be
 * resubscribed), and it refuses event lines over 1 MiB. Use {@linkcode RedisStreamEventStore}
 * over REST.
 *
 * @example
 * ```ts ignore
 * import { createClient } from "redis";
 * import { RedisPubSubEventStore } from "@socketio4ts/stores/redis";
 *
 * const client = await createClient().connect();
 * await using events = new RedisPubSubEventStore({ client, prefix: "chat" });
 * await events.subscribe("JOIN", (message) => console.log(message.room));
 * await events.publish("JOIN", { sessionId: "s1", namespace: "/", room: "lobby" });
 * client.destroy();
 * ```
 */
export class RedisPubSubEventStore extends BaseEventStore {
  /**
   * Creates a Pub/Sub event store over a TCP client.
   *
   * @param options client, node id, mode, prefix, codec and error hook.
   * @throws {TypeError} for a client that cannot subscribe (REST).
   */
  constructor(options: RedisPubSubEventStoreOptions) {
    const port = portFor(options?.client, options);
    if (!port.dedicated) {
      throw new TypeError(
        "RedisPubSubEventStore needs a TCP client (node-redis): Pub/Sub over @upstash/redis cannot notice a dropped subscription; use RedisStreamEventStore over REST",
      );
    }
    super(new PubSubTransport(port, port !== options.client, resolvePrefix(options)), {
      kind: EventStoreKind.PUBSUB,
      publishMode: PublishMode.UNRELIABLE,
    }, options);
  }
}
