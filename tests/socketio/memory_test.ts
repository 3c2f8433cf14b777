/**
 * The socket.io cluster on the memory bus: three servers in this process, real clients.
 */

import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { ClusterAdapterWithHeartbeat } from "socket.io-adapter";
import {
  type EventListener,
  type EventTypeName,
  MemoryBus,
  MemoryEventStore,
  type MemoryEventStoreOptions,
  MemoryStoreFactory,
  type SubscribeOptions,
} from "../../mod.ts";
import {
  type AdapterErrorHandler,
  createAdapter,
  StoreFactoryAdapter,
  type StoreFactoryAdapterOptions,
} from "../../src/socketio/mod.ts";
import { setupApp } from "./_app.ts";
import {
  closeClients,
  clusterSteps,
  connect,
  received,
  recoverySteps,
  type TestClient,
  type TestNode,
  waitFor,
} from "./_suite.ts";

const HEARTBEAT = { heartbeatInterval: 200, heartbeatTimeout: 1200 };

async function startNodes(
  bus: MemoryBus,
  count: number,
  recovery: boolean,
  first = 0,
  mode: "SINGLE_CHANNEL" | "MULTI_CHANNEL" = "SINGLE_CHANNEL",
): Promise<{ nodes: TestNode[]; close: () => Promise<void> }> {
  const servers: { io: Server; factory: MemoryStoreFactory; killed: boolean }[] = [];
  const nodes: TestNode[] = [];
  const errors: string[] = [];
  for (let i = first; i < first + count; i++) {
    const events = new MemoryEventStore({ bus, nodeId: `node-${i}`, mode });
    const factory = new MemoryStoreFactory(events);
    const http = createServer();
    const io = new Server(http, {
      adapter: createAdapter(factory, {
        ...HEARTBEAT,
        onError: (error, context) => {
          if (!servers[i - first]?.killed) {
            errors.push(`node-${i} ${context.stage}: ${error.message}`);
          }
        },
      }),
      ...(recovery ? { connectionStateRecovery: {} } : {}),
    });
    const control = setupApp(io, `node-${i}`);
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const port = (http.address() as AddressInfo).port;
    const entry = { io, factory, killed: false };
    servers.push(entry);
    nodes.push({
      name: `node-${i}`,
      url: `http://127.0.0.1:${port}`,
      control: async (op, args) => JSON.parse(JSON.stringify(await control(op, args) ?? null)),
      kill: async () => {
        // The node vanishes: its events stop (no goodbye), then its server goes away quietly.
        entry.killed = true;
        await events.shutdown();
        await io.close();
      },
    });
  }
  return {
    nodes,
    close: async () => {
      for (const { io, factory, killed } of servers) {
        if (!killed) await io.close();
        await factory.shutdown();
      }
      assert.deepEqual(errors, [], "adapter errors");
    },
  };
}

Deno.test("socket.io over the memory bus: the adapter extends the server's own ClusterAdapterWithHeartbeat", async () => {
  const factory = new MemoryStoreFactory();
  const io = new Server(createServer(), { adapter: createAdapter(factory) });
  try {
    const adapter = io.of("/").adapter;
    assert.ok(adapter instanceof StoreFactoryAdapter);
    assert.ok(adapter instanceof ClusterAdapterWithHeartbeat);
    assert.equal((adapter as StoreFactoryAdapter).nodeId, factory.eventStore().nodeId);
  } finally {
    await io.close();
    await factory.shutdown();
  }
});

Deno.test("socket.io over the memory bus: every cluster operation across three servers", async (t) => {
  const { nodes, close } = await startNodes(new MemoryBus(), 3, false);
  try {
    await clusterSteps(t, nodes, { heartbeatTimeout: HEARTBEAT.heartbeatTimeout });
  } finally {
    await close();
  }
});

Deno.test("socket.io over the memory bus in MULTI_CHANNEL mode: every cluster operation", async (t) => {
  const { nodes, close } = await startNodes(new MemoryBus(), 3, false, 0, "MULTI_CHANNEL");
  try {
    await clusterSteps(t, nodes, { heartbeatTimeout: HEARTBEAT.heartbeatTimeout });
  } finally {
    await close();
  }
});

Deno.test("socket.io over the memory bus: connection state recovery on another node", async (t) => {
  const { nodes, close } = await startNodes(new MemoryBus(), 3, true);
  try {
    await recoverySteps(t, nodes[0]!, nodes[1]!, nodes[2]!);
  } finally {
    await close();
  }
});

