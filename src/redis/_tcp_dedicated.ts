/**
 * The TCP port's dedicated connections: a `client.duplicate()` for one blocking or subscribing
 * job, which outlives its client's `reconnectStrategy`.
 *
 * node-redis reconnects a client by itself until its `reconnectStrategy` gives up; the client is
 * then closed for good (it emits `terminated`). The user's own client stays that way, as they
 * configured it. A dedicated connection is the library's, though, and a store's subscriptions and
 * reads live on it for as long as the store is open: when it terminates, a new duplicate replaces
 * it after {@linkcode REPLACE_FIRST_DELAY_MS}, then after delays doubling up to
 * {@linkcode REPLACE_MAX_DELAY_MS} while Redis cannot be reached, and takes over its Pub/Sub
 * subscriptions. Commands sent meanwhile wait for the replacement; every step is reported to the
 * error handlers.
 *
 * @module
 */

import type { DedicatedConnection, RedisReply } from "./command_port.ts";
import type { NodeRedisClient } from "./tcp_port.ts";
import { commandError, connectionError } from "./_errors.ts";
import { connectOrFail, normalize, UNLIMITED } from "./_node_redis.ts";

/** Wait before the first attempt to replace a dedicated connection that gave up. */
export const REPLACE_FIRST_DELAY_MS = 1_000;
/** Longest wait between two attempts to replace a dedicated connection. */
export const REPLACE_MAX_DELAY_MS = 30_000;

const CLOSED_MESSAGE = "the dedicated connection was closed";

/** A dedicated connection over node-redis clients: the first duplicate, then its replacements. */
export class NodeRedisConnection implements DedicatedConnection {
  readonly #duplicate: () => NodeRedisClient;
  #client: NodeRedisClient;
  readonly #handlers = new Set<(error: Error) => void>();
  /** Pub/Sub subscriptions, with the listener handed to node-redis, for a replacement to renew. */
  readonly #subscriptions = new Map<string, (message: string) => void>();
  readonly #closing: Promise<never>;
  #markClosed: () => void = () => {};
  #closed = false;
  /** Settles once a replacement is in service; `undefined` while the current client serves. */
  #replacement: Promise<void> | undefined;
  #replaced: () => void = () => {};
  #replaceTimer: ReturnType<typeof setTimeout> | undefined;
  #failedReplacements = 0;

