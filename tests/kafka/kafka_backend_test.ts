/**
 * What is special about KafkaEventStore: topic names and settings, concurrent topic creation,
 * broadcast consumer groups left cleanly on shutdown, a user's producer left open, several
 * partitions, offsets, and publishing to a broker that is not there.
 */

import assert from "node:assert/strict";
import type { Producer } from "@platformatic/kafka";
import { BackendError, type EventMessage } from "../../mod.ts";
import { groupIdOf, KafkaEventStore, parseOffset } from "../../src/kafka/mod.ts";
import { formatOffset, formatOffsets } from "../../src/kafka/offsets.ts";
import { describe } from "../../src/kafka/topics.ts";
import { Inbox, randomPrefix, shutdownAll, within } from "../conformance/_helpers.ts";
import { ignoreUnless, requireService } from "../_services.ts";
import {
  adminClient,
  deleteTopics,
  groupMembers,
  kafkaNode,
  SHARED_BROKERS,
  usedPrefixes,
  userProducer,
} from "./_kafka.ts";

const kafka = await requireService("kafka");
const ignore = ignoreUnless(kafka);

function join(room: string): { sessionId: string; namespace: string; room: string } {
  return { sessionId: "s1", namespace: "/", room };
}

function rooms(messages: readonly EventMessage[]): string[] {
  return messages.map((message) => ("room" in message ? message.room : message.type));
}

Deno.test({
  name: "KafkaEventStore: shutdown() sends lingering batches at once, without waiting lingerMs",
  ignore,
  async fn() {
    const prefix = randomPrefix("kt");
    // batchMaxRecords 2 makes the writer linger again after each batch of the 5 records.
    const a = kafkaNode({ prefix, nodeId: "a" }, { lingerMs: 60_000, batchMaxRecords: 2 });
    const b = kafkaNode({ prefix, nodeId: "b" });
    try {
      const inbox = await new Inbox().listen(b, "JOIN");
      const names = ["l1", "l2", "l3", "l4", "l5"];
      const publishes = names.map((name) => a.publish("JOIN", join(name)));
      const started = performance.now();
      await a.shutdown();
      const took = performance.now() - started;
      assert.ok(took < 30_000, `shutdown() took ${Math.round(took)} ms, as long as a linger`);
      const results = await Promise.all(publishes);
      assert.ok(results.every((result) => typeof result.offset === "string"));
      assert.deepStrictEqual(rooms(await inbox.waitFor(names.length)), names);
    } finally {
      await shutdownAll([a, b]);
    }
  },
});

Deno.test({
  name: "KafkaEventStore names topics <prefix>.<channel> and creates them with its settings",
  ignore,
  async fn() {
    const prefix = randomPrefix("kt");
    const multi = kafkaNode({ prefix, nodeId: "a" }, { partitions: 2 });
    const single = kafkaNode({ prefix, nodeId: "b", mode: "SINGLE_CHANNEL" });
    const admin = adminClient();
    try {
      assert.equal(multi.topicOf("JOIN"), `${prefix}.JOIN`);
      assert.equal(single.topicOf("JOIN"), `${prefix}.all`);
      await multi.subscribe("JOIN", () => {});
      await single.publish("DISPATCH", { namespace: "/", room: "r", packet: 1 });
      const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(`${prefix}.`));
      assert.deepStrictEqual(topics.sort(), [`${prefix}.JOIN`, `${prefix}.all`]);
      const metadata = await admin.metadata({ topics: [`${prefix}.JOIN`, `${prefix}.all`] });
      assert.equal(metadata.topics.get(`${prefix}.JOIN`)?.partitionsCount, 2);
      assert.equal(metadata.topics.get(`${prefix}.all`)?.partitionsCount, 1);
      const [config] = await admin.describeConfigs({
        resources: [{ resourceType: 2, resourceName: `${prefix}.all`, configurationKeys: [] }],
      });
      const maxBytes = config?.configs.find((entry) => entry.name === "max.message.bytes");
      assert.equal(Number(maxBytes?.value), 2 * 1024 * 1024 + 64 * 1024);
    } finally {
      await shutdownAll([multi, single]);
      await admin.close();
    }
  },
});

