/**
 * Benchmark of the Redis backends against the raw clients doing the same commands at the same
 * concurrency, on the same server, in the same run, over both transports:
 *
 * - store `set` / `get`: `RedisStore.set/get` vs raw `HSET` / `HGET` of the value as JSON text,
 *   stringified / parsed per operation as an application would (node-redis `hSet/hGet` over
 *   TCP, `@upstash/redis` `hset/hget` over REST, which parses JSON replies itself);
 * - events: `RedisPubSubEventStore` (TCP) vs raw `PUBLISH` + a subscriber connection, and
 *   `RedisStreamEventStore` vs raw `XADD` + `XREAD` (blocking on a dedicated connection over TCP,
 *   polling every 20 ms over REST); the raw side sends the message as JSON text. Throughput is
 *   messages delivered per second from the first publish to the last delivery, with 64
 *   publishes in flight; latency is publish call to listener, per message, measured in separate
 *   runs at a steady rate (10,000 msg/s over TCP, 500 msg/s over REST, 2 s each) that neither
 *   side saturates.
 *
 * ```sh
 * deno run -A scripts/bench/redis.ts [tcpOps=20000] [restOps=12000] [tcpEvents=40000] [restEvents=2500]
 * ```
 *
 * The raw TCP client runs with node-redis's defaults, which time every command out after 5 s
 * through an `AbortSignal.timeout` per command; ours keeps its deadline with one shared timer.
 *
 * Store cases interleave raw and ours in 20 slices each (alternating which goes first) and sum
 * each side's time; event cases run 5 throughput rounds and 3 latency rounds, alternating which
 * side goes first, and report each side's median. The machine may be shared: compare within one
 * run. The ratio is ours / raw: above 1 is better for ops/s and msg/s, below 1 is better for
 * latency.
 *
 * @module
 */

import { createClient } from "redis";
import { Redis } from "@upstash/redis";
import type { EventStore } from "../../mod.ts";
import {
  type NodeRedisClient,
  RedisPubSubEventStore,
  RedisStoreFactory,
  RedisStreamEventStore,
} from "../../src/redis/mod.ts";
import { REDIS_PORT } from "../services/redis.ts";
import { UPSTASH_PORT, UPSTASH_TOKEN } from "../services/upstash_rest.ts";
import { median, quantile } from "./_stats.ts";

const TCP_OPS = Number(Deno.args[0] ?? 20_000);
const REST_OPS = Number(Deno.args[1] ?? 12_000);
const TCP_EVENTS = Number(Deno.args[2] ?? 40_000);
const REST_EVENTS = Number(Deno.args[3] ?? 2_500);
const CONCURRENCY = 64;
const SLICES = 20;
const ROUNDS = 5;
const LATENCY_ROUNDS = 3;
const LATENCY_SECONDS = 2;
/** Steady rates of the latency runs: well below either side's throughput. */
const TCP_RATE = 10_000;
const REST_RATE = 500;
const POLL_MS = 20;
const REDIS_URL = `redis://127.0.0.1:${REDIS_PORT}`;
const REST_URL = `http://127.0.0.1:${UPSTASH_PORT}`;
const PREFIX = `bench-${crypto.randomUUID().slice(0, 8)}`;

type TcpClient = ReturnType<typeof createClient>;

interface Row {
  readonly transport: string;
  readonly case: string;
  readonly metric: string;
  readonly raw: number;
  readonly ours: number;
}
const rows: Row[] = [];

async function tcpClient(): Promise<TcpClient> {
  const client: TcpClient = createClient({ url: REDIS_URL });
  client.on("error", () => {});
  await client.connect();
  return client;
}

function restClient(): Redis {
  return new Redis({ url: REST_URL, token: UPSTASH_TOKEN, enableTelemetry: false });
}

/** Runs `count` operations with CONCURRENCY in flight; resolves with the elapsed ms. */
async function drive(count: number, op: (index: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, count) }, async () => {
      while (next < count) await op(next++);
    }),
  );
  return performance.now() - started;
}

/** Interleaves raw and ours in slices; returns ops/s of each. */
async function interleaved(
  total: number,
  raw: (index: number) => Promise<unknown>,
  ours: (index: number) => Promise<unknown>,
): Promise<{ raw: number; ours: number }> {
  const slice = Math.ceil(total / SLICES);
  let rawMs = 0;
  let oursMs = 0;
  await drive(Math.min(500, slice), raw);
  await drive(Math.min(500, slice), ours);
  for (let index = 0; index < SLICES; index++) {
    // Alternate which side goes first, so neither always runs right after the other's garbage.
    if (index % 2 === 0) {
      rawMs += await drive(slice, (i) => raw(index * slice + i));
      oursMs += await drive(slice, (i) => ours(index * slice + i));
    } else {
      oursMs += await drive(slice, (i) => ours(index * slice + i));
      rawMs += await drive(slice, (i) => raw(index * slice + i));
    }
  }
  const ops = slice * SLICES;
  return { raw: (ops / rawMs) * 1000, ours: (ops / oursMs) * 1000 };
}

