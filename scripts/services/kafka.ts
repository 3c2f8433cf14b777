/**
 * Kafka for the harness: one Apache Kafka node in KRaft mode (broker and controller in one JVM),
 * run from the jars on Maven Central (fetched into the download cache by `_maven.ts`).
 *
 * The shared instance listens on 127.0.0.1:19092 (controller 19093) with its data under
 * `.services/kafka`; {@linkcode startKafka} starts private brokers on free ports for failure
 * tests. Storage is formatted on the first start of a data folder with a random cluster id.
 *
 * @module
 */

import { Admin } from "@platformatic/kafka";
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

/** Version of `org.apache.kafka:kafka_2.13` the harness runs. */
export const KAFKA_VERSION = "4.1.1";

/** Bootstrap (PLAINTEXT) port of the shared broker. */
export const KAFKA_PORT = 19092;

/** KRaft controller port of the shared node. */
export const KAFKA_CONTROLLER_PORT = 19093;

/** Largest record batch the broker accepts (room for 1 MiB payloads plus overhead). */
export const KAFKA_MAX_MESSAGE_BYTES: number = 8 * 1024 * 1024;

const HOST = "127.0.0.1";

/** JVM heap and start-up flags (small heap, serial GC: the machine has 2 cores). */
const JVM_FLAGS: readonly string[] = [
  "-Xms128m",
  "-Xmx512m",
  "-XX:+UseSerialGC",
  "-Djava.awt.headless=true",
  // Keep log4j2 running until the broker's own shutdown hook has logged its last lines.
  "-Dlog4j2.shutdownHookEnabled=false",
];

/** Fetches (once) the broker's runtime jars and returns where they are. */
export function kafkaJars(): Promise<JarSet> {
  return ensureJars("kafka", KAFKA_VERSION, [
    { groupId: "org.apache.kafka", artifactId: "kafka_2.13", version: KAFKA_VERSION },
    // kafka_2.13 pulls an old slf4j-api through Scala logging; the 2.x API plus the log4j2
    // binding route the broker's log lines to log4j2 (configured in log4j2.properties).
    { groupId: "org.slf4j", artifactId: "slf4j-api", version: "2.0.17" },
    { groupId: "org.apache.logging.log4j", artifactId: "log4j-slf4j2-impl", version: "2.24.3" },
  ]);
}

/**
 * A real Kafka round trip: the admin client of `@platformatic/kafka` (the client the Kafka backend
 * uses) connects (ApiVersions, Metadata) and lists the topics. Resolves `true` when the broker
 * answered within `timeoutMs`. (kafkajs 2.2.4 would print a `TimeoutNegativeWarning` on every
 * probe, its open issue #1751.)
 */
export async function probeKafka(port: number, host = HOST, timeoutMs = 3_000): Promise<boolean> {
  const admin = new Admin({
    clientId: "socketio4ts-probe",
    bootstrapBrokers: [`${host}:${port}`],
    connectTimeout: Math.min(1_000, timeoutMs),
    timeout: timeoutMs,
    retries: 1,
    retryDelay: 100,
  });
  try {
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.close().catch(() => {});
  }
}

/** Random KRaft cluster id: 16 random bytes, URL-safe base64 without padding (22 chars). */
export function randomClusterId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  // Keep clear of the ids Kafka reserves (all zero, and 0...01), and start with a letter: an id
  // starting with "-" (base64url of a first byte >= 0xF8) reads as an option to kafka-storage.
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x10;
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** Contents of `server.properties` for one KRaft node on loopback. */
export function kafkaServerProperties(
  port: number,
  controllerPort: number,
  dataDir: string,
): string {
  const props: Record<string, string | number | boolean> = {
    "process.roles": "broker,controller",
    "node.id": 1,
    "listeners": `PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
    "advertised.listeners": `PLAINTEXT://${HOST}:${port}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "controller.quorum.bootstrap.servers": `${HOST}:${controllerPort}`,
    "log.dirs": `${dataDir}/data`,
    "num.partitions": 1,
    "default.replication.factor": 1,
    "auto.create.topics.enable": true,
    "offsets.topic.replication.factor": 1,
    "offsets.topic.num.partitions": 1,
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
    "transaction.state.log.num.partitions": 1,
    "share.coordinator.state.topic.replication.factor": 1,
    "share.coordinator.state.topic.min.isr": 1,
    "group.initial.rebalance.delay.ms": 0,
    "message.max.bytes": KAFKA_MAX_MESSAGE_BYTES,
    "replica.fetch.max.bytes": KAFKA_MAX_MESSAGE_BYTES,
    "num.network.threads": 2,
    "num.io.threads": 4,
  };
  return Object.entries(props).map(([k, v]) => `${k}=${v}`).join("\n") + "\n";
}

const LOG4J2_PROPERTIES = `status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.state.name = state.change.logger
logger.state.level = WARN
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
`;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Writes the configuration into `dir` and formats the storage when `dir/data` has never been
 * formatted. Returns the arguments of `java`.
 */
