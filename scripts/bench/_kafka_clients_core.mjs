/**
 * Runtime-neutral core of the Kafka client comparison (kafkajs vs @platformatic/kafka). Both
 * client modules are injected, so the same code runs under Deno (npm specifiers) and under Node
 * (modules installed in a scratch folder). Plain JavaScript so Node 20 runs it without a build.
 *
 * Scenarios, on one topic with one partition, the same records for both clients:
 * - `produce-batch`: N records sent in requests of 100 records (awaited one after the other);
 * - `produce-concurrent`: N single-record sends, up to 500 in flight;
 * - `consume`: a fresh consumer group reads the N records from the earliest offset;
 * - `roundtrip`: one record at a time, produce → consumed by a live consumer (p50/p99 latency).
 *
 * @module
 */

const BATCH = 100;
const WINDOW = 500;

/** @param {number[]} sorted @param {number} q */
function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** @param {number} size @param {number} index */
function record(size, index) {
  const bytes = new Uint8Array(size);
  new DataView(bytes.buffer).setUint32(0, index);
  new DataView(bytes.buffer).setFloat64(4, performance.now());
  return bytes;
}

/** @param {Uint8Array} bytes */
function stamp(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getFloat64(4);
}

/** Waits until `check()` is true or `ms` passed. */
async function until(check, ms, what) {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** The kafkajs side. */
function kafkajsClient(lib, brokers) {
  const { Kafka, logLevel } = lib;
  const kafka = new Kafka({ clientId: "bench-kafkajs", brokers, logLevel: logLevel.NOTHING });
  return {
    name: "kafkajs",
    async createTopic(topic) {
      const admin = kafka.admin();
      await admin.connect();
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      } finally {
        await admin.disconnect();
      }
    },
    async deleteTopic(topic) {
      const admin = kafka.admin();
      await admin.connect();
      try {
        await admin.deleteTopics({ topics: [topic] });
      } finally {
        await admin.disconnect();
      }
    },
    async producer() {
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      return {
        send: (topic, values) =>
          producer.send({
            topic,
            acks: -1,
            // kafkajs needs Buffers: a plain Uint8Array value is framed with a wrong length.
            messages: values.map((value) => ({ value: Buffer.from(value) })),
          }),
        close: () => producer.disconnect(),
      };
    },
    /** Consumes from the earliest offset (fromBeginning) or the latest; onValue per record. */
    async consumer(topic, fromBeginning, onValue) {
      const consumer = kafka.consumer({
        groupId: `bench-${crypto.randomUUID()}`,
        maxWaitTimeInMs: 100,
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning });
      let ready;
      const joined = new Promise((resolve) => (ready = resolve));
      consumer.on(consumer.events.GROUP_JOIN, () => ready());
      await consumer.run({
        eachBatch: ({ batch }) => {
          for (const message of batch.messages) onValue(message.value);
          return Promise.resolve();
        },
      });
      await joined;
      return { close: () => consumer.disconnect() };
    },
  };
}

/** The @platformatic/kafka side. */
function platformaticClient(lib, brokers) {
  const { Admin, Consumer, Producer } = lib;
  const base = { bootstrapBrokers: brokers };
  return {
    name: "@platformatic/kafka",
    async createTopic(topic) {
      const admin = new Admin({ ...base, clientId: "bench-pk-admin" });
      try {
        await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
      } finally {
        await admin.close();
      }
    },
    async deleteTopic(topic) {
      const admin = new Admin({ ...base, clientId: "bench-pk-admin" });
      try {
        await admin.deleteTopics({ topics: [topic] });
      } finally {
        await admin.close();
      }
    },
    producer() {
      const producer = new Producer({ ...base, clientId: "bench-pk-producer", idempotent: true });
      return {
        send: (topic, values) =>
          producer.send({
            messages: values.map((value) => ({ topic, value: Buffer.from(value) })),
          }),
        close: () => producer.close(),
      };
    },
    async consumer(topic, fromBeginning, onValue) {
      const consumer = new Consumer({
        ...base,
        clientId: "bench-pk-consumer",
        groupId: `bench-${crypto.randomUUID()}`,
        maxWaitTime: 100,
      });
      const stream = await consumer.consume({
        topics: [topic],
        mode: fromBeginning ? "earliest" : "latest",
        autocommit: false,
      });
      stream.on("data", (message) => onValue(message.value));
      return {
        close: async () => {
          await stream.close();
          await consumer.close();
        },
      };
    },
  };
}

