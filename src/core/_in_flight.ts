/**
 * {@linkcode InFlight}: counts operations in flight and tells when none is left.
 *
 * @module
 */

/**
 * A count of operations in flight (`begin` / `end`), for whatever must wait for them (a shutdown,
 * an exclusive operation): `idle()` resolves once none is left. Operations are counted, not kept.
 */
export class InFlight {
  #count = 0;
  #waiting: (() => void)[] = [];

  /** Counts one more operation. */
  begin(): void {
    this.#count++;
  }

  /** Counts one operation as settled; the last one resolves every `idle()` waiting. */
  end(): void {
    if (--this.#count > 0) return;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const resolve of waiting) resolve();
  }

  /** Resolves once no operation is in flight (at once when none is). */
  idle(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
}
