/**
 * Topic names and creation: `<prefix>.<channel>`, created once per store when missing; a topic
 * another node created at the same time counts as created.
 *
 * @module
 */

import { Admin } from "@platformatic/kafka";
import { BackendError } from "../core/mod.ts";
import type { ResolvedKafkaOptions } from "./options.ts";

/** Physical topic name of a logical channel. */
export function topicName(prefix: string, channel: string): string {
  return `${prefix}.${channel}`;
}

function isAlreadyExists(error: unknown): boolean {
  const found = (error as { findBy?: (key: string, value: unknown) => unknown }).findBy?.(
    "apiId",
    "TOPIC_ALREADY_EXISTS",
  );
  return Boolean(found) || /TOPIC_ALREADY_EXISTS|already exists/i.test(String(error));
}

/** Creates the topics a store needs (once each), through one lazily created admin client. */
export class TopicCreator {
  readonly #options: ResolvedKafkaOptions;
  readonly #created = new Map<string, Promise<void>>();
  #admin: Admin | undefined;

  /** @param options resolved store options. */
  constructor(options: ResolvedKafkaOptions) {
    this.#options = options;
  }

  #client(): Admin {
    this.#admin ??= new Admin({
      ...this.#options.connection,
      clientId: `${this.#options.clientId}-admin`,
      bootstrapBrokers: this.#options.brokers,
      retries: this.#options.retries,
      retryDelay: this.#options.retryDelayMs,
      timeout: this.#options.requestTimeoutMs,
    });
    return this.#admin;
  }

  /** Resolves once `topic` exists (created here or by anyone else). */
  ensure(topic: string): Promise<void> {
    if (!this.#options.createTopics) return Promise.resolve();
    let created = this.#created.get(topic);
    if (!created) {
      created = this.#create(topic);
      this.#created.set(topic, created);
      created.catch(() => this.#created.delete(topic));
    }
    return created;
  }

  async #create(topic: string): Promise<void> {
    try {
      await this.#client().createTopics({
        topics: [topic],
        partitions: this.#options.partitions,
        replicas: this.#options.replicationFactor,
        configs: [{ name: "max.message.bytes", value: String(this.#options.topicMaxMessageBytes) }],
      });
    } catch (error) {
      if (isAlreadyExists(error)) return;
      throw new BackendError("kafka", `could not create topic ${topic}: ${describe(error)}`, {
        cause: error,
      });
    }
  }

  /** Closes the admin client if one was created. */
  async close(): Promise<void> {
    const admin = this.#admin;
    this.#admin = undefined;
    await Promise.allSettled(this.#created.values());
    if (admin) await admin.close();
  }
}

/** The message of a client error, with the messages of the errors it wraps. */
export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const inner = (error as { errors?: unknown[] }).errors;
  const details = Array.isArray(inner) && inner.length > 0
    ? ` (${inner.map((item) => (item instanceof Error ? item.message : String(item))).join("; ")})`
    : "";
  return `${error.message}${details}`;
}
