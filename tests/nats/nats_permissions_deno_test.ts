/**
 * Subscriptions the server refuses or removes, on a private nats-server whose users have
 * subscribe permissions (reloaded with SIGHUP to revoke and restore them while a store runs):
 *
 * - a refused subscribe rejects with a BackendError naming the subject and the server's reason,
 *   reports nothing to `onError`, and the next subscribe tries again;
 * - a subscription the server removes later is reported to `onError` once, and the next subscribe
 *   of its type opens it again.
 *
 * Both for NATS core and for JetStream (whose consumer subscribes to an inbox of its own).
 */

import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  BackendError,
  type EventErrorContext,
  type EventMessage,
  type EventStore,
  type EventStoreOptions,
} from "../../mod.ts";
import { NatsEventStore, NatsJetStreamEventStore } from "../../src/nats/mod.ts";
import { Inbox, within } from "../conformance/_helpers.ts";
import { requireService, serviceTest } from "../_services.ts";
import { type ConfiguredNats, connectOver, startConfiguredNats } from "./_nats.ts";

const nats = await requireService("nats");

/**
 * `limited` may never subscribe to `refused.>`, nor to `_INBOX.*.1`: the inbox a JetStream
 * consumer reads from (`_INBOX.<id>.1`), while the replies to its JetStream API requests (on the
 * wildcard `_INBOX.<id>.*`) still reach it. `switchable` loses both kinds of permission on
 * {@linkcode REVOKED} and gets them back on {@linkcode OPEN}.
 */
function permissions(switchableDeny: string[]): string {
  return `authorization {
  users = [
    { user: "all", password: "all" }
    { user: "limited", password: "limited", permissions: { subscribe: { deny: ["refused.>", "_INBOX.*.1"] } } }
    { user: "switchable", password: "switchable", permissions: { subscribe: { deny: ${
    JSON.stringify(switchableDeny)
  } } } }
  ]
}`;
}
const OPEN = permissions(["never.used"]);
const REVOKED = permissions(["revoked.>", "_INBOX.*.1"]);

interface Reported {
  readonly error: Error;
  readonly context: EventErrorContext;
}

async function withServer(body: (server: ConfiguredNats) => Promise<void>): Promise<void> {
  const server = await startConfiguredNats(OPEN, {
    probeAuth: { user: "all", password: "all" },
  });
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

function connectAs(server: ConfiguredNats, user: string) {
  return connectOver("tcp", {
    servers: server.url,
    user,
    pass: user,
    maxReconnectAttempts: 0,
  });
}

const refusal = (pattern: RegExp) => (error: unknown) =>
  error instanceof BackendError && error.backend === "nats" && pattern.test(error.message) &&
  /Permissions Violation for Subscription/.test(error.message) && error.cause instanceof Error;

/** Lets whatever the server sent so far arrive (one PING/PONG round trip), then one more tick. */
async function settle(nc: { flush(): Promise<void> }): Promise<void> {
  await nc.flush();
  await new Promise((resolve) => setTimeout(resolve, 50));
}

serviceTest(
  nats,
  "NatsEventStore.subscribe() refused by the server's permissions rejects with its reason, reports nothing to onError, and is tried again next time",
  () =>
    withServer(async (server) => {
      const nc = await connectAs(server, "limited");
      const reported: Reported[] = [];
      const onError = (error: Error, context: EventErrorContext) =>
        void reported.push({ error, context });
      const refused = new NatsEventStore(nc, { prefix: "refused", nodeId: "a", onError });
      const allowedA = new NatsEventStore(nc, { prefix: "allowed", nodeId: "a", onError });
      const allowedB = new NatsEventStore(nc, { prefix: "allowed", nodeId: "b", onError });
      try {
        const rejected = refusal(/the NATS server refused the subscription to refused\.JOIN: /);
        await assert.rejects(refused.subscribe("JOIN", () => {}), rejected);
        // Not left counted as open: the next subscribe asks the server again.
        await assert.rejects(refused.subscribe("JOIN", () => {}), rejected);
        await settle(nc);
        assert.deepStrictEqual(reported, [], "a refusal goes to the caller only");
        // The connection is fine for what is allowed.
        const inbox = await new Inbox().listen(allowedB, "JOIN");
        await allowedA.publish("JOIN", { sessionId: "s", namespace: "/", room: "r" });
        await inbox.waitFor(1);
        assert.deepStrictEqual(reported, []);
      } finally {
        await Promise.allSettled([refused, allowedA, allowedB].map((store) => store.shutdown()));
        await nc.close();
      }
    }),
);

/** The consumers of `stream`, read over a connection with every permission. */
async function consumersOf(server: ConfiguredNats, stream: string): Promise<string[]> {
  const nc = await connectOver("tcp", { servers: server.url, user: "all", pass: "all" });
  try {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const info of jsm.consumers.list(stream)) names.push(info.name);
    return names;
  } finally {
    await nc.close();
  }
}

