/**
 * The embedded default, end to end: memory storage plus memory events, two nodes of one cluster
 * on an in-process bus. Run it with `deno task example`.
 *
 * - node A keeps a session's data in its Store and counts visitors in a SharedMap;
 * - node A publishes JOIN and DISPATCH; node B's ClusterHost receives them;
 * - node A disconnects the session and its store is destroyed.
 */

import {
  type ClusterHost,
  type EventMessage,
  MemoryBus,
  MemoryEventStore,
  MemoryStoreFactory,
} from "../mod.ts";

const bus = new MemoryBus();
await using nodeA = new MemoryStoreFactory(new MemoryEventStore({ bus, nodeId: "node-a" }));
await using nodeB = new MemoryStoreFactory(new MemoryEventStore({ bus, nodeId: "node-b" }));

let dispatched: () => void = () => {};
const seenByB = new Promise<void>((resolve) => dispatched = resolve);
const routed: string[] = [];
const hostB: ClusterHost = {
  connect: (message) => void routed.push(`connect ${message.sessionId}`),
  disconnect: (message) => void routed.push(`disconnect ${message.sessionId}`),
  join: (message: EventMessage<"JOIN" | "BULK_JOIN">) => {
    const rooms = message.type === "JOIN" ? [message.room] : message.rooms;
    routed.push(`join ${message.sessionId} -> ${rooms.join(", ")} (from ${message.nodeId})`);
  },
  leave: (message) => void routed.push(`leave ${message.sessionId}`),
  dispatch: (message) => {
    routed.push(
      `dispatch to room "${message.room}": ${
        JSON.stringify(message.packet)
      } (from ${message.nodeId})`,
    );
    dispatched();
  },
};
await nodeB.init(hostB);

// Storage on node A: a session store and a shared map.
const session = nodeA.createStore("session-42");
await session.set("user", { name: "Ada", avatar: new Uint8Array([137, 80, 78, 71]) });
const visitors = nodeA.createMap<number>("visitors");
await visitors.set("lobby", ((await visitors.get("lobby")) ?? 0) + 1);
console.log("node-a session-42 user:", await session.get("user"));
console.log("node-a visitors:", Object.fromEntries(await visitors.entries()));

// Events from node A to node B.
const events = nodeA.eventStore();
await events.publish("JOIN", { sessionId: "session-42", namespace: "/", room: "lobby" });
await events.publish("DISPATCH", {
  namespace: "/",
  room: "lobby",
  packet: ["chat", "hello from node-a"],
});
await seenByB;
for (const line of routed) console.log("node-b host:", line);

// The session disconnects on node A: its store is destroyed.
await nodeA.onDisconnect("session-42");
console.log(
  "node-a session-42 after disconnect:",
  await nodeA.createStore("session-42").get("user"),
);
