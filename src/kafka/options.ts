/**
 * Options of {@linkcode KafkaEventStore} and their defaults.
 *
 * @module
 */

import type { Producer } from "@platformatic/kafka";
import { describeValue, type EventStoreOptions } from "../core/mod.ts";

/** A producer of `@platformatic/kafka` with the default (`Buffer`) serialisers. */
export type KafkaProducer = Producer;

/**
 * Connection settings passed as they are to every client the store creates (the options of the
 * same names of `@platformatic/kafka`).
 */
export interface KafkaConnectionOptions {
  /** Timeout of a TCP/TLS connect, in ms (5000 by default). */
  readonly connectTimeout?: number;
  /** Options of `node:tls` `connect()`; setting them turns TLS on. */
  readonly tls?: Readonly<Record<string, unknown>>;
  /** SASL authentication, e.g. `{ mechanism: "SCRAM-SHA-256", username, password }`. */
  readonly sasl?: {
    readonly mechanism: "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" | "OAUTHBEARER";
    readonly username?: string;
    readonly password?: string;
    readonly token?: string;
  };
}

/** Options of {@linkcode KafkaEventStore}. */
export interface KafkaEventStoreOptions extends EventStoreOptions {
  /** Bootstrap brokers, e.g. `["127.0.0.1:9092"]`. */
  readonly brokers: readonly string[];
  /**
   * Client id sent to the broker (suffixed `-producer`, `-consumer`, `-admin` per client): a
   * non-empty string without whitespace; `socketio4ts-<nodeId>` by default, with the node id
   * encoded as in consumer group ids (whitespace, `.` and `%` percent-encoded).
   */
  readonly clientId?: string;
  /** TLS/SASL and socket settings given to every client the store creates. */
  readonly connection?: KafkaConnectionOptions;
  /**
   * A producer of your own to publish with (left open by `shutdown()`). Without one the store
   * creates an idempotent producer and closes it on `shutdown()`.
   */
  readonly producer?: KafkaProducer;
  /**
   * Partitions of a topic the store creates, and how many of a topic's partitions this node
   * publishes to (batches go round-robin over them; over all of them when the topic, made
   * elsewhere, has fewer, looking at the topic's count again every 5 s since partitions may be
   * added); 1 by default (order within a channel kept). A node reads every partition of the
   * topic whatever this says, partitions added while it runs included (from their first record).
   */
  readonly partitions?: number;
  /** Replication factor of a topic the store creates; 1 by default. */
  readonly replicationFactor?: number;
  /** Create missing topics; `true` by default. */
  readonly createTopics?: boolean;
  /** Idempotent producer (ignored with your own `producer`); `true` by default. */
  readonly idempotent?: boolean;
  /**
   * Wait this long (ms) for more records before sending a batch; 0 by default. Even at 0, the
   * publishes made in one synchronous run (a loop of un-awaited `publish` calls) leave together.
   */
  readonly lingerMs?: number;
  /** Most records in one produce request of a channel; 1000 by default. */
  readonly batchMaxRecords?: number;
  /**
   * Most bytes in one produce request of a channel, counting each record's value and its
   * framing in the record batch (an upper bound of 28 bytes a record, 61 a batch); 1 000 000 by
   * default, under Kafka's default `max.message.bytes` (1 048 588). A record larger than this
   * goes alone. A batch of several records that the broker still refuses as too large
   * (MESSAGE_TOO_LARGE, a topic with a smaller `max.message.bytes`) is sent again in halves, so
   * only a record that is too large on its own is rejected.
   */
  readonly batchMaxBytes?: number;
  /** Attempts after the first failed request of any client; 3 by default. */
  readonly retries?: number;
  /** Delay between attempts, in ms; 500 by default. */
  readonly retryDelayMs?: number;
  /**
   * Longest wait for the broker's answer to one request, in ms; 5000 by default. A broker that
   * accepts connections but does not answer makes the request fail after this long (a publish
   * rejects, a subscribe rejects). A consumer's requests may be held by the broker on purpose (a
   * fetch up to `maxWaitTimeMs`, a group join up to `sessionTimeoutMs` while a departed member of
   * the group times out), so the consumers wait that much longer.
   */
  readonly requestTimeoutMs?: number;
  /** Longest wait of one fetch for new records, in ms; 500 by default. */
  readonly maxWaitTimeMs?: number;
  /** Consumer group session timeout, in ms; 10 000 by default. */
  readonly sessionTimeoutMs?: number;
  /** Consumer group heartbeat interval, in ms; 1000 by default. */
  readonly heartbeatIntervalMs?: number;
}

