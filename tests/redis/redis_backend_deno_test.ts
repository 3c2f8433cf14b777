/**
 * The Redis backend checks that drive Deno itself, so they run under Deno only (the npm build's
 * test matrix skips `*_deno_test.ts`): they start a Redis of their own (`startRedis`: ownership
 * of clients and connections, ACL credentials, an unreachable Redis), read the module's source
 * files, or run the REST path in a Deno child whose network access is limited to the endpoint.
 */

import assert from "node:assert/strict";
import { BackendError } from "../../mod.ts";
import {
  type NodeRedisClient,
  RedisPubSubEventStore,
  RedisStoreFactory,
  RedisStreamEventStore,
} from "../../src/redis/mod.ts";
import { resumeProcess, suspendProcess } from "../../scripts/services/_process.ts";
import { startRedis } from "../../scripts/services/redis.ts";
import { UPSTASH_TOKEN } from "../../scripts/services/upstash_rest.ts";
import { Inbox } from "../conformance/_helpers.ts";
import { requireService, serviceTest } from "../_services.ts";
import {
  closeClient,
  dropPrefix,
  factoryOn,
  outOfTheWayPort,
  rawClient,
  REST_URL,
  streamStoreOn,
  tcpClient,
  testPrefix,
} from "./_redis.ts";

const redis = await requireService("redis");
const upstash = await requireService("upstash");
const both = [redis, upstash];

serviceTest(
  redis,
  "the library never closes the client it was given, and closes every connection it opened",
  async () => {
    const instance = await startRedis({ port: outOfTheWayPort() });
    const client = tcpClient(instance.url);
    const raw = await rawClient(instance.url);
    const connected = async () => (await raw.clientList()).length;
    try {
      await client.connect();
      const before = await connected();
      const factory = new RedisStoreFactory({ client: client as unknown as NodeRedisClient });
      const streams = new RedisStreamEventStore({
        client: client as unknown as NodeRedisClient,
      });
      await factory.init({
        connect() {},
        disconnect() {},
        join() {},
        leave() {},
        dispatch() {},
      });
      await streams.subscribe("JOIN", () => {});
      await streams.subscribe("LEAVE", () => {});
      assert.equal(await connected(), before + 3, "one Pub/Sub connection, one per stream read");
      await factory.shutdown();
      await streams.shutdown();
      assert.equal(await connected(), before, "dedicated connections closed");
      assert.equal(client.isOpen, true, "the user's client stays open");
      assert.equal(await client.ping(), "PONG");
    } finally {
      closeClient(client);
      closeClient(raw);
      await instance.stop();
    }
  },
);

serviceTest(
  redis,
  "a wrong password or ACL user fails at first use with a clear BackendError",
  async () => {
    const instance = await startRedis({
      password: "right-password",
      aclUser: { user: "app", password: "app-password" },
    });
    const port = instance.endpoint.port;
    const clients: { destroy(): void }[] = [];
    const clientFor = (credentials: string) => {
      const client = tcpClient(`redis://${credentials}@127.0.0.1:${port}`);
      clients.push(client);
      return client as unknown as NodeRedisClient;
    };
    const authFailure = (error: unknown) =>
      error instanceof BackendError && error.backend === "redis" &&
      /authentication failed/.test(error.message);
    try {
      for (
        const credentials of [":wrong-password", "app:wrong-password", "nobody:right-password"]
      ) {
        const factory = new RedisStoreFactory({ client: clientFor(credentials) });
        await assert.rejects(factory.createStore("s").set("k", 1), authFailure, credentials);
        await factory.shutdown();
        const streams = new RedisStreamEventStore({ client: clientFor(credentials) });
        await assert.rejects(
          streams.publish("JOIN", { sessionId: "s", namespace: "/", room: "r" }),
          authFailure,
        );
        await streams.shutdown();
        const pubsub = new RedisPubSubEventStore({ client: clientFor(credentials) });
        await assert.rejects(pubsub.subscribe("JOIN", () => {}), authFailure);
        await pubsub.shutdown();
      }
      const good = new RedisStoreFactory({ client: clientFor("app:app-password") });
      await good.createStore("s").set("k", 1);
      assert.equal(await good.createStore("s").get("k"), 1);
      await good.shutdown();
    } finally {
      clients.forEach(closeClient);
      await instance.stop();
    }
  },
);

