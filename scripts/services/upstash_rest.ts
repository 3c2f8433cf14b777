/**
 * A real HTTP server speaking the REST protocol that `@upstash/redis` 1.39 uses, on top of a real
 * Redis (reached with node-redis over TCP, RESP2, which matches the reply shapes the client
 * expects). Test fixture of the harness, not a mock: every command runs on Redis.
 *
 * Protocol (checked against the client's source):
 * - `POST /` with a JSON array command → `{"result": …}`, or a non-2xx `{"error": "ERR …"}`.
 * - `POST /pipeline` with an array of commands → `[{"result": …} | {"error": …}, …]` (HTTP 200).
 * - `POST /multi-exec` → the same shape, run inside `MULTI`/`EXEC` on one connection.
 * - `authorization: Bearer <token>`; wrong or missing → 401 `{"error": …}`.
 * - `Upstash-Encoding: base64`: every string in the result is base64 (UTF-8 bytes) except a plain
 *   `"OK"` status; integers stay numbers, nil stays `null`, arrays nest.
 * - An `upstash-sync-token` header on every response (the client echoes it back).
 * - `POST /subscribe/<channel>` and `POST /psubscribe/<pattern>`: server-sent events
 *   `data: subscribe,<channel>,<count>` then `data: message,<channel>,<payload>` (pattern:
 *   `data: pmessage,<pattern>,<channel>,<payload>`); the subscription ends when the client aborts.
 *
 * Run as a program: `deno run -A scripts/services/upstash_rest.ts --port 18079 --token T
 * --redis-url redis://127.0.0.1:6379`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createClient, RESP_TYPES } from "redis";
import { awaitStartingShared, ManagedProcess, REPO_ROOT } from "./_process.ts";
import type { ServiceDefinition, ServiceEndpoint, ServiceInstance } from "./_types.ts";

/** Port of the shared REST endpoint. */
export const UPSTASH_PORT = 18079;
/** Bearer token of the shared REST endpoint. */
export const UPSTASH_TOKEN = "socketio4ts-local-token";
/** Redis behind the shared REST endpoint. */
export const UPSTASH_REDIS_URL = "redis://127.0.0.1:6379";

/** Commands refused over REST (connection state cannot live across HTTP requests). */
const REFUSED = new Set([
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
  "monitor",
  "multi",
  "exec",
  "discard",
  "watch",
  "unwatch",
  "select",
  "auth",
  "hello",
  "reset",
  "quit",
  "sync",
  "psync",
]);

