/**
 * Helpers of the NATS tests: connections to the harness server over both transports, and event
 * store makers whose `shutdown()` also closes the connection the test opened.
 *
 * @module
 */

import { type NatsConnection, wsconnect, type WsSocketFactory } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import type { EventStore, EventStoreOptions } from "../../mod.ts";
import {
  NatsEventStore,
  type NatsEventStoreOptions,
  NatsJetStreamEventStore,
  type NatsJetStreamEventStoreOptions,
} from "../../src/nats/mod.ts";
import {
  NATS_PORT,
  NATS_WS_PORT,
  type NatsAuth,
  pingNatsTcp,
  renderNatsConfig,
} from "../../scripts/services/nats.ts";
import {
  ensureExecutable,
  findFreePort,
  ManagedProcess,
  servicePath,
  SERVICES_DIR,
} from "../../scripts/services/_process.ts";

/** Private servers for one test: the harness's own `startNats`. */
export { startNats } from "../../scripts/services/nats.ts";

/** TCP address of the harness server. */
export const NATS_TCP = `127.0.0.1:${NATS_PORT}`;
/** WebSocket URL of the harness server. */
export const NATS_WS = `ws://127.0.0.1:${NATS_WS_PORT}`;

/** A transport under test. */
export type Transport = "ws" | "tcp";

/** Options common to the test connections: quiet, fast reconnects, no echo of nothing special. */
export interface ConnectOptions {
  readonly servers?: string;
  readonly token?: string;
  readonly user?: string;
  readonly pass?: string;
  readonly maxReconnectAttempts?: number;
  readonly reconnectTimeWait?: number;
  /** WebSocket only: how `wsconnect` opens its socket (e.g. `webSocketFactory(WebSocket)`). */
  readonly wsFactory?: WsSocketFactory;
  /** Ask the server not to send the connection its own messages back. */
  readonly noEcho?: boolean;
  /** Keep dialling until a first server answers (nats.js's `waitOnFirstConnect`). */
  readonly waitOnFirstConnect?: boolean;
}

let connecting: Promise<unknown> = Promise.resolve();

/**
 * Opens a connection over `transport` (harness server unless `servers` is given).
 *
 * nats.js 3.4 keeps ONE transport factory per process: `wsconnect` and `connect` each install
 * theirs globally, and the factory is read while dialling (and again on every reconnect). Two
 * connects in flight at once over different transports therefore dial with the wrong one, so the
 * tests open connections one after the other.
 */
export function connectOver(
  transport: Transport,
  options: ConnectOptions = {},
): Promise<NatsConnection> {
  const next = connecting.then(() => dial(transport, options));
  connecting = next.catch(() => {});
  return next;
}

function dial(transport: Transport, options: ConnectOptions): Promise<NatsConnection> {
  if (transport === "ws" && typeof globalThis.WebSocket === "undefined") {
    // wsconnect would never settle: fail clearly instead of hanging.
    return Promise.reject(
      new Error(
        "no global WebSocket in this runtime: the NATS WebSocket tests need one (Node 20: --experimental-websocket)",
      ),
    );
  }
  const servers = options.servers ?? (transport === "ws" ? NATS_WS : NATS_TCP);
  const common = {
    servers,
    name: `socketio4ts-test-${transport}`,
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.user !== undefined ? { user: options.user } : {}),
    ...(options.pass !== undefined ? { pass: options.pass } : {}),
    ...(options.maxReconnectAttempts !== undefined
      ? { maxReconnectAttempts: options.maxReconnectAttempts }
      : {}),
    ...(options.reconnectTimeWait !== undefined
      ? { reconnectTimeWait: options.reconnectTimeWait }
      : {}),
    ...(options.noEcho !== undefined ? { noEcho: options.noEcho } : {}),
    ...(options.waitOnFirstConnect !== undefined
      ? { waitOnFirstConnect: options.waitOnFirstConnect }
      : {}),
  };
  return transport === "ws"
    ? wsconnect(options.wsFactory ? { ...common, wsFactory: options.wsFactory } : common)
    : connect(common);
}

/** Makes `store.shutdown()` close `nc` afterwards (the test owns the connection). */
export function owningConnection<T extends EventStore>(store: T, nc: NatsConnection): T {
  const shutdown = store.shutdown.bind(store);
  let closing: Promise<void> | undefined;
  store.shutdown = () => {
    closing ??= (async () => {
      try {
        await shutdown();
      } finally {
        if (!nc.isClosed()) await nc.close();
      }
    })();
    return closing;
  };
  return store;
}

/** A core store on its own connection over `transport`, closed with the store. */
export async function coreNode(
  transport: Transport,
  options: NatsEventStoreOptions,
  connection: ConnectOptions = {},
): Promise<NatsEventStore> {
  const nc = await connectOver(transport, connection);
  return owningConnection(new NatsEventStore(nc, options), nc);
}

/** Streams created by {@linkcode jetStreamNode} in this process, deleted by {@linkcode deleteStreams}. */
export const createdStreams: Set<string> = new Set();

