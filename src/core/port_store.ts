/**
 * {@linkcode Store} and {@linkcode SharedMap} implemented once over a {@linkcode HashPort}: the
 * few string-level commands a storage backend supplies for one container (a Redis hash, a
 * Hazelcast IMap, a JavaScript `Map`). Validation, encoding, the destroyed state and error
 * messages live here, so every backend behaves the same.
 *
 * @module
 */

import type { SharedMap, Store } from "./contracts.ts";
import { StoreDestroyedError } from "./errors.ts";
import { assertName, decodeValue, encodeValue, type StoreValue } from "./values.ts";

/** String-level I/O on one container of fields; what a storage backend supplies. */
export interface HashPort {
  /** The raw value of `field`, or `undefined`. */
  get(field: string): Promise<string | undefined>;
  /** Writes the raw value of `field`. */
  set(field: string, value: string): Promise<void>;
  /** Whether `field` exists. */
  has(field: string): Promise<boolean>;
  /** Removes `field`; resolves `true` if it existed. */
  delete(field: string): Promise<boolean>;
  /**
   * Removes `field` without telling whether it existed. Optional: backends where that is
   * cheaper (Hazelcast's `IMap.delete` against `remove`) supply it for `Store.del`.
   */
  discard?(field: string): Promise<void>;
  /** Removes the whole container from the backend. */
  clear(): Promise<void>;
  /** Number of fields. */
  size(): Promise<number>;
  /** Every field name. */
  keys(): Promise<string[]>;
  /** Every field with its raw value. */
  entries(): Promise<[string, string][]>;
}

function nothing(): void {}

function decodeStored(text: string | undefined): StoreValue | undefined {
  return text === undefined ? undefined : decodeValue(text);
}

/** A session {@linkcode Store} over a {@linkcode HashPort}. */
export class PortStore implements Store {
  /** The session this store belongs to. */
  readonly sessionId: string;
  readonly #port: HashPort;
  readonly #onDestroyed: ((store: PortStore) => void) | undefined;
  #destroyed: Promise<void> | undefined;
  // Operations in flight are counted, not kept: destroy() only needs to know when none is left.
  #inFlight = 0;
  #idle: (() => void) | undefined;
  readonly #settled = (): void => {
    if (--this.#inFlight === 0) this.#idle?.();
  };

  /**
   * Creates the store of one session over its backend container.
   *
   * @param sessionId the session id (validated here too).
   * @param port the backend container holding this session's keys.
   * @param onDestroyed called once after `destroy()` removed the data.
   */
  constructor(sessionId: string, port: HashPort, onDestroyed?: (store: PortStore) => void) {
    assertName("session id", sessionId);
    this.sessionId = sessionId;
    this.#port = port;
    this.#onDestroyed = onDestroyed;
  }

  /** Whether `destroy()` has been called. */
  get destroyed(): boolean {
    return this.#destroyed !== undefined;
  }

  /** A rejection when the store is destroyed or `key` is not a valid key; else `undefined`. */
  #refusal(key: string): Promise<never> | undefined {
    try {
      if (this.#destroyed) throw new StoreDestroyedError(this.sessionId);
      assertName("key", key);
    } catch (error) {
      return Promise.reject(error);
    }
    return undefined;
  }

  /** Counts an operation until it settles, for `destroy()`. */
  #count<T>(result: Promise<T>): Promise<T> {
    this.#inFlight++;
    result.then(this.#settled, this.#settled);
    return result;
  }

  #allSettled(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle = resolve);
  }

  /** {@inheritDoc Store.set} */
  set(key: string, value: StoreValue): Promise<void> {
    let text: string;
    try {
      if (this.#destroyed) throw new StoreDestroyedError(this.sessionId);
      assertName("key", key);
      text = encodeValue(key, value);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#count(this.#port.set(key, text));
  }

  /** {@inheritDoc Store.get} */
  get<T extends StoreValue = StoreValue>(key: string): Promise<T | undefined> {
    return this.#refusal(key) ??
      this.#count(this.#port.get(key).then(decodeStored) as Promise<T | undefined>);
  }

  /** {@inheritDoc Store.has} */
  has(key: string): Promise<boolean> {
    return this.#refusal(key) ?? this.#count(this.#port.has(key));
  }

  /** {@inheritDoc Store.del} */
  del(key: string): Promise<void> {
    return this.#refusal(key) ??
      this.#count(
        this.#port.discard ? this.#port.discard(key) : this.#port.delete(key).then(nothing),
      );
  }

  /** {@inheritDoc Store.destroy} */
  destroy(): Promise<void> {
    this.#destroyed ??= (async () => {
      await this.#allSettled();
      await this.#port.clear();
      this.#onDestroyed?.(this);
    })();
    return this.#destroyed;
  }
}

/** A {@linkcode SharedMap} over a {@linkcode HashPort}. */
export class PortSharedMap<V extends StoreValue = StoreValue> implements SharedMap<V> {
  /** The map's name. */
  readonly name: string;
  readonly #port: HashPort;

  /**
   * Creates a shared map over its backend container.
   *
   * @param name the map's name.
   * @param port the backend container holding the map.
   */
  constructor(name: string, port: HashPort) {
    assertName("map name", name);
    this.name = name;
    this.#port = port;
  }

  #checked<T>(key: string, operation: () => Promise<T>): Promise<T> {
    try {
      assertName("key", key);
    } catch (error) {
      return Promise.reject(error);
    }
    return operation();
  }

  /** {@inheritDoc SharedMap.get} */
  get(key: string): Promise<V | undefined> {
    return this.#checked(key, async () => {
      const text = await this.#port.get(key);
      return text === undefined ? undefined : decodeValue(text) as V;
    });
  }

  /** {@inheritDoc SharedMap.set} */
  set(key: string, value: V): Promise<void> {
    let text: string;
    try {
      assertName("key", key);
      text = encodeValue(key, value);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#port.set(key, text);
  }

  /** {@inheritDoc SharedMap.has} */
  has(key: string): Promise<boolean> {
    return this.#checked(key, () => this.#port.has(key));
  }

  /** {@inheritDoc SharedMap.delete} */
  delete(key: string): Promise<boolean> {
    return this.#checked(key, () => this.#port.delete(key));
  }

  /** {@inheritDoc SharedMap.clear} */
  clear(): Promise<void> {
    return this.#port.clear();
  }

  /** {@inheritDoc SharedMap.size} */
  size(): Promise<number> {
    return this.#port.size();
  }

  /** {@inheritDoc SharedMap.keys} */
  keys(): Promise<string[]> {
    return this.#port.keys();
  }

  /** {@inheritDoc SharedMap.entries} */
  async entries(): Promise<[string, V][]> {
    const raw = await this.#port.entries();
    return raw.map(([key, text]) => [key, decodeValue(text) as V]);
  }
}
