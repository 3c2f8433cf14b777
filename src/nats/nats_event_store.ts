/**
 * {@linkcode NatsEventStore}: cluster events over NATS core publish/subscribe, on a connection the
 * user opened (WebSocket with `wsconnect` from `@nats-io/nats-core`, or TCP with `connect` from
 * `@nats-io/transport-node`). At-most-once, lowest latency.
 *
 * @module
 */

import type { Subscription } from "@nats-io/nats-core";
import type { NatsConnection } from "./connection_type.ts";
import {
  BackendError,
  BaseEventStore,
  type ChannelSink,
  EventStoreKind,
  type EventStoreOptions,
  type EventTransport,
  PublishMode,
  type PublishResult,
  resolvePrefix,
} from "../core/mod.ts";
import { DeadlineWatch } from "../core/_deadlines.ts";
import { withTimeout } from "../core/_timers.ts";
import {
  assertFitsServer,
  assertNatsConnection,
  assertUsable,
  BACKEND,
  backendError,
  type Deferred,
  deferred,
  positiveInteger,
  resolveMaxMessageBytes,
  subjectOf,
} from "./_shared.ts";

/** Default bound on waiting for the server (publish confirmation, subscription, drain). */
export const DEFAULT_NATS_TIMEOUT_MS = 5_000;

/** Options of {@linkcode NatsEventStore}. */
export interface NatsEventStoreOptions extends EventStoreOptions {
  /**
   * How long to wait for the server to confirm a publish or a subscription (a `PING`/`PONG` round
   * trip after it), in milliseconds; 5000 by default. A publish not confirmed in time rejects
   * (publish deadlines share one timer that looks every quarter of this, at most every 250 ms).
   */
  readonly timeoutMs?: number;
  /**
   * Whether `publish` waits for the server's confirmation (`true`, the default): a `PING` written
   * with the publishes of one tick, answered once the server has routed them, so a resolved
   * publish has reached every subscriber connected then and a lost connection rejects it. With
   * `false`, `publish` resolves as soon as nats.js has buffered the message (raw nats.js
   * behaviour): fastest, but a message lost in a disconnect is lost silently. Switching it off
   * does not cure the latency of Deno's global `WebSocket` (Nagle's algorithm on): a connection
   * that also receives, as every node's does, waits about 40 ms per write either way. Open that
   * connection with `webSocketFactory` and the `ws` package instead.
   */
  readonly confirmPublish?: boolean;
}

const EMPTY_RESULT: PublishResult = Object.freeze({});
const RESOLVED: Promise<PublishResult> = Promise.resolve(EMPTY_RESULT);

class NatsCoreTransport implements EventTransport {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #confirm: boolean;
  readonly #subs = new Map<string, Subscription>();
  readonly #subjects = new Map<string, string>();
  /** Confirmation shared by the publishes of the current tick, until its `PING` is written. */
  #tick: Deferred<PublishResult> | undefined;
  /** Whether the tick's confirmation is queued. */
  #tickQueued = false;
  /** Times the confirmations out with one timer, not one per tick. */
  readonly #confirmDeadlines: DeadlineWatch;

  constructor(nc: NatsConnection, prefix: string, timeoutMs: number, confirm: boolean) {
    this.#nc = nc;
    this.#prefix = prefix;
    this.#timeoutMs = timeoutMs;
    this.#confirm = confirm;
    this.#confirmDeadlines = new DeadlineWatch(timeoutMs);
  }

