/**
 * The {@linkcode HashPort} over one Hazelcast `IMap<string, string>`: what
 * {@linkcode HazelcastStoreFactory} gives the core for a session or a shared map.
 *
 * @module
 */

import type { IMap } from "hazelcast-client";
import { BackendError, type HashPort } from "../core/mod.ts";
import type { ClientHandle } from "./client.ts";

/** Per-entry expiry applied on every write (milliseconds; `undefined` = none). */
export interface EntryExpiry {
  /** Time to live of each entry since its last write. */
  readonly ttlMs: number | undefined;
  /** Time an entry may go unread and unwritten before it expires. */
  readonly maxIdleMs: number | undefined;
}

/** How the container is removed by `clear()`. */
export type ClearMode = "destroy" | "clear";

function orUndefined(value: string | null | undefined): string | undefined {
  return value ?? undefined;
}

/** {@linkcode HashPort} over the IMap called `mapName`. */
export class IMapPort implements HashPort {
  readonly #handle: ClientHandle;
  readonly #mapName: string;
  readonly #expiry: EntryExpiry;
  readonly #clearMode: ClearMode;
  #map: Promise<IMap<string, string>> | undefined;
  #ready: IMap<string, string> | undefined;

  /**
   * @param handle the client.
   * @param mapName the IMap's name.
   * @param expiry per-entry TTL / max idle applied to writes.
   * @param clearMode `destroy` drops the whole distributed object (sessions); `clear` empties it
   * (shared maps, which other nodes keep using).
   */
  constructor(handle: ClientHandle, mapName: string, expiry: EntryExpiry, clearMode: ClearMode) {
    this.#handle = handle;
    this.#mapName = mapName;
    this.#expiry = expiry;
    this.#clearMode = clearMode;
  }

  /** The IMap's name. */
  get mapName(): string {
    return this.#mapName;
  }

  #imap(): Promise<IMap<string, string>> {
    if (!this.#map) {
      const map = this.#handle.get().then((client) => client.getMap<string, string>(this.#mapName));
      this.#map = map;
      map.then((ready) => {
        if (this.#map === map) this.#ready = ready;
      }, () => {
        if (this.#map === map) this.#map = undefined;
      });
    }
    return this.#map;
  }

  #wrap(what: string, error: unknown): unknown {
    if (error instanceof BackendError) return error;
    const reason = error instanceof Error ? error.message : String(error);
    return new BackendError(
      "hazelcast",
      `${what} on map ${JSON.stringify(this.#mapName)} failed: ${reason}`,
      { cause: error },
    );
  }

  /**
   * Runs `operation` on the map (once the proxy is known, without an extra await); its result
   * goes through `convert` and its failure becomes a `BackendError`, in one step.
   */
  #call<T, R = T>(
    what: string,
    operation: (map: IMap<string, string>) => Promise<T>,
    convert?: (value: T) => R,
  ): Promise<R> {
    const ready = this.#ready;
    let result: Promise<T>;
    try {
      result = ready ? operation(ready) : this.#imap().then(operation);
    } catch (error) {
      return Promise.reject(this.#wrap(what, error));
    }
    return result.then(convert as (value: T) => R, (error) => {
      throw this.#wrap(what, error);
    });
  }

  get(field: string): Promise<string | undefined> {
    return this.#call("get", (map) => map.get(field), orUndefined);
  }

  set(field: string, value: string): Promise<void> {
    const { ttlMs, maxIdleMs } = this.#expiry;
    return this.#call("set", (map) => map.set(field, value, ttlMs, maxIdleMs));
  }

  has(field: string): Promise<boolean> {
    return this.#call("containsKey", (map) => map.containsKey(field));
  }

  delete(field: string): Promise<boolean> {
    return this.#call("remove", (map) => map.remove(field), (old) => (old ?? null) !== null);
  }

  discard(field: string): Promise<void> {
    return this.#call("delete", (map) => map.delete(field));
  }

  clear(): Promise<void> {
    if (this.#clearMode === "clear") return this.#call("clear", (map) => map.clear());
    return this.#call("destroy", async (map) => {
      await map.destroy();
      this.#map = undefined;
      this.#ready = undefined;
    });
  }

  size(): Promise<number> {
    return this.#call("size", (map) => map.size());
  }

  keys(): Promise<string[]> {
    return this.#call("keySet", (map) => map.keySet());
  }

  entries(): Promise<[string, string][]> {
    return this.#call("entrySet", (map) => map.entrySet());
  }
}
