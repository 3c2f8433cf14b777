/**
 * The socket.io extension message types: registered, validated like the built-in ones, usable
 * through `EventPayloadMap` augmentation; malformed cluster messages are skipped and reported.
 */

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Server } from "socket.io";
import {
  MemoryBus,
  MemoryEventStore,
  MemoryStoreFactory,
  messageRegistry,
  MessageValidationError,
} from "../../mod.ts";
import {
  type AdapterErrorContext,
  createAdapter,
  SOCKETIO_MESSAGE_TYPES,
  type SocketIoPayloadMap,
} from "../../src/socketio/mod.ts";
import { waitFor } from "./_suite.ts";

declare module "../../src/core/messages.ts" {
  interface EventPayloadMap extends SocketIoPayloadMap {}
}

Deno.test("socket.io extension types are registered and validated like the built-in ones", async () => {
  for (const type of SOCKETIO_MESSAGE_TYPES) assert.ok(messageRegistry.has(type), type);
  const bus = new MemoryBus();
  await using a = new MemoryEventStore({ bus, nodeId: "a" });
  await using b = new MemoryEventStore({ bus, nodeId: "b" });
  const got = Promise.withResolvers<unknown>();
  await b.subscribe("SIO_RESPONSE", (message) => got.resolve(message));
  await assert.rejects(
    a.publish("SIO_RESPONSE", {
      namespace: "/",
      requestId: "r1",
      response: "CLIENT_COUNT",
      clientCount: 1,
    } as never),
    (error: unknown) => error instanceof MessageValidationError && error.field === "target",
  );
  await assert.rejects(
    a.publish("SIO_HEARTBEAT", { namespace: "/", beat: "SOMETIMES" as "ALIVE" }),
    (error: unknown) => error instanceof MessageValidationError && error.field === "beat",
  );
  await assert.rejects(
    a.publish("SIO_REQUEST", { namespace: "/", request: "FETCH_SOCKETS", requestId: "r" }),
    (error: unknown) => error instanceof MessageValidationError && error.field === "selector",
  );
  await a.publish("SIO_RESPONSE", {
    namespace: "/",
    target: "b",
    requestId: "r1",
    response: "CLIENT_COUNT",
    clientCount: 2,
  });
  const message = await got.promise as Record<string, unknown>;
  assert.equal(message.clientCount, 2);
  assert.equal(message.nodeId, "a");
});

Deno.test("a cluster message without its socket.io fields is skipped and reported", async () => {
  const bus = new MemoryBus();
  const errors: [string, AdapterErrorContext][] = [];
  const factory = new MemoryStoreFactory(new MemoryEventStore({ bus, nodeId: "server" }));
  const io = new Server(createServer(), {
    adapter: createAdapter(factory, {
      onError: (error, context) => errors.push([error.message, context]),
    }),
  });
  await using foreign = new MemoryEventStore({ bus, nodeId: "foreign" });
  try {
    await io.of("/").adapter.init();
    await foreign.publish("DISPATCH", { namespace: "/", room: "", packet: ["chat", "hi"] });
    await foreign.publish("JOIN", { sessionId: "s", namespace: "/", room: "r" });
    await waitFor("two reports", () => errors.length >= 2 ? errors : undefined);
    assert.match(errors[0]![0], /"rooms"/);
    assert.equal(errors[0]![1].type, "DISPATCH");
    assert.match(errors[1]![0], /"selector"/);
    assert.equal(errors[1]![1].stage, "receive");
  } finally {
    await io.close();
    await factory.shutdown();
  }
});

Deno.test("broadcasts emitted in one tick travel as one DISPATCH, in order, with a batch", async () => {
  const bus = new MemoryBus();
  const factory = new MemoryStoreFactory(new MemoryEventStore({ bus, nodeId: "server" }));
  const io = new Server(createServer(), { adapter: createAdapter(factory) });
  await using spy = new MemoryEventStore({ bus, nodeId: "spy" });
  const seen: Record<string, unknown>[] = [];
  await spy.subscribe("DISPATCH", (message) => void seen.push({ ...message }));
  try {
    await io.of("/").adapter.init();
    io.emit("one", 1);
    io.to("room-a").emit("two", 2);
    io.except("room-b").emit("three", new Uint8Array([3]));
    await waitFor("one DISPATCH", () => seen.length >= 1 ? seen : undefined);
    io.emit("alone", 4);
    await waitFor("a second DISPATCH", () => seen.length >= 2 ? seen : undefined);
    const [batched, alone] = seen as [Record<string, unknown>, Record<string, unknown>];
    assert.deepEqual((batched.packet as { data: unknown[] }).data, ["one", 1]);
    const batch = batched.batch as {
      packet: { data: unknown[] };
      rooms: string[];
      except: string[];
    }[];
    assert.deepEqual(batch.map((entry) => entry.packet.data), [["two", 2], [
      "three",
      new Uint8Array([3]),
    ]]);
    assert.deepEqual(batch.map((entry) => [entry.rooms, entry.except]), [[["room-a"], []], [[], [
      "room-b",
    ]]]);
    assert.equal(alone.batch, undefined);
    assert.deepEqual((alone.packet as { data: unknown[] }).data, ["alone", 4]);
  } finally {
    await io.close();
    await factory.shutdown();
  }
});

Deno.test("a DISPATCH with a malformed batch entry is skipped and reported with its path", async () => {
  const bus = new MemoryBus();
  const errors: string[] = [];
  const factory = new MemoryStoreFactory(new MemoryEventStore({ bus, nodeId: "server" }));
  const io = new Server(createServer(), {
    adapter: createAdapter(factory, { onError: (error) => errors.push(error.message) }),
  });
  await using foreign = new MemoryEventStore({ bus, nodeId: "foreign" });
  try {
    await io.of("/").adapter.init();
    const entry = { room: "", packet: { type: 2, data: ["x"] }, rooms: [], except: [], flags: {} };
    await foreign.publish("DISPATCH", {
      namespace: "/",
      ...entry,
      batch: [entry, { ...entry, rooms: "not-a-list" }],
    } as never);
    await waitFor("a report", () => errors.length >= 1 ? errors : undefined);
    assert.match(errors[0]!, /"batch\.1\.rooms"/);
  } finally {
    await io.close();
    await factory.shutdown();
  }
});
