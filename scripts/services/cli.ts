/**
 * Entry point of the local-services harness:
 *
 * ```sh
 * deno task services:up [redis nats kafka hazelcast upstash]
 * deno task services:status [names…]
 * deno task services:down [names…]
 * ```
 *
 * `up` starts what is not already answering (a running one is reused), waits until each is ready,
 * and prints its address and state; it exits non-zero when a requested service could not be
 * brought up. `down` stops only what the harness started (named by pid files under
 * `.services/pids/`). `status` probes each service and prints its state.
 *
 * @module
 */

import {
  isRecordAlive,
  orphanInstances,
  readPidFile,
  ServiceStartError,
  stopByPidFile,
  stopOrphanInstances,
} from "./_process.ts";
import type { StopOutcome } from "./_process.ts";
import type { ServiceDefinition, ServiceInstance, ServiceName } from "./_types.ts";
import { ensureRedis, redisService } from "./redis.ts";
import { ensureNats, natsService } from "./nats.ts";
import { ensureUpstash, upstashService } from "./upstash_rest.ts";
import { ensureKafka, kafkaService, stopSharedKafka } from "./kafka.ts";
import { ensureHazelcast, hazelcastService, stopSharedHazelcast } from "./hazelcast.ts";

/** How the CLI drives one shared service. */
export interface ServiceEntry {
  /** Probe, address and start hint. */
  readonly definition: ServiceDefinition;
  /** Starts it when not ready; `undefined` when an already running one was reused. */
  readonly ensure: () => Promise<ServiceInstance | undefined>;
  /** Stops it if (and only if) the harness started it. */
  readonly stop: () => Promise<StopOutcome>;
  /** Services that must be up first. */
  readonly needs: readonly ServiceName[];
}

/** Every shared service, in start order. */
export const SERVICES: Readonly<Record<ServiceName, ServiceEntry>> = {
  redis: {
    definition: redisService,
    ensure: ensureRedis,
    stop: () => stopByPidFile("redis"),
    needs: [],
  },
  nats: {
    definition: natsService,
    ensure: ensureNats,
    stop: () => stopByPidFile("nats"),
    needs: [],
  },
  kafka: {
    definition: kafkaService,
    ensure: ensureKafka,
    stop: stopSharedKafka,
    needs: [],
  },
  hazelcast: {
    definition: hazelcastService,
    ensure: ensureHazelcast,
    stop: stopSharedHazelcast,
    // Both are Java programs fetched with Maven: start them one after the other so the two
    // downloads do not race in the local Maven repository.
    needs: ["kafka"],
  },
  upstash: {
    definition: upstashService,
    ensure: ensureUpstash,
    stop: () => stopByPidFile("upstash"),
    needs: ["redis"],
  },
};

/** All service names, in start order. */
export const ALL_SERVICES: readonly ServiceName[] = [
  "redis",
  "nats",
  "kafka",
  "hazelcast",
  "upstash",
];

function isServiceName(name: string): name is ServiceName {
  return (ALL_SERVICES as readonly string[]).includes(name);
}

/** Parses service names (empty → all); throws on an unknown name. */
export function parseNames(args: readonly string[]): ServiceName[] {
  if (args.length === 0) return [...ALL_SERVICES];
  const names: ServiceName[] = [];
  for (const arg of args) {
    for (const part of arg.split(",")) {
      const name = part.trim().toLowerCase();
      if (!name) continue;
      if (!isServiceName(name)) {
        throw new Error(`unknown service "${part}" (known: ${ALL_SERVICES.join(", ")})`);
      }
      if (!names.includes(name)) names.push(name);
    }
  }
  return names;
}

/** Human-readable address of a definition: `host:port` plus extra addresses. */
export function describeAddress(definition: ServiceDefinition): string {
  const { host, port, extra } = definition.endpoint;
  const extras = Object.entries(extra ?? {})
    .filter(([key]) => key !== "token")
    .map(([key, value]) => `${key} ${value}`);
  return [`${host}:${port}`, ...extras].join(", ");
}

