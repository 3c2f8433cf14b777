/**
 * The edge, for real: `worker.ts` is bundled (`deno bundle --platform=browser`) and run by workerd
 * through Miniflare. It writes a session over `@upstash/redis` (the local REST endpoint on the
 * real Redis) and publishes an event over NATS WebSocket; a Deno node on TCP clients reads the
 * session and receives the event, and the Worker reads back what the Deno node wrote.
 */

import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { Miniflare } from "miniflare";
import { createClient } from "redis";
import { type EventMessage, fromTaggedJson } from "../../mod.ts";
import { NatsEventStore } from "../../src/nats/mod.ts";
import { RedisStoreFactory } from "../../src/redis/mod.ts";
import { within } from "../conformance/_helpers.ts";
import { requireService, serviceTest } from "../_services.ts";

const services = await Promise.all([
  requireService("redis"),
  requireService("upstash"),
  requireService("nats"),
]);
const [redis, upstash, nats] = services;

async function bundleWorker(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "socketio4ts-worker-" });
  const out = `${dir}/worker.js`;
  const bundled = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform=browser",
      "-o",
      out,
      new URL("./worker.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(bundled.code, 0, new TextDecoder().decode(bundled.stderr));
  const code = await Deno.readTextFile(out);
  await Deno.remove(dir, { recursive: true });
  assert.ok(
    !/from\s*["']node:|require\(["']node:/.test(code),
    "the Worker bundle imports no node: module",
  );
  return code;
}

serviceTest(
  services,
  "a Worker on workerd shares sessions and events with a Deno node (Redis REST + NATS WebSocket)",
  async () => {
    const prefix = `edge-${crypto.randomUUID().slice(0, 8)}`;
    const script = await bundleWorker();
    const mf = new Miniflare({
      modules: true,
      script,
      compatibilityDate: "2026-01-01",
      bindings: {
        REDIS_REST_URL: `http://${upstash!.endpoint.host}:${upstash!.endpoint.port}`,
        REDIS_REST_TOKEN: "socketio4ts-local-token",
        NATS_WS_URL: nats!.endpoint.extra!.websocket!,
        PREFIX: prefix,
      },
    });
    const client = createClient({ url: `redis://${redis!.endpoint.host}:${redis!.endpoint.port}` });
    await client.connect();
    const nc = await connect({ servers: `${nats!.endpoint.host}:${nats!.endpoint.port}` });
    const events = new NatsEventStore(nc, { prefix, nodeId: "deno-node" });
    const factory = new RedisStoreFactory({ client, prefix, eventStore: events });
    try {
      let resolveJoin: (message: EventMessage<"JOIN">) => void = () => {};
      const joined = new Promise<EventMessage<"JOIN">>((resolve) => resolveJoin = resolve);
      await events.subscribe("JOIN", (message) => resolveJoin(message));

      const written = await mf.dispatchFetch("http://worker/write?session=edge-session", {
        method: "POST",
      });
      assert.equal(written.status, 200, await written.clone().text());
      assert.deepStrictEqual(await written.json(), { ok: true });

      const join = await within(joined, "the Worker's JOIN on the Deno node");
      assert.equal(join.nodeId, "worker");
      assert.equal(join.sessionId, "edge-session");
      assert.equal(join.room, "edge");
      assert.deepStrictEqual(await factory.createStore("edge-session").get("from"), {
        runtime: "workerd",
        bytes: new Uint8Array([1, 2, 3, 255]),
      });

      await factory.createStore("deno-session").set("from", {
        runtime: "deno",
        bytes: new Uint8Array([9]),
      });
      const read = await mf.dispatchFetch("http://worker/read?session=deno-session");
      assert.equal(read.status, 200, await read.clone().text());
      const body = await read.json() as { value: unknown };
      assert.deepStrictEqual(fromTaggedJson(body.value), {
        runtime: "deno",
        bytes: new Uint8Array([9]),
      });
    } finally {
      await factory.createStore("edge-session").destroy().catch(() => {});
      await factory.createStore("deno-session").destroy().catch(() => {});
      await factory.shutdown();
      await nc.close();
      await client.close();
      await mf.dispose();
    }
  },
);
