/**
 * Kafka client comparison, kafkajs vs `@platformatic/kafka`, on the shared broker: runs the same
 * scenarios (scripts/bench/_kafka_clients_core.mjs) under Deno (npm specifiers) and under the
 * machine's Node (the same versions installed by npm into `.services/tmp/kafka-clients`).
 *
 * ```sh
 * deno run -A scripts/bench/kafka_clients.ts [count=10000] [brokers=127.0.0.1:19092]
 * ```
 *
 * @module
 */

import * as kafkajs from "kafkajs";
import * as platformatic from "@platformatic/kafka";
import { compareKafkaClients } from "./_kafka_clients_core.mjs";

const KAFKAJS_VERSION = "2.2.4";
const PLATFORMATIC_VERSION = "1.35.0";

const count = Number(Deno.args[0] ?? 10_000);
const brokers = (Deno.args[1] ?? "127.0.0.1:19092").split(",");
const root = new URL("../../", import.meta.url).pathname;

async function run(cmd: string, args: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${text}`);
  return text;
}

console.log(`# Kafka clients, ${count} records of 256 bytes, one partition, brokers ${brokers}`);
console.log("runtime | client | scenario | throughput | latency");
const denoLines = await compareKafkaClients({
  kafkajs: (kafkajs as { default?: unknown }).default ?? kafkajs,
  platformatic,
  brokers,
  count,
  runtime: `deno ${Deno.version.deno}`,
});
for (const line of denoLines) console.log(line);

const dir = `${root}.services/tmp/kafka-clients`;
await Deno.mkdir(dir, { recursive: true });
await Deno.writeTextFile(`${dir}/package.json`, JSON.stringify({ private: true }));
await run("npm", [
  "install",
  "--no-audit",
  "--no-fund",
  `kafkajs@${KAFKAJS_VERSION}`,
  `@platformatic/kafka@${PLATFORMATIC_VERSION}`,
], dir);
const nodeOut = await run("node", [
  `${root}scripts/bench/kafka_clients_node.mjs`,
  dir,
  brokers.join(","),
  String(count),
], dir);
console.log(nodeOut.trimEnd());
