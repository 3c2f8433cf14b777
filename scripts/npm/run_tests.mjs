// Runs compiled Deno test files on Node (or Bun) with the @deno/shim-deno shim, registering each
// `Deno.test` definition with `node:test`. Usage: node run_tests.mjs <file.js>...
// Under `bun test` (whose argv is its own) the files come from SHIM_TEST_FILES, comma-separated.
// This is what dnt's generated test runner does; it lives here because dnt cannot be installed.
import { Deno } from "@deno/shim-deno";
import { testDefinitions } from "@deno/shim-deno/test-internals";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

globalThis.Deno = Deno;

function context(name, nodeContext) {
  return {
    name,
    origin: "",
    parent: undefined,
    async step(nameOrDef, maybeFn) {
      const stepName = typeof nameOrDef === "string" ? nameOrDef : nameOrDef.name;
      const fn = typeof nameOrDef === "string" ? maybeFn : nameOrDef.fn;
      await nodeContext.test(stepName, (inner) => fn(context(stepName, inner)));
      return true;
    },
  };
}

const files = process.env.SHIM_TEST_FILES
  ? process.env.SHIM_TEST_FILES.split(",")
  : process.argv.slice(2);

for (const file of files) {
  const first = testDefinitions.length;
  await import(pathToFileURL(resolve(file)).href);
  for (const definition of testDefinitions.slice(first)) {
    test(
      definition.name,
      definition.only === true
        ? { skip: definition.ignore === true, only: true }
        : { skip: definition.ignore === true },
      (nodeContext) => definition.fn(context(definition.name, nodeContext)),
    );
  }
}
