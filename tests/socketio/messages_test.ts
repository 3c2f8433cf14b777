/**
 * The socket.io extension message types: registered, validated like the built-in ones, usable
 * through `EventPayloadMap` augmentation; malformed cluster messages are skipped and reported.
 */

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Server } from "socket.io";
import {
  hybridCodec,
  jsonCodec,
  MemoryBus,
  MemoryEventStore,
  MemoryStoreFactory,
  messageRegistry,
  MessageValidationError,
  msgpackCodec,
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

/**
 * Runs `check` with a socket.io server on a memory bus (its adapter initialised) and a foreign
 * node on the same bus, whose messages the server must judge; `reports` gathers what the adapter
 * reports.
 */
async function withForeignNode(
  check: (
    foreign: MemoryEventStore,
    reports: [string, AdapterErrorContext][],
  ) => Promise<void>,
): Promise<void> {
  const bus = new MemoryBus();
  const reports: [string, AdapterErrorContext][] = [];
  const factory = new MemoryStoreFactory(new MemoryEventStore({ bus, nodeId: "server" }));
  const io = new Server(createServer(), {
    adapter: createAdapter(factory, {
      onError: (error, context) => reports.push([error.message, context]),
    }),
  });
  await using foreign = new MemoryEventStore({ bus, nodeId: "foreign" });
  try {
    await io.of("/").adapter.init();
    await check(foreign, reports);
  } finally {
    await io.close();
    await factory.shutdown();
  }
}

Deno.test("a cluster message without its socket.io fields is skipped and reported", async () => {
  await withForeignNode(async (foreign, errors) => {
    await foreign.publish("DISPATCH", { namespace: "/", room: "", packet: ["chat", "hi"] });
    await foreign.publish("JOIN", { sessionId: "s", namespace: "/", room: "r" });
    await foreign.publish("DISCONNECT", { sessionId: "p", namespace: "/", ended: "yes" } as never);
    await waitFor("three reports", () => errors.length >= 3 ? errors : undefined);
    assert.match(errors[0]![0], /"rooms"/);
    assert.equal(errors[0]![1].type, "DISPATCH");
    assert.match(errors[1]![0], /"selector"/);
    assert.equal(errors[1]![1].stage, "receive");
    assert.match(errors[2]![0], /"ended": expected true/);
  });
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
  await withForeignNode(async (foreign, reports) => {
    const entry = { room: "", packet: { type: 2, data: ["x"] }, rooms: [], except: [], flags: {} };
    await foreign.publish("DISPATCH", {
      namespace: "/",
      ...entry,
      batch: [entry, { ...entry, rooms: "not-a-list" }],
    } as never);
    await waitFor("a report", () => reports.length >= 1 ? reports : undefined);
    assert.match(reports[0]![0], /"batch\.1\.rooms"/);
  });
});

// socket.io types a room as a string but keys rooms by value: plain JavaScript may use numbers.
const ROOM_42 = 42 as unknown as string;
const ROOM_7 = 7 as unknown as string;

Deno.test("a number room travels as a number (DISPATCH, JOIN, BULK_JOIN), the core's room fields holding its string form", async () => {
  const bus = new MemoryBus();
  const factory = new MemoryStoreFactory(new MemoryEventStore({ bus, nodeId: "server" }));
  const io = new Server(createServer(), { adapter: createAdapter(factory) });
  await using spy = new MemoryEventStore({ bus, nodeId: "spy" });
  const seen: Record<string, unknown>[] = [];
  for (const type of ["DISPATCH", "JOIN", "BULK_JOIN"] as const) {
    await spy.subscribe(type, (message) => void seen.push({ ...message }));
  }
  const fieldsOf = (type: string) => {
    const message = seen.find((each) => each.type === type)!;
    return Object.fromEntries(
      ["room", "rooms", "except", "roomKeys"].filter((field) => field in message).map((
        field,
      ) => [field, message[field]]),
    );
  };
  try {
    await io.of("/").adapter.init();
    io.to(ROOM_42).except("42").emit("n", 1);
    io.socketsJoin(ROOM_7);
    io.socketsJoin([ROOM_7, "7"]);
    await waitFor("three messages", () => seen.length >= 3 ? seen : undefined);
    assert.deepEqual(fieldsOf("DISPATCH"), { room: "42", rooms: [42], except: ["42"] });
    assert.deepEqual(fieldsOf("JOIN"), { room: "7", roomKeys: [7] });
    assert.deepEqual(fieldsOf("BULK_JOIN"), { rooms: ["7", "7"], roomKeys: [7, "7"] });
    // On the wire: the memory bus carried hybridCodec's JSON text; every codec keeps the number.
    const dispatch = seen.find((each) => each.type === "DISPATCH")!;
    assert.match(
      hybridCodec.encode(dispatch) as string,
      /"room":"42",.*"rooms":\[42\],"except":\["42"\]/,
    );
    for (const codec of [hybridCodec, jsonCodec, msgpackCodec]) {
      for (const message of seen) {
        assert.deepEqual(codec.decode(codec.encode(message)), message, codec.name);
      }
    }
    // A string room changes nothing on the wire: no roomKeys.
    seen.length = 0;
    io.socketsJoin("lobby");
    await waitFor("the JOIN", () => seen.length >= 1 ? seen : undefined);
    assert.deepEqual(fieldsOf("JOIN"), { room: "lobby" });
  } finally {
    await io.close();
    await factory.shutdown();
  }
});

Deno.test("a cluster message with a room that is neither a string nor a finite number, or roomKeys that do not match, is skipped and reported", async () => {
  const travel = "expected a room that can travel between nodes (a string or a finite number)";
  await withForeignNode(async (foreign, reports) => {
    const entry = { room: "", packet: { type: 2, data: ["x"] }, rooms: [], except: [], flags: {} };
    const selector = { rooms: [], except: [] };
    const publish = (type: string, payload: unknown) =>
      (foreign.publish as (type: string, payload: unknown) => Promise<unknown>).call(
        foreign,
        type,
        payload,
      );
    await publish("DISPATCH", { namespace: "/", ...entry, rooms: [true] });
    await publish("DISPATCH", { namespace: "/", ...entry, batch: [{ ...entry, except: [{}] }] });
    await publish("JOIN", { sessionId: "*", namespace: "/", room: "42", selector, roomKeys: [41] });
    await publish("JOIN", {
      sessionId: "*",
      namespace: "/",
      room: "42",
      selector,
      roomKeys: ["42", 42],
    });
    await publish("BULK_LEAVE", {
      sessionId: "*",
      namespace: "/",
      rooms: ["7", "a"],
      selector,
      roomKeys: [7, "b"],
    });
    await publish("DISCONNECT", {
      sessionId: "*",
      namespace: "/",
      selector: { rooms: [null], except: [] },
      close: false,
    });
    await publish("DISCONNECT", {
      sessionId: "p",
      namespace: "/",
      session: { sid: "s", pid: "p", rooms: ["s", 1.5, [2]], data: null },
    });
    await assert.rejects(
      publish("SIO_REQUEST", {
        namespace: "/",
        request: "FETCH_SOCKETS",
        requestId: "r",
        selector: { rooms: [], except: [{}] },
      }),
      (error: unknown) =>
        error instanceof MessageValidationError && error.field === "selector.except.0",
    );
    await waitFor("seven reports", () => reports.length >= 7 ? reports : undefined);
    assert.deepEqual(reports.map(([message]) => message).sort(), [
      `invalid event message field "batch.0.except.0": ${travel}, received an object`,
      `invalid event message field "roomKeys": expected an array of one room (that of room), received an array of length 2`,
      `invalid event message field "roomKeys.0": expected the room whose string form room holds ("42"), received number 41`,
      `invalid event message field "roomKeys.1": expected the room whose string form rooms.1 holds ("a"), received string "b"`,
      `invalid event message field "rooms.0": ${travel}, received boolean true`,
      `invalid event message field "selector.rooms.0": ${travel}, received null`,
      `invalid event message field "session.rooms.2": ${travel}, received an array of length 1`,
    ]);
  });
});