Deno.test({
  name: "KafkaEventStore: nodes creating the same topics at once all succeed",
  ignore,
  async fn() {
    const prefix = randomPrefix("kt");
    const nodes = Array.from(
      { length: 6 },
      (_, index) => kafkaNode({ prefix, nodeId: `n${index}` }),
    );
    try {
      const inboxes = await Promise.all(nodes.map((node) => new Inbox().listen(node, "JOIN")));
      await Promise.all(nodes.map((node, index) => node.publish("LEAVE", join(`leave-${index}`))));
      await nodes[0]!.publish("JOIN", join("hello"));
      for (const inbox of inboxes.slice(1)) await inbox.waitFor(1);
      assert.deepStrictEqual(inboxes.map((inbox) => rooms(inbox.messages)), [
        [],
        ...Array.from({ length: 5 }, () => ["hello"]),
      ]);
    } finally {
      await shutdownAll(nodes);
    }
  },
});

Deno.test({
  name: "KafkaEventStore: each node its own consumer groups; shutdown() leaves them empty",
  ignore,
  async fn() {
    const prefix = randomPrefix("kt");
    const a = kafkaNode({ prefix, nodeId: "a" });
    const b = kafkaNode({ prefix, nodeId: "b" });
    try {
      await Promise.all([a, b].map((node) => node.subscribe("JOIN", () => {})));
      await b.subscribe("LEAVE", () => {});
      const groups = [...a.groupIds, ...b.groupIds].sort();
      assert.deepStrictEqual(groups, [
        groupIdOf(prefix, "a", "JOIN"),
        groupIdOf(prefix, "b", "JOIN"),
        groupIdOf(prefix, "b", "LEAVE"),
      ]);
      const live = await groupMembers(groups);
      assert.deepStrictEqual([...live.values()], [1, 1, 1]);
      await b.unsubscribe("LEAVE");
      assert.deepStrictEqual(b.groupIds, [groupIdOf(prefix, "b", "JOIN")]);
      await Promise.all([a.shutdown(), b.shutdown()]);
      const after = await groupMembers(groups);
      assert.deepStrictEqual([...after.values()], [0, 0, 0]);
    } finally {
      await shutdownAll([a, b]);
    }
  },
});

/**
 * Runs `body` with node `a` publishing through a producer of the user's own and node `b` on a
 * fresh prefix, then shuts both nodes down and closes the producer.
 */
async function withUserProducer(
  clientId: string,
  body: (
    nodes: { prefix: string; producer: Producer; a: KafkaEventStore; b: KafkaEventStore },
  ) => Promise<void>,
): Promise<void> {
  const prefix = randomPrefix("kt");
  usedPrefixes.add(prefix);
  const producer = userProducer(clientId);
  const a = new KafkaEventStore({ brokers: SHARED_BROKERS, prefix, nodeId: "a", producer });
  const b = kafkaNode({ prefix, nodeId: "b" });
  try {
    await body({ prefix, producer, a, b });
  } finally {
    await shutdownAll([a, b]);
    await producer.close();
  }
}

Deno.test({
  name: "KafkaEventStore publishes with the user's producer and leaves it open",
  ignore,
  fn: () =>
    withUserProducer("user-producer", async ({ prefix, producer, a, b }) => {
      const inbox = await new Inbox().listen(b, "JOIN");
      await a.publish("JOIN", join("via-user-producer"));
      await inbox.waitFor(1);
      await a.shutdown();
      assert.equal(producer.closed, false);
      const result = await producer.send({
        messages: [{ topic: `${prefix}.JOIN`, value: new TextEncoder().encode("raw") as never }],
      });
      assert.equal(result.offsets?.[0]?.offset, 1n);
    }),
});

