/**
 * Failure tests on a private nats-server (JetStream on disk) stopped and started again in the
 * middle of 10,000 events:
 *
 * - NATS core (WebSocket, then TCP): no crash, no unhandled rejection, publishes that could not be
 *   confirmed reject, the subscription comes back by itself; the lost count is reported.
 * - JetStream: every event whose publish resolved is delivered (duplicates counted and reported),
 *   and publishes that got no acknowledgement reject.
 */

import assert from "node:assert/strict";
import { BackendError, type EventMessage, type EventStore } from "../../mod.ts";
import { NatsEventStore, NatsJetStreamEventStore } from "../../src/nats/mod.ts";
import type { NatsInstance } from "../../scripts/services/nats.ts";
import { resumeProcess, suspendProcess } from "../../scripts/services/_process.ts";
import { within } from "../conformance/_helpers.ts";
import { requireService, serviceTest } from "../_services.ts";
import { connectOver, owningConnection, startNats, type Transport } from "./_nats.ts";

const nats = await requireService("nats");

const TOTAL = 10_000;
const WINDOW = 100;
const RECONNECT = { maxReconnectAttempts: -1, reconnectTimeWait: 100 };

interface Outcome {
  readonly resolved: Set<number>;
  readonly rejected: number;
  readonly rejectedWhileDown: number;
}

