/**
 * Smoke tests of the Upstash REST fixture with the real `@upstash/redis` client: set/get,
 * pipeline, multi-exec, reply shapes, a wrong token, the subscribe stream, and the values landing
 * in the real Redis behind it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { createClient } from "redis";
import { startUpstashRest, UPSTASH_TOKEN } from "../../scripts/services/upstash_rest.ts";
import { requireService, serviceTest } from "../_services.ts";

const redis = await requireService("redis");
const upstash = await requireService("upstash");
const url = upstash.endpoint.extra?.url ?? `http://127.0.0.1:${upstash.endpoint.port}`;
const token = upstash.endpoint.extra?.token ?? UPSTASH_TOKEN;

function key(name: string): string {
  return `smoke:upstash:${crypto.randomUUID()}:${name}`;
}

serviceTest([redis, upstash], "upstash smoke: set/get, hashes, streams through REST", async () => {
  const client = new Redis({ url, token });
  const k = key("s");
  assert.equal(await client.set(k, "héllo wörld"), "OK");
  assert.equal(await client.get(k), "héllo wörld");
  assert.equal(await client.get(key("missing")), null);
  assert.equal(await client.incr(key("n")), 1);
  const h = key("h");
  assert.equal(await client.hset(h, { f: "v", n: 2 }), 2);
  assert.deepEqual(await client.hgetall(h), { f: "v", n: 2 });
  const s = key("x");
  const id = await client.xadd(s, "*", { field: "value" });
  assert.match(id, /^\d+-\d+$/);
  assert.deepEqual(await client.xread(s, "0"), [[s, [[id, ["field", "value"]]]]]);
  await assert.rejects(client.incr(k), /not an integer/);

  // The value really is in Redis.
  const raw = createClient({ url: `redis://${redis.endpoint.host}:${redis.endpoint.port}` });
  await raw.connect();
  try {
    assert.equal(await raw.get(k), "héllo wörld");
    await raw.del([k, key("n"), h, s]);
  } finally {
    raw.destroy();
  }
});

serviceTest([redis, upstash], "upstash smoke: pipeline and multi-exec", async () => {
  const client = new Redis({ url, token });
  const a = key("a");
  const p = client.pipeline();
  p.set(a, { n: 1 });
  p.get(a);
  p.incr(key("counter"));
  p.ping();
  assert.deepEqual(await p.exec(), ["OK", { n: 1 }, 1, "PONG"]);
  const m = client.multi();
  m.set(a, "two");
  m.get(a);
  m.del(a);
  assert.deepEqual(await m.exec(), ["OK", "two", 1]);
  assert.equal(await client.exists(a), 0);
  await client.del(key("counter"));
});

serviceTest([redis, upstash], "upstash smoke: a wrong token is refused with 401", async () => {
  const wrong = new Redis({ url, token: "not-the-token", retry: false });
  await assert.rejects(wrong.get("anything"), /Unauthorized/);
  const response = await fetch(`${url}/`, {
    method: "POST",
    body: JSON.stringify(["PING"]),
  });
  assert.equal(response.status, 401);
  assert.match((await response.json() as { error: string }).error, /Unauthorized/);
});

serviceTest([redis, upstash], "upstash smoke: subscribe stream delivers a message", async () => {
  const client = new Redis({ url, token });
  const channel = key("chan");
  const subscriber = client.subscribe<{ hello: string }>([channel]);
  try {
    const subscribed = new Promise<number>((resolve) => subscriber.on("subscribe", resolve));
    const message = new Promise<{ channel: string; message: unknown }>((resolve) =>
      subscriber.on("message", resolve)
    );
    assert.equal(await subscribed, 1);
    assert.equal(await client.publish(channel, { hello: "world" }), 1);
    assert.deepEqual(await message, { channel, message: { hello: "world" } });
  } finally {
    await subscriber.unsubscribe();
  }
  // The server side of the subscription ends when the client aborts.
  let remaining = -1;
  for (let i = 0; i < 50 && remaining !== 0; i++) {
    remaining = await client.publish(channel, "after") as number;
    if (remaining !== 0) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(remaining, 0);
});

serviceTest(redis, "upstash failure instance: private endpoint, restart, own token", async () => {
  const instance = await startUpstashRest({ token: "private-token" });
  try {
    const client = new Redis({ url: instance.url, token: "private-token" });
    const k = key("private");
    assert.equal(await client.set(k, "v1"), "OK");
    await instance.restart();
    assert.equal(await client.get(k), "v1");
    await assert.rejects(
      new Redis({ url: instance.url, token: UPSTASH_TOKEN, retry: false }).get(k),
      /Unauthorized/,
    );
    await client.del(k);
  } finally {
    await instance.stop();
  }
});

serviceTest(
  [redis, upstash],
  "upstash smoke: raw protocol (base64, sync token, errors)",
  async () => {
    const k = key("raw");
    const call = async (path: string, body: unknown, base64 = true) => {
      const response = await fetch(`${url}${path}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          ...(base64 ? { "upstash-encoding": "base64" } : {}),
        },
        body: JSON.stringify(body),
      });
      return {
        status: response.status,
        sync: response.headers.get("upstash-sync-token"),
        json: await response.json() as unknown,
      };
    };
    const set = await call("/", ["SET", k, "x"]);
    assert.deepEqual(set, { status: 200, sync: set.sync, json: { result: "OK" } });
    assert.ok(set.sync && set.sync.length > 0, "sync token header present");
    assert.deepEqual((await call("/", ["GET", k])).json, { result: btoa("x") });
    assert.deepEqual((await call("/", ["GET", k], false)).json, { result: "x" });
    assert.deepEqual((await call("/", ["PING"])).json, { result: btoa("PONG") });
    const bad = await call("/", ["INCR", k]);
    assert.equal(bad.status, 400);
    assert.match((bad.json as { error: string }).error, /^ERR /);
    assert.deepEqual((await call("/pipeline", [["GET", k], ["INCR", k], ["DEL", k]])).json, [
      { result: btoa("x") },
      { error: "ERR value is not an integer or out of range" },
      { result: 1 },
    ]);
    assert.deepEqual((await call("/multi-exec", [["SET", k, "1"], ["INCR", k], ["DEL", k]])).json, [
      { result: "OK" },
      { result: 2 },
      { result: 1 },
    ]);
  },
);
