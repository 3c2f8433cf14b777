/**
 * One node of the socket.io benchmark (`scripts/bench/socketio.ts`): a socket.io server on the
 * adapter named by `BENCH_ADAPTER`, driven over `POST /control`.
 *
 * - `ours` — `createAdapter` over the backend the `SOCKETIO4TS_*` variables name;
 * - `redis-adapter` — `@socket.io/redis-adapter` on `BENCH_REDIS_URL`;
 * - `redis-streams-adapter` — `@socket.io/redis-streams-adapter` on `BENCH_REDIS_URL`;
 * - `none` — socket.io's own in-memory adapter: no cluster at all (the benchmark's ceiling, where
 *   each node emits to its own clients).
 *
 * Prints `READY <port>` once listening.
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { Server } from "socket.io";
import { backendFromEnv } from "../../examples/chat/backend.ts";
import { createAdapter } from "../../src/socketio/mod.ts";
import { controlEndpoint } from "../_control_endpoint.ts";

const env = (name: string): string | undefined => process.env[name] || undefined;
const kind = env("BENCH_ADAPTER") ?? "ours";
const redisUrl = env("BENCH_REDIS_URL") ?? "redis://127.0.0.1:6379";
const closers: (() => Promise<unknown> | void)[] = [];

// deno-lint-ignore no-explicit-any
async function adapterFor(): Promise<any> {
  if (kind === "ours") {
    const backend = await backendFromEnv(env);
    closers.push(backend.close);
    return createAdapter(backend.factory, { onError: (e) => console.error(e.message) });
  }
  if (kind === "none") return undefined;
  const { createClient } = await import("redis");
  if (kind === "redis-adapter") {
    const { createAdapter: createRedisAdapter } = await import("@socket.io/redis-adapter");
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    closers.push(() => pub.destroy(), () => sub.destroy());
    return createRedisAdapter(pub, sub, { key: env("SOCKETIO4TS_PREFIX") ?? "bench" });
  }
  if (kind === "redis-streams-adapter") {
    const { createAdapter: createStreamsAdapter } = await import(
      "@socket.io/redis-streams-adapter"
    );
    const client = createClient({ url: redisUrl });
    await client.connect();
    closers.push(() => client.destroy());
    return createStreamsAdapter(client, {
      streamName: `${env("SOCKETIO4TS_PREFIX") ?? "bench"}-stream`,
    });
  }
  throw new Error(`unknown BENCH_ADAPTER ${kind}`);
}

/** The arguments of a `broadcast` operation. */
interface BroadcastArgs {
  count?: number;
  size?: number;
  rate?: number;
  local?: boolean;
}

const http = createServer(controlEndpoint((op, args) => control(op, args as BroadcastArgs)));
const adapter = await adapterFor();
const io = new Server(http, adapter === undefined ? {} : { adapter });

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Broadcasts `count` messages of `size` bytes, 100 per macrotask (or paced at `rate`/s), to the
 * whole cluster or, with `local`, to this node's clients only.
 */
async function broadcast(
  count: number,
  size: number,
  rate: number | undefined,
  local: boolean,
): Promise<number> {
  const target = local ? io.local : io;
  const padding = "x".repeat(size);
  const started = performance.now();
  if (rate === undefined) {
    for (let seq = 0; seq < count; seq++) {
      target.emit("bench", seq, performance.timeOrigin + performance.now(), padding);
      if (seq % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }
  } else {
    const interval = 1000 / rate;
    for (let seq = 0; seq < count; seq++) {
      const due = started + seq * interval;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      target.emit("bench", seq, performance.timeOrigin + performance.now(), padding);
    }
  }
  return performance.now() - started;
}

async function control(op: string, args: BroadcastArgs): Promise<unknown> {
  if (op === "serverCount") return await io.of("/").adapter.serverCount();
  if (op === "clients") return io.of("/").sockets.size;
  if (op === "cpu") {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  }
  if (op === "broadcast") {
    return await broadcast(args.count ?? 1000, args.size ?? 100, args.rate, args.local === true);
  }
  if (op === "shutdown") setTimeout(shutdown, 10);
  return null;
}

async function shutdown(): Promise<void> {
  await io.close();
  for (const close of closers) await close();
  process.exit(0);
}

process.on("SIGTERM", () => void shutdown());
http.listen(0, "127.0.0.1", () => {
  process.stdout.write(`READY ${(http.address() as AddressInfo).port}\n`);
});
