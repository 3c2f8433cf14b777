/**
 * socket.io cluster benchmark: three server processes, real `socket.io-client` clients on each,
 * broadcasts from the first node. For each adapter, in the same run and on the same Redis:
 *
 * - burst throughput: `--burst` broadcasts sent as fast as the node can, timed until every client
 *   holds the last one (broadcasts/s);
 * - latency: `--paced` broadcasts at `--rate` per second, end to end from the emitting server to
 *   the clients of the two OTHER nodes (p50 / p99, ms).
 *
 * Compared: `@socket.io/redis-adapter`, `@socket.io/redis-streams-adapter`, and this library's
 * adapter over each event backend whose service answers (Redis Pub/Sub and Streams, NATS core
 * and JetStream, Hazelcast, Kafka when its module exists).
 *
 * The first row is the ceiling: no cluster at all. Each node runs socket.io's own in-memory
 * adapter and emits the same broadcasts to its own clients, all three at once, so the clients get
 * exactly what they get in the other rows, with no adapter cost. No adapter can beat it on this
 * machine. CPU is counted per broadcast for the server processes and for the client processes.
 *
 * One table per client count in `--clients` (clients per node). With 1, the adapters weigh most
 * in the cost of a broadcast; with 5, socket.io's writes to each client do, and the ceiling comes
 * close to every adapter. `--only` keeps the rows whose name contains one of its comma-separated
 * parts (case-insensitive).
 *
 * ```sh
 * deno run -A scripts/bench/socketio.ts [--clients 1,5] [--burst 5000] [--paced 5000] [--rate 1000]
 *   [--size 100] [--rounds 3] [--only "ceiling,@socket.io/redis-adapter,ours: redis pub"]
 * ```
 */

import { parseArgs } from "node:util";
import { createClient } from "redis";
import { Admin } from "@platformatic/kafka";
import { probeService } from "../../tests/_services.ts";
import { dropPrefixes } from "../../tests/hazelcast/_hazelcast.ts";
import { HAZELCAST_CLUSTER_NAME } from "../services/hazelcast.ts";
import { NATS_PORT } from "../services/nats.ts";
import { median, quantile } from "./_stats.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    clients: { type: "string", default: "1,5" },
    burst: { type: "string", default: "5000" },
    paced: { type: "string", default: "5000" },
    rate: { type: "string", default: "1000" },
    size: { type: "string", default: "100" },
    only: { type: "string" },
    rounds: { type: "string", default: "3" },
  },
});
/** Clients per node, one table each: with 1 the adapters weigh most, with 5 socket.io does. */
const CLIENT_COUNTS = flags.clients.split(",").map(Number);
const BURST = Number(flags.burst);
const PACED = Number(flags.paced);
const RATE = Number(flags.rate);
const SIZE = Number(flags.size);
const ONLY = flags.only?.split(",");
const ROUNDS = Number(flags.rounds);

const ROOT = new URL("../../", import.meta.url).pathname;
const SERVER = `${ROOT}scripts/bench/_socketio_server.ts`;
const CLIENTS = `${ROOT}scripts/bench/_socketio_clients.ts`;
const REDIS_URL = "redis://127.0.0.1:6379";

interface Variant {
  readonly name: string;
  /** The service the variant needs, if any. */
  readonly service?: "redis" | "nats" | "hazelcast" | "kafka";
  readonly env: (prefix: string) => Record<string, string>;
  readonly cleanup?: (prefix: string) => Promise<void>;
  /** No cluster: every node emits to its own clients (the ceiling). */
  readonly local?: boolean;
}

const CEILING = "ceiling: no cluster, each node emits locally";

async function redisCleanup(prefix: string): Promise<void> {
  const client = await createClient({ url: REDIS_URL }).connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await client.del(keys);
    }
  } finally {
    client.destroy();
  }
}

const natsUrl = `nats://127.0.0.1:${NATS_PORT}`;
const kafkaAvailable = await Deno.stat(`${ROOT}src/kafka/mod.ts`).then(() => true, () => false);

