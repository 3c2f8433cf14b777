/**
 * KafkaEventStore under failure, on a private broker (`startKafka`): the broker is restarted
 * (gracefully, and after a SIGKILL) in the middle of 10 000 events. Every event whose publish
 * resolved is delivered (duplicates are counted and reported), the publishes the broker did not
 * acknowledge reject, and after `shutdown()` no member of the nodes' consumer groups remains.
 * Deno-only (`*_deno_test.ts`, skipped by the npm build's test matrix): it starts and kills broker
 * processes itself and picks free ports with `Deno.listen`.
 */

import assert from "node:assert/strict";
import type { EventMessage } from "../../mod.ts";
import { KafkaEventStore } from "../../src/kafka/mod.ts";
import { type KafkaInstance, startKafka } from "../../scripts/services/kafka.ts";
import { findFreePort, ServiceStartError } from "../../scripts/services/_process.ts";
import { randomPrefix, within } from "../conformance/_helpers.ts";
import { ignoreUnless, requireService } from "../_services.ts";
import { groupMembers } from "./_kafka.ts";

// The harness needs Java and the Kafka jars; the shared broker answering shows both are there.
const kafka = await requireService("kafka");

const EVENTS = 10_000;
/** The broker restarts once this many publishes were acknowledged. */
const RESTART_AFTER = 3_000;

/**
 * A private broker on free ports picked at random above 17000: other suites scan up from 16400,
 * and a port freed by `restart()` must not be taken by them before the broker binds it again.
 * A start that fails (a port taken in between) is tried again on other ports, twice at most.
 */
