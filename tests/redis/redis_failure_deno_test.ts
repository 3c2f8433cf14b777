/**
 * Failure tests of the Redis event stores on a Redis of the test's own (own port, AOF with
 * `appendfsync always`), killed and restarted in the middle of 10 000 events:
 *
 * - Streams: every event whose publish resolved is delivered (duplicates are counted and
 *   reported); publishes made while Redis is down reject with a `BackendError`.
 * - Pub/Sub: the subscriber resubscribes by itself and delivery resumes; messages lost during the
 *   outage are counted and reported. No crash, no unhandled rejection (Deno fails the test on one).
 */

import assert from "node:assert/strict";
import { BackendError, type EventErrorContext, type EventStore } from "../../mod.ts";
import {
  type NodeRedisClient,
  RedisPubSubEventStore,
  RedisStreamEventStore,
} from "../../src/redis/mod.ts";
import { type RedisInstance, startRedis } from "../../scripts/services/redis.ts";
import { startUpstashRest, type UpstashInstance } from "../../scripts/services/upstash_rest.ts";
import { within } from "../conformance/_helpers.ts";
import { requireService, serviceTest } from "../_services.ts";
import { closeClient, outOfTheWayPort, restClient, tcpClient } from "./_redis.ts";

const redis = await requireService("redis");

const TOTAL = 10_000;
const CONCURRENCY = 32;
const OUTAGE_AT = 4_000;
/** Longer than commandTimeoutMs, so publishes made during the outage must reject. */
const OUTAGE_MS = 1_500;
const COMMAND_TIMEOUT_MS = 1_000;

interface PublishOutcome {
  readonly resolved: Set<number>;
  readonly rejected: number;
  readonly rejectionsNotBackendError: unknown[];
}