/** A JetStream store on its own connection over `transport`, closed with the store. */
export async function jetStreamNode(
  transport: Transport,
  options: NatsJetStreamEventStoreOptions,
): Promise<NatsJetStreamEventStore> {
  const nc = await connectOver(transport);
  const store = owningConnection(new NatsJetStreamEventStore(nc, options), nc);
  createdStreams.add(store.stream);
  return store;
}

/**
 * Deletes the streams the tests created on the harness server (stores that never published or
 * subscribed created none). Returns how many were deleted and how many of `names` still exist.
 */
export async function deleteStreams(
  names: Iterable<string> = createdStreams,
): Promise<{ deleted: number; remaining: number }> {
  const nc = await connectOver("tcp");
  const wanted = new Set(names);
  let deleted = 0;
  try {
    const jsm = await jetstreamManager(nc);
    for (const name of wanted) {
      if (await jsm.streams.delete(name).catch(() => false)) deleted++;
    }
    let remaining = 0;
    for await (const name of jsm.streams.names()) if (wanted.has(name)) remaining++;
    return { deleted, remaining };
  } finally {
    await nc.close();
  }
}

/** Alternates transports: even nodes on WebSocket, odd ones on TCP. */
export function alternating(): (options: EventStoreOptions) => Transport {
  let count = 0;
  return () => (count++ % 2 === 0 ? "ws" : "tcp");
}

/**
 * nats.js 3.4's TCP transport (`@nats-io/transport-node`) drops its socket listeners and then
 * destroys a socket the server closed for bad credentials; a `read ECONNRESET` arriving in between
 * is emitted with no listener and surfaces as an uncaught error (a crash on Node). That is the
 * client library's behaviour, not ours: while the failing TCP connects run, such resets are
 * caught here and counted (reported), anything else still fails the test.
 */
export async function toleratingResets<T>(body: () => Promise<T>): Promise<T> {
  let resets = 0;
  const onError = (event: ErrorEvent) => {
    if (/ECONNRESET/.test(String(event.error?.message ?? event.message))) {
      resets++;
      event.preventDefault();
    }
  };
  globalThis.addEventListener("error", onError);
  try {
    return await body();
  } finally {
    await new Promise((resolve) => setTimeout(resolve, 100));
    globalThis.removeEventListener("error", onError);
    if (resets > 0) {
      console.log(`nats.js TCP transport: ${resets} uncaught ECONNRESET after refusal`);
    }
  }
}

/** Options of {@linkcode startConfiguredNats}. */
export interface ConfiguredNatsOptions {
  /** TCP port; a free one by default. */
  readonly port?: number;
  /** JetStream with a file store; default `true`. */
  readonly jetstream?: boolean;
  /** Credentials the readiness probe connects with (when `extra` requires some). */
  readonly probeAuth?: NatsAuth;
}

/** A private nats-server whose config the test writes (and may change while it runs). */
export interface ConfiguredNats {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  /** Rewrites the config with `extra` in place of the first one, and waits for the reload. */
  reconfigure(extra: string): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after the grace period) and removes its files. */
  stop(): Promise<void>;
}

/**
 * Starts a private nats-server from the harness's config plus `extra` lines (e.g. an
 * `authorization` block with per-user permissions, which {@linkcode startNats} does not write).
 * `reconfigure` sends it SIGHUP, nats-server's configuration reload.
 */
export async function startConfiguredNats(
  extra: string,
  options: ConfiguredNatsOptions = {},
): Promise<ConfiguredNats> {
  const binary = await ensureExecutable("nats-server", "nats-server");
  const port = options.port ?? findFreePort();
  const wsPort = findFreePort(port + 1);
  const name = `nats-configured-${port}`;
  const dir = `${SERVICES_DIR}/instances/${name}`;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  servicePath("instances", name);
  const configFile = `${dir}/nats.conf`;
  const base = renderNatsConfig({
    name,
    port,
    wsPort,
    ...(options.jetstream === false ? {} : { storeDir: dir }),
    auth: {},
  });
  const write = (lines: string) => Deno.writeTextFileSync(configFile, `${base}${lines}\n`);
  write(extra);
  const server = new ManagedProcess({
    name,
    endpoint: { host: "127.0.0.1", port },
    launch: () => ({ cmd: binary, args: ["-c", configFile] }),
    probe: () => pingNatsTcp(port, options.probeAuth),
    readyTimeoutMs: 20_000,
  });
  await server.start();
  const reloads = () =>
    Deno.readTextFileSync(server.logFile).split("Reloaded server configuration").length - 1;
  return {
    url: `nats://127.0.0.1:${port}`,
    async reconfigure(lines: string) {
      const pid = server.pid;
      if (pid === undefined) throw new Error(`${name} is not running`);
      const before = reloads();
      write(lines);
      Deno.kill(pid, "SIGHUP");
      const deadline = Date.now() + 10_000;
      while (reloads() === before) {
        if (Date.now() > deadline) {
          throw new Error(`${name} did not reload its configuration (see ${server.logFile})`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async stop() {
      await server.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
