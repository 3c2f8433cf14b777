/**
 * The memory backends run every conformance suite, plus what is special about them.
 */

import assert from "node:assert/strict";
import { MemoryBus, MemoryEventStore, MemoryStoreFactory } from "../mod.ts";
import { eventStoreSuite } from "./conformance/event_store_suite.ts";
import { pairingSuite } from "./conformance/pairing_suite.ts";
import { sharedMapSuite } from "./conformance/shared_map_suite.ts";
import { storeSuite } from "./conformance/store_suite.ts";

const bus = new MemoryBus();

storeSuite({
  name: "MemoryStore",
  createFactory: () => new MemoryStoreFactory(),
  backendEntryCount: (factory, sessionId) =>
    Promise.resolve((factory as MemoryStoreFactory).sessionEntryCount(sessionId)),
});
sharedMapSuite({ name: "MemoryStoreFactory maps", createFactory: () => new MemoryStoreFactory() });
eventStoreSuite({
  name: "MemoryEventStore",
  createEventStore: (options) => new MemoryEventStore({ ...options, bus }),
});
pairingSuite({
  name: "Memory storage + memory events",
  createFactory: (events) => new MemoryStoreFactory(events),
  createEventStore: (options) => new MemoryEventStore({ ...options, bus }),
});

Deno.test("MemoryEventStore without a bus reaches nothing outside itself", async () => {
  await using lonely = new MemoryEventStore({ nodeId: "lonely" });
  await using other = new MemoryEventStore({ nodeId: "other" });
  const received: unknown[] = [];
  await other.subscribe("JOIN", (message) => void received.push(message));
  await lonely.publish("JOIN", { sessionId: "s", namespace: "/", room: "r" });
  await other.publish("JOIN", { sessionId: "s", namespace: "/", room: "r" });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepStrictEqual(received, []);
  assert.equal(lonely.kind, "LOCAL");
});

Deno.test("MemoryBus keeps only `retain` messages for resuming", async () => {
  const small = new MemoryBus({ retain: 2 });
  await using a = new MemoryEventStore({ bus: small, nodeId: "a" });
  await using b = new MemoryEventStore({ bus: small, nodeId: "b" });
  for (const room of ["1", "2", "3", "4"]) {
    await a.publish("JOIN", { sessionId: "s", namespace: "/", room });
  }
  const rooms: string[] = [];
  await b.subscribe("JOIN", (message) => void rooms.push(message.room), { fromOffset: "0" });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepStrictEqual(rooms, ["3", "4"]);
  assert.throws(() => new MemoryBus({ retain: -1 }), RangeError);
  await assert.rejects(
    b.unsubscribe("JOIN").then(() => b.subscribe("JOIN", () => {}, { fromOffset: "x" })),
    TypeError,
  );
});