Deno.test({
  name: "KafkaEventStore: the publishes of one synchronous run leave in one produce request",
  ignore,
  fn: () =>
    withUserProducer("counted-producer", async ({ producer, a, b }) => {
      // Counts the requests the store makes on a real producer (the records still go to the
      // broker).
      const send = producer.send.bind(producer);
      const batches: number[] = [];
      producer.send = ((options: Parameters<typeof send>[0]) => {
        batches.push(options.messages.length);
        return send(options);
      }) as typeof producer.send;
      const inbox = await new Inbox().listen(b, "JOIN");
      await a.publish("JOIN", join("first"));
      await inbox.waitFor(1); // the channel's writer is idle by now
      batches.length = 0;
      const names = Array.from({ length: 20 }, (_, index) => `r${index}`);
      const results = await Promise.all(names.map((name) => a.publish("JOIN", join(name))));
      assert.deepStrictEqual(batches, [20]);
      assert.deepStrictEqual(
        results.map((result) => parseOffset(result.offset).offset),
        names.map((_, index) => BigInt(index + 1)),
      );
      assert.deepStrictEqual(rooms(await inbox.waitFor(21)), ["first", ...names]);
    }),
});

Deno.test({
  name: "KafkaEventStore over several partitions delivers everything with per-partition offsets",
  ignore,
  async fn() {
    const prefix = randomPrefix("kt");
    const a = kafkaNode({ prefix, nodeId: "a" }, { partitions: 3, batchMaxRecords: 10 });
    const b = kafkaNode({ prefix, nodeId: "b" }, { partitions: 3 });
    try {
      const inbox = await new Inbox().listen(b, "JOIN");
      const sent = Array.from({ length: 90 }, (_, index) => `r${index}`);
      const results = await Promise.all(sent.map((room) => a.publish("JOIN", join(room))));
      await inbox.waitFor(sent.length);
      assert.deepStrictEqual(rooms(inbox.messages).sort(), [...sent].sort());
      const partitions = new Set(results.map((result) => parseOffset(result.offset).partition));
      assert.ok(partitions.size > 1, `records spread over partitions ${[...partitions]}`);
      assert.deepStrictEqual(
        inbox.messages.map((message) => message.offset).sort(),
        results.map((result) => result.offset).sort(),
      );
    } finally {
      await shutdownAll([a, b]);
    }
  },
});

Deno.test({
  name: "KafkaEventStore: a malformed fromOffset rejects with TypeError",
  ignore,
  async fn() {
    const a = kafkaNode({ prefix: randomPrefix("kt"), nodeId: "a" });
    try {
      await assert.rejects(a.subscribe("JOIN", () => {}, { fromOffset: "12" }), TypeError);
      await assert.rejects(a.subscribe("JOIN", () => {}, { fromOffset: "5:1" }), RangeError);
      // The topic is empty: there is no record 0:0 to resume after.
      await assert.rejects(a.subscribe("JOIN", () => {}, { fromOffset: "0:0" }), RangeError);
      assert.deepStrictEqual(a.groupIds, []);
    } finally {
      await a.shutdown();
    }
  },
});

Deno.test({
  name: "KafkaEventStore: a fromOffset past the end of its partition rejects with a RangeError",
  ignore,
  async fn() {
    const prefix = randomPrefix("kt");
    const a = kafkaNode({ prefix, nodeId: "a" });
    const b = kafkaNode({ prefix, nodeId: "b" });
    try {
      assert.equal((await a.publish("JOIN", join("first"))).offset, "0:0");
      const topic = `${prefix}.JOIN`;
      for (const fromOffset of ["0:1000", "0:1"]) {
        await assert.rejects(
          b.subscribe("JOIN", () => {}, { fromOffset }),
          (error: unknown) =>
            error instanceof RangeError && error.message.includes(`fromOffset ${fromOffset}`) &&
            error.message.includes(`partition 0 of topic ${topic}: its end offset is 1`),
        );
      }
      assert.deepStrictEqual(b.groupIds, [], "a rejected subscribe leaves no consumer behind");
      // The last record is a valid fromOffset: reading goes on with the next one.
      const inbox = new Inbox();
      await b.subscribe("JOIN", inbox.push, { fromOffset: "0:0" });
      await a.publish("JOIN", join("second"));
      const [message] = await inbox.waitFor(1);
      assert.deepStrictEqual([rooms([message!]), message!.offset], [["second"], "0:1"]);
    } finally {
      await shutdownAll([a, b]);
    }
  },
});