const VALUE = { user: "ada", rooms: ["a", "b", "c"], n: 42, admin: false };

async function storeBench(transport: "tcp" | "rest", ops: number): Promise<void> {
  const label = transport.toUpperCase();
  const key = `${PREFIX}:raw:${transport}`;
  let factory: RedisStoreFactory;
  let rawSet: (index: number) => Promise<unknown>;
  let rawGet: (index: number) => Promise<unknown>;
  let close: () => void = () => {};
  if (transport === "tcp") {
    const client = await tcpClient();
    factory = new RedisStoreFactory({
      client: client as unknown as NodeRedisClient,
      prefix: PREFIX,
      eventStore: new RedisStreamEventStore({ client: client as unknown as NodeRedisClient }),
    });
    rawSet = (index) => client.hSet(key, `k${index % 1000}`, JSON.stringify(VALUE));
    rawGet = async (index) => JSON.parse((await client.hGet(key, `k${index % 1000}`))!);
    close = () => client.destroy();
  } else {
    const client = restClient();
    factory = new RedisStoreFactory({ client, prefix: PREFIX });
    rawSet = (index) => client.hset(key, { [`k${index % 1000}`]: JSON.stringify(VALUE) });
    rawGet = (index) => client.hget(key, `k${index % 1000}`);
  }
  const store = factory.createStore(`session-${transport}`);
  const set = await interleaved(ops, rawSet, (index) => store.set(`k${index % 1000}`, VALUE));
  rows.push({ transport: label, case: "store set", metric: "ops/s", ...set });
  const get = await interleaved(ops, rawGet, (index) => store.get(`k${index % 1000}`));
  rows.push({ transport: label, case: "store get", metric: "ops/s", ...get });
  await store.destroy();
  await factory.shutdown();
  close();
}

interface EventRun {
  readonly throughput: number;
  readonly p50: number;
  readonly p99: number;
}

/**
 * How a run publishes: `count` messages, either as fast as CONCURRENCY publishes in flight allow
 * (no `rate`: a throughput run) or at `rate` messages a second (a latency run).
 */
interface Load {
  readonly count: number;
  readonly rate?: number;
}

/** Publishes at `rate` per second, in 1 ms steps, without waiting for each publish. */
async function paced(
  count: number,
  rate: number,
  publish: (index: number) => Promise<unknown>,
): Promise<void> {
  const pending: Promise<unknown>[] = [];
  const started = performance.now();
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    while (sent < due) pending.push(publish(sent++));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(pending);
}

/** Publishes `load.count` messages through `publish`; `deliver` is fed by the receiving side. */
async function eventRun(
  load: Load,
  start: (deliver: (sentAt: number) => void) => Promise<() => Promise<void>>,
  publish: (index: number, sentAt: number) => Promise<unknown>,
): Promise<EventRun> {
  const { count, rate } = load;
  const latencies: number[] = [];
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => done = resolve);
  const stop = await start((sentAt) => {
    latencies.push(performance.now() - sentAt);
    if (latencies.length === count) done();
  });
  const started = performance.now();
  const send = (index: number) => publish(index, performance.now());
  if (rate === undefined) await drive(count, send);
  else await paced(count, rate, send);
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    all,
    new Promise((resolve) => timer = setTimeout(resolve, 60_000)),
  ]);
  clearTimeout(timer);
  const elapsed = performance.now() - started;
  await stop();
  if (latencies.length < count) {
    console.error(`  only ${latencies.length} of ${count} messages arrived`);
  }
  return {
    throughput: (latencies.length / elapsed) * 1000,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
  };
}

/** The median of one figure over the rounds (robust on a shared machine). */
function medianOf(runs: readonly EventRun[], key: keyof EventRun): number {
  return median(runs.map((run) => run[key]));
}

/** Our event stores: a publisher node and a subscriber node. */
function oursRun(
  load: Load,
  make: (nodeId: string, prefix: string) => EventStore,
): Promise<EventRun> {
  const prefix = `${PREFIX}-${crypto.randomUUID().slice(0, 6)}`;
  const publisher = make("pub", prefix);
  const subscriber = make("sub", prefix);
  return eventRun(
    load,
    async (deliver) => {
      await subscriber.subscribe("DISPATCH", (message) => {
        deliver((message.packet as { t: number }).t);
      });
      return async () => {
        await Promise.all([publisher.shutdown(), subscriber.shutdown()]);
      };
    },
    (index, sentAt) =>
      publisher.publish("DISPATCH", { namespace: "/", room: "r", packet: { i: index, t: sentAt } }),
  );
}

