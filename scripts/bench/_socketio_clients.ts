/**
 * Clients of the socket.io benchmark, in their own process (so that the driver does not become
 * the bottleneck): `BENCH_CLIENTS` socket.io-client connections to `BENCH_URL`, counting `bench`
 * events and, when asked, recording end-to-end latencies. Driven over HTTP:
 * `POST /reset {latency: bool}`, `GET /count` (lowest count of any client), `GET /latencies`,
 * `GET /cpu` (CPU time of this process, ms).
 * Prints `READY <port>` once every client is connected.
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { io as connectClient, type Socket } from "socket.io-client";

const url = process.env.BENCH_URL!;
const count = Number(process.env.BENCH_CLIENTS ?? 5);

interface Receiver {
  readonly socket: Socket;
  count: number;
  /** Epoch time (ms, sub-ms precision) at which the latest broadcast arrived. */
  lastAt: number;
}

const receivers: Receiver[] = [];
let latencies: number[] | undefined;

for (let i = 0; i < count; i++) {
  const socket = connectClient(url, { transports: ["websocket"], forceNew: true });
  const receiver: Receiver = { socket, count: 0, lastAt: 0 };
  socket.on("bench", (_seq: number, sentAt: number) => {
    receiver.count++;
    receiver.lastAt = performance.timeOrigin + performance.now();
    latencies?.push(receiver.lastAt - sentAt);
  });
  receivers.push(receiver);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", reject);
  });
}

const http = createServer((request, response) => {
  const path = request.url ?? "";
  let body = "";
  request.setEncoding("utf8");
  request.on("data", (chunk: string) => body += chunk);
  request.on("end", () => {
    if (path === "/reset") {
      for (const receiver of receivers) receiver.count = 0;
      latencies = JSON.parse(body || "{}").latency ? [] : undefined;
      response.end("true");
    } else if (path === "/count") {
      response.end(String(Math.min(...receivers.map((r) => r.count))));
    } else if (path === "/lastAt") {
      response.end(String(Math.max(...receivers.map((r) => r.lastAt))));
    } else if (path === "/cpu") {
      const usage = process.cpuUsage();
      response.end(String((usage.user + usage.system) / 1000));
    } else if (path === "/latencies") {
      response.end(JSON.stringify(latencies ?? []));
    } else if (path === "/shutdown") {
      response.end("true");
      for (const receiver of receivers) receiver.socket.close();
      setTimeout(() => process.exit(0), 10);
    } else {
      response.statusCode = 404;
      response.end();
    }
  });
});
http.listen(0, "127.0.0.1", () => {
  process.stdout.write(`READY ${(http.address() as AddressInfo).port}\n`);
});
