/**
 * Redis storage: {@linkcode RedisStoreFactory} keeps each session in one Redis hash and each
 * shared map in another, through a command port (TCP or REST).
 *
 * @module
 */

import {
  assertPrefix,
  BaseStoreFactory,
  DEFAULT_PREFIX,
  type EventStore,
  type HashPort,
} from "../core/mod.ts";
import {
  type RedisCommandPort,
  type RedisTransportKind,
  replyArray,
  replyNumber,
  replyString,
} from "./command_port.ts";
import { mapKey, sessionKey } from "./keys.ts";
import { portFor, type RedisClientInput, type RedisPortOptions } from "./ports.ts";
import { RedisPubSubEventStore } from "./pubsub_event_store.ts";
import { RedisStreamEventStore } from "./stream_event_store.ts";
import type { NodeRedisClient } from "./tcp_port.ts";

/** A {@linkcode HashPort} over one Redis hash. */
export class RedisHashPort implements HashPort {
  readonly #port: RedisCommandPort;
  /** The Redis key of the hash. */
  readonly key: string;

  /**
   * A port over one hash.
   *
   * @param port where commands go.
   * @param key the Redis key of the hash.
   */
  constructor(port: RedisCommandPort, key: string) {
    this.#port = port;
    this.key = key;
  }

  /** The raw value of `field` (`HGET`), or `undefined`. */
  async get(field: string): Promise<string | undefined> {
    return replyString(await this.#port.send(["HGET", this.key, field]));
  }

  /** Writes the raw value of `field` (`HSET`). */
  async set(field: string, value: string): Promise<void> {
    await this.#port.send(["HSET", this.key, field, value]);
  }

  /** Whether `field` exists (`HEXISTS`). */
  async has(field: string): Promise<boolean> {
    return replyNumber(await this.#port.send(["HEXISTS", this.key, field])) === 1;
  }

  /** Removes `field` (`HDEL`); resolves `true` if it existed. */
  async delete(field: string): Promise<boolean> {
    return replyNumber(await this.#port.send(["HDEL", this.key, field])) > 0;
  }

  /** Removes the whole hash (`DEL`). */
  async clear(): Promise<void> {
    await this.#port.send(["DEL", this.key]);
  }

  /** Number of fields (`HLEN`). */
  async size(): Promise<number> {
    return replyNumber(await this.#port.send(["HLEN", this.key]));
  }

  /** Every field name (`HKEYS`). */
  async keys(): Promise<string[]> {
    return replyArray(await this.#port.send(["HKEYS", this.key])).map((field) =>
      replyString(field) ?? ""
    );
  }

  /** Every field with its raw value (`HGETALL`). */
  async entries(): Promise<[string, string][]> {
    const flat = replyArray(await this.#port.send(["HGETALL", this.key]));
    const out: [string, string][] = [];
    for (let index = 0; index + 1 < flat.length; index += 2) {
      out.push([replyString(flat[index]!) ?? "", replyString(flat[index + 1]!) ?? ""]);
    }
    return out;
  }
}

/** Options of {@linkcode RedisStoreFactory}. */
export interface RedisStoreFactoryOptions extends RedisPortOptions {
  /**
   * The client: a node-redis client (`createClient()` of the `redis` package, TCP), an
   * `@upstash/redis` client (REST), or a {@linkcode RedisCommandPort}. The factory never closes
   * it; an unopened node-redis client is connected at first use.
   */
  readonly client: RedisClientInput;
  /** Prefix of every key (`<prefix>:session:<id>`, `<prefix>:map:<name>`); `socketio4ts` by default. */
  readonly prefix?: string;
  /**
   * The event store to pair with. By default a {@linkcode RedisPubSubEventStore} over a TCP
   * client, a {@linkcode RedisStreamEventStore} (polling) over a REST client, on the same client
   * and prefix; a default store is shut down with the factory.
   */
  readonly eventStore?: EventStore;
}

/**
 * Redis storage paired with any event store: one hash per session
 * (`<prefix>:session:<sessionId>`), one hash per shared map (`<prefix>:map:<name>`), over TCP or
 * REST with the same data layout, so a Node server and an edge function share sessions.
 *
 * @example
 * ```ts ignore
 * import { createClient } from "redis";
 * import { RedisStoreFactory } from "@socketio4ts/stores/redis";
 *
 * const client = await createClient({ url: "redis://127.0.0.1:6379" }).connect();
 * await using factory = new RedisStoreFactory({ client, prefix: "chat" });
 * const store = factory.createStore("session-1");
 * await store.set("user", { name: "Ada" });
 * console.log(await store.get("user"));
 * await factory.onDisconnect("session-1");
 * client.destroy();
 * ```
 */
export class RedisStoreFactory extends BaseStoreFactory {
  /** Prefix of every key. */
  readonly prefix: string;
  /** `tcp` or `rest`. */
  readonly transport: RedisTransportKind;
  readonly #port: RedisCommandPort;
  readonly #ownsPort: boolean;

  /**
   * Creates Redis storage over the given client.
   *
   * @param options client, prefix and event store.
   */
  constructor(options: RedisStoreFactoryOptions) {
    const prefix = options?.prefix ?? DEFAULT_PREFIX;
    assertPrefix(prefix);
    const port = portFor(options?.client, options);
    const client = options.client;
    const eventStore = options.eventStore ??
      (port.transport === "tcp" && port.dedicated
        ? new RedisPubSubEventStore({ ...options, client: client as NodeRedisClient, prefix })
        : new RedisStreamEventStore({ ...options, client, prefix }));
    super(eventStore);
    this.prefix = prefix;
    this.transport = port.transport;
    this.#port = port;
    this.#ownsPort = port !== options.client;
  }

  /** The Redis key of the hash holding a session's keys. */
  sessionKey(sessionId: string): string {
    return sessionKey(this.prefix, sessionId);
  }

  /** The Redis key of the hash holding a shared map. */
  mapKey(name: string): string {
    return mapKey(this.prefix, name);
  }

  /** The hash of one session: `<prefix>:session:<sessionId>`. */
  protected sessionPort(sessionId: string): HashPort {
    return new RedisHashPort(this.#port, this.sessionKey(sessionId));
  }

  /** The hash of one shared map: `<prefix>:map:<name>`. */
  protected mapPort(name: string): HashPort {
    return new RedisHashPort(this.#port, this.mapKey(name));
  }

  /** Releases the command port made from the client (never the client itself). */
  protected override closeStorage(): Promise<void> {
    return this.#ownsPort ? this.#port.close() : Promise.resolve();
  }
}
