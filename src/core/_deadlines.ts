/**
 * Deadlines for many concurrent operations with one timer (internal). A timer per operation is
 * what costs: node-redis's own command timeout starts an `AbortSignal.timeout` per command, which
 * on Deno costs about 3 µs and keeps some 700 bytes alive until the timeout has passed, replied or
 * not; a `setTimeout` per NATS publish confirmation lengthened the tail of delivery latency. Here
 * an operation costs a wrapper promise and an entry in a set (about 0.4 µs, freed when it
 * settles), and one unref'd timer sweeps the set while it is not empty.
 *
 * @module
 */

import { unrefTimer } from "./_timers.ts";

interface Watched {
  readonly deadline: number;
  readonly expire: () => void;
}

/** Watches the deadlines of concurrent operations with one shared timer. */
export class DeadlineWatch {
  readonly #timeoutMs: number;
  readonly #pending = new Set<Watched>();
  #sweeper: ReturnType<typeof setInterval> | undefined;

  /** @param timeoutMs how long an operation may take. */
  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Settles like `operation`, or rejects with `timedOut()` if it has not settled within the
   * timeout (checked every quarter of the timeout, at most every 250 ms).
   */
  watch<T>(operation: Promise<T>, timedOut: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const watched: Watched = {
        deadline: performance.now() + this.#timeoutMs,
        expire: () => reject(timedOut()),
      };
      this.#add(watched);
      operation.then(
        (value) => {
          if (this.#pending.delete(watched)) resolve(value);
        },
        (error) => {
          if (this.#pending.delete(watched)) reject(error);
        },
      );
    });
  }

  /**
   * Stops the shared timer (at the owner's shutdown, when nothing is watched any more): it would
   * otherwise run until its next sweep finds the set empty. A later `watch` starts it again.
   */
  close(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #add(watched: Watched): void {
    this.#pending.add(watched);
    if (this.#sweeper !== undefined) return;
    const period = Math.max(5, Math.min(250, this.#timeoutMs / 4));
    this.#sweeper = setInterval(() => this.#sweep(), period);
    unrefTimer(this.#sweeper);
  }

  #sweep(): void {
    const now = performance.now();
    for (const watched of this.#pending) {
      if (watched.deadline <= now) {
        this.#pending.delete(watched);
        watched.expire();
      }
    }
    if (this.#pending.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }
}
