/**
 * Failure of a member, on a private two-member cluster started for the test (the shared member is
 * never touched): ring buffers and maps keep one backup, so killing one of the two members in the
 * middle of 10 000 events loses no event whose publish resolved and no session entry written
 * before the kill.
 *
 * Deno-only (`_deno_test`): the harness starts and kills the members with Deno APIs that the Node
 * shim does not provide (free-port search, child processes).
 */

import assert from "node:assert/strict";
import process from "node:process";
import { BackendError, PublishMode } from "../../mod.ts";
import {
  connectHazelcast,
  DEFAULT_CLUSTER_CONNECT_TIMEOUT_MS,
  type HazelcastClient,
  HazelcastReliableTopicEventStore,
  HazelcastStoreFactory,
  ringbufferNameOf,
} from "../../src/hazelcast/mod.ts";
import {
  HAZELCAST_CLUSTER_NAME,
  type HazelcastMemberInstance,
  startHazelcastMember,
} from "../../scripts/services/hazelcast.ts";
import { findFreePort } from "../../scripts/services/_process.ts";
import { requireService, serviceTest } from "../_services.ts";
import { clientConfig, prefix } from "./_hazelcast.ts";

const hazelcast = await requireService("hazelcast");

const EVENTS = 10_000;
const WINDOW = 64;
const SESSIONS = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * Collects unhandled promise rejections into `into` (Deno: the `unhandledrejection` event; Node:
 * `process.on("unhandledRejection")`); returns the function that stops collecting.
 */
function watchUnhandledRejections(into: unknown[]): () => void {
  if (typeof globalThis.addEventListener === "function") {
    const listener = (event: PromiseRejectionEvent) => {
      into.push(event.reason);
      event.preventDefault();
    };
    globalThis.addEventListener("unhandledrejection", listener);
    return () => globalThis.removeEventListener("unhandledrejection", listener);
  }
  const listener = (reason: unknown) => void into.push(reason);
  process.on("unhandledRejection", listener);
  return () => void process.off("unhandledRejection", listener);
}

/** The member (of `members`) that owns the partition of `name`. */
function ownerOf(
  client: HazelcastClient,
  name: string,
  members: readonly HazelcastMemberInstance[],
): HazelcastMemberInstance {
  const partitions = client.getPartitionService();
  const owner = partitions.getPartitionOwner(partitions.getPartitionId(name));
  const member = client.getCluster().getMembers().find((m) =>
    m.uuid.toString() === owner?.toString()
  );
  const found = members.find((m) => m.endpoint.port === member?.address.port);
  if (!found) throw new Error(`no owner found for ${name}`);
  return found;
}

/**
 * Two private members; a publisher, a subscriber and a store factory on their own clients; the
 * member owning the topic's ring buffer is killed after 30 % of 10 000 events.
 */
