/**
 * Edge purity: the entry points meant for serverless and edge runtimes (`mod.ts` with the memory
 * backends, `./redis` used over REST, `./nats` used over WebSocket) reach no `node:` module and no
 * Node-only package. Checked two ways per entry point: the module graph (`deno info --json`) and
 * a browser-platform bundle (`deno bundle --platform=browser`), which would keep `node:` imports.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

/** npm packages an edge entry point may reach: platform-neutral, web APIs only. */
const EDGE_SAFE_PACKAGES = [
  "@msgpack/msgpack",
  "@nats-io/nats-core",
  "@nats-io/jetstream",
  "@nats-io/nuid",
  "@nats-io/nkeys",
  "tweetnacl",
];

const ENTRY_POINTS = ["mod.ts", "src/memory/mod.ts", "src/redis/mod.ts", "src/nats/mod.ts"];

async function run(args: string[]): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout);
}

for (const entry of ENTRY_POINTS) {
  Deno.test(`${entry} reaches no node: module and only edge-safe npm packages`, async () => {
    const info = JSON.parse(await run(["info", "--json", entry])) as {
      modules: { specifier: string; dependencies?: { specifier: string }[] }[];
    };
    const specifiers = info.modules.flatMap((module) => [
      module.specifier,
      ...(module.dependencies ?? []).map((dependency) => dependency.specifier),
    ]);
    assert.ok(
      info.modules.some((module) => module.specifier.endsWith(entry)),
      "the graph holds the entry point",
    );
    assert.deepStrictEqual(specifiers.filter((specifier) => specifier.startsWith("node:")), []);
    const packages = info.modules
      .map((module) => /^npm:\/?(@[^/@]+\/[^/@]+|[^/@]+)@/.exec(module.specifier)?.[1])
      .filter((name): name is string => name !== undefined);
    assert.deepStrictEqual(packages.filter((name) => !EDGE_SAFE_PACKAGES.includes(name)), []);
  });

  Deno.test(`${entry} bundles for the browser platform with no node: import`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "socketio4ts-purity-" });
    try {
      await run(["bundle", "--quiet", "--platform=browser", "-o", `${dir}/out.js`, entry]);
      const code = await Deno.readTextFile(`${dir}/out.js`);
      assert.ok(code.length > 1000, "the bundle holds the code");
      assert.doesNotMatch(code, /(?:from\s*|import\s*\(\s*|require\(\s*)["']node:/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
