/**
 * Overload policies of the reliable topic on ring buffers that can be full: a private member (its
 * own cluster, the shared member is never touched) whose ring buffers for these tests are small
 * and have a time-to-live — without one Hazelcast always overwrites the oldest item and a ring is
 * never full.
 *
 * `BLOCK` (the default): publishes a server makes without awaiting them, which find the ring
 * full, are stored in publish order once items expire (a later publish never overtakes a blocked
 * one); a publish still blocked at its deadline rejects clearly, and the publishes behind it
 * carry on; shutdown waits no longer than that. `ERROR` rejects at once.
 *
 * Deno-only (`_deno_test`): the harness starts the member with Deno APIs that the Node shim does
 * not provide (free-port search, child processes).
 */

import assert from "node:assert/strict";
import { BackendError } from "../../mod.ts";
import {
  connectHazelcast,
  type HazelcastClient,
  HazelcastReliableTopicEventStore,
  ringbufferNameOf,
} from "../../src/hazelcast/mod.ts";
import { startHazelcastMember } from "../../scripts/services/hazelcast.ts";
import { findFreePort } from "../../scripts/services/_process.ts";
import { requireService, serviceTest } from "../_services.ts";
import { clientConfig, prefix } from "./_hazelcast.ts";

const hazelcast = await requireService("hazelcast");