async function memberKilled(publishMode: PublishMode): Promise<void> {
  {
    const started = performance.now();
    const unhandled: unknown[] = [];
    const stopWatching = watchUnhandledRejections(unhandled);
    const members: HazelcastMemberInstance[] = [];
    const closers: (() => Promise<void>)[] = [];
    try {
      // Ports from a random point above 16400, so concurrent failure tests of other backends
      // (which also search upwards from 16400) are unlikely to race us for the same port.
      const base = 16_500 + Math.floor(Math.random() * 2_000);
      members.push(await startHazelcastMember({ join: [], port: findFreePort(base) }));
      members.push(
        await startHazelcastMember({
          join: [members[0]!.endpoint.port],
          port: findFreePort(base + 1),
        }),
      );
      const addresses = members.map((m) => m.address);
      const config = clientConfig(addresses);
      const p = prefix("fail");
      const reported: string[] = [];
      const onError = (error: Error) => void reported.push(error.message);

      const publisher = new HazelcastReliableTopicEventStore({
        clientConfig: config,
        prefix: p,
        nodeId: "publisher",
        mode: "SINGLE_CHANNEL",
        publishMode,
        onError,
      });
      closers.push(() => publisher.shutdown());
      const subscriber = new HazelcastReliableTopicEventStore({
        clientConfig: config,
        prefix: p,
        nodeId: "subscriber",
        mode: "SINGLE_CHANNEL",
        publishMode,
        onError,
      });
      closers.push(() => subscriber.shutdown());
      const factory = new HazelcastStoreFactory({
        clientConfig: config,
        prefix: p,
        eventStore: publisher,
      });
      closers.unshift(() => factory.shutdown());
      const client = await factory.client();
      await until("two members", () => client.getCluster().getMembers().length === 2);
      // Session data written before the kill.
      const sessions = Array.from({ length: SESSIONS }, (_, i) => `session-${i}`);
      await Promise.all(
        sessions.map((id, i) =>
          factory.createStore(id).set("data", { i, bytes: new Uint8Array([i % 256]) })
        ),
      );

      const partitions = client.getPartitionService();
      const secondUuid = client.getCluster().getMembers()
        .find((m) => m.address.port === members[1]!.endpoint.port)!.uuid.toString();
      await until("partitions migrated to the second member", () => {
        let owned = 0;
        for (let id = 0; id < partitions.getPartitionCount(); id++) {
          if (partitions.getPartitionOwner(id)?.toString() === secondUuid) owned++;
        }
        return owned > partitions.getPartitionCount() / 3;
      }, 60_000);
      const setupSeconds = (performance.now() - started) / 1000;

      const received = new Map<number, number>();
      await subscriber.subscribe("DISPATCH", (message) => {
        const index = message.packet as number;
        received.set(index, (received.get(index) ?? 0) + 1);
      });

      // The member that owns the topic's ring buffer is the one killed.
      const victim = ownerOf(client, ringbufferNameOf(publisher.topicOf("DISPATCH")), members);
      const resolved: number[] = [];
      const rejected: number[] = [];
      const rejections: unknown[] = [];
      let killing: Promise<void> | undefined;
      let killedAt = -1;
      const publishStart = performance.now();
      for (let base = 0; base < EVENTS; base += WINDOW) {
        const batch = [];
        for (let index = base; index < Math.min(base + WINDOW, EVENTS); index++) {
          batch.push(
            publisher.publish("DISPATCH", { namespace: "/", room: "r", packet: index }).then(
              () => void resolved.push(index),
              (error) => {
                rejected.push(index);
                rejections.push(error);
              },
            ),
          );
          if (index === EVENTS * 0.3) {
            killedAt = index;
            killing = victim.kill();
          }
        }
        await Promise.all(batch);
      }
      await killing;
      const publishSeconds = (performance.now() - publishStart) / 1000;
      await until("one member left", () => client.getCluster().getMembers().length === 1);

      if (publishMode === PublishMode.RELIABLE) {
        // Every event whose publish resolved reaches the subscriber (duplicates allowed, counted).
        await until(
          `all ${resolved.length} resolved events delivered`,
          () => resolved.every((index) => received.has(index)),
          45_000,
        );
      } else {
        // At most once: wait until every resolved event arrived, or delivery went quiet for 2 s.
        let seen = -1;
        let quietSince = Date.now();
        await until("delivery to settle", () => {
          if (resolved.every((index) => received.has(index))) return true;
          if (received.size !== seen) {
            seen = received.size;
            quietSince = Date.now();
          }
          return Date.now() - quietSince > 2_000;
        }, 45_000);
      }
      const duplicates = [...received.values()].reduce((sum, count) => sum + count - 1, 0);
      const lostResolved = resolved.filter((index) => !received.has(index)).length;

      // Session data written before the kill is still there; the store goes on working.
      const values = await Promise.all(sessions.map((id) => factory.createStore(id).get("data")));
      values.forEach((value, i) =>
        assert.deepStrictEqual(value, { i, bytes: new Uint8Array([i % 256]) }, `session-${i}`)
      );
      await factory.createStore("after-kill").set("k", "v");
      assert.equal(await factory.createStore("after-kill").get("k"), "v");
      const after = await publisher.publish("DISPATCH", {
        namespace: "/",
        room: "r",
        packet: EVENTS,
      });
      await until("the event published after the kill", () => received.has(EVENTS), 15_000);

      console.log(
        `${publishMode}: setup ${
          setupSeconds.toFixed(1)
        } s; killed member :${victim.endpoint.port} (ring owner) at event ${killedAt}; ` +
          `published ${EVENTS} in ${
            publishSeconds.toFixed(1)
          } s: ${resolved.length} resolved, ${rejected.length} rejected; ` +
          `delivered ${
            received.size - 1
          } distinct (+${duplicates} duplicates), resolved-but-lost ${lostResolved}; ` +
          `${reported.length} transport errors reported; offset after kill ${after.offset}; ` +
          `${SESSIONS}/${SESSIONS} sessions intact; total ${
            ((performance.now() - started) / 1000).toFixed(1)
          } s`,
      );
      if (reported.length > 0) console.log(`first reported error: ${reported[0]}`);
      if (rejections.length > 0) {
        const first = rejections[0] as Error;
        console.log(
          `first rejection: ${first.message} (cause: ${(first.cause as Error)?.constructor.name}: ${
            (first.cause as Error)?.message
          })`,
        );
      }
      assert.ok(rejections.every((error) => error instanceof BackendError));
      if (publishMode === PublishMode.RELIABLE) {
        // At least once: every resolved publish arrived.
        assert.equal(lostResolved, 0);
        assert.ok(resolved.length >= EVENTS * 0.9, `only ${resolved.length} publishes resolved`);
      } else {
        // At most once: nothing arrived twice, and no publish was resent.
        assert.equal(duplicates, 0);
      }
      assert.deepStrictEqual(unhandled, []);
    } finally {
      for (const close of closers) await close().catch((error) => console.error(error));
      await Promise.allSettled(members.map((member) => member.stop()));
      stopWatching();
    }
  }
}

serviceTest(
  hazelcast,
  "reliable: a member killed in the middle of 10 000 events: every resolved publish is delivered, session data survives, nothing crashes",
  () => memberKilled(PublishMode.RELIABLE),
);

