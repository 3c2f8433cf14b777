/**
 * A test node as a program: a socket.io server on the backend the environment names (see
 * `examples/chat/backend.ts`), driven over `POST /control`. Runs on Deno as is and on Node as a
 * bundle (`deno bundle`); uses only `node:` APIs for that reason.
 *
 * Environment: `SIO_PORT` (0 = any), `SIO_NODE_NAME`, `SIO_RECOVERY=1`, `SIO_HEARTBEAT_MS`,
 * `SIO_HEARTBEAT_TIMEOUT_MS`, plus the `SOCKETIO4TS_*` backend variables. Prints
 * `READY <port>` once listening.
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { Server } from "socket.io";
import { backendFromEnv } from "../../examples/chat/backend.ts";
import { createAdapter } from "../../src/socketio/mod.ts";
import { controlEndpoint } from "../../scripts/_control_endpoint.ts";
import { setupApp } from "./_app.ts";

const env = (name: string): string | undefined => process.env[name] || undefined;
const name = env("SIO_NODE_NAME") ?? "node";
const backend = await backendFromEnv(env);
const http = createServer(controlEndpoint((op, args) => {
  if (op !== "shutdown") return control(op, args);
  setTimeout(shutdown, 10);
  return null;
}));
const io = new Server(http, {
  adapter: createAdapter(backend.factory, {
    heartbeatInterval: Number(env("SIO_HEARTBEAT_MS") ?? 300),
    heartbeatTimeout: Number(env("SIO_HEARTBEAT_TIMEOUT_MS") ?? 2000),
    onError: (error, context) => console.error(`${name} adapter ${context.stage}:`, error.message),
  }),
  ...(env("SIO_RECOVERY") === "1" ? { connectionStateRecovery: {} } : {}),
});
const control = setupApp(io, name);

async function shutdown(): Promise<void> {
  await io.close();
  await backend.close();
  process.exit(0);
}

process.on("SIGTERM", () => void shutdown());
http.listen(Number(env("SIO_PORT") ?? 0), "127.0.0.1", () => {
  process.stdout.write(`READY ${(http.address() as AddressInfo).port} ${backend.label}\n`);
});
