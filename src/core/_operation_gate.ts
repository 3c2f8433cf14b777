/**
 * {@linkcode OperationGate}: the order of a container's operations around the one that removes
 * its contents (a store's `destroy()`, a map's `clear()`).
 *
 * @module
 */

import { InFlight } from "./_in_flight.ts";

function nothing(): void {}

/**
 * Counts the operations in flight on one container and holds back the ones issued while an
 * exclusive operation (a destroy, a clear) waits or runs: the exclusive one runs once everything
 * issued before it has settled, and takes nothing issued after it. Backends need not order such
 * calls themselves (Hazelcast clears partition by partition, so a write sent after a clear could
 * run first and be wiped).
 */
export class OperationGate {
  // The operations issued since the last exclusive one, counted: the next exclusive operation
  // only needs to know when none of them is left.
  #epoch = new InFlight();
  /** Settles when the pending exclusive operation (or awaited predecessor) has; then cleared. */
  #barrier: Promise<void> | undefined;

  /**
   * @param after something every operation must wait for first (fulfilled or rejected), such as
   * the pending destroy of an earlier store of the same session.
   */
  constructor(after?: Promise<unknown>) {
    if (after !== undefined) this.#hold(after.then(nothing, nothing));
  }

  /** Runs `operation` now, or once the pending exclusive operation has settled. */
  run<T>(operation: () => Promise<T>): Promise<T> {
    const epoch = this.#epoch;
    const barrier = this.#barrier;
    let result: Promise<T>;
    try {
      result = barrier === undefined ? operation() : barrier.then(operation);
    } catch (error) {
      return Promise.reject(error);
    }
    epoch.begin();
    const settled = () => epoch.end();
    result.then(settled, settled);
    return result;
  }

  /**
   * Runs `operation` once every operation issued before it has settled; the operations issued
   * until it settles wait for it.
   */
  exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const previous = this.#barrier;
    const before = this.#epoch;
    this.#epoch = new InFlight();
    const result = (async () => {
      // What came before `previous` has settled once it has: `previous` waited for it.
      if (previous !== undefined) await previous;
      await before.idle();
      return await operation();
    })();
    this.#hold(result.then(nothing, nothing));
    return result;
  }

  #hold(barrier: Promise<void>): void {
    this.#barrier = barrier;
    void barrier.then(() => {
      if (this.#barrier === barrier) this.#barrier = undefined;
    });
  }
}
