/**
 * socket.io clusters over Hazelcast (storage in IMaps, events on the reliable topic), three
 * servers in separate processes.
 */

import { requireService } from "../_services.ts";
import { HAZELCAST_CLUSTER_NAME } from "../../scripts/services/hazelcast.ts";
import { dropPrefixes } from "../hazelcast/_hazelcast.ts";
import { backendTests } from "./_backend_tests.ts";
import { removeNodeBundle } from "./_cluster.ts";

const hazelcast = await requireService("hazelcast");

backendTests({
  label: "Hazelcast Reliable Topic",
  services: hazelcast,
  reliable: true,
  sharedStorage: true,
  env: (prefix) => ({
    SOCKETIO4TS_HAZELCAST_ADDRESS: `${hazelcast.endpoint.host}:${hazelcast.endpoint.port}`,
    SOCKETIO4TS_HAZELCAST_CLUSTER: HAZELCAST_CLUSTER_NAME,
    SOCKETIO4TS_PREFIX: prefix,
  }),
  cleanup: async (prefix) => void await dropPrefixes([prefix]),
});

backendTests({
  label: "Hazelcast Pub/Sub (fire-and-forget reliable topic)",
  services: hazelcast,
  reliable: false,
  sharedStorage: true,
  env: (prefix) => ({
    SOCKETIO4TS_HAZELCAST_ADDRESS: `${hazelcast.endpoint.host}:${hazelcast.endpoint.port}`,
    SOCKETIO4TS_HAZELCAST_CLUSTER: HAZELCAST_CLUSTER_NAME,
    SOCKETIO4TS_HAZELCAST_EVENTS: "pubsub",
    SOCKETIO4TS_PREFIX: prefix,
  }),
  cleanup: async (prefix) => void await dropPrefixes([prefix]),
});

Deno.test("socket.io over Hazelcast: remove the Node bundle", removeNodeBundle);
