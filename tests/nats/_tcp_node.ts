/**
 * A cluster node on TCP in a process of its own, for the mixed-transport test: answers every JOIN
 * with a LEAVE of the same room, and shuts down on a DISCONNECT. Prints `ready` once subscribed.
 *
 * Usage: `deno run -A tests/nats/_tcp_node.ts <prefix> <mode>`
 *
 * @module
 */

import { connect } from "@nats-io/transport-node";
import type { EventStoreMode } from "../../mod.ts";
import { NatsEventStore } from "../../src/nats/mod.ts";
import { NATS_TCP } from "./_nats.ts";

const [prefix, mode] = Deno.args as [string, EventStoreMode];
const nc = await connect({ servers: NATS_TCP });
const store = new NatsEventStore(nc, { prefix, mode, nodeId: "tcp-process" });
let stop: () => void = () => {};
const stopped = new Promise<void>((resolve) => stop = resolve);
await store.subscribe("JOIN", async (message) => {
  await store.publish("LEAVE", {
    sessionId: message.sessionId,
    namespace: message.namespace,
    room: message.room,
  });
});
await store.subscribe("DISCONNECT", () => stop());
console.log("ready");
await stopped;
await store.shutdown();
await nc.close();
console.log("bye");
