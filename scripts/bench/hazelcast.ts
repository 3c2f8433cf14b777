/**
 * Benchmark of the Hazelcast backends against raw `hazelcast-client` calls on the same member in
 * the same run: session store operations vs raw IMap `set/get/containsKey/delete`, and event
 * throughput / latency of {@linkcode HazelcastReliableTopicEventStore} vs a raw reliable topic
 * (`publish` + `addMessageListener`) carrying the same encoded bytes.
 *
 * ```sh
 * deno run -A scripts/bench/hazelcast.ts [ops=20000] [events=20000] [member=127.0.0.1:15701]
 * ```
 *
 * Store cases interleave raw and ours in slices of about 5,000 operations, at least 20 (alternating
 * which goes first), and report each side's median slice (the mean is printed on stderr) and the
 * CPU time this process spent per operation on each side; the concurrent cases run ten times as
 * many operations as the sequential ones. Topic cases
 * run `BENCH_ROUNDS` times (3 by default), raw and ours alternating, and keep the better run of
 * each. The machine may be shared: compare within one run, not across runs.
 * The ratio is ours / raw: above 1 is better for ops/s and msg/s, below 1 for latency.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import process from "node:process";
import { msgpackCodec, type Store } from "../../mod.ts";
import {
  connectHazelcast,
  type HazelcastClient,
  type HazelcastClientConfig,
  HazelcastReliableTopicEventStore,
  HazelcastStoreFactory,
} from "../../src/hazelcast/mod.ts";
import { HAZELCAST_CLUSTER_NAME } from "../services/hazelcast.ts";
import { median, quantile } from "./_stats.ts";

const OPS = Number(Deno.args[0] ?? 20_000);
const EVENTS = Number(Deno.args[1] ?? 20_000);
const MEMBER = Deno.args[2] ?? "127.0.0.1:15701";
const LATENCY_SAMPLES = 1_000;
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
/** Ops of one slice: short enough that both sides see the same machine load. */
const SLICE_OPS = 5_000;
/** Concurrent cases run this many times `OPS`: they are fast, and noisy when short. */
const CONCURRENT_OPS_FACTOR = 10;
const CONCURRENCY = 64;
const WINDOW = 256;
const PREFIX = `bench-${crypto.randomUUID().slice(0, 8)}`;

const config: HazelcastClientConfig = {
  clusterName: HAZELCAST_CLUSTER_NAME,
  network: { clusterMembers: [MEMBER] },
  connectionStrategy: { connectionRetry: { clusterConnectTimeoutMillis: 10_000 } },
  properties: { "hazelcast.logging.level": "OFF" },
  // The raw listener reads as many items per call as our store does (100; the client's default
  // is 10).
  reliableTopics: { [`${PREFIX}*`]: { readBatchSize: 100 } },
};

interface Row {
  readonly what: string;
  readonly unit: string;
  readonly raw: number;
  readonly ours: number;
  readonly higherIsBetter: boolean;
}

const rows: Row[] = [];

