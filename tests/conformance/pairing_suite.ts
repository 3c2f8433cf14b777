/**
 * Conformance suite of the {@linkcode StoreFactory} contract as a pairing of any storage with any
 * event store: `init(host)` routing, `onDisconnect`, `shutdown`, `await using`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type ClusterHost,
  type EventMessage,
  type EventStore,
  EventStoreClosedError,
  EventStoreMode,
  type EventStoreOptions,
  StoreDestroyedError,
  type StoreFactory,
} from "../../mod.ts";
import { Inbox, randomPrefix, within } from "./_helpers.ts";

/** How a storage backend and an event backend plug into the pairing suite. */
export interface PairingSuiteOptions {
  /** Label, e.g. `Redis storage + Redis Streams events`. */
  readonly name: string;
  /** Skip every test (a service is absent). */
  readonly ignore?: boolean;
  /** Creates a factory of the storage backend paired with `eventStore`. */
  createFactory(eventStore: EventStore): StoreFactory | Promise<StoreFactory>;
  /** Creates one node of the event backend (the suite passes prefix, mode and nodeId). */
  createEventStore(options: EventStoreOptions): EventStore | Promise<EventStore>;
}

/** A {@linkcode ClusterHost} that records what `init(host)` routes to it. */
export class RecordingHost implements ClusterHost {
  /** Every routed call, as `[method, message]`, in order. */
  readonly calls: [string, EventMessage][] = [];
  readonly #inbox = new Inbox();

  #record(method: string, message: EventMessage): void {
    this.calls.push([method, message]);
    this.#inbox.push(message);
  }

  /** Resolves once `count` calls were routed. */
  waitFor(count: number): Promise<unknown> {
    return this.#inbox.waitFor(count, `${count} routed host calls`);
  }

  /** @inheritdoc */
  connect(message: EventMessage<"CONNECT">): void {
    this.#record("connect", message);
  }
  /** @inheritdoc */
  disconnect(message: EventMessage<"DISCONNECT">): void {
    this.#record("disconnect", message);
  }
  /** @inheritdoc */
  join(message: EventMessage<"JOIN" | "BULK_JOIN">): void {
    this.#record("join", message);
  }
  /** @inheritdoc */
  leave(message: EventMessage<"LEAVE" | "BULK_LEAVE">): void {
    this.#record("leave", message);
  }
  /** @inheritdoc */
  dispatch(message: EventMessage<"DISPATCH">): void {
    this.#record("dispatch", message);
  }
}

/** Registers the pairing conformance tests for one storage + events combination. */
export function pairingSuite(options: PairingSuiteOptions): void {
  const test = (name: string, body: (made: StoreFactory[]) => Promise<void>) =>
    Deno.test({
      name: `${options.name}: ${name}`,
      ignore: options.ignore ?? false,
      async fn() {
        const made: StoreFactory[] = [];
        try {
          await body(made);
        } finally {
          await Promise.allSettled(made.map((factory) => factory.shutdown()));
        }
      },
    });
  const factoryOn = async (made: StoreFactory[], events: EventStoreOptions) => {
    const factory = await options.createFactory(await options.createEventStore(events));
    made.push(factory);
    return factory;
  };

  for (const mode of [EventStoreMode.MULTI_CHANNEL, EventStoreMode.SINGLE_CHANNEL]) {
    test(`[${mode}] init(host) routes every event type from other nodes to the host`, async (made) => {
      const prefix = randomPrefix();
      const nodeA = await factoryOn(made, { prefix, mode, nodeId: "a" });
      const nodeB = await factoryOn(made, { prefix, mode, nodeId: "b" });
      const hostA = new RecordingHost();
      const hostB = new RecordingHost();
      await nodeA.init(hostA);
      await nodeB.init(hostB);
      const events = nodeA.eventStore();
      await events.publish("CONNECT", { sessionId: "s1" });
      await events.publish("JOIN", { sessionId: "s1", namespace: "/", room: "r1" });
      await events.publish("BULK_JOIN", { sessionId: "s1", namespace: "/", rooms: ["r2", "r3"] });
      await events.publish("DISPATCH", { namespace: "/", room: "r1", packet: ["chat", "hi"] });
      await events.publish("LEAVE", { sessionId: "s1", namespace: "/", room: "r1" });
      await events.publish("BULK_LEAVE", { sessionId: "s1", namespace: "/", rooms: ["r2", "r3"] });
      await events.publish("DISCONNECT", { sessionId: "s1" });
      await hostB.waitFor(7);
      const routed = hostB.calls.map(([method, message]) => `${method}:${message.type}`).sort();
      assert.deepStrictEqual(routed, [
        "connect:CONNECT",
        "disconnect:DISCONNECT",
        "dispatch:DISPATCH",
        "join:BULK_JOIN",
        "join:JOIN",
        "leave:BULK_LEAVE",
        "leave:LEAVE",
      ]);
      const dispatch = hostB.calls.find(([method]) => method === "dispatch")![1];
      assert.ok(dispatch.type === "DISPATCH");
      assert.deepStrictEqual(dispatch.packet, ["chat", "hi"]);
      assert.equal(dispatch.nodeId, "a");
      // Node B answers, so node A's host sees B's message and never its own seven.
      await nodeB.eventStore().publish("CONNECT", { sessionId: "s2" });
      await hostA.waitFor(1);
      assert.deepStrictEqual(hostA.calls.map(([, message]) => message.nodeId), ["b"]);
    });
  }

  test("init(host) validates the host and runs once", async (made) => {
    const factory = await factoryOn(made, { prefix: randomPrefix() });
    await assert.rejects(factory.init({} as ClusterHost), /host\.connect must be a function/);
    await factory.init(new RecordingHost());
    await assert.rejects(factory.init(new RecordingHost()), /already called/);
  });

  test("onDisconnect(sessionId) destroys that session's store and no other", async (made) => {
    const factory = await factoryOn(made, { prefix: randomPrefix() });
    const gone = factory.createStore(`gone-${crypto.randomUUID()}`);
    const kept = factory.createStore(`kept-${crypto.randomUUID()}`);
    await gone.set("k", "v");
    await kept.set("k", "v");
    await factory.onDisconnect(gone.sessionId);
    await assert.rejects(gone.get("k"), StoreDestroyedError);
    assert.equal(await factory.createStore(gone.sessionId).get("k"), undefined);
    assert.equal(await kept.get("k"), "v");
    await factory.onDisconnect(`never-created-${crypto.randomUUID()}`);
    await kept.destroy();
  });

  test("shutdown() shuts the event store, is idempotent, and closes the factory", async (made) => {
    const factory = await factoryOn(made, { prefix: randomPrefix() });
    const events = factory.eventStore();
    await factory.shutdown();
    await factory.shutdown();
    await assert.rejects(events.publish("CONNECT", { sessionId: "s" }), EventStoreClosedError);
    assert.throws(() => factory.createStore("s"), /shut down/);
    assert.throws(() => factory.createMap("m"), /shut down/);
  });

  test("await using shuts the factory down at the end of the block", async () => {
    const events = await options.createEventStore({ prefix: randomPrefix() });
    {
      await using factory = await options.createFactory(events);
      await within(factory.createStore(`using-${crypto.randomUUID()}`).destroy(), "destroy");
    }
    await assert.rejects(events.publish("CONNECT", { sessionId: "s" }), EventStoreClosedError);
  });
}
