/**
 * Socket.IO clustering over any event backend: {@linkcode createAdapter} turns several npm
 * `socket.io` 4.8 servers (on Deno or Node) into one cluster through a {@linkcode StoreFactory}'s
 * event store — memory bus, Redis Pub/Sub or Streams, NATS core or JetStream, Kafka, Hazelcast —
 * and {@linkcode sessionStore} gives each socket its session {@linkcode Store}.
 *
 * socket.io-adapter must be the server's own copy (a peer dependency): the adapter extends its
 * `ClusterAdapterWithHeartbeat`. For order across message types (a `socketsJoin` followed by a
 * broadcast to that room), use an event store in `SINGLE_CHANNEL` mode.
 *
 * @example Two servers of one cluster in one process
 * ```ts
 * import { createServer } from "node:http";
 * import { Server } from "socket.io";
 * import { MemoryBus, MemoryEventStore, MemoryStoreFactory } from "@socketio4ts/stores";
 * import { createAdapter } from "@socketio4ts/stores/socketio";
 *
 * const bus = new MemoryBus();
 * const factoryA = new MemoryStoreFactory(new MemoryEventStore({ bus, mode: "SINGLE_CHANNEL" }));
 * const factoryB = new MemoryStoreFactory(new MemoryEventStore({ bus, mode: "SINGLE_CHANNEL" }));
 * const a = new Server(createServer(), { adapter: createAdapter(factoryA) });
 * const b = new Server(createServer(), { adapter: createAdapter(factoryB) });
 * b.on("hello", (text: string) => console.log("b got", text));
 * await new Promise((resolve) => setTimeout(resolve, 100)); // heartbeats introduce the nodes
 * a.serverSideEmit("hello", "from a");
 * await new Promise((resolve) => setTimeout(resolve, 100));
 * await Promise.all([a.close(), b.close()]);
 * await Promise.all([factoryA.shutdown(), factoryB.shutdown()]);
 * ```
 *
 * @module
 */

export * from "./adapter.ts";
export * from "./cluster_node.ts";
export * from "./messages.ts";
export * from "./session_store.ts";
// Types the public API refers to, so that the documentation of this entry point is complete.
export type * from "../core/mod.ts";
