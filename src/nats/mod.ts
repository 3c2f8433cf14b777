/**
 * NATS event stores for `@socketio4ts/stores`:
 *
 * - {@linkcode NatsEventStore} — NATS core publish/subscribe, at-most-once, lowest latency.
 * - {@linkcode NatsJetStreamEventStore} — a JetStream stream per prefix, at-least-once, with
 *   offsets and replay.
 *
 * Both take a `NatsConnection` you open yourself, over WebSocket with `wsconnect` from
 * `@nats-io/nats-core` (the maintained successor of the `nats.ws` package; works wherever a
 * global `WebSocket` exists, edge runtimes included) or over TCP with `connect` from
 * `@nats-io/transport-node`. This module imports no `node:` module; the TCP transport does, and
 * is imported only by your code when you choose it. Stores never close your connection.
 *
 * Use one transport per process: nats.js 3.4 keeps a single transport factory per process, set by
 * the last `wsconnect` or `connect` call and used for every (re)connect, so a WebSocket connection
 * in a process that later opened a TCP one cannot reconnect (and connects over different
 * transports must not be in flight at the same time). Nodes on different transports in different
 * processes form one cluster without any restriction.
 *
 * On Deno, whose global `WebSocket` keeps Nagle's algorithm on, a connection that the server
 * writes to while it publishes, as every node's is, waits for the server's delayed ACK (about
 * 40 ms) before its next write: p99 47 ms at 10,000 msg/s on loopback, raw nats.js alike. Open
 * the connection with the `ws` package instead, through {@linkcode webSocketFactory}
 * (`wsconnect({ servers, wsFactory: webSocketFactory(WebSocket) })`): p99 about 3 ms there. Node's,
 * Bun's and browsers' `WebSocket` and TCP connections are not affected.
 *
 * @example
 * ```ts ignore
 * import { wsconnect } from "@nats-io/nats-core";
 * import { MemoryStoreFactory } from "@socketio4ts/stores";
 * import { checkedConnection, NatsEventStore } from "@socketio4ts/stores/nats";
 *
 * const nc = await checkedConnection(wsconnect({ servers: "ws://127.0.0.1:14280" }));
 * await using factory = new MemoryStoreFactory(new NatsEventStore(nc, { prefix: "chat-app" }));
 * await factory.init({
 *   connect: (m) => console.log("connected elsewhere", m.sessionId),
 *   disconnect: (m) => console.log("disconnected elsewhere", m.sessionId),
 *   join: (m) => console.log("joined", m),
 *   leave: (m) => console.log("left", m),
 *   dispatch: (m) => console.log("dispatch", m.packet),
 * });
 * await factory.eventStore().publish("CONNECT", { sessionId: "s1" });
 * await factory.shutdown();
 * await nc.close();
 * ```
 *
 * @module
 */

export * from "./connection.ts";
export * from "./connection_type.ts";
export * from "./nats_event_store.ts";
export * from "./nats_jetstream_event_store.ts";
export * from "./web_socket_factory.ts";
