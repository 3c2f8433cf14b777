/**
 * The Redis backends run every conformance suite, for each transport (TCP: node-redis, REST:
 * @upstash/redis on the harness fixture) and each event store.
 */

import type { StoreFactory } from "../../mod.ts";
import { MemoryBus, MemoryEventStore, MemoryStoreFactory } from "../../mod.ts";
import type { RedisStoreFactory } from "../../src/redis/mod.ts";
import { eventStoreSuite } from "../conformance/event_store_suite.ts";
import { pairingSuite } from "../conformance/pairing_suite.ts";
import { sharedMapSuite } from "../conformance/shared_map_suite.ts";
import { storeSuite } from "../conformance/store_suite.ts";
import { ignoreUnless, requireService } from "../_services.ts";
import {
  closeClient,
  factoryOn,
  pubSubStore,
  rawClient,
  streamStoreOn,
  type Transport,
} from "./_redis.ts";

const redis = await requireService("redis");
const upstash = await requireService("upstash");
const needs = (transport: Transport) =>
  ignoreUnless(transport === "tcp" ? redis : [redis, upstash]);
const other = (transport: Transport): Transport => (transport === "tcp" ? "rest" : "tcp");
const TRANSPORTS: readonly Transport[] = ["tcp", "rest"];

async function hashLength(factory: StoreFactory, sessionId: string): Promise<number> {
  const client = await rawClient();
  try {
    const key = (factory as RedisStoreFactory).sessionKey(sessionId);
    return await client.hLen(key);
  } finally {
    closeClient(client);
  }
}

function randomStoragePrefix(): string {
  return `st-${crypto.randomUUID().slice(0, 8)}`;
}

for (const transport of TRANSPORTS) {
  const label = transport.toUpperCase();
  storeSuite({
    name: `RedisStore (${label})`,
    ignore: needs(transport),
    createFactory: () => factoryOn(transport, { prefix: randomStoragePrefix() }),
    backendEntryCount: hashLength,
  });
  sharedMapSuite({
    name: `RedisStoreFactory maps (${label}, peer over ${other(transport).toUpperCase()})`,
    ignore: needs(transport) || needs(other(transport)),
    createFactory: () => factoryOn(transport, { prefix: randomStoragePrefix() }),
    createPeerFactory: (first) =>
      factoryOn(other(transport), { prefix: (first as RedisStoreFactory).prefix }),
  });
  eventStoreSuite({
    name: `RedisStreamEventStore (${label})`,
    ignore: needs(transport),
    createEventStore: (options) => streamStoreOn(transport, options),
  });
}

eventStoreSuite({
  name: "RedisPubSubEventStore (TCP)",
  ignore: needs("tcp"),
  createEventStore: (options) => pubSubStore(options),
});

let alternate = 0;
eventStoreSuite({
  name: "RedisStreamEventStore (TCP and REST nodes mixed)",
  ignore: needs("rest"),
  createEventStore: (options) => streamStoreOn(alternate++ % 2 === 0 ? "tcp" : "rest", options),
});

pairingSuite({
  name: "Redis storage (TCP) + Redis Streams events (TCP)",
  ignore: needs("tcp"),
  createFactory: (events) =>
    factoryOn("tcp", { prefix: randomStoragePrefix(), eventStore: events }),
  createEventStore: (options) => streamStoreOn("tcp", options),
});
pairingSuite({
  name: "Redis storage (REST) + Redis Streams events (REST), the edge setup",
  ignore: needs("rest"),
  createFactory: (events) =>
    factoryOn("rest", { prefix: randomStoragePrefix(), eventStore: events }),
  createEventStore: (options) => streamStoreOn("rest", options),
});
pairingSuite({
  name: "Memory storage + Redis Streams events (REST)",
  ignore: needs("rest"),
  createFactory: (events) => new MemoryStoreFactory(events),
  createEventStore: (options) => streamStoreOn("rest", options),
});
const bus = new MemoryBus();
pairingSuite({
  name: "Redis storage (REST) + memory events",
  ignore: needs("rest"),
  createFactory: (events) =>
    factoryOn("rest", { prefix: randomStoragePrefix(), eventStore: events }),
  createEventStore: (options) => new MemoryEventStore({ ...options, bus }),
});
pairingSuite({
  name: "Redis storage (TCP) + Redis Pub/Sub events (TCP)",
  ignore: needs("tcp"),
  createFactory: (events) =>
    factoryOn("tcp", { prefix: randomStoragePrefix(), eventStore: events }),
  createEventStore: (options) => pubSubStore(options),
});
