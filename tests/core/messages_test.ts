/**
 * The message registry: built-in validation and the documented extension path.
 */

import assert from "node:assert/strict";
import {
  expectString,
  MemoryBus,
  MemoryEventStore,
  MessageRegistry,
  messageRegistry,
  MessageValidationError,
  registerMessageType,
} from "../../mod.ts";

declare module "../../src/core/messages.ts" {
  interface EventPayloadMap {
    TEST_PING: { readonly requestId: string; readonly body?: unknown };
  }
}

registerMessageType("TEST_PING", (message) => expectString(message, "requestId"));

Deno.test("registerMessageType adds a type that publishes, validates and routes like a built-in", async () => {
  const bus = new MemoryBus();
  await using a = new MemoryEventStore({ bus, nodeId: "a" });
  await using b = new MemoryEventStore({ bus, nodeId: "b" });
  let resolve: (message: unknown) => void = () => {};
  const received = new Promise<unknown>((done) => resolve = done);
  await b.subscribe("TEST_PING", (message) => resolve(message));
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    (a as any).publish("TEST_PING", { body: 1 }),
    (error: unknown) => error instanceof MessageValidationError && error.field === "requestId",
  );
  await a.publish("TEST_PING", { requestId: "r1", body: new Uint8Array([1]) });
  assert.deepStrictEqual(await received, {
    type: "TEST_PING",
    nodeId: "a",
    requestId: "r1",
    body: new Uint8Array([1]),
    offset: "1",
  });
});

Deno.test("MessageRegistry refuses bad and duplicate type names", () => {
  const registry = new MessageRegistry();
  registry.register("FOO", () => {});
  assert.throws(() => registry.register("FOO", () => {}), /already registered/);
  assert.throws(() => registry.register("foo", () => {}), TypeError);
  assert.throws(() => registry.register("all", () => {}), TypeError);
  assert.throws(() => registry.register("", () => {}), TypeError);
  assert.throws(() => registry.register("BAR", "nope" as never), TypeError);
  assert.deepStrictEqual(registry.types(), ["FOO"]);
});

Deno.test("messageRegistry.validate names the offending field", () => {
  const cases: [unknown, string][] = [
    ["text", ""],
    [{ type: "JOIN", nodeId: "n", sessionId: "s", namespace: "/" }, "room"],
    [{ type: "JOIN", nodeId: "", sessionId: "s", namespace: "/", room: "r" }, "nodeId"],
    [{ type: "CONNECT", nodeId: "n", sessionId: "s", offset: 4 }, "offset"],
    [{ type: "BULK_LEAVE", nodeId: "n", sessionId: "s", namespace: "/", rooms: "r" }, "rooms"],
    [{ type: "UNKNOWN", nodeId: "n" }, "type"],
  ];
  for (const [raw, field] of cases) {
    assert.throws(
      () => messageRegistry.validate(raw),
      (error: unknown) => error instanceof MessageValidationError && error.field === field,
      field,
    );
  }
});