Deno.test({
  name:
    "KafkaEventStore: a fromOffset whose next records were removed resumes at the earliest record and reports the gap once",
  ignore,
  async fn() {
    const prefix = randomPrefix("kt");
    const topic = `${prefix}.JOIN`;
    const errors: Error[] = [];
    const a = kafkaNode({ prefix, nodeId: "a" });
    const b = kafkaNode({ prefix, nodeId: "b", onError: (error) => void errors.push(error) });
    const admin = adminClient();
    try {
      for (let index = 0; index < 5; index++) await a.publish("JOIN", join(`old${index}`));
      // Retention, as deleteRecords does it: records 0..2 are gone, the log starts at 3.
      await admin.deleteRecords({
        topics: [{ name: topic, partitions: [{ partition: 0, offset: 3n }] }],
      });
      const inbox = new Inbox();
      // Resuming after 0:0: records 0:1 and 0:2 are lost.
      await b.subscribe("JOIN", inbox.push, { fromOffset: "0:0" });
      await a.publish("JOIN", join("new"));
      await inbox.waitFor(3);
      assert.deepStrictEqual(rooms(inbox.messages), ["old3", "old4", "new"]);
      assert.deepStrictEqual(inbox.messages.map((message) => message.offset), [
        "0:3",
        "0:4",
        "0:5",
      ]);
      // Time for a repeated report to show up.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.deepStrictEqual(errors.map((error) => error.message), [
        `kafka: 2 record(s) of partition 0 of topic ${topic} from offset 0:1 were removed (retention or deleteRecords) before this node read them; resuming at 0:3`,
      ]);
      assert.ok(errors[0] instanceof BackendError);
    } finally {
      await shutdownAll([a, b]);
      await admin.close();
    }
  },
});

Deno.test({
  name:
    "KafkaEventStore publishes only to partitions the topic has, with their offsets, and reads them all",
  ignore,
  async fn() {
    const prefix = randomPrefix("kt");
    usedPrefixes.add(prefix);
    const admin = adminClient();
    // Topics made elsewhere with fewer partitions than the writer's `partitions`: JOIN by another
    // node (1 partition), LEAVE by an admin (2 partitions) for nodes with createTopics: false.
    const creator = kafkaNode({ prefix, nodeId: "creator" });
    const writer = kafkaNode({ prefix, nodeId: "w" }, { partitions: 3, createTopics: false });
    const reader = kafkaNode({ prefix, nodeId: "r" }, { createTopics: false });
    try {
      await admin.createTopics({ topics: [`${prefix}.LEAVE`], partitions: 2, replicas: 1 });
      await creator.publish("JOIN", join("created"));
      const inbox = await new Inbox().listen(reader, "JOIN", "LEAVE");
      const offsets: Record<string, string[]> = { JOIN: [], LEAVE: [] };
      // One awaited publish per batch: batch after batch round-robin over the partitions.
      for (let index = 0; index < 6; index++) {
        for (const type of ["JOIN", "LEAVE"] as const) {
          offsets[type]!.push((await writer.publish(type, join(`${type}-${index}`))).offset!);
        }
      }
      assert.deepStrictEqual(offsets.JOIN, ["0:1", "0:2", "0:3", "0:4", "0:5", "0:6"]);
      assert.deepStrictEqual(offsets.LEAVE, ["0:0", "1:0", "0:1", "1:1", "0:2", "1:2"]);
      await inbox.waitFor(12);
      const delivered = new Map(
        inbox.messages.map((message) => [`${message.type} ${message.offset}`, rooms([message])]),
      );
      for (const type of ["JOIN", "LEAVE"] as const) {
        offsets[type]!.forEach((offset, index) =>
          assert.deepStrictEqual(delivered.get(`${type} ${offset}`), [`${type}-${index}`])
        );
      }
      // The writer added no partition: the topics keep the sizes they were made with.
      const metadata = await admin.metadata({ topics: [`${prefix}.JOIN`, `${prefix}.LEAVE`] });
      assert.equal(metadata.topics.get(`${prefix}.JOIN`)?.partitionsCount, 1);
      assert.equal(metadata.topics.get(`${prefix}.LEAVE`)?.partitionsCount, 2);
    } finally {
      await shutdownAll([creator, writer, reader]);
      await admin.close();
    }
  },
});

