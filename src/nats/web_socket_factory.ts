/**
 * {@linkcode webSocketFactory}: lets `wsconnect` open its WebSocket with another implementation
 * than the runtime's global one — on Deno, the `ws` package's, which turns Nagle's algorithm off.
 *
 * Deno's global `WebSocket` leaves `TCP_NODELAY` off and offers no way to set it. A connection that
 * the server writes to while it publishes (every cluster node's: it receives the other nodes'
 * events and its own, echoed) then waits for the server's delayed ACK, about 40 ms, before its
 * next write goes out. On loopback at 10,000 msg/s such a node delivers with p50 24 ms and p99
 * 47 ms over Deno's `WebSocket`, raw nats.js included, against p99 2.7–2.8 ms through the `ws`
 * package (`scripts/bench/nats.ts`, the `, node` rows).
 *
 * @module
 */

/** A WebSocket class with the WHATWG constructor, e.g. `WebSocket` of the `ws` package. */
export type WebSocketClass = new (url: string) => unknown;

/** What the `wsFactory` option of `wsconnect` takes: opens the socket of one connection. */
export type WebSocketOpener = (url: string) => Promise<{ socket: WebSocket; encrypted: boolean }>;

/**
 * A `wsFactory` for `wsconnect` (`@nats-io/nats-core`) that opens each connection with
 * `WebSocketClass`. nats.js sets `binaryType` and its handlers on the socket itself.
 *
 * @example
 * ```ts ignore
 * import { wsconnect } from "@nats-io/nats-core";
 * import WebSocket from "ws";
 * import { checkedConnection, webSocketFactory } from "@socketio4ts/stores/nats";
 *
 * // On Deno: the `ws` package's client sets TCP_NODELAY; the global WebSocket does not.
 * const nc = await checkedConnection(
 *   wsconnect({ servers: "ws://127.0.0.1:14280", wsFactory: webSocketFactory(WebSocket) }),
 * );
 * await nc.close();
 * ```
 */
export function webSocketFactory(WebSocketClass: WebSocketClass): WebSocketOpener {
  if (typeof WebSocketClass !== "function") {
    throw new TypeError(
      `webSocketFactory expects a WebSocket class (e.g. the ws package's default export), received ${typeof WebSocketClass}`,
    );
  }
  return (url) =>
    Promise.resolve({
      socket: new WebSocketClass(url) as WebSocket,
      encrypted: url.startsWith("wss://"),
    });
}
