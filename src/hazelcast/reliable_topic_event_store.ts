/**
 * {@linkcode HazelcastReliableTopicEventStore}: cluster events on Hazelcast reliable topics (ring
 * buffers), at-least-once with the ring-buffer sequence as offset — or, with
 * `publishMode: "UNRELIABLE"`, the fire-and-forget configuration that stands in for a plain
 * Hazelcast topic.
 *
 * @module
 */

import {
  BaseEventStore,
  describeValue,
  EventStoreKind,
  type EventStoreOptions,
  PublishMode,
  resolvePrefix,
} from "../core/mod.ts";
import { ClientHandle, type HazelcastConnectionOptions } from "./client.ts";
import { RingTopicTransport, type TopicOverloadPolicyName } from "./ring_topic_transport.ts";

/** Options of {@linkcode HazelcastReliableTopicEventStore}. */
export interface HazelcastReliableTopicEventStoreOptions
  extends EventStoreOptions, HazelcastConnectionOptions {
  /**
   * `RELIABLE` (default): publish resolves once the member stored the message in the ring buffer
   * (and its backups), with the sequence as `offset`; subscribers get offsets and can resume.
   * `UNRELIABLE`: the fire-and-forget configuration (see {@linkcode HazelcastReliableTopicEventStore}).
   */
  readonly publishMode?: PublishMode;
  /**
   * What a publish does when the ring buffer is full — which happens only when the ring buffer
   * has a time-to-live (without one the oldest item is always overwritten):
   * `BLOCK` (default when reliable) waits for room until {@linkcode blockTimeoutMs} and then
   * rejects, `ERROR` rejects at once, `DISCARD_OLDEST` overwrites the oldest item (the only policy
   * of the fire-and-forget configuration). With `BLOCK`, the publishes of a channel that wait are
   * stored one at a time in publish order, and a later publish of that channel waits behind them
   * (it never overtakes one that waits); one still waiting at its deadline rejects, and the next
   * ones go on.
   */
  readonly overloadPolicy?: TopicOverloadPolicyName;
  /**
   * How long a `BLOCK` publish may wait for room in a full ring buffer, counted from its
   * `publish` call; 10 000 ms by default.
   */
  readonly blockTimeoutMs?: number;
  /** Most items fetched per ring-buffer read (1–1000); 100 by default. */
  readonly readBatchSize?: number;
  /**
   * First delay before a failed read or publish is retried (it doubles up to 2 s); 100 ms by
   * default.
   */
  readonly retryDelayMs?: number;
  /**
   * How often a publish whose member or connection was lost is sent again before it rejects;
   * 3 by default when reliable. A resend may store the message twice (the first attempt may have
   * been stored before the connection broke): subscribers then get it twice, with two offsets —
   * at least once. Always 0 in the fire-and-forget configuration (at most once).
   */
  readonly publishRetries?: number;
}

function positiveInteger(name: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || (value as number) <= 0 || (value as number) > max) {
    throw new RangeError(
      `${name} must be an integer from 1 to ${max}, received ${describeValue(value)}`,
    );
  }
  return value as number;
}

