/**
 * {@linkcode Store} and {@linkcode SharedMap} implemented once over a {@linkcode HashPort}: the
 * few string-level commands a storage backend supplies for one container (a Redis hash, a
 * Hazelcast IMap, a JavaScript `Map`). Validation, encoding, the destroyed state and error
 * messages live here, so every backend behaves the same.
 *
 * @module
 */

import type { SharedMap, Store } from "./contracts.ts";
import { BackendError, StoreDestroyedError } from "./errors.ts";
import { assertName, decodeValue, encodeValue, type StoreValue } from "./values.ts";
import { OperationGate } from "./_operation_gate.ts";

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

/**
 * The value stored as `text` under `key` of `owner` (e.g. `session "s1"`); a value this library
 * did not write is a `TypeError` naming both.
 */
function decodeStored(
  owner: string,
  key: string,
  text: string | undefined,
): StoreValue | undefined {
  if (text === undefined) return undefined;
  try {
    return decodeValue(text);
  } catch (error) {
    throw new TypeError(
      `the value under key ${JSON.stringify(key)} of ${owner} cannot be read: ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
}

/** The error of a failed `destroy()`: what failed, that the data may remain, how to retry. */
function destroyFailure(sessionId: string, error: unknown): Error {
  let reason = error instanceof Error ? error.message : String(error);
  if (error instanceof BackendError && reason.startsWith(`${error.backend}: `)) {
    reason = reason.slice(error.backend.length + 2);
  }
  const message = `destroy() of the store of session ${JSON.stringify(sessionId)} failed, so ` +
    "its data may still be in the backend; call destroy() again (or factory.onDisconnect" +
    `(sessionId)) to retry. Cause: ${reason}`;
  return error instanceof BackendError
    ? new BackendError(error.backend, message, { cause: error })
    : new Error(message, { cause: error });
}

/** Options of a {@linkcode PortStore}. */
export interface PortStoreOptions {
  /**
   * A pending `destroy()` of an earlier store of the same session. Every operation of this store,
   * and its own `destroy()`, waits until it has settled (fulfilled or rejected), so the earlier
   * store's delete cannot remove what this one writes.
   */
  readonly after?: Promise<unknown> | undefined;
  /** Called each time a `destroy()` attempt starts, with the promise of that attempt. */
  readonly onDestroying?: ((store: PortStore, attempt: Promise<void>) => void) | undefined;
}

/**
 * A session {@linkcode Store} over a {@linkcode HashPort}. Once `destroy()` is called every other
 * operation rejects with {@linkcode StoreDestroyedError}; a `destroy()` that failed (the backend
 * refused the delete) rejects and can be called again to retry the delete.
 */
export class PortStore implements Store {
  /** The session this store belongs to. */
  readonly sessionId: string;
  /** How errors name this store. */
  readonly #owner: string;
  readonly #port: HashPort;
  readonly #onDestroyed: ((store: PortStore) => void) | undefined;
  readonly #onDestroying: ((store: PortStore, attempt: Promise<void>) => void) | undefined;
  /** Orders operations around `destroy()` and the pending destroy of an earlier store. */
  readonly #gate: OperationGate;
  /** `destroy()` was called: operations are refused. */
  #closed = false;
  /** The `destroy()` attempt in flight. */
  #destroying: Promise<void> | undefined;
  /** A `destroy()` attempt succeeded: the data is gone. */
  #removed = false;

  /**
   * Creates the store of one session over its backend container.
   *
   * @param sessionId the session id (validated here too).
   * @param port the backend container holding this session's keys.
   * @param onDestroyed called once after `destroy()` removed the data.
   * @param options a pending destroy to wait for, and a hook called when a destroy starts.
   */
  constructor(
    sessionId: string,
    port: HashPort,
    onDestroyed?: (store: PortStore) => void,
    options: PortStoreOptions = {},
  ) {
    assertName("session id", sessionId);
    this.sessionId = sessionId;
    this.#owner = `session ${JSON.stringify(sessionId)}`;
    this.#port = port;
    this.#onDestroyed = onDestroyed;
    this.#onDestroying = options.onDestroying;
    this.#gate = new OperationGate(options.after);
  }

  /** Whether `destroy()` has been called (whether or not it has finished or succeeded). */
  get destroyed(): boolean {
    return this.#closed;
  }

  /** A rejection when the store is destroyed or `key` is not a valid key; else `undefined`. */
  #refusal(key: string): Promise<never> | undefined {
    try {
      if (this.#closed) throw new StoreDestroyedError(this.sessionId);
      assertName("key", key);
    } catch (error) {
      return Promise.reject(error);
    }
    return undefined;
  }

  /** {@inheritDoc Store.set} */
  set(key: string, value: StoreValue): Promise<void> {
    let text: string;
    try {
      if (this.#closed) throw new StoreDestroyedError(this.sessionId);
      assertName("key", key);
      text = encodeValue(key, value);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#gate.run(() => this.#port.set(key, text));
  }

  /** {@inheritDoc Store.get} */
  get<T extends StoreValue = StoreValue>(key: string): Promise<T | undefined> {
    return this.#refusal(key) ??
      this.#gate.run(() =>
        this.#port.get(key).then((text) => decodeStored(this.#owner, key, text)) as Promise<
          T | undefined
        >
      );
  }

  /** {@inheritDoc Store.has} */
  has(key: string): Promise<boolean> {
    return this.#refusal(key) ?? this.#gate.run(() => this.#port.has(key));
  }

  /** {@inheritDoc Store.del} */
  del(key: string): Promise<void> {
    return this.#refusal(key) ??
      this.#gate.run(() =>
        this.#port.discard ? this.#port.discard(key) : this.#port.delete(key).then(nothing)
      );
  }

  /**
   * {@inheritDoc Store.destroy}
   *
   * Waits for the operations in flight, then removes the session's container. When that fails
   * the promise rejects (with a `BackendError` when the backend reported one) saying so, and a
   * later `destroy()` tries the delete again; the store keeps refusing every other operation.
   */
  destroy(): Promise<void> {
    if (this.#removed) return Promise.resolve();
    if (this.#destroying) return this.#destroying;
    this.#closed = true;
    const attempt = this.#destroyOnce();
    this.#destroying = attempt;
    attempt.then(() => {
      this.#destroying = undefined;
      this.#removed = true;
      this.#onDestroyed?.(this);
    }, () => {
      this.#destroying = undefined;
    });
    this.#onDestroying?.(this, attempt);
    return attempt;
  }

  async #destroyOnce(): Promise<void> {
    try {
      await this.#gate.exclusive(() => this.#port.clear());
    } catch (error) {
      throw destroyFailure(this.sessionId, error);
    }
  }
}

/** A {@linkcode SharedMap} over a {@linkcode HashPort}. */
export class PortSharedMap<V extends StoreValue = StoreValue> implements SharedMap<V> {
  /** The map's name. */
  readonly name: string;
  readonly #port: HashPort;
  /** How errors name this map. */
  readonly #owner: string;
  /** Orders operations around `clear()`. */
  readonly #gate = new OperationGate();

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
    this.#owner = `map ${JSON.stringify(name)}`;
  }

  #checked<T>(key: string, operation: () => Promise<T>): Promise<T> {
    try {
      assertName("key", key);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#gate.run(operation);
  }

  /** {@inheritDoc SharedMap.get} */
  get(key: string): Promise<V | undefined> {
    return this.#checked(key, async () => {
      return decodeStored(this.#owner, key, await this.#port.get(key)) as V | undefined;
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
    return this.#gate.run(() => this.#port.set(key, text));
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
    return this.#gate.exclusive(() => this.#port.clear());
  }

  /** {@inheritDoc SharedMap.size} */
  size(): Promise<number> {
    return this.#gate.run(() => this.#port.size());
  }

  /** {@inheritDoc SharedMap.keys} */
  keys(): Promise<string[]> {
    return this.#gate.run(() => this.#port.keys());
  }

  /** {@inheritDoc SharedMap.entries} */
  async entries(): Promise<[string, V][]> {
    const raw = await this.#gate.run(() => this.#port.entries());
    return raw.map(([key, text]) => [key, decodeStored(this.#owner, key, text) as V]);
  }
}