Deno.test("socket.io over the memory bus: a node that arrives later is counted and reached", async () => {
  const bus = new MemoryBus();
  const early = await startNodes(bus, 2, false);
  let late: Awaited<ReturnType<typeof startNodes>> | undefined;
  const clients = [];
  try {
    for (const node of early.nodes) {
      await waitFor("2 servers", async () => (await node.control("serverCount")) === 2);
    }
    late = await startNodes(bus, 1, false, 2);
    const all = [...early.nodes, ...late.nodes];
    for (const node of all) {
      await waitFor(
        `${node.name} to count 3`,
        async () => (await node.control("serverCount")) === 3,
      );
    }
    clients.push(await connect(late.nodes[0]!.url, "newcomer"));
    await early.nodes[0]!.control("emit", { event: "welcome", args: ["hi"] });
    assert.equal((await received(clients[0]!, "welcome"))[1], "hi");
  } finally {
    closeClients(clients);
    await late?.close();
    await early.close();
  }
});

/** One server of {@linkcode twoServers}. */
interface PairedServer {
  readonly io: Server;
  readonly url: string;
}

/**
 * Runs `body` on two servers over `events` (one each), once both count each other; `clients`
 * collects the test's clients. Closes everything afterwards.
 */
async function twoServers(
  events: readonly [MemoryEventStore, MemoryEventStore],
  options: StoreFactoryAdapterOptions,
  body: (servers: [PairedServer, PairedServer], clients: TestClient[]) => Promise<void>,
): Promise<void> {
  const servers: (PairedServer & { factory: MemoryStoreFactory })[] = [];
  const clients: TestClient[] = [];
  try {
    for (const store of events) {
      const factory = new MemoryStoreFactory(store);
      const http = createServer();
      const io = new Server(http, {
        adapter: createAdapter(factory, { ...HEARTBEAT, ...options }),
      });
      await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
      const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      servers.push({ io, factory, url });
    }
    for (const { io } of servers) {
      await waitFor("2 servers", async () => (await io.of("/").adapter.serverCount()) === 2);
    }
    await body([servers[0]!, servers[1]!], clients);
  } finally {
    closeClients(clients);
    for (const { io, factory } of servers) {
      await io.close();
      await factory.shutdown();
    }
  }
}

function memoryPair(names: [string, string], options: MemoryEventStoreOptions = {}) {
  const bus = new MemoryBus();
  return names.map((nodeId) => new MemoryEventStore({ ...options, bus, nodeId })) as [
    MemoryEventStore,
    MemoryEventStore,
  ];
}

Deno.test("socket.io over the memory bus: broadcasts too large together go one by one; one too large alone is reported once", async () => {
  const errors: string[] = [];
  const onError: AdapterErrorHandler = (error, context) =>
    errors.push(`${context.stage}: ${error.constructor.name}`);
  const events = memoryPair(["big-0", "big-1"], { maxMessageBytes: 2048 });
  await twoServers(events, { onError }, async ([s0, s1], clients) => {
    const local = await connect(s0.url, "local");
    const remote = await connect(s1.url, "remote");
    clients.push(local, remote);
    // One tick, three broadcasts of ~800 bytes: too large as one DISPATCH, each fits alone.
    for (const index of [1, 2, 3]) s0.io.emit("big", index, "x".repeat(800));
    // Too large on its own: reported, kept from the cluster, still emitted to local clients.
    s0.io.emit("huge", "y".repeat(4000));
    s0.io.emit("after", "ok");
    for (const client of clients) await received(client, "after");
    const seen = (client: { received: unknown[][] }) =>
      client.received.map((args) =>
        `${String(args[0])}:${String(args[0] === "big" ? args[1] : "")}`
      );
    assert.deepEqual(seen(remote), ["big:1", "big:2", "big:3", "after:"]);
    assert.deepEqual(seen(local), ["big:1", "big:2", "big:3", "huge:", "after:"]);
    assert.deepEqual(errors, ["publish: RangeError"]);
  });
});

