/**
 * KafkaEventStore when partitions are added to a topic while nodes run (an admin's
 * `createPartitions`): a node subscribed before reads the new partitions from their first
 * record, and a writer started before writes to them once its `partitions` allows it.
 */

import assert from "node:assert/strict";
import { parseOffset } from "../../src/kafka/mod.ts";
import { Inbox, randomPrefix, shutdownAll, within } from "../conformance/_helpers.ts";
import { ignoreUnless, requireService } from "../_services.ts";
import { adminClient, deleteTopics, kafkaNode } from "./_kafka.ts";

const kafka = await requireService("kafka");
const ignore = ignoreUnless(kafka);

function dispatch(room: string): { namespace: string; room: string; packet: number } {
  return { namespace: "/", room, packet: 0 };
}

Deno.test({
  name:
    "KafkaEventStore: partitions added while nodes run are read by earlier subscribers from their first record and used by earlier writers",
  ignore,
  async fn() {
    const prefix = randomPrefix("kpart");
    // Subscribed and writing while the topic has one partition.
    const oldReader = kafkaNode({ prefix, nodeId: "old-reader" });
    const oldWriter = kafkaNode({ prefix, nodeId: "old-writer" }, { partitions: 4 });
    const admin = adminClient();
    const nodes = [oldReader, oldWriter];
    try {
      const inbox = await new Inbox().listen(oldReader, "DISPATCH");
      const published = new Map<string, string>();
      published.set("before", (await oldWriter.publish("DISPATCH", dispatch("before"))).offset!);
      assert.equal(published.get("before"), "0:0");
      const topic = oldReader.topicOf("DISPATCH");
      await admin.createPartitions({ topics: [{ name: topic, count: 4 }] });

      // A node started now sees 4 partitions at once and writes to all of them.
      const newWriter = kafkaNode({ prefix, nodeId: "new-writer" }, { partitions: 4 });
      nodes.push(newWriter);
      for (let index = 0; index < 8; index++) {
        const room = `new${index}`;
        published.set(room, (await newWriter.publish("DISPATCH", dispatch(room))).offset!);
      }
      const used = new Set([...published.values()].map((offset) => parseOffset(offset).partition));
      assert.deepStrictEqual([...used].sort(), [0, 1, 2, 3], "the new writer used every partition");

      // The reader subscribed before the partitions were added receives every record.
      await inbox.waitFor(published.size, `the ${published.size} records`, 30_000);
      const received = () =>
        new Map(inbox.messages.map((message) => ["room" in message ? message.room : "", message]));
      assert.deepStrictEqual(
        new Map([...received()].map(([room, message]) => [room, message.offset])),
        published,
      );

      // The writer started before looks at the partition count again and writes to them too.
      let offset = "0:0";
      await within(
        (async () => {
          for (let index = 0; parseOffset(offset).partition === 0; index++) {
            const room = `old${index}`;
            offset = (await oldWriter.publish("DISPATCH", dispatch(room))).offset!;
            published.set(room, offset);
            if (parseOffset(offset).partition === 0) {
              await new Promise((resolve) => setTimeout(resolve, 250));
            }
          }
        })(),
        "the writer started before to write to an added partition",
        30_000,
      );
      await inbox.waitFor(published.size, `the ${published.size} records`, 30_000);
      assert.deepStrictEqual(
        new Map([...received()].map(([room, message]) => [room, message.offset])),
        published,
      );
      assert.equal(inbox.messages.length, published.size, "no record delivered twice");
    } finally {
      await shutdownAll(nodes);
      await admin.close();
    }
  },
});

Deno.test({
  name: "KafkaEventStore partition tests: delete the topics they created",
  ignore,
  async fn() {
    const { deleted, remaining } = await deleteTopics();
    assert.ok(deleted > 0, "the tests created topics");
    assert.equal(remaining, 0);
  },
});
