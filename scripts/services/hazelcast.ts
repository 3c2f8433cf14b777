/**
 * Hazelcast for the harness: a member from the `com.hazelcast:hazelcast` jar on Maven Central
 * (fetched into the download cache by `_maven.ts`), started with `HazelcastMemberStarter`.
 *
 * The shared member listens on 127.0.0.1:15701 in cluster `socketio4ts`, loopback only, no
 * multicast, TCP-IP join. {@linkcode startHazelcastMember} starts extra members on free ports that
 * join the shared member's cluster, so failure tests can kill one of two members. Maps and ring
 * buffers keep one backup, so losing one of two members loses no data.
 *
 * @module
 */

import { Client } from "hazelcast-client";
import { ensureJars, type JarSet } from "./_maven.ts";
import {
  ensureShared,
  findFreePort,
  ManagedProcess,
  servicePath,
  SERVICES_DIR,
  stopByPidFile,
  type StopOutcome,
} from "./_process.ts";
import type { ServiceDefinition, ServiceEndpoint, ServiceInstance } from "./_types.ts";

/** Version of `com.hazelcast:hazelcast` the harness runs. */
export const HAZELCAST_VERSION = "5.6.0";

/** Member port of the shared instance. */
export const HAZELCAST_PORT = 15701;

/** Cluster name of the shared member (clients must use the same). */
export const HAZELCAST_CLUSTER_NAME = "socketio4ts";

/** Default capacity of ring buffers (the storage behind reliable topics). */
export const HAZELCAST_RINGBUFFER_CAPACITY = 100_000;

const HOST = "127.0.0.1";
const SHARED_NAME = "hazelcast";
const SHARED_READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;

/** JVM flags: small heap, serial GC, and the module openings Hazelcast asks for on Java 17. */
const JVM_FLAGS: readonly string[] = [
  "-Xms64m",
  "-Xmx384m",
  "-XX:+UseSerialGC",
  "-Djava.awt.headless=true",
  "-Djava.net.preferIPv4Stack=true",
  "-Dhazelcast.phone.home.enabled=false",
  "--add-modules",
  "java.se",
  "--add-exports",
  "java.base/jdk.internal.ref=ALL-UNNAMED",
  "--add-opens",
  "java.base/java.lang=ALL-UNNAMED",
  "--add-opens",
  "java.base/sun.nio.ch=ALL-UNNAMED",
  "--add-opens",
  "java.management/sun.management=ALL-UNNAMED",
  "--add-opens",
  "jdk.management/com.sun.management.internal=ALL-UNNAMED",
];

/** Fetches (once) the member's jar and returns where it is. */
export function hazelcastJars(): Promise<JarSet> {
  return ensureJars("hazelcast", HAZELCAST_VERSION, [
    { groupId: "com.hazelcast", artifactId: "hazelcast", version: HAZELCAST_VERSION },
  ]);
}

/**
 * A real Hazelcast round trip: the Node.js client (`hazelcast-client`) connects to the member at
 * `host:port` with the cluster name (authentication included) and shuts down again. Resolves
 * `true` when it connected within `timeoutMs`.
 */
export async function probeHazelcast(
  port: number,
  host = HOST,
  timeoutMs = 2_000,
): Promise<boolean> {
  let client: Awaited<ReturnType<typeof Client.newHazelcastClient>> | undefined;
  try {
    client = await Client.newHazelcastClient({
      clusterName: HAZELCAST_CLUSTER_NAME,
      network: { clusterMembers: [`${host}:${port}`], smartRouting: false },
      connectionStrategy: { connectionRetry: { clusterConnectTimeoutMillis: timeoutMs } },
      properties: { "hazelcast.logging.level": "OFF" },
    });
    return client.getCluster().getMembers().length > 0;
  } catch {
    return false;
  } finally {
    await client?.shutdown().catch(() => {});
  }
}

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/**
 * A `<ringbuffer>` entry of a member's configuration. A reliable topic's ring buffer
 * (`_hz_rb_<topic>`) is matched by the topic's name without `_hz_rb_`, so `name: "<prefix>.*"`
 * configures every reliable topic of an event store with that prefix.
 */