function message(index: number, sentAt: number): string {
  return JSON.stringify({
    type: "DISPATCH",
    nodeId: "pub",
    namespace: "/",
    room: "r",
    packet: { i: index, t: sentAt },
  });
}

async function rawPubSubRun(client: TcpClient, load: Load): Promise<EventRun> {
  const channel = `${PREFIX}:raw-pubsub:${crypto.randomUUID().slice(0, 6)}`;
  return await eventRun(
    load,
    async (deliver) => {
      const subscriber = client.duplicate();
      subscriber.on("error", () => {});
      await subscriber.connect();
      await subscriber.subscribe(channel, (text) => deliver(JSON.parse(text).packet.t));
      return async () => {
        subscriber.destroy();
        await new Promise((resolve) => setTimeout(resolve, 0));
      };
    },
    (index, sentAt) => client.publish(channel, message(index, sentAt)),
  );
}

async function rawTcpStreamRun(client: TcpClient, load: Load): Promise<EventRun> {
  const key = `${PREFIX}:raw-stream:${crypto.randomUUID().slice(0, 6)}`;
  return await eventRun(
    load,
    async (deliver) => {
      const reader = client.duplicate();
      reader.on("error", () => {});
      await reader.connect();
      let stopped = false;
      let lastId = "0-0";
      const loop = (async () => {
        while (!stopped) {
          const reply = await reader.xRead({ key, id: lastId }, { BLOCK: 5000, COUNT: 256 })
            .catch(() => null) as { messages: { id: string; message: { d: string } }[] }[] | null;
          for (const stream of reply ?? []) {
            for (const entry of stream.messages) {
              lastId = entry.id;
              deliver(JSON.parse(entry.message.d).packet.t);
            }
          }
        }
      })();
      return async () => {
        stopped = true;
        reader.destroy();
        await loop;
        await client.del(key);
      };
    },
    (index, sentAt) =>
      client.xAdd(key, "*", { d: message(index, sentAt) }, {
        TRIM: { strategy: "MAXLEN", strategyModifier: "~", threshold: 10_000 },
      }),
  );
}

async function rawRestStreamRun(client: Redis, load: Load): Promise<EventRun> {
  const key = `${PREFIX}:raw-stream:${crypto.randomUUID().slice(0, 6)}`;
  return await eventRun(
    load,
    (deliver) => {
      let stopped = false;
      let lastId = "0-0";
      let timer: ReturnType<typeof setTimeout> | undefined;
      let wake: () => void = () => {};
      const loop = (async () => {
        while (!stopped) {
          const reply = await client.xread(key, lastId, { count: 256 }) as
            | [string, [string, string[]][]][]
            | null;
          let got = 0;
          for (const [, entries] of reply ?? []) {
            for (const [id, fields] of entries) {
              lastId = id;
              const text = fields[1]!;
              const parsed = typeof text === "string" ? JSON.parse(text) : text;
              deliver(parsed.packet.t);
              got++;
            }
          }
          if (got === 0 && !stopped) {
            await new Promise<void>((resolve) => {
              wake = resolve;
              timer = setTimeout(resolve, POLL_MS);
            });
          }
        }
      })();
      return Promise.resolve(async () => {
        stopped = true;
        clearTimeout(timer);
        wake();
        await loop;
        await client.del(key);
      });
    },
    (index, sentAt) =>
      client.xadd(key, "*", { d: message(index, sentAt) }, {
        trim: { type: "MAXLEN", comparison: "~", threshold: 10_000 },
      }),
  );
}

/**
 * node-redis fires the `AbortSignal.timeout` of every command 5 s after it was sent, replied or
 * not: a burst of 100,000 raw commands leaves a storm of timers that stalls whatever runs 5 s
 * later, for milliseconds at a time. Each burst phase (store cases, each event case) is
 * followed by this pause, so that no measurement runs in the storm of an earlier one.
 */
function afterBurst(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5_500));
}

/**
 * Event cases, in one of two phases. The latency phase runs first, at steady rates, before any
 * burst, with a pause after each raw round.
 */
