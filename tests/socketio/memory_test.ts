/**
 * The socket.io cluster on the memory bus: three servers in this process, real clients.
 */

import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { ClusterAdapterWithHeartbeat } from "socket.io-adapter";
import { MemoryBus, MemoryEventStore, MemoryStoreFactory } from "../../mod.ts";
import { createAdapter, StoreFactoryAdapter } from "../../src/socketio/mod.ts";
import { setupApp } from "./_app.ts";
import {
  closeClients,
  clusterSteps,
  connect,
  received,
  recoverySteps,
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
