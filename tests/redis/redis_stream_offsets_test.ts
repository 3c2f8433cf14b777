/**
 * `RedisStreamEventStore` offsets at the edges, over TCP and REST: a `fromOffset` Redis cannot
 * hold is refused at `subscribe` (and leaves the other channels of the store reading), one past
 * the stream's end is a `RangeError`, one older than what trimming left is reported as a gap once
 * (delivery goes on from the oldest entry), and a failing `XREAD` names its stream and cursor.
 */

import assert from "node:assert/strict";
import { BackendError } from "../../mod.ts";
import { Inbox, within } from "../conformance/_helpers.ts";
import { requireService, serviceTest } from "../_services.ts";
import {
  closeClient,
  dropPrefix,
  rawClient,
  streamStoreOn,
  testPrefix,
  type Transport,
} from "./_redis.ts";

const redis = await requireService("redis");
const upstash = await requireService("upstash");
const both = [redis, upstash];
const TRANSPORTS: readonly Transport[] = ["tcp", "rest"];

const message = (index: number) => ({ sessionId: `s${index}`, namespace: "/", room: `r${index}` });

for (const transport of TRANSPORTS) {
  const label = transport.toUpperCase();

  serviceTest(
    both,
    `RedisStreamEventStore (${label}): a fromOffset above 2^64-1 is a TypeError, and the store's other channels go on`,
    async () => {
      const p = testPrefix("off-big");
      const a = streamStoreOn(transport, { prefix: p, nodeId: "a" });
      const errors: Error[] = [];
      const b = streamStoreOn(transport, {
        prefix: p,
        nodeId: "b",
        blockMs: 200,
        onError: (error) => errors.push(error),
      });
      try {
        const inbox = await new Inbox().listen(b, "JOIN");
        await a.publish("JOIN", message(0));
        await inbox.waitFor(1);
        for (const fromOffset of ["99999999999999999999", "1-18446744073709551616"]) {
          await assert.rejects(
            b.subscribe("LEAVE", () => {}, { fromOffset }),
            (error: unknown) =>
              error instanceof TypeError && error.message.includes(JSON.stringify(fromOffset)),
          );
        }
        // The largest id Redis holds is accepted (and is past this stream's end).
        await assert.rejects(
          b.subscribe("LEAVE", () => {}, {
            fromOffset: "18446744073709551615-18446744073709551615",
          }),
          RangeError,
        );
        await a.publish("JOIN", message(1));
        await inbox.waitFor(2, "a JOIN after the refused subscribe");
        assert.deepEqual(errors, []);
      } finally {
        await Promise.all([a.shutdown(), b.shutdown()]);
        await dropPrefix(p);
      }
    },
  );

  serviceTest(
    both,
    `RedisStreamEventStore (${label}): a fromOffset past the stream's last id is a RangeError naming both`,
    async () => {
      const p = testPrefix("off-end");
      const a = streamStoreOn(transport, { prefix: p, nodeId: "a" });
      const b = streamStoreOn(transport, { prefix: p, nodeId: "b" });
      try {
        const { offset: last } = await a.publish("JOIN", message(0));
        assert.ok(last);
        const [ms] = last.split("-");
        const future = `${Number(ms) + 3_600_000}-0`;
        await assert.rejects(
          b.subscribe("JOIN", () => {}, { fromOffset: future }),
          (error: unknown) =>
            error instanceof RangeError && error.message.includes(future) &&
            error.message.includes(`its last id is ${last}`),
        );
        await assert.rejects(
          b.subscribe("LEAVE", () => {}, { fromOffset: "5-0" }),
          (error: unknown) => error instanceof RangeError && /does not exist/.test(error.message),
        );
        // The last id itself is fine: delivery starts after it.
        const inbox = new Inbox();
        await b.subscribe("JOIN", inbox.push, { fromOffset: last });
        await a.publish("JOIN", message(1));
        const [got] = await inbox.waitFor(1);
        assert.equal((got as { room?: string } | undefined)?.room, "r1");
      } finally {
        await Promise.all([a.shutdown(), b.shutdown()]);
        await dropPrefix(p);
      }
    },
  );

  serviceTest(
    both,
    `RedisStreamEventStore (${label}): a fromOffset older than trimming left reports the gap once and goes on from the oldest entry`,
    async () => {
      const p = testPrefix("off-gap");
      const a = streamStoreOn(transport, { prefix: p, nodeId: "a", maxLen: 10 });
      const errors: Error[] = [];
      const b = streamStoreOn(transport, {
        prefix: p,
        nodeId: "b",
        onError: (error) => errors.push(error),
      });
      try {
        const { offset: first } = await a.publish("JOIN", message(0));
        assert.ok(first);
        for (let index = 1; index < 300; index++) await a.publish("JOIN", message(index));
        const inbox = new Inbox();
        await b.subscribe("JOIN", inbox.push, { fromOffset: first });
        const raw = await rawClient();
        let oldest: string;
        let length: number;
        try {
          const key = `${p}:stream:JOIN`;
          length = await raw.xLen(key);
          oldest = (await raw.xRange(key, "-", "+", { COUNT: 1 }))![0]!.id;
        } finally {
          closeClient(raw);
        }
        const messages = await inbox.waitFor(length, "the entries left after trimming");
        assert.equal(messages[0]?.offset, oldest, "delivery starts at the oldest entry");
        assert.equal((messages.at(-1) as { room?: string } | undefined)?.room, "r299");
        await within(
          (async () => {
            while (errors.length === 0) await new Promise((r) => setTimeout(r, 20));
          })(),
          "the gap report",
        );
        await a.publish("JOIN", message(300));
        await inbox.waitFor(length + 1);
        assert.equal(errors.length, 1, `one report, got ${errors.join("; ")}`);
        const [gap] = errors;
        assert.ok(gap instanceof BackendError, `a BackendError, got ${gap}`);
        assert.ok(gap.message.includes(`after id ${first}`), gap.message);
        assert.ok(gap.message.includes(`resuming at id ${oldest}`), gap.message);
        assert.match(gap.message, /were removed \(trimmed to maxLen\) before this node read them/);
        assert.match(
          gap.message,
          new RegExp(`\\(${300 - length} trimmed from the stream in all\\)`),
        );
      } finally {
        await Promise.all([a.shutdown(), b.shutdown()]);
        await dropPrefix(p);
      }
    },
  );

  serviceTest(
    both,
    `RedisStreamEventStore (${label}): a failing XREAD names the stream key and the id it read after`,
    async () => {
      const p = testPrefix("off-err");
      const errors: Error[] = [];
      const b = streamStoreOn(transport, {
        prefix: p,
        nodeId: "b",
        blockMs: 100,
        onError: (error) => errors.push(error),
      });
      const raw = await rawClient();
      const key = `${p}:stream:JOIN`;
      try {
        await b.subscribe("JOIN", () => {});
        await raw.set(key, "not a stream");
        await within(
          (async () => {
            while (errors.length === 0) await new Promise((r) => setTimeout(r, 20));
          })(),
          "the XREAD failure",
        );
        const [error] = errors;
        assert.ok(error instanceof BackendError, `a BackendError, got ${error}`);
        assert.ok(
          error.message.includes(`XREAD of stream ${JSON.stringify(key)} after 0-0 failed: `),
          error.message,
        );
        assert.match(error.message, /WRONGTYPE/);
      } finally {
        await b.shutdown();
        await raw.del(key);
        closeClient(raw);
        await dropPrefix(p);
      }
    },
  );
}
