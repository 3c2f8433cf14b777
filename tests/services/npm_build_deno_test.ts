/**
 * The npm build's dependency scan (`scripts/build_npm.ts`): only real import statements make a
 * package a dependency; a client library that doc examples open counts as an optional peer.
 *
 * Deno-only: it reads the build script, which runs on Deno.
 */

import assert from "node:assert/strict";
import { importedPackages, mentionedPackages } from "../../scripts/build_npm.ts";

Deno.test("importedPackages counts import statements, not imports named in doc comments", async () => {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      file,
      `/**
 * @example
 * \`\`\`ts
 * import WebSocket from "ws";
 * import { createClient } from "redis";
 * \`\`\`
 */
import { encode } from "@msgpack/msgpack";
import type { Ringbuffer } from "hazelcast-client/lib/proxy/Ringbuffer";
export { connect } from "@nats-io/transport-node";
import process from "node:process";
import { local } from "./local.ts";
const later = () => import("@platformatic/kafka");
const text = 'import x from "not-a-package"';
`,
    );
    assert.deepStrictEqual(
      [...importedPackages([file])].sort(),
      ["@msgpack/msgpack", "@nats-io/transport-node", "@platformatic/kafka", "hazelcast-client"],
    );
    const mentioned = mentionedPackages([file]);
    assert.ok(mentioned.has("ws") && mentioned.has("redis"), [...mentioned].join(", "));
  } finally {
    await Deno.remove(file);
  }
});