Deno.test({
  name:
    "KafkaEventStore takes any nodeId: whitespace, . and % are percent-encoded in group and client ids",
  ignore,
  async fn() {
    const prefix = randomPrefix("kt");
    // "node a" and "node%20a" would share a consumer group under a naive encoding.
    const ids = ["node a/ü🙂:*{x}", "node\ta", "node%20a", "node a", "web.1"];
    const nodes = ids.map((nodeId) => kafkaNode({ prefix, nodeId }));
    const sender = kafkaNode({ prefix, nodeId: "sender" });
    try {
      const inboxes = await Promise.all(nodes.map((node) => new Inbox().listen(node, "JOIN")));
      const groups = nodes.flatMap((node) => node.groupIds);
      assert.deepStrictEqual(groups, [
        `${prefix}.node%20a/ü🙂:*{x}.JOIN`,
        `${prefix}.node%09a.JOIN`,
        `${prefix}.node%2520a.JOIN`,
        `${prefix}.node%20a.JOIN`,
        `${prefix}.web%2E1.JOIN`,
      ]);
      assert.deepStrictEqual(groups, ids.map((id) => groupIdOf(prefix, id, "JOIN")));
      await sender.publish("JOIN", join("to-all"));
      // Distinct groups: every node gets the record (a shared group would hand it to one).
      for (const inbox of inboxes) {
        assert.deepStrictEqual(rooms(await inbox.waitFor(1)), ["to-all"]);
      }
      await nodes[0]!.publish("JOIN", join("from-spaced"));
      for (const inbox of inboxes.slice(1)) {
        const [, second] = await inbox.waitFor(2);
        assert.deepStrictEqual([rooms([second!]), second!.nodeId], [["from-spaced"], ids[0]]);
      }
    } finally {
      await shutdownAll([...nodes, sender]);
    }
  },
});

Deno.test({
  name: "KafkaEventStore rejects a clientId that is not a Kafka client id with a TypeError",
  fn() {
    for (const clientId of ["my app", "", "tab\there", 42]) {
      assert.throws(
        () => new KafkaEventStore({ brokers: ["x:1"], clientId: clientId as string }),
        (error: unknown) =>
          error instanceof TypeError &&
          error.message.startsWith("clientId must be a non-empty string without whitespace"),
      );
    }
    assert.doesNotThrow(() => new KafkaEventStore({ brokers: ["x:1"], clientId: "app-1.x/ü" }));
    assert.doesNotThrow(() => new KafkaEventStore({ brokers: ["x:1"], nodeId: "node a" }));
  },
});

Deno.test({
  name: "formatOffset(s) number records, beyond 2^53 too; parseOffset reads them back",
  fn() {
    assert.deepStrictEqual(formatOffsets(2, 41n, 3), ["2:41", "2:42", "2:43"]);
    const big = 2n ** 60n;
    assert.deepStrictEqual(formatOffsets(0, big, 2), [`0:${big}`, `0:${big + 1n}`]);
    assert.deepStrictEqual(parseOffset(`0:${big + 1n}`), { partition: 0, offset: big + 1n });
    assert.equal(formatOffset(1, 9_007_199_254_740_991n), "1:9007199254740991");
    assert.equal(formatOffset(1, 9_007_199_254_740_993n), "1:9007199254740993");
    assert.throws(() => parseOffset("0:-1"), TypeError);
  },
});

