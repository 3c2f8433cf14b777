/**
 * The README's first command (`deno task example`) keeps doing what the README says.
 */

import assert from "node:assert/strict";

Deno.test("the memory example shows a session store, a shared map, JOIN and DISPATCH across two nodes", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", new URL("../examples/memory_cluster.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.match(text, /session-42 user: \{ name: "Ada", avatar: Uint8Array\(4\)/);
  assert.match(text, /visitors: \{ lobby: 1 \}/);
  assert.match(text, /node-b host: join session-42 -> lobby \(from node-a\)/);
  assert.match(
    text,
    /node-b host: dispatch to room "lobby": \["chat","hello from node-a"\] \(from node-a\)/,
  );
  assert.match(text, /session-42 after disconnect: undefined/);
});