serviceTest(
  nats,
  "NatsJetStreamEventStore.subscribe() whose consumer subscription the server refuses rejects with its reason, leaves no consumer, and is tried again next time",
  () =>
    withServer(async (server) => {
      const nc = await connectAs(server, "limited");
      const reported: Reported[] = [];
      const store = new NatsJetStreamEventStore(nc, {
        prefix: "jsrefused",
        storage: "memory",
        onError: (error, context) => void reported.push({ error, context }),
      });
      try {
        const rejected = refusal(
          /the NATS server refused the consumer of jsrefused\.JOIN on stream jsrefused: /,
        );
        await assert.rejects(store.subscribe("JOIN", () => {}), rejected);
        await assert.rejects(store.subscribe("JOIN", () => {}), rejected);
        await settle(nc);
        assert.deepStrictEqual(reported, [], "a refusal goes to the caller only");
        assert.deepStrictEqual(await consumersOf(server, "jsrefused"), [], "consumers deleted");
      } finally {
        await store.shutdown();
        await nc.close();
      }
    }),
);

/** How one kind of store reports a subscription the server removes, for {@linkcode revokedTest}. */
interface RevokedCase {
  readonly name: string;
  readonly prefix: string;
  create(nc: NatsConnection, options: EventStoreOptions): EventStore;
  /** What `onError` says when the server ends the subscription. */
  readonly ended: RegExp;
  /** What a subscribe refused meanwhile rejects with. */
  readonly refused: RegExp;
}

function revokedTest(kind: RevokedCase): void {
  serviceTest(
    nats,
    `${kind.name}: a subscription the server removes (permission revoked) is reported once, and the next subscribe opens it again`,
    () =>
      withServer(async (server) => {
        const nc = await connectAs(server, "switchable");
        const reported: Reported[] = [];
        const onError = (error: Error, context: EventErrorContext) =>
          void reported.push({ error, context });
        const subscriber = kind.create(nc, { prefix: kind.prefix, nodeId: "a", onError });
        const publisher = kind.create(nc, { prefix: kind.prefix, nodeId: "b", onError });
        const join = (room: string) =>
          publisher.publish("JOIN", { sessionId: "s", namespace: "/", room });
        try {
          const inbox = await new Inbox().listen(subscriber, "JOIN");
          await join("before");
          await inbox.waitFor(1);

          await server.reconfigure(REVOKED);
          await within(
            (async () => {
              while (reported.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
            })(),
            "the removed subscription to be reported",
          );
          await settle(nc);
          assert.equal(reported.length, 1, reported.map(({ error }) => error.message).join("\n"));
          const [{ error, context }] = reported as [Reported];
          assert.ok(error instanceof BackendError);
          assert.match(error.message, kind.ended);
          assert.match(error.message, /Permissions Violation for Subscription/);
          assert.deepStrictEqual(context, { stage: "transport", channel: "JOIN" });

          // The channel counts as closed: subscribing asks the server again (refused for now).
          await assert.rejects(subscriber.subscribe("JOIN", () => {}), refusal(kind.refused));
          await server.reconfigure(OPEN);
          // The first listener stays registered; the channel serves both once open again.
          const again = new Inbox();
          await subscriber.subscribe("JOIN", again.push);
          await join("after");
          await Promise.all([inbox.waitFor(2), again.waitFor(1)]);
          const rooms = (messages: readonly EventMessage[]) =>
            messages.map((message) => message.type === "JOIN" && message.room);
          assert.deepStrictEqual(rooms(inbox.messages), ["before", "after"]);
          assert.deepStrictEqual(rooms(again.messages), ["after"]);
          assert.equal(reported.length, 1);
        } finally {
          await Promise.allSettled([subscriber, publisher].map((store) => store.shutdown()));
          await nc.close();
        }
      }),
  );
}

revokedTest({
  name: "NatsEventStore",
  prefix: "revoked",
  create: (nc, options) => new NatsEventStore(nc, options),
  ended: /the NATS server ended the subscription to revoked\.JOIN: /,
  refused: /the NATS server refused the subscription to revoked\.JOIN: /,
});

revokedTest({
  name: "NatsJetStreamEventStore",
  prefix: "jsrevoked",
  create: (nc, options) => new NatsJetStreamEventStore(nc, { ...options, storage: "memory" }),
  ended: /the consumer of jsrevoked\.JOIN\b.*\bstopped: /,
  refused: /the NATS server refused the consumer of jsrevoked\.JOIN on stream jsrevoked: /,
});
