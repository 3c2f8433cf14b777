/**
 * KafkaEventStore runs the event-store conformance suite against the shared broker, in both
 * modes and with a lingering (batching) producer; the topics it creates are deleted at the end.
 */

import assert from "node:assert/strict";
import { eventStoreSuite } from "../conformance/event_store_suite.ts";
import { ignoreUnless, requireService } from "../_services.ts";
import { deleteTopics, kafkaNode } from "./_kafka.ts";

const kafka = await requireService("kafka");
const ignore = ignoreUnless(kafka);

eventStoreSuite({
  name: "KafkaEventStore",
  ignore,
  createEventStore: (options) => kafkaNode(options),
});

eventStoreSuite({
  name: "KafkaEventStore (linger 5 ms, batches of 50)",
  ignore,
  createEventStore: (options) => kafkaNode(options, { lingerMs: 5, batchMaxRecords: 50 }),
});

Deno.test({
  name: "KafkaEventStore tests: delete the topics they created",
  ignore,
  async fn() {
    const { deleted, remaining } = await deleteTopics();
    assert.ok(deleted > 0, "the suites created topics");
    assert.equal(remaining, 0);
  },
});