function newRedisClient(url: string) {
  const client = createClient({
    url,
    RESP: 2,
    socket: { reconnectStrategy: false, connectTimeout: 2_000 },
  }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  client.on("error", () => {
    // surfaced through the failing command instead
  });
  return client;
}

type RedisConn = ReturnType<typeof newRedisClient>;

/** A tiny pool of node-redis connections; each request borrows one exclusively. */
class ConnectionPool {
  #url: string;
  #idle: RedisConn[] = [];
  #all = new Set<RedisConn>();
  #closed = false;

  constructor(url: string) {
    this.#url = url;
  }

  async #acquire(): Promise<RedisConn> {
    while (this.#idle.length > 0) {
      const conn = this.#idle.pop()!;
      if (conn.isReady) return conn;
      this.#discard(conn);
    }
    const conn = newRedisClient(this.#url);
    this.#all.add(conn);
    try {
      await conn.connect();
    } catch (error) {
      this.#discard(conn);
      throw error;
    }
    return conn;
  }

  #discard(conn: RedisConn): void {
    this.#all.delete(conn);
    try {
      conn.destroy();
    } catch {
      // already closed
    }
  }

  /** Runs `fn` with an exclusive connection. */
  async use<T>(fn: (conn: RedisConn) => Promise<T>): Promise<T> {
    const conn = await this.#acquire();
    try {
      return await fn(conn);
    } finally {
      if (this.#closed || !conn.isReady) this.#discard(conn);
      else this.#idle.push(conn);
    }
  }

  /** A dedicated connection (for pub/sub); closed by the caller with `destroy()`. */
  async dedicated(): Promise<RedisConn> {
    const conn = newRedisClient(this.#url);
    try {
      await conn.connect();
    } catch (error) {
      conn.destroy();
      throw error;
    }
    return conn;
  }

  /** Closes every connection. */
  close(): void {
    this.#closed = true;
    for (const conn of [...this.#all]) this.#discard(conn);
    this.#idle = [];
  }
}

/** A JSON-ready reply value. */
type JsonReply = string | number | null | JsonReply[] | { error: string };

function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.trim() || "ERR unknown error";
}

/**
 * Maps a RESP2 reply (node-redis with blob strings as Buffers) to the JSON Upstash returns.
 * `"OK"` status replies stay plain; other strings are base64 when `base64` is set.
 */
export function toUpstashReply(reply: unknown, base64: boolean): JsonReply {
  if (reply === null || reply === undefined) return null;
  if (typeof reply === "number") return reply;
  if (typeof reply === "bigint") return Number(reply);
  if (typeof reply === "boolean") return reply ? 1 : 0;
  if (reply instanceof Uint8Array) {
    return base64 ? Buffer.from(reply).toString("base64") : new TextDecoder().decode(reply);
  }
  if (typeof reply === "string") {
    if (reply === "OK" || !base64) return reply;
    return Buffer.from(reply, "utf8").toString("base64");
  }
  if (Array.isArray(reply)) return reply.map((item) => toUpstashReply(item, base64));
  if (reply instanceof Error) return errorMessage(reply);
  if (reply instanceof Map) {
    return [...reply.entries()].flatMap(([k, v]) => [
      toUpstashReply(k, base64),
      toUpstashReply(v, base64),
    ]);
  }
  return String(reply);
}

function normaliseCommand(raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new Error("ERR the request body must be a non-empty JSON array command");
  }
  return raw.map((arg) =>
    typeof arg === "string" ? arg : typeof arg === "object" ? JSON.stringify(arg) : String(arg)
  );
}

function checkAllowed(command: string[]): void {
  const name = command[0]!.toLowerCase();
  if (REFUSED.has(name)) {
    throw new Error(
      `ERR Command is not available over REST: '${name}'` +
        (name.endsWith("subscribe") ? " (use /subscribe or /psubscribe)" : ""),
    );
  }
}

/** Options of {@linkcode createUpstashHandler}. */
export interface UpstashHandlerOptions {
  /** Required bearer token. */
  readonly token: string;
  /** Redis URL. */
  readonly redisUrl: string;
}

/** A request handler plus its cleanup. */
export interface UpstashHandler {
  /** Handles one HTTP request. */
  handle(request: Request): Promise<Response>;
  /** Ends open subscriptions and closes the Redis connections. */
  close(): Promise<void>;
}

/** Builds the request handler (used by {@linkcode startUpstashRest} and the program entry). */
export function createUpstashHandler(opts: UpstashHandlerOptions): UpstashHandler {
  const pool = new ConnectionPool(opts.redisUrl);
  const streams = new Set<() => Promise<void>>();
  let syncToken = 0;

  function json(body: unknown, status = 200): Response {
    syncToken++;
    return new Response(JSON.stringify(body), {
      status,
      headers: {
        "content-type": "application/json",
        "upstash-sync-token": String(syncToken),
      },
    });
  }

  async function runOne(conn: RedisConn, command: string[], base64: boolean) {
    checkAllowed(command);
    const reply = await conn.sendCommand(command);
    return toUpstashReply(reply, base64);
  }

  async function single(body: unknown, base64: boolean): Promise<Response> {
    try {
      const command = normaliseCommand(body);
      const result = await pool.use((conn) => runOne(conn, command, base64));
      return json({ result });
    } catch (error) {
      return json({ error: errorMessage(error) }, 400);
    }
  }

  async function pipeline(body: unknown, base64: boolean): Promise<Response> {
    if (!Array.isArray(body) || body.length === 0) {
      return json({ error: "ERR the pipeline body must be a non-empty array of commands" }, 400);
    }
    try {
      const results = await pool.use((conn) =>
        Promise.all(body.map(async (raw) => {
          try {
            return { result: await runOne(conn, normaliseCommand(raw), base64) };
          } catch (error) {
            return { error: errorMessage(error) };
          }
        }))
      );
      return json(results);
    } catch (error) {
      return json({ error: errorMessage(error) }, 500);
    }
  }

  async function multiExec(body: unknown, base64: boolean): Promise<Response> {
    if (!Array.isArray(body) || body.length === 0) {
      return json({ error: "ERR the transaction body must be a non-empty array of commands" }, 400);
    }
    let commands: string[][];
    try {
      commands = body.map(normaliseCommand);
      commands.forEach(checkAllowed);
    } catch (error) {
      return json({ error: errorMessage(error) }, 400);
    }
    try {
      return await pool.use(async (conn) => {
        await conn.sendCommand(["MULTI"]);
        const queued = await Promise.allSettled(commands.map((c) => conn.sendCommand(c)));
        const firstError = queued.find((q) => q.status === "rejected");
        if (firstError) {
          await conn.sendCommand(["DISCARD"]).catch(() => {});
          return json({
            error: `EXECABORT Transaction discarded because of: ${
              errorMessage((firstError as PromiseRejectedResult).reason)
            }`,
          }, 400);
        }
        const replies = await conn.sendCommand(["EXEC"]);
        if (!Array.isArray(replies)) {
          return json({ error: "EXECABORT Transaction aborted" }, 400);
        }
        return json(
          replies.map((reply: unknown) =>
            reply instanceof Error
              ? { error: errorMessage(reply) }
              : { result: toUpstashReply(reply, base64) }
          ),
        );
      });
    } catch (error) {
      return json({ error: errorMessage(error) }, 500);
    }
  }

  async function subscribe(target: string, pattern: boolean): Promise<Response> {
    let conn: RedisConn;
    try {
      conn = await pool.dedicated();
    } catch (error) {
      return json({ error: errorMessage(error) }, 500);
    }
    const encoder = new TextEncoder();
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    let closed = false;
    const send = (line: string) => {
      if (closed || !controller) return;
      try {
        controller.enqueue(encoder.encode(`data: ${line}\n\n`));
      } catch {
        void cleanup();
      }
    };
    const cleanup = async () => {
      if (closed) return;
      closed = true;
      streams.delete(cleanup);
      try {
        conn.destroy();
      } catch {
        // closed
      }
      try {
        controller?.close();
      } catch {
        // already closed or errored
      }
      await Promise.resolve();
    };
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
      },
      cancel() {
        void cleanup();
      },
    });
    streams.add(cleanup);
    try {
      if (pattern) {
        await conn.pSubscribe(target, (message: string, channel: string) => {
          send(`pmessage,${target},${channel},${message}`);
        });
        send(`psubscribe,${target},1`);
      } else {
        await conn.subscribe(target, (message: string, channel: string) => {
          send(`message,${channel},${message}`);
        });
        send(`subscribe,${target},1`);
      }
    } catch (error) {
      await cleanup();
      return json({ error: errorMessage(error) }, 500);
    }
    syncToken++;
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "upstash-sync-token": String(syncToken),
      },
    });
  }

  async function handle(request: Request): Promise<Response> {
    const auth = request.headers.get("authorization") ?? "";
    if (auth !== `Bearer ${opts.token}`) {
      await request.body?.cancel();
      return json({ error: "Unauthorized: invalid or missing bearer token" }, 401);
    }
    if (request.method !== "POST") {
      await request.body?.cancel();
      return json({ error: "ERR only POST is supported" }, 405);
    }
    const url = new URL(request.url);
    const base64 = (request.headers.get("upstash-encoding") ?? "").toLowerCase() === "base64";
    const parts = url.pathname.split("/").filter((p) => p !== "");
    if (parts[0] === "subscribe" || parts[0] === "psubscribe") {
      await request.body?.cancel();
      const target = decodeURIComponent(parts.slice(1).join("/"));
      if (!target) return json({ error: "ERR missing channel" }, 400);
      return subscribe(target, parts[0] === "psubscribe");
    }
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return json({ error: "ERR the request body is not valid JSON" }, 400);
    }
    if (parts.length === 0) return single(body, base64);
    if (parts.length === 1 && parts[0] === "pipeline") return pipeline(body, base64);
    if (parts.length === 1 && parts[0] === "multi-exec") return multiExec(body, base64);
    return json({ error: `ERR unknown path ${url.pathname}` }, 404);
  }

  async function close(): Promise<void> {
    await Promise.all([...streams].map((c) => c()));
    pool.close();
  }

  return { handle, close };
}

