/**
 * Smoke tests of the Kafka harness with the raw kafkajs client: the shared broker takes a record
 * and gives it back to a consumer, and a private broker keeps its records across `restart()`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Consumer, Kafka, logLevel } from "kafkajs";
import { isPidAlive } from "../../scripts/services/_process.ts";
import { KAFKA_PORT, startKafka } from "../../scripts/services/kafka.ts";
import { requireService, serviceTest } from "../_services.ts";

const kafka = await requireService("kafka");

/** Runs `consumer` and resolves with the first record's value (rejects after `ms`). */
function firstValue(consumer: Consumer, ms = 30_000): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no record within ${ms} ms`)), ms);
    consumer.run({
      eachMessage: ({ message }) => {
        clearTimeout(timer);
        resolve(message.value?.toString() ?? "<null value>");
        return Promise.resolve();
      },
    }).catch((error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function client(brokers: readonly string[]): Kafka {
  return new Kafka({ clientId: "smoke-kafka", brokers: [...brokers], logLevel: logLevel.NOTHING });
}

serviceTest(kafka, "kafka smoke: create a topic, produce a record, consume it back", async () => {
  assert.equal(kafka.endpoint.port, KAFKA_PORT);
  const k = client([`${kafka.endpoint.host}:${kafka.endpoint.port}`]);
  const topic = `smoke-kafka-${crypto.randomUUID()}`;
  const admin = k.admin();
  const producer = k.producer();
  const consumer = k.consumer({ groupId: `smoke-${topic}` });
  try {
    await admin.connect();
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: 1 }],
      waitForLeaders: true,
    });
    assert.equal(created, true);
    assert.ok((await admin.listTopics()).includes(topic));

    await producer.connect();
    const value = `hello kafka ${crypto.randomUUID()}`;
    const [sent] = await producer.send({ topic, messages: [{ key: "k", value }] });
    assert.equal(sent?.topicName, topic);
    assert.equal(sent?.errorCode, 0);

    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    assert.equal(await firstValue(consumer), value);
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  }
});

serviceTest(kafka, "kafka failure instance: a record survives restart()", async () => {
  const broker = await startKafka();
  try {
    assert.ok(broker.endpoint.port >= 16400, "extra instances use ports from 16400 up");
    assert.notEqual(broker.endpoint.port, KAFKA_PORT);
    const k = client(broker.brokers);
    const topic = "restart-kept";
    const value = `before restart ${crypto.randomUUID()}`;
    const producer = k.producer();
    await producer.connect();
    try {
      // The topic does not exist yet: the broker creates it (auto.create.topics.enable).
      const [sent] = await producer.send({ topic, messages: [{ value }] });
      assert.equal(sent?.errorCode, 0);
    } finally {
      await producer.disconnect();
    }

    const firstPid = broker.pid;
    assert.notEqual(firstPid, undefined);
    await broker.restart();
    assert.equal(isPidAlive(firstPid!), false, "the old broker process is gone");
    assert.notEqual(broker.pid, undefined);
    assert.notEqual(broker.pid, firstPid);

    const consumer = k.consumer({ groupId: `restart-${crypto.randomUUID()}` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      assert.equal(await firstValue(consumer), value);
    } finally {
      await consumer.disconnect();
    }
  } finally {
    const pid = broker.pid;
    await broker.stop();
    assert.equal(broker.pid, undefined);
    if (pid !== undefined) assert.equal(isPidAlive(pid), false, "stop() ended the broker");
  }
});

Deno.test("randomClusterId never starts with a character kafka-storage reads as an option", async () => {
  const { randomClusterId } = await import("../../scripts/services/kafka.ts");
  for (let index = 0; index < 2000; index++) {
    const id = randomClusterId();
    if (!/^[A-Za-z][A-Za-z0-9_-]{21}$/.test(id)) throw new Error(`bad cluster id ${id}`);
  }
});
