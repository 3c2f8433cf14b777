/**
 * An in-process message bus: several {@linkcode MemoryEventStore}s given the same bus behave like
 * nodes on one broker, so tests and examples can run a cluster in one process.
 *
 * @module
 */

import type { ChannelSink, WireRecord } from "../core/mod.ts";

interface Entry {
  readonly offset: number;
  readonly record: WireRecord;
}

interface Channel {
  next: number;
  readonly log: Entry[];
  readonly sinks: Set<ChannelSink>;
}

/** Options of {@linkcode MemoryBus}. */
export interface MemoryBusOptions {
  /** Messages kept per channel for resuming from an offset; 1000 by default. */
  readonly retain?: number;
}

/**
 * An in-process broker. Delivery is asynchronous (a microtask after `publish`) and in publish
 * order per channel; each channel keeps its last `retain` messages so a subscriber can resume
 * from an offset.
 *
 * @example
 * ```ts
 * import { MemoryBus, MemoryEventStore } from "@socketio4ts/stores";
 *
 * const bus = new MemoryBus();
 * await using a = new MemoryEventStore({ bus, nodeId: "a" });
 * await using b = new MemoryEventStore({ bus, nodeId: "b" });
 * await b.subscribe("JOIN", (message) => console.log(`${message.nodeId}: ${message.room}`));
 * await a.publish("JOIN", { sessionId: "s1", namespace: "/", room: "lobby" });
 * ```
 */
export class MemoryBus {
  /** Messages kept per channel. */
  readonly retain: number;
  readonly #channels = new Map<string, Channel>();

  /**
   * Creates an empty bus.
   *
   * @param options retention of the per-channel log.
   */
  constructor(options: MemoryBusOptions = {}) {
    const retain = options.retain ?? 1000;
    if (!Number.isSafeInteger(retain) || retain < 0) {
      throw new RangeError(`retain must be a non-negative integer, received ${retain}`);
    }
    this.retain = retain;
  }

  #channel(name: string): Channel {
    let channel = this.#channels.get(name);
    if (!channel) this.#channels.set(name, channel = { next: 1, log: [], sinks: new Set() });
    return channel;
  }

  /** Appends a record to a channel and delivers it to every attached sink; returns its offset. */
  publish(name: string, record: WireRecord): string {
    const channel = this.#channel(name);
    const entry = { offset: channel.next++, record };
    if (this.retain > 0) {
      channel.log.push(entry);
      if (channel.log.length > this.retain) channel.log.shift();
    }
    const sinks = [...channel.sinks];
    queueMicrotask(() => {
      for (const sink of sinks) {
        if (channel.sinks.has(sink)) sink.record(entry.record, String(entry.offset));
      }
    });
    return String(entry.offset);
  }

  /**
   * Attaches a sink to a channel, first replaying retained records after `fromOffset`.
   *
   * @throws {TypeError} if `fromOffset` is not a decimal offset of this bus.
   */
  attach(name: string, sink: ChannelSink, fromOffset?: string): void {
    const channel = this.#channel(name);
    if (fromOffset !== undefined) {
      if (!/^\d+$/.test(fromOffset)) {
        throw new TypeError(
          `fromOffset of the memory bus is a decimal sequence number, received ${
            JSON.stringify(fromOffset)
          }`,
        );
      }
      const after = Number(fromOffset);
      const replay = channel.log.filter((entry) => entry.offset > after);
      queueMicrotask(() => {
        for (const entry of replay) {
          if (channel.sinks.has(sink)) sink.record(entry.record, String(entry.offset));
        }
      });
    }
    channel.sinks.add(sink);
  }

  /** Detaches a sink from a channel. */
  detach(name: string, sink: ChannelSink): void {
    this.#channels.get(name)?.sinks.delete(sink);
  }
}
