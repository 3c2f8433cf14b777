/**
 * Helpers of the NATS tests: connections to the harness server over both transports, and event
 * store makers whose `shutdown()` also closes the connection the test opened.
 *
 * @module
 */

import { type NatsConnection, wsconnect } from "@nats-io/nats-core";
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
  type NatsInstance,
  pingNatsTcp,
  pingNatsWebSocket,
  renderNatsConfig,
  type StartNatsOptions,
} from "../../scripts/services/nats.ts";
import {
  findExecutable,
  findFreePort,
  ManagedProcess,
  servicePath,
} from "../../scripts/services/_process.ts";

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
  };
  return transport === "ws" ? wsconnect(common) : connect(common);
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
): Promise<NatsEventStore> {
  const nc = await connectOver(transport);
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

/** Options of {@linkcode startPrivateNats}. */
export interface PrivateNatsOptions extends StartNatsOptions {
  /** `max_payload` of the server, e.g. `64KB`; 8MB (the harness default) otherwise. */
  readonly maxPayload?: string;
}

/**
 * A private nats-server for one test, like `startNats` of the harness (same config renderer and
 * probes) but on ports drawn at random from 16400-19400: other test processes pick free ports from
 * 16400 up at the same time, and a restart must find its port still free. Retried when the port
 * was taken between the check and the bind.
 */
export async function startPrivateNats(options: PrivateNatsOptions = {}): Promise<NatsInstance> {
  const auth = {
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.user !== undefined ? { user: options.user } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  };
  for (let attempt = 1;; attempt++) {
    const port = findFreePort(16400 + Math.floor(Math.random() * 3000));
    const wsPort = findFreePort(port + 1);
    const name = `nats-t-${port}`;
    const dir = servicePath("instances", name);
    await Deno.remove(`${dir}/jetstream`, { recursive: true }).catch(() => {});
    const storeDir = options.jetstream === false ? undefined : `${dir}/jetstream`;
    let config = renderNatsConfig({
      name,
      port,
      wsPort,
      ...(storeDir !== undefined ? { storeDir } : {}),
      auth,
    });
    if (options.maxPayload !== undefined) {
      config = config.replace("max_payload: 8MB", `max_payload: ${options.maxPayload}`);
    }
    const configFile = `${dir}/nats.conf`;
    Deno.writeTextFileSync(configFile, config);
    const wsUrl = `ws://127.0.0.1:${wsPort}`;
    const managed = new ManagedProcess({
      name,
      endpoint: { host: "127.0.0.1", port, extra: { websocket: wsUrl } },
      launch: () => ({
        cmd: findExecutable("nats-server") ?? "nats-server",
        args: ["-c", configFile],
      }),
      probe: async () => await pingNatsTcp(port, auth) && await pingNatsWebSocket(wsUrl, auth),
      readyTimeoutMs: 20_000,
    });
    try {
      await managed.start();
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test(String(error))) throw error;
      continue;
    }
    return {
      name,
      endpoint: managed.endpoint,
      get pid() {
        return managed.pid;
      },
      url: `nats://127.0.0.1:${port}`,
      wsUrl,
      storeDir,
      stop: () => managed.stop(),
      kill: () => managed.kill(),
      restart: () => managed.restart(),
    };
  }
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
