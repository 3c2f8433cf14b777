/**
 * Node runner of the Kafka client comparison: `node scripts/bench/kafka_clients_node.mjs <dir>`
 * where `<dir>/node_modules` holds `kafkajs` and `@platformatic/kafka` (scripts/bench/kafka_clients.ts
 * installs them there and calls this).
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { compareKafkaClients } from "./_kafka_clients_core.mjs";

const dir = process.argv[2];
const brokers = (process.argv[3] ?? "127.0.0.1:19092").split(",");
const count = Number(process.argv[4] ?? 10000);
const require = createRequire(`${dir}/package.json`);
const load = (name) => import(pathToFileURL(require.resolve(name)).href);
const lines = await compareKafkaClients({
  kafkajs: (await load("kafkajs")).default ?? (await load("kafkajs")),
  platformatic: await load("@platformatic/kafka"),
  brokers,
  count,
  runtime: `node ${process.version}`,
});
for (const line of lines) console.log(line);
