/**
 * Readers of Redis streams for {@linkcode RedisStreamEventStore}: a blocking `XREAD` loop on a
 * dedicated TCP connection per channel, and one polling `XREAD` loop per store for REST. Both
 * advance their position only past delivered entries, so after a failure they go on from the
 * last delivered id (at-least-once).
 *
 * @module
 */

import { BackendError, type ChannelSink } from "../core/mod.ts";
import { Pause } from "../core/_timers.ts";
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

/** Largest value of either part of a stream id (`ms-seq`, both unsigned 64-bit integers). */
const MAX_ID_PART = 0xffff_ffff_ffff_ffffn;
const STREAM_ID = /^(\d{1,20})(?:-(\d{1,20}))?$/;

/**
 * Parses a stream id (`ms-seq`, or `ms` meaning `ms-0` as `XREAD` reads it) into its two parts;
 * `undefined` for text that is no stream id, or whose parts do not fit in 64 bits (Redis would
 * answer every `XREAD` naming it with `ERR Invalid stream ID`).
 */
export function parseStreamId(id: string): readonly [bigint, bigint] | undefined {
  const match = STREAM_ID.exec(id);
  if (!match) return undefined;
  const ms = BigInt(match[1]!);
  const seq = BigInt(match[2] ?? "0");
  return ms > MAX_ID_PART || seq > MAX_ID_PART ? undefined : [ms, seq];
}

/** Orders two valid stream ids: negative, zero or positive, like `a - b`. */
export function compareStreamIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = parseStreamId(a) ?? [];
  const [bm = 0n, bs = 0n] = parseStreamId(b) ?? [];
  if (am !== bm) return am < bm ? -1 : 1;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

/** What `XINFO STREAM` tells about a stream's ends. */
export interface StreamInfo {
  /** Entries in the stream now. */
  readonly length: number;
  /** The largest id ever given to an entry (`0-0` for a stream that never had one). */
  readonly lastGeneratedId: string;
  /** Id of the oldest entry still there; `undefined` when the stream is empty. */
  readonly firstEntryId: string | undefined;
  /** Entries ever added; Redis 7 and later, else `undefined`. */
  readonly entriesAdded: number | undefined;
}

/** Anything that sends a command: a port or a dedicated connection. */
type Sender = { send(args: readonly string[]): Promise<RedisReply> };

/**
 * `XINFO STREAM key` (the reply is a flat field/value list, over TCP and REST alike), or
 * `undefined` when the stream does not exist.
 */
export async function streamInfo(sender: Sender, key: string): Promise<StreamInfo | undefined> {
  let reply: RedisReply;
  try {
    reply = await sender.send(["XINFO", "STREAM", key]);
  } catch (error) {
    if (error instanceof Error && /no such key/i.test(error.message)) return undefined;
    throw error;
  }
  const flat = replyArray(reply);
  const field = (name: string): RedisReply | undefined => {
    for (let index = 0; index + 1 < flat.length; index += 2) {
      if (flat[index] === name) return flat[index + 1];
    }
    return undefined;
  };
  const text = (name: string) => {
    const value = field(name);
    return value === undefined || Array.isArray(value) ? undefined : replyString(value as string);
  };
  const first = field("first-entry");
  const added = text("entries-added");
  return {
    length: Number(text("length") ?? 0),
    lastGeneratedId: text("last-generated-id") ?? "0-0",
    firstEntryId: first === undefined || first === null
      ? undefined
      : replyString(replyArray(first)[0] ?? null),
    entriesAdded: added === undefined ? undefined : Number(added),
  };
}

/**
 * Checks whether entries after `cursor.lastId` were trimmed away before they were read; if so,
 * moves the cursor to just before the oldest entry still there (where the next `XREAD` starts
 * anyway) and returns the report of the gap, once.
 */
export async function checkGap(
  sender: Sender,
  cursor: StreamCursor,
): Promise<BackendError | undefined> {
  const after = cursor.lastId;
  const info = await streamInfo(sender, cursor.key);
  return info && gapOf(cursor, after, info);
}

/** The id just before `id` (`id` is a valid id above `0-0`). */
function previousId(id: string): string {
  const [ms, seq] = parseStreamId(id)!;
  return seq > 0n ? `${ms}-${seq - 1n}` : `${ms - 1n}-${MAX_ID_PART}`;
}

/**
 * The gap between `after` and the oldest entry of a stream described by `info`, if any: the
 * oldest entry is newer than `after` while entries were trimmed from the stream (Redis 7 counts
 * them: `entries-added` minus `length`). Redis keeps no record of which ids were trimmed, so the
 * report names the ids between which records were lost, and how many the stream lost in all.
 */