/** Ring buffers of the ordering test: 20 items living 1 s. */
const ORDER = { prefix: "ovl-order", capacity: 20, ttlSeconds: 1 };
/** Ring buffers of the deadline test: 10 items living 5 s. */
const DEADLINE = { prefix: "ovl-deadline", capacity: 10, ttlSeconds: 5 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

type Received = { packet: number; offset: string | undefined };

/** Capacity the member gave the ring buffer of `store`'s DISPATCH topic. */
async function capacityOf(
  client: HazelcastClient,
  store: HazelcastReliableTopicEventStore,
): Promise<number> {
  const ring = await client.getRingbuffer(ringbufferNameOf(store.topicOf("DISPATCH")));
  return (await ring.capacity()).toNumber();
}

const dispatch = (packet: number) => ({ namespace: "/", room: "r", packet });

serviceTest(
  hazelcast,
  "overload policies on a ring buffer with a time-to-live (private member)",
  async (t) => {
    const member = await startHazelcastMember({
      join: [],
      port: findFreePort(16_500 + Math.floor(Math.random() * 2_000)),
      ringbuffers: [ORDER, DEADLINE].map((ring) => ({
        name: `${ring.prefix}-*`,
        capacity: ring.capacity,
        timeToLiveSeconds: ring.ttlSeconds,
      })),
    });
    const config = clientConfig([member.address]);
    const stores: HazelcastReliableTopicEventStore[] = [];
    const store = (options: ConstructorParameters<typeof HazelcastReliableTopicEventStore>[0]) => {
      const created = new HazelcastReliableTopicEventStore({ clientConfig: config, ...options });
      stores.push(created);
      return created;
    };
    const client = await connectHazelcast(config);
    try {
      await t.step(
        "BLOCK: un-awaited publishes that find the ring full are all stored, in publish order",
        async () => {
          const p = prefix(ORDER.prefix);
          const reported: string[] = [];
          const onError = (error: Error) => void reported.push(error.message);
          const publisher = store({ prefix: p, nodeId: "publisher", blockTimeoutMs: 60_000 });
          const subscriber = store({ prefix: p, nodeId: "subscriber", onError });
          const received: Received[] = [];
          await subscriber.subscribe("DISPATCH", (message) => {
            received.push({ packet: message.packet as number, offset: message.offset });
          });
          assert.equal(await capacityOf(client, publisher), ORDER.capacity);

          const count = 3 * ORDER.capacity;
          const started = Date.now();
          // As a server publishes: bursts (of 5, every 100 ms), none awaited. Publishes of later
          // bursts find the ring full while earlier ones still wait for room.
          const publishes = [];
          for (let index = 0; index < count; index++) {
            if (index > 0 && index % 5 === 0) await sleep(100);
            publishes.push(publisher.publish("DISPATCH", dispatch(index)));
          }
          const results = await Promise.all(publishes);
          const elapsed = Date.now() - started;
          // Three rings' worth: the last third waited for two generations of items to expire.
          assert.ok(elapsed >= 1_500, `${count} publishes took only ${elapsed} ms`);
          const offsets = results.map((result) => Number(result.offset));
          assert.deepStrictEqual(
            offsets,
            offsets.toSorted((a, b) => a - b),
            `publish offsets in publish order: ${offsets.join(",")}`,
          );

          await until(`${count} events delivered`, () => received.length >= count);
          assert.deepStrictEqual(
            received.map((message) => message.packet),
            Array.from({ length: count }, (_, index) => index),
          );
          assert.deepStrictEqual(
            received.map((message) => Number(message.offset)),
            offsets,
          );
          assert.deepStrictEqual(reported, []);
          console.log(`${count} publishes on a ring of ${ORDER.capacity} took ${elapsed} ms`);
        },
      );

      await t.step(
        "BLOCK: a publish still blocked at its deadline rejects, the ones behind it are stored; ERROR rejects at once",
        async () => {
          const p = prefix(DEADLINE.prefix);
          const blockTimeoutMs = 4_000;
          const publisher = store({ prefix: p, nodeId: "publisher", blockTimeoutMs });
          const errorPublisher = store({ prefix: p, nodeId: "error", overloadPolicy: "ERROR" });
          const subscriber = store({ prefix: p, nodeId: "subscriber" });
          const received: number[] = [];
          await subscriber.subscribe("DISPATCH", (message) => {
            received.push(message.packet as number);
          });
          assert.equal(await capacityOf(client, publisher), DEADLINE.capacity);

          // Full for the next 5 s.
          const filled = Date.now();
          await Promise.all(
            Array.from(
              { length: DEADLINE.capacity },
              (_, i) => publisher.publish("DISPATCH", dispatch(i)),
            ),
          );

          const refused = Date.now();
          await assert.rejects(
            errorPublisher.publish("DISPATCH", dispatch(-1)),
            (error: unknown) =>
              error instanceof BackendError &&
              /is full \(overload policy ERROR\); nothing was published/.test(error.message),
          );
          assert.ok(Date.now() - refused < 3_000, "ERROR waited");

          // Blocked until their deadline, 4 s from now: rejected, 1 s before the ring frees.
          const early = Array.from({ length: 3 }, (_, i) => {
            const called = Date.now();
            return publisher.publish("DISPATCH", dispatch(100 + i)).then(
              () => assert.fail(`publish ${100 + i} resolved`),
              (error: unknown) => ({ error, waited: Date.now() - called }),
            );
          });
          await sleep(3_000);
          // Deadline 7 s from the fill, the ring frees at 5 s: stored after the early ones gave up.
          const late = Array.from(
            { length: 3 },
            (_, i) => publisher.publish("DISPATCH", dispatch(200 + i)),
          );
          const rejections = await Promise.all(early);
          for (const { error, waited } of rejections) {
            assert.ok(error instanceof BackendError, String(error));
            assert.match(
              error.message,
              new RegExp(
                `is full \\(overload policy BLOCK, waited ${blockTimeoutMs} ms\\); nothing was published`,
              ),
            );
            assert.ok(waited >= blockTimeoutMs - 100, `rejected after ${waited} ms`);
          }
          const lateOffsets = (await Promise.all(late)).map((result) => Number(result.offset));
          assert.deepStrictEqual(lateOffsets, [10, 11, 12]);
          assert.ok(Date.now() - filled >= DEADLINE.ttlSeconds * 1_000 - 100);

          const expected = [
            ...Array.from({ length: DEADLINE.capacity }, (_, i) => i),
            200,
            201,
            202,
          ];
          await until("the stored events", () => received.length >= expected.length);
          assert.deepStrictEqual(received, expected);
        },
      );

      await t.step(
        "BLOCK: shutdown with publishes waiting for room ends once they gave up, leaving no timer",
        async () => {
          const blockTimeoutMs = 1_500;
          const publisher = store({ prefix: prefix(DEADLINE.prefix), blockTimeoutMs });
          await Promise.all(
            Array.from(
              { length: DEADLINE.capacity },
              (_, i) => publisher.publish("DISPATCH", dispatch(i)),
            ),
          );
          const waiting = Array.from(
            { length: 3 },
            (_, i) => publisher.publish("DISPATCH", dispatch(100 + i)),
          );
          const settled = Promise.allSettled(waiting);
          const closing = Date.now();
          await publisher.shutdown();
          const took = Date.now() - closing;
          assert.ok(took < blockTimeoutMs + 2_000, `shutdown took ${took} ms`);
          for (const outcome of await settled) {
            assert.equal(outcome.status, "rejected");
            assert.ok(outcome.reason instanceof BackendError);
            assert.match(outcome.reason.message, /is full .*nothing was published/);
          }
        },
      );
    } finally {
      await Promise.allSettled(stores.map((created) => created.shutdown()));
      await client.shutdown();
      await member.stop();
    }
  },
);
