/**
 * {@linkcode BlockedLine}: the publishes of one channel waiting for room in a full ring buffer
 * (overload policy `BLOCK`), stored in publish order.
 *
 * @module
 */

import { OverflowPolicy } from "hazelcast-client";
import type { Ringbuffer } from "hazelcast-client";
import { BackendError } from "../core/mod.ts";
import { Pause } from "../core/_timers.ts";
import type { RingTopicSettings } from "./ring_topic_transport.ts";
import type { TopicMessageItem } from "./topic_message.ts";

type Ring = Ringbuffer<unknown>;

/** The error of a publish that found the ring buffer full (and, with `BLOCK`, waited for room). */
export function fullError(topic: string, settings: RingTopicSettings): BackendError {
  const policy = settings.overloadPolicy;
  return new BackendError(
    "hazelcast",
    `the ring buffer of topic ${topic} is full (overload policy ${policy}` +
      (policy === "BLOCK" ? `, waited ${settings.blockTimeoutMs} ms` : "") +
      "); nothing was published",
  );
}

/** First pause of a `BLOCK` publish before it tries a full ring buffer again; doubles up to 2 s. */
const FIRST_BLOCK_DELAY_MS = 10;
/** Longest pause between two tries of a full ring buffer. */
const MAX_BLOCK_DELAY_MS = 2_000;

/** A publish waiting in a {@linkcode BlockedLine}. */
interface Waiter {
  readonly item: TopicMessageItem;
  /** Position of the publish call among all publishes of the transport. */
  readonly ticket: number;
  /** When it gives up (`Date.now()` time): its publish call plus `blockTimeoutMs`. */
  readonly deadline: number;
  readonly resolve: (sequence: number) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The publishes of one channel that wait for room in its full ring buffer (overload policy
 * `BLOCK`), in publish order. Only the first of them tries the ring buffer (again after a pause
 * that doubles up to 2 s, and at every waiter's deadline); once it is stored the next one tries at
 * once, and so on, so a later publish never overtakes an earlier one. While the line exists, new
 * publishes of the channel join it instead of trying the ring buffer. A waiter is rejected (nothing
 * published) when the ring buffer is found full after its deadline; the line then goes on with
 * the next. The line ends, and the channel's publishes go straight to the ring buffer again, when
 * no one waits any more.
 */
export class BlockedLine {
  #waiters: Waiter[] = [];
  readonly #pause = new Pause();
  #running = false;
  #closed: BackendError | undefined;

  constructor(
    readonly topic: string,
    readonly ring: Ring,
    readonly settings: RingTopicSettings,
    readonly ended: (line: BlockedLine) => void,
  ) {}

  /**
   * Waits for the ring buffer to take `item` after everything ahead of it in the line; resolves
   * with its sequence. The first join starts the line with a pause: its caller just found the
   * ring buffer full.
   */
  join(item: TopicMessageItem, ticket: number, deadline: number): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(this.#closed);
      const waiters = this.#waiters;
      // In ticket (call) order. Publishes mostly join in that order; one that joins again after a
      // resend (or whose "full" answer came late) goes before the later ones that joined first.
      let at = waiters.length;
      while (at > 0 && waiters[at - 1]!.ticket > ticket) at--;
      waiters.splice(at, 0, { item, ticket, deadline, resolve, reject });
      if (!this.#running) {
        this.#running = true;
        this.#run().catch((error) => {
          // Not expected (every add error goes to its publish), but never a stuck line.
          this.#end(
            new BackendError("hazelcast", `publish on topic ${this.topic} failed`, {
              cause: error,
            }),
          );
        });
      }
    });
  }

  /**
   * Shutdown: the waiters reject with `reason` and the line ends, at once or, when an add is on
   * its way, as soon as it is answered (a waiter whose add the ring buffer took resolves).
   */
  close(reason: BackendError): void {
    this.#closed = reason;
    this.#pause.wake();
  }

  #remove(waiter: Waiter): void {
    const index = this.#waiters.indexOf(waiter);
    if (index >= 0) this.#waiters.splice(index, 1);
  }

  /** The ring buffer is full: rejects the waiters whose deadline has passed. */
  #expire(): void {
    const now = Date.now();
    const kept: Waiter[] = [];
    const expired: Waiter[] = [];
    for (const waiter of this.#waiters) (waiter.deadline <= now ? expired : kept).push(waiter);
    if (expired.length === 0) return;
    this.#waiters = kept;
    for (const waiter of expired) waiter.reject(fullError(this.topic, this.settings));
  }

  /** Ends the line now (no join after this reaches it), rejecting whoever still waits. */
  #end(reason?: BackendError): void {
    this.ended(this);
    const left = this.#waiters;
    this.#waiters = [];
    for (const waiter of left) waiter.reject(reason ?? this.#closed);
  }

  async #run(): Promise<void> {
    let delay = FIRST_BLOCK_DELAY_MS;
    for (;;) {
      // The ring buffer was found full.
      this.#expire();
      if (this.#waiters.length === 0 || this.#closed) break;
      let earliest = Infinity;
      for (const waiter of this.#waiters) earliest = Math.min(earliest, waiter.deadline);
      await this.#pause.sleep(Math.min(delay, Math.max(1, earliest - Date.now())));
      delay = Math.min(delay * 2, MAX_BLOCK_DELAY_MS);
      // The first in line tries; as long as the ring buffer takes them, the next ones follow.
      while (this.#waiters.length > 0 && !this.#closed) {
        const first = this.#waiters[0]!;
        let sequence: number;
        try {
          sequence = (await this.ring.add(first.item, OverflowPolicy.FAIL)).toNumber();
        } catch (error) {
          // The publish decides whether to send it again (it then joins the line again).
          this.#remove(first);
          first.reject(error);
          continue;
        }
        if (sequence === -1) break;
        this.#remove(first);
        first.resolve(sequence);
        delay = FIRST_BLOCK_DELAY_MS;
      }
      if (this.#waiters.length === 0) break;
    }
    this.#end();
  }
}