async function prepareKafka(
  name: string,
  dir: string,
  port: number,
  controllerPort: number,
): Promise<string[]> {
  const jars = await kafkaJars();
  await Deno.mkdir(dir, { recursive: true });
  const serverProps = `${dir}/server.properties`;
  const log4j = `${dir}/log4j2.properties`;
  await Deno.writeTextFile(serverProps, kafkaServerProperties(port, controllerPort, dir));
  await Deno.writeTextFile(log4j, LOG4J2_PROPERTIES);
  const common = [...JVM_FLAGS, `-Dlog4j2.configurationFile=${log4j}`, "-cp", jars.classpath];
  if (!await exists(`${dir}/data/meta.properties`)) {
    const clusterId = randomClusterId();
    const out = await new Deno.Command("java", {
      args: [
        ...common,
        "kafka.tools.StorageTool",
        "format",
        "--cluster-id",
        clusterId,
        "--config",
        serverProps,
        "--standalone",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      throw new Error(`[${name}] formatting Kafka storage in ${dir}/data failed:\n${text}`);
    }
  }
  return [...common, "kafka.Kafka", serverProps];
}

function kafkaEndpoint(port: number, controllerPort: number): ServiceEndpoint {
  return { host: HOST, port, extra: { controller: `${HOST}:${controllerPort}` } };
}

const SHARED_NAME = "kafka";
const SHARED_READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 20_000;

const sharedEndpoint = kafkaEndpoint(KAFKA_PORT, KAFKA_CONTROLLER_PORT);

/** The shared Kafka broker on 127.0.0.1:19092. */
export const kafkaService: ServiceDefinition = {
  name: "kafka",
  endpoint: sharedEndpoint,
  startHint: "deno task services:up kafka",
  isReady: () => probeKafka(KAFKA_PORT),
};

function kafkaProcess(
  name: string,
  dir: string,
  port: number,
  controllerPort: number,
  shared: boolean,
  readyTimeoutMs: number,
): ManagedProcess {
  return new ManagedProcess({
    name,
    endpoint: kafkaEndpoint(port, controllerPort),
    shared,
    // The server.properties path is unique to this instance: the pid counts as ours only if
    // its command line still names it.
    match: `${dir}/server.properties`,
    launch: async () => ({
      cmd: "java",
      args: await prepareKafka(name, dir, port, controllerPort),
    }),
    probe: () => probeKafka(port),
    readyTimeoutMs,
    graceMs: STOP_GRACE_MS,
  });
}

/**
 * Makes sure the shared broker answers on 19092. Starts it detached (it outlives this process;
 * pid file `.services/pids/kafka.json`, log `.services/logs/kafka.log`, data `.services/kafka`)
 * and returns the instance when it was not running; returns `undefined` when one was reused.
 */
export function ensureKafka(): Promise<ServiceInstance | undefined> {
  return ensureShared({
    name: SHARED_NAME,
    isReady: kafkaService.isReady,
    create: () =>
      kafkaProcess(
        SHARED_NAME,
        servicePath("kafka"),
        KAFKA_PORT,
        KAFKA_CONTROLLER_PORT,
        true,
        SHARED_READY_TIMEOUT_MS,
      ),
    readyTimeoutMs: SHARED_READY_TIMEOUT_MS,
    graceMs: STOP_GRACE_MS,
  });
}

/**
 * Stops the shared broker, but only the process named by its pid file (and only if that pid
 * still runs this broker). A broker this harness did not start is left alone.
 */
export function stopSharedKafka(): Promise<StopOutcome> {
  return stopByPidFile(SHARED_NAME, STOP_GRACE_MS);
}

/** Options of {@linkcode startKafka}. */
export interface StartKafkaOptions {
  /** Bootstrap port (default: a free one from 16400 up). */
  readonly port?: number;
  /** Controller port (default: a free one from 16400 up). */
  readonly controllerPort?: number;
  /** Readiness timeout (default 60 s). */
  readonly readyTimeoutMs?: number;
}

/** A private Kafka node for failure tests. */
export interface KafkaInstance extends ServiceInstance {
  /** Bootstrap servers for a client, e.g. `["127.0.0.1:16400"]`. */
  readonly brokers: readonly string[];
  /** Data folder (configuration and log dirs), kept across `restart()`. */
  readonly dataDir: string;
  /** Log file of the broker. */
  readonly logFile: string;
}

/**
 * Starts a private Kafka node (broker + controller) on free ports with its own, freshly
 * formatted data folder under `.services/instances/`. `restart()` keeps the data. The caller
 * must `stop()` or `kill()` it (Deno's sanitizers check that the child was awaited).
 */
export async function startKafka(opts: StartKafkaOptions = {}): Promise<KafkaInstance> {
  const port = opts.port ?? findFreePort();
  const controllerPort = opts.controllerPort ?? findFreePort(port + 1);
  const name = `kafka-${port}`;
  const dataDir = `${SERVICES_DIR}/instances/${name}`;
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  servicePath("instances", name);
  const proc = kafkaProcess(
    name,
    dataDir,
    port,
    controllerPort,
    false,
    opts.readyTimeoutMs ?? 60_000,
  );
  await proc.start();
  return {
    name,
    endpoint: proc.endpoint,
    brokers: [`${HOST}:${port}`],
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
