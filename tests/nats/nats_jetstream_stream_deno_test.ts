/**
 * The stream under a {@linkcode NatsJetStreamEventStore}:
 *
 * - a stream that went missing after the store created it (a memory stream after a server
 *   restart, a deleted stream) is created again by the next publish, which resolves, and the
 *   subscribers of other nodes read the new stream from its first message;
 * - a `fromOffset` past the stream's last sequence rejects with a `RangeError`; one before the
 *   stream's first sequence (messages removed by its limits) subscribes and reports the gap once.
 */

import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { BackendError, type EventMessage } from "../../mod.ts";
import { NatsJetStreamEventStore } from "../../src/nats/mod.ts";
import { Inbox, randomPrefix, shutdownAll } from "../conformance/_helpers.ts";
import { requireService, serviceTest } from "../_services.ts";
import { NATS_TCP, startConfiguredNats } from "./_nats.ts";

const nats = await requireService("nats");

const dispatch = (packet: string) => ({ namespace: "/", room: "", packet });
const packets = (messages: readonly EventMessage[]) =>
  messages.map((message) =>
    `${String((message as { packet?: unknown }).packet)}@${message.offset}`
  );

/** Waits until `nc` answers a flush (a flush in flight when the server went away rejects). */
async function reconnected(nc: { flush(): Promise<void> }): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await nc.flush();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

serviceTest(
  nats,
  "NatsJetStreamEventStore: after a restart that lost its memory stream, publish creates it again and resolves, and another node's subscriber receives the message",
  async () => {
    let server = await startConfiguredNats("");
    const port = Number(new URL(server.url).port);
    const options = { servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 };
    const ncA = await connect(options);
    const ncB = await connect(options);
    const errors: string[] = [];
    const common = { prefix: randomPrefix("jsmem"), storage: "memory" as const, timeoutMs: 2000 };
    const a = new NatsJetStreamEventStore(ncA, { ...common, nodeId: "a" });
    const b = new NatsJetStreamEventStore(ncB, {
      ...common,
      nodeId: "b",
      onError: (error) => void errors.push(error.message),
    });
    try {
      const inbox = await new Inbox().listen(b, "DISPATCH");
      assert.equal((await a.publish("DISPATCH", dispatch("before"))).offset, "1");
      await inbox.waitFor(1);
      await server.stop();
      server = await startConfiguredNats("", { port });
      // Both connections back on the new server (its memory stream is gone).
      await reconnected(ncA);
      await reconnected(ncB);
      // Concurrent publishes share one creation of the stream; each resolves.
      const results = await Promise.all(
        ["after1", "after2", "after3"].map((packet) => a.publish("DISPATCH", dispatch(packet))),
      );
      assert.deepStrictEqual(results.map((result) => result.offset).sort(), ["1", "2", "3"]);
      const received = await inbox.waitFor(4, "the 3 events published after the restart");
      assert.deepStrictEqual(
        packets(received.slice(1)).sort(),
        ["after1@1", "after2@2", "after3@3"].sort(),
      );
      assert.equal(packets(received)[0], "before@1");
      // The new consumer may deliver before its move is reported: wait up to 5 s for the report.
      const reported = () =>
        errors.some((message) => /stream \S+ was created again while consuming/.test(message));
      for (let wait = 0; wait < 100 && !reported(); wait++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(reported(), `b reports the new stream: ${JSON.stringify(errors)}`);
      assert.equal((await a.publish("DISPATCH", dispatch("later"))).offset, "4");
      await inbox.waitFor(5);
    } finally {
      await shutdownAll([a, b]);
      await ncA.close();
      await ncB.close();
      await server.stop();
    }
  },
);

serviceTest(
  nats,
  "NatsJetStreamEventStore: a deleted stream is created again by the next publish, and subscribers read it from its first message",
  async () => {
    const nc = await connect({ servers: NATS_TCP });
    const errors: string[] = [];
    const common = { prefix: randomPrefix("jsdel"), storage: "memory" as const };
    const a = new NatsJetStreamEventStore(nc, { ...common, nodeId: "a" });
    const b = new NatsJetStreamEventStore(nc, {
      ...common,
      nodeId: "b",
      onError: (error) => void errors.push(error.message),
    });
    const jsm = await jetstreamManager(nc);
    try {
      const inbox = await new Inbox().listen(b, "DISPATCH");
      await a.publish("DISPATCH", dispatch("one"));
      await a.publish("DISPATCH", dispatch("two"));
      await inbox.waitFor(2);
      await jsm.streams.delete(a.stream);
      assert.equal((await a.publish("DISPATCH", dispatch("three"))).offset, "1");
      const received = await inbox.waitFor(3, "the event published after the deletion");
      assert.deepStrictEqual(packets(received), ["one@1", "two@2", "three@1"]);
    } finally {
      await shutdownAll([a, b]);
      await jsm.streams.delete(a.stream).catch(() => {});
      await nc.close();
    }
  },
);

serviceTest(
  nats,
  "NatsJetStreamEventStore.subscribe(): fromOffset past the stream's end rejects with a RangeError; before its first sequence, the removed sequences are reported once",
  async () => {
    const nc = await connect({ servers: NATS_TCP });
    const errors: Error[] = [];
    const prefix = randomPrefix("jsoff");
    const make = (nodeId: string) =>
      new NatsJetStreamEventStore(nc, {
        prefix,
        nodeId,
        storage: "memory",
        retention: { maxMsgs: 5 },
        onError: (error) => void errors.push(error),
      });
    const publisher = make("pub");
    const late = make("late");
    const ahead = make("ahead");
    const jsm = await jetstreamManager(nc);
    try {
      for (let i = 1; i <= 10; i++) await publisher.publish("DISPATCH", dispatch(`p${i}`));
      const { state } = await jsm.streams.info(publisher.stream);
      assert.deepStrictEqual([state.first_seq, state.last_seq], [6, 10]);

      await assert.rejects(
        ahead.subscribe("DISPATCH", () => {}, { fromOffset: "11" }),
        (error: unknown) =>
          error instanceof RangeError && /fromOffset 11 .*\b10\b/.test(error.message),
      );
      // The last sequence itself is a valid position: read what comes after it.
      const inboxAhead = new Inbox();
      await ahead.subscribe("DISPATCH", inboxAhead.push, { fromOffset: "10" });

      const inbox = new Inbox();
      await late.subscribe("DISPATCH", inbox.push, { fromOffset: "2" });
      const received = await inbox.waitFor(5);
      assert.deepStrictEqual(received.map((message) => message.offset), ["6", "7", "8", "9", "10"]);
      await publisher.publish("DISPATCH", dispatch("p11"));
      await inbox.waitFor(6);
      await inboxAhead.waitFor(1);
      assert.deepStrictEqual(inboxAhead.messages.map((message) => message.offset), ["11"]);
      assert.equal(errors.length, 1, `one report: ${errors.map((e) => e.message).join(" | ")}`);
      assert.ok(errors[0] instanceof BackendError);
      assert.match(errors[0].message, /sequences 3 to 5\b.*removed by the stream's limits/);
    } finally {
      await shutdownAll([publisher, late, ahead]);
      await jsm.streams.delete(publisher.stream).catch(() => {});
      await nc.close();
    }
  },
);
