/**
 * What `BaseStoreFactory` does whatever the backend: a failed `destroy()` can be retried and the
 * factory hands out a new store meanwhile; a failed `init(host)` closes what it opened and can be
 * retried. Storage and events are the memory backends; a failure is a real rejection of the
 * first `clear()` / `subscribe()` they are asked for.
 */

import assert from "node:assert/strict";
import {
  type ClusterHost,
  type EventListener,
  type EventMessage,
  type EventTypeName,
  type HashPort,
  MemoryBus,
  MemoryEventStore,
  MemoryStoreFactory,
  StoreDestroyedError,
  type SubscribeOptions,
} from "../../mod.ts";
import { Inbox } from "../conformance/_helpers.ts";

/** Memory storage whose next `clear()` of a session (its destroy) fails once when told so. */
class FlakyMemoryStoreFactory extends MemoryStoreFactory {
  failNextClear = false;

  protected override sessionPort(sessionId: string): HashPort {
    const port = super.sessionPort(sessionId);
    const clear = port.clear.bind(port);
    port.clear = () => {
      if (!this.failNextClear) return clear();
      this.failNextClear = false;
      return Promise.reject(new Error("the backend is briefly unreachable"));
    };
    return port;
  }
}

Deno.test("BaseStoreFactory: a failed destroy() rejects clearly and can be retried", async () => {
  await using factory = new FlakyMemoryStoreFactory();
  const old = factory.createStore("s1");
  await old.set("secret", "x");
  factory.failNextClear = true;

  const failure = await factory.onDisconnect("s1").then(() => undefined, (error) => error);
  assert.ok(failure instanceof Error, "onDisconnect rejects when the delete fails");
  assert.match(failure.message, /destroy\(\) of the store of session "s1" failed/);
  assert.match(failure.message, /call destroy\(\) again .* to retry/);
  assert.match(failure.message, /the backend is briefly unreachable/);
  assert.equal((failure.cause as Error).message, "the backend is briefly unreachable");
  assert.equal(factory.sessionEntryCount("s1"), 1, "the data is still there");

  // The failed store is not handed out again, and keeps refusing its operations.
  const fresh = factory.createStore("s1");
  assert.notEqual(fresh, old);
  await assert.rejects(old.get("secret"), StoreDestroyedError);
  assert.equal(await fresh.get("secret"), "x", "the new store sees the data left behind");

  // A retry through the factory deletes it; so does one on the old store.
  await factory.onDisconnect("s1");
  assert.equal(factory.sessionEntryCount("s1"), 0);
  await assert.rejects(fresh.get("secret"), StoreDestroyedError);
  const third = factory.createStore("s1");
  await third.set("k", 1);
  factory.failNextClear = true;
  await assert.rejects(third.destroy(), /failed, so its data may still be in the backend/);
  await third.destroy();
  assert.equal(factory.sessionEntryCount("s1"), 0);
  await third.destroy(); // idempotent once it succeeded
  await old.destroy();
});

/** A memory event store whose subscribe of one type fails the first time. */
class FirstSubscribeFails extends MemoryEventStore {
  readonly #failing: Set<EventTypeName>;

  constructor(bus: MemoryBus, nodeId: string, failing: EventTypeName) {
    super({ bus, nodeId });
    this.#failing = new Set([failing]);
  }

  override subscribe<T extends EventTypeName>(
    type: T,
    listener: EventListener<T>,
    options?: SubscribeOptions,
  ): Promise<void> {
    if (this.#failing.delete(type)) {
      return Promise.reject(new Error(`the broker refused the subscription of ${type}`));
    }
    return super.subscribe(type, listener, options);
  }
}

function recordingHost(inbox: Inbox): ClusterHost {
  const push = (message: EventMessage) => inbox.push(message);
  return { connect: push, disconnect: push, join: push, leave: push, dispatch: push };
}

Deno.test("BaseStoreFactory: a failed init(host) closes what it opened and can be retried", async () => {
  const bus = new MemoryBus();
  await using factory = new MemoryStoreFactory(new FirstSubscribeFails(bus, "a", "DISPATCH"));
  await using other = new MemoryEventStore({ bus, nodeId: "b" });
  const inbox = new Inbox();
  const host = recordingHost(inbox);

  await assert.rejects(factory.init(host), /the broker refused the subscription of DISPATCH/);
  // Published while the factory is not initialized: the channels that did open were closed.
  await other.publish("JOIN", { sessionId: "s", namespace: "/", room: "before" });

  await factory.init(host);
  await other.publish("JOIN", { sessionId: "s", namespace: "/", room: "after" });
  await other.publish("DISPATCH", { namespace: "/", room: "after", packet: { data: [1] } });
  const received = await inbox.waitFor(2, "the JOIN and DISPATCH published after init");
  assert.deepStrictEqual(
    received.map((message) => [message.type, "room" in message ? message.room : ""]),
    [
      ["JOIN", "after"],
      ["DISPATCH", "after"],
    ],
  );
  await assert.rejects(factory.init(host), /already called/);
});