/** Publishes TOTAL JOINs (room = index) with CONCURRENCY in flight; `atOutage` runs once midway. */
async function publishAll(
  store: EventStore,
  atOutage: () => Promise<void>,
): Promise<PublishOutcome> {
  const resolved = new Set<number>();
  let rejected = 0;
  const rejectionsNotBackendError: unknown[] = [];
  let next = 0;
  let outage: Promise<void> | undefined;
  const worker = async () => {
    while (next < TOTAL) {
      const index = next++;
      if (index === OUTAGE_AT) {
        outage = atOutage();
        // Awaited after the workers; a handler now keeps a failed restart from being unhandled.
        outage.catch(() => {});
      }
      try {
        await store.publish("JOIN", { sessionId: "s", namespace: "/", room: String(index) });
        resolved.add(index);
      } catch (error) {
        rejected++;
        if (!(error instanceof BackendError)) rejectionsNotBackendError.push(error);
        // Like an application would, back off a little before the next attempt.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await outage;
  return { resolved, rejected, rejectionsNotBackendError };
}

/** A private AOF Redis on an out-of-the-way port. */
function startAofRedis(): Promise<RedisInstance> {
  return startRedis({ aof: true, port: outOfTheWayPort() });
}

async function outage(instance: RedisInstance): Promise<void> {
  await instance.kill();
  await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
  await instance.restart();
}

function transportErrors(): {
  count: () => number;
  onError: (error: Error, context: EventErrorContext) => void;
} {
  let count = 0;
  return {
    count: () => count,
    onError: (_error, context) => {
      if (context.stage === "transport") count++;
      else throw new Error(`unexpected ${context.stage} error`);
    },
  };
}

type Transport = "tcp" | "rest";

for (const transport of ["tcp", "rest"] as const satisfies readonly Transport[]) {
  serviceTest(
    redis,
    `RedisStreamEventStore (${transport.toUpperCase()}): Redis killed and restarted mid-way through ${TOTAL} events; every resolved publish is delivered`,
    async () => {
      const instance = await startAofRedis();
      let rest: UpstashInstance | undefined;
      const clients: { destroy(): void }[] = [];
      const clientFor = () => {
        if (transport === "rest") return restClient(rest!.url, rest!.token);
        const client = tcpClient(instance.url);
        clients.push(client);
        return client as unknown as NodeRedisClient;
      };
      const stores: EventStore[] = [];
      try {
        if (transport === "rest") rest = await startUpstashRest({ redisUrl: instance.url });
        const prefix = `fail-${crypto.randomUUID().slice(0, 8)}`;
        const options = {
          prefix,
          maxLen: TOTAL * 10,
          commandTimeoutMs: COMMAND_TIMEOUT_MS,
          pollIntervalMs: 20,
        };
        const subscriberErrors = transportErrors();
        const publisher = new RedisStreamEventStore({
          ...options,
          client: clientFor(),
          nodeId: "publisher",
        });
        const subscriber = new RedisStreamEventStore({
          ...options,
          client: clientFor(),
          nodeId: "subscriber",
          onError: subscriberErrors.onError,
        });
        stores.push(publisher, subscriber);
        const seen = new Map<number, number>();
        await subscriber.subscribe("JOIN", (message) => {
          const index = Number(message.room);
          seen.set(index, (seen.get(index) ?? 0) + 1);
        });
        const started = Date.now();
        const outcome = await publishAll(publisher, () => outage(instance));
        const missing = () => [...outcome.resolved].filter((index) => !seen.has(index));
        await within(
          (async () => {
            while (missing().length > 0) await new Promise((resolve) => setTimeout(resolve, 50));
          })(),
          "every resolved publish to be delivered",
          30_000,
        );
        const duplicates = [...seen.values()].reduce((sum, count) => sum + count - 1, 0);
        const deliveredButRejected = [...seen.keys()].filter((index) =>
          !outcome.resolved.has(index)
        )
          .length;
        console.log(
          `[redis streams ${transport} failure] published ${TOTAL}: resolved ${outcome.resolved.size}, rejected ${outcome.rejected}; delivered ${seen.size} distinct, duplicates ${duplicates}, delivered although rejected ${deliveredButRejected}, missing ${missing().length}; subscriber transport errors ${subscriberErrors.count()}; ${
            Date.now() - started
          } ms`,
        );
        assert.deepStrictEqual(missing(), [], "every resolved publish is delivered");
        assert.equal(outcome.resolved.size + outcome.rejected, TOTAL);
        assert.ok(outcome.rejected > 0, "publishes during the outage reject");
        assert.deepStrictEqual(outcome.rejectionsNotBackendError, []);
        assert.ok(outcome.resolved.size > OUTAGE_AT, "publishing resumed after the restart");
      } finally {
        await Promise.allSettled(stores.map((store) => store.shutdown()));
        clients.forEach(closeClient);
        await rest?.stop();
        await instance.stop();
      }
    },
  );
}

serviceTest(
  redis,
  `RedisPubSubEventStore (TCP): Redis killed and restarted mid-way through ${TOTAL} events; the subscriber resubscribes and delivery resumes`,
  async () => {
    const instance = await startAofRedis();
    const publisherClient = tcpClient(instance.url);
    const subscriberClient = tcpClient(instance.url);
    const stores: EventStore[] = [];
    try {
      const prefix = `fail-${crypto.randomUUID().slice(0, 8)}`;
      const subscriberErrors = transportErrors();
      const publisher = new RedisPubSubEventStore({
        prefix,
        client: publisherClient as unknown as NodeRedisClient,
        nodeId: "publisher",
        commandTimeoutMs: COMMAND_TIMEOUT_MS,
      });
      const subscriber = new RedisPubSubEventStore({
        prefix,
        client: subscriberClient as unknown as NodeRedisClient,
        nodeId: "subscriber",
        onError: subscriberErrors.onError,
      });
      stores.push(publisher, subscriber);
      const seen = new Set<number>();
      const markers = new Set<string>();
      await subscriber.subscribe("JOIN", (message) => {
        if (message.room.startsWith("marker-")) markers.add(message.room);
        else seen.add(Number(message.room));
      });
      const started = Date.now();
      const outcome = await publishAll(publisher, () => outage(instance));
      // Resubscribed: a message published now arrives (retry: the resubscription may lag).
      await within(
        (async () => {
          for (let attempt = 0; markers.size === 0; attempt++) {
            await publisher.publish("JOIN", {
              sessionId: "s",
              namespace: "/",
              room: `marker-${attempt}`,
            }).catch(() => {});
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        })(),
        "a message published after the restart",
        20_000,
      );
      const lost = [...outcome.resolved].filter((index) => !seen.has(index)).length;
      const afterOutage = [...seen].filter((index) => index > OUTAGE_AT).length;
      // Once resubscribed, delivery is complete again.
      const resumed = new Set<string>();
      await subscriber.subscribe("LEAVE", (message) => void resumed.add(message.room));
      for (let index = 0; index < 100; index++) {
        await publisher.publish("LEAVE", { sessionId: "s", namespace: "/", room: String(index) });
      }
      await within(
        (async () => {
          while (resumed.size < 100) await new Promise((resolve) => setTimeout(resolve, 20));
        })(),
        "100 messages published after the resubscription",
      );
      console.log(
        `[redis pub/sub failure] published ${TOTAL}: resolved ${outcome.resolved.size}, rejected ${outcome.rejected}; delivered ${seen.size}, lost ${lost} (at-most-once), delivered after the outage ${afterOutage}; subscriber transport errors ${subscriberErrors.count()}; ${
          Date.now() - started
        } ms`,
      );
      assert.ok(markers.size > 0, "the subscriber resubscribed after the restart");
      assert.equal(resumed.size, 100);
      assert.ok(seen.size > 0 && seen.size <= outcome.resolved.size);
      assert.deepStrictEqual(outcome.rejectionsNotBackendError, []);
      assert.equal(outcome.resolved.size + outcome.rejected, TOTAL);
    } finally {
      await Promise.allSettled(stores.map((store) => store.shutdown()));
      closeClient(publisherClient);
      closeClient(subscriberClient);
      await instance.stop();
    }
  },
);
