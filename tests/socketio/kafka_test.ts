/**
 * socket.io clusters over Kafka (a consumer group per node, offsets), three servers in separate
 * processes, recovery across nodes.
 */

import { Admin } from "@platformatic/kafka";
import { requireService } from "../_services.ts";
import { backendTests } from "./_backend_tests.ts";
import { removeNodeBundle } from "./_cluster.ts";

const kafka = await requireService("kafka");
const brokers = `${kafka.endpoint.host}:${kafka.endpoint.port}`;

backendTests({
  label: "Kafka",
  services: kafka,
  reliable: true,
  env: (prefix) => ({ SOCKETIO4TS_KAFKA_BROKERS: brokers, SOCKETIO4TS_PREFIX: prefix }),
  cleanup: async (prefix) => {
    const admin = new Admin({ clientId: "socketio4ts-socketio-test", bootstrapBrokers: [brokers] });
    try {
      const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(`${prefix}.`));
      if (topics.length > 0) await admin.deleteTopics({ topics });
    } finally {
      await admin.close();
    }
  },
});

Deno.test("socket.io over Kafka: remove the Node bundle", removeNodeBundle);
