/**
 * Runs the test files against the npm build on every runtime of the matrix:
 * `deno run -A scripts/test_npm.ts [node20|node-lts|bun ...]` (all three by default).
 *
 * 1. builds the package (`scripts/build_npm.ts`) and installs its dependencies in `npm/`;
 * 2. installs the runtimes it lacks from their npm packages (`node` for the current LTS, `bun`)
 *    into the cache folder (`$SOCKETIO4TS_CACHE` or `~/.cache/socketio4ts`);
 * 3. runs the compiled test files — the same files `deno test` runs, compiled, importing the
 *    built package modules — with the `@deno/shim-deno` shim (`scripts/npm/run_tests.mjs`).
 *
 * Before the runtimes run, the package itself is checked for publishing: `publint`, and
 * `@arethetypeswrong/cli` (`--profile esm-only`) for every subpath's types as a Node ESM and a
 * bundler consumer resolves them.
 *
 * Test files that drive Deno itself (the harness smoke tests, the example test, module-graph
 * checks) are Deno-only and listed in {@linkcode DENO_ONLY}. Service gating works as under
 * Deno: absent services skip, or fail with `REQUIRE_SERVICES=1`. `NPM_TEST_FILTER=<regex>` runs
 * only the test files (paths under `tests/`, as `.js`) it matches. A file whose process runs
 * longer than {@linkcode FILE_TIMEOUT_MS} is killed and counts as failed.
 *
 * @module
 */

import { encodeProbed, PROBED_ENV, probeServices } from "../tests/_services.ts";
import { build, projectOptions } from "./build_npm.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
/**
 * Where the package is built and tested: `npm/` (dnt's place), or the folder (relative to the
 * repository) named by `NPM_OUT_DIR`, so a matrix run can use a folder no other build rewrites.
 */
const OUT_DIR = Deno.env.get("NPM_OUT_DIR") ?? "npm";
const NPM_DIR = `${ROOT}/${OUT_DIR}`;
const CACHE = Deno.env.get("SOCKETIO4TS_CACHE") ?? `${Deno.env.get("HOME")}/.cache/socketio4ts`;

/** Package linters, pinned. */
export const PACKAGE_CHECKS: readonly string[][] = [
  ["publint@0.3.25", "."],
  ["@arethetypeswrong/cli@0.18.5", "--pack", ".", "--profile", "esm-only"],
];

/** Runtime versions of the matrix (the npm packages `node` and `bun` ship the binaries). */
export const RUNTIME_PACKAGES = { "node-lts": "node@26.10.0", bun: "bun@1.4.4" } as const;

/** Test files (relative to `tests/`, as compiled `.js`) that only make sense under Deno. */
export const DENO_ONLY: readonly RegExp[] = [
  /^services\//, // the harness's own smoke tests drive Deno.Command / Deno.listen
  /^example_test\.js$/, // runs `deno task example`
  /_deno_test\.js$/, // by convention: Deno-only checks (module graphs, `deno info`)
  /^socketio\//, // starts Deno and Node server processes itself
];

/** Test files Bun runs: memory, core, Redis and NATS. */
export const BUN_SCOPE: readonly RegExp[] = [/^memory_test\.js$/, /^core\//, /^redis\//, /^nats\//];

type Runtime = "node20" | "node-lts" | "bun";

/**
 * Node flags per runtime: Node 20 has no global `WebSocket` (NATS over WebSocket needs one) unless
 * `--experimental-websocket` is given; Node 22+ has it built in.
 */
const NODE_FLAGS: Record<Runtime, string[]> = {
  "node20": ["--experimental-websocket"],
  "node-lts": [],
  "bun": [],
};

/** How long one test file may run before its process is killed and the file counts as failed. */
export const FILE_TIMEOUT_MS = 300_000;

function run(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
  timeoutMs?: number,
): Promise<number> {
  const signal = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
  return new Deno.Command(command, {
    args,
    cwd,
    env,
    stdout: "inherit",
    stderr: "inherit",
    ...(signal ? { signal } : {}),
  }).output().then((output) => {
    if (signal?.aborted) {
      console.error(`${command} ${args.join(" ")}: killed after ${timeoutMs} ms`);
      return 124;
    }
    return output.code;
  });
}

async function ensureRuntime(runtime: Exclude<Runtime, "node20">): Promise<string> {
  const spec = RUNTIME_PACKAGES[runtime];
  const dir = `${CACHE}/runtimes/${spec.replace("@", "-")}`;
  const bin = `${dir}/node_modules/.bin/${runtime === "bun" ? "bun" : "node"}`;
  try {
    Deno.statSync(bin);
    return bin;
  } catch {
    Deno.mkdirSync(dir, { recursive: true });
    const code = await run("npm", [
      "install",
      "--no-save",
      "--no-package-lock",
      "--no-audit",
      "--no-fund",
      spec,
    ], dir);
    if (code !== 0) throw new Error(`could not install ${spec} (npm exited ${code})`);
    return bin;
  }
}

function testFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory) walk(`${dir}/${entry.name}`, path);
      else if (entry.name.endsWith("_test.js")) files.push(path);
    }
  };
  walk(`${NPM_DIR}/esm/tests`, "");
  return files.sort().filter((file) => !DENO_ONLY.some((pattern) => pattern.test(file)));
}