serviceTest(
  redis,
  "publishing to an unreachable Redis rejects after commandTimeoutMs (TCP)",
  async () => {
    const instance = await startRedis({ port: outOfTheWayPort() });
    const client = tcpClient(instance.url);
    const store = new RedisStreamEventStore({
      client: client as unknown as NodeRedisClient,
      commandTimeoutMs: 500,
    });
    try {
      await store.publish("JOIN", { sessionId: "s", namespace: "/", room: "before" });
      await instance.stop();
      const started = Date.now();
      await assert.rejects(
        store.publish("JOIN", { sessionId: "s", namespace: "/", room: "during" }),
        (error: unknown) =>
          error instanceof BackendError &&
          /XADD .*no reply within 500 ms \(commandTimeoutMs\); the client is not ready/.test(
            error.message,
          ),
      );
      assert.ok(Date.now() - started < 5_000);
    } finally {
      await store.shutdown();
      closeClient(client);
      await instance.stop();
    }
  },
);

serviceTest(
  redis,
  "a command to a Redis that stops answering on an open connection rejects after commandTimeoutMs, and the store goes on once Redis answers again (TCP)",
  async () => {
    const instance = await startRedis({ port: outOfTheWayPort() });
    const client = tcpClient(instance.url);
    const store = new RedisStreamEventStore({
      client: client as unknown as NodeRedisClient,
      commandTimeoutMs: 300,
    });
    const pid = instance.pid!;
    try {
      await store.publish("JOIN", { sessionId: "s", namespace: "/", room: "before" });
      await suspendProcess(pid);
      const started = Date.now();
      await assert.rejects(
        store.publish("JOIN", { sessionId: "s", namespace: "/", room: "while-silent" }),
        (error: unknown) =>
          error instanceof BackendError &&
          /XADD .*no reply within 300 ms \(commandTimeoutMs\); Redis may be unreachable/.test(
            error.message,
          ),
      );
      const waited = Date.now() - started;
      assert.ok(waited >= 300 && waited < 2_000, `rejected after ${waited} ms`);
      resumeProcess(pid);
      const { offset } = await store.publish("JOIN", {
        sessionId: "s",
        namespace: "/",
        room: "after",
      });
      assert.match(offset ?? "", /^\d+-\d+$/);
    } finally {
      resumeProcess(pid);
      await store.shutdown();
      closeClient(client);
      await instance.stop();
    }
  },
);

Deno.test("the ./redis module imports no client library and no node: module at run time", async () => {
  const folder = new URL("../../src/redis/", import.meta.url);
  const runtimeImports: string[] = [];
  let relative = 0;
  for await (const entry of Deno.readDir(folder)) {
    if (!entry.name.endsWith(".ts")) continue;
    const text = await Deno.readTextFile(new URL(entry.name, folder));
    for (const match of text.matchAll(/^import\s+(?!type\b)[^;]*?from\s+"([^"]+)"/gms)) {
      const specifier = match[1]!;
      if (specifier.startsWith(".")) relative++;
      else runtimeImports.push(`${entry.name}: ${specifier}`);
    }
  }
  assert.ok(relative > 10, `the scan found the module's own imports (${relative})`);
  assert.deepStrictEqual(runtimeImports, []);
});

serviceTest(
  both,
  "the REST path runs with network access to the endpoint only, and shares data with a TCP node",
  async () => {
    const p = testPrefix("edge");
    const server = factoryOn("tcp", { prefix: p });
    const serverEvents = streamStoreOn("tcp", { prefix: p, nodeId: "server" });
    try {
      await server.createStore("shared-session").set("written-over-tcp", { from: "node" });
      const leave = await new Inbox().listen(serverEvents, "LEAVE");
      await serverEvents.publish("JOIN", { sessionId: "s", namespace: "/", room: "lobby" });
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          `--allow-net=127.0.0.1:${new URL(REST_URL).port}`,
          new URL("./fixtures/edge_rest_node.ts", import.meta.url).pathname,
          REST_URL,
          UPSTASH_TOKEN,
          p,
        ],
        stdout: "piped",
        stderr: "piped",
      });
      const output = await child.output();
      const stderr = new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 0, stderr);
      const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
      assert.deepStrictEqual(JSON.parse(lines.at(-1)!), {
        fromServer: { from: "node" },
        room: "lobby",
      });
      assert.deepStrictEqual(
        await server.createStore("shared-session").get("written-at-the-edge"),
        { bytes: new Uint8Array([1, 2, 3]) },
      );
      await leave.waitFor(1);
      assert.equal(
        leave.messages[0]!.type === "LEAVE" && leave.messages[0]!.room,
        "edge-saw-lobby",
      );
    } finally {
      await Promise.all([server.shutdown(), serverEvents.shutdown()]);
      await dropPrefix(p);
    }
  },
);
