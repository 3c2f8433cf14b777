/**
 * socket.io clusters over NATS core and JetStream, three servers in separate processes.
 */

import { requireService } from "../_services.ts";
import { NATS_PORT, NATS_WS_PORT } from "../../scripts/services/nats.ts";
import { backendTests } from "./_backend_tests.ts";
import { removeNodeBundle } from "./_cluster.ts";

const nats = await requireService("nats");
const url = `nats://${nats.endpoint.host}:${NATS_PORT}`;

backendTests({
  label: "NATS JetStream",
  services: nats,
  reliable: true,
  env: (prefix) => ({
    SOCKETIO4TS_NATS_URL: url,
    SOCKETIO4TS_NATS_EVENTS: "jetstream",
    SOCKETIO4TS_PREFIX: prefix,
  }),
  cleanup: async (prefix) => {
    const { connect } = await import("@nats-io/transport-node");
    const { jetstreamManager } = await import("@nats-io/jetstream");
    const nc = await connect({ servers: url });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(prefix.replaceAll(".", "_")).catch(() => false);
    } finally {
      await nc.close();
    }
  },
});

backendTests({
  label: "NATS core",
  services: nats,
  reliable: false,
  env: (prefix) => ({
    SOCKETIO4TS_NATS_URL: url,
    SOCKETIO4TS_NATS_EVENTS: "core",
    SOCKETIO4TS_PREFIX: prefix,
  }),
});

backendTests({
  label: "NATS core over WebSocket",
  services: nats,
  reliable: false,
  env: (prefix) => ({
    SOCKETIO4TS_NATS_URL: `ws://${nats.endpoint.host}:${NATS_WS_PORT}`,
    SOCKETIO4TS_NATS_EVENTS: "core",
    SOCKETIO4TS_PREFIX: prefix,
  }),
});

Deno.test("socket.io over NATS: remove the Node bundle", removeNodeBundle);
