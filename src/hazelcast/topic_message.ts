/**
 * The items a Hazelcast reliable topic keeps in its ring buffer, written and read directly so
 * that a publish learns its ring-buffer sequence (the reliable topic's own `publish()` and
 * listeners hide it).
 *
 * A reliable topic named `t` stores its messages in the ring buffer `_hz_rb_t`
 * ({@linkcode ringbufferNameOf}), each as a `ReliableTopicMessage` (identified data serializable,
 * factory -9, class 2): publish time (long), publisher address (object, may be null) and the
 * payload as serialized data. Our payload is a `byte[]` (serializer id -12), so a plain
 * `client.getReliableTopic(t).addMessageListener(...)` — or a Java `ITopic<byte[]>` listener —
 * receives the encoded event as bytes, and a `byte[]` published on the topic by anyone reaches our
 * subscribers.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { DataInput, DataOutput, IdentifiedDataSerializable } from "hazelcast-client";

/** Prefix of the ring buffer that backs a reliable topic (same on the Java member). */
export const RELIABLE_TOPIC_RINGBUFFER_PREFIX = "_hz_rb_";

/** Name of the ring buffer that stores the reliable topic `topicName`. */
export function ringbufferNameOf(topicName: string): string {
  return RELIABLE_TOPIC_RINGBUFFER_PREFIX + topicName;
}

const RELIABLE_TOPIC_MESSAGE_FACTORY_ID = -9;
const RELIABLE_TOPIC_CLASS_ID = 2;
const BYTE_ARRAY_TYPE_ID = -12;
/** Serialized data: partition hash (int32 BE), type id (int32 BE), then the serializer's output. */
const DATA_HEADER_BYTES = 8;
const TWO_TO_32 = 4294967296;

type LongLike = Parameters<DataOutput["writeLong"]>[0];

/** A `ReliableTopicMessage` whose payload is `bytes` (write side only). */
export class TopicMessageItem implements IdentifiedDataSerializable {
  /** Hazelcast's factory id of `ReliableTopicMessage`. */
  readonly factoryId = RELIABLE_TOPIC_MESSAGE_FACTORY_ID;
  /** Hazelcast's class id of `ReliableTopicMessage`. */
  readonly classId = RELIABLE_TOPIC_CLASS_ID;
  readonly #bytes: Buffer;
  readonly #publishTime: number;

  /** @param bytes the encoded event. */
  constructor(bytes: Uint8Array) {
    this.#bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#publishTime = Date.now();
  }

  /** Never called: items read back are decoded by `hazelcast-client` itself. */
  readData(_input: DataInput): void {
    throw new Error("TopicMessageItem is write-only");
  }

  /** Writes the item exactly as a reliable topic's `publish(byte[])` would. */
  writeData(output: DataOutput): void {
    const time = this.#publishTime;
    output.writeLong({ high: Math.floor(time / TWO_TO_32), low: time | 0 } as LongLike);
    output.writeObject(null);
    const length = this.#bytes.byteLength;
    // The payload as a byte array holding serialized data: header, then the byte[] serializer's
    // output (length + bytes) in the configured byte order.
    output.writeInt(DATA_HEADER_BYTES + 4 + length);
    output.writeIntBE(0);
    output.writeIntBE(BYTE_ARRAY_TYPE_ID);
    output.writeInt(length);
    if (length > 0) output.write(this.#bytes);
  }
}

/** Why an item could not be read as an event. */
export class ForeignItemError extends Error {
  /** @param message what the item held instead. */
  constructor(message: string) {
    super(message);
    this.name = "ForeignItemError";
  }
}

/**
 * The event bytes of one ring-buffer item as `hazelcast-client` decoded it (a
 * `ReliableTopicMessage` with serialized payload data), as a plain `Uint8Array` view.
 *
 * @throws {ForeignItemError} when the item is not a reliable-topic message carrying a `byte[]`.
 */
export function bytesOfItem(item: unknown, bigEndian: boolean): Uint8Array {
  const payload = (item as { payload?: { toBuffer?: () => Buffer } } | null)?.payload;
  if (typeof payload?.toBuffer !== "function") {
    throw new ForeignItemError("ring-buffer item is not a reliable-topic message");
  }
  const data = payload.toBuffer();
  if (data.byteLength < DATA_HEADER_BYTES + 4) {
    throw new ForeignItemError(`reliable-topic message payload of ${data.byteLength} bytes`);
  }
  const type = data.readInt32BE(4);
  if (type !== BYTE_ARRAY_TYPE_ID) {
    throw new ForeignItemError(
      `reliable-topic message carries serializer type ${type}, not a byte array (-12)`,
    );
  }
  const length = bigEndian ? data.readInt32BE(8) : data.readInt32LE(8);
  if (length < 0 || DATA_HEADER_BYTES + 4 + length > data.byteLength) {
    throw new ForeignItemError(`reliable-topic message byte array of bad length ${length}`);
  }
  return new Uint8Array(data.buffer, data.byteOffset + DATA_HEADER_BYTES + 4, length);
}
