/**
 * The Hazelcast backends run every conformance suite against the harness's shared member
 * (127.0.0.1:15701, cluster `socketio4ts`): storage, shared maps, the reliable-topic event store in
 * its reliable and fire-and-forget configurations, and the pairings.
 */

import { PublishMode, type StoreFactory } from "../../mod.ts";
import {
  HazelcastReliableTopicEventStore,
  type HazelcastReliableTopicEventStoreOptions,
  HazelcastStoreFactory,
} from "../../src/hazelcast/mod.ts";
import { eventStoreSuite } from "../conformance/event_store_suite.ts";
import { pairingSuite } from "../conformance/pairing_suite.ts";
import { sharedMapSuite } from "../conformance/shared_map_suite.ts";
import { storeSuite } from "../conformance/store_suite.ts";
import { ignoreUnless, requireService, serviceTest } from "../_services.ts";
import {
  clientConfig,
  dropPrefixes,
  objectsNamed,
  prefix,
  rawClient,
  record,
  recordedPrefixes,
} from "./_hazelcast.ts";

const hazelcast = await requireService("hazelcast");
const ignore = ignoreUnless(hazelcast);

function factory(): HazelcastStoreFactory {
  return new HazelcastStoreFactory({ clientConfig: clientConfig(), prefix: record(prefix("st")) });
}

/** Entries the member holds for a session: 0 when its IMap is not even listed any more. */
async function sessionEntries(made: StoreFactory, sessionId: string): Promise<number> {
  const name = (made as HazelcastStoreFactory).sessionMapName(sessionId);
  const client = await rawClient();
  try {
    const listed = (await objectsNamed(client, name)).some(([, object]) => object === name);
    if (!listed) return 0;
    return await (await client.getMap(name)).size();
  } finally {
    await client.shutdown();
  }
}

function events(
  options: HazelcastReliableTopicEventStoreOptions,
): HazelcastReliableTopicEventStore {
  if (options.prefix) record(options.prefix);
  return new HazelcastReliableTopicEventStore({ ...options, clientConfig: clientConfig() });
}

storeSuite({
  name: "HazelcastStore",
  ignore,
  createFactory: factory,
  backendEntryCount: sessionEntries,
});

sharedMapSuite({
  name: "HazelcastStoreFactory maps",
  ignore,
  createFactory: factory,
  createPeerFactory: (first) =>
    new HazelcastStoreFactory({
      clientConfig: clientConfig(),
      prefix: (first as HazelcastStoreFactory).prefix,
    }),
});

eventStoreSuite({
  name: "HazelcastReliableTopicEventStore",
  ignore,
  createEventStore: (options) => events(options),
});

eventStoreSuite({
  name: "HazelcastReliableTopicEventStore (fire-and-forget)",
  ignore,
  createEventStore: (options) => events({ ...options, publishMode: PublishMode.UNRELIABLE }),
});

pairingSuite({
  name: "Hazelcast storage + Hazelcast reliable-topic events",
  ignore,
  createFactory: (eventStore) =>
    new HazelcastStoreFactory({
      clientConfig: clientConfig(),
      prefix: record(prefix("pair")),
      eventStore,
    }),
  createEventStore: (options) => events(options),
});

serviceTest(hazelcast, "clean-up: destroy the maps and topics this file created", async () => {
  await dropPrefixes(recordedPrefixes);
  const client = await rawClient();
  try {
    for (const p of recordedPrefixes) {
      const left = await objectsNamed(client, p);
      if (left.length > 0) throw new Error(`left behind: ${JSON.stringify(left.slice(0, 5))}`);
    }
  } finally {
    await client.shutdown();
  }
});