const VARIANTS: Variant[] = [
  {
    name: CEILING,
    env: () => ({ BENCH_ADAPTER: "none" }),
    local: true,
  },
  {
    name: "@socket.io/redis-adapter",
    service: "redis",
    env: (prefix) => ({ BENCH_ADAPTER: "redis-adapter", SOCKETIO4TS_PREFIX: prefix }),
    cleanup: redisCleanup,
  },
  {
    name: "@socket.io/redis-streams-adapter",
    service: "redis",
    env: (prefix) => ({ BENCH_ADAPTER: "redis-streams-adapter", SOCKETIO4TS_PREFIX: prefix }),
    cleanup: redisCleanup,
  },
  {
    name: "ours: Redis Pub/Sub",
    service: "redis",
    env: (prefix) => ({
      BENCH_ADAPTER: "ours",
      SOCKETIO4TS_REDIS_URL: REDIS_URL,
      SOCKETIO4TS_REDIS_EVENTS: "pubsub",
      SOCKETIO4TS_PREFIX: prefix,
    }),
    cleanup: redisCleanup,
  },
  {
    name: "ours: Redis Streams",
    service: "redis",
    env: (prefix) => ({
      BENCH_ADAPTER: "ours",
      SOCKETIO4TS_REDIS_URL: REDIS_URL,
      SOCKETIO4TS_REDIS_EVENTS: "streams",
      SOCKETIO4TS_PREFIX: prefix,
    }),
    cleanup: redisCleanup,
  },
  {
    name: "ours: NATS core",
    service: "nats",
    env: (prefix) => ({
      BENCH_ADAPTER: "ours",
      SOCKETIO4TS_NATS_URL: natsUrl,
      SOCKETIO4TS_PREFIX: prefix,
    }),
  },
  {
    name: "ours: NATS JetStream",
    service: "nats",
    env: (prefix) => ({
      BENCH_ADAPTER: "ours",
      SOCKETIO4TS_NATS_URL: natsUrl,
      SOCKETIO4TS_NATS_EVENTS: "jetstream",
      SOCKETIO4TS_PREFIX: prefix,
    }),
    cleanup: async (prefix) => {
      const { connect } = await import("@nats-io/transport-node");
      const { jetstreamManager } = await import("@nats-io/jetstream");
      const nc = await connect({ servers: natsUrl });
      await (await jetstreamManager(nc)).streams.delete(prefix).catch(() => false);
      await nc.close();
    },
  },
  {
    name: "ours: Hazelcast reliable topic",
    service: "hazelcast",
    env: (prefix) => ({
      BENCH_ADAPTER: "ours",
      SOCKETIO4TS_HAZELCAST_ADDRESS: "127.0.0.1:15701",
      SOCKETIO4TS_HAZELCAST_CLUSTER: HAZELCAST_CLUSTER_NAME,
      SOCKETIO4TS_PREFIX: prefix,
    }),
    cleanup: async (prefix) => void await dropPrefixes([prefix]),
  },
  ...(kafkaAvailable
    ? [{
      name: "ours: Kafka",
      service: "kafka" as const,
      env: (prefix: string) => ({
        BENCH_ADAPTER: "ours",
        SOCKETIO4TS_KAFKA_BROKERS: "127.0.0.1:19092",
        SOCKETIO4TS_PREFIX: prefix,
      }),
      cleanup: async (prefix: string) => {
        const admin = new Admin({
          clientId: "socketio4ts-bench",
          bootstrapBrokers: ["127.0.0.1:19092"],
        });
        try {
          const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
          if (topics.length > 0) await admin.deleteTopics({ topics });
        } finally {
          await admin.close();
        }
      },
    }]
    : []),
];

interface Node {
  readonly child: Deno.ChildProcess;
  readonly url: string;
  readonly log: string[];
  readonly done: Promise<unknown>;
}

async function startNode(env: Record<string, string>, script = SERVER): Promise<Node> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", ...(Deno.env.get("BENCH_DENO_FLAGS")?.split(" ") ?? []), script],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const log: string[] = [];
  const ready = Promise.withResolvers<string>();
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      log.push(chunk);
      const match = /READY (\d+)/.exec(chunk);
      if (match) ready.resolve(`http://127.0.0.1:${match[1]}`);
    }
  };
  const done = Promise.all([read(child.stdout), read(child.stderr)]).then(() =>
    ready.reject(new Error(`node exited before READY: ${log.join("")}`))
  );
  const timer = setTimeout(() => ready.reject(new Error(`no READY: ${log.join("")}`)), 60_000);
  try {
    return { child, url: await ready.promise, log, done };
  } finally {
    clearTimeout(timer);
  }
}

