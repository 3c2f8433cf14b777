/**
 * The server's `max_payload` bounds what the NATS stores accept, on a private nats-server
 * configured with `max_payload: 64KB`: the default `maxMessageBytes` follows it, a larger explicit
 * one is a RangeError, and an oversized publish is a RangeError that sends nothing.
 */

import assert from "node:assert/strict";
import { DEFAULT_MAX_MESSAGE_BYTES } from "../../mod.ts";
import { NatsEventStore, NatsJetStreamEventStore } from "../../src/nats/mod.ts";
import { Inbox, randomPrefix } from "../conformance/_helpers.ts";
import { requireService, serviceTest } from "../_services.ts";
import { connectOver, startNats } from "./_nats.ts";

const nats = await requireService("nats");
const MAX_PAYLOAD = 64 * 1024;

serviceTest(
  nats,
  "NATS stores follow the server's max_payload (64 KB): default limit, explicit limit, oversized publish",
  async () => {
    const server = await startNats({ maxPayload: "64KB" });
    const nc = await connectOver("tcp", { servers: server.url, maxReconnectAttempts: 0 });
    const prefix = randomPrefix();
    const stores: { shutdown(): Promise<void> }[] = [];
    try {
      assert.equal(nc.info?.max_payload, MAX_PAYLOAD);
      const a = new NatsEventStore(nc, { prefix, nodeId: "a" });
      const b = new NatsEventStore(nc, { prefix, nodeId: "b" });
      stores.push(a, b);
      assert.ok(MAX_PAYLOAD < DEFAULT_MAX_MESSAGE_BYTES);
      assert.equal(a.maxMessageBytes, MAX_PAYLOAD);
      assert.throws(
        () => new NatsEventStore(nc, { maxMessageBytes: MAX_PAYLOAD + 1 }),
        (error: unknown) => error instanceof RangeError && /max_payload 65536/.test(error.message),
      );
      const inbox = await new Inbox().listen(b, "DISPATCH");
      await assert.rejects(
        a.publish("DISPATCH", { namespace: "/", room: "big", packet: new Uint8Array(MAX_PAYLOAD) }),
        RangeError,
      );
      await a.publish("DISPATCH", {
        namespace: "/",
        room: "fits",
        packet: new Uint8Array(MAX_PAYLOAD - 1024),
      });
      await inbox.waitFor(1);
      assert.deepStrictEqual(
        inbox.messages.map((message) => message.type === "DISPATCH" && message.room),
        ["fits"],
      );
      const js = new NatsJetStreamEventStore(nc, { prefix: `${prefix}-js`, storage: "memory" });
      stores.push(js);
      assert.equal(
        js.maxMessageBytes,
        MAX_PAYLOAD,
        "one attempt by default: no header to make room for",
      );
      const retrying = new NatsJetStreamEventStore(nc, {
        prefix: `${prefix}-js`,
        storage: "memory",
        publishRetries: 1,
      });
      stores.push(retrying);
      assert.equal(
        retrying.maxMessageBytes,
        MAX_PAYLOAD - 128,
        "room kept for the Nats-Msg-Id header of retried publishes",
      );
      await assert.rejects(
        js.publish("DISPATCH", {
          namespace: "/",
          room: "big",
          packet: new Uint8Array(MAX_PAYLOAD),
        }),
        RangeError,
      );
      const result = await js.publish("DISPATCH", {
        namespace: "/",
        room: "fits",
        packet: new Uint8Array(MAX_PAYLOAD - 1024),
      });
      assert.equal(result.offset, "1");
    } finally {
      await Promise.allSettled(stores.map((store) => store.shutdown()));
      await nc.close();
      await server.stop();
    }
  },
);