Deno.test({
  name: "KafkaEventStore rejects bad options with TypeError/RangeError",
  fn() {
    assert.throws(() => new KafkaEventStore({ brokers: [] }), TypeError);
    assert.throws(() => new KafkaEventStore({ brokers: ["x:1"], partitions: 0 }), RangeError);
    assert.throws(() => new KafkaEventStore({ brokers: ["x:1"], lingerMs: -1 }), RangeError);
  },
});

Deno.test({
  name: "KafkaEventStore: publishing to a broker that is not there rejects after the retries",
  async fn() {
    // Port 1 (tcpmux) has no listener on these machines: every connection is refused.
    const a = new KafkaEventStore({
      brokers: ["127.0.0.1:1"],
      nodeId: "a",
      retries: 2,
      retryDelayMs: 100,
      requestTimeoutMs: 1000,
    });
    try {
      const started = performance.now();
      await assert.rejects(
        a.publish("JOIN", join("nowhere")),
        (error: unknown) =>
          error instanceof BackendError && error.backend === "kafka" &&
          error.message.includes(`socketio4ts.JOIN`),
      );
      assert.ok(performance.now() - started < 15_000);
      await assert.rejects(a.subscribe("JOIN", () => {}), BackendError);
    } finally {
      await a.shutdown();
    }
  },
});

/** Kafka's own default `max.message.bytes` (1 MiB + 12), that of a topic made with defaults. */
const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/** Creates `<prefix>.DISPATCH` with one partition and the given `max.message.bytes`. */
async function dispatchTopic(prefix: string, maxMessageBytes: number): Promise<string> {
  usedPrefixes.add(prefix);
  const topic = `${prefix}.DISPATCH`;
  const admin = adminClient();
  try {
    await admin.createTopics({
      topics: [topic],
      partitions: 1,
      replicas: 1,
      configs: [{ name: "max.message.bytes", value: String(maxMessageBytes) }],
    });
  } finally {
    await admin.close();
  }
  return topic;
}

Deno.test({
  name:
    "KafkaEventStore: 1000 small records published at once fit a topic with Kafka's default max.message.bytes",
  ignore,
  async fn() {
    const prefix = randomPrefix("kt");
    await dispatchTopic(prefix, KAFKA_DEFAULT_MAX_MESSAGE_BYTES);
    const a = kafkaNode({ prefix, nodeId: "a" });
    const b = kafkaNode({ prefix, nodeId: "b" });
    try {
      const inbox = await new Inbox().listen(b, "DISPATCH");
      // About 1 KiB each: their values alone come to just under 1 MiB, their framing does not.
      const packet = "y".repeat(1000);
      const results = await Promise.allSettled(
        Array.from(
          { length: 1000 },
          (_, index) => a.publish("DISPATCH", { namespace: "/", room: `b${index}`, packet }),
        ),
      );
      const rejected = results.filter((result) => result.status === "rejected");
      assert.deepStrictEqual(
        rejected.length,
        0,
        `${rejected.length} of 1000 rejected, e.g. ${
          (rejected[0] as PromiseRejectedResult | undefined)?.reason
        }`,
      );
      assert.deepStrictEqual(
        results.map((result) =>
          (result as PromiseFulfilledResult<{ offset?: string }>).value.offset
        ),
        Array.from({ length: 1000 }, (_, index) => `0:${index}`),
      );
      assert.equal((await inbox.waitFor(1000)).length, 1000);
    } finally {
      await shutdownAll([a, b]);
    }
  },
});