/** Counts unhandled rejections during a test (Deno would also fail the test on one). */
function watchUnhandled(): { count: () => number; stop: () => void } {
  let count = 0;
  const onUnhandled = (event: PromiseRejectionEvent) => {
    count++;
    console.error("unhandled rejection", event.reason);
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  return {
    count: () => count,
    stop: () => globalThis.removeEventListener("unhandledrejection", onUnhandled),
  };
}

/**
 * Publishes events 0..TOTAL-1 in windows of WINDOW concurrent publishes. At the middle the server
 * is stopped while a window is in flight, one whole window is published while it is down, and it
 * is started again while the next windows are being published.
 */
async function publishAcrossRestart(
  publisher: EventStore,
  server: NatsInstance,
): Promise<Outcome> {
  const resolved = new Set<number>();
  let rejected = 0;
  let rejectedWhileDown = 0;
  let restarting: Promise<void> | undefined;
  const publishWindow = async (from: number): Promise<number> => {
    const results = await Promise.allSettled(
      Array.from({ length: WINDOW }, (_, offset) =>
        publisher.publish("DISPATCH", {
          namespace: "/",
          room: "r",
          packet: from + offset,
        })),
    );
    let failures = 0;
    results.forEach((result, offset) => {
      if (result.status === "fulfilled") resolved.add(from + offset);
      else {
        assert.ok(result.reason instanceof BackendError, String(result.reason));
        failures++;
      }
    });
    rejected += failures;
    return failures;
  };
  for (let from = 0; from < TOTAL; from += WINDOW) {
    if (from === TOTAL / 2) {
      const stopping = server.stop();
      await publishWindow(from);
      await stopping;
      from += WINDOW;
      rejectedWhileDown = await publishWindow(from);
      restarting = server.restart();
      restarting.catch(() => {}); // awaited (and rethrown) after the loop
      continue;
    }
    await publishWindow(from);
  }
  await restarting;
  return { resolved, rejected, rejectedWhileDown };
}

function packetsOf(messages: readonly EventMessage[]): number[] {
  return messages.map((message) => (message.type === "DISPATCH" ? message.packet as number : -1));
}

async function nodesOn(
  server: NatsInstance,
  transport: Transport,
  make: (nc: Awaited<ReturnType<typeof connectOver>>, nodeId: string) => EventStore,
): Promise<[EventStore, EventStore]> {
  const servers = transport === "ws" ? server.wsUrl : server.url;
  const stores: EventStore[] = [];
  for (const nodeId of ["publisher", "subscriber"]) {
    const nc = await connectOver(transport, { servers, ...RECONNECT });
    stores.push(owningConnection(make(nc, nodeId), nc));
  }
  return stores as [EventStore, EventStore];
}

for (const transport of ["ws", "tcp"] as Transport[]) {
  serviceTest(
    nats,
    `NatsEventStore (${transport}): a server restart in the middle of ${TOTAL} events — no crash, no unhandled rejection, unconfirmed publishes reject, the subscription resumes`,
    async () => {
      const unhandled = watchUnhandled();
      const server = await startNats({ jetstream: true });
      const errors: Error[] = [];
      let stores: EventStore[] = [];
      try {
        const prefix = `fail-${transport}`;
        const [publisher, subscriber] = await nodesOn(
          server,
          transport,
          (nc, nodeId) =>
            new NatsEventStore(nc, {
              prefix,
              nodeId,
              timeoutMs: 2_000,
              onError: (error) => errors.push(error),
            }),
        );
        stores = [publisher, subscriber];
        const received: EventMessage[] = [];
        await subscriber.subscribe("DISPATCH", (message) => void received.push(message));
        const started = performance.now();
        const outcome = await publishAcrossRestart(publisher, server);
        // At-most-once: after the restart, the subscriber is back once a new event reaches it.
        const before = received.length;
        await within(
          (async () => {
            let marker = TOTAL;
            while (received.length === before) {
              await publisher.publish("DISPATCH", { namespace: "/", room: "r", packet: marker++ })
                .catch(() => {});
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          })(),
          "an event published after the restart to arrive",
          20_000,
        );
        const packets = packetsOf(received).filter((packet) => packet < TOTAL);
        const unique = new Set(packets);
        const lostOfResolved = [...outcome.resolved].filter((packet) => !unique.has(packet));
        console.log(
          `[nats core ${transport}] ${TOTAL} events, restart in the middle: ${outcome.resolved.size} publishes resolved, ${outcome.rejected} rejected (${outcome.rejectedWhileDown}/${WINDOW} while the server was down), ${unique.size} delivered, ${
            TOTAL - unique.size
          } lost in all (${lostOfResolved.length} of them had resolved), ${
            packets.length - unique.size
          } duplicates, ${errors.length} transport errors reported, ${
            ((performance.now() - started) / 1000).toFixed(1)
          } s`,
        );
        assert.equal(outcome.rejectedWhileDown, WINDOW, "every publish while down rejects");
        assert.ok(outcome.resolved.size >= TOTAL / 2, "most publishes resolved");
        assert.ok(unique.size >= TOTAL / 2 - WINDOW, "most events delivered");
        assert.ok(
          packetsOf(received).some((packet) => packet >= TOTAL),
          "events published after the restart are delivered",
        );
        assert.equal(packets.length - unique.size, 0, "core delivers no duplicate");
        assert.equal(unhandled.count(), 0);
      } finally {
        await Promise.allSettled(stores.map((store) => store.shutdown()));
        await server.stop();
        unhandled.stop();
      }
    },
  );
}

for (const transport of ["tcp", "ws"] as Transport[]) {
  serviceTest(
    nats,
    `NatsJetStreamEventStore (${transport}): a server restart in the middle of ${TOTAL} events — every resolved publish is delivered, unacknowledged publishes reject`,
    async () => {
      const unhandled = watchUnhandled();
      const server = await startNats({ jetstream: true });
      const errors: Error[] = [];
      let stores: EventStore[] = [];
      try {
        const [publisher, subscriber] = await nodesOn(
          server,
          transport,
          (nc, nodeId) =>
            new NatsJetStreamEventStore(nc, {
              prefix: "fail-js",
              nodeId,
              timeoutMs: 1_000,
              publishRetries: 1,
              onError: (error) => errors.push(error),
            }),
        );
        stores = [publisher, subscriber];
        const received: EventMessage[] = [];
        await subscriber.subscribe("DISPATCH", (message) => void received.push(message));
        const started = performance.now();
        const outcome = await publishAcrossRestart(publisher, server);
        const missing = () => {
          const seen = new Set(packetsOf(received));
          return [...outcome.resolved].filter((packet) => !seen.has(packet));
        };
        await within(
          (async () => {
            while (missing().length > 0) await new Promise((resolve) => setTimeout(resolve, 50));
          })(),
          "every resolved publish to be delivered",
          30_000,
        ).catch((error) => {
          throw new Error(
            `${error.message}; missing ${missing().length}: ${missing().slice(0, 10)}`,
          );
        });
        const packets = packetsOf(received);
        const unique = new Set(packets);
        const offsets = received.map((message) => Number(message.offset));
        console.log(
          `[nats jetstream ${transport}] ${TOTAL} events, restart in the middle: ${outcome.resolved.size} publishes resolved, ${outcome.rejected} rejected (${outcome.rejectedWhileDown}/${WINDOW} while the server was down), ${unique.size} delivered (${
            unique.size - outcome.resolved.size
          } of them from publishes that rejected), ${
            packets.length - unique.size
          } duplicates, ${errors.length} transport errors reported, ${
            ((performance.now() - started) / 1000).toFixed(1)
          } s`,
        );
        assert.equal(outcome.rejectedWhileDown, WINDOW, "every publish while down rejects");
        assert.deepStrictEqual(missing(), []);
        assert.ok(outcome.resolved.size >= TOTAL - 3 * WINDOW);
        assert.ok(
          offsets.every((offset, index) => index === 0 || offset > offsets[index - 1]!),
          "offsets increase",
        );
        assert.equal(unhandled.count(), 0);
      } finally {
        await Promise.allSettled(stores.map((store) => store.shutdown()));
        await server.stop();
        unhandled.stop();
      }
    },
  );
}

serviceTest(
  nats,
  "NatsEventStore (tcp): a publish to a server that stops answering on an open connection rejects after timeoutMs, and the store goes on once it answers again",
  async () => {
    const server = await startNats({ jetstream: false });
    const nc = await connectOver("tcp", { servers: server.url, ...RECONNECT });
    const store = owningConnection(
      new NatsEventStore(nc, { prefix: "silent", nodeId: "publisher", timeoutMs: 300 }),
      nc,
    );
    const pid = server.pid!;
    try {
      await store.publish("JOIN", { sessionId: "s", namespace: "/", room: "before" });
      await suspendProcess(pid);
      const started = Date.now();
      await within(
        assert.rejects(
          store.publish("JOIN", { sessionId: "s", namespace: "/", room: "while-silent" }),
          (error: unknown) =>
            error instanceof BackendError &&
            /did not confirm a publish within 300 ms; the message may be lost/.test(error.message),
        ),
        "the unconfirmed publish to reject",
        5_000,
      );
      const waited = Date.now() - started;
      assert.ok(waited >= 300 && waited < 2_000, `rejected after ${waited} ms`);
      resumeProcess(pid);
      assert.deepStrictEqual(
        await store.publish("JOIN", { sessionId: "s", namespace: "/", room: "after" }),
        {},
      );
    } finally {
      resumeProcess(pid);
      await store.shutdown();
      await server.stop();
    }
  },
);
