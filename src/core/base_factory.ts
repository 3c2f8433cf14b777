/**
 * {@linkcode BaseStoreFactory} implements {@linkcode StoreFactory} once for every storage
 * backend: store and map caching, `init(host)` routing per mode, `onDisconnect`, `shutdown` and
 * `await using`. A backend supplies only the {@linkcode HashPort} of a session and of a map.
 *
 * @module
 */

import type {
  ClusterHost,
  EventListener,
  EventStore,
  SharedMap,
  Store,
  StoreFactory,
} from "./contracts.ts";
import { describeValue } from "./errors.ts";
import { EventType } from "./event_types.ts";
import type { EventTypeName } from "./messages.ts";
import { type HashPort, PortSharedMap, PortStore } from "./port_store.ts";
import { assertName, type StoreValue } from "./values.ts";

const HOST_METHODS = ["connect", "disconnect", "join", "leave", "dispatch"] as const;

/** Shared implementation of {@linkcode StoreFactory}; storage backends extend it. */
export abstract class BaseStoreFactory implements StoreFactory {
  readonly #eventStore: EventStore;
  /** The live store of each session: not destroyed, not being destroyed. */
  readonly #stores = new Map<string, PortStore>();
  /** Per session id: settles once every destroy of its stores started so far has settled. */
  readonly #destroying = new Map<string, Promise<void>>();
  readonly #maps = new Map<string, SharedMap>();
  /** Set while `init(host)` runs and after it succeeded. */
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

  /**
   * {@inheritDoc StoreFactory.createStore}
   *
   * Once `destroy()` of a session's store has started (through `onDisconnect` or the store
   * itself), this returns a new store for the session id, as it does after a `destroy()` that
   * failed. A store made while a destroy of its session is still pending runs its operations
   * only after that destroy settled, so the delete cannot remove what the new store writes.
   */
  createStore(sessionId: string): Store {
    this.#assertOpen("createStore");
    assertName("session id", sessionId);
    const live = this.#stores.get(sessionId);
    if (live) return live;
    const store = new PortStore(sessionId, this.sessionPort(sessionId), undefined, {
      after: this.#destroying.get(sessionId),
      onDestroying: (started, attempt) => this.#destroyStarted(started, attempt),
    });
    this.#stores.set(sessionId, store);
    return store;
  }

  /** A destroy of `store` started: hand out a new store for its session, after this settled. */
  #destroyStarted(store: PortStore, attempt: Promise<void>): void {
    const sessionId = store.sessionId;
    if (this.#stores.get(sessionId) === store) this.#stores.delete(sessionId);
    const settled = Promise.allSettled([this.#destroying.get(sessionId), attempt]).then(() => {
      if (this.#destroying.get(sessionId) === settled) this.#destroying.delete(sessionId);
    });
    this.#destroying.set(sessionId, settled);
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

  /**
   * {@inheritDoc StoreFactory.init}
   *
   * When a subscription fails, the ones that opened are unsubscribed again (with every listener
   * of their types) and the promise rejects with the first failure; `init` may then be retried.
   */
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
    const subscribe = <T extends EventTypeName>(
      type: T,
      listener: EventListener<T>,
    ): [EventTypeName, Promise<void>] => {
      try {
        return [type, events.subscribe(type, listener)];
      } catch (error) {
        return [type, Promise.reject(error)]; // an event store of the user's that throws
      }
    };
    const subscriptions = [
      subscribe(EventType.CONNECT, (message) => host.connect(message)),
      subscribe(EventType.DISCONNECT, (message) => host.disconnect(message)),
      subscribe(EventType.JOIN, (message) => host.join(message)),
      subscribe(EventType.BULK_JOIN, (message) => host.join(message)),
      subscribe(EventType.LEAVE, (message) => host.leave(message)),
      subscribe(EventType.BULK_LEAVE, (message) => host.leave(message)),
      subscribe(EventType.DISPATCH, (message) => host.dispatch(message)),
    ];
    const results = await Promise.allSettled(subscriptions.map(([, opened]) => opened));
    const failure = results.find((result) => result.status === "rejected");
    if (failure === undefined) return;
    // Close what did open, so nothing reaches the host and a retry starts from scratch.
    await Promise.allSettled(
      subscriptions.filter((_, index) => results[index]!.status === "fulfilled")
        .map(([type]) => events.unsubscribe(type)),
    );
    this.#initialized = false;
    throw failure.reason;
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
      this.#destroying.clear();
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
