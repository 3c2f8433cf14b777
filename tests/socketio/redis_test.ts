/**
 * socket.io clusters over Redis Pub/Sub and Redis Streams, three servers in separate processes.
 */

import { createClient } from "redis";
import { requireService } from "../_services.ts";
import { UPSTASH_TOKEN } from "../../scripts/services/upstash_rest.ts";
import { removeNodeBundle } from "./_cluster.ts";
import { backendTests } from "./_backend_tests.ts";

const redis = await requireService("redis");
const upstash = await requireService("upstash");
const url = `redis://${redis.endpoint.host}:${redis.endpoint.port}`;

async function cleanup(prefix: string): Promise<void> {
  const client = await createClient({ url }).connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await client.del(keys);
    }
  } finally {
    client.destroy();
  }
}

backendTests({
  label: "Redis Streams",
  services: redis,
  reliable: true,
  sharedStorage: true,
  env: (prefix) => ({
    SOCKETIO4TS_REDIS_URL: url,
    SOCKETIO4TS_REDIS_EVENTS: "streams",
    SOCKETIO4TS_PREFIX: prefix,
  }),
  cleanup,
});

backendTests({
  label: "Redis Pub/Sub",
  services: redis,
  reliable: false,
  sharedStorage: true,
  env: (prefix) => ({
    SOCKETIO4TS_REDIS_URL: url,
    SOCKETIO4TS_REDIS_EVENTS: "pubsub",
    SOCKETIO4TS_PREFIX: prefix,
  }),
  cleanup,
});

backendTests({
  label: "Redis Streams over REST (@upstash/redis, polling)",
  services: [redis, upstash],
  reliable: true,
  sharedStorage: true,
  env: (prefix) => ({
    SOCKETIO4TS_UPSTASH_URL: `http://${upstash.endpoint.host}:${upstash.endpoint.port}`,
    SOCKETIO4TS_UPSTASH_TOKEN: UPSTASH_TOKEN,
    SOCKETIO4TS_PREFIX: prefix,
  }),
  cleanup,
});

Deno.test("socket.io over Redis: remove the Node bundle", removeNodeBundle);
