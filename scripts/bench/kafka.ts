/**
 * Benchmark of {@linkcode KafkaEventStore} against the raw `@platformatic/kafka` client on the
 * same broker in the same run, carrying the same records (the MessagePack bytes of one DISPATCH
 * message):
 *
 * - throughput: `EVENTS` records from one node to another, end to end (first send to last
 *   receipt). Raw: the producer sends requests of 1000 records one after the other (its best
 *   case) and a consumer stream decodes each record with the same codec. Ours, the same pattern
 *   through the API: 1000 un-awaited `publish()` calls (they leave as one request), then wait
 *   for their acknowledgements; received by a subscribed node.
 * - throughput against raw with a promise per record: the raw side again, but each record also
 *   gets what the `EventStore` contract gives every `publish()` and the raw client does not: its
 *   own promise, resolved with its offset once its request is acknowledged. The gap left between
 *   this side and ours is the library's own cost.
 * - round trip: one record at a time, sent on one node and received on the other (p50/p99).
 * - acknowledged publish: one awaited send at a time (p50/p99);
 * - CPU per record: the CPU time this process (both nodes, every thread) spent per record in the
 *   throughput runs, which is steadier than wall time on a busy machine.
 *
 * ```sh
 * deno run -A scripts/bench/kafka.ts [events=100000] [brokers=127.0.0.1:19092]
 * ```
 *
 * Each case runs once per side to warm up, then `BENCH_ROUNDS` times (3 by default); in each
 * round every side runs once, in turns, the order reversed every other round. That happens in
 * each of `BENCH_PROCESSES` processes run one after the other (3 by default; the figures of one
 * process lean on its V8's early decisions, see `_pool.ts`). The table shows, over all rounds,
 * each side's median, the ratio of the medians, the median of the per-round ratios with its 95%
 * bootstrap interval (steadier: a machine that slows down slows both sides of a round, see
 * `_stats.ts`), and each side's best. Ratios are ours / raw: above 1 is better for msg/s, below 1
 * for latency and CPU. `BENCH_ONLY=throughput,round trip` runs only the cases whose names start
 * so; `BENCH_VERBOSE=1` prints every round's result.
 * Topics are deleted at the end.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import process from "node:process";
import { Admin, Consumer, type Message, Producer } from "@platformatic/kafka";
import { msgpackCodec } from "../../mod.ts";
import { KafkaEventStore } from "../../src/kafka/mod.ts";
import { poolProcesses } from "./_pool.ts";
import {
  formatEstimate,
  inTurns,
  median,
  medianInterval,
  pairedRatios,
  quantile,
} from "./_stats.ts";

// 20,000 events lasted about 0.2 s per round: too short to tell a 10% difference on a shared
// machine.
const EVENTS = Number(Deno.args[0] ?? 100_000);
const BROKERS = (Deno.args[1] ?? "127.0.0.1:19092").split(",");
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
const PROCESSES = Number(Deno.env.get("BENCH_PROCESSES") ?? 3);
/** Set in the processes the first one starts: they print their results as JSON. */
const CHILD = Deno.env.get("BENCH_CHILD") === "1";
const VERBOSE = Deno.env.get("BENCH_VERBOSE") === "1";
const ONLY = Deno.env.get("BENCH_ONLY")?.split(",").map((name) => name.trim());
const LATENCY_SAMPLES = 1_000;
const BATCH = 1_000;
const PREFIX = `bench-${crypto.randomUUID().slice(0, 8)}`;

/** One side of the comparison: a sender and a receiver on one topic. */
interface Pair {
  /** Sends one record; resolves once acknowledged. */
  send(index: number): Promise<unknown>;
  /** Sends records `[from, to)` as fast as the side allows; resolves once all are acknowledged. */
  sendMany(from: number, to: number): Promise<void>;
  /** Called with the packet (index) of every received record. */
  onReceive: (index: number) => void;
  close(): Promise<void>;
}

function payload(index: number): { namespace: string; room: string; packet: unknown } {
  return { namespace: "/", room: "bench-room", packet: ["chat", { index, text: "hello world" }] };
}