/**
 * Probe: an authorised `PING` through the REST API (plain encoding) answered with `PONG`.
 */
export async function pingUpstash(
  port: number,
  token: string,
  timeoutMs = 2_000,
): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(["PING"]),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    return response.ok && (JSON.parse(text) as { result?: unknown }).result === "PONG";
  } catch {
    return false;
  }
}

const sharedEndpoint: ServiceEndpoint = {
  host: "127.0.0.1",
  port: UPSTASH_PORT,
  extra: { url: `http://127.0.0.1:${UPSTASH_PORT}`, token: UPSTASH_TOKEN },
};

/** The shared Upstash REST endpoint on 18079 (backed by the shared Redis). */
export const upstashService: ServiceDefinition = {
  name: "upstash",
  endpoint: sharedEndpoint,
  startHint: "deno task services:up redis upstash",
  isReady: () => pingUpstash(UPSTASH_PORT, UPSTASH_TOKEN),
};

/** Options of {@linkcode startUpstashRest}. */
export interface StartUpstashOptions {
  /** Port (default: a free one chosen by the OS). */
  readonly port?: number;
  /** Bearer token (default {@linkcode UPSTASH_TOKEN}). */
  readonly token?: string;
  /** Redis URL (default `redis://127.0.0.1:6379`). */
  readonly redisUrl?: string;
  /**
   * Run as a child process (`deno run` of this file) instead of in this process; `kill()` then
   * really kills a process.
   */
  readonly childProcess?: boolean;
}

