/**
 * {@linkcode HazelcastStoreFactory}: session stores and shared maps on Hazelcast IMaps, paired by
 * default with {@linkcode HazelcastReliableTopicEventStore} on the same client.
 *
 * @module
 */

import {
  assertPrefix,
  BaseStoreFactory,
  DEFAULT_PREFIX,
  describeValue,
  type EventStore,
  type HashPort,
} from "../core/mod.ts";
import { ClientHandle, type HazelcastClient, type HazelcastConnectionOptions } from "./client.ts";
import { type EntryExpiry, IMapPort } from "./imap_port.ts";
import {
  eventStoreOnHandle,
  type HazelcastReliableTopicEventStoreOptions,
} from "./reliable_topic_event_store.ts";

/** Options of {@linkcode HazelcastStoreFactory}. */
export interface HazelcastStoreFactoryOptions extends HazelcastConnectionOptions {
  /**
   * Prefix of every IMap name (`<prefix>:session:<id>`, `<prefix>:map:<name>`) and, for the default
   * event store, of its topics; `socketio4ts` by default.
   */
  readonly prefix?: string;
  /**
   * The event store to pair with. By default a {@linkcode HazelcastReliableTopicEventStore} on the
   * same client (as socketio4j defaults to Hazelcast events), shut down with the factory.
   */
  readonly eventStore?: EventStore;
  /** Options of the default event store (its prefix defaults to the factory's). */
  readonly eventStoreOptions?: Omit<
    HazelcastReliableTopicEventStoreOptions,
    "client" | "clientConfig"
  >;
  /**
   * Time to live of each session entry since its last write, in whole seconds (IMap per-entry
   * TTL; the member counts in seconds). A session whose node crashed before `destroy()` then
   * empties itself. Off by default.
   */
  readonly sessionTtlSeconds?: number;
  /**
   * Time a session entry may go unread and unwritten before it expires, in whole seconds (IMap
   * per-entry max idle): live sessions keep their data, abandoned ones empty themselves. Off by
   * default.
   */
  readonly sessionMaxIdleSeconds?: number;
}

/** Seconds as the milliseconds `hazelcast-client` takes (the member keeps whole seconds). */
function optionalSeconds(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new RangeError(
      `${name} must be a whole number of seconds >= 1 (the member counts expiry in seconds), received ${
        describeValue(value)
      }`,
    );
  }
  return (value as number) * 1000;
}

/**
 * Hazelcast storage — socketio4j's `HazelcastStore` — paired with any event store.
 *
 * Each session gets its own IMap, `<prefix>:session:<sessionId>`; `set/get/has/del` are the
 * IMap's `set/get/containsKey/remove`, and `destroy()` destroys the whole IMap (it disappears from
 * the cluster's distributed objects). Shared maps are IMaps too, `<prefix>:map:<name>` (a separate
 * namespace: no session id can name a shared map), and their `clear()` empties the IMap without
 * destroying it, because other nodes keep using it. Values are stored as the library's text
 * encoding (JSON with tagged bytes), so any node — or another client — reads them back alike.
 *
 * Data survives the loss of a member when the maps have backups (`<backup-count>` ≥ 1 in the
 * member's map config, the default). A node that crashes before `destroy()` leaves its session
 * maps behind unless `sessionTtlSeconds` / `sessionMaxIdleSeconds` is set (or the members' config gives
 * `<prefix>:session:*` maps a `time-to-live-seconds` / `max-idle-seconds`): then the entries
 * expire by themselves. An expired session's IMap is empty but still exists as a distributed
 * object (Hazelcast has no expiry of whole maps) — a few hundred bytes per session until someone
 * destroys it.
 *
 * Calls reject with a `BackendError` when the client cannot reach a member within its invocation
 * timeout (`properties["hazelcast.client.invocation.timeout.millis"]`, 120 s by default).
 *
 * Give it your client (`{ client }`, never shut down by the factory) or a client configuration
 * (`{ clientConfig }`: the factory creates the client on first use and shuts it down in
 * `shutdown()`).
 *
 * @example
 * ```ts ignore
 * import { HazelcastStoreFactory } from "@socketio4ts/stores/hazelcast";
 *
 * await using factory = new HazelcastStoreFactory({
 *   clientConfig: { clusterName: "dev", network: { clusterMembers: ["127.0.0.1:5701"] } },
 *   sessionMaxIdleSeconds: 30 * 60,
 * });
 * await factory.connect();
 * const store = factory.createStore("session-1");
 * await store.set("user", { name: "Ada" });
 * console.log(await store.get("user"));
 * await factory.onDisconnect("session-1");
 * ```
 */
export class HazelcastStoreFactory extends BaseStoreFactory {
  /** Prefix of every IMap name. */
  readonly prefix: string;
  readonly #handle: ClientHandle;
  readonly #expiry: EntryExpiry;
  readonly #ownsEventStore: boolean;

  /**
   * Creates the factory; the client connects on first use (or with {@linkcode connect}).
   *
   * @param options the client (or its configuration), prefix, event store and session expiry.
   */
  constructor(options: HazelcastStoreFactoryOptions = {}) {
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    assertPrefix(prefix);
    const expiry: EntryExpiry = {
      ttlMs: optionalSeconds("sessionTtlSeconds", options.sessionTtlSeconds),
      maxIdleMs: optionalSeconds("sessionMaxIdleSeconds", options.sessionMaxIdleSeconds),
    };
    const handle = new ClientHandle(options);
    const ownsEventStore = options.eventStore === undefined;
    super(
      options.eventStore ?? eventStoreOnHandle(handle, { prefix, ...options.eventStoreOptions }),
    );
    this.prefix = prefix;
    this.#handle = handle;
    this.#expiry = expiry;
    this.#ownsEventStore = ownsEventStore;
  }

  /** Name of the IMap that holds a session's keys. */
  sessionMapName(sessionId: string): string {
    return `${this.prefix}:session:${sessionId}`;
  }

  /** Name of the IMap that holds the shared map `name`. */
  sharedMapName(name: string): string {
    return `${this.prefix}:map:${name}`;
  }

  /**
   * The client, connecting it first if the factory owns it and has not connected yet.
   *
   * @throws {BackendError} when the cluster cannot be reached within the connect timeout.
   */
  client(): Promise<HazelcastClient> {
    return this.#handle.get();
  }

  /**
   * Connects now (otherwise the first operation connects), so a wrong address or cluster name
   * shows at startup.
   *
   * @throws {BackendError} when the cluster cannot be reached within the connect timeout.
   */
  async connect(): Promise<void> {
    await this.#handle.get();
  }

  /** The IMap `<prefix>:session:<id>`; its `clear()` destroys the IMap. */
  protected sessionPort(sessionId: string): HashPort {
    return new IMapPort(this.#handle, this.sessionMapName(sessionId), this.#expiry, "destroy");
  }

  /** The IMap `<prefix>:map:<name>`; its `clear()` empties the IMap (other nodes keep it). */
  protected mapPort(name: string): HashPort {
    return new IMapPort(
      this.#handle,
      this.sharedMapName(name),
      { ttlMs: undefined, maxIdleMs: undefined },
      "clear",
    );
  }

  /** Stops the default event store, then shuts down the client if the factory created it. */
  protected override async closeStorage(): Promise<void> {
    // The default event store reads with this client: let it stop first.
    if (this.#ownsEventStore) await this.eventStore().shutdown().catch(() => {});
    await this.#handle.release();
  }
}
