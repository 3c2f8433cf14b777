/**
 * The connection type the NATS stores take.
 *
 * @module
 */

import type { NatsConnection as ClientConnection } from "@nats-io/nats-core";

/**
 * A nats.js 3.x connection, as returned by `wsconnect` from `@nats-io/nats-core` (WebSocket) or
 * `connect` from `@nats-io/transport-node` (TCP). Opened and closed by you; the stores only
 * publish and subscribe on it.
 */
export type NatsConnection = ClientConnection;