  #subject(channel: string): string {
    let subject = this.#subjects.get(channel);
    if (subject === undefined) {
      this.#subjects.set(channel, subject = subjectOf(this.#prefix, channel));
    }
    return subject;
  }

  send(channel: string, bytes: Uint8Array): Promise<PublishResult> {
    const nc = this.#nc;
    const subject = this.#subject(channel);
    try {
      if (nc.isClosed() || nc.isDraining()) assertUsable(nc, `publish to ${subject}`);
      assertFitsServer(nc, channel, bytes);
    } catch (error) {
      return Promise.reject(
        error instanceof RangeError
          ? error
          : backendError(`could not publish to ${subject}`, error),
      );
    }
    // Queued before the first publish of the tick, so that it runs before nats.js's own write
    // of the tick's publishes: the PING then goes out in the same write.
    if (this.#confirm && !this.#tickQueued) {
      this.#tickQueued = true;
      queueMicrotask(this.#confirmTick);
    }
    try {
      nc.publish(subject, bytes);
    } catch (error) {
      return Promise.reject(backendError(`could not publish to ${subject}`, error));
    }
    // The confirmation exists only once a publish of the tick went through, so that it always
    // has a caller to report to.
    return this.#confirm ? (this.#tick ??= deferred<PublishResult>()).promise : RESOLVED;
  }

  /**
   * Writes a `PING` after the publishes of one tick: the server answers `PONG` only after it has
   * routed them, which confirms every publish of the tick (they share one promise). nats.js
   * copies each publish into its outbound buffer at once, so nothing is held here until then.
   */
  readonly #confirmTick = (): void => {
    this.#tickQueued = false;
    const done = this.#tick;
    this.#tick = undefined;
    if (!done) return;
    let flushed: Promise<void>;
    try {
      flushed = this.#nc.flush();
    } catch (error) {
      flushed = Promise.reject(error);
    }
    this.#confirmDeadlines.watch(
      flushed,
      () =>
        new BackendError(
          BACKEND,
          `the NATS server did not confirm a publish within ${this.#timeoutMs} ms; the message may be lost`,
        ),
    ).then(() => done.resolve(EMPTY_RESULT), (error) => {
      done.reject(
        backendError("a publish was not confirmed by the NATS server (it may be lost)", error),
      );
    });
  };

  async open(channel: string, sink: ChannelSink): Promise<void> {
    const subject = subjectOf(this.#prefix, channel);
    assertUsable(this.#nc, `subscribe to ${subject}`);
    // The server refuses or removes a subscription with an `-ERR` (a permissions violation):
    // nats.js then hands the error to the callback and closes the subscription. Before the open
    // is confirmed, that rejects the open; afterwards the channel has ended.
    let opening = true;
    let refusal: Error | undefined;
    let refused: ((error: Error) => void) | undefined;
    let sub: Subscription | undefined;
    const end = (error: Error) => {
      if (opening) {
        if (refusal === undefined) {
          refusal = error;
          refused?.(error);
        }
        return;
      }
      // Once: nats.js reports the same error to the callback and through `closed`.
      if (sub === undefined || this.#subs.get(channel) !== sub) return;
      this.#subs.delete(channel);
      sink.ended(backendError(`the NATS server ended the subscription to ${subject}`, error));
    };
    try {
      sub = this.#nc.subscribe(subject, {
        callback: (error, msg) => {
          if (error) end(error);
          else sink.record(msg.data);
        },
      });
    } catch (error) {
      throw backendError(`could not subscribe to ${subject}`, error);
    }
    const opened = sub;
    this.#subs.set(channel, opened);
    opened.closed.then((result) => {
      if (result instanceof Error) end(result);
    });
    try {
      // The server answers a refused SUB with `-ERR` before the PONG of this flush.
      await withTimeout(
        Promise.race([
          this.#nc.flush(),
          new Promise<never>((_, reject) => {
            refused = reject;
            if (refusal !== undefined) reject(refusal);
          }),
        ]),
        this.#timeoutMs,
        () =>
          new BackendError(
            BACKEND,
            `the NATS server did not confirm the subscription within ${this.#timeoutMs} ms`,
          ),
      );
      if (refusal !== undefined) throw refusal;
    } catch (error) {
      opening = false;
      if (this.#subs.get(channel) === opened) this.#subs.delete(channel);
      if (!opened.isClosed()) opened.unsubscribe();
      throw refusal !== undefined
        ? backendError(`the NATS server refused the subscription to ${subject}`, refusal)
        : backendError(`could not subscribe to ${subject}`, error);
    }
    opening = false;
  }

  async close(channel: string): Promise<void> {
    const sub = this.#subs.get(channel);
    if (!sub) return;
    this.#subs.delete(channel);
    if (this.#nc.isClosed() || sub.isClosed()) return;
    try {
      await withTimeout(sub.drain(), this.#timeoutMs, () => new Error("drain timed out"));
    } catch {
      if (!sub.isClosed()) sub.unsubscribe();
    }
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.#subs.keys()].map((channel) => this.close(channel)));
    this.#confirmDeadlines.close();
  }
}

/**
 * Event store on NATS core publish/subscribe (at-most-once). Subjects are `<prefix>.<TYPE>`
 * (`MULTI_CHANNEL`) or `<prefix>.all` (`SINGLE_CHANNEL`); payloads travel as binary.
 *
 * The connection is yours: open it with `wsconnect` from `@nats-io/nats-core` (WebSocket: any
 * runtime with a global `WebSocket`, edge included) or `connect` from `@nats-io/transport-node`
 * (TCP), pass it in, and close it yourself. `shutdown()` drains only this store's subscriptions.
 *
 * `publish` resolves once the server has routed the message (a `PING` after it was answered,
 * shared by the publishes of one tick) and rejects with a `BackendError` when the connection is
 * closed or lost before that. Messages in flight during a reconnect may be lost; subscriptions
 * come back by themselves after a reconnect (the client re-sends them). `confirmPublish: false`
 * makes `publish` fire-and-forget, like raw nats.js. A subscription the server refuses (the user
 * may not subscribe to the subject) makes `subscribe` reject with a `BackendError` naming the
 * subject and the server's reason; one the server removes later is reported to `onError`, and the
 * next `subscribe` of its type asks the server again.
 *
 * @example
 * ```ts ignore
 * import { wsconnect } from "@nats-io/nats-core";
 * import { NatsEventStore } from "@socketio4ts/stores/nats";
 *
 * const nc = await wsconnect({ servers: "ws://127.0.0.1:14280" });
 * const events = new NatsEventStore(nc, { prefix: "chat-app" });
 * await events.subscribe("JOIN", (message) => console.log(message.room));
 * await events.publish("JOIN", { sessionId: "s1", namespace: "/", room: "lobby" });
 * await events.shutdown();
 * await nc.close();
 * ```
 */
export class NatsEventStore extends BaseEventStore {
  /** The connection this store publishes and subscribes on (owned by the caller). */
  readonly connection: NatsConnection;

  /**
   * Creates a node of the cluster on a connection you opened.
   *
   * @param nc an open NATS connection (WebSocket or TCP); never closed by the store.
   * @param options node id, mode, prefix, codec, error hook, size limit and timeout.
   * @throws {TypeError} when `nc` is not a NATS connection.
   * @throws {RangeError} when `maxMessageBytes` is over the server's `max_payload`.
   */
  constructor(nc: NatsConnection, options: NatsEventStoreOptions = {}) {
    assertNatsConnection(nc);
    const timeoutMs = positiveInteger("timeoutMs", options.timeoutMs, DEFAULT_NATS_TIMEOUT_MS);
    const maxMessageBytes = resolveMaxMessageBytes(nc, options.maxMessageBytes);
    const confirmPublish = options.confirmPublish ?? true;
    if (typeof confirmPublish !== "boolean") {
      throw new TypeError(`confirmPublish must be a boolean, received ${String(confirmPublish)}`);
    }
    super(
      new NatsCoreTransport(nc, resolvePrefix(options), timeoutMs, confirmPublish),
      { kind: EventStoreKind.PUBSUB, publishMode: PublishMode.UNRELIABLE },
      { ...options, maxMessageBytes },
    );
    this.connection = nc;
  }
}
