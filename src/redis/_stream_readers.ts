/**
 * Readers of Redis streams for {@linkcode RedisStreamEventStore}: a blocking `XREAD` loop on a
 * dedicated TCP connection per channel, and one polling `XREAD` loop per store for REST. Both
 * advance their position only past delivered entries, so after a failure they go on from the
 * last delivered id (at-least-once).
 *
 * @module
 */

import type { ChannelSink } from "../core/mod.ts";
import {
  type DedicatedConnection,
  type RedisCommandPort,
  type RedisReply,
  replyArray,
  replyString,
} from "./command_port.ts";
import { fromWire, RECORD_FIELD } from "./_wire.ts";

/** One stream being read: its key, the id of the last entry delivered, and where entries go. */
export interface StreamCursor {
  /** Redis key of the stream. */
  readonly key: string;
  /** Id of the last delivered entry (`0-0` to read from the start). */
  lastId: string;
  /** Receives the entries. */
  readonly sink: ChannelSink;
}

type Entry = readonly [id: string, record: string | undefined];

function entriesOf(list: RedisReply): Entry[] {
  return replyArray(list).map((raw) => {
    const [id, fields] = replyArray(raw);
    const flat = replyArray(fields ?? null);
    let record: string | undefined;
    for (let index = 0; index + 1 < flat.length; index += 2) {
      if (flat[index] === RECORD_FIELD) record = replyString(flat[index + 1]!);
    }
    return [replyString(id ?? null) ?? "", record] as const;
  });
}

/**
 * Parses an `XREAD` reply in either shape: RESP2 / REST `[[key, entries], ...]` or a RESP3 map
 * flattened to `[key, entries, key, entries, ...]`.
 */
export function parseXread(reply: RedisReply): Map<string, Entry[]> {
  const out = new Map<string, Entry[]>();
  const items = replyArray(reply);
  if (items.length === 0) return out;
  if (typeof items[0] === "string") {
    for (let index = 0; index + 1 < items.length; index += 2) {
      out.set(items[index] as string, entriesOf(items[index + 1]!));
    }
  } else {
    for (const pair of items) {
      const [key, entries] = replyArray(pair);
      out.set(replyString(key ?? null) ?? "", entriesOf(entries ?? null));
    }
  }
  return out;
}

/** Delivers entries to a cursor's sink, advancing it; `alive()` stops delivery midway. */
export function deliver(
  cursor: StreamCursor,
  entries: readonly Entry[],
  alive: () => boolean,
): number {
  let count = 0;
  for (const [id, record] of entries) {
    if (!alive()) break;
    cursor.lastId = id;
    cursor.sink.record(record === undefined ? new Uint8Array(0) : fromWire(record), id);
    count++;
  }
  return count;
}

/** The id of the newest entry of a stream, or `0-0` when it is empty or absent. */
export async function lastEntryId(port: RedisCommandPort, key: string): Promise<string> {
  const reply = replyArray(await port.send(["XREVRANGE", key, "+", "-", "COUNT", "1"]));
  const newest = reply[0];
  if (newest === undefined) return "0-0";
  return replyString(replyArray(newest)[0] ?? null) ?? "0-0";
}

/** A pause that `wake()` cuts short; never leaves a timer behind. */
class Pause {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #resolve: (() => void) | undefined;

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#resolve = resolve;
      this.#timer = setTimeout(() => this.wake(), ms);
    });
  }

  wake(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve?.();
  }
}

/** Settings shared by the readers. */
export interface ReaderSettings {
  /** Entries fetched per `XREAD`. */
  readonly count: number;
  /** `BLOCK` milliseconds of one blocking read. */
  readonly blockMs: number;
  /** Pause between polls that found nothing. */
  readonly pollIntervalMs: number;
}

function backoff(failures: number): number {
  return Math.min(50 * 2 ** failures, 2_000);
}

/** Reads one stream with blocking `XREAD` on a connection of its own. */
export class BlockingReader {
  readonly #connection: DedicatedConnection;
  readonly #cursor: StreamCursor;
  readonly #settings: ReaderSettings;
  readonly #pause = new Pause();
  readonly #done: Promise<void>;
  #stopped = false;

  constructor(connection: DedicatedConnection, cursor: StreamCursor, settings: ReaderSettings) {
    this.#connection = connection;
    this.#cursor = cursor;
    this.#settings = settings;
    this.#done = this.#loop();
  }

  async #loop(): Promise<void> {
    const alive = () => !this.#stopped;
    let failures = 0;
    while (!this.#stopped) {
      let reply: RedisReply;
      try {
        reply = await this.#connection.send([
          "XREAD",
          "COUNT",
          String(this.#settings.count),
          "BLOCK",
          String(this.#settings.blockMs),
          "STREAMS",
          this.#cursor.key,
          this.#cursor.lastId,
        ]);
        failures = 0;
      } catch (error) {
        if (this.#stopped) return;
        this.#cursor.sink.error(error as Error);
        await this.#pause.wait(backoff(failures++));
        continue;
      }
      for (const entries of parseXread(reply).values()) deliver(this.#cursor, entries, alive);
    }
  }

  /** Stops reading and closes the connection. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#pause.wake();
    await this.#connection.close();
    await this.#done;
  }
}

/** Reads every open stream of a store with one non-blocking `XREAD`, every `pollIntervalMs`. */
export class PollingReader {
  readonly #port: RedisCommandPort;
  readonly #settings: ReaderSettings;
  readonly #cursors = new Map<string, StreamCursor>();
  readonly #pause = new Pause();
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(port: RedisCommandPort, settings: ReaderSettings) {
    this.#port = port;
    this.#settings = settings;
  }

  /** Starts reading a channel from its cursor. */
  add(channel: string, cursor: StreamCursor): void {
    this.#cursors.set(channel, cursor);
    this.#running ??= this.#loop();
  }

  /** Stops reading a channel. */
  remove(channel: string): void {
    this.#cursors.delete(channel);
    if (this.#cursors.size === 0) this.#pause.wake();
  }

  async #loop(): Promise<void> {
    let failures = 0;
    while (!this.#stopped && this.#cursors.size > 0) {
      const cursors = [...this.#cursors.entries()];
      let reply: RedisReply;
      try {
        reply = await this.#port.send([
          "XREAD",
          "COUNT",
          String(this.#settings.count),
          "STREAMS",
          ...cursors.map(([, cursor]) => cursor.key),
          ...cursors.map(([, cursor]) => cursor.lastId),
        ]);
        failures = 0;
      } catch (error) {
        if (this.#stopped) break;
        for (const [channel, cursor] of cursors) {
          if (this.#cursors.get(channel) === cursor) cursor.sink.error(error as Error);
        }
        await this.#pause.wait(backoff(failures++));
        continue;
      }
      const byKey = parseXread(reply);
      let delivered = 0;
      for (const [channel, cursor] of cursors) {
        const entries = byKey.get(cursor.key);
        if (!entries) continue;
        delivered += deliver(
          cursor,
          entries,
          () => !this.#stopped && this.#cursors.get(channel) === cursor,
        );
      }
      if (delivered === 0 && !this.#stopped && this.#cursors.size > 0) {
        await this.#pause.wait(this.#settings.pollIntervalMs);
      }
    }
    this.#running = undefined;
    // A channel added while the loop was finishing starts a fresh loop.
    if (!this.#stopped && this.#cursors.size > 0) this.#running = this.#loop();
  }

  /** Stops polling. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cursors.clear();
    this.#pause.wake();
    await this.#running;
  }
}