serviceTest(
  hazelcast,
  "fire-and-forget: a member killed in the middle of 10 000 events: nothing is delivered twice, session data survives, nothing crashes",
  () => memberKilled(PublishMode.UNRELIABLE),
);

serviceTest(
  hazelcast,
  "the whole cluster gone: publish and store calls reject with BackendError after the invocation timeout, the reader reports it, shutdown is immediate",
  async () => {
    const member = await startHazelcastMember({
      join: [],
      port: findFreePort(16_500 + Math.floor(Math.random() * 2_000)),
    });
    const timeoutMs = 3_000;
    const config = clientConfig([member.address], {
      properties: {
        "hazelcast.logging.level": "OFF",
        "hazelcast.client.invocation.timeout.millis": timeoutMs,
      },
    });
    const reported: Error[] = [];
    const events = new HazelcastReliableTopicEventStore({
      clientConfig: config,
      prefix: prefix("gone"),
      onError: (error) => reported.push(error),
    });
    const factory = new HazelcastStoreFactory({ clientConfig: config, prefix: prefix("gone") });
    try {
      await events.subscribe("JOIN", () => {});
      await events.publish("JOIN", { sessionId: "s", namespace: "/", room: "before" });
      await factory.createStore("s").set("k", 1);
      await member.kill();
      for (
        const [what, call] of [
          ["publish", () => events.publish("JOIN", { sessionId: "s", namespace: "/", room: "r" })],
          ["store get", () => factory.createStore("s").get("k")],
        ] as const
      ) {
        const started = Date.now();
        await assert.rejects(call(), (error: unknown) => error instanceof BackendError, what);
        const elapsed = Date.now() - started;
        assert.ok(elapsed < timeoutMs + 3_000, `${what} rejected after ${elapsed} ms`);
      }
      await until("the reader to report the lost cluster", () => reported.length > 0, 10_000);
      assert.match(
        reported[0]!.message,
        /no member answered within the client's invocation timeout/,
      );
      const closing = Date.now();
      await events.shutdown();
      await factory.shutdown();
      assert.ok(Date.now() - closing < 2_000, "shutdown waited for the lost cluster");
    } finally {
      await events.shutdown();
      await factory.shutdown();
      await member.stop();
    }
  },
);

serviceTest(
  hazelcast,
  "an owned client on the default connect deadline gives up its first connect after it, but outlives a longer member outage later",
  async () => {
    const port = findFreePort(16_500 + Math.floor(Math.random() * 2_000));
    const config = {
      clusterName: HAZELCAST_CLUSTER_NAME,
      network: { clusterMembers: [`127.0.0.1:${port}`] },
      properties: { "hazelcast.logging.level": "OFF" },
    };
    // No member yet: the first connect gives up after the default deadline.
    const started = Date.now();
    await assert.rejects(
      connectHazelcast(config),
      (error: unknown) =>
        error instanceof BackendError &&
        error.message.includes(`within ${DEFAULT_CLUSTER_CONNECT_TIMEOUT_MS} ms`),
    );
    assert.ok(Date.now() - started >= DEFAULT_CLUSTER_CONNECT_TIMEOUT_MS - 500);

    let member = await startHazelcastMember({ join: [], port });
    const p = prefix("outage");
    const reported: string[] = [];
    const stores = ["a", "b"].map((nodeId) =>
      new HazelcastReliableTopicEventStore({
        clientConfig: config,
        prefix: p,
        nodeId,
        onError: (error) => void reported.push(error.message),
      })
    );
    const [a, b] = stores as [HazelcastReliableTopicEventStore, HazelcastReliableTopicEventStore];
    try {
      const rooms: string[] = [];
      await b.subscribe("JOIN", (message) => void rooms.push(message.room));
      const join = (room: string) => a.publish("JOIN", { sessionId: "s", namespace: "/", room });
      for (const room of ["b0", "b1", "b2", "b3", "before"]) await join(room);
      await until("before", () => rooms.includes("before"));
      // Down for longer than the first connect's deadline.
      await member.kill();
      await sleep(DEFAULT_CLUSTER_CONNECT_TIMEOUT_MS + 3_000);
      member = await startHazelcastMember({ join: [], port });
      // The clients reconnect by themselves; publishes go through again.
      await until("a publish after the outage", async () => {
        try {
          await join("after");
          return true;
        } catch {
          return false;
        }
      }, 60_000);
      await join("later");
      // The restarted member lost the ring. The reader, waiting at sequence 5, is handed what
      // comes after the new ring's first message; it sees the ring started over, reads it again
      // from its head, and so the first message after the restart arrives too.
      await until("the messages after the outage", () => rooms.includes("later"), 60_000);
      assert.deepStrictEqual(rooms.slice(5).filter((room) => room !== "after").slice(-1), [
        "later",
      ]);
      assert.ok(rooms.slice(5).includes("after"), rooms.join(","));
      assert.ok(
        reported.some((message) => message.includes("started over")),
        reported.join("\n"),
      );
      assert.ok(
        !reported.some((message) => message.includes("the client was shut down")),
        reported.join("\n"),
      );
    } finally {
      await Promise.allSettled(stores.map((store) => store.shutdown()));
      await member.stop();
    }
  },
);
