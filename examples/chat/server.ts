/**
 * A chat server: socket.io plus one static page. On its own it runs on the memory default (one
 * node, no other server needed):
 *
 * ```sh
 * deno task chat            # then open http://127.0.0.1:8000 in two tabs
 * ```
 *
 * Given a backend address it joins a cluster: start it twice on two ports and a message typed on
 * one page appears on the other.
 *
 * ```sh
 * SOCKETIO4TS_REDIS_URL=redis://127.0.0.1:6379 PORT=8001 deno task chat
 * SOCKETIO4TS_REDIS_URL=redis://127.0.0.1:6379 PORT=8002 deno task chat
 * ```
 *
 * Variables: `PORT` (8000; 0 picks a free port), `HOST` (127.0.0.1), and the backend variables of
 * `backend.ts` (`SOCKETIO4TS_REDIS_URL`, `SOCKETIO4TS_NATS_URL`, `SOCKETIO4TS_KAFKA_BROKERS`,
 * `SOCKETIO4TS_HAZELCAST_ADDRESS`, ...).
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { Server } from "socket.io";
import { createAdapter, sessionStore } from "../../src/socketio/mod.ts";
import { backendFromEnv } from "./backend.ts";

const env = (name: string): string | undefined => process.env[name] || undefined;
const page = await Deno.readFile(new URL("./index.html", import.meta.url));
const backend = await backendFromEnv(env);
const nodeId = backend.factory.eventStore().nodeId;
const nodeName = env("SOCKETIO4TS_NODE_ID") ?? `node-${nodeId.slice(0, 6)}`;

const http = createServer((request, response) => {
  const path = new URL(request.url ?? "/", "http://localhost").pathname;
  if (path === "/" || path === "/index.html") {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end(page);
    return;
  }
  response.writeHead(404, { "content-type": "text/plain" });
  response.end("not found");
});

const io = new Server(http, {
  adapter: createAdapter(backend.factory),
  // Used on reliable event backends (Redis Streams, JetStream, Kafka, the memory default).
  connectionStateRecovery: {},
});

interface ChatMessage {
  readonly name: string;
  readonly text: string;
  readonly node: string;
  readonly at: number;
}

async function announceCount(): Promise<void> {
  try {
    const sockets = await io.fetchSockets();
    io.emit("online", sockets.length);
  } catch {
    // a node that is going away: the next change recounts
  }
}

io.on("connection", async (socket) => {
  socket.emit("welcome", { node: nodeName, backend: backend.label });
  socket.on("hello", async (name: unknown, ack?: (name: string) => void) => {
    const clean = String(name ?? "").trim().slice(0, 40) || "anonymous";
    await sessionStore(socket).set("name", clean);
    socket.data.name = clean;
    ack?.(clean);
  });
  socket.on("chat", async (text: unknown) => {
    const body = String(text ?? "").trim().slice(0, 2000);
    if (!body) return;
    const name = socket.data.name ?? (await sessionStore(socket).get<string>("name")) ??
      "anonymous";
    const message: ChatMessage = { name, text: body, node: nodeName, at: Date.now() };
    io.emit("chat", message);
  });
  socket.on("disconnect", () => void announceCount());
  if (!socket.recovered) await announceCount();
});

async function stop(): Promise<void> {
  await io.close();
  await backend.close();
  process.exit(0);
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());

http.listen(Number(env("PORT") ?? 8000), env("HOST") ?? "127.0.0.1", () => {
  const { address, port } = http.address() as AddressInfo;
  console.log(`chat ${nodeName} on ${backend.label}: http://${address}:${port}`);
});
