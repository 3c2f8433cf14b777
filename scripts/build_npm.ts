/**
 * Builds the npm package from the same source: `deno run -A scripts/build_npm.ts [--test]`.
 *
 * `@deno/dnt` cannot be fetched here (its registry is unreachable), so this script does the same
 * job with the TypeScript compiler from npm: it compiles `mod.ts`, `src/` and — for the Node test
 * run — `tests/` and `scripts/services/` into `npm/esm/` (`.ts` imports rewritten to `.js` by
 * `rewriteRelativeImportExtensions`, `.d.ts` beside each file), writes `npm/package.json` whose
 * `exports` mirror `deno.json`'s and whose dependencies come from `deno.json`'s `imports`, and
 * copies README and LICENSE. The options below follow dnt's `build()` options one for one, so
 * dnt can replace this file when it can be installed.
 *
 * With `--test`, it then installs the package's dependencies and runs the compiled test files on
 * Node with the `@deno/shim-deno` shim (see `scripts/test_npm.ts` for the runtime matrix).
 *
 * @module
 */

import ts from "typescript";

/** What to build, in the shape of dnt's `BuildOptions`. */
export interface BuildOptions {
  /** Entry points: `"."` plus one per subpath, exactly as in `deno.json` `exports`. */
  readonly entryPoints: readonly { readonly name: string; readonly path: string }[];
  /** Output folder. */
  readonly outDir: string;
  /** Extra files compiled for the test run, not published. */
  readonly testPaths: readonly string[];
  /** `package.json` fields besides exports and dependencies. */
  readonly package: Record<string, unknown>;
  /** Packages the user's server provides (never bundled as a second copy). */
  readonly peerDependencies: Readonly<Record<string, string>>;
  /**
   * Client libraries of the backends, by import name: optional peer dependencies (`^` the
   * pinned version), so a user installs only the clients of the backends they use; the test run
   * gets the pinned versions as dev dependencies.
   */
  readonly clientLibraries: readonly string[];
  /** Dev dependencies of the test run. */
  readonly devDependencies: Readonly<Record<string, string>>;
  /** Files copied next to `package.json`. */
  readonly copyFiles: readonly string[];
}

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

interface DenoConfig {
  name: string;
  version: string;
  license: string;
  exports: Record<string, string>;
  imports: Record<string, string>;
}

