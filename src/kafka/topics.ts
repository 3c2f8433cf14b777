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
      // The client's own wait for an answer (30 s by default), not only the broker's.
      requestTimeout: this.#options.requestTimeoutMs,
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

/**
 * How often a reader and a writer look at the topic's partition count again, in ms (the clients
 * cache a topic's metadata for 5 s, so a shorter period would see nothing new).
 */
export const PARTITION_CHECK_MS = 5000;

/** Most distinct reasons {@linkcode describe} lists. */
const MAX_REASONS = 8;

/** Deeper than this, nested errors are not followed (a cycle, or a pathological chain). */
const MAX_DEPTH = 8;

/**
 * The message of a client error, followed by the reasons it wraps: the innermost errors of its
 * `errors` (the client's `MultipleErrors`, nested a few levels deep) and of its `cause` chain,
 * each with the broker's error name (`apiId`, such as `MESSAGE_TOO_LARGE`) or its `code`, listed
 * once each with how many times it occurred.
 */
export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const reasons = new Map<string, number>();
  collectInner(error, reasons, new Set([error]), 0);
  if (reasons.size === 0 || (reasons.size === 1 && reasons.has(error.message))) {
    return error.message;
  }
  const listed = [...reasons].slice(0, MAX_REASONS).map(([reason, count]) =>
    count > 1 ? `${reason} (×${count})` : reason
  );
  if (reasons.size > MAX_REASONS) listed.push(`${reasons.size - MAX_REASONS} more`);
  return `${error.message} (${listed.join("; ")})`;
}

/**
 * Adds to `into` the reasons that `error` wraps: those of each of its `errors` when it has some,
 * else those of its `cause`. Returns whether there were any.
 */
function collectInner(
  error: unknown,
  into: Map<string, number>,
  seen: Set<unknown>,
  depth: number,
): boolean {
  if (depth >= MAX_DEPTH || error === null || typeof error !== "object") return false;
  const inner = (error as { errors?: unknown }).errors;
  if (Array.isArray(inner) && inner.length > 0) {
    for (const item of inner) collectReasons(item, into, seen, depth + 1);
    return true;
  }
  const cause = (error as { cause?: unknown }).cause;
  if (cause === undefined || cause === null) return false;
  collectReasons(cause, into, seen, depth + 1);
  return true;
}

/**
 * Adds the innermost reasons of `error` to `into`, counting repeats: an error that wraps others
 * stands for them, one with only a cause is written `<reason>: <its cause's reasons>`.
 */
function collectReasons(
  error: unknown,
  into: Map<string, number>,
  seen: Set<unknown>,
  depth: number,
): void {
  // `seen` holds the errors being walked through (a cycle ends there), not every error met: two
  // errors may share a cause.
  if (seen.has(error)) return;
  seen.add(error);
  const inner = (error as { errors?: unknown } | null)?.errors;
  if (!(Array.isArray(inner) && inner.length > 0 && collectInner(error, into, seen, depth))) {
    let reason = reasonOf(error);
    const causes = new Map<string, number>();
    if (collectInner(error, causes, seen, depth) && causes.size > 0) {
      reason += `: ${[...causes.keys()].join("; ")}`;
    }
    into.set(reason, (into.get(reason) ?? 0) + 1);
  }
  seen.delete(error);
}

/** One error as a reason: its broker error name or code, its message, the broker's own text. */
function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { apiId, code, serverErrorMessage } = error as {
    apiId?: unknown;
    code?: unknown;
    serverErrorMessage?: unknown;
  };
  const name = typeof apiId === "string" ? apiId : typeof code === "string" ? code : undefined;
  let reason = name === undefined || error.message.includes(name)
    ? error.message
    : `${name}: ${error.message}`;
  if (typeof serverErrorMessage === "string" && serverErrorMessage !== "") {
    reason += ` (broker: ${serverErrorMessage})`;
  }
  return reason;
}