Deno.test({
  name:
    "KafkaEventStore: a batch the broker refuses as too large goes again in halves; only the record too large alone rejects, naming MESSAGE_TOO_LARGE",
  ignore,
  async fn() {
    const prefix = randomPrefix("kt");
    // A topic made by someone else with a small limit: 50 000 bytes per record batch.
    const topic = await dispatchTopic(prefix, 50_000);
    const a = kafkaNode({ prefix, nodeId: "a" });
    const b = kafkaNode({ prefix, nodeId: "b" });
    try {
      const inbox = await new Inbox().listen(b, "DISPATCH");
      const packet = "y".repeat(1000);
      const rooms = Array.from({ length: 200 }, (_, index) => `s${index}`);
      // One synchronous run: the writer's first batch holds all 201 records (about 260 KB).
      const small = rooms.slice(0, 100).map((room) =>
        a.publish("DISPATCH", { namespace: "/", room, packet })
      );
      const big = a.publish("DISPATCH", { namespace: "/", room: "big", packet: "x".repeat(60_000) })
        .then(() => undefined, (error: unknown) => error);
      small.push(
        ...rooms.slice(100).map((room) => a.publish("DISPATCH", { namespace: "/", room, packet })),
      );
      const offsets = (await Promise.all(small)).map((result) => result.offset);
      // Every small record stored, in publish order.
      assert.deepStrictEqual(offsets, rooms.map((_, index) => `0:${index}`));
      const error = await big;
      assert.ok(error instanceof BackendError, `the big record rejects: ${error}`);
      assert.match(
        error.message,
        new RegExp(`could not publish 1 record\\(s\\) to topic ${topic}`),
      );
      assert.match(error.message, /MESSAGE_TOO_LARGE/);
      const received = await inbox.waitFor(rooms.length);
      assert.deepStrictEqual(
        received.map((message) => ("room" in message ? message.room : "")),
        rooms,
      );
    } finally {
      await shutdownAll([a, b]);
    }
  },
});

Deno.test({
  name: "describe() lists the innermost reasons of a client error, with their apiId or code",
  fn() {
    const tooLarge = Object.assign(
      new Error("The request included a message larger than the max message size."),
      { apiId: "MESSAGE_TOO_LARGE", code: "PLT_KFK_PROTOCOL" },
    );
    const response = new AggregateError(
      [tooLarge],
      "Received response with error while executing API Produce(v11)",
    );
    assert.equal(
      describe(new AggregateError([response], "Producing messages failed.")),
      "Producing messages failed. (MESSAGE_TOO_LARGE: The request included a message larger than the max message size.)",
    );
    // Repeated reasons once, with a count; a cause chain followed to its end.
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
      code: "ECONNREFUSED",
    });
    const network = () =>
      Object.assign(new Error("Connection to 127.0.0.1:1 failed.", { cause: refused }), {
        code: "PLT_KFK_NETWORK",
      });
    assert.equal(
      describe(new AggregateError([network(), network()], "metadata failed 2 times.")),
      "metadata failed 2 times. (PLT_KFK_NETWORK: Connection to 127.0.0.1:1 failed.: connect ECONNREFUSED 127.0.0.1:1 (×2))",
    );
    assert.equal(describe(new Error("plain")), "plain");
    assert.equal(describe("text"), "text");
  },
});

Deno.test({
  name:
    "KafkaEventStore over 2 partitions: lastOffset() is the position of every partition, and resuming from it loses nothing",
  ignore,
  async fn() {
    const prefix = randomPrefix("kt");
    const a = kafkaNode({ prefix, nodeId: "a" }, { partitions: 2 });
    let b = kafkaNode({ prefix, nodeId: "b" }, { partitions: 2 });
    const nodes = [a, b];
    try {
      const before = await new Inbox().listen(b, "DISPATCH");
      // One awaited publish per batch: the batches alternate between the partitions.
      const offsets: string[] = [];
      for (let index = 0; index < 4; index++) {
        const room = `before${index}`;
        offsets.push((await a.publish("DISPATCH", { namespace: "/", room, packet: 0 })).offset!);
      }
      assert.deepStrictEqual(offsets, ["0:0", "1:0", "0:1", "1:1"]);
      await before.waitFor(4);
      const last = b.lastOffset("DISPATCH");
      assert.equal(last, "0:1,1:1");
      await b.shutdown();
      assert.equal(b.lastOffset("DISPATCH"), last, "the position outlives the subscription");

      const away: string[] = [];
      for (let index = 0; index < 4; index++) {
        const room = `away${index}`;
        away.push(room);
        await a.publish("DISPATCH", { namespace: "/", room, packet: 0 });
      }
      b = kafkaNode({ prefix, nodeId: "b" }, { partitions: 2 });
      nodes.push(b);
      const resumed = new Inbox();
      await b.subscribe("DISPATCH", resumed.push, { fromOffset: last });
      await resumed.waitFor(4);
      // Time for a record delivered again, or one from before, to show up.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.deepStrictEqual(
        resumed.messages.map((message) => ("room" in message ? message.room : "")).sort(),
        away,
      );
      assert.equal(b.lastOffset("DISPATCH"), "0:3,1:3");
    } finally {
      await shutdownAll(nodes);
    }
  },
});

