/**
 * {@linkcode sessionStore}: the per-socket {@linkcode Store} of a server clustered with
 * {@linkcode createAdapter}.
 *
 * @module
 */

import type { Store } from "../core/mod.ts";
import { StoreFactoryAdapter } from "./adapter.ts";

/** What {@linkcode sessionStore} needs of a socket.io `Socket`. */
export interface SessionSocket {
  /** Socket id (the session id of its store). */
  readonly id: string;
  /** Whether the socket is connected. */
  readonly connected: boolean;
  /** Its namespace. */
  readonly nsp: { readonly adapter: unknown };
}

/**
 * The session {@linkcode Store} of a connected socket, created by the store factory given to
 * `createAdapter` (keyed by `socket.id`, the same instance while the socket lives) and destroyed
 * through the factory's `onDisconnect` when the socket disconnects.
 *
 * @throws {TypeError} when the socket's namespace does not use `createAdapter`, or the socket is
 * already disconnected.
 *
 * @example
 * ```ts ignore
 * io.on("connection", async (socket) => {
 *   const store = sessionStore(socket);
 *   await store.set("name", socket.handshake.auth.name ?? "anonymous");
 * });
 * ```
 */
export function sessionStore(socket: SessionSocket): Store {
  const adapter: unknown = socket?.nsp?.adapter;
  if (!(adapter instanceof StoreFactoryAdapter)) {
    throw new TypeError(
      "sessionStore(socket): the socket's namespace does not use createAdapter(factory)",
    );
  }
  if (!socket.connected) {
    throw new TypeError(`sessionStore(socket): socket ${socket.id} is already disconnected`);
  }
  return adapter.sessionStore(socket.id);
}