/**
 * Event store on Hazelcast reliable topics — socketio4j's "Hazelcast Ring Buffer" row, and, in its
 * fire-and-forget configuration, its "Hazelcast Pub/Sub" row.
 *
 * **Layout.** One reliable topic per channel, named `<prefix>.<channel>`: `<prefix>.JOIN`,
 * `<prefix>.DISPATCH`, … in `MULTI_CHANNEL` mode, `<prefix>.all` in `SINGLE_CHANNEL` mode. A
 * reliable topic keeps its messages in the ring buffer `_hz_rb_<topic>`; this store writes and
 * reads that ring buffer directly (items are ordinary `ReliableTopicMessage`s carrying a
 * `byte[]`), because the client's reliable-topic `publish()` and listeners do not expose the
 * sequence. So `getReliableTopic("<prefix>.JOIN")` listeners elsewhere see the encoded events, and
 * `byte[]` messages they publish reach this store's subscribers.
 *
 * **Reliable (default).** `publish` resolves once the member stored the message, with
 * `offset` = its ring-buffer sequence (a decimal string); subscribers read from the tail on, each
 * message carries its sequence, `subscribe(type, listener, { fromOffset })` resumes after a
 * sequence, a subscriber that loses its member or connection continues from the last sequence it
 * read. Delivery is at least once within the ring's capacity: a subscriber more than `capacity`
 * messages behind loses the overwritten ones, and that loss is reported to `onError`.
 *
 * **When members go away.** A publish or read whose member dies is retried by the client on
 * another member (reads always; publishes `publishRetries` times). When no member can be reached
 * at all, calls give up after the client's invocation timeout
 * (`properties["hazelcast.client.invocation.timeout.millis"]`, 120 s by default): `publish`
 * rejects with a `BackendError`, and subscribers report the failure to `onError` and keep
 * trying.
 *
 * **Ring capacity and overflow** are member-side settings of the ring buffer (the client cannot
 * set them), which the member matches by the topic's name without `_hz_rb_`:
 * `<ringbuffer name="<prefix>.*">` with `<capacity>` (Hazelcast's default is
 * 10 000 items), `<backup-count>` (1 by default; keep ≥ 1 to survive a member loss),
 * `<time-to-live-seconds>` (0 = never expire) and `<in-memory-format>`. Without a TTL the ring is
 * never "full": the oldest item is overwritten. With a TTL, `overloadPolicy` decides what a
 * publish does when all items are still alive.
 *
 * **Fire-and-forget (`publishMode: "UNRELIABLE"`)**, for socketio4j's "Hazelcast Pub/Sub" row
 * (`hazelcast-client` for Node has no plain `ITopic`, so this is the same reliable topic, not a
 * hand-made one). Exactly what differs from the reliable configuration:
 * - the overflow policy is always `DISCARD_OLDEST`: a publish never waits for or fails on a full
 *   ring buffer;
 * - no offsets: neither publish results nor delivered messages carry one, and `fromOffset` is
 *   refused (`TypeError`);
 * - after a read failure (member lost, connection lost) a subscriber carries on from the tail, as a
 *   plain topic's listener does: what was published during the outage is not delivered
 *   (at-most-once), instead of resuming from its last sequence;
 * - a publish that lost its member or connection is not sent again (`publishRetries` is 0): a
 *   resend could deliver twice;
 * - `kind` is `PUBSUB` and `publishMode` `UNRELIABLE`.
 *
 * What does not differ: a publish still resolves only once the member stored the message. Not
 * awaiting that acknowledgement would let a publish that already resolved reach a subscription
 * opened after it (each node has its own connection), which the event-store contract forbids.
 * To make the ring buffers of this configuration as cheap as a plain topic, give them
 * `<backup-count>0</backup-count>` and a small `<capacity>` in the member config.
 *
 * @example
 * ```ts ignore
 * import { HazelcastReliableTopicEventStore } from "@socketio4ts/stores/hazelcast";
 *
 * const clientConfig = {
 *   clusterName: "dev",
 *   network: { clusterMembers: ["127.0.0.1:5701"] },
 * };
 * await using nodeA = new HazelcastReliableTopicEventStore({ clientConfig, nodeId: "a" });
 * await using nodeB = new HazelcastReliableTopicEventStore({ clientConfig, nodeId: "b" });
 * await nodeB.subscribe("JOIN", (message) => console.log(message.room, message.offset));
 * const { offset } = await nodeA.publish("JOIN", { sessionId: "s1", namespace: "/", room: "r" });
 * console.log(`stored at sequence ${offset}`);
 * ```
 */
export class HazelcastReliableTopicEventStore extends BaseEventStore {
  /** Overload policy of publishes. */
  readonly overloadPolicy: TopicOverloadPolicyName;
  readonly #transport: RingTopicTransport;
  readonly #handle: ClientHandle;