/** A running REST endpoint. */
export interface UpstashInstance extends ServiceInstance {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The bearer token. */
  readonly token: string;
}

/** Command-line arguments of the program entry. */
function programArgs(port: number, token: string, redisUrl: string): string[] {
  return [
    "run",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "--allow-sys",
    `${REPO_ROOT}/scripts/services/upstash_rest.ts`,
    "--port",
    String(port),
    "--token",
    token,
    "--redis-url",
    redisUrl,
  ];
}

function freeEphemeralPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Starts a REST endpoint backed by Redis, in this process (default) or as a child process, and
 * resolves once an authorised PING goes through. `restart()` serves again on the same port.
 */
export async function startUpstashRest(opts: StartUpstashOptions = {}): Promise<UpstashInstance> {
  const token = opts.token ?? UPSTASH_TOKEN;
  const redisUrl = opts.redisUrl ?? UPSTASH_REDIS_URL;
  const port = opts.port ?? freeEphemeralPort();
  const endpoint: ServiceEndpoint = {
    host: "127.0.0.1",
    port,
    extra: { url: `http://127.0.0.1:${port}`, token },
  };
  const url = `http://127.0.0.1:${port}`;
  if (opts.childProcess) {
    const managed = new ManagedProcess({
      name: `upstash-${port}`,
      endpoint,
      launch: () => ({ cmd: Deno.execPath(), args: programArgs(port, token, redisUrl) }),
      probe: () => pingUpstash(port, token),
      readyTimeoutMs: 30_000,
    });
    await managed.start();
    return {
      name: managed.name,
      endpoint,
      get pid() {
        return managed.pid;
      },
      url,
      token,
      stop: () => managed.stop(),
      kill: () => managed.kill(),
      restart: () => managed.restart(),
    };
  }
  let running: { server: Deno.HttpServer; handler: UpstashHandler } | undefined;
  const start = () => {
    const handler = createUpstashHandler({ token, redisUrl });
    const server = Deno.serve(
      { hostname: "127.0.0.1", port, onListen: () => {} },
      (request) => handler.handle(request),
    );
    running = { server, handler };
  };
  const stop = async () => {
    const current = running;
    if (!current) return;
    running = undefined;
    await current.handler.close();
    await current.server.shutdown();
  };
  start();
  return {
    name: `upstash-${port}`,
    endpoint,
    get pid() {
      return running ? Deno.pid : undefined;
    },
    url,
    token,
    stop,
    kill: stop,
    restart: async () => {
      await stop();
      start();
      if (!await pingUpstash(port, token)) {
        throw new Error(`upstash REST endpoint on ${port} did not answer PING after restart`);
      }
    },
  };
}

/**
 * Makes sure the shared REST endpoint answers on 18079 (a detached `deno run` of this file).
 * Returns the instance when this call started it, `undefined` when one was already running.
 */
export async function ensureUpstash(): Promise<ServiceInstance | undefined> {
  if (await upstashService.isReady()) return undefined;
  if (await awaitStartingShared("upstash", upstashService.isReady, 30_000)) return undefined;
  const instance = new ManagedProcess({
    name: "upstash",
    endpoint: sharedEndpoint,
    shared: true,
    match: "upstash_rest.ts",
    launch: () => ({
      cmd: Deno.execPath(),
      args: programArgs(UPSTASH_PORT, UPSTASH_TOKEN, UPSTASH_REDIS_URL),
    }),
    probe: upstashService.isReady,
    readyTimeoutMs: 30_000,
  });
  await instance.start();
  return instance;
}

function argValue(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}

if (import.meta.main) {
  const args = Deno.args;
  const port = Number(argValue(args, "--port") ?? UPSTASH_PORT);
  const token = argValue(args, "--token") ?? UPSTASH_TOKEN;
  const redisUrl = argValue(args, "--redis-url") ?? UPSTASH_REDIS_URL;
  const handler = createUpstashHandler({ token, redisUrl });
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port,
      onListen: ({ port }) =>
        console.log(`upstash REST fixture on http://127.0.0.1:${port} → ${redisUrl}`),
    },
    (request) => handler.handle(request),
  );
  const shutdown = async () => {
    console.log("shutting down");
    await handler.close();
    await server.shutdown();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => void shutdown());
  Deno.addSignalListener("SIGINT", () => void shutdown());
}
