/**
 * A Cloudflare-style Worker (run by workerd through Miniflare in `workerd_deno_test.ts`) that
 * uses Redis storage over `@upstash/redis` and NATS events over WebSocket — the edge form of
 * this library. Bindings: `REDIS_REST_URL`, `REDIS_REST_TOKEN`, `NATS_WS_URL`, `PREFIX`.
 *
 * - `POST /write?session=ID` writes the session's `from` key and publishes `JOIN` to room `edge`;
 * - `GET /read?session=ID` returns the session's `from` key as tagged JSON.
 *
 * @module
 */

import { wsconnect } from "@nats-io/nats-core";
import { Redis } from "@upstash/redis";
import { toTaggedJson } from "../../mod.ts";
import { checkedConnection, NatsEventStore } from "../../src/nats/mod.ts";
import { RedisStoreFactory } from "../../src/redis/mod.ts";

/** The Worker's bindings. */
export interface Env {
  /** Upstash-protocol REST endpoint. */
  readonly REDIS_REST_URL: string;
  /** Its bearer token. */
  readonly REDIS_REST_TOKEN: string;
  /** NATS WebSocket URL. */
  readonly NATS_WS_URL: string;
  /** Key and channel prefix shared with the Deno node. */
  readonly PREFIX: string;
}

async function handle(request: Request, env: Env): Promise<Response> {
  const url = new URL(request.url);
  const sessionId = url.searchParams.get("session");
  if (!sessionId) return new Response("session is required", { status: 400 });
  const client = new Redis({ url: env.REDIS_REST_URL, token: env.REDIS_REST_TOKEN });
  const nc = await checkedConnection(wsconnect({ servers: env.NATS_WS_URL }));
  const events = new NatsEventStore(nc, { prefix: env.PREFIX, nodeId: "worker" });
  const factory = new RedisStoreFactory({ client, prefix: env.PREFIX, eventStore: events });
  try {
    const store = factory.createStore(sessionId);
    if (request.method === "POST" && url.pathname === "/write") {
      await store.set("from", { runtime: "workerd", bytes: new Uint8Array([1, 2, 3, 255]) });
      await factory.eventStore().publish("JOIN", { sessionId, namespace: "/", room: "edge" });
      return Response.json({ ok: true });
    }
    if (request.method === "GET" && url.pathname === "/read") {
      return Response.json({ value: toTaggedJson((await store.get("from")) ?? null) });
    }
    return new Response("not found", { status: 404 });
  } finally {
    await factory.shutdown();
    await nc.close();
  }
}

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    return handle(request, env).catch((error: Error) =>
      new Response(`${error.name}: ${error.message}`, { status: 500 })
    );
  },
};