Deno.test({
  name:
    "KafkaEventStore: fromOffset lists one position per partition; partitions it leaves out are read from their first record; <partition>:-1 replays a partition",
  ignore,
  async fn() {
    const prefix = randomPrefix("kt");
    const topic = `${prefix}.DISPATCH`;
    const a = kafkaNode({ prefix, nodeId: "a" }, { partitions: 2 });
    const b = kafkaNode({ prefix, nodeId: "b" }, { partitions: 2 });
    const nodes = [a, b];
    try {
      for (let index = 0; index < 6; index++) {
        await a.publish("DISPATCH", { namespace: "/", room: `r${index}`, packet: 0 });
      }
      // 0:0 r0, 1:0 r1, 0:1 r2, 1:1 r3, 0:2 r4, 1:2 r5
      for (const fromOffset of ["0:1,", "0:1,0:2", "0:1;1:2", "0:1, 1:2", "0:-2", "0:1,x"]) {
        await assert.rejects(
          b.subscribe("DISPATCH", () => {}, { fromOffset }),
          TypeError,
          `fromOffset ${fromOffset}`,
        );
      }
      await assert.rejects(
        b.subscribe("DISPATCH", () => {}, { fromOffset: "0:0,1:3" }),
        (error: unknown) =>
          error instanceof RangeError &&
          error.message.includes(`fromOffset 1:3 is past the end of partition 1 of topic ${topic}`),
      );
      await assert.rejects(
        b.subscribe("DISPATCH", () => {}, { fromOffset: "0:0,2:0" }),
        (error: unknown) =>
          error instanceof RangeError && error.message.includes("names partition 2"),
      );
      assert.deepStrictEqual(b.groupIds, []);

      const rooms = (inbox: Inbox) =>
        inbox.messages.map((message) =>
          `${"room" in message ? message.room : ""}@${message.offset}`
        )
          .sort();
      const settle = () => new Promise((resolve) => setTimeout(resolve, 1000));
      // Partition 0 after 0:1; partition 1, not named, from its first record.
      const partial = new Inbox();
      await b.subscribe("DISPATCH", partial.push, { fromOffset: "0:1" });
      await partial.waitFor(4);
      await settle();
      assert.deepStrictEqual(rooms(partial), ["r1@1:0", "r3@1:1", "r4@0:2", "r5@1:2"]);
      assert.equal(b.lastOffset("DISPATCH"), "0:2,1:2");
      await b.unsubscribe("DISPATCH");

      // Before the first record of partition 0, after the last of partition 1.
      const c = kafkaNode({ prefix, nodeId: "c" });
      nodes.push(c);
      const replay = new Inbox();
      await c.subscribe("DISPATCH", replay.push, { fromOffset: "1:2,0:-1" });
      await replay.waitFor(3);
      await a.publish("DISPATCH", { namespace: "/", room: "r6", packet: 0 });
      await within(replay.waitFor(4), "the record published after subscribing");
      await settle();
      assert.deepStrictEqual(rooms(replay), ["r0@0:0", "r2@0:1", "r4@0:2", "r6@0:3"]);
    } finally {
      await shutdownAll(nodes);
    }
  },
});

Deno.test({
  name: "KafkaEventStore backend tests: delete the topics they created",
  ignore,
  async fn() {
    const { deleted, remaining } = await deleteTopics();
    assert.ok(deleted > 0, "the tests created topics");
    assert.equal(remaining, 0);
  },
});
