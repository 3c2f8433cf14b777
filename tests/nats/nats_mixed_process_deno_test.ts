/**
 * Mixed transports in one cluster, one node per process as deployed: a node on WebSocket here and
 * a node on TCP in a child process exchange events in both directions, in both modes.
 */

import assert from "node:assert/strict";
import { EventStoreMode } from "../../mod.ts";
import { Inbox, randomPrefix, within } from "../conformance/_helpers.ts";
import { requireService, serviceTest } from "../_services.ts";
import { coreNode } from "./_nats.ts";

const nats = await requireService("nats");

async function readUntil(
  reader: ReadableStreamDefaultReader<string>,
  word: string,
  seen: string[],
): Promise<void> {
  while (!seen.join("").includes(word)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`child ended before printing ${word}: ${seen.join("")}`);
    seen.push(value);
  }
}

for (const mode of [EventStoreMode.MULTI_CHANNEL, EventStoreMode.SINGLE_CHANNEL]) {
  serviceTest(
    nats,
    `NatsEventStore [${mode}]: a WebSocket node and a TCP node in another process exchange events`,
    async () => {
      const prefix = randomPrefix("mixed");
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("./_tcp_node.ts", import.meta.url).pathname, prefix, mode],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const output: string[] = [];
      const ws = await coreNode("ws", { prefix, mode, nodeId: "ws-here" });
      try {
        await within(readUntil(reader, "ready", output), "the TCP node to subscribe", 30_000);
        const inbox = await new Inbox().listen(ws, "LEAVE");
        const rooms = Array.from({ length: 200 }, (_, index) => `room-${index}`);
        for (const room of rooms) {
          await ws.publish("JOIN", { sessionId: "s", namespace: "/", room });
        }
        await inbox.waitFor(rooms.length, "the TCP node's answers");
        assert.deepStrictEqual(
          inbox.messages.map((message) => message.type === "LEAVE" && message.room),
          rooms,
        );
        assert.ok(inbox.messages.every((message) => message.nodeId === "tcp-process"));
        await ws.publish("DISCONNECT", { sessionId: "s" });
        await within(readUntil(reader, "bye", output), "the TCP node to shut down");
        const status = await within(child.status, "the TCP node to exit");
        assert.equal(status.code, 0);
      } finally {
        await ws.shutdown();
        try {
          child.kill();
        } catch {
          // already exited
        }
        await child.status;
        await reader.cancel().catch(() => {});
      }
    },
  );
}
