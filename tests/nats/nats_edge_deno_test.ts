/**
 * The WebSocket path of `./nats` is edge-safe: walking the module graph of `src/nats/mod.ts`
 * (`deno info --json`) reaches no `node:` module, neither in our modules nor in the npm packages
 * they load, and never reaches the TCP transport (`@nats-io/transport-node`).
 */

import assert from "node:assert/strict";

interface InfoModule {
  readonly specifier: string;
  readonly dependencies?: readonly { readonly specifier: string }[];
}

interface InfoJson {
  readonly modules: readonly InfoModule[];
  readonly npmPackages: Readonly<
    Record<
      string,
      { readonly name: string; readonly dependencies: readonly string[]; localPath?: string }
    >
  >;
}

const NODE_BUILTINS = [
  "assert",
  "buffer",
  "child_process",
  "crypto",
  "dgram",
  "dns",
  "events",
  "fs",
  "http",
  "https",
  "net",
  "os",
  "path",
  "process",
  "stream",
  "tls",
  "url",
  "util",
  "worker_threads",
  "zlib",
];

/** `require("x")`, `import("x")`, `from "x"` of a `node:` or bare built-in module, with its text. */
function builtinImports(source: string): string[] {
  const found: string[] = [];
  const pattern = /(?:require\s*\(|import\s*\(|from\s+)\s*["']([^"']+)["']/g;
  for (const match of source.matchAll(pattern)) {
    const target = match[1]!;
    if (target.startsWith("node:") || NODE_BUILTINS.includes(target)) found.push(target);
  }
  return found;
}

async function* jsFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && entry.name !== "node_modules") yield* jsFiles(path);
    else if (entry.isFile && /\.(c|m)?js$/.test(entry.name)) yield path;
  }
}

async function moduleGraph(entry: string): Promise<InfoJson> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout)) as InfoJson;
}

Deno.test("src/nats/mod.ts (the WebSocket path) reaches no node: module, in our code or its npm packages", async () => {
  const graph = await moduleGraph(new URL("../../src/nats/mod.ts", import.meta.url).pathname);
  const specifiers = graph.modules.flatMap((module) => [
    module.specifier,
    ...(module.dependencies ?? []).map((dependency) => dependency.specifier),
  ]);
  assert.deepStrictEqual(specifiers.filter((specifier) => specifier.startsWith("node:")), []);
  const localModules = graph.modules.filter((module) => module.specifier.startsWith("file:"));
  assert.ok(
    localModules.some((module) => module.specifier.endsWith("/src/nats/nats_event_store.ts")),
  );

  // npm packages reached: the roots named in the graph, then their dependencies.
  const reached = new Set<string>();
  const pending = graph.modules
    .filter((module) => module.specifier.startsWith("npm:"))
    .map((module) => module.specifier.replace(/^npm:\/?/, ""));
  while (pending.length > 0) {
    const id = pending.pop()!;
    if (reached.has(id)) continue;
    reached.add(id);
    pending.push(...(graph.npmPackages[id]?.dependencies ?? []));
  }
  const names = [...reached].map((id) => graph.npmPackages[id]?.name ?? id).sort();
  assert.deepStrictEqual(names, [
    "@msgpack/msgpack",
    "@nats-io/jetstream",
    "@nats-io/nats-core",
    "@nats-io/nkeys",
    "@nats-io/nuid",
    "tweetnacl",
  ]);
  assert.ok(!names.includes("@nats-io/transport-node"));

  // Their files: no node: import at all; a bare built-in only behind a browser-first guard.
  let scanned = 0;
  for (const id of reached) {
    const path = graph.npmPackages[id]?.localPath;
    assert.ok(path, `local copy of ${id}`);
    for await (const file of jsFiles(path)) {
      const source = await Deno.readTextFile(file);
      scanned++;
      for (const target of builtinImports(source)) {
        assert.ok(!target.startsWith("node:"), `${file} imports ${target}`);
        // tweetnacl takes Node's crypto only where no Web Crypto exists (never on Deno, browsers,
        // workers): `self.crypto` is tried first.
        const guard = source.indexOf("self.crypto");
        assert.ok(
          target === "crypto" && file.includes("/tweetnacl/") && guard !== -1 &&
            guard < source.search(/require\(\s*["']crypto["']\s*\)/),
          `${file} requires the built-in ${target}`,
        );
      }
    }
  }
  assert.ok(scanned > 50, `scanned ${scanned} files`);
});

Deno.test("the TCP transport is the one that needs node: modules (the check above can fail)", async () => {
  const graph = await moduleGraph("npm:@nats-io/transport-node@3.4.0");
  const pkg = Object.values(graph.npmPackages).find((p) => p.name === "@nats-io/transport-node");
  assert.ok(pkg?.localPath);
  const found: string[] = [];
  for await (const file of jsFiles(pkg.localPath)) {
    found.push(...builtinImports(await Deno.readTextFile(file)));
  }
  assert.ok(found.includes("node:net"), `found ${found}`);
});
