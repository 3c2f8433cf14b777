/**
 * {@linkcode RecoveryLog}: what one node keeps for socket.io's connection state recovery.
 *
 * @module
 */

import type { PersistedSession, SocketIoRoom } from "./messages.ts";

interface LoggedPacket {
  readonly offset: string;
  readonly data: unknown[];
  readonly rooms: ReadonlySet<SocketIoRoom>;
  readonly except: ReadonlySet<SocketIoRoom>;
  readonly at: number;
}

interface SavedSession {
  readonly session: PersistedSession;
  readonly at: number;
  /** The node that announced it (the one its client left). */
  readonly origin: string;
}

/** A saved session of a node that went away, for {@linkcode RecoveryLog.sessionsOf}. */
export interface OrphanedSession {
  /** The socket id, which names its session store. */
  readonly sid: string;
  /** How long it may still be recovered, in ms. */
  readonly remainingMs: number;
}

/** A session found for a recovering client, with the packets it missed. */
export interface FoundSession {
  /** The session as its node persisted it. */
  readonly session: PersistedSession;
  /** Broadcast packets (event name and arguments) sent to its rooms after its offset. */
  readonly missedPackets: unknown[][];
}

/**
 * The broadcast packets a node saw, under their offsets, and the sessions that ended recoverably
 * (announced by whichever node they were on). Both are kept for `maxAgeMs`, the server's
 * `maxDisconnectionDuration`, given on each call because socket.io's options may change.
 */
export class RecoveryLog {
  readonly #logSize: number;
  readonly #waitMs: number;
  readonly #packets: LoggedPacket[] = [];
  readonly #sessions = new Map<string, SavedSession>();
  /** Sessions that ended for good (private id → when): `take` answers their clients at once. */
  readonly #ended = new Map<string, number>();
  readonly #waiters = new Map<string, Set<() => void>>();
  #closed = false;

  /**
   * @param logSize most packets kept.
   * @param waitMs how long {@linkcode RecoveryLog.take} waits for the announcement of a session
   *   it does not know yet (it may still be on its way from another node).
   */
  constructor(logSize: number, waitMs: number) {
    this.#logSize = logSize;
    this.#waitMs = waitMs;
  }

  /** Logs a broadcast packet; drops packets older than `maxAgeMs` or beyond the log size. */
  remember(
    offset: string,
    data: unknown[],
    opts: { rooms: Iterable<SocketIoRoom>; except?: Iterable<SocketIoRoom> },
    maxAgeMs: number,
  ): void {
    const now = Date.now();
    this.#packets.push({
      offset,
      data,
      rooms: new Set(opts.rooms),
      except: new Set(opts.except ?? []),
      at: now,
    });
    const threshold = now - maxAgeMs;
    let drop = 0;
    while (
      drop < this.#packets.length &&
      (this.#packets[drop]!.at < threshold || this.#packets.length - drop > this.#logSize)
    ) drop++;
    if (drop > 0) this.#packets.splice(0, drop);
  }

  /**
   * Keeps an ended session, announced by node `origin`, and wakes whoever waits for it; drops
   * sessions older than `maxAgeMs`.
   */
  saveSession(session: PersistedSession, maxAgeMs: number, origin: string): void {
    const now = Date.now();
    const threshold = now - maxAgeMs;
    for (const [pid, saved] of this.#sessions) {
      if (saved.at < threshold) this.#sessions.delete(pid);
    }
    this.#sessions.set(session.pid, { session, at: now, origin });
    this.#ended.delete(session.pid);
    this.#wake(session.pid);
  }

  /**
   * Notes that session `pid` ended for good (its client disconnected on purpose, or was
   * disconnected by the server): it is forgotten, and for `maxAgeMs` a recovery of it is refused
   * at once instead of waiting for an announcement that will not come.
   */
  end(pid: string, maxAgeMs: number): void {
    const now = Date.now();
    const threshold = now - maxAgeMs;
    for (const [ended, at] of this.#ended) {
      if (at >= threshold) break; // in insertion order, so the rest are newer
      this.#ended.delete(ended);
    }
    this.#sessions.delete(pid);
    this.#ended.delete(pid);
    this.#ended.set(pid, now);
    this.#wake(pid);
  }

  /** The sessions announced by node `origin` that may still be recovered. */
  sessionsOf(origin: string, maxAgeMs: number): OrphanedSession[] {
    const now = Date.now();
    const found: OrphanedSession[] = [];
    for (const { session, at, origin: from } of this.#sessions.values()) {
      const remainingMs = at + maxAgeMs - now;
      if (from === origin && remainingMs > 0) found.push({ sid: session.sid, remainingMs });
    }
    return found;
  }

  /** Forgets a session that was recovered (on any node). */
  forget(pid: string): void {
    this.#sessions.delete(pid);
  }

  /**
   * Takes the session `pid` and the packets its client missed after `offset`; `undefined` when
   * it cannot be recovered (unknown, older than `maxAgeMs`, or `offset` no longer logged).
   */
  async take(pid: string, offset: string, maxAgeMs: number): Promise<FoundSession | undefined> {
    if (!this.#sessions.has(pid) && !this.#ended.has(pid) && this.#waitMs > 0) {
      await this.#waitFor(pid);
    }
    const saved = this.#sessions.get(pid);
    if (!saved || this.#closed) return undefined;
    this.#sessions.delete(pid);
    if (saved.at + maxAgeMs < Date.now()) return undefined;
    let index = -1;
    for (let i = this.#packets.length - 1; i >= 0; i--) {
      if (this.#packets[i]!.offset === offset) {
        index = i;
        break;
      }
    }
    if (index === -1) return undefined;
    const rooms = saved.session.rooms;
    const missedPackets: unknown[][] = [];
    for (const packet of this.#packets.slice(index + 1)) {
      const included = packet.rooms.size === 0 || rooms.some((room) => packet.rooms.has(room));
      const excluded = rooms.some((room) => packet.except.has(room));
      if (included && !excluded) missedPackets.push(packet.data);
    }
    return { session: saved.session, missedPackets };
  }

  /** Ends every wait; later calls to `take` find nothing. */
  close(): void {
    this.#closed = true;
    for (const waiters of this.#waiters.values()) for (const wake of waiters) wake();
    this.#waiters.clear();
  }

  #wake(pid: string): void {
    const waiters = this.#waiters.get(pid);
    if (waiters) { for (const wake of waiters) wake(); }
  }

  #waitFor(pid: string): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(pid);
      if (!waiters) this.#waiters.set(pid, waiters = new Set());
      const wake = () => {
        clearTimeout(timer);
        waiters!.delete(wake);
        if (waiters!.size === 0) this.#waiters.delete(pid);
        resolve();
      };
      const timer = setTimeout(wake, this.#waitMs);
      waiters.add(wake);
    });
  }
}