/** Runs each test file in a process of its own (as `deno test` and `node --test` do). */
async function runOn(runtime: Runtime, files: string[]): Promise<string[]> {
  console.log(`\n=== ${runtime}: ${files.length} test files ===`);
  const bin = runtime === "node20" ? "node" : await ensureRuntime(runtime);
  if (runtime === "bun") {
    Deno.copyFileSync(`${NPM_DIR}/run_tests.mjs`, `${NPM_DIR}/run_tests.test.mjs`);
  }
  const failed: string[] = [];
  for (const file of files) {
    const path = `esm/tests/${file}`;
    console.log(`\n--- ${runtime} ${file}`);
    const code = runtime === "bun"
      ? await run(bin, ["test", "--timeout", "120000", "./run_tests.test.mjs"], NPM_DIR, {
        SHIM_TEST_FILES: path,
      }, FILE_TIMEOUT_MS)
      : await run(
        bin,
        [...NODE_FLAGS[runtime], "run_tests.mjs", path],
        NPM_DIR,
        {},
        FILE_TIMEOUT_MS,
      );
    if (code !== 0) failed.push(file);
  }
  return failed;
}

if (import.meta.main) {
  const requested = (Deno.args.length ? Deno.args : ["node20", "node-lts", "bun"]) as Runtime[];
  const started = performance.now();
  // Compiled files of renamed or deleted sources would otherwise run as stale tests.
  try {
    Deno.removeSync(`${NPM_DIR}/esm`, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const pkg = build({ ...projectOptions(), outDir: OUT_DIR });
  console.log(`built ${pkg.name}@${pkg.version}`);
  Deno.copyFileSync(`${ROOT}/scripts/npm/run_tests.mjs`, `${NPM_DIR}/run_tests.mjs`);
  const installed = await run(
    "npm",
    ["install", "--no-package-lock", "--no-audit", "--no-fund"],
    NPM_DIR,
  );
  if (installed !== 0) Deno.exit(installed);
  for (const [tool, ...args] of PACKAGE_CHECKS) {
    console.log(`\n=== ${tool} ${args.join(" ")} ===`);
    const code = await run("npx", ["--yes", tool!, ...args], NPM_DIR);
    if (code !== 0) {
      console.error(`${tool} found problems in the npm package (exit ${code})`);
      Deno.exit(code);
    }
  }
  const probes = await probeServices();
  Deno.env.set(PROBED_ENV, encodeProbed(probes));
  console.log(
    `\nservices: ${probes.map((p) => `${p.name} ${p.available ? "up" : "down"}`).join(", ")}`,
  );
  const only = Deno.env.get("NPM_TEST_FILTER");
  const all = testFiles().filter((file) => only === undefined || new RegExp(only).test(file));
  const results: [Runtime, number, string[]][] = [];
  for (const runtime of requested) {
    const files = runtime === "bun"
      ? all.filter((file) => BUN_SCOPE.some((p) => p.test(file)))
      : all;
    results.push([runtime, files.length, await runOn(runtime, files)]);
  }
  console.log(
    `\nnpm build test matrix (test files), ${Math.round((performance.now() - started) / 1000)} s:`,
  );
  for (const [runtime, count, failed] of results) {
    const list = failed.length ? `: ${failed.join(", ")}` : "";
    console.log(
      `${runtime}: ${count - failed.length} passed, ${failed.length} failed${list}`,
    );
  }
  Deno.exit(results.some(([, , failed]) => failed.length > 0) ? 1 : 0);
}