/** Reads `deno.json`. */
export function readDenoConfig(): DenoConfig {
  return JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`));
}

/** `npm:pkg@1.2.3` or `npm:@scope/pkg@1.2.3/sub` → `{ name, version }`; other specifiers → undefined. */
export function parseNpmSpecifier(
  specifier: string,
): { name: string; version: string } | undefined {
  const match = /^npm:(@[^/@]+\/[^/@]+|[^/@]+)@([^/]+)/.exec(specifier);
  return match ? { name: match[1]!, version: match[2]! } : undefined;
}

function jsPath(tsPath: string): string {
  return `./esm/${tsPath.replace(/^\.\//, "").replace(/\.ts$/, ".js")}`;
}

/** The `exports` map of `package.json`, mirroring `deno.json`'s. */
export function packageExports(
  entryPoints: BuildOptions["entryPoints"],
): Record<string, { types: string; import: string; default: string }> {
  const map: Record<string, { types: string; import: string; default: string }> = {};
  for (const { name, path } of entryPoints) {
    const js = jsPath(path);
    // `default` serves require(): Node versions that can require ES modules load it, older ones
    // say the package is ESM (rather than that the subpath is not exported).
    map[name] = { types: js.replace(/\.js$/, ".d.ts"), import: js, default: js };
  }
  return map;
}

/**
 * Fails when the two export maps differ (a subpath missing on one side, or pointing elsewhere).
 *
 * @throws {Error} naming each difference.
 */
export function assertExportsMatch(
  denoExports: Readonly<Record<string, string>>,
  npmExports: Readonly<Record<string, { import: string }>>,
): void {
  const problems: string[] = [];
  for (const [name, path] of Object.entries(denoExports)) {
    const npm = npmExports[name];
    if (!npm) problems.push(`${name} is exported by deno.json but not by package.json`);
    else if (npm.import !== jsPath(path)) {
      problems.push(`${name} points to ${npm.import} in package.json, expected ${jsPath(path)}`);
    }
  }
  for (const name of Object.keys(npmExports)) {
    if (!(name in denoExports)) {
      problems.push(`${name} is exported by package.json but not by deno.json`);
    }
  }
  if (problems.length > 0) throw new Error(`export maps differ:\n  ${problems.join("\n  ")}`);
}

function walk(path: string, out: string[]): void {
  const info = Deno.statSync(path);
  if (info.isFile) {
    if (path.endsWith(".ts")) out.push(path);
    return;
  }
  for (const entry of Deno.readDirSync(path)) walk(`${path}/${entry.name}`, out);
}

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`), or `undefined`. */
function packageOf(specifier: string): string | undefined {
  if (/^[./]/.test(specifier) || specifier.startsWith("node:")) return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/**
 * Packages the given sources import: their import and export statements and dynamic imports
 * (read by the TypeScript compiler, so comments and strings do not count).
 */
export function importedPackages(files: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(Deno.readTextFileSync(file), true, true);
    for (const { fileName } of importedFiles) {
      const name = packageOf(fileName);
      if (name) names.add(name);
    }
  }
  return names;
}

/**
 * Packages the given sources name in an import anywhere, doc comments included: the clients
 * their `@example` blocks open, which the library takes without importing them (node-redis,
 * `@upstash/redis`).
 */
export function mentionedPackages(files: readonly string[]): Set<string> {
  const names = new Set<string>();
  const pattern = /(?:from|import)\s*\(?\s*["']([^"']+)["']/g;
  for (const file of files) {
    for (const match of Deno.readTextFileSync(file).matchAll(pattern)) {
      const name = packageOf(match[1]!);
      if (name) names.add(name);
    }
  }
  return names;
}

function compile(files: readonly string[], outDir: string): void {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    rewriteRelativeImportExtensions: true,
    allowImportingTsExtensions: true,
    declaration: true,
    noCheck: true,
    skipLibCheck: true,
    strict: true,
    rootDir: ROOT,
    outDir,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts", "lib.esnext.d.ts"],
    types: [],
    sourceMap: false,
  };
  const program = ts.createProgram({ rootNames: [...files], options });
  const result = program.emit();
  const errors = result.diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) {
    const host: ts.FormatDiagnosticsHost = {
      getCanonicalFileName: (name) => name,
      getCurrentDirectory: () => ROOT,
      getNewLine: () => "\n",
    };
    throw new Error(`TypeScript emit failed:\n${ts.formatDiagnostics(errors, host)}`);
  }
}

/** Builds the package; returns the written `package.json`. */
export function build(options: BuildOptions): Record<string, unknown> {
  const config = readDenoConfig();
  const outDir = `${ROOT}/${options.outDir}`;
  const published: string[] = [];
  for (const { path } of options.entryPoints) {
    walk(`${ROOT}/${path.replace(/^\.\//, "")}`, published);
  }
  walk(`${ROOT}/src`, published);
  const testFiles: string[] = [];
  for (const path of options.testPaths) walk(`${ROOT}/${path}`, testFiles);
  const sources = [...new Set([...published, ...testFiles])];
  compile(sources, `${outDir}/esm`);

  const dependencies: Record<string, string> = {};
  const devDependencies: Record<string, string> = { ...options.devDependencies };
  const publishedImports = importedPackages(published);
  const documentedClients = mentionedPackages(published);
  const testImports = importedPackages(testFiles);
  const peerDependencies: Record<string, string> = { ...options.peerDependencies };
  for (const [name, specifier] of Object.entries(config.imports)) {
    const npm = parseNpmSpecifier(specifier);
    if (!npm || name in options.peerDependencies) continue;
    // A client library is an optional peer when the code imports it or its docs have users
    // open one to pass in; any other package is a dependency only when the code imports it.
    if (
      options.clientLibraries.includes(name) &&
      (publishedImports.has(name) || documentedClients.has(name))
    ) {
      peerDependencies[npm.name] = `^${npm.version}`;
      devDependencies[npm.name] = npm.version;
    } else if (publishedImports.has(name)) dependencies[npm.name] = npm.version;
    else if (testImports.has(name)) devDependencies[npm.name] = npm.version;
  }
  const exports = packageExports(options.entryPoints);
  assertExportsMatch(config.exports, exports);
  const pkg = {
    name: config.name,
    version: config.version,
    license: config.license,
    ...options.package,
    type: "module",
    exports,
    files: ["esm/mod.js", "esm/mod.d.ts", "esm/src/", "README.md", "LICENSE"],
    sideEffects: false,
    dependencies,
    peerDependencies,
    peerDependenciesMeta: Object.fromEntries(
      Object.keys(peerDependencies).map((name) => [name, { optional: true }]),
    ),
    devDependencies,
  };
  Deno.writeTextFileSync(`${outDir}/package.json`, JSON.stringify(pkg, null, 2) + "\n");
  for (const file of options.copyFiles) Deno.copyFileSync(`${ROOT}/${file}`, `${outDir}/${file}`);
  return pkg;
}

/** This project's build options. */
export function projectOptions(): BuildOptions {
  const config = readDenoConfig();
  return {
    entryPoints: Object.entries(config.exports).map(([name, path]) => ({ name, path })),
    outDir: "npm",
    testPaths: ["tests", "scripts/services", "examples"],
    package: {
      description:
        "Session storage and cluster event distribution for Socket.IO servers: memory, Redis, NATS, Kafka and Hazelcast, any storage with any event backend.",
      engines: { node: ">=20" },
      keywords: ["socket.io", "cluster", "adapter", "redis", "nats", "kafka", "hazelcast", "deno"],
    },
    // `./socketio` extends the server's own socket.io-adapter: a second copy would break it.
    peerDependencies: { "socket.io": "^4.8.0", "socket.io-adapter": "^2.5.4" },
    clientLibraries: [
      "redis",
      "@upstash/redis",
      "@nats-io/nats-core",
      "@nats-io/transport-node",
      "@nats-io/jetstream",
      "@platformatic/kafka",
      "kafkajs",
      "hazelcast-client",
    ],
    devDependencies: { "@deno/shim-deno": "0.19.2" },
    copyFiles: ["README.md", "LICENSE"],
  };
}

if (import.meta.main) {
  const started = performance.now();
  try {
    Deno.removeSync(`${ROOT}/npm/esm`, { recursive: true });
  } catch {
    // nothing to clean
  }
  Deno.mkdirSync(`${ROOT}/npm`, { recursive: true });
  const pkg = build(projectOptions());
  console.log(
    `built ${pkg.name}@${pkg.version} into npm/ in ${Math.round(performance.now() - started)} ms ` +
      `(exports: ${Object.keys(pkg.exports as object).join(", ")})`,
  );
}