  /**
   * Creates the store; the client connects on first use (or with {@linkcode connect}).
   *
   * @param options the client (or its configuration), delivery settings, and the options every
   * event store accepts.
   */
  constructor(options: HazelcastReliableTopicEventStoreOptions = {}) {
    const handle = HazelcastReliableTopicEventStore.#handleOf(options);
    const publishMode = options.publishMode ?? PublishMode.RELIABLE;
    if (publishMode !== PublishMode.RELIABLE && publishMode !== PublishMode.UNRELIABLE) {
      throw new TypeError(
        `publishMode must be RELIABLE or UNRELIABLE, received ${describeValue(publishMode)}`,
      );
    }
    const reliable = publishMode === PublishMode.RELIABLE;
    const overloadPolicy = options.overloadPolicy ?? (reliable ? "BLOCK" : "DISCARD_OLDEST");
    if (!["BLOCK", "ERROR", "DISCARD_OLDEST"].includes(overloadPolicy)) {
      throw new TypeError(
        `overloadPolicy must be BLOCK, ERROR or DISCARD_OLDEST, received ${
          describeValue(overloadPolicy)
        }`,
      );
    }
    if (!reliable && overloadPolicy !== "DISCARD_OLDEST") {
      throw new TypeError(
        `the fire-and-forget configuration (publishMode UNRELIABLE) always overwrites the oldest item; overloadPolicy ${overloadPolicy} needs publishMode RELIABLE`,
      );
    }
    const publishRetries = options.publishRetries ?? (reliable ? 3 : 0);
    if (!Number.isSafeInteger(publishRetries) || publishRetries < 0 || publishRetries > 100) {
      throw new RangeError(
        `publishRetries must be an integer from 0 to 100, received ${
          describeValue(publishRetries)
        }`,
      );
    }
    if (!reliable && publishRetries !== 0) {
      throw new TypeError(
        "the fire-and-forget configuration (publishMode UNRELIABLE) never resends (a resend could deliver twice); publishRetries needs publishMode RELIABLE",
      );
    }
    const transport = new RingTopicTransport(handle, resolvePrefix(options), {
      publishRetries,
      reliable,
      overloadPolicy,
      readBatchSize: positiveInteger("readBatchSize", options.readBatchSize ?? 100, 1000),
      blockTimeoutMs: positiveInteger("blockTimeoutMs", options.blockTimeoutMs ?? 10_000),
      retryDelayMs: positiveInteger("retryDelayMs", options.retryDelayMs ?? 100),
    });
    super(transport, {
      kind: reliable ? EventStoreKind.STREAM : EventStoreKind.PUBSUB,
      publishMode,
    }, options);
    this.overloadPolicy = overloadPolicy;
    this.#transport = transport;
    this.#handle = handle;
  }

  static #handleOf(options: HazelcastReliableTopicEventStoreOptions): ClientHandle {
    const shared = (options as { [HANDLE]?: ClientHandle })[HANDLE];
    return shared ? shared.retain() : new ClientHandle(options);
  }

  /** Name of the reliable topic that carries `type` (its ring buffer is `_hz_rb_` + that name). */
  topicOf(type: string): string {
    return this.#transport.topicName(this.channelOf(type));
  }

  /**
   * Connects the client now (it connects on first use otherwise), so a wrong address or cluster
   * name shows at startup.
   *
   * @throws {BackendError} when the cluster cannot be reached within the connect timeout.
   */
  async connect(): Promise<void> {
    await this.#handle.get();
  }
}

/** Lets a store factory hand its own client to its default event store (internal). */
export const HANDLE: unique symbol = Symbol("socketio4ts.hazelcast.handle");

/** Creates an event store on a client handle someone else also uses (internal). */
export function eventStoreOnHandle(
  handle: ClientHandle,
  options: HazelcastReliableTopicEventStoreOptions,
): HazelcastReliableTopicEventStore {
  return new HazelcastReliableTopicEventStore(
    { ...options, [HANDLE]: handle } as
      & HazelcastReliableTopicEventStoreOptions
      & { [HANDLE]: ClientHandle },
  );
}
