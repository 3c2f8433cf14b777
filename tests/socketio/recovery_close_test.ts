/**
 * Connection state recovery across a server shutdown (a rolling restart): socket.io closes its
 * sockets recoverably, and a client that recovers on another node keeps its session store
 * (shared Redis storage); one that never comes back has its store destroyed by a remaining node
 * once `maxDisconnectionDuration` has passed. Two servers in this process, memory events.
 */

import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient } from "redis";
import { Server } from "socket.io";
import { io as connectClient, type Socket as ClientSocket } from "socket.io-client";
import { MemoryBus, MemoryEventStore } from "../../mod.ts";
import { RedisStoreFactory } from "../../src/redis/mod.ts";
import { createAdapter, sessionStore } from "../../src/socketio/mod.ts";
import { requireService, serviceTest } from "../_services.ts";
import { randomPrefix } from "../conformance/_helpers.ts";
import { waitFor } from "./_suite.ts";

const redis = await requireService("redis");
const url = `redis://${redis.endpoint.host}:${redis.endpoint.port}`;
const MAX_DISCONNECTION_MS = 1_500;
const connectRedis = () => createClient({ url }).connect();
type RedisClient = Awaited<ReturnType<typeof connectRedis>>;

interface Node {
  readonly io: Server;
  readonly factory: RedisStoreFactory;
  readonly url: string;
}

async function startNode(
  name: string,
  bus: MemoryBus,
  prefix: string,
  client: RedisClient,
): Promise<Node> {
  const factory = new RedisStoreFactory({
    client,
    prefix,
    eventStore: new MemoryEventStore({ bus, nodeId: name, mode: "MULTI_CHANNEL" }),
  });
  const http = createServer();
  const io = new Server(http, {
    adapter: createAdapter(factory, { heartbeatInterval: 200, heartbeatTimeout: 1_200 }),
    connectionStateRecovery: { maxDisconnectionDuration: MAX_DISCONNECTION_MS },
  });
  io.on("connection", (socket) => {
    socket.on("set", async (key: string, value: string, ack: (ok: boolean) => void) => {
      await sessionStore(socket).set(key, value);
      ack(true);
    });
    socket.on("get", async (key: string, ack: (answer: unknown) => void) => {
      ack({ node: name, recovered: socket.recovered, value: await sessionStore(socket).get(key) });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return { io, factory, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

async function cluster(
  body: (a: Node, b: Node, redis: RedisClient, prefix: string) => Promise<void>,
): Promise<void> {
  const client = await connectRedis();
  const prefix = randomPrefix("sio-close");
  const bus = new MemoryBus();
  const nodes: Node[] = [];
  try {
    nodes.push(
      await startNode("A", bus, prefix, client),
      await startNode("B", bus, prefix, client),
    );
    for (const { io } of nodes) {
      await waitFor("2 servers", async () => (await io.of("/").adapter.serverCount()) === 2);
    }
    await body(nodes[0]!, nodes[1]!, client, prefix);
  } finally {
    for (const { io, factory } of nodes) {
      await io.close();
      await factory.shutdown();
    }
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await client.del(keys);
    }
    client.destroy();
  }
}

async function connectTo(node: Node): Promise<ClientSocket> {
  const socket = connectClient(node.url, {
    transports: ["websocket"],
    reconnectionDelay: 200,
    reconnectionDelayMax: 200,
    randomizationFactor: 0,
  });
  await new Promise((resolve) => socket.once("connect", () => resolve(undefined)));
  // A broadcast gives the client an offset to recover from.
  const ticked = new Promise((resolve) => socket.once("tick", resolve));
  node.io.emit("tick");
  await ticked;
  return socket;
}

serviceTest(
  redis,
  "socket.io: a client whose server shuts down recovers on another node with its session store",
  () =>
    cluster(async (a, b) => {
      const socket = await connectTo(a);
      try {
        assert.equal(await socket.emitWithAck("set", "mood", "curious"), true);
        const id = socket.id;
        // The manager opens its next connection on this URI.
        (socket.io as unknown as { uri: string }).uri = b.url;
        const reconnected = new Promise((resolve) =>
          socket.once("connect", () => resolve(undefined))
        );
        await a.io.close();
        await reconnected;
        assert.equal(socket.id, id);
        assert.deepStrictEqual(await socket.emitWithAck("get", "mood"), {
          node: "B",
          recovered: true,
          value: "curious",
        });
        // Past maxDisconnectionDuration the recovered store is still there.
        await new Promise((resolve) => setTimeout(resolve, MAX_DISCONNECTION_MS + 300));
        assert.equal(
          (await socket.emitWithAck("get", "mood") as { value: unknown }).value,
          "curious",
        );
      } finally {
        socket.close();
      }
    }),
);

serviceTest(
  redis,
  "socket.io: the store of a client that never comes back after its server shut down is destroyed once its session expires",
  () =>
    cluster(async (a, _b, client, prefix) => {
      const socket = await connectTo(a);
      try {
        assert.equal(await socket.emitWithAck("set", "mood", "curious"), true);
        const key = `${prefix}:session:${socket.id}`;
        assert.equal(await client.exists(key), 1);
        socket.io.reconnection(false);
        await a.io.close();
        // Kept while the session may be recovered, then destroyed by the node that remains.
        assert.equal(await client.exists(key), 1, "kept for a possible recovery");
        await waitFor("the store destroyed", async () =>
          (await client.exists(key)) === 0 || undefined);
      } finally {
        socket.close();
      }
    }),
);
