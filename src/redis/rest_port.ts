/**
 * The REST side of the command port: {@linkcode upstashPort} over an `@upstash/redis` client the
 * user created. Web-standard APIs only (edge-safe); nothing is imported at run time.
 *
 * Commands go through the client's own HTTP requester, so its URL, token, retries, response
 * encoding (base64 by default, decoded by the client) and read-your-writes token all apply. The
 * client's automatic JSON deserialization is bypassed on purpose: it would turn stored text such
 * as `"true"` or `{"a":1}` (values and hash field names alike) into other values.
 *
 * Commands issued together are sent as one `/pipeline` request, one request at a time, so the
 * order in which commands were issued is the order Redis runs them.
 *
 * @module
 */

import type { RedisCommandPort, RedisReply } from "./command_port.ts";
import { commandError } from "./_errors.ts";
import { withTimeout } from "../core/_timers.ts";

/** An `@upstash/redis` client (`new Redis({ url, token })`), any 1.x version. */
export type UpstashRedisClient = object;

interface UpstashResponse {
  readonly result?: unknown;
  readonly error?: string;
}

interface UpstashRequester {
  request(
    req: { path?: string[]; body?: unknown; signal?: () => AbortSignal },
  ): Promise<unknown>;
}

/** Options of {@linkcode upstashPort}. */
export interface UpstashPortOptions {
  /** Most commands sent in one `/pipeline` request; 256 by default. */
  readonly maxBatch?: number;
  /**
   * Most characters of arguments sent in one `/pipeline` request (a single larger command is
   * still sent, alone); 4 MiB by default.
   */
  readonly maxBatchChars?: number;
  /**
   * How long one request may wait for its reply before its commands reject with a
   * `BackendError` (the request is aborted through the client's `signal` support); 10 000 ms by
   * default, like `commandTimeoutMs` over TCP.
   */
  readonly commandTimeoutMs?: number;
}

function requesterOf(client: UpstashRedisClient): UpstashRequester | undefined {
  const inner = (client as { client?: Partial<UpstashRequester> } | null)?.client;
  return typeof inner?.request === "function" ? inner as UpstashRequester : undefined;
}

/** Whether `value` looks like an `@upstash/redis` client. */
export function isUpstashClient(value: unknown): value is UpstashRedisClient {
  return typeof value === "object" && value !== null && requesterOf(value) !== undefined &&
    typeof (value as { pipeline?: unknown }).pipeline === "function";
}

function normalize(value: unknown): RedisReply {
  if (value === null || value === undefined) return null;
  if (typeof value === "string" || typeof value === "number") return value;
  if (Array.isArray(value)) return value.map(normalize);
  return String(value);
}

interface Pending {
  readonly args: readonly string[];
  /** `performance.now()` when the command was issued: its deadline counts from then. */
  readonly issuedAt: number;
  readonly resolve: (reply: RedisReply) => void;
  readonly reject: (error: Error) => void;
}

class UpstashPort implements RedisCommandPort {
  readonly transport = "rest" as const;
  readonly #requester: UpstashRequester;
  readonly #maxBatch: number;
  readonly #maxBatchChars: number;
  readonly #timeoutMs: number;
  #queue: Pending[] = [];
  #flushing = false;

  constructor(requester: UpstashRequester, options: UpstashPortOptions) {
    const maxBatch = options.maxBatch ?? 256;
    if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) {
      throw new RangeError(`maxBatch must be a positive integer, received ${maxBatch}`);
    }
    const maxBatchChars = options.maxBatchChars ?? 4 * 1024 * 1024;
    if (!Number.isSafeInteger(maxBatchChars) || maxBatchChars < 1) {
      throw new RangeError(`maxBatchChars must be a positive integer, received ${maxBatchChars}`);
    }
    const timeoutMs = options.commandTimeoutMs ?? 10_000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError(`commandTimeoutMs must be a positive number, received ${timeoutMs}`);
    }
    this.#timeoutMs = timeoutMs;
    this.#requester = requester;
    this.#maxBatch = maxBatch;
    this.#maxBatchChars = maxBatchChars;
  }

  send(args: readonly string[]): Promise<RedisReply> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ args, issuedAt: performance.now(), resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        queueMicrotask(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#batchLength());
      try {
        // The oldest command of the batch sets its deadline: one stuck behind a hung request
        // does not wait for a second timeout of its own.
        const left = batch[0]!.issuedAt + this.#timeoutMs - performance.now();
        const responses = await this.#request(batch.map((pending) => pending.args), left);
        if (!Array.isArray(responses) || responses.length !== batch.length) {
          throw new Error(
            `the REST endpoint answered a pipeline of ${batch.length} commands with ${
              Array.isArray(responses) ? responses.length : "no"
            } results`,
          );
        }
        batch.forEach((pending, index) =>
          this.#settle(pending, responses[index] as UpstashResponse)
        );
      } catch (error) {
        for (const pending of batch) pending.reject(commandError(pending.args, error));
      }
    }
    this.#flushing = false;
  }

  /**
   * One `/pipeline` request, within `commandTimeoutMs`: at the deadline the request is aborted
   * (a signal function makes `@upstash/redis` rethrow the abort instead of answering it with a
   * made-up result) and rejected here, even if the client went on waiting.
   */
  async #request(body: readonly (readonly string[])[], left: number): Promise<unknown> {
    if (left <= 0) throw this.#timeoutError("waiting behind an earlier request");
    const controller = new AbortController();
    return await withTimeout(
      this.#requester.request({ path: ["pipeline"], body, signal: () => controller.signal }),
      left,
      () => {
        const error = this.#timeoutError("the REST endpoint did not answer");
        controller.abort(error);
        return error;
      },
    );
  }

  #timeoutError(why: string): Error {
    return new Error(`no reply within ${this.#timeoutMs} ms (commandTimeoutMs): ${why}`);
  }

  /** How many queued commands go into the next request (at least one). */
  #batchLength(): number {
    let chars = 0;
    let count = 0;
    for (const pending of this.#queue) {
      for (const arg of pending.args) chars += arg.length;
      if (count > 0 && (count >= this.#maxBatch || chars > this.#maxBatchChars)) break;
      count++;
    }
    return count;
  }

  #settle(pending: Pending, response: UpstashResponse | undefined): void {
    if (response?.error !== undefined && response.error !== null) {
      pending.reject(commandError(pending.args, new Error(response.error)));
    } else {
      pending.resolve(normalize(response?.result));
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * A command port over an `@upstash/redis` client you created (`new Redis({ url, token })`). The
 * client is only used, never closed (it holds no connection).
 */
export function upstashPort(
  client: UpstashRedisClient,
  options: UpstashPortOptions = {},
): RedisCommandPort {
  const requester = requesterOf(client);
  if (!requester) {
    throw new TypeError(
      "upstashPort expects an @upstash/redis client (new Redis({ url, token }))",
    );
  }
  return new UpstashPort(requester, options);
}
