/**
 * {@linkcode KafkaEventStore}: cluster events over Apache Kafka with `@platformatic/kafka`.
 *
 * @module
 */

import {
  BaseEventStore,
  DEFAULT_MAX_MESSAGE_BYTES,
  EventStoreKind,
  type EventTypeName,
  PublishMode,
  resolvePrefix,
} from "../core/mod.ts";
import { KafkaTransport } from "./kafka_transport.ts";
import { type KafkaEventStoreOptions, resolveKafkaOptions } from "./options.ts";

/**
 * Event store on Kafka topics. `MULTI_CHANNEL` uses a topic per event type and `SINGLE_CHANNEL`
 * one topic, named `<prefix>.<channel>` (`<prefix>.JOIN`, …, or `<prefix>.all`) and created when
 * missing. Every node reads through consumer groups of its own (`<prefix>.<nodeId>.<channel>`),
 * so each node receives every record (broadcast, never load-balanced), starting at the end of
 * the topic when it subscribes. Each delivered message carries `offset` = `<partition>:<offset>`,
 * and `subscribe(type, listener, { fromOffset })` resumes after it. With several partitions,
 * `fromOffset` is a position, one `<partition>:<offset>` per partition separated by commas
 * (`"0:3,1:5"`, as {@linkcode KafkaEventStore.lastOffset} returns it; `<partition>:-1` reads a
 * partition from its first record): each partition named is read from the record after the one
 * given, and every partition it does not name from its first record still there (records may
 * come twice, none is skipped). A malformed `fromOffset` rejects with a `TypeError`, one that
 * names a partition the topic does not have or a record past its partition's end with a
 * `RangeError`; records retention removed in between are skipped and reported to `onError`, as
 * they are when retention overtakes a slow reader. Partitions added to a topic while nodes run
 * are read by every subscribed node from their first record (each looks every 5 s), and written
 * to by nodes whose `partitions` allows it (each looks again every 5 s). Records of a
 * channel leave one request at a time through an idempotent producer, so order is kept even for
 * concurrent publishes; a publish rejects with a `BackendError` when the broker did not
 * acknowledge it after the configured retries. Any `nodeId` works: whitespace, `.` and `%` are
 * percent-encoded in group and client ids.
 *
 * @example
 * ```ts ignore
 * import { KafkaEventStore } from "@socketio4ts/stores/kafka";
 *
 * await using nodeA = new KafkaEventStore({ brokers: ["127.0.0.1:9092"], nodeId: "node-a" });
 * await using nodeB = new KafkaEventStore({ brokers: ["127.0.0.1:9092"], nodeId: "node-b" });
 * const received = new Promise((resolve) => nodeB.subscribe("DISPATCH", resolve));
 * await nodeA.publish("DISPATCH", { namespace: "/", room: "lobby", packet: ["chat", "hi"] });
 * console.log(await received);
 * ```
 */
export class KafkaEventStore extends BaseEventStore {
  readonly #transport: KafkaTransport;

  /**
   * Creates the store; no connection is made before the first publish or subscribe.
   *
   * @param options brokers, client settings, topic and producer settings, and the common options.
   * @throws {TypeError | RangeError} for invalid options.
   */
  constructor(options: KafkaEventStoreOptions) {
    const nodeId = options.nodeId ?? crypto.randomUUID();
    const resolved = resolveKafkaOptions(
      options,
      nodeId,
      options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    );
    const transport = new KafkaTransport(
      resolvePrefix(options),
      nodeId,
      resolved,
      options.producer,
    );
    super(transport, {
      kind: EventStoreKind.BROKER,
      publishMode: PublishMode.RELIABLE,
    }, { ...options, nodeId });
    this.#transport = transport;
  }

  /**
   * Where this node is in the channel of `type`, to resume from with `fromOffset`; `undefined`
   * until a message arrived on it. For a topic of one partition, the offset of the last message
   * (`<partition>:<offset>`); for a topic of several, the last record read in each partition,
   * in partition order (`"0:3,1:5"`), or for a partition nothing was read from yet, the record
   * before the first one it reads (`<partition>:-1`: before its first record).
   * A single message's `offset` names one partition only: resuming from it reads the others
   * from their first record.
   */
  override lastOffset(type: EventTypeName): string | undefined {
    const last = super.lastOffset(type);
    if (last === undefined) return undefined;
    return this.#transport.positionOf(this.channelOf(type)) ?? last;
  }

  /** Topic that carries `type` in this store's mode. */
  topicOf(type: string): string {
    return this.#transport.topicOf(this.channelOf(type));
  }

  /** Consumer groups this node is a member of right now (one per subscribed channel). */
  get groupIds(): string[] {
    return this.#transport.groupIds;
  }
}
