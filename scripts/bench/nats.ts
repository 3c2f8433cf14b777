/**
 * Benchmark of the NATS event stores against raw nats.js on the same server, in the same run:
 *
 * - `core ws` / `core tcp`: {@linkcode NatsEventStore} vs `nc.publish` + `nc.subscribe`;
 * - `jetstream tcp` / `jetstream ws`: {@linkcode NatsJetStreamEventStore} vs `js.publish` (acked)
 *   + an ordered consumer;
 * - `(ws package)`: both sides' WebSocket connections opened through `webSocketFactory` with the
 *   `ws` package, whose client turns Nagle's algorithm off (Deno's global `WebSocket` does not);
 * - `, node`: the publishing connection also subscribes to what it publishes, as the connection
 *   of a cluster node does (it receives its own events, echoed, and the other nodes'), so the
 *   server writes to it while it publishes;
 * - `noAsyncTraces`: both connections opened with nats.js's `noAsyncTraces: true`, which stops it
 *   from creating two `Error`s (stack traces) per request, such as each JetStream publish;
 * - `publishRetries: 1 (Nats-Msg-Id)`: the store with one retry, which puts a `Nats-Msg-Id` on
 *   every publish, against `js.publish` with the same retry and header.
 *
 * Figures per variant, raw and ours in turns, the order reversed every other repeat (throughput:
 * the best run, the ratio of the medians, and the median of the per-repeat ratios with its 95%
 * bootstrap interval, which a machine slowing down for a while moves less, see `_stats.ts`; CPU
 * and latency: the median of the runs):
 * - throughput: N events published as fast as the API allows (core: all N publishes started at
 *   once, then awaited; JetStream: windows of 256 publishes awaiting their acks) until a second
 *   connection has received all N; with the CPU time this process (both nodes) spent per event,
 *   which is steadier than wall time on a busy machine;
 * - latency at a fixed rate (10,000 msg/s core, 2,000 msg/s JetStream): publish → delivered to
 *   the listener, p50/p99 in ms (the payload carries its send time; one process, one clock).
 *
 * The header also says how long a 1 ms sleep of an idle process lasts on the machine. Its median
 * (about 2.1 ms here) is the runtime's timer granularity, which a message does not wait for: it
 * wakes the process through its socket. The spread above the median (p99, max) is time the
 * process waited for a CPU, and any side's latency can suffer it too.
 *
 * Both sides carry the same MessagePack DISPATCH message: the raw side encodes it before
 * `publish` and decodes it in its callback, as an application would; ours adds validation, node-id
 * filtering and (core, by default) the publish confirmation — the ratio is the library's cost.
 *
 * Usage: `deno run -A scripts/bench/nats.ts [--quick] [--only "core tcp,jetstream ws"]
 * [--processes 3]` (harness server on 14222/14280); `--only` keeps the variants whose name
 * contains one of its comma-separated parts; `--processes` pools the runs of that many processes
 * run one after the other (1 by default; a whole run takes about 11 minutes here).
 *
 * @module
 */

import process from "node:process";
import { type NatsConnection, wsconnect } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { msgpackCodec } from "../../mod.ts";
import WebSocket from "ws";
import { NatsEventStore, NatsJetStreamEventStore, webSocketFactory } from "../../src/nats/mod.ts";
import { NATS_PORT, NATS_WS_PORT } from "../services/nats.ts";
import { poolProcesses } from "./_pool.ts";
import {
  formatEstimate,
  inTurns,
  median,
  medianInterval,
  pairedRatios,
  quantile,
} from "./_stats.ts";

const QUICK = Deno.args.includes("--quick");
const onlyAt = Deno.args.indexOf("--only");
const ONLY = onlyAt >= 0 ? (Deno.args[onlyAt + 1] ?? "").split(",") : undefined;
const REPEATS = QUICK ? 1 : 5;
const processesAt = Deno.args.indexOf("--processes");
const PROCESSES = processesAt >= 0 ? Number(Deno.args[processesAt + 1]) : 1;
/** Set in the processes that `--processes` starts: they print their runs as JSON. */
const CHILD = Deno.args.includes("--child");
// Long enough (about half a second) that a GC pause or a scheduling hiccup is not the result.
const CORE_N = QUICK ? 10_000 : 100_000;
// 5,000 JetStream events lasted about 0.2 s over TCP, too short to tell 10% apart here.
const JS_N = QUICK ? 2_000 : 20_000;
const CORE_RATE = 10_000;
const JS_RATE = 2_000;
const LATENCY_SECONDS = QUICK ? 1 : 2;