/** Options with every default filled in. */
export interface ResolvedKafkaOptions {
  readonly brokers: string[];
  readonly clientId: string;
  readonly connection: KafkaConnectionOptions;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly createTopics: boolean;
  readonly idempotent: boolean;
  readonly lingerMs: number;
  readonly batchMaxRecords: number;
  readonly batchMaxBytes: number;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly requestTimeoutMs: number;
  readonly maxWaitTimeMs: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** `max.message.bytes` of topics the store creates. */
  readonly topicMaxMessageBytes: number;
}

const ENCODED_IN_IDS = /[\s.%]/g;

/** The percent-encoding of one character (`encodeURIComponent` leaves `.` as it is). */
function percentEncoded(char: string): string {
  return char === "." ? "%2E" : encodeURIComponent(char);
}

/**
 * `text` as a part of a Kafka client or consumer group id, which `@platformatic/kafka` requires
 * to match `^\S+$`: each whitespace character, each `.` and each `%` becomes its UTF-8
 * percent-encoding (`"node a"` → `"node%20a"`, `"web.1"` → `"web%2E1"`, `"50%"` → `"50%25"`),
 * everything else stays as it is. Distinct texts stay distinct, and with no `.` left in the node
 * id, `<prefix>.<nodeId>.<channel>` cannot be another prefix's group (prefix `a.b` with node `c`
 * against prefix `a` with node `b.c`).
 */
export function kafkaIdPart(text: string): string {
  return text.replace(ENCODED_IN_IDS, percentEncoded);
}

function clientIdOf(value: unknown, nodeId: string): string {
  if (value === undefined) return `socketio4ts-${kafkaIdPart(nodeId)}`;
  if (typeof value !== "string" || !/^\S+$/.test(value)) {
    throw new TypeError(
      `clientId must be a non-empty string without whitespace (a Kafka client id), received ${
        describeValue(value)
      }`,
    );
  }
  return value;
}

function integer(name: string, value: number | undefined, fallback: number, min: number): number {
  const chosen = value ?? fallback;
  if (!Number.isSafeInteger(chosen) || chosen < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, received ${String(value)}`);
  }
  return chosen;
}

/**
 * Default `batchMaxBytes`: with its framing counted, a batch stays under Kafka's default
 * `max.message.bytes` (1 048 588) with room to spare.
 */
export const DEFAULT_BATCH_MAX_BYTES = 1_000_000;

/** Room for the record batch and record headers around the largest accepted message. */
const TOPIC_OVERHEAD_BYTES = 64 * 1024;

/** Checks the options and fills in the defaults. */
export function resolveKafkaOptions(
  options: KafkaEventStoreOptions,
  nodeId: string,
  maxMessageBytes: number,
): ResolvedKafkaOptions {
  if (
    !Array.isArray(options.brokers) || options.brokers.length === 0 ||
    !options.brokers.every((broker) => typeof broker === "string" && broker.length > 0)
  ) {
    throw new TypeError(
      `brokers must be a non-empty array of "host:port" strings, received ${
        JSON.stringify(options.brokers)
      }`,
    );
  }
  const batchMaxBytes = integer(
    "batchMaxBytes",
    options.batchMaxBytes,
    DEFAULT_BATCH_MAX_BYTES,
    1,
  );
  return {
    brokers: [...options.brokers],
    clientId: clientIdOf(options.clientId, nodeId),
    connection: options.connection ?? {},
    partitions: integer("partitions", options.partitions, 1, 1),
    replicationFactor: integer("replicationFactor", options.replicationFactor, 1, 1),
    createTopics: options.createTopics ?? true,
    idempotent: options.idempotent ?? true,
    lingerMs: integer("lingerMs", options.lingerMs, 0, 0),
    batchMaxRecords: integer("batchMaxRecords", options.batchMaxRecords, 1000, 1),
    batchMaxBytes,
    retries: integer("retries", options.retries, 3, 0),
    retryDelayMs: integer("retryDelayMs", options.retryDelayMs, 500, 0),
    requestTimeoutMs: integer("requestTimeoutMs", options.requestTimeoutMs, 5000, 1),
    maxWaitTimeMs: integer("maxWaitTimeMs", options.maxWaitTimeMs, 500, 0),
    sessionTimeoutMs: integer("sessionTimeoutMs", options.sessionTimeoutMs, 10_000, 1),
    heartbeatIntervalMs: integer("heartbeatIntervalMs", options.heartbeatIntervalMs, 1000, 1),
    topicMaxMessageBytes: Math.max(maxMessageBytes, batchMaxBytes) + TOPIC_OVERHEAD_BYTES,
  };
}
