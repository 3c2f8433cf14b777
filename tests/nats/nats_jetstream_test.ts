/**
 * NatsJetStreamEventStore runs the event-store conformance suite over TCP, over WebSocket and with
 * both transports mixed; the streams it creates are deleted at the end.
 */

import assert from "node:assert/strict";
import { eventStoreSuite } from "../conformance/event_store_suite.ts";
import { ignoreUnless, requireService } from "../_services.ts";
import { alternating, createdStreams, deleteStreams, jetStreamNode } from "./_nats.ts";

const nats = await requireService("nats");
const ignore = ignoreUnless(nats);

eventStoreSuite({
  name: "NatsJetStreamEventStore (TCP)",
  ignore,
  createEventStore: (options) => jetStreamNode("tcp", options),
});

eventStoreSuite({
  name: "NatsJetStreamEventStore (WebSocket)",
  ignore,
  createEventStore: (options) => jetStreamNode("ws", options),
});

const mixed = alternating();
eventStoreSuite({
  name: "NatsJetStreamEventStore (WebSocket and TCP nodes mixed)",
  ignore,
  createEventStore: (options) => jetStreamNode(mixed(options), options),
});

Deno.test({
  name: "NatsJetStreamEventStore tests: delete the streams they created",
  ignore,
  async fn() {
    const { deleted, remaining } = await deleteStreams();
    assert.ok(deleted > 0, "the suites created streams");
    assert.equal(remaining, 0);
    createdStreams.clear();
  },
});