async function control(
  node: Node,
  op: string,
  args: Record<string, unknown> = {},
): Promise<unknown> {
  const response = await fetch(`${node.url}/control`, {
    method: "POST",
    body: JSON.stringify({ op, args }),
  });
  return response.json();
}

async function stopNode(node: Node): Promise<void> {
  await control(node, "shutdown").catch(() => {});
  const timer = setTimeout(() => {
    try {
      node.child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 5000);
  await node.child.status;
  clearTimeout(timer);
  await node.done.catch(() => {});
}

async function waitUntil(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out: ${what}`);
}

async function clientsCall(node: Node, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${node.url}${path}`, {
    method: "POST",
    body: JSON.stringify(body ?? {}),
  });
  return response.json();
}

interface Result {
  readonly name: string;
  readonly throughput: number;
  /** CPU time of the three server processes per broadcast during the burst, in µs. */
  readonly cpuPerBroadcast: number;
  /** CPU time of the three client processes per broadcast during the burst, in µs. */
  readonly clientCpuPerBroadcast: number;
  readonly p50: number;
  readonly p99: number;
  readonly received: number;
}

async function runVariant(variant: Variant, clientsPerNode: number): Promise<Result> {
  const prefix = `bench-sio-${crypto.randomUUID().slice(0, 8)}`;
  const nodes: Node[] = [];
  const clientProcesses: Node[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(await startNode({ ...variant.env(prefix), SOCKETIO4TS_NODE_ID: `bench-${i}` }));
    }
    const servers = variant.local ? 1 : 3;
    for (const node of nodes) {
      await waitUntil(
        `${servers} server(s)`,
        async () => (await control(node, "serverCount")) === servers,
      );
    }
    // The broadcasts of a run: from the first node to the cluster or, for the ceiling, from every
    // node to its own clients at once.
    const emit = (args: Record<string, unknown>) =>
      variant.local
        ? Promise.all(nodes.map((node) => control(node, "broadcast", { ...args, local: true })))
        : control(nodes[0]!, "broadcast", args);
    // One client process per server node, so that the clients are not the bottleneck.
    for (const node of nodes) {
      clientProcesses.push(
        await startNode({ BENCH_URL: node.url, BENCH_CLIENTS: String(clientsPerNode) }, CLIENTS),
      );
    }
    const allGot = (n: number) => async () =>
      (await Promise.all(clientProcesses.map((c) => clientsCall(c, "/count") as Promise<number>)))
        .every((count) => count >= n);
    const reset = (latency: boolean) =>
      Promise.all(clientProcesses.map((c) => clientsCall(c, "/reset", { latency })));

    // warm-up
    await emit({ count: 500, size: SIZE });
    await waitUntil("warm-up", allGot(500));

    // burst throughput
    await reset(false);
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const cpu = async () =>
      sum(await Promise.all(nodes.map((node) => control(node, "cpu") as Promise<number>)));
    const clientCpu = async () =>
      sum(
        await Promise.all(clientProcesses.map((c) => clientsCall(c, "/cpu") as Promise<number>)),
      );
    const [cpuBefore, clientCpuBefore] = await Promise.all([cpu(), clientCpu()]);
    const started = performance.timeOrigin + performance.now();
    await emit({ count: BURST, size: SIZE });
    await waitUntil("burst", allGot(BURST), 120_000);
    const [cpuAfter, clientCpuAfter] = await Promise.all([cpu(), clientCpu()]);
    const cpuPerBroadcast = (cpuAfter - cpuBefore) * 1000 / BURST;
    const clientCpuPerBroadcast = (clientCpuAfter - clientCpuBefore) * 1000 / BURST;
    // Until the last client got the last broadcast, by the clients' own clocks (same machine),
    // so the 50 ms polling of waitUntil does not count.
    const lastAt = Math.max(
      ...await Promise.all(
        clientProcesses.map((c) => clientsCall(c, "/lastAt") as Promise<number>),
      ),
    );
    const elapsed = lastAt - started;

    // paced latency
    await reset(true);
    await emit({ count: PACED, size: SIZE, rate: RATE });
    await waitUntil("paced", allGot(PACED), 120_000);
    // latencies of the clients of the two other nodes (those went through the adapter)
    const latencies = (await Promise.all(
      clientProcesses.slice(1).map((c) => clientsCall(c, "/latencies") as Promise<number[]>),
    )).flat();
    return {
      name: variant.name,
      throughput: BURST / (elapsed / 1000),
      cpuPerBroadcast,
      clientCpuPerBroadcast,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      received: latencies.length,
    };
  } catch (error) {
    const logs = nodes.map((node, i) => `node ${i}: ${node.log.join("").slice(-600)}`).join("\n");
    throw new Error(`${(error as Error).message}\n${logs}`);
  } finally {
    await Promise.all(clientProcesses.map(async (c) => {
      await clientsCall(c, "/shutdown").catch(() => {});
      await c.child.status;
      await c.done.catch(() => {});
    }));
    await Promise.all(nodes.map(stopNode));
    await variant.cleanup?.(prefix).catch(() => {});
  }
}

