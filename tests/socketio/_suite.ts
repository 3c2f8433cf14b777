/**
 * The cluster operations every event backend is tested with: three socket.io servers (in one
 * process on the memory bus, or in separate Deno and Node processes on a real backend), real
 * `socket.io-client` clients, one step per operation.
 */

import assert from "node:assert/strict";
import { io as connectClient, type Socket as ClientSocket } from "socket.io-client";
import type { Control } from "./_app.ts";

/** One server of the cluster under test. */
export interface TestNode {
  /** Name the server's application reports (`socket.data.node`). */
  readonly name: string;
  /** Base URL of the server. */
  readonly url: string;
  /** Drives the server. */
  readonly control: Control;
  /** Makes the node vanish without a goodbye (process killed, or event store cut). */
  readonly kill: () => Promise<void>;
}

/** A connected client and what it received. */
export interface TestClient {
  readonly socket: ClientSocket;
  readonly name: string;
  readonly received: unknown[][];
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined = undefined;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** Connects a real socket.io client and records every event it receives. */
export function connect(
  url: string,
  name: string,
  options: Record<string, unknown> = {},
): Promise<TestClient> {
  const socket = connectClient(url, {
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    auth: { name },
    ...options,
  });
  const client: TestClient = { socket, name, received: [] };
  socket.onAny((...args: unknown[]) => client.received.push(args));
  socket.on("ask", (_text: string, ack: (value: string) => void) => ack(name));
  socket.on("ask-some", (_text: string, ack: (value: string) => void) => {
    if (name !== "c2") ack(name);
  });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(client));
    socket.once("connect_error", (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Events a client received, by name, first argument only. */
function namesOf(client: TestClient): string[] {
  return client.received.map((args) => `${String(args[0])}:${String(args[1])}`);
}

/** Waits until `client` received `event`; returns the arguments. */
export function received(
  client: TestClient,
  event: string,
  timeoutMs = 10_000,
): Promise<unknown[]> {
  return waitFor(
    `${client.name} to receive ${event}`,
    () => client.received.find((args) => args[0] === event),
    timeoutMs,
  );
}

/**
 * Sends a marker from `node` to everybody and waits for every client to get it; since the
 * marker travels on the same channel after what `node` sent before, a client that has the
 * marker has everything before it too.
 */
async function settle(node: TestNode, clients: TestClient[], marker: string): Promise<void> {
  await node.control("emit", { event: "marker", args: [marker] });
  for (const client of clients) {
    await waitFor(
      `${client.name} to receive marker ${marker}`,
      () => client.received.some((args) => args[0] === "marker" && args[1] === marker),
    );
  }
}

function clear(clients: TestClient[]): void {
  for (const client of clients) client.received.length = 0;
}

/** Closes clients (idempotent). */
export function closeClients(clients: TestClient[]): void {
  for (const client of clients) client.socket.close();
}

/** Options of {@linkcode clusterSteps}. */
export interface ClusterStepsOptions {
  /** Heartbeat timeout of the servers (ms), bounding how long a dead node is waited for. */
  readonly heartbeatTimeout: number;
}

/** Runs every cluster operation as a step on three nodes; kills the third node at the end. */
export async function clusterSteps(
  t: Deno.TestContext,
  nodes: readonly TestNode[],
  options: ClusterStepsOptions,
): Promise<void> {
  assert.equal(nodes.length, 3);
  const [n0, n1, n2] = nodes as [TestNode, TestNode, TestNode];
  const clients: TestClient[] = [];
  try {
    await t.step("heartbeats: every node counts three servers", async () => {
      for (const node of nodes) {
        await waitFor(
          `${node.name} to count 3 servers`,
          async () => (await node.control("serverCount")) === 3,
        );
      }
    });
    clients.push(
      await connect(n0.url, "c0"),
      await connect(n1.url, "c1"),
      await connect(n2.url, "c2"),
    );
    const [c0, c1, c2] = clients as [TestClient, TestClient, TestClient];

    await t.step("broadcast reaches the clients of every node", async () => {
      await n0.control("emit", { event: "news", args: ["hello", 42] });
      for (const client of clients) {
        assert.deepEqual((await received(client, "news")).slice(0, 3), ["news", "hello", 42]);
      }
      clear(clients);
    });

    await t.step("broadcast to a room reaches only its members", async () => {
      await new Promise<void>((resolve) => c1.socket.emit("join", "room-x", resolve));
      await n0.control("emit", { event: "rx", rooms: ["room-x"], args: ["for x"] });
      await settle(n0, clients, "m1");
      assert.deepEqual(namesOf(c1), ["rx:for x", "marker:m1"]);
      assert.deepEqual(namesOf(c0), ["marker:m1"]);
      assert.deepEqual(namesOf(c2), ["marker:m1"]);
      clear(clients);
    });

    await t.step("broadcast with except leaves the room out", async () => {
      await n2.control("emit", { event: "ex", except: ["room-x"], args: ["not x"] });
      await settle(n2, clients, "m2");
      assert.deepEqual(namesOf(c0), ["ex:not x", "marker:m2"]);
      assert.deepEqual(namesOf(c1), ["marker:m2"]);
      assert.deepEqual(namesOf(c2), ["ex:not x", "marker:m2"]);
      clear(clients);
    });

    await t.step("broadcasts of one tick keep their order and their targets", async () => {
      await n0.control("emitMany", {
        list: [
          { event: "tick", args: ["a1"] },
          { event: "tick", rooms: ["room-x"], args: ["a2"] },
          { event: "tick", except: ["room-x"], args: ["a3"] },
          { event: "tick", args: ["a4"], bytes: [9, 8, 7] },
          { event: "tick", rooms: ["room-x"], except: ["room-x"], args: ["a5"] },
        ],
      });
      await settle(n0, clients, "m-tick");
      assert.deepEqual(namesOf(c1), ["tick:a1", "tick:a2", "tick:a4", "marker:m-tick"]);
      for (const client of [c0, c2]) {
        assert.deepEqual(namesOf(client), ["tick:a1", "tick:a3", "tick:a4", "marker:m-tick"]);
      }
      const withBytes = c2.received.find((args) => args[1] === "a4")!;
      assert.deepEqual([...new Uint8Array(withBytes[2] as ArrayBuffer)], [9, 8, 7]);
      clear(clients);
    });

    await t.step("local broadcast stays on its node", async () => {
      await n1.control("emit", { event: "loc", local: true, args: ["here"] });
      await settle(n1, clients, "m3");
      assert.deepEqual(namesOf(c1), ["loc:here", "marker:m3"]);
      assert.deepEqual(namesOf(c0), ["marker:m3"]);
      assert.deepEqual(namesOf(c2), ["marker:m3"]);
      clear(clients);
    });

    await t.step("binary payloads arrive byte for byte", async () => {
      const bytes = [0, 1, 2, 127, 128, 255];
      await n2.control("emit", { event: "bin", args: ["blob"], bytes });
      for (const client of [c0, c1]) {
        const args = await received(client, "bin");
        assert.equal(args[1], "blob");
        assert.ok(args[2] instanceof Uint8Array || args[2] instanceof ArrayBuffer, "binary arg");
        assert.deepEqual([...new Uint8Array(args[2] as ArrayBuffer)], bytes);
      }
      clear(clients);
    });

    await t.step("broadcast with acknowledgements collects every client's answer", async () => {
      const result = await n0.control("emitWithAck", {
        event: "ask",
        args: ["?"],
        timeout: 5000,
      }) as {
        responses: string[];
      };
      assert.deepEqual(result.responses?.sort(), ["c0", "c1", "c2"]);
    });

    await t.step(
      "broadcast with acknowledgements to a room with no client resolves at once",
      async () => {
        const result = await n1.control("emitWithAck", {
          event: "ask",
          rooms: ["nobody-here"],
          args: ["?"],
          timeout: 5000,
        }) as { responses: string[]; ms: number };
        assert.deepEqual(result.responses, []);
        assert.ok(result.ms < 4000, `took ${result.ms} ms`);
      },
    );

    await t.step(
      "broadcast with acknowledgements times out when a client stays silent",
      async () => {
        const result = await n0.control("emitWithAck", {
          event: "ask-some",
          args: ["?"],
          timeout: 800,
        }) as { error?: string; ms: number };
        assert.match(String(result.error), /timed out|timeout/i);
        assert.ok(result.ms >= 700, `took ${result.ms} ms`);
      },
    );

    await t.step("fetchSockets returns the sockets of every node with their data", async () => {
      const result = await n0.control("fetchSockets") as {
        sockets: { id: string; rooms: string[]; data: { name: string; node: string } }[];
      };
      const byName = Object.fromEntries(result.sockets.map((s) => [s.data.name, s]));
      assert.deepEqual(Object.keys(byName).sort(), ["c0", "c1", "c2"]);
      assert.equal(byName.c1!.id, c1.socket.id);
      assert.deepEqual(byName.c1!.rooms, [c1.socket.id!, "room-x"].sort());
      assert.equal(byName.c2!.data.node, n2.name);
      const inRoom = await n2.control("fetchSockets", { rooms: ["room-x"] }) as {
        sockets: { id: string }[];
      };
      assert.deepEqual(inRoom.sockets.map((s) => s.id), [c1.socket.id]);
    });

    await t.step("socketsJoin adds remote sockets to a room", async () => {
      await n0.control("socketsJoin", { rooms: [c2.socket.id!], join: ["room-y", "room-z"] });
      await waitFor("c2 in room-y", async () => {
        const r = await n1.control("fetchSockets", { rooms: ["room-y"] }) as {
          sockets: { id: string }[];
        };
        return r.sockets.length === 1 && r.sockets[0]!.id === c2.socket.id;
      });
      await n1.control("socketsJoin", { join: ["everyone"] });
      await waitFor("all in everyone", async () => {
        const r = await n2.control("fetchSockets", { rooms: ["everyone"] }) as {
          sockets: unknown[];
        };
        return r.sockets.length === 3;
      });
      await n1.control("emit", { event: "ry", rooms: ["room-z"], args: ["for y"] });
      assert.equal((await received(c2, "ry"))[1], "for y");
      clear(clients);
    });

    await t.step("socketsLeave removes remote sockets from a room", async () => {
      await n1.control("socketsLeave", { rooms: ["room-y"], leave: ["room-y"] });
      await n0.control("socketsLeave", { leave: ["everyone"] });
      await waitFor("room-y and everyone empty", async () => {
        const y = await n0.control("fetchSockets", { rooms: ["room-y"] }) as { sockets: unknown[] };
        const e = await n2.control("fetchSockets", { rooms: ["everyone"] }) as {
          sockets: unknown[];
        };
        return y.sockets.length === 0 && e.sockets.length === 0;
      });
    });

    await t.step("serverSideEmit reaches every other server", async () => {
      await n0.control("serverSideEmit", { event: "ping", args: ["p1", { deep: [1, 2] }] });
      for (const node of [n1, n2]) {
        const events = await waitFor(`${node.name} to get ping`, async () => {
          const list = await node.control("serverEvents") as unknown[][];
          return list.length > 0 ? list : undefined;
        });
        assert.deepEqual(events, [["ping", "p1", { deep: [1, 2] }]]);
      }
      assert.deepEqual(await n0.control("serverEvents"), []);
    });

    await t.step(
      "serverSideEmit with acknowledgement collects every other server's answer",
      async () => {
        const result = await n0.control("serverSideEmitWithAck", {
          event: "ping-ack",
          args: ["p2"],
        }) as {
          responses: string[];
        };
        assert.deepEqual(result.responses, [`${n1.name}:p2`, `${n2.name}:p2`].sort());
        await n1.control("serverEvents");
        await n2.control("serverEvents");
      },
    );

    await t.step("each socket has a session store, destroyed when it disconnects", async () => {
      const ok = await c1.socket.emitWithAck("store:set", "color", "teal");
      assert.equal(ok, true);
      assert.equal(await c1.socket.emitWithAck("store:get", "color"), "teal");
      assert.equal(await n1.control("storeGet", { sid: c1.socket.id, key: "color" }), "teal");
    });

    await t.step("disconnectSockets disconnects a client of another node", async () => {
      const sid = c1.socket.id!;
      const reason = new Promise<string>((resolve) => c1.socket.once("disconnect", resolve));
      await n2.control("disconnectSockets", { rooms: [sid], close: true });
      assert.equal(await reason, "io server disconnect");
      await waitFor(
        "c1's store destroyed",
        async () => (await n1.control("storeGet", { sid, key: "color" })) === null,
      );
      const left = await n0.control("fetchSockets") as { sockets: { data: { name: string } }[] };
      assert.deepEqual(left.sockets.map((s) => s.data.name).sort(), ["c0", "c2"]);
    });

    await t.step("a node that dies is dropped after the heartbeat timeout", async () => {
      await n2.kill();
      const result = await n0.control("fetchSockets", { timeout: 60_000 }) as {
        sockets: { data: { name: string } }[];
        ms: number;
      };
      assert.deepEqual(result.sockets.map((s) => s.data.name), ["c0"]);
      assert.ok(
        result.ms < options.heartbeatTimeout + 3000,
        `fetchSockets took ${result.ms} ms with heartbeatTimeout ${options.heartbeatTimeout}`,
      );
      await waitFor("n0 to count 2 servers", async () => (await n0.control("serverCount")) === 2);
      await waitFor("n1 to count 2 servers", async () => (await n1.control("serverCount")) === 2);
    });
  } finally {
    closeClients(clients);
  }
}

/** Connection state recovery across nodes: a client moves from `from` to `to` and gets what it missed. */
export async function recoverySteps(
  t: Deno.TestContext,
  from: TestNode,
  to: TestNode,
  sender: TestNode,
  options: { readonly sharedStorage?: boolean } = {},
): Promise<void> {
  const clients: TestClient[] = [];
  try {
    await waitFor("3 servers", async () => (await sender.control("serverCount")) === 3);
    const client = await connect(from.url, "roamer", {
      reconnection: true,
      reconnectionDelay: 600,
      reconnectionDelayMax: 600,
      randomizationFactor: 0,
    });
    const other = await connect(sender.url, "stayer");
    clients.push(client, other);
    await t.step(
      "a client that reconnects to another node gets the packets it missed",
      async () => {
        await new Promise<void>((resolve) => client.socket.emit("join", "recovery-room", resolve));
        assert.equal(await client.socket.emitWithAck("store:set", "mood", "curious"), true);
        const oldId = client.socket.id;
        // Two broadcasts of one tick: the last offset the client holds is a batch offset.
        await sender.control("emitMany", {
          list: [{ event: "before", args: ["a"] }, { event: "before", args: ["b"] }],
        });
        await waitFor(
          "both before packets",
          () => client.received.filter((args) => args[0] === "before").length === 2 || undefined,
        );
        // Reconnect to the other node: the manager opens its next connection on this URI.
        (client.socket.io as unknown as { uri: string }).uri = to.url;
        const disconnected = new Promise((resolve) => client.socket.once("disconnect", resolve));
        client.socket.io.engine.close();
        await disconnected;
        clear([client]);
        await sender.control("emit", { event: "missed", args: [1] });
        await sender.control("emitMany", {
          list: [
            { event: "missed", rooms: ["recovery-room"], args: [2] },
            { event: "skipped", rooms: ["elsewhere"], args: [3] },
            { event: "missed", args: [4] },
          ],
        });
        await sender.control("emit", { event: "missed", args: [5] });
        await new Promise<void>((resolve) => client.socket.once("connect", () => resolve()));
        assert.equal(client.socket.recovered, true, "socket.recovered");
        assert.equal(client.socket.id, oldId);
        const events = await waitFor("the missed packets", () => {
          const missed = client.received.filter((args) => args[0] === "missed");
          return missed.length >= 4 ? client.received : undefined;
        });
        assert.deepEqual(events.map((args) => `${args[0]}:${args[1]}`), [
          "missed:1",
          "missed:2",
          "missed:4",
          "missed:5",
        ]);
        const info = await client.socket.emitWithAck("whoami") as { node: string; rooms: string[] };
        assert.equal(info.node, to.name);
        assert.ok(info.rooms.includes("recovery-room"));
        assert.deepEqual(await to.control("restored"), [oldId]);
        if (options.sharedStorage) {
          // same socket id, shared storage: the session store survived the move
          assert.equal(await client.socket.emitWithAck("store:get", "mood"), "curious");
        }
      },
    );
  } finally {
    closeClients(clients);
  }
}
