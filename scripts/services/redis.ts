/**
 * Redis for the harness: the shared instance on 127.0.0.1:6379 (reused when one already answers,
 * else Debian's `redis-server` is started, installed with apt-get if missing) and private
 * instances for failure tests ({@linkcode startRedis}).
 *
 * @module
 */

import {
  awaitStartingShared,
  ensureExecutable,
  findFreePort,
  ManagedProcess,
  servicePath,
  SERVICES_DIR,
  tcpExchange,
} from "./_process.ts";
import type { ServiceDefinition, ServiceEndpoint, ServiceInstance } from "./_types.ts";

/** Port of the shared Redis. */
export const REDIS_PORT = 6379;

/** Encodes a command as a RESP array of bulk strings. */
export function respCommand(...args: string[]): string {
  const enc = new TextEncoder();
  let out = `*${args.length}\r\n`;
  for (const arg of args) out += `$${enc.encode(arg).length}\r\n${arg}\r\n`;
  return out;
}

/** Credentials for {@linkcode pingRedis}. */
export interface RedisAuth {
  /** ACL user name (default user when absent). */
  readonly user?: string;
  /** Password. */
  readonly password?: string;
}

/**
 * Sends a real `PING` over TCP (after `AUTH` when credentials are given) and resolves `true` when
 * the server answers `+PONG`.
 */
export async function pingRedis(port: number, auth: RedisAuth = {}): Promise<boolean> {
  let request = "";
  if (auth.password !== undefined) {
    request += auth.user !== undefined
      ? respCommand("AUTH", auth.user, auth.password)
      : respCommand("AUTH", auth.password);
  }
  request += respCommand("PING");
  const replies = auth.password !== undefined ? 2 : 1;
  // AUTH and PING both answer with one line each.
  const reply = await tcpExchange(port, request, (t) => t.split("\r\n").length > replies, {
    timeoutMs: 1_000,
  });
  return reply !== undefined && reply.includes("+PONG");
}

const endpoint: ServiceEndpoint = { host: "127.0.0.1", port: REDIS_PORT };

/** The shared Redis on 127.0.0.1:6379. */
export const redisService: ServiceDefinition = {
  name: "redis",
  endpoint,
  startHint: "deno task services:up redis",
  isReady: () => pingRedis(REDIS_PORT),
};

/**
 * Makes sure the shared Redis answers on 6379. Returns the instance when this call started it,
 * `undefined` when one was already running (reused).
 */
export async function ensureRedis(): Promise<ServiceInstance | undefined> {
  if (await redisService.isReady()) return undefined;
  if (await awaitStartingShared("redis", redisService.isReady, 20_000)) return undefined;
  const binary = await ensureExecutable("redis-server", "redis-server");
  const dir = servicePath("redis");
  const instance = new ManagedProcess({
    name: "redis",
    endpoint,
    shared: true,
    match: "redis-server",
    launch: () => ({
      cmd: binary,
      args: [
        "--bind",
        "127.0.0.1",
        "--port",
        String(REDIS_PORT),
        "--dir",
        dir,
        "--daemonize",
        "no",
        "--save",
        "",
        "--appendonly",
        "no",
      ],
    }),
    probe: () => pingRedis(REDIS_PORT),
    readyTimeoutMs: 20_000,
  });
  await instance.start();
  return instance;
}

/** Options of {@linkcode startRedis}. */
export interface StartRedisOptions {
  /** Port (default: a free one from 16400 up). */
  readonly port?: number;
  /** Append-only file on (with `appendfsync always`, so a kill loses nothing acknowledged). */
  readonly aof?: boolean;
  /** Password of the default user (`requirepass`). */
  readonly password?: string;
  /** An extra ACL user with full rights. */
  readonly aclUser?: { readonly user: string; readonly password: string };
}

/** A private Redis for failure tests. */
export interface RedisInstance extends ServiceInstance {
  /** Connection URL, with credentials when a password or ACL user was configured. */
  readonly url: string;
  /** Data folder (kept across restarts). */
  readonly dataDir: string;
}

/**
 * Starts a private `redis-server` on its own port and data folder (emptied first). Without AOF,
 * a graceful stop still saves an RDB snapshot, so `restart()` keeps the data; with AOF even a
 * kill keeps every acknowledged write.
 */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisInstance> {
  const binary = await ensureExecutable("redis-server", "redis-server");
  const port = opts.port ?? findFreePort();
  const name = `redis-${opts.aof ? "aof-" : ""}${port}`;
  const dataDir = `${SERVICES_DIR}/instances/${name}`;
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  servicePath("instances", name);
  const args = [
    "--bind",
    "127.0.0.1",
    "--port",
    String(port),
    "--dir",
    dataDir,
    "--daemonize",
    "no",
    "--save",
    "3600 1",
    "--appendonly",
    opts.aof ? "yes" : "no",
  ];
  if (opts.aof) args.push("--appendfsync", "always");
  if (opts.password !== undefined) args.push("--requirepass", opts.password);
  if (opts.aclUser) {
    args.push("--user", opts.aclUser.user, "on", `>${opts.aclUser.password}`, "~*", "&*", "+@all");
  }
  const auth: RedisAuth = opts.aclUser
    ? { user: opts.aclUser.user, password: opts.aclUser.password }
    : opts.password !== undefined
    ? { password: opts.password }
    : {};
  const managed = new ManagedProcess({
    name,
    endpoint: { host: "127.0.0.1", port },
    launch: () => ({ cmd: binary, args }),
    probe: () => pingRedis(port, auth),
    readyTimeoutMs: 20_000,
  });
  await managed.start();
  const cred = auth.password !== undefined
    ? `${encodeURIComponent(auth.user ?? "")}:${encodeURIComponent(auth.password)}@`
    : "";
  return {
    name,
    endpoint: managed.endpoint,
    get pid() {
      return managed.pid;
    },
    url: `redis://${cred}127.0.0.1:${port}`,
    dataDir,
    stop: () => managed.stop(),
    kill: () => managed.kill(),
    restart: () => managed.restart(),
  };
}