const available = new Map<string, boolean>();
const chosen: Variant[] = [];
for (const variant of VARIANTS) {
  if (ONLY && !ONLY.some((o) => variant.name.toLowerCase().includes(o.toLowerCase()))) continue;
  const service = variant.service;
  if (service !== undefined && !available.has(service)) {
    available.set(service, (await probeService(service)).available);
  }
  if (service !== undefined && !available.get(service)) {
    console.log(`skip ${variant.name}: ${variant.service} is not running`);
    continue;
  }
  chosen.push(variant);
}
for (const clientsPerNode of CLIENT_COUNTS) {
  const rounds = new Map<string, Result[]>();
  // Rounds interleave the adapters, so that load from elsewhere on the machine hits all of them.
  for (let round = 1; round <= ROUNDS; round++) {
    for (const variant of chosen) {
      try {
        const result = await runVariant(variant, clientsPerNode);
        rounds.set(variant.name, [...(rounds.get(variant.name) ?? []), result]);
        console.log(
          `${clientsPerNode} client(s)/node, round ${round} ${variant.name}: ${
            result.throughput.toFixed(0)
          } broadcasts/s, ${result.cpuPerBroadcast.toFixed(0)} µs server CPU/broadcast, ${
            result.clientCpuPerBroadcast.toFixed(0)
          } µs client CPU/broadcast, p50 ${result.p50.toFixed(2)} ms, p99 ${
            result.p99.toFixed(2)
          } ms`,
        );
      } catch (error) {
        console.log(
          `round ${round} ${variant.name} failed: ${(error as Error).message.slice(0, 2500)}`,
        );
      }
    }
  }
  printTable(clientsPerNode, rounds);
}

function printTable(clientsPerNode: number, rounds: Map<string, Result[]>): void {
  const results: Result[] = [...rounds.entries()].map(([name, list]) => ({
    name,
    throughput: median(list.map((r) => r.throughput)),
    cpuPerBroadcast: median(list.map((r) => r.cpuPerBroadcast)),
    clientCpuPerBroadcast: median(list.map((r) => r.clientCpuPerBroadcast)),
    p50: median(list.map((r) => r.p50)),
    p99: median(list.map((r) => r.p99)),
    received: list.length,
  }));
  const baseline = results.find((r) => r.name === "@socket.io/redis-adapter");
  console.log(
    `\n3 nodes, ${clientsPerNode} client(s) per node, ${SIZE}-byte payload; burst ${BURST} broadcasts; ` +
      `latency: ${PACED} broadcasts at ${RATE}/s, clients of the 2 other nodes; median of ${ROUNDS} interleaved rounds\n`,
  );
  console.log(
    "| adapter | broadcasts/s | × redis-adapter | server CPU µs/broadcast | client CPU µs/broadcast | p50 ms | p99 ms | p99 vs redis-adapter |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of results) {
    const ratio = baseline ? (r.throughput / baseline.throughput).toFixed(2) : "—";
    const p99 = baseline ? (r.p99 / baseline.p99).toFixed(2) : "—";
    console.log(
      `| ${r.name} | ${r.throughput.toFixed(0)} | ${ratio} | ${r.cpuPerBroadcast.toFixed(0)} | ${
        r.clientCpuPerBroadcast.toFixed(0)
      } | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${p99} |`,
    );
  }
}
