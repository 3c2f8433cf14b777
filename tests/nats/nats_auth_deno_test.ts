/**
 * Wrong credentials on a private nats-server (token, then user/password) give a clear
 * BackendError through `checkedConnection`, over both transports; right ones work end to end.
 */

import assert from "node:assert/strict";
import { BackendError } from "../../mod.ts";
import { checkedConnection, NatsEventStore } from "../../src/nats/mod.ts";

import { Inbox, randomPrefix, within } from "../conformance/_helpers.ts";
import { requireService, serviceTest } from "../_services.ts";
import {
  type ConnectOptions,
  connectOver,
  startConfiguredNats,
  startNats,
  toleratingResets,
  type Transport,
} from "./_nats.ts";

const nats = await requireService("nats");

const refused = (error: unknown) =>
  error instanceof BackendError && error.backend === "nats" &&
  /refused the credentials/.test(error.message) && error.cause instanceof Error;

async function roundTrip(transport: Transport, options: ConnectOptions): Promise<void> {
  const nc = await checkedConnection(connectOver(transport, options));
  try {
    const prefix = randomPrefix();
    const a = new NatsEventStore(nc, { prefix, nodeId: "a" });
    const b = new NatsEventStore(nc, { prefix, nodeId: "b" });
    const inbox = await new Inbox().listen(b, "CONNECT");
    await a.publish("CONNECT", { sessionId: "authorized" });
    await inbox.waitFor(1);
    await Promise.all([a.shutdown(), b.shutdown()]);
  } finally {
    await nc.close();
  }
}

serviceTest(
  nats,
  "NATS with a token: a wrong or missing token is a clear BackendError, over WebSocket and TCP",
  async () => {
    const server = await startNats({ jetstream: false, token: "right-token" });
    try {
      for (const transport of ["ws", "tcp"] as Transport[]) {
        const servers = transport === "ws" ? server.wsUrl : server.url;
        const common = { servers, maxReconnectAttempts: 0 };
        await toleratingResets(async () => {
          await assert.rejects(
            checkedConnection(connectOver(transport, { ...common, token: "wrong-token" })),
            refused,
          );
          await assert.rejects(checkedConnection(connectOver(transport, common)), refused);
        });
        await roundTrip(transport, { ...common, token: "right-token" });
      }
    } finally {
      await server.stop();
    }
  },
);

serviceTest(
  nats,
  "NATS with user/password: a wrong password is a clear BackendError, over WebSocket and TCP",
  async () => {
    const server = await startNats({
      jetstream: false,
      user: "app",
      password: "right-pass",
    });
    try {
      for (const transport of ["ws", "tcp"] as Transport[]) {
        const servers = transport === "ws" ? server.wsUrl : server.url;
        const common = { servers, maxReconnectAttempts: 0, user: "app" };
        await toleratingResets(async () => {
          await assert.rejects(
            checkedConnection(connectOver(transport, { ...common, pass: "wrong-pass" })),
            refused,
          );
          await assert.rejects(
            checkedConnection(
              connectOver(transport, { ...common, user: "nobody", pass: "right-pass" }),
            ),
            refused,
          );
        });
        await roundTrip(transport, { ...common, pass: "right-pass" });
      }
    } finally {
      await server.stop();
    }
  },
);

serviceTest(
  nats,
  "checkedConnection: no server listening is a BackendError naming the refusal",
  async () => {
    const { findFreePort } = await import("../../scripts/services/_process.ts");
    const port = findFreePort(16900);
    await assert.rejects(
      checkedConnection(
        connectOver("tcp", { servers: `127.0.0.1:${port}`, maxReconnectAttempts: 0 }),
      ),
      (error: unknown) => error instanceof BackendError && /could not connect/.test(error.message),
    );
  },
);

Deno.test("checkedConnection: a connect that never settles rejects after the timeout", async () => {
  const started = Date.now();
  await assert.rejects(
    checkedConnection(new Promise(() => {}), 100),
    (error: unknown) =>
      error instanceof BackendError && /no answer within 100 ms/.test(error.message),
  );
  assert.ok(Date.now() - started < 2_000);
});

serviceTest(
  nats,
  "checkedConnection: a connection that opens after the timeout is closed, not left reconnecting",
  async () => {
    const { findFreePort } = await import("../../scripts/services/_process.ts");
    const port = findFreePort(17400);
    // nats.js keeps dialling until a server answers on the port.
    const connecting = connectOver("tcp", {
      servers: `127.0.0.1:${port}`,
      waitOnFirstConnect: true,
      reconnectTimeWait: 100,
      maxReconnectAttempts: -1,
    });
    await assert.rejects(
      checkedConnection(connecting, 300),
      (error: unknown) =>
        error instanceof BackendError && /no answer within 300 ms/.test(error.message),
    );
    const server = await startConfiguredNats("", { port, jetstream: false });
    let nc: Awaited<typeof connecting> | undefined;
    try {
      nc = await within(connecting, "the connect to reach the server started late");
      await within(nc.closed(), "the connection nobody received to be closed", 5_000);
      assert.ok(nc.isClosed());
    } finally {
      if (nc && !nc.isClosed()) await nc.close();
      await server.stop();
    }
  },
);