Deno.test("socket.io over the memory bus: remote clients get what local ones get (ArrayBuffer, toJSON, a payload changed after emit, serverSideEmit)", async () => {
  class User {
    name = "ada";
    password = "secret";
    toJSON() {
      return { name: this.name };
    }
  }
  for (const coalesce of [true, false]) {
    await twoServers(memoryPair(["wire-0", "wire-1"]), { coalesce }, async ([s0, s1], clients) => {
      const local = await connect(s0.url, "local");
      const remote = await connect(s1.url, "remote");
      clients.push(local, remote);
      s0.io.emit("binary", new Uint8Array([1, 2]).buffer, new User(), new URL("https://x.test/p"));
      // One payload object, changed after each emit of the same tick.
      const payload = { id: 0 };
      for (const id of [1, 2, 3]) {
        payload.id = id;
        s0.io.emit("update", payload);
      }
      s0.io.emit("after");
      const sideArgs = new Promise<unknown[]>((resolve) =>
        s1.io.on("side", (...args: unknown[]) => resolve(args))
      );
      s0.io.serverSideEmit("side", new Uint8Array([3]).buffer, new User());
      for (const client of clients) await received(client, "after");
      const seen = (client: { received: unknown[][] }) =>
        JSON.stringify(
          client.received,
          (_key, value) => value?.type === "Buffer" ? `bytes:${value.data}` : value,
        );
      assert.equal(
        seen(local),
        '[["binary","bytes:1,2",{"name":"ada"},"https://x.test/p"],' +
          '["update",{"id":1}],["update",{"id":2}],["update",{"id":3}],["after"]]',
      );
      assert.equal(seen(remote), seen(local), `coalesce: ${coalesce}`);
      const [bytes, user] = await sideArgs;
      assert.deepEqual([...(bytes as Uint8Array)], [3]);
      assert.deepEqual(user, { name: "ada" });
    });
  }
});

/** An event store whose first `failures` subscribes of DISPATCH fail (a broker not up yet). */
class LateEventStore extends MemoryEventStore {
  failures = 1;
  override subscribe<T extends EventTypeName>(
    type: T,
    listener: EventListener<T>,
    options?: SubscribeOptions,
  ): Promise<void> {
    if (type === "DISPATCH" && this.failures-- > 0) {
      return Promise.reject(new Error("broker not reachable yet"));
    }
    return super.subscribe(type, listener, options);
  }
}

Deno.test("socket.io over the memory bus: a server whose cluster subscriptions fail at start retries them and joins the cluster", async () => {
  const errors: string[] = [];
  const onError: AdapterErrorHandler = (error, context) =>
    errors.push(`${context.stage}: ${error.message}`);
  const bus = new MemoryBus();
  const events = [
    new MemoryEventStore({ bus, nodeId: "steady" }),
    new LateEventStore({ bus, nodeId: "late" }),
  ] as const;
  await twoServers(events, { onError }, async ([steady, late], clients) => {
    const client = await connect(late.url, "on-late");
    clients.push(client);
    steady.io.emit("hello", "cluster");
    assert.equal((await received(client, "hello"))[1], "cluster");
    assert.deepStrictEqual(errors, [
      "receive: the cluster subscriptions failed; retrying in 500 ms: broker not reachable yet",
    ]);
  });
});

Deno.test("socket.io over the memory bus: closing a server stops the retries of its cluster subscriptions", async () => {
  const events = new LateEventStore({ nodeId: "never" });
  events.failures = Infinity;
  const factory = new MemoryStoreFactory(events);
  const errors: string[] = [];
  const io = new Server(createServer(), {
    adapter: createAdapter(factory, {
      ...HEARTBEAT,
      onError: (error) => errors.push(error.message),
    }),
  });
  try {
    await waitFor("a failed attempt", () => errors.length > 0 || undefined);
  } finally {
    // A retry timer left behind would fail this test (Deno's sanitizers).
    await io.close();
    await factory.shutdown();
  }
  assert.match(errors[0]!, /^the cluster subscriptions failed; retrying in 500 ms: broker not/);
});

Deno.test("socket.io over the memory bus: a closed adapter publishes nothing more", async () => {
  for (const coalesce of [true, false]) {
    const events = memoryPair(["closing", "staying"]);
    await twoServers(events, { coalesce }, async ([closing, staying], clients) => {
      const client = await connect(staying.url, "on-staying");
      clients.push(client);
      await closing.io.of("/").adapter.close();
      await waitFor("1 server", async () => (await staying.io.of("/").adapter.serverCount()) === 1);
      closing.io.emit("late", "from a closed adapter");
      staying.io.emit("marker");
      await received(client, "marker");
      assert.deepStrictEqual(
        client.received.map((args) => args[0]),
        ["marker"],
        `coalesce: ${coalesce}`,
      );
      assert.equal(await staying.io.of("/").adapter.serverCount(), 1, "not counted again");
    });
  }
});