export interface HazelcastRingbufferConfig {
  /** Name or pattern (one `*` wildcard) of the ring buffers this entry configures. */
  readonly name: string;
  /** Number of items the ring buffer holds. */
  readonly capacity: number;
  /**
   * Seconds an item lives (default 0: for ever, and the oldest item is always overwritten). With
   * a time-to-live a ring buffer whose items are all alive is full: an add with overflow policy
   * `FAIL` is refused.
   */
  readonly timeToLiveSeconds?: number;
}

function integerAtLeast(min: number, name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, received ${value}`);
  }
  return value;
}

function ringbufferXml(ring: HazelcastRingbufferConfig): string {
  const capacity = integerAtLeast(1, "capacity", ring.capacity);
  const ttl = integerAtLeast(0, "timeToLiveSeconds", ring.timeToLiveSeconds ?? 0);
  return `  <ringbuffer name="${escapeXml(ring.name)}">
    <capacity>${capacity}</capacity>
    <backup-count>1</backup-count>
    <time-to-live-seconds>${ttl}</time-to-live-seconds>
  </ringbuffer>
`;
}

/**
 * The member's `hazelcast.xml`: cluster name, a fixed port (no auto-increment), the loopback
 * interface only, multicast and auto-detection off, TCP-IP join with `members` (host:port), one
 * backup for maps and ring buffers, and the extra `ringbuffers` entries.
 */
export function hazelcastXml(
  port: number,
  members: readonly string[],
  ringbuffers: readonly HazelcastRingbufferConfig[] = [],
): string {
  const memberLines = members.map((m) => `          <member>${escapeXml(m)}</member>`).join("\n");
  return `<?xml version="1.0" encoding="UTF-8"?>
<hazelcast xmlns="http://www.hazelcast.com/schema/config"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
           xsi:schemaLocation="http://www.hazelcast.com/schema/config
           http://www.hazelcast.com/schema/config/hazelcast-config-5.6.xsd">
  <cluster-name>${HAZELCAST_CLUSTER_NAME}</cluster-name>
  <properties>
    <property name="hazelcast.phone.home.enabled">false</property>
    <property name="hazelcast.logging.type">jdk</property>
  </properties>
  <network>
    <port auto-increment="false">${port}</port>
    <interfaces enabled="true">
      <interface>${HOST}</interface>
    </interfaces>
    <join>
      <auto-detection enabled="false"/>
      <multicast enabled="false"/>
      <tcp-ip enabled="true">
        <member-list>
${memberLines}
        </member-list>
      </tcp-ip>
    </join>
  </network>
  <jet enabled="false"/>
  <map name="default">
    <backup-count>1</backup-count>
  </map>
  <ringbuffer name="default">
    <capacity>${HAZELCAST_RINGBUFFER_CAPACITY}</capacity>
    <backup-count>1</backup-count>
  </ringbuffer>
${ringbuffers.map(ringbufferXml).join("")}</hazelcast>
`;
}

function hazelcastEndpoint(port: number): ServiceEndpoint {
  return { host: HOST, port, extra: { clusterName: HAZELCAST_CLUSTER_NAME } };
}

/** The shared Hazelcast member on 127.0.0.1:15701, cluster `socketio4ts`. */
export const hazelcastService: ServiceDefinition = {
  name: "hazelcast",
  endpoint: hazelcastEndpoint(HAZELCAST_PORT),
  startHint: "deno task services:up hazelcast",
  isReady: () => probeHazelcast(HAZELCAST_PORT),
};

function memberProcess(
  name: string,
  dir: string,
  port: number,
  members: readonly string[],
  shared: boolean,
  readyTimeoutMs: number,
  ringbuffers: readonly HazelcastRingbufferConfig[] = [],
): ManagedProcess {
  const configFile = `${dir}/hazelcast.xml`;
  return new ManagedProcess({
    name,
    endpoint: hazelcastEndpoint(port),
    shared,
    // The config path is unique to this member: the pid counts as ours only if its command
    // line still names it.
    match: configFile,
    launch: async () => {
      const jars = await hazelcastJars();
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(configFile, hazelcastXml(port, members, ringbuffers));
      return {
        cmd: "java",
        args: [
          ...JVM_FLAGS,
          `-Dhazelcast.config=${configFile}`,
          "-cp",
          jars.classpath,
          "com.hazelcast.core.server.HazelcastMemberStarter",
        ],
      };
    },
    probe: () => probeHazelcast(port),
    readyTimeoutMs,
    graceMs: STOP_GRACE_MS,
  });
}

/**
 * Makes sure the shared member answers on 15701. Starts it detached (it outlives this process;
 * pid file `.services/pids/hazelcast.json`, log `.services/logs/hazelcast.log`, config
 * `.services/hazelcast/hazelcast.xml`) and returns the instance when it was not running; returns
 * `undefined` when one was reused.
 */
export function ensureHazelcast(): Promise<ServiceInstance | undefined> {
  return ensureShared({
    name: SHARED_NAME,
    isReady: hazelcastService.isReady,
    create: () =>
      memberProcess(
        SHARED_NAME,
        servicePath("hazelcast"),
        HAZELCAST_PORT,
        [`${HOST}:${HAZELCAST_PORT}`],
        true,
        SHARED_READY_TIMEOUT_MS,
      ),
    readyTimeoutMs: SHARED_READY_TIMEOUT_MS,
    graceMs: STOP_GRACE_MS,
  });
}

/**
 * Stops the shared member, but only the process named by its pid file (and only if that pid
 * still runs this member). A member this harness did not start is left alone.
 */
export function stopSharedHazelcast(): Promise<StopOutcome> {
  return stopByPidFile(SHARED_NAME, STOP_GRACE_MS);
}

/** Options of {@linkcode startHazelcastMember}. */
export interface StartHazelcastMemberOptions {
  /** Member port (default: a free one from 16400 up). */
  readonly port?: number;
  /**
   * Ports of the members to join on 127.0.0.1 (default: the shared member, 15701). Pass `[]` for
   * a member that forms a cluster of its own.
   */
  readonly join?: readonly number[];
  /** Readiness timeout (default 60 s). */
  readonly readyTimeoutMs?: number;
  /**
   * Extra `<ringbuffer>` entries of its configuration (default none), e.g.
   * `[{ name: "<prefix>.*", capacity: 20, timeToLiveSeconds: 1 }]` for the reliable topics of
   * event stores with that prefix: a small ring buffer with a time-to-live, which a burst of
   * publishes fills. Every member of a cluster should be given the same entries.
   */
  readonly ringbuffers?: readonly HazelcastRingbufferConfig[];
}

/** A private Hazelcast member for failure tests. */
export interface HazelcastMemberInstance extends ServiceInstance {
  /** `host:port` of this member, for a client's `clusterMembers`. */
  readonly address: string;
  /** Folder of its configuration. */
  readonly dataDir: string;
  /** Log file of the member. */
  readonly logFile: string;
}

/**
 * Starts an extra member on a free port that joins the cluster of the members on `join` (the
 * shared one by default) with TCP-IP join on loopback. Resolves once it answers a client. The
 * caller must `stop()` or `kill()` it (Deno's sanitizers check that the child was awaited).
 */
export async function startHazelcastMember(
  opts: StartHazelcastMemberOptions = {},
): Promise<HazelcastMemberInstance> {
  const port = opts.port ?? findFreePort();
  const join = opts.join ?? [HAZELCAST_PORT];
  const name = `hazelcast-${port}`;
  const dataDir = `${SERVICES_DIR}/instances/${name}`;
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  servicePath("instances", name);
  const members = [...join, port].map((p) => `${HOST}:${p}`);
  const proc = memberProcess(
    name,
    dataDir,
    port,
    members,
    false,
    opts.readyTimeoutMs ?? 60_000,
    opts.ringbuffers,
  );
  await proc.start();
  return {
    name,
    endpoint: proc.endpoint,
    address: `${HOST}:${port}`,
    dataDir,
    logFile: proc.logFile,
    get pid(): number | undefined {
      return proc.pid;
    },
    stop: () => proc.stop(),
    kill: () => proc.kill(),
    restart: () => proc.restart(),
  };
}
