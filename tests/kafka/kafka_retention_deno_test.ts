/**
 * KafkaEventStore when retention overtakes a reader: the records a subscriber has not fetched
 * yet are removed while it reads, the broker answers its next fetch with OFFSET_OUT_OF_RANGE, and
 * the subscriber must jump to the earliest record still there and report the gap once, not
 * retry the same offset for ever.
 *
 * Deterministic: the backlog takes several fetches (the client fetches at most 10 MiB at a time),
 * and the listener of the first record blocks this process while a child process deletes every
 * record of the topic, so the stream's next fetch asks for removed records. Deno-only
 * (`*_deno_test.ts`, skipped by the npm build's test matrix): it runs `deno eval` synchronously.
 */

import assert from "node:assert/strict";
import type { EventMessage } from "../../mod.ts";
import { randomPrefix, shutdownAll, within } from "../conformance/_helpers.ts";
import { ignoreUnless, requireService } from "../_services.ts";
import { deleteTopics, kafkaNode, SHARED_BROKERS } from "./_kafka.ts";

const kafka = await requireService("kafka");
const ignore = ignoreUnless(kafka);

/** Records of the backlog: 32 of 900 KiB take at least three fetches of 10 MiB. */
const BACKLOG = 32;
const RECORD_BYTES = 900 * 1024;

/** Deletes the records of partition 0 of `topic` before `offset`, from another process. */
function deleteRecordsElsewhere(topic: string, offset: number): void {
  const code = `
    import { Admin } from "@platformatic/kafka";
    const admin = new Admin({
      clientId: "socketio4ts-test-retention",
      bootstrapBrokers: ${JSON.stringify(SHARED_BROKERS)},
    });
    try {
      await admin.deleteRecords({
        topics: [{ name: ${
    JSON.stringify(topic)
  }, partitions: [{ partition: 0, offset: ${offset}n }] }],
      });
    } finally {
      await admin.close();
    }
  `;
  const config = new URL("../../deno.json", import.meta.url).pathname;
  const result = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", config, code],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  assert.ok(result.success, `deleteRecords failed: ${new TextDecoder().decode(result.stderr)}`);
}

Deno.test({
  name:
    "KafkaEventStore: retention removing records a subscriber has not read yet is reported once and reading goes on",
  ignore,
  async fn() {
    const prefix = randomPrefix("kret");
    const topic = `${prefix}.DISPATCH`;
    const errors: Error[] = [];
    const a = kafkaNode({ prefix, nodeId: "a" });
    const b = kafkaNode({ prefix, nodeId: "b", onError: (error) => void errors.push(error) });
    try {
      assert.equal(
        (await a.publish("DISPATCH", { namespace: "/", room: "start", packet: 0 })).offset,
        "0:0",
      );
      const packet = new Uint8Array(RECORD_BYTES).fill(7);
      await Promise.all(
        Array.from(
          { length: BACKLOG },
          (_, index) => a.publish("DISPATCH", { namespace: "/", room: `old${index}`, packet }),
        ),
      );
      const end = BACKLOG + 1;
      const seen: { room: string; offset: string }[] = [];
      let removed: () => void;
      const removedOnce = new Promise<void>((resolve) => (removed = resolve));
      let after: () => void;
      const afterArrived = new Promise<void>((resolve) => (after = resolve));
      await b.subscribe("DISPATCH", (message: EventMessage<"DISPATCH">) => {
        seen.push({ room: message.room, offset: message.offset! });
        if (seen.length === 1) {
          // Retention catches up with this slow reader: every record so far is removed.
          deleteRecordsElsewhere(topic, end);
          removed();
        }
        if (message.room === "after") after();
      }, { fromOffset: "0:0" });
      await within(removedOnce, "the first record of the backlog");
      assert.equal(
        (await a.publish("DISPATCH", { namespace: "/", room: "after", packet: 0 })).offset,
        `0:${end}`,
      );
      await within(afterArrived, "the record published after the removal", 20_000);

      const read = seen.length - 1; // records of the backlog delivered before the gap
      assert.ok(read >= 1 && read < BACKLOG, `${read} of ${BACKLOG} backlog records were read`);
      assert.deepStrictEqual(seen, [
        ...Array.from({ length: read }, (_, index) => ({
          room: `old${index}`,
          offset: `0:${index + 1}`,
        })),
        { room: "after", offset: `0:${end}` },
      ]);
      // Time for a repeated report to show up.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.deepStrictEqual(errors.map((error) => error.message), [
        `kafka: ${BACKLOG - read} record(s) of partition 0 of topic ${topic} from offset 0:${
          read + 1
        } were removed (retention or deleteRecords) before this node read them; resuming at 0:${end}`,
      ]);
    } finally {
      await shutdownAll([a, b]);
    }
  },
});

Deno.test({
  name: "KafkaEventStore retention tests: delete the topics they created",
  ignore,
  async fn() {
    const { deleted, remaining } = await deleteTopics();
    assert.ok(deleted > 0, "the tests created topics");
    assert.equal(remaining, 0);
  },
});
