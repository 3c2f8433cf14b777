/**
 * One {@linkcode ClusterNode} per store factory: it subscribes once (the factory's seven types
 * through `factory.init(host)`, the three socket.io extension types directly) and routes each
 * message to the adapter of its namespace.
 *
 * @module
 */

import { callErrorHook } from "../core/_error_hook.ts";
import type { EventMessage, EventStore, StoreFactory } from "../core/mod.ts";
import { type SocketIoMessage, subscribeSocketIo } from "./messages.ts";

/** Receives errors that must not end the cluster: bad messages, failed publishes. */
export type AdapterErrorHandler = (error: Error, context: AdapterErrorContext) => void;

/** What went wrong, as given to an {@linkcode AdapterErrorHandler}. */
export interface AdapterErrorContext {
  /** `receive` (a message could not be applied), `publish`, or `session-store`. */
  readonly stage: "receive" | "publish" | "session-store";
  /** Event type involved, when known. */
  readonly type?: string;
  /** Namespace involved, when known. */
  readonly namespace?: string;
}

/** What the node routes messages to: one adapter per namespace. */
export interface RoutedAdapter {
  /** Applies a message from another node. */
  receive(message: EventMessage | SocketIoMessage): void;
}

/** Default error handler: one line on `console.error`. */
export function logAdapterError(error: Error, context: AdapterErrorContext): void {
  console.error(`[socketio4ts] socket.io adapter ${context.stage} error`, context, error);
}

const nodes = new WeakMap<StoreFactory, ClusterNode>();

/** Delays between attempts to subscribe: the first, and the most (it doubles in between). */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;

/** The per-factory router shared by the adapters of every namespace of one server. */
export class ClusterNode {
  /** The factory whose event store carries the cluster traffic. */
  readonly factory: StoreFactory;
  /** The factory's event store. */
  readonly events: EventStore;
  /** This node's id (the event store's `nodeId`). */
  readonly nodeId: string;
  /**
   * Resolves once every subscription is active. A failed attempt (the broker unreachable at
   * start, say) is reported and tried again, after 0.5 s, then twice as long each time up to
   * 30 s; it rejects only when the node stops trying: the event store was shut down, or every
   * adapter detached (the server closed).
   */
  readonly ready: Promise<void>;
  readonly #adapters = new Map<string, RoutedAdapter>();
  readonly #onError: AdapterErrorHandler;
  #initialized = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;

  private constructor(factory: StoreFactory, onError: AdapterErrorHandler) {
    this.factory = factory;
    this.events = factory.eventStore();
    this.nodeId = this.events.nodeId;
    this.#onError = onError;
    this.ready = this.#startWithRetries();
    this.ready.catch(() => {});
  }

  /** The node of `factory`, created (and subscribed) on first use. */
  static of(factory: StoreFactory, onError: AdapterErrorHandler): ClusterNode {
    let node = nodes.get(factory);
    if (!node) nodes.set(factory, node = new ClusterNode(factory, onError));
    return node;
  }

  readonly #routeAll = (message: EventMessage | SocketIoMessage): void => this.#route(message);
  readonly #routeOwnResponses = (message: SocketIoMessage<"SIO_RESPONSE">): void => {
    if (message.target === this.nodeId) this.#route(message);
  };

  async #start(): Promise<void> {
    const route = this.#routeAll;
    if (!this.#initialized) {
      await this.factory.init({
        connect: route,
        disconnect: route,
        join: route,
        leave: route,
        dispatch: route,
      });
      this.#initialized = true;
    }
    // The same listeners on a retry: subscribing one again adds nothing.
    await Promise.all([
      subscribeSocketIo(this.events, "SIO_HEARTBEAT", route),
      subscribeSocketIo(this.events, "SIO_REQUEST", route),
      subscribeSocketIo(this.events, "SIO_RESPONSE", this.#routeOwnResponses),
    ]);
  }

  /** Whether retrying is pointless: the event store was shut down, or the server closed. */
  #stopped(): boolean {
    return (this.events as { readonly closed?: unknown }).closed === true ||
      this.#adapters.size === 0;
  }

  async #startWithRetries(): Promise<void> {
    for (let delayMs = RETRY_FIRST_MS;; delayMs = Math.min(delayMs * 2, RETRY_MAX_MS)) {
      try {
        await this.#start();
        return;
      } catch (error) {
        const giveUp = this.#stopped();
        const what = giveUp
          ? "the cluster subscriptions failed"
          : `the cluster subscriptions failed; retrying in ${delayMs} ms`;
        this.report(new Error(`${what}: ${(error as Error)?.message ?? error}`, { cause: error }), {
          stage: "receive",
        });
        if (giveUp) throw error;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#retryTimer = setTimeout(resolve, delayMs);
      });
      this.#retryTimer = undefined;
      this.#wake = undefined;
      if (this.#stopped()) {
        throw new Error("the cluster subscriptions were not retried: the server closed");
      }
    }
  }

  /** Routes messages of `namespace` to `adapter` (replacing an earlier adapter of it). */
  attach(namespace: string, adapter: RoutedAdapter): void {
    this.#adapters.set(namespace, adapter);
  }

  /** Stops routing to `adapter`; the last one to go ends a pending retry of the subscriptions. */
  detach(namespace: string, adapter: RoutedAdapter): void {
    if (this.#adapters.get(namespace) === adapter) this.#adapters.delete(namespace);
    if (this.#adapters.size === 0 && this.#retryTimer !== undefined) {
      clearTimeout(this.#retryTimer);
      this.#wake?.();
    }
  }

  /** Reports an error to the handler, never throwing. */
  report(error: unknown, context: AdapterErrorContext): void {
    callErrorHook(this.#onError, error, context);
  }

  #route(message: EventMessage | SocketIoMessage): void {
    const namespace = (message as { readonly namespace?: unknown }).namespace;
    if (typeof namespace !== "string") {
      this.report(new TypeError(`a ${message.type} message without a namespace was skipped`), {
        stage: "receive",
        type: message.type,
      });
      return;
    }
    const adapter = this.#adapters.get(namespace);
    if (!adapter) return;
    try {
      adapter.receive(message);
    } catch (error) {
      this.report(error, { stage: "receive", type: message.type, namespace });
    }
  }
}
