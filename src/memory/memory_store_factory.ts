/**
 * Memory storage: {@linkcode MemoryStoreFactory} and the `HashPort` over a `Map` it uses.
 *
 * @module
 */

import { BaseStoreFactory, type EventStore, type HashPort } from "../core/mod.ts";
import { MemoryEventStore } from "./memory_event_store.ts";

class MapPort implements HashPort {
  readonly #containers: Map<string, Map<string, string>>;
  readonly #name: string;

  constructor(containers: Map<string, Map<string, string>>, name: string) {
    this.#containers = containers;
    this.#name = name;
  }

  #map(): Map<string, string> | undefined {
    return this.#containers.get(this.#name);
  }

  get(field: string): Promise<string | undefined> {
    return Promise.resolve(this.#map()?.get(field));
  }

  set(field: string, value: string): Promise<void> {
    let map = this.#map();
    if (!map) this.#containers.set(this.#name, map = new Map());
    map.set(field, value);
    return Promise.resolve();
  }

  has(field: string): Promise<boolean> {
    return Promise.resolve(this.#map()?.has(field) ?? false);
  }

  delete(field: string): Promise<boolean> {
    const map = this.#map();
    const existed = map?.delete(field) ?? false;
    if (map?.size === 0) this.#containers.delete(this.#name);
    return Promise.resolve(existed);
  }

  clear(): Promise<void> {
    this.#containers.delete(this.#name);
    return Promise.resolve();
  }

  size(): Promise<number> {
    return Promise.resolve(this.#map()?.size ?? 0);
  }

  keys(): Promise<string[]> {
    return Promise.resolve([...this.#map()?.keys() ?? []]);
  }

  entries(): Promise<[string, string][]> {
    return Promise.resolve([...this.#map()?.entries() ?? []]);
  }
}

/**
 * Memory storage paired with any event store. `new MemoryStoreFactory()` is memory storage plus
 * memory events (the embedded default: one node, no server); `new MemoryStoreFactory(eventStore)`
 * pairs memory storage with any event backend.
 *
 * @example
 * ```ts
 * import { MemoryStoreFactory } from "@socketio4ts/stores";
 *
 * await using factory = new MemoryStoreFactory();
 * const store = factory.createStore("session-1");
 * await store.set("user", { name: "Ada", avatar: new Uint8Array([1, 2, 3]) });
 * console.log(await store.get("user"));
 * await factory.onDisconnect("session-1");
 * ```
 */
export class MemoryStoreFactory extends BaseStoreFactory {
  readonly #sessions = new Map<string, Map<string, string>>();
  readonly #maps = new Map<string, Map<string, string>>();

  /**
   * Creates memory storage paired with `eventStore`.
   *
   * @param eventStore the event store to pair with; a private {@linkcode MemoryEventStore} by default.
   */
  constructor(eventStore: EventStore = new MemoryEventStore()) {
    super(eventStore);
  }

  /** Number of keys the backend holds for a session, bypassing the store (diagnostics, tests). */
  sessionEntryCount(sessionId: string): number {
    return this.#sessions.get(sessionId)?.size ?? 0;
  }

  /** A `Map` holding the keys of one session. */
  protected sessionPort(sessionId: string): HashPort {
    return new MapPort(this.#sessions, sessionId);
  }

  /** A `Map` holding one shared map. */
  protected mapPort(name: string): HashPort {
    return new MapPort(this.#maps, name);
  }
}
