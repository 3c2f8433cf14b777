/**
 * {@linkcode MemoryEventStore}: cluster events inside one process.
 *
 * @module
 */

import {
  BaseEventStore,
  type ChannelSink,
  EventStoreKind,
  type EventStoreOptions,
  type EventTransport,
  PublishMode,
  type PublishResult,
  resolvePrefix,
  type WireRecord,
} from "../core/mod.ts";
import { MemoryBus } from "./memory_bus.ts";

/** Options of {@linkcode MemoryEventStore}. */
export interface MemoryEventStoreOptions extends EventStoreOptions {
  /**
   * The in-process bus to publish on. Stores sharing a bus see each other's messages; without one
   * the store gets a private bus and reaches nothing outside itself.
   */
  readonly bus?: MemoryBus;
}

class MemoryTransport implements EventTransport {
  // Text needs no copy to stay unchanged, and costs less than bytes to make and read.
  readonly carriesText = true;
  readonly #bus: MemoryBus;
  readonly #prefix: string;
  readonly #sinks = new Map<string, ChannelSink>();

  constructor(bus: MemoryBus, prefix: string) {
    this.#bus = bus;
    this.#prefix = prefix;
  }

  #name(channel: string): string {
    return `${this.#prefix}:${channel}`;
  }

  send(channel: string, record: WireRecord): Promise<PublishResult> {
    return Promise.resolve({ offset: this.#bus.publish(this.#name(channel), record) });
  }

  open(channel: string, sink: ChannelSink, fromOffset?: string): Promise<void> {
    try {
      this.#bus.attach(this.#name(channel), sink, fromOffset);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#sinks.set(channel, sink);
    return Promise.resolve();
  }

  close(channel: string): Promise<void> {
    const sink = this.#sinks.get(channel);
    if (sink) this.#bus.detach(this.#name(channel), sink);
    this.#sinks.delete(channel);
    return Promise.resolve();
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.#sinks.keys()].map((channel) => this.close(channel)));
  }
}

/**
 * Event store on an in-process {@linkcode MemoryBus}: the embedded default. Alone it reaches
 * nothing outside itself; stores sharing a bus act as nodes of one cluster (self-filtering, both
 * modes, order kept, offsets and resume within the bus's retention).
 *
 * @example
 * ```ts
 * import { MemoryBus, MemoryEventStore } from "@socketio4ts/stores";
 *
 * const bus = new MemoryBus();
 * await using nodeA = new MemoryEventStore({ bus, nodeId: "node-a" });
 * await using nodeB = new MemoryEventStore({ bus, nodeId: "node-b" });
 * const received = new Promise((resolve) => nodeB.subscribe("DISPATCH", resolve));
 * await nodeA.publish("DISPATCH", { namespace: "/", room: "lobby", packet: ["chat", "hi"] });
 * console.log(await received);
 * ```
 */
export class MemoryEventStore extends BaseEventStore {
  /** The bus this store publishes on. */
  readonly bus: MemoryBus;

  /**
   * Creates a node on `options.bus` (or on a private bus).
   *
   * @param options bus, node id, mode, prefix, codec and error hook.
   */
  constructor(options: MemoryEventStoreOptions = {}) {
    const bus = options.bus ?? new MemoryBus();
    super(new MemoryTransport(bus, resolvePrefix(options)), {
      kind: EventStoreKind.LOCAL,
      publishMode: PublishMode.RELIABLE,
    }, options);
    this.bus = bus;
  }
}