async function scenario(client, count, size) {
  const rows = [];
  const topic = `bench-clients-${client.name.replace(/\W/g, "")}-${
    crypto.randomUUID().slice(0, 8)
  }`;
  await client.createTopic(topic);
  let producer = await client.producer();
  try {
    // produce-batch
    let started = performance.now();
    for (let index = 0; index < count; index += BATCH) {
      const values = [];
      for (let i = index; i < Math.min(count, index + BATCH); i++) values.push(record(size, i));
      await producer.send(topic, values);
    }
    let seconds = (performance.now() - started) / 1000;
    rows.push({ scenario: `produce-batch (${BATCH}/request)`, perSecond: count / seconds });

    // produce-concurrent
    started = performance.now();
    const inFlight = new Set();
    let failure;
    for (let index = 0; index < count && failure === undefined; index++) {
      const promise = producer.send(topic, [record(size, index)])
        .catch((error) => (failure ??= error))
        .finally(() => inFlight.delete(promise));
      inFlight.add(promise);
      if (inFlight.size >= WINDOW) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    seconds = (performance.now() - started) / 1000;
    const concurrent = `produce-concurrent (1/request, ${WINDOW} in flight, idempotent)`;
    if (failure === undefined) rows.push({ scenario: concurrent, perSecond: count / seconds });
    else {rows.push({
        scenario: concurrent,
        failed: `${failure.message} ${failure.errors?.[0]?.message ?? ""}`,
      });}
    // Top up so the consume scenario always reads 2N records.
    const produced = failure === undefined ? count : 0;
    if (failure !== undefined) {
      // A failed idempotent producer may stay broken (sequence numbers out of step): renew it.
      await producer.close();
      producer = await client.producer();
    }
    for (let index = produced; index < count; index += BATCH) {
      const values = [];
      for (let i = index; i < Math.min(count, index + BATCH); i++) values.push(record(size, i));
      await producer.send(topic, values);
    }

    // consume all 2N from the beginning
    let received = 0;
    started = performance.now();
    const reader = await client.consumer(topic, true, () => received++);
    try {
      await until(() => received >= 2 * count, 120_000, `${2 * count} records`);
    } finally {
      seconds = (performance.now() - started) / 1000;
      await reader.close();
    }
    rows.push({
      scenario: "consume (new group, earliest, incl. join)",
      perSecond: (2 * count) / seconds,
    });

    // round trip latency
    const latencies = [];
    let last = -1;
    const live = await client.consumer(topic, false, (value) => {
      const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      latencies.push(performance.now() - stamp(bytes));
      last = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);
    });
    try {
      await sleep(500);
      const rounds = Math.min(500, count);
      started = performance.now();
      for (let index = 0; index < rounds; index++) {
        await producer.send(topic, [record(size, 1_000_000 + index)]);
        await until(() => last === 1_000_000 + index, 10_000, `round trip ${index}`);
      }
      seconds = (performance.now() - started) / 1000;
      const sorted = latencies.slice(-rounds).sort((a, b) => a - b);
      rows.push({
        scenario: "round trip (1 record at a time)",
        perSecond: rounds / seconds,
        p50: quantile(sorted, 0.5),
        p99: quantile(sorted, 0.99),
      });
    } finally {
      await live.close();
    }
  } finally {
    await producer.close();
    await client.deleteTopic(topic).catch(() => {});
  }
  return rows;
}

/**
 * Runs every scenario for both clients and returns printable rows.
 *
 * @param {{ kafkajs: any, platformatic: any, brokers: string[], count?: number, size?: number, runtime: string }} options
 */
export async function compareKafkaClients(options) {
  const count = options.count ?? 10_000;
  const size = options.size ?? 256;
  const clients = [
    kafkajsClient(options.kafkajs, options.brokers),
    platformaticClient(options.platformatic, options.brokers),
  ];
  const lines = [];
  for (const client of clients) {
    let rows;
    try {
      rows = await scenario(client, count, size);
    } catch (error) {
      const detail = error?.errors?.map((inner) => inner.message).join("; ") ?? "";
      lines.push(
        `${options.runtime} | ${client.name} | FAILED: ${error?.message ?? error} ${detail}`,
      );
      continue;
    }
    for (const row of rows) {
      if (row.failed !== undefined) {
        lines.push(`${options.runtime} | ${client.name} | ${row.scenario} | FAILED: ${row.failed}`);
        continue;
      }
      const latency = row.p50 === undefined
        ? ""
        : ` | p50 ${row.p50.toFixed(2)} ms | p99 ${row.p99.toFixed(2)} ms`;
      lines.push(
        `${options.runtime} | ${client.name} | ${row.scenario} | ${
          Math.round(row.perSecond)
        } rec/s${latency}`,
      );
    }
  }
  return lines;
}