/** `ws`: the runtime's global WebSocket; `ws-package`: the `ws` package's (TCP_NODELAY on). */
type Transport = "ws" | "ws-package" | "tcp";

interface Figures {
  throughput: number;
  /** CPU time of this process (both nodes) per event during the throughput run, in µs. */
  cpuPerEvent: number;
  p50: number;
  p99: number;
}

/** Receives either raw bytes or our messages and counts / times them. */
class Counter {
  count = 0;
  timing = false;
  latencies: number[] = [];
  #target = Infinity;
  #done: (() => void) | undefined;

  expect(target: number): Promise<void> {
    this.count = 0;
    this.latencies = [];
    this.#target = target;
    return new Promise((resolve) => this.#done = resolve);
  }

  /** Counts one delivery; its latency is recorded only while timing. */
  hit(sentAt?: number): void {
    if (this.timing && sentAt !== undefined) this.latencies.push(performance.now() - sentAt);
    if (++this.count >= this.#target) this.#done?.();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The message both sides send: what `publish("DISPATCH", …)` encodes. */
function payload(index: number): { namespace: string; room: string; packet: number[] } {
  return { namespace: "/", room: "bench", packet: [index, performance.now()] };
}

function encoded(nodeId: string, index: number): Uint8Array {
  return msgpackCodec.encode({ ...payload(index), type: "DISPATCH", nodeId });
}

/** Decodes like any application would; returns the send time when timing. */
function sentAtOf(bytes: Uint8Array, timing: boolean): number | undefined {
  const message = msgpackCodec.decode(bytes) as { packet: [number, number] };
  return timing ? message.packet[1] : undefined;
}

/** A side under test: how to publish one event, in windows of `window`. */
interface Side {
  readonly name: string;
  publish(index: number): void | Promise<unknown>;
  readonly counter: Counter;
  readonly window: number;
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function throughput(side: Side, n: number): Promise<[number, number]> {
  const all = side.counter.expect(n);
  const started = performance.now();
  const cpuStarted = cpuMicros();
  for (let from = 0; from < n; from += side.window) {
    const pending: Promise<unknown>[] = [];
    for (let index = from; index < Math.min(n, from + side.window); index++) {
      const result = side.publish(index);
      // Ours confirms a tick's publishes with one promise: held once, not once per publish.
      if (result && result !== pending[pending.length - 1]) pending.push(result);
    }
    await Promise.all(pending);
  }
  await bounded(all, 60_000, `${side.name}: ${n} deliveries`);
  return [n / ((performance.now() - started) / 1000), (cpuMicros() - cpuStarted) / n];
}

async function latency(side: Side, rate: number, seconds: number): Promise<[number, number]> {
  const n = rate * seconds;
  const all = side.counter.expect(n);
  side.counter.timing = true;
  const pending: Promise<unknown>[] = [];
  const started = performance.now();
  let sent = 0;
  while (sent < n) {
    const due = Math.min(n, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    while (sent < due) {
      const result = side.publish(sent++);
      if (result) pending.push(result);
    }
    await sleep(1);
  }
  await Promise.all(pending);
  await bounded(all, 60_000, `${side.name}: ${n} deliveries at ${rate}/s`);
  side.counter.timing = false;
  return [quantile(side.counter.latencies, 0.5), quantile(side.counter.latencies, 0.99)];
}

async function measure(side: Side, n: number, rate: number): Promise<Figures> {
  const [tp, cpuPerEvent] = await throughput(side, n);
  const [p50, p99] = await latency(side, rate, LATENCY_SECONDS);
  return { throughput: tp, cpuPerEvent, p50, p99 };
}

function bestThroughput(runs: Figures[]): number {
  return Math.max(...runs.map((run) => run.throughput));
}

let connecting: Promise<unknown> = Promise.resolve();
/** One connect at a time: nats.js keeps one transport factory per process. */
function open(transport: Transport, noAsyncTraces: boolean): Promise<NatsConnection> {
  const next = connecting.then(() =>
    transport === "tcp"
      ? connect({ servers: `127.0.0.1:${NATS_PORT}`, noAsyncTraces })
      : wsconnect({
        servers: `ws://127.0.0.1:${NATS_WS_PORT}`,
        noAsyncTraces,
        ...(transport === "ws-package" ? { wsFactory: webSocketFactory(WebSocket) } : {}),
      })
  );
  connecting = next.catch(() => {});
  return next;
}

type SidesMaker = (
  pub: NatsConnection,
  sub: NatsConnection,
  tag: string,
) => Promise<{ raw: Side; ours: Side; close: () => Promise<void> }>;

/**
 * Core sides. With `publisherListens`, the publishing connection also subscribes to what it
 * publishes, as a cluster node does (nats.js echoes a connection's own messages by default): the
 * server then writes to that connection while it publishes. The raw side decodes its echoes, as
 * an application must to tell its own; the store recognises its own by their last bytes, undecoded.
 */
function coreSides(confirmPublish: boolean, publisherListens = false): SidesMaker {
  return async (pub, sub, tag) => {
    const rawCounter = new Counter();
    const rawSubject = `bench-raw-${tag}.DISPATCH`;
    const rawSub = sub.subscribe(rawSubject, {
      callback: (_error, msg) => rawCounter.hit(sentAtOf(msg.data, rawCounter.timing)),
    });
    const rawEcho = publisherListens
      ? pub.subscribe(rawSubject, {
        callback: (_error, msg) => {
          sentAtOf(msg.data, false);
        },
      })
      : undefined;
    await Promise.all([sub.flush(), pub.flush()]);
    const prefix = `bench-ours-${tag}`;
    const publisher = new NatsEventStore(pub, { prefix, nodeId: "pub", confirmPublish });
    const subscriber = new NatsEventStore(sub, { prefix, nodeId: "sub" });
    const oursCounter = new Counter();
    await subscriber.subscribe("DISPATCH", (message) => {
      oursCounter.hit((message.packet as number[])[1]);
    });
    if (publisherListens) await publisher.subscribe("DISPATCH", () => {});
    return {
      raw: {
        name: "raw nats.js",
        counter: rawCounter,
        window: Infinity,
        publish: (index) => pub.publish(rawSubject, encoded("pub", index)),
      },
      ours: {
        name: "NatsEventStore",
        counter: oursCounter,
        window: Infinity,
        publish: (index) => publisher.publish("DISPATCH", payload(index)),
      },
      close: async () => {
        rawSub.unsubscribe();
        rawEcho?.unsubscribe();
        await Promise.all([publisher.shutdown(), subscriber.shutdown()]);
      },
    };
  };
}

/**
 * JetStream sides. With `publishRetries` > 0 both make that many extra attempts and put a
 * `Nats-Msg-Id` on every publish (the stream's de-duplication), as the store does.
 */
const jetStreamSides = (publishRetries: number): SidesMaker => async (pub, sub, tag) => {
  const jsm = await jetstreamManager(pub);
  const rawStream = `bench-raw-${tag}`;
  await jsm.streams.add({ name: rawStream, subjects: [`${rawStream}.>`] });
  const js = jetstream(pub);
  const rawCounter = new Counter();
  const info = await jsm.streams.info(rawStream);
  const consumer = await jetstream(sub).consumers.get(rawStream, {
    filter_subjects: `${rawStream}.DISPATCH`,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: info.state.last_seq + 1,
  });
  const rawMessages = await consumer.consume({
    max_messages: 256,
    expires: 5_000,
    callback: (msg) => rawCounter.hit(sentAtOf(msg.data, rawCounter.timing)),
  });
  const prefix = `bench-ours-${tag}`;
  const publisher = new NatsJetStreamEventStore(pub, { prefix, nodeId: "pub", publishRetries });
  const subscriber = new NatsJetStreamEventStore(sub, { prefix, nodeId: "sub" });
  const oursCounter = new Counter();
  await subscriber.subscribe("DISPATCH", (message) => {
    oursCounter.hit((message.packet as number[])[1]);
  });
  return {
    raw: {
      name: "raw js.publish",
      counter: rawCounter,
      window: 256,
      publish: publishRetries === 0
        ? (index) => js.publish(`${rawStream}.DISPATCH`, encoded("pub", index))
        : (index) =>
          js.publish(`${rawStream}.DISPATCH`, encoded("pub", index), {
            msgID: crypto.randomUUID(),
            retries: publishRetries + 1,
          }),
    },
    ours: {
      name: "NatsJetStreamEventStore",
      counter: oursCounter,
      window: 256,
      publish: (index) => publisher.publish("DISPATCH", payload(index)),
    },
    close: async () => {
      rawMessages.stop();
      await consumer.delete().catch(() => {});
      await Promise.all([publisher.shutdown(), subscriber.shutdown()]);
      await jsm.streams.delete(rawStream);
      await jsm.streams.delete(publisher.stream);
    },
  };
};

interface Row {
  variant: string;
  raw: Figures[];
  ours: Figures[];
}

async function run(
  variant: string,
  transport: Transport,
  make: SidesMaker,
  n: number,
  rate: number,
  noAsyncTraces = false,
): Promise<Row | undefined> {
  if (ONLY && !ONLY.some((part) => variant.includes(part))) return undefined;
  const pub = await open(transport, noAsyncTraces);
  const sub = await open(transport, noAsyncTraces);
  const tag = `${variant.replace(/\W+/g, "-")}-${crypto.randomUUID().slice(0, 6)}`;
  const sides = await make(pub, sub, tag);
  try {
    // warm-up: one full run each, so that neither side is measured before the JIT is done
    await throughput(sides.raw, n);
    await throughput(sides.ours, n);
    const raw: Figures[] = [];
    const ours: Figures[] = [];
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      for (const side of inTurns(repeat, [sides.raw, sides.ours])) {
        (side === sides.raw ? raw : ours).push(await measure(side, n, rate));
      }
    }
    return { variant, raw, ours };
  } finally {
    await sides.close();
    await pub.close();
    await sub.close();
  }
}

/** Runs every selected variant in this process. */
async function runVariants(): Promise<Row[]> {
  const rows: (Row | undefined)[] = [];
  rows.push(await run("core tcp", "tcp", coreSides(true), CORE_N, CORE_RATE));
  rows.push(
    await run("core tcp, confirmPublish: false", "tcp", coreSides(false), CORE_N, CORE_RATE),
  );
  rows.push(await run("core ws", "ws", coreSides(true), CORE_N, CORE_RATE));
  rows.push(await run("core ws, confirmPublish: false", "ws", coreSides(false), CORE_N, CORE_RATE));
  rows.push(await run("core ws (ws package)", "ws-package", coreSides(true), CORE_N, CORE_RATE));
  // A cluster node publishes on a connection that also receives.
  for (
    const [variant, transport, confirm] of [
      ["core tcp, node", "tcp", true],
      ["core ws, node", "ws", true],
      ["core ws, node, confirmPublish: false", "ws", false],
      ["core ws (ws package), node", "ws-package", true],
    ] as const
  ) {
    rows.push(await run(variant, transport, coreSides(confirm, true), CORE_N, CORE_RATE));
  }
  rows.push(await run("jetstream tcp", "tcp", jetStreamSides(0), JS_N, JS_RATE));
  // nats.js creates two errors per request to keep the caller's stack, unless told not to.
  rows.push(
    await run("jetstream tcp, noAsyncTraces", "tcp", jetStreamSides(0), JS_N, JS_RATE, true),
  );
  rows.push(
    await run(
      "jetstream tcp, noAsyncTraces, publishRetries: 1 (Nats-Msg-Id)",
      "tcp",
      jetStreamSides(1),
      JS_N,
      JS_RATE,
      true,
    ),
  );
  rows.push(await run("jetstream ws", "ws", jetStreamSides(0), JS_N, JS_RATE));
  rows.push(await run("jetstream ws (ws package)", "ws-package", jetStreamSides(0), JS_N, JS_RATE));
  return rows.filter((row) => row !== undefined);
}

if (CHILD) {
  console.log(JSON.stringify(await runVariants()));
  Deno.exit(0);
}
/**
 * How long a 1 ms sleep of an idle process lasts: `sleep(1)` in a loop for two seconds, with
 * nothing else to do. The median is the timer granularity; the spread above it is scheduling
 * jitter (see the module documentation).
 */
async function idleWakeUps(): Promise<{ p50: number; p99: number; max: number }> {
  const gaps: number[] = [];
  const end = performance.now() + 2_000;
  let last = performance.now();
  while (last < end) {
    await sleep(1);
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }
  return { p50: quantile(gaps, 0.5), p99: quantile(gaps, 0.99), max: Math.max(...gaps) };
}

const idle = await idleWakeUps();
const rows = PROCESSES > 1
  ? await poolProcesses<Row>({
    script: import.meta.url,
    processes: PROCESSES,
    // Each child runs once, with the other options as given.
    args: [
      ...Deno.args.filter((arg, index) =>
        arg !== "--processes" && Deno.args[index - 1] !== "--processes"
      ),
      "--child",
    ],
    keyOf: (row) => row.variant,
  })
  : await runVariants();

/** The median of each figure over the runs. */
function medians(runs: Figures[]): Figures {
  const of = (pick: (run: Figures) => number) => median(runs.map(pick));
  return {
    throughput: of((run) => run.throughput),
    cpuPerEvent: of((run) => run.cpuPerEvent),
    p50: of((run) => run.p50),
    p99: of((run) => run.p99),
  };
}

const fmt = (value: number, digits = 0) => value.toFixed(digits);
const [load1] = Deno.loadavg();
console.log(
  `\nNATS event stores vs raw nats.js — nats-server 2.9.10 on loopback, Deno ${Deno.version.deno}, ${PROCESSES} process(es) × ${REPEATS} repeats (msg/s and ratio: best run; ratio of medians; per-repeat ratio: median [95% interval]; CPU and latency: median of the runs), ${navigator.hardwareConcurrency} CPUs, load average ${
    load1?.toFixed(2)
  }`,
);
console.log(
  `throughput: ${CORE_N} core / ${JS_N} JetStream events until all received; latency: ${CORE_RATE}/s core, ${JS_RATE}/s JetStream, ${LATENCY_SECONDS} s`,
);
console.log(
  `a 1 ms sleep of an idle process lasts p50 ${fmt(idle.p50, 2)} / p99 ${fmt(idle.p99, 2)} / max ${
    fmt(idle.max, 1)
  } ms (the median is timer granularity; the spread above it, scheduling jitter)\n`,
);
console.log(
  "| variant | raw msg/s | ours msg/s | ratio | ratio of medians | per-repeat ratio | raw CPU µs/event | ours CPU µs/event | CPU ratio (raw/ours) | raw p50 ms | raw p99 ms | ours p50 ms | ours p99 ms |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const row of rows) {
  const [rawBest, oursBest] = [bestThroughput(row.raw), bestThroughput(row.ours)];
  const [raw, ours] = [medians(row.raw), medians(row.ours)];
  const perRepeat = medianInterval(
    pairedRatios(row.raw.map((run) => run.throughput), row.ours.map((run) => run.throughput)),
  );
  console.log(
    `| ${row.variant} | ${fmt(rawBest)} | ${fmt(oursBest)} | ${fmt(oursBest / rawBest, 2)}× | ${
      fmt(ours.throughput / raw.throughput, 2)
    }× | ${formatEstimate(perRepeat)} | ${fmt(raw.cpuPerEvent, 1)} | ${
      fmt(ours.cpuPerEvent, 1)
    } | ${fmt(raw.cpuPerEvent / ours.cpuPerEvent, 2)}× | ${fmt(raw.p50, 3)} | ${
      fmt(raw.p99, 3)
    } | ${fmt(ours.p50, 3)} | ${fmt(ours.p99, 3)} |`,
  );
}