  /**
   * @param client the first duplicate, not connected yet.
   * @param duplicate makes a new duplicate of the user's client, for a replacement.
   */
  constructor(client: NodeRedisClient, duplicate: () => NodeRedisClient) {
    this.#duplicate = duplicate;
    this.#closing = new Promise<never>((_, reject) => {
      this.#markClosed = () => reject(new Error(CLOSED_MESSAGE));
    });
    this.#closing.catch(() => {});
    this.#client = this.#adopt(client);
  }

  /** Makes `client` the current one: its errors reach the handlers, its end starts a replacement. */
  #adopt(client: NodeRedisClient): NodeRedisClient {
    client.on("error", (error) => {
      // A replacement's connect failures are reported once, by the attempt.
      if (this.#closed || client !== this.#client || this.#replacement) return;
      this.#report(connectionError("dedicated connection", error));
    });
    client.on("terminated", (cause) => {
      if (this.#closed || client !== this.#client || this.#replacement) return;
      this.#replace(cause);
    });
    return client;
  }

  #report(error: Error): void {
    for (const handler of this.#handlers) handler(error);
  }

  /** The current client gave up reconnecting: drops it and schedules its replacement. */
  #replace(cause: unknown): void {
    const dead = this.#client;
    this.#replacement = new Promise((resolve) => this.#replaced = resolve);
    destroyQuietly(dead);
    this.#report(
      connectionError(
        "dedicated connection",
        new Error(
          `node-redis stopped reconnecting it (its reconnectStrategy gave up); a new connection replaces it in ${REPLACE_FIRST_DELAY_MS} ms`,
          { cause },
        ),
      ),
    );
    this.#scheduleReplacement();
  }

  /** The wait before the next replacement attempt, doubling with each failed one. */
  #replaceDelay(): number {
    return Math.min(REPLACE_FIRST_DELAY_MS * 2 ** this.#failedReplacements, REPLACE_MAX_DELAY_MS);
  }

  #scheduleReplacement(): void {
    this.#replaceTimer = setTimeout(() => {
      this.#replaceTimer = undefined;
      void this.#tryReplacement();
    }, this.#replaceDelay());
  }

  /** Opens a replacement and renews the subscriptions on it; on failure, tries again later. */
  async #tryReplacement(): Promise<void> {
    let client: NodeRedisClient | undefined;
    try {
      client = this.#adopt(this.#duplicate());
      this.#client = client;
      await connectOrFail(client);
      const renewed = [...this.#subscriptions];
      for (const [channel, listener] of renewed) {
        if (this.#closed) break;
        await client.subscribe(channel, listener);
      }
      // Unsubscribed (or subscribed again) while being renewed: bring the client in line.
      for (const [channel, listener] of renewed) {
        const current = this.#subscriptions.get(channel);
        if (this.#closed || current === listener) continue;
        await client.unsubscribe(channel);
        if (current) await client.subscribe(channel, current);
      }
    } catch (error) {
      if (this.#closed) return;
      if (client) destroyQuietly(client);
      this.#failedReplacements++;
      this.#report(
        connectionError(
          `replacing the dedicated connection (next attempt in ${this.#replaceDelay()} ms)`,
          error,
        ),
      );
      this.#scheduleReplacement();
      return;
    }
    if (this.#closed) return; // close() destroyed the client
    this.#failedReplacements = 0;
    this.#replacement = undefined;
    this.#replaced();
  }

  /** Runs `operation` on the client in service, failing at once if the connection is closed. */
  async #guard<T>(
    args: readonly string[],
    operation: (client: NodeRedisClient) => Promise<T>,
  ): Promise<T> {
    try {
      if (this.#closed) throw new Error(CLOSED_MESSAGE);
      if (this.#replacement) await Promise.race([this.#replacement, this.#closing]);
      return await Promise.race([operation(this.#client), this.#closing]);
    } catch (error) {
      throw commandError(args, error);
    }
  }

  /** Opens the first client; closes the connection when that fails. */
  async connect(): Promise<void> {
    try {
      await connectOrFail(this.#client);
    } catch (error) {
      await this.close();
      throw connectionError("opening a dedicated Redis connection (client.duplicate())", error);
    }
  }

  async send(args: readonly string[]): Promise<RedisReply> {
    return normalize(await this.#guard(args, (client) => client.sendCommand(args, UNLIMITED)));
  }

  subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    const onMessage = (message: string) => listener(message);
    this.#subscriptions.set(channel, onMessage);
    return this.#guard(["SUBSCRIBE", channel], (client) => client.subscribe(channel, onMessage))
      .catch((error) => {
        if (this.#subscriptions.get(channel) === onMessage) this.#subscriptions.delete(channel);
        throw error;
      });
  }

  unsubscribe(channel: string): Promise<void> {
    this.#subscriptions.delete(channel);
    // A client that gave up took its subscriptions with it, and its replacement renews only
    // those still wanted.
    if (this.#replacement && !this.#closed) return Promise.resolve();
    const client = this.#client;
    const done = this.#guard(["UNSUBSCRIBE", channel], (current) => current.unsubscribe(channel));
    if (client.isReady) return done;
    // Reconnecting: node-redis forgets the channel now (it will not renew it) and sends the
    // command once it is back. Waiting for that could last the whole outage, and hang a shutdown.
    done.catch(() => {});
    return Promise.resolve();
  }

  onError(handler: (error: Error) => void): void {
    this.#handlers.add(handler);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#handlers.clear();
      this.#subscriptions.clear();
      clearTimeout(this.#replaceTimer);
      this.#replaceTimer = undefined;
      this.#markClosed();
      destroyQuietly(this.#client);
    }
    // Let the socket's close settle before callers check for leaks.
    return new Promise((resolve) => setTimeout(resolve, 0));
  }
}

function destroyQuietly(client: NodeRedisClient): void {
  try {
    client.destroy();
  } catch {
    // never connected, or already closed
  }
}
