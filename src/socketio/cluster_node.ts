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

/** The per-factory router shared by the adapters of every namespace of one server. */
export class ClusterNode {
  /** The factory whose event store carries the cluster traffic. */
  readonly factory: StoreFactory;
  /** The factory's event store. */
  readonly events: EventStore;
  /** This node's id (the event store's `nodeId`). */
  readonly nodeId: string;
  /** Resolves once every subscription is active. */
  readonly ready: Promise<void>;
  readonly #adapters = new Map<string, RoutedAdapter>();
  readonly #onError: AdapterErrorHandler;

  private constructor(factory: StoreFactory, onError: AdapterErrorHandler) {
    this.factory = factory;
    this.events = factory.eventStore();
    this.nodeId = this.events.nodeId;
    this.#onError = onError;
    this.ready = this.#start();
    this.ready.catch((error) => this.report(error, { stage: "receive" }));
  }

  /** The node of `factory`, created (and subscribed) on first use. */
  static of(factory: StoreFactory, onError: AdapterErrorHandler): ClusterNode {
    let node = nodes.get(factory);
    if (!node) nodes.set(factory, node = new ClusterNode(factory, onError));
    return node;
  }

  async #start(): Promise<void> {
    const route = (message: EventMessage | SocketIoMessage) => this.#route(message);
    await this.factory.init({
      connect: route,
      disconnect: route,
      join: route,
      leave: route,
      dispatch: route,
    });
    await Promise.all([
      subscribeSocketIo(this.events, "SIO_HEARTBEAT", route),
      subscribeSocketIo(this.events, "SIO_REQUEST", route),
      subscribeSocketIo(this.events, "SIO_RESPONSE", (message) => {
        if (message.target === this.nodeId) this.#route(message);
      }),
    ]);
  }

  /** Routes messages of `namespace` to `adapter` (replacing an earlier adapter of it). */
  attach(namespace: string, adapter: RoutedAdapter): void {
    this.#adapters.set(namespace, adapter);
  }

  /** Stops routing to `adapter`. */
  detach(namespace: string, adapter: RoutedAdapter): void {
    if (this.#adapters.get(namespace) === adapter) this.#adapters.delete(namespace);
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
