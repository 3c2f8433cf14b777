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

Deno.test("a subscribe whose channel fails to open leaves no listener behind", async () => {
  const bus = new MemoryBus();
  await using a = new MemoryEventStore({ bus, nodeId: "a" });
  await using b = new MemoryEventStore({ bus, nodeId: "b" });
  const seen: string[] = [];
  // The bus refuses the offset: the channel does not open.
  await assert.rejects(
    b.subscribe("LEAVE", (message) => void seen.push(`rejected:${message.room}`), {
      fromOffset: "x",
    }),
    TypeError,
  );
  await b.subscribe("LEAVE", (message) => void seen.push(`kept:${message.room}`));
  await a.publish("LEAVE", { sessionId: "s", namespace: "/", room: "r1" });
  assert.deepStrictEqual(seen, ["kept:r1"]);
});

Deno.test("an async onError hook that rejects is logged, never an unhandled rejection", async () => {
  const bus = new MemoryBus();
  const hookCalls: string[] = [];
  const logged: unknown[][] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void logged.push(args);
  try {
    await using a = new MemoryEventStore({ bus, nodeId: "a" });
    await using b = new MemoryEventStore({
      bus,
      nodeId: "b",
      onError: async (error) => {
        hookCalls.push(error.message);
        await Promise.resolve();
        throw new Error("the hook failed too");
      },
    });
    await b.subscribe("JOIN", () => {
      throw new Error("listener bug");
    });
    await a.publish("JOIN", { sessionId: "s", namespace: "/", room: "r" });
    // The hook's rejection settles a few microtasks later.
    await new Promise((resolve) => setTimeout(resolve, 0));
  } finally {
    console.error = consoleError;
  }
  assert.deepStrictEqual(hookCalls, ["listener bug"]);
  assert.equal(logged.length, 1);
  assert.match(String(logged[0]![0]), /onError hook failed/);
  assert.equal((logged[0]![1] as Error).message, "the hook failed too");
});

Deno.test("an event store's prefix must not make an empty segment of a channel name", () => {
  // `app.` or `a..b` would make NATS subjects with an empty token, which the server drops.
  for (const prefix of ["app.", ".app", "a..b", "", "a b", "a:b", "x".repeat(101)]) {
    assert.throws(() => new MemoryEventStore({ prefix }), TypeError, `prefix ${prefix}`);
  }
  for (const prefix of ["app", "a.b", "my-app_1.events", "x".repeat(100)]) {
    new MemoryEventStore({ prefix });
  }
});

Deno.test("a listener subscribed again while a failing open is pending keeps its subscription", async () => {
  const bus = new MemoryBus();
  await using a = new MemoryEventStore({ bus, nodeId: "a" });
  await using b = new MemoryEventStore({ bus, nodeId: "b" });
  const rooms: string[] = [];
  const listener = (message: { room: string }) => void rooms.push(message.room);
  // The first open fails (the bus refuses the offset) after the unsubscribe and the second
  // subscribe of the same listener were made: its clean-up must leave the second one alone.
  const failing = b.subscribe("JOIN", listener, { fromOffset: "x" });
  const unsubscribed = b.unsubscribe("JOIN");
  const again = b.subscribe("JOIN", listener);
  await assert.rejects(failing, TypeError);
  await unsubscribed;
  await again;
  await a.publish("JOIN", { sessionId: "s", namespace: "/", room: "r1" });
  assert.deepStrictEqual(rooms, ["r1"]);
});
