/**
 * {@linkcode BaseStoreFactory} implements {@linkcode StoreFactory} once for every storage
 * backend: store and map caching, `init(host)` routing per mode, `onDisconnect`, `shutdown` and
 * `await using`. A backend supplies only the {@linkcode HashPort} of a session and of a map.
 *
 * @module
 */

import type { ClusterHost, EventStore, SharedMap, Store, StoreFactory } from "./contracts.ts";
import { describeValue } from "./errors.ts";
import { EventType } from "./event_types.ts";
import { type HashPort, PortSharedMap, PortStore } from "./port_store.ts";
import { assertName, type StoreValue } from "./values.ts";

const HOST_METHODS = ["connect", "disconnect", "join", "leave", "dispatch"] as const;

/** Shared implementation of {@linkcode StoreFactory}; storage backends extend it. */
export abstract class BaseStoreFactory implements StoreFactory {
  readonly #eventStore: EventStore;
  readonly #stores = new Map<string, PortStore>();
  readonly #maps = new Map<string, SharedMap>();
  #initialized = false;
  #closed: Promise<void> | undefined;

  /**
   * Pairs the storage backend with an event store.
   *
   * @param eventStore the event store cluster events travel through.
   */
  protected constructor(eventStore: EventStore) {
    if (typeof eventStore?.publish !== "function" || typeof eventStore.subscribe !== "function") {
      throw new TypeError(
        `eventStore must be an EventStore, received ${describeValue(eventStore)}`,
      );
    }
    this.#eventStore = eventStore;
  }

  /** The backend container holding the keys of one session. */
  protected abstract sessionPort(sessionId: string): HashPort;

  /** The backend container holding one shared map. */
  protected abstract mapPort(name: string): HashPort;

  /** Releases what the storage backend created (connections it opened). Nothing by default. */
  protected closeStorage(): Promise<void> {
    return Promise.resolve();
  }

  #assertOpen(operation: string): void {
    if (this.#closed) throw new Error(`cannot ${operation}: the store factory has been shut down`);
  }

  /** {@inheritDoc StoreFactory.createStore} */
  createStore(sessionId: string): Store {
    this.#assertOpen("createStore");
    assertName("session id", sessionId);
    const live = this.#stores.get(sessionId);
    if (live) return live;
    const store = new PortStore(sessionId, this.sessionPort(sessionId), (done) => {
      if (this.#stores.get(sessionId) === done) this.#stores.delete(sessionId);
    });
    this.#stores.set(sessionId, store);
    return store;
  }

  /** {@inheritDoc StoreFactory.createMap} */
  createMap<V extends StoreValue = StoreValue>(name: string): SharedMap<V> {
    this.#assertOpen("createMap");
    assertName("map name", name);
    let map = this.#maps.get(name);
    if (!map) this.#maps.set(name, map = new PortSharedMap(name, this.mapPort(name)));
    return map as SharedMap<V>;
  }

  /** {@inheritDoc StoreFactory.eventStore} */
  eventStore(): EventStore {
    return this.#eventStore;
  }

  /** {@inheritDoc StoreFactory.init} */
  async init(host: ClusterHost): Promise<void> {
    this.#assertOpen("init");
    for (const method of HOST_METHODS) {
      if (typeof host?.[method] !== "function") {
        throw new TypeError(
          `host.${method} must be a function, received ${describeValue(host?.[method])}`,
        );
      }
    }
    if (this.#initialized) throw new Error("init(host) was already called on this store factory");
    this.#initialized = true;
    const events = this.#eventStore;
    await Promise.all([
      events.subscribe(EventType.CONNECT, (message) => host.connect(message)),
      events.subscribe(EventType.DISCONNECT, (message) => host.disconnect(message)),
      events.subscribe(EventType.JOIN, (message) => host.join(message)),
      events.subscribe(EventType.BULK_JOIN, (message) => host.join(message)),
      events.subscribe(EventType.LEAVE, (message) => host.leave(message)),
      events.subscribe(EventType.BULK_LEAVE, (message) => host.leave(message)),
      events.subscribe(EventType.DISPATCH, (message) => host.dispatch(message)),
    ]);
  }

  /** {@inheritDoc StoreFactory.onDisconnect} */
  onDisconnect(sessionId: string): Promise<void> {
    try {
      this.#assertOpen("onDisconnect");
      return this.createStore(sessionId).destroy();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** {@inheritDoc StoreFactory.shutdown} */
  shutdown(): Promise<void> {
    this.#closed ??= (async () => {
      this.#stores.clear();
      this.#maps.clear();
      // The event store first: it may still unsubscribe over a connection storage shares.
      const results = [
        await this.#eventStore.shutdown().then(() => undefined, (error: unknown) => ({ error })),
        await this.closeStorage().then(() => undefined, (error: unknown) => ({ error })),
      ];
      const failure = results.find((result) => result !== undefined);
      if (failure) throw failure.error;
    })();
    return this.#closed;
  }

  /** Same as `shutdown()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}