async function privateBroker(): Promise<KafkaInstance> {
  for (let attempt = 1;; attempt++) {
    const port = findFreePort(17_000 + Math.floor(Math.random() * 2_000));
    try {
      return await startKafka({ port, controllerPort: findFreePort(port + 1) });
    } catch (error) {
      // Another process may bind a port between our check and the broker's bind: try others.
      if (!(error instanceof ServiceStartError) || attempt === 3) throw error;
      console.log(
        `[kafka] private broker did not start (${error.message.split("\n")[0]}); retrying`,
      );
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How the broker goes down and comes back. */
const OUTAGES = [
  { label: "restarted (SIGTERM)", run: (broker: KafkaInstance) => broker.restart() },
  {
    label: "killed (SIGKILL) and started again",
    run: async (broker: KafkaInstance) => {
      await broker.kill();
      await broker.restart();
    },
  },
] as const;

for (const outage of OUTAGES) {
  Deno.test({
    name:
      `KafkaEventStore: broker ${outage.label} in the middle of 10 000 events loses no acknowledged event`,
    ignore: ignoreUnless(kafka),
    async fn() {
      const started = performance.now();
      const broker = await privateBroker();
      const prefix = randomPrefix("kfail");
      const errors: string[] = [];
      const options = {
        brokers: broker.brokers,
        prefix,
        retries: 10,
        retryDelayMs: 500,
        requestTimeoutMs: 3000,
        sessionTimeoutMs: 10_000,
      };
      const a = new KafkaEventStore({ ...options, nodeId: "a" });
      const b = new KafkaEventStore({
        ...options,
        nodeId: "b",
        onError: (error, context) => errors.push(`${context.stage}: ${error.message}`),
      });
      try {
        const counts = new Map<string, number>();
        let received = 0;
        await b.subscribe("DISPATCH", (message: EventMessage<"DISPATCH">) => {
          received++;
          counts.set(message.room, (counts.get(message.room) ?? 0) + 1);
        });
        const groups = b.groupIds;
        assert.equal(groups.length, 1);

        const acknowledged = new Set<string>();
        const rejected: string[] = [];
        const pending: Promise<void>[] = [];
        let restart: Promise<unknown> | undefined;
        let restartedAt = 0;
        for (let index = 0; index < EVENTS; index++) {
          const room = `e-${index}`;
          pending.push(
            a.publish("DISPATCH", { namespace: "/", room, packet: index }).then(
              () => void acknowledged.add(room),
              (error) => void rejected.push(`${room}: ${error.message}`),
            ),
          );
          if (index % 100 === 99) await sleep(50);
          if (restart === undefined && acknowledged.size >= RESTART_AFTER) {
            restartedAt = performance.now();
            // Handled at once so a failed restart fails this test, not the whole module.
            restart = outage.run(broker).then(() => undefined, (error) => error);
          }
        }
        await within(Promise.all(pending), "every publish to settle", 60_000);
        assert.ok(restart !== undefined, "the broker was restarted while publishing");
        const restartError = await restart;
        if (restartError !== undefined) throw restartError;
        const restartSeconds = (performance.now() - restartedAt) / 1000;
        await within(
          (async () => {
            while ([...acknowledged].some((room) => !counts.has(room))) await sleep(50);
          })(),
          "every acknowledged event to be delivered",
          60_000,
        );
        const lost = [...acknowledged].filter((room) => !counts.has(room));
        const duplicates = [...counts.values()].reduce((sum, count) => sum + count - 1, 0);
        console.log(
          `[kafka failure, ${outage.label}] ${EVENTS} published: ${acknowledged.size} acknowledged, ${rejected.length} rejected; ` +
            `delivered ${counts.size} distinct (${received} with ${duplicates} duplicates); ` +
            `lost ${lost.length}; restart took ${restartSeconds.toFixed(1)} s; ` +
            `${errors.length} transport errors reported${
              errors[0] ? ` (first: ${errors[0]})` : ""
            }`,
        );
        if (rejected.length > 0) {
          console.log(`[kafka failure, ${outage.label}] first rejection: ${rejected[0]}`);
        }
        assert.equal(acknowledged.size + rejected.length, EVENTS);
        assert.deepStrictEqual(lost, []);
        assert.ok(acknowledged.size > RESTART_AFTER, "events published after the restart");
        await Promise.all([a.shutdown(), b.shutdown()]);
        const members = await groupMembers(groups, broker.brokers);
        assert.deepStrictEqual([...members.values()], [0], "no member left in b's group");
      } finally {
        await Promise.allSettled([a.shutdown(), b.shutdown()]);
        await broker.stop();
        console.log(
          `[kafka failure, ${outage.label}] total ${
            ((performance.now() - started) / 1000).toFixed(1)
          } s`,
        );
      }
    },
  });
}

Deno.test({
  name:
    "KafkaEventStore: an outage is reported, and shutdown() with the broker down releases every client",
  ignore: ignoreUnless(kafka),
  async fn() {
    const broker = await privateBroker();
    const errors: string[] = [];
    const a = new KafkaEventStore({
      brokers: broker.brokers,
      prefix: randomPrefix("kdown"),
      nodeId: "a",
      retries: 2,
      retryDelayMs: 200,
      requestTimeoutMs: 2000,
      onError: (error, context) => errors.push(`${context.stage}: ${error.message}`),
    });
    try {
      await a.subscribe("JOIN", () => {});
      await a.publish("LEAVE", { sessionId: "s", namespace: "/", room: "r" });
      await broker.stop();
      await within(
        (async () => {
          while (errors.length === 0) await sleep(50);
        })(),
        "the outage to be reported",
        20_000,
      );
      assert.match(errors[0]!, /^transport: kafka: /);
      await assert.rejects(
        a.publish("LEAVE", { sessionId: "s", namespace: "/", room: "r2" }),
        /kafka: could not publish/,
      );
      const started = performance.now();
      await a.shutdown();
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `[kafka outage] ${errors.length} errors reported, shutdown took ${seconds.toFixed(2)} s`,
      );
      assert.ok(seconds < 10, `shutdown took ${seconds} s`);
    } finally {
      await a.shutdown().catch(() => {});
      await broker.stop();
    }
  },
});
