/**
 * NatsEventStore (NATS core) runs the event-store conformance suite over WebSocket, over TCP, over
 * TCP connections that ask for no echo (a node's own messages never come back), and with nodes on
 * both transports in one cluster.
 */

import { eventStoreSuite } from "../conformance/event_store_suite.ts";
import { ignoreUnless, requireService } from "../_services.ts";
import { alternating, coreNode } from "./_nats.ts";

const nats = await requireService("nats");
const ignore = ignoreUnless(nats);

eventStoreSuite({
  name: "NatsEventStore (WebSocket)",
  ignore,
  createEventStore: (options) => coreNode("ws", options),
});

eventStoreSuite({
  name: "NatsEventStore (TCP)",
  ignore,
  createEventStore: (options) => coreNode("tcp", options),
});

eventStoreSuite({
  name: "NatsEventStore (TCP, noEcho connections)",
  ignore,
  createEventStore: (options) => coreNode("tcp", options, { noEcho: true }),
  ownMessagesComeBack: false,
});

const mixed = alternating();
eventStoreSuite({
  name: "NatsEventStore (WebSocket and TCP nodes mixed)",
  ignore,
  createEventStore: (options) => coreNode(mixed(options), options),
});