function line(name: string, state: string, detail: string): void {
  console.log(`${name.padEnd(10)} ${state.padEnd(9)} ${detail}`);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Result of bringing one service up. */
export interface UpResult {
  /** Service name. */
  readonly name: ServiceName;
  /** What happened. */
  readonly state: "started" | "reused" | "failed";
  /** Milliseconds it took. */
  readonly ms: number;
  /** Error message when failed. */
  readonly error?: string;
}

/** Brings the named services (and what they need) up; prints one line per service. */
export async function up(names: readonly ServiceName[]): Promise<UpResult[]> {
  const wanted = new Set<ServiceName>();
  const add = (name: ServiceName) => {
    for (const need of SERVICES[name].needs) add(need);
    wanted.add(name);
  };
  names.forEach(add);
  const tasks = new Map<ServiceName, Promise<UpResult>>();
  const startedAt = performance.now();
  const run = (name: ServiceName): Promise<UpResult> => {
    const existing = tasks.get(name);
    if (existing) return existing;
    const entry = SERVICES[name];
    const task = (async (): Promise<UpResult> => {
      // Prerequisites first (their failure does not prevent trying this one: the error will say).
      await Promise.all(entry.needs.filter((n) => wanted.has(n)).map(run));
      const t0 = performance.now();
      let result: UpResult;
      try {
        const instance = await entry.ensure();
        const state = instance ? "started" : "reused";
        result = { name, state, ms: performance.now() - t0 };
        const log = instance ? `, log .services/logs/${instance.name}.log` : "";
        const pid = instance?.pid !== undefined ? `, pid ${instance.pid}` : "";
        line(
          name,
          state,
          `${describeAddress(entry.definition)} (${seconds(result.ms)}${pid}${log})`,
        );
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        result = { name, state: "failed", ms: performance.now() - t0, error: message };
        const log = error instanceof ServiceStartError ? "" : " (see .services/logs/)";
        line(name, "failed", `${describeAddress(entry.definition)}: ${message}${log}`);
      }
      return result;
    })();
    tasks.set(name, task);
    return task;
  };
  const results = await Promise.all(ALL_SERVICES.filter((n) => wanted.has(n)).map(run));
  console.log(`services:up finished in ${seconds(performance.now() - startedAt)}`);
  return results;
}

/** Stops the named services that the harness started; prints one line per service. */
export async function down(names: readonly ServiceName[]): Promise<void> {
  // Reverse start order: the REST fixture before the Redis it uses.
  const order = [...ALL_SERVICES].reverse().filter((n) => names.includes(n));
  await Promise.all(order.map(async (name) => {
    const entry = SERVICES[name];
    const t0 = performance.now();
    const outcome = await entry.stop();
    const address = describeAddress(entry.definition);
    if (outcome === "stopped") {
      line(name, "stopped", `${address} (${seconds(performance.now() - t0)})`);
    } else {
      const running = await entry.definition.isReady();
      line(
        name,
        running ? "left" : "down",
        running ? `${address} (running, not started by the harness: left alone)` : address,
      );
    }
  }));
  // Private instances of test processes that died without stopping them.
  for (const name of await stopOrphanInstances()) {
    line(name, "stopped", "(orphaned test instance: its test process is gone)");
  }
}

/** Probes the named services and prints address and state; returns the names that are up. */
export async function status(names: readonly ServiceName[]): Promise<ServiceName[]> {
  const states = await Promise.all(names.map(async (name) => {
    const entry = SERVICES[name];
    const ready = await entry.definition.isReady();
    const record = readPidFile(name);
    const ours = record !== undefined && isRecordAlive(record);
    return { name, ready, ours, pid: record?.pid, address: describeAddress(entry.definition) };
  }));
  for (const s of states) {
    if (s.ready) {
      line(
        s.name,
        "up",
        `${s.address} (${s.ours ? `started by the harness, pid ${s.pid}` : "not ours"})`,
      );
    } else if (s.ours) {
      line(s.name, "starting", `${s.address} (pid ${s.pid} alive but not answering)`);
    } else {
      line(s.name, "down", `${s.address} (start: ${SERVICES[s.name].definition.startHint})`);
    }
  }
  for (const orphan of orphanInstances()) {
    line(
      orphan.name,
      "orphan",
      `pid ${orphan.pid} (test instance whose test process is gone; \`deno task services:down\` stops it)`,
    );
  }
  return states.filter((s) => s.ready).map((s) => s.name);
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  let names: ServiceName[];
  try {
    names = parseNames(rest);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 2;
  }
  switch (command) {
    case "up": {
      const results = await up(names);
      return results.some((r) => r.state === "failed") ? 1 : 0;
    }
    case "down":
      await down(names);
      return 0;
    case "status":
      await status(names);
      return 0;
    default:
      console.error("usage: cli.ts up|down|status [redis nats kafka hazelcast upstash]");
      return 2;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