function encoded(index: number, nodeId: string): Buffer {
  const bytes = msgpackCodec.encode({ ...payload(index), type: "DISPATCH", nodeId });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function indexOf(packet: unknown): number {
  return (packet as [string, { index: number }])[1].index;
}

let topicCounter = 0;

/**
 * Waits for `count` promises by counting their settlements: `Promise.all` over each batch would
 * cost an allocation per record that the raw client does not pay.
 */
class Settlements {
  #pending = 0;
  #wake: (() => void) | undefined;
  #failure: unknown;
  readonly done = (): void => {
    if (--this.#pending === 0) this.#wake?.();
  };
  readonly failed = (error: unknown): void => {
    this.#failure ??= error;
    this.done();
  };

  /** Expects `count` settlements; resolves once they happened, rejects if one was a failure. */
  async expect(count: number, start: () => void | Promise<void>): Promise<void> {
    this.#pending = count;
    const settled = new Promise<void>((resolve) => (this.#wake = resolve));
    await start();
    await settled;
    if (this.#failure !== undefined) throw this.#failure;
  }
}

/**
 * The raw client; with `promisePerRecord`, each record also gets its own promise, resolved with
 * its `<partition>:<offset>` once its request is acknowledged (what `publish()` gives).
 */
async function rawPair(promisePerRecord = false): Promise<Pair> {
  const topic = `${PREFIX}.raw-${topicCounter++}`;
  const admin = new Admin({ clientId: "bench-admin", bootstrapBrokers: BROKERS });
  await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
  await admin.close();
  const producer = new Producer({
    clientId: "bench-raw-producer",
    bootstrapBrokers: BROKERS,
    idempotent: true,
  });
  const consumer = new Consumer({
    clientId: "bench-raw-consumer",
    bootstrapBrokers: BROKERS,
    groupId: `${topic}.group`,
    autocommit: false,
    maxWaitTime: 500,
  });
  const pair: Pair = {
    send: (index) =>
      producer.send({ messages: [{ topic, value: encoded(index, "raw-sender") }], acks: -1 }),
    async sendMany(from, to) {
      const settlements = new Settlements();
      for (let start = from; start < to; start += BATCH) {
        const messages: { topic: string; value: Buffer }[] = [];
        for (let index = start; index < Math.min(to, start + BATCH); index++) {
          messages.push({ topic, value: encoded(index, "raw-sender") });
        }
        if (!promisePerRecord) {
          await producer.send({ messages, acks: -1 });
          continue;
        }
        await settlements.expect(messages.length, async () => {
          const resolves: ((result: { offset: string }) => void)[] = [];
          for (let index = 0; index < messages.length; index++) {
            new Promise((resolve) => resolves.push(resolve)).then(
              settlements.done,
              settlements.failed,
            );
          }
          const result = await producer.send({ messages, acks: -1 });
          const base = Number(result.offsets![0]!.offset);
          for (let index = 0; index < resolves.length; index++) {
            resolves[index]!({ offset: `0:${base + index}` });
          }
        });
      }
    },
    onReceive: () => {},
    async close() {
      await stream.close();
      await consumer.close();
      await producer.close();
    },
  };
  const stream = await consumer.consume({ topics: [topic], mode: "latest", autocommit: false });
  await new Promise<void>((resolve) => stream.on("offsets", () => resolve()));
  stream.on("data", (message: Message) => {
    const decoded = msgpackCodec.decode(message.value) as { packet: unknown };
    pair.onReceive(indexOf(decoded.packet));
  });
  return pair;
}

async function ourPair(): Promise<Pair> {
  const prefix = `${PREFIX}.ours-${topicCounter++}`;
  const sender = new KafkaEventStore({ brokers: BROKERS, prefix, nodeId: "sender" });
  const receiver = new KafkaEventStore({ brokers: BROKERS, prefix, nodeId: "receiver" });
  const pair: Pair = {
    send: (index) => sender.publish("DISPATCH", payload(index)),
    async sendMany(from, to) {
      const settlements = new Settlements();
      for (let start = from; start < to; start += BATCH) {
        const end = Math.min(to, start + BATCH);
        await settlements.expect(end - start, () => {
          for (let index = start; index < end; index++) {
            sender.publish("DISPATCH", payload(index)).then(settlements.done, settlements.failed);
          }
        });
      }
    },
    onReceive: () => {},
    async close() {
      await Promise.all([sender.shutdown(), receiver.shutdown()]);
    },
  };
  await receiver.subscribe("DISPATCH", (message) => pair.onReceive(indexOf(message.packet)));
  // Create the topic and the producer session before measuring.
  await sender.publish("DISPATCH", payload(-1));
  return pair;
}

type PairMaker = () => Promise<Pair>;

const promisedRawPair: PairMaker = () => rawPair(true);

function waitFor(check: () => boolean, what: string, ms = 120_000): Promise<void> {
  const end = performance.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (check()) resolve();
      else if (performance.now() > end) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 1);
    };
    poll();
  });
}

/** CPU time this process (both nodes, every thread) spent per record in each throughput run, µs. */
const cpuPerRecord = new Map<PairMaker, number[]>();

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function throughput(make: PairMaker): Promise<number> {
  const pair = await make();
  try {
    let received = 0;
    pair.onReceive = (index) => {
      if (index >= 0) received++;
    };
    const started = performance.now();
    const cpuStarted = cpuMicros();
    await pair.sendMany(0, EVENTS);
    const sent = performance.now();
    const receivedWhenSent = received;
    await waitFor(() => received >= EVENTS, `${EVENTS} records`);
    const ended = performance.now();
    const cpu = (cpuMicros() - cpuStarted) / EVENTS;
    if (!cpuPerRecord.has(make)) cpuPerRecord.set(make, []);
    cpuPerRecord.get(make)!.push(cpu);
    if (VERBOSE) {
      console.error(
        `  sent in ${(sent - started).toFixed(0)} ms (${receivedWhenSent} received by then), ` +
          `last received ${(ended - sent).toFixed(0)} ms later, ${
            cpu.toFixed(2)
          } µs CPU per record`,
      );
    }
    return EVENTS / ((ended - started) / 1000);
  } finally {
    await pair.close();
  }
}

async function roundTrip(make: PairMaker): Promise<number[]> {
  const pair = await make();
  try {
    let last = -1;
    pair.onReceive = (index) => (last = index);
    const samples: number[] = [];
    for (let index = 0; index < LATENCY_SAMPLES; index++) {
      const started = performance.now();
      await pair.send(index);
      await waitFor(() => last === index, `record ${index}`, 10_000);
      samples.push(performance.now() - started);
    }
    return samples;
  } finally {
    await pair.close();
  }
}

async function acknowledged(make: PairMaker): Promise<number[]> {
  const pair = await make();
  try {
    const samples: number[] = [];
    for (let index = 0; index < LATENCY_SAMPLES; index++) {
      const started = performance.now();
      await pair.send(index);
      samples.push(performance.now() - started);
    }
    return samples;
  } finally {
    await pair.close();
  }
}

/** Every result of one case, per side, in round order. */
interface CaseResult {
  readonly what: string;
  readonly unit: string;
  readonly higherIsBetter: boolean;
  /** The name of the side `ours` is compared with. */
  readonly against: string;
  readonly raw: number[];
  readonly ours: number[];
}

const cases: CaseResult[] = [];

/**
 * Runs each side once per round, `ROUNDS` rounds, the order of the sides reversed every other
 * round (so that neither always runs after the other); returns every result of each side.
 */
async function rounds(
  run: (make: PairMaker) => Promise<number>,
  sides: readonly PairMaker[],
): Promise<number[][]> {
  const results = sides.map((): number[] => []);
  // Warm-up: the first run of each side is slower while the JIT compiles.
  for (const side of sides) await run(side);
  for (let round = 0; round < ROUNDS; round++) {
    for (const index of inTurns(round, [...sides.keys()])) {
      results[index]!.push(await run(sides[index]!));
    }
    if (VERBOSE) {
      console.error(`round ${round + 1}: ${results.map((side) => side.at(-1)).join(", ")}`);
    }
  }
  return results;
}

const RAW = "raw @platformatic/kafka";
const RAW_PROMISED = "raw + a promise per record";

/** Runs one case `ROUNDS` times per side and keeps its results. */
async function compare(
  what: string,
  unit: string,
  higherIsBetter: boolean,
  run: (make: PairMaker) => Promise<number>,
): Promise<void> {
  if (ONLY && !ONLY.some((name) => what.startsWith(name))) return;
  if (run !== throughput) {
    const [raw, ours] = await rounds(run, [rawPair, ourPair]);
    cases.push({ what, unit, higherIsBetter, against: RAW, raw: raw!, ours: ours! });
    return;
  }
  const [raw, promised, ours] = await rounds(run, [rawPair, promisedRawPair, ourPair]);
  cases.push({ what, unit, higherIsBetter, against: RAW, raw: raw!, ours: ours! });
  cases.push({ what, unit, higherIsBetter, against: RAW_PROMISED, raw: promised!, ours: ours! });
  // Without the warm-up run of each side.
  const cpu = (make: PairMaker) => (cpuPerRecord.get(make) ?? []).slice(1);
  for (const [against, side] of [[RAW, rawPair], [RAW_PROMISED, promisedRawPair]] as const) {
    cases.push({
      what: "CPU per record, throughput runs",
      unit: "µs",
      higherIsBetter: false,
      against,
      raw: cpu(side),
      ours: cpu(ourPair),
    });
  }
}

/** The latency cases, each reported at p50 and p99. */
const LATENCY_CASES = [
  ["round trip", roundTrip],
  ["acknowledged publish", acknowledged],
] as const;

/** Runs every case in this process. */
async function runCases(): Promise<void> {
  try {
    await compare("throughput, end to end", "msg/s", true, throughput);
    for (const [name, samples] of LATENCY_CASES) {
      for (const p of [0.5, 0.99]) {
        await compare(
          `${name} p${p * 100}`,
          "ms",
          false,
          async (make) => quantile(await samples(make), p),
        );
      }
    }
  } finally {
    const admin = new Admin({ clientId: "bench-admin", bootstrapBrokers: BROKERS });
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(`${PREFIX}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    await admin.close();
  }
}

if (CHILD) {
  await runCases();
  console.log(JSON.stringify(cases));
} else {
  console.log(
    `# KafkaEventStore vs raw @platformatic/kafka — ${EVENTS} events, ${LATENCY_SAMPLES} latency ` +
      `samples, ${PROCESSES} process(es) × ${ROUNDS} rounds (the sides in turns), brokers ` +
      BROKERS.join(","),
  );
  if (PROCESSES > 1) {
    cases.push(
      ...await poolProcesses<CaseResult>({
        script: import.meta.url,
        processes: PROCESSES,
        args: Deno.args,
        env: { BENCH_CHILD: "1" },
        keyOf: (result) => `${result.what} / ${result.against}`,
      }),
    );
  } else await runCases();
  const format = (value: number, unit: string) =>
    unit === "msg/s" ? Math.round(value).toString() : value.toFixed(2);
  console.log(
    "| case | unit | against | theirs, median | ours, median | ours / theirs, medians | " +
      "ours / theirs per round: median [95% interval] | theirs, best | ours, best |",
  );
  console.log("|---|---|---|---:|---:|---:|---:|---:|---:|");
  for (const result of cases) {
    const best = (values: number[]) =>
      result.higherIsBetter ? Math.max(...values) : Math.min(...values);
    const [raw, ours] = [median(result.raw), median(result.ours)];
    const perRound = medianInterval(pairedRatios(result.raw, result.ours));
    console.log(
      `| ${result.what} | ${result.unit} | ${result.against} | ${format(raw, result.unit)} | ${
        format(ours, result.unit)
      } | ${(ours / raw).toFixed(2)} | ${formatEstimate(perRound)} | ${
        format(best(result.raw), result.unit)
      } | ${format(best(result.ours), result.unit)} |`,
    );
  }
}