export function gapOf(
  cursor: StreamCursor,
  after: string,
  info: StreamInfo,
): BackendError | undefined {
  const { firstEntryId } = info;
  const removed = info.entriesAdded === undefined ? undefined : info.entriesAdded - info.length;
  if (removed === undefined ? after === "0-0" : removed <= 0) return undefined;
  const oldest = firstEntryId ?? info.lastGeneratedId;
  if (compareStreamIds(oldest, after) <= 0) return undefined;
  if (cursor.lastId !== after) return undefined; // delivery moved on meanwhile
  cursor.lastId = firstEntryId === undefined ? oldest : previousId(firstEntryId);
  const count = after === "0-0" && removed !== undefined ? `${removed} ` : "";
  return new BackendError(
    "redis",
    `${count}record(s) of stream ${JSON.stringify(cursor.key)} after id ${after} and before ${
      firstEntryId === undefined ? "the next record added" : `id ${firstEntryId} (its oldest entry)`
    } were removed (trimmed to maxLen) before this node read them${
      removed === undefined || count !== "" ? "" : ` (${removed} trimmed from the stream in all)`
    }; resuming at ${firstEntryId === undefined ? "the next record added" : `id ${firstEntryId}`}`,
  );
}

/** The id of the newest entry of a stream, or `0-0` when it is empty or absent. */
export async function lastEntryId(port: RedisCommandPort, key: string): Promise<string> {
  const reply = replyArray(await port.send(["XREVRANGE", key, "+", "-", "COUNT", "1"]));
  const newest = reply[0];
  if (newest === undefined) return "0-0";
  return replyString(replyArray(newest)[0] ?? null) ?? "0-0";
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
        // After a failed read, entries may have been trimmed while this reader was away.
        if (failures > 0) {
          const gap = await checkGap(this.#connection, this.#cursor);
          if (gap && !this.#stopped) this.#cursor.sink.error(gap);
        }
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
        await this.#pause.sleep(backoff(failures++));
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

const STOPPED = Symbol("stopped");

/** Reads every open stream of a store with one non-blocking `XREAD`, every `pollIntervalMs`. */
export class PollingReader {
  readonly #port: RedisCommandPort;
  readonly #settings: ReaderSettings;
  readonly #cursors = new Map<string, StreamCursor>();
  readonly #pause = new Pause();
  #running: Promise<void> | undefined;
  #stopped = false;
  #stop: () => void = () => {};
  readonly #stopping = new Promise<typeof STOPPED>((resolve) => {
    this.#stop = () => resolve(STOPPED);
  });

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
    // Entries asked per read: halved after a failed read (a backlog of large entries may not
    // arrive within commandTimeoutMs all at once), and back to the full count once a read finds
    // every stream drained (fewer entries than asked).
    let count = this.#settings.count;
    while (!this.#stopped && this.#cursors.size > 0) {
      const cursors = [...this.#cursors.entries()];
      let reply: RedisReply;
      try {
        // After a failed read, entries may have been trimmed while this reader was away.
        if (failures > 0) {
          const checked = this.#checkGaps(cursors);
          checked.catch(() => {});
          if (await Promise.race([checked, this.#stopping]) === STOPPED) break;
        }
        const reading = this.#port.send([
          "XREAD",
          "COUNT",
          String(count),
          "STREAMS",
          ...cursors.map(([, cursor]) => cursor.key),
          ...cursors.map(([, cursor]) => cursor.lastId),
        ]);
        // stop() does not wait for a request that hangs (it ends at its commandTimeoutMs).
        reading.catch(() => {});
        const read = await Promise.race([reading, this.#stopping]);
        if (read === STOPPED) break;
        reply = read;
        failures = 0;
      } catch (error) {
        if (this.#stopped) break;
        count = Math.max(1, Math.floor(count / 2));
        for (const [channel, cursor] of cursors) {
          if (this.#cursors.get(channel) === cursor) cursor.sink.error(error as Error);
        }
        await this.#pause.sleep(backoff(failures++));
        continue;
      }
      const byKey = parseXread(reply);
      if ([...byKey.values()].every((entries) => entries.length < count)) {
        count = this.#settings.count;
      }
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
        await this.#pause.sleep(this.#settings.pollIntervalMs);
      }
    }
    this.#running = undefined;
    // A channel added while the loop was finishing starts a fresh loop.
    if (!this.#stopped && this.#cursors.size > 0) this.#running = this.#loop();
  }

  async #checkGaps(cursors: readonly [string, StreamCursor][]): Promise<void> {
    const gaps = await Promise.all(
      cursors.map(([, cursor]) => checkGap(this.#port, cursor)),
    );
    cursors.forEach(([channel, cursor], index) => {
      const gap = gaps[index];
      if (gap && !this.#stopped && this.#cursors.get(channel) === cursor) cursor.sink.error(gap);
    });
  }

  /** Stops polling, without waiting for a read in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stop();
    this.#cursors.clear();
    this.#pause.wake();
    await this.#running;
  }
}
