/**
 * Helpers shared by the conformance suites: bounded waits and message inboxes.
 *
 * @module
 */

import type { EventMessage, EventStore, EventTypeName } from "../../mod.ts";

/** Default bound on any wait in the suites. */
export const WAIT_MS = 15_000;

/** A random prefix so concurrent and repeated runs never see each other's data. */
export function randomPrefix(label = "t"): string {
  return `${label}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Resolves with `promise` or rejects after `ms` with a message naming `what`; never leaks a timer. */
export async function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Collects the messages one store receives, and waits for a number of them. */
export class Inbox {
  /** Messages received, in order of arrival. */
  readonly messages: EventMessage[] = [];
  #waiters: { count: number; resolve: () => void }[] = [];

  /** Subscribes this inbox to `types` on `store`. */
  async listen(store: EventStore, ...types: EventTypeName[]): Promise<this> {
    for (const type of types) await store.subscribe(type, (message) => this.push(message));
    return this;
  }

  /** Records a message (also usable as a listener). */
  push = (message: EventMessage): void => {
    this.messages.push(message);
    this.#waiters = this.#waiters.filter((waiter) => {
      if (this.messages.length < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  };

  /** Resolves once `count` messages in all have arrived. */
  waitFor(count: number, what = `${count} messages`, ms = WAIT_MS): Promise<EventMessage[]> {
    if (this.messages.length >= count) return Promise.resolve(this.messages);
    const reached = new Promise<void>((resolve) => this.#waiters.push({ count, resolve }));
    return within(
      reached,
      `${what} (got ${this.messages.length})`,
      ms,
    ).then(() => this.messages);
  }
}

/** Shuts every store down, even when some fail. */
export async function shutdownAll(stores: readonly { shutdown(): Promise<void> }[]): Promise<void> {
  await Promise.allSettled(stores.map((store) => store.shutdown()));
}
