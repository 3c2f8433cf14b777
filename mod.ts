/**
 * Session storage and cluster event distribution for Socket.IO servers, as two independent,
 * swappable layers: a {@linkcode StoreFactory} creates per-session {@linkcode Store}s and named
 * {@linkcode SharedMap}s, and an {@linkcode EventStore} carries cluster events (`CONNECT`,
 * `DISCONNECT`, `JOIN`, `BULK_JOIN`, `LEAVE`, `BULK_LEAVE`, `DISPATCH`) between nodes. Any storage
 * pairs with any event backend. This entry point holds the contracts and the memory backends and
 * has no runtime dependency but a MessagePack codec; backends live in `./redis`, `./nats`,
 * `./kafka` and `./hazelcast`.
 *
 * @example Two nodes of one cluster in one process
 * ```ts
 * import { MemoryBus, MemoryEventStore, MemoryStoreFactory } from "@socketio4ts/stores";
 *
 * const bus = new MemoryBus();
 * await using nodeA = new MemoryStoreFactory(new MemoryEventStore({ bus, nodeId: "a" }));
 * await using nodeB = new MemoryStoreFactory(new MemoryEventStore({ bus, nodeId: "b" }));
 *
 * let report: (line: string) => void = () => {};
 * const joined = new Promise<string>((resolve) => report = resolve);
 * await nodeB.init({
 *   connect() {},
 *   disconnect() {},
 *   join: (message) => report(`${message.sessionId} joined on ${message.nodeId}`),
 *   leave() {},
 *   dispatch() {},
 * });
 *
 * const session = nodeA.createStore("session-1");
 * await session.set("name", "Ada");
 * await nodeA.eventStore().publish("JOIN", { sessionId: "session-1", namespace: "/", room: "lobby" });
 * console.log(await joined); // session-1 joined on a
 * ```
 *
 * @module
 */

export * from "./src/core/mod.ts";
export * from "./src/memory/mod.ts";
