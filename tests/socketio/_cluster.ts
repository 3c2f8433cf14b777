/**
 * Starts test nodes (`_server.ts`) as child processes: on Deno directly, on Node from a bundle
 * made once per test process with `deno bundle`.
 */

import type { TestNode } from "./_suite.ts";

/** Runtime of one node. */
export type Runtime = "deno" | "node";

const ROOT = new URL("../../", import.meta.url);
const SERVER = new URL("tests/socketio/_server.ts", ROOT).pathname;
const BUNDLE_DIR = new URL(".services/socketio/node/", ROOT).pathname;

/**
 * Files that bundled packages read next to their own module at run time, as
 * `[package directory in the npm cache, file inside it]`; copied so that the bundle finds them at
 * the same relative place (`<bundle dir>/../dist/...`).
 */
const BUNDLE_ASSETS: readonly [string, string][] = [[
  "@platformatic/wasm-utils",
  "dist/native.wasm",
]];

async function copyAssets(): Promise<void> {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
  })
    .output();
  const npmCache = JSON.parse(new TextDecoder().decode(info.stdout)).npmCache as string;
  for (const [pkg, file] of BUNDLE_ASSETS) {
    const dir = `${npmCache}/registry.npmjs.org/${pkg}`;
    const versions = await Array.fromAsync(Deno.readDir(dir)).catch(() => []);
    for (const entry of versions) {
      if (!entry.isDirectory) continue;
      const source = `${dir}/${entry.name}/${file}`;
      const target = new URL(`../${file}`, `file://${BUNDLE_DIR}`).pathname;
      await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
      await Deno.copyFile(source, target).catch(() => {});
    }
  }
}

let bundle: Promise<string> | undefined;

/** Bundles `_server.ts` for Node (once per test module, under a unique name); resolves its path. */
export function nodeBundle(): Promise<string> {
  bundle ??= (async () => {
    await Deno.mkdir(BUNDLE_DIR, { recursive: true });
    const target = `${BUNDLE_DIR}server-${crypto.randomUUID()}.mjs`;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "deno", "-o", target, SERVER],
      cwd: ROOT.pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(`deno bundle failed: ${new TextDecoder().decode(output.stderr)}`);
    }
    await copyAssets();
    return target;
  })();
  return bundle;
}

/** Removes this process's bundle (call once, at the end of a test module). */
export async function removeNodeBundle(): Promise<void> {
  if (!bundle) return;
  const path = await bundle.catch(() => undefined);
  bundle = undefined;
  if (path) await Deno.remove(path).catch(() => {});
}

interface Running {
  readonly child: Deno.ChildProcess;
  readonly output: Promise<void>;
  readonly log: string[];
  exited: boolean;
}

async function pump(
  stream: ReadableStream<Uint8Array>,
  log: string[],
  onLine?: (line: string) => void,
): Promise<void> {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    let index;
    while ((index = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, index);
      pending = pending.slice(index + 1);
      log.push(line);
      onLine?.(line);
    }
  }
  if (pending) log.push(pending);
}

/** A cluster of child-process nodes. */
export interface ProcessCluster {
  /** The nodes, in the order of `runtimes`. */
  readonly nodes: TestNode[];
  /** Output of every node (for failure messages). */
  readonly logs: () => string;
  /** Shuts every node down (gracefully, then by force) and waits for the processes. */
  readonly close: () => Promise<void>;
}

/** Options of {@linkcode startCluster}. */
export interface ClusterOptions {
  /** Backend variables (`SOCKETIO4TS_*`). */
  readonly env: Record<string, string>;
  /** Runtime of each node; Deno, Node, Deno by default. */
  readonly runtimes?: readonly Runtime[];
  /** Enables connection state recovery on every node. */
  readonly recovery?: boolean;
  /** Heartbeat interval and timeout (ms); 300 / 2000 by default. */
  readonly heartbeatMs?: number;
  /** Heartbeat timeout (ms). */
  readonly heartbeatTimeoutMs?: number;
}

/** Starts the nodes in parallel and waits until each prints `READY`. */
export async function startCluster(options: ClusterOptions): Promise<ProcessCluster> {
  const runtimes = options.runtimes ?? ["deno", "node", "deno"];
  const running: Running[] = [];
  const nodes: TestNode[] = [];
  const close = async () => {
    await Promise.all(running.map(async (run, i) => {
      if (!run.exited) {
        const url = nodes[i]?.url;
        if (url) {
          await fetch(`${url}/control`, {
            method: "POST",
            body: JSON.stringify({ op: "shutdown" }),
          }).then((r) => r.body?.cancel()).catch(() => {});
        }
        const timer = setTimeout(() => {
          try {
            run.child.kill("SIGKILL");
          } catch {
            // already gone
          }
        }, 5000);
        await run.child.status;
        clearTimeout(timer);
        run.exited = true;
      }
      await run.output;
    }));
  };
  try {
    const bundlePath = runtimes.includes("node") ? await nodeBundle() : undefined;
    await Promise.all(runtimes.map(async (runtime, i) => {
      const name = `${runtime}-${i}`;
      const command = runtime === "deno"
        ? new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", SERVER],
          cwd: ROOT.pathname,
          env: envFor(name, options),
          stdout: "piped",
          stderr: "piped",
        })
        : new Deno.Command("node", {
          // Node 20 has no global WebSocket without the flag (NATS over WebSocket needs one).
          args: ["--experimental-websocket", "--no-warnings", bundlePath!],
          cwd: ROOT.pathname,
          env: envFor(name, options),
          stdout: "piped",
          stderr: "piped",
        });
      const child = command.spawn();
      const log: string[] = [];
      const ready = Promise.withResolvers<number>();
      const output = Promise.all([
        pump(child.stdout, log, (line) => {
          const match = /^READY (\d+)/.exec(line);
          if (match) ready.resolve(Number(match[1]));
        }),
        pump(child.stderr, log),
      ]).then(() => ready.reject(new Error(`${name} exited before READY:\n${log.join("\n")}`)));
      const run: Running = { child, output, log, exited: false };
      running[i] = run;
      child.status.then(() => run.exited = true);
      const timer = setTimeout(
        () => ready.reject(new Error(`${name} not READY in 60 s:\n${log.join("\n")}`)),
        60_000,
      );
      const port = await ready.promise.finally(() => clearTimeout(timer));
      const url = `http://127.0.0.1:${port}`;
      nodes[i] = {
        name,
        url,
        control: async (op, args) => {
          const response = await fetch(`${url}/control`, {
            method: "POST",
            body: JSON.stringify({ op, args }),
          });
          const body = await response.json();
          if (!response.ok) throw new Error(`${name} ${op}: ${JSON.stringify(body)}`);
          return body;
        },
        kill: async () => {
          child.kill("SIGKILL");
          await child.status;
          run.exited = true;
        },
      };
    }));
  } catch (error) {
    await close();
    throw error;
  }
  return {
    nodes,
    logs: () =>
      running.map((run, i) => `--- ${nodes[i]?.name ?? i}\n${run.log.join("\n")}`).join("\n"),
    close,
  };
}

function envFor(name: string, options: ClusterOptions): Record<string, string> {
  return {
    ...options.env,
    SIO_NODE_NAME: name,
    SIO_RECOVERY: options.recovery ? "1" : "0",
    SIO_HEARTBEAT_MS: String(options.heartbeatMs ?? 300),
    SIO_HEARTBEAT_TIMEOUT_MS: String(options.heartbeatTimeoutMs ?? 2000),
  };
}
