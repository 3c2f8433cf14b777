/**
 * Smoke tests of the Redis harness with the raw node-redis client: the shared instance answers
 * PING/HSET/HGET, and a private AOF instance keeps its data across restart and kill.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createClient } from "redis";
import { pingRedis, startRedis } from "../../scripts/services/redis.ts";
import { requireService, serviceTest } from "../_services.ts";

const redis = await requireService("redis");

serviceTest(redis, "redis smoke: PING, HSET, HGET with node-redis", async () => {
  const client = createClient({ url: `redis://${redis.endpoint.host}:${redis.endpoint.port}` });
  await client.connect();
  try {
    assert.equal(await client.ping(), "PONG");
    const key = `smoke:redis:${crypto.randomUUID()}`;
    assert.equal(await client.hSet(key, { a: "1", b: "two" }), 2);
    assert.equal(await client.hGet(key, "b"), "two");
    assert.deepEqual({ ...await client.hGetAll(key) }, { a: "1", b: "two" });
    assert.equal(await client.del(key), 1);
    assert.equal(await client.hGet(key, "b"), null);
  } finally {
    client.destroy();
  }
});

serviceTest(redis, "redis failure instance: AOF data survives restart() and kill()", async () => {
  const instance = await startRedis({ aof: true });
  try {
    assert.ok(instance.endpoint.port >= 16400, "extra instances use ports from 16400 up");
    assert.notEqual(instance.endpoint.port, 6379);
    const connect = async () => {
      const client = createClient({ url: instance.url });
      await client.connect();
      return client;
    };
    let client = await connect();
    assert.equal(await client.set("kept", "before-restart"), "OK");
    client.destroy();

    const firstPid = instance.pid;
    await instance.restart();
    assert.notEqual(instance.pid, undefined);
    assert.notEqual(instance.pid, firstPid);
    client = await connect();
    assert.equal(await client.get("kept"), "before-restart");
    assert.equal(await client.set("kept", "before-kill"), "OK");
    client.destroy();

    await instance.kill();
    assert.equal(instance.pid, undefined);
    await instance.restart();
    client = await connect();
    assert.equal(await client.get("kept"), "before-kill");
    client.destroy();
  } finally {
    await instance.stop();
  }
  assert.equal(instance.pid, undefined);
});

serviceTest(redis, "redis failure instance: password and ACL user are enforced", async () => {
  const instance = await startRedis({
    password: "pw-1",
    aclUser: { user: "app", password: "pw-2" },
  });
  try {
    const port = instance.endpoint.port;
    assert.equal(await pingRedis(port), false, "no credentials: NOAUTH");
    assert.equal(await pingRedis(port, { password: "wrong" }), false);
    assert.equal(await pingRedis(port, { password: "pw-1" }), true);
    assert.equal(await pingRedis(port, { user: "app", password: "pw-2" }), true);
    const app = createClient({ url: instance.url });
    await app.connect();
    assert.equal(await app.ping(), "PONG");
    app.destroy();
  } finally {
    await instance.stop();
  }
});