async function eventBench(phase: "latency" | "throughput"): Promise<void> {
  const tcp = await tcpClient();
  const rest = restClient();
  const asNode = tcp as unknown as NodeRedisClient;
  type RunMaker = (load: Load) => Promise<EventRun>;
  const cases: {
    transport: string;
    name: string;
    count: number;
    rate: number;
    raw: RunMaker;
    ours: RunMaker;
  }[] = [
    {
      transport: "TCP",
      name: "Pub/Sub events",
      count: TCP_EVENTS,
      rate: TCP_RATE,
      raw: (load) => rawPubSubRun(tcp, load),
      ours: (load) =>
        oursRun(
          load,
          (nodeId, prefix) => new RedisPubSubEventStore({ client: asNode, nodeId, prefix }),
        ),
    },
    {
      transport: "TCP",
      name: "Streams events",
      count: TCP_EVENTS,
      rate: TCP_RATE,
      raw: (load) => rawTcpStreamRun(tcp, load),
      ours: (load) =>
        oursRun(
          load,
          (nodeId, prefix) => new RedisStreamEventStore({ client: asNode, nodeId, prefix }),
        ),
    },
    {
      transport: "REST",
      name: "Streams events",
      count: REST_EVENTS,
      rate: REST_RATE,
      raw: (load) => rawRestStreamRun(rest, load),
      ours: (load) =>
        oursRun(
          load,
          (nodeId, prefix) =>
            new RedisStreamEventStore({ client: rest, nodeId, prefix, pollIntervalMs: POLL_MS }),
        ),
    },
  ];
  for (const { transport, name, count, rate, raw, ours } of cases) {
    if (phase === "throughput") {
      const burst = await alternate(ROUNDS, () => raw({ count }), () => ours({ count }));
      rows.push({
        transport,
        case: name,
        metric: "msg/s",
        raw: medianOf(burst.raw, "throughput"),
        ours: medianOf(burst.ours, "throughput"),
      });
      await afterBurst();
      continue;
    }
    const load = { count: rate * LATENCY_SECONDS, rate };
    // The raw client's timers of a latency round expire over the 2 s that start 5 s later: the
    // pause keeps them out of the next round of ours.
    const steady = await alternate(LATENCY_ROUNDS, () => raw(load), () => ours(load), afterBurst);
    const at = `at ${rate.toLocaleString("en-US")}/s`;
    for (const [metric, key] of [["p50", "p50"], ["p99", "p99"]] as const) {
      rows.push({
        transport,
        case: name,
        metric: `${metric} ms ${at}`,
        raw: medianOf(steady.raw, key),
        ours: medianOf(steady.ours, key),
      });
    }
  }
  // Streams left by our stores.
  for await (const keys of tcp.scanIterator({ MATCH: `${PREFIX}*`, COUNT: 1000 })) {
    if (keys.length > 0) await tcp.del(keys);
  }
  tcp.destroy();
}

/**
 * Runs both sides `rounds` times, alternating which goes first; `afterRaw` runs after each raw
 * round.
 */
async function alternate(
  rounds: number,
  raw: () => Promise<EventRun>,
  ours: () => Promise<EventRun>,
  afterRaw: () => Promise<void> = () => Promise.resolve(),
): Promise<{ raw: EventRun[]; ours: EventRun[] }> {
  const out = { raw: [] as EventRun[], ours: [] as EventRun[] };
  const rawRound = async () => {
    out.raw.push(await raw());
    await afterRaw();
  };
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      await rawRound();
      out.ours.push(await ours());
    } else {
      out.ours.push(await ours());
      await rawRound();
    }
  }
  return out;
}

function format(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  return value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(2);
}

console.log(
  `Redis benchmark: ${TCP_OPS} TCP / ${REST_OPS} REST store ops, ${TCP_EVENTS} TCP / ${REST_EVENTS} REST events, concurrency ${CONCURRENCY}, Redis ${REDIS_URL}, REST ${REST_URL}`,
);
await eventBench("latency");
await storeBench("tcp", TCP_OPS);
await storeBench("rest", REST_OPS);
await afterBurst();
await eventBench("throughput");

// Rows in table order: by group, then throughput before latency (the sort is stable, so rows of
// one group and kind keep the order they were measured in: set before get, p50 before p99).
const GROUPS = ["TCP store", "REST store", "TCP Pub/Sub", "TCP Streams", "REST Streams"];
const rank = (row: Row) =>
  GROUPS.findIndex((group) => `${row.transport} ${row.case}`.startsWith(group)) * 2 +
  (row.metric.startsWith("p") ? 1 : 0);
rows.sort((a, b) => rank(a) - rank(b));

const header = ["transport", "case", "metric", "raw client", "ours", "ours/raw"];
const table = rows.map((row) => [
  row.transport,
  row.case,
  row.metric,
  format(row.raw),
  format(row.ours),
  `${(row.ours / row.raw).toFixed(2)}x`,
]);
const widths = header.map((title, column) =>
  Math.max(title.length, ...table.map((line) => line[column]!.length))
);
const line = (cells: string[]) =>
  `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(" | ")} |`;
console.log(line(header));
console.log(`|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`);
for (const cells of table) console.log(line(cells));