/** Runs `op(i)` for i in [0, count) with `concurrency` in flight; returns ops/s. */
async function rate(
  count: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await op(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

async function compare(
  what: string,
  unit: string,
  higherIsBetter: boolean,
  raw: () => Promise<number>,
  ours: () => Promise<number>,
): Promise<void> {
  // Alternate raw and ours so neither always runs on a warmer member.
  let rawBest = higherIsBetter ? -Infinity : Infinity;
  let oursBest = rawBest;
  for (let round = 0; round < ROUNDS; round++) {
    const r = await raw();
    const o = await ours();
    rawBest = higherIsBetter ? Math.max(rawBest, r) : Math.min(rawBest, r);
    oursBest = higherIsBetter ? Math.max(oursBest, o) : Math.min(oursBest, o);
  }
  rows.push({ what, unit, raw: rawBest, ours: oursBest, higherIsBetter });
  console.error(
    `  ${what}: raw ${rawBest.toFixed(1)} ${unit}, ours ${oursBest.toFixed(1)} ${unit}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Store operations

const rawClient: HazelcastClient = await connectHazelcast(config);
const factory = new HazelcastStoreFactory({ client: rawClient, prefix: PREFIX });
const value = { user: { name: "Ada", rooms: ["lobby", "chat"] }, since: 1_700_000_000 };
const valueText = JSON.stringify(value);
let sessionCounter = 0;

type StoreOp = "set" | "get" | "has" | "del";

/**
 * One store case, raw and ours interleaved in slices (raw slice, ours slice, ...) so
 * that the load of a shared machine falls on both alike; ops/s = ops / summed time of each side.
 */
async function storeCase(
  label: string,
  concurrency: number,
  kind: StoreOp,
  ops: number,
): Promise<void> {
  const map = await rawClient.getMap<string, string>(`${PREFIX}:raw:${sessionCounter++}`);
  const store: Store = factory.createStore(`s${sessionCounter++}`);
  if (kind !== "set") {
    await rate(ops, 64, (i) => map.set(`k${i}`, valueText));
    await rate(ops, 64, (i) => store.set(`k${i}`, value));
  }
  const rawOp = (i: number): Promise<unknown> => {
    switch (kind) {
      case "set":
        return map.set(`k${i}`, JSON.stringify(value));
      case "get":
        return map.get(`k${i}`).then((text) => text === null ? undefined : JSON.parse(text));
      case "has":
        return map.containsKey(`k${i}`);
      case "del":
        return map.delete(`k${i}`);
    }
  };
  const ourOp = (i: number): Promise<unknown> => {
    switch (kind) {
      case "set":
        return store.set(`k${i}`, value);
      case "get":
        return store.get(`k${i}`);
      case "has":
        return store.has(`k${i}`);
      case "del":
        return store.del(`k${i}`);
    }
  };
  const chunks = Math.max(20, Math.ceil(ops / SLICE_OPS));
  const slice = Math.ceil(ops / chunks);
  // Seconds per operation of each slice, per side.
  const rawTimes: number[] = [];
  const ourTimes: number[] = [];
  // CPU time of this process per side, in µs (steadier than wall time on a shared machine).
  const cpu = { raw: 0, ours: 0 };
  const timed = async (
    side: "raw" | "ours",
    count: number,
    op: (i: number) => Promise<unknown>,
  ) => {
    const started = process.cpuUsage();
    (side === "raw" ? rawTimes : ourTimes).push(1 / await rate(count, concurrency, op));
    const used = process.cpuUsage(started);
    cpu[side] += used.user + used.system;
  };
  for (let chunk = 0; chunk < chunks; chunk++) {
    const base = chunk * slice;
    const count = Math.min(slice, ops - base);
    // Alternate which side goes first, so neither always runs right after the other's garbage.
    if (chunk % 2 === 0) {
      await timed("raw", count, (i) => rawOp(base + i));
      await timed("ours", count, (i) => ourOp(base + i));
    } else {
      await timed("ours", count, (i) => ourOp(base + i));
      await timed("raw", count, (i) => rawOp(base + i));
    }
  }
  await map.destroy();
  await store.destroy();
  const what = `store ${label} ${kind}`;
  // The median slice: a pause of the member (its garbage collector) lands on one side's slice
  // at random and would otherwise decide the ratio.
  const raw = 1 / median(rawTimes);
  const ours = 1 / median(ourTimes);
  rows.push({ what, unit: "ops/s", raw, ours, higherIsBetter: true });
  rows.push({
    what: `${what}, CPU of this process`,
    unit: "µs/op",
    raw: cpu.raw / ops,
    ours: cpu.ours / ops,
    higherIsBetter: false,
  });
  const total = (times: number[]) => (times.length / times.reduce((a, b) => a + b, 0)).toFixed(0);
  console.error(
    `  ${what}: median slice raw ${raw.toFixed(0)}, ours ${ours.toFixed(0)} ops/s; mean raw ${
      total(rawTimes)
    }, ours ${total(ourTimes)}`,
  );
}

console.error(
  `# Hazelcast bench on ${MEMBER}: ${OPS} store ops per sequential case (${
    OPS * CONCURRENT_OPS_FACTOR
  } concurrent), ${EVENTS} events`,
);
for (const kind of ["set", "get", "has", "del"] as const) {
  await storeCase("sequential", 1, kind, OPS);
}
for (const kind of ["set", "get", "has", "del"] as const) {
  await storeCase(`${CONCURRENCY} in flight`, CONCURRENCY, kind, OPS * CONCURRENT_OPS_FACTOR);
}

// ---------------------------------------------------------------------------------------------
// Events

const publisherClient = await connectHazelcast(config);
const subscriberClient = await connectHazelcast(config);
const message = {
  namespace: "/",
  room: "lobby",
  packet: ["chat", { text: "hello world", from: "ada" }],
};
const encoded = Buffer.from(
  msgpackCodec.encode({ ...message, type: "DISPATCH", nodeId: "raw-publisher" }),
);
let topicCounter = 0;

/** Raw: reliable topic publish + message listener on another client. */
async function rawTopic(): Promise<{
  publish(): Promise<unknown>;
  waitFor(count: number): Promise<void>;
  received(): number;
  close(): Promise<void>;
}> {
  const name = `${PREFIX}.raw${topicCounter++}`;
  const pubTopic = await publisherClient.getReliableTopic<Buffer>(name);
  const subTopic = await subscriberClient.getReliableTopic<Buffer>(name);
  let count = 0;
  let waiter: { count: number; resolve: () => void } | undefined;
  const id = subTopic.addMessageListener((m) => {
    msgpackCodec.decode(m.messageObject); // a consumer decodes what it receives
    count++;
    if (waiter && count >= waiter.count) waiter.resolve();
  });
  // The raw listener starts at the tail it fetches asynchronously: wait for it to be live.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return {
    publish: () => pubTopic.publish(encoded),
    waitFor: (target) =>
      count >= target ? Promise.resolve() : new Promise<void>((resolve) => {
        waiter = { count: target, resolve };
      }),
    received: () => count,
    close: async () => {
      subTopic.removeMessageListener(id);
      await pubTopic.destroy();
    },
  };
}

/** Ours: two event stores (two nodes), each on its own client. */
async function ourTopic(): Promise<{
  publish(): Promise<unknown>;
  waitFor(count: number): Promise<void>;
  received(): number;
  close(): Promise<void>;
}> {
  const prefix = `${PREFIX}.ours${topicCounter++}`;
  const a = new HazelcastReliableTopicEventStore({ client: publisherClient, prefix, nodeId: "a" });
  const b = new HazelcastReliableTopicEventStore({ client: subscriberClient, prefix, nodeId: "b" });
  let count = 0;
  let waiter: { count: number; resolve: () => void } | undefined;
  await b.subscribe("DISPATCH", () => {
    count++;
    if (waiter && count >= waiter.count) waiter.resolve();
  });
  return {
    publish: () => a.publish("DISPATCH", message),
    waitFor: (target) =>
      count >= target ? Promise.resolve() : new Promise<void>((resolve) => {
        waiter = { count: target, resolve };
      }),
    received: () => count,
    close: async () => {
      await a.shutdown();
      await b.shutdown();
      const ring = await publisherClient.getRingbuffer(`_hz_rb_${a.topicOf("DISPATCH")}`);
      await ring.destroy();
    },
  };
}

type TopicMaker = typeof rawTopic;

async function throughput(make: TopicMaker): Promise<number> {
  const topic = await make();
  const started = performance.now();
  let sent = 0;
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (sent < EVENTS) {
        sent++;
        await topic.publish();
      }
    }),
  );
  await topic.waitFor(EVENTS);
  const result = EVENTS / ((performance.now() - started) / 1000);
  await topic.close();
  return result;
}

async function latency(make: TopicMaker): Promise<number[]> {
  const topic = await make();
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const started = performance.now();
    await topic.publish();
    await topic.waitFor(i + 1);
    samples.push(performance.now() - started);
  }
  await topic.close();
  return samples;
}

await compare(
  `topic throughput (${WINDOW} publishes in flight)`,
  "msg/s",
  true,
  () => throughput(rawTopic),
  () => throughput(ourTopic),
);

const latencies: Record<"raw" | "ours", number[]> = { raw: [], ours: [] };
for (let round = 0; round < 2; round++) {
  latencies.raw.push(...await latency(rawTopic));
  latencies.ours.push(...await latency(ourTopic));
}
for (const p of [0.5, 0.99]) {
  rows.push({
    what: `topic latency publish→listener p${p * 100} (1 in flight)`,
    unit: "ms",
    raw: quantile(latencies.raw, p),
    ours: quantile(latencies.ours, p),
    higherIsBetter: false,
  });
}

// ---------------------------------------------------------------------------------------------

await factory.shutdown();
for (const object of await rawClient.getDistributedObjects()) {
  if (object.getName().replace(/^_hz_rb_/, "").startsWith(PREFIX)) await object.destroy();
}
await Promise.all(
  [rawClient, publisherClient, subscriberClient].map((client) => client.shutdown()),
);

const format = (n: number, unit: string) =>
  unit === "ms" || unit === "µs/op"
    ? n.toFixed(unit === "ms" ? 3 : 1)
    : Math.round(n).toLocaleString("en-US");
console.log(
  `Hazelcast ${MEMBER}, Deno ${Deno.version.deno}, hazelcast-client 5.7.0; ${OPS} store ops per sequential case, ${
    OPS * CONCURRENT_OPS_FACTOR
  } per concurrent case, ${EVENTS} events, ${LATENCY_SAMPLES * 2} latency samples`,
);
console.log("| case | unit | raw hazelcast-client | ours | ours / raw |");
console.log("|---|---|---:|---:|---:|");
for (const row of rows) {
  console.log(
    `| ${row.what} | ${row.unit} | ${format(row.raw, row.unit)} | ${format(row.ours, row.unit)} | ${
      (row.ours / row.raw).toFixed(2)
    } |`,
  );
}
