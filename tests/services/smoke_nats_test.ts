/**
 * Smoke tests of the NATS harness with the raw client libraries: pub/sub over WebSocket
 * (`wsconnect`) and over TCP (`@nats-io/transport-node`), payloads of 1 MiB, a JetStream stream
 * publish + consume, and a private JetStream server whose store survives a restart.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type NatsConnection, wsconnect } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { startNats } from "../../scripts/services/nats.ts";
import { requireService, serviceTest } from "../_services.ts";
import { toleratingResets } from "../nats/_nats.ts";

const nats = await requireService("nats");
const tcpUrl = `nats://${nats.endpoint.host}:${nats.endpoint.port}`;
const wsUrl = nats.endpoint.extra?.websocket ?? "ws://127.0.0.1:14280";

async function firstMessage(nc: NatsConnection, subject: string): Promise<Uint8Array> {
  const sub = nc.subscribe(subject, { max: 1 });
  await nc.flush();
  for await (const msg of sub) return msg.data;
  throw new Error(`subscription to ${subject} ended without a message`);
}

serviceTest(nats, "nats smoke: pub/sub between a WebSocket and a TCP connection", async () => {
  const ws = await wsconnect({ servers: wsUrl });
  const tcp = await connect({ servers: tcpUrl });
  try {
    const subject = `smoke.${crypto.randomUUID()}`;
    // TCP → WebSocket
    const received = firstMessage(ws, subject);
    await ws.flush();
    tcp.publish(subject, "from tcp");
    assert.equal(new TextDecoder().decode(await received), "from tcp");
    // WebSocket → TCP, 1 MiB payload (max_payload is 8 MB)
    const big = new Uint8Array(1024 * 1024).map((_, i) => i % 251);
    const receivedBig = firstMessage(tcp, `${subject}.big`);
    await tcp.flush();
    ws.publish(`${subject}.big`, big);
    const got = await receivedBig;
    assert.equal(got.length, big.length);
    assert.deepEqual(got, big);
  } finally {
    await ws.close();
    await tcp.close();
  }
});

serviceTest(nats, "nats smoke: JetStream stream publish and ordered consume", async () => {
  const nc = await connect({ servers: tcpUrl });
  const stream = `SMOKE_${crypto.randomUUID().replaceAll("-", "")}`;
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
    const js = jetstream(nc);
    const acks = [];
    for (const text of ["one", "two", "three"]) {
      acks.push(await js.publish(`${stream}.events`, text));
    }
    assert.deepEqual(acks.map((a) => a.seq), [1, 2, 3]);
    assert.equal(acks[0]?.stream, stream);
    const consumer = await js.consumers.get(stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: 2,
    });
    const messages = await consumer.consume();
    const seen: string[] = [];
    for await (const msg of messages) {
      seen.push(msg.string());
      if (seen.length === 2) break;
    }
    await messages.close();
    assert.deepEqual(seen, ["two", "three"]);
  } finally {
    await jsm.streams.delete(stream).catch(() => false);
    await nc.close();
  }
});

serviceTest(nats, "nats failure instance: JetStream store survives restart()", async () => {
  const instance = await startNats({ jetstream: true, token: "smoke-token" });
  try {
    assert.ok(instance.endpoint.port >= 16400);
    // A refused TCP login can raise nats.js's stray ECONNRESET (see toleratingResets).
    await toleratingResets(() =>
      assert.rejects(connect({ servers: instance.url, reconnect: false }))
    );
    let nc = await connect({ servers: instance.url, token: "smoke-token" });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "KEPT", subjects: ["kept.>"] });
    const ack = await jetstream(nc).publish("kept.a", "persisted");
    assert.equal(ack.seq, 1);
    await nc.close();

    await instance.restart();
    nc = await wsconnect({ servers: instance.wsUrl, token: "smoke-token" });
    const info = await (await jetstreamManager(nc)).streams.info("KEPT");
    assert.equal(info.state.messages, 1);
    const msg = await (await jetstreamManager(nc)).streams.getMessage("KEPT", { seq: 1 });
    assert.equal(msg?.string(), "persisted");
    await nc.close();
  } finally {
    await instance.stop();
  }
});
