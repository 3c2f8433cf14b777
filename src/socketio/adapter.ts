/**
 * {@linkcode StoreFactoryAdapter}: socket.io-adapter's cluster adapter with heartbeats, carried
 * by the event store of a {@linkcode StoreFactory}; {@linkcode createAdapter} plugs it into a
 * socket.io server.
 *
 * @module
 */

import type { Namespace } from "socket.io";
import {
  Adapter,
  type BroadcastOptions,
  ClusterAdapterWithHeartbeat,
  type ClusterMessage,
  type ClusterResponse,
  MessageType,
} from "socket.io-adapter";
import {
  BackendError,
  type EventMessage,
  EventStoreClosedError,
  PublishMode,
  roomsOf,
  type Store,
  type StoreFactory,
} from "../core/mod.ts";
import {
  type AdapterErrorHandler,
  ClusterNode,
  logAdapterError,
  type RoutedAdapter,
} from "./cluster_node.ts";
import {
  ANY_SESSION,
  assertSocketIoConnect,
  assertSocketIoDisconnect,
  assertSocketIoDispatch,
  assertSocketIoRoomChange,
  assertSocketIoRooms,
  type DispatchEntry,
  type PersistedSession,
  publishSocketIo,
  type SocketIoConnect,
  type SocketIoDisconnect,
  type SocketIoDispatch,
  type SocketIoMessage,
  type SocketIoRoom,
  type SocketSelector,
} from "./messages.ts";
import { RecoveryLog } from "./recovery_log.ts";
import { wireCopy } from "./wire_data.ts";
import { unrefTimer } from "../core/_timers.ts";

/** Options of {@linkcode createAdapter}. */
export interface StoreFactoryAdapterOptions {
  /** Milliseconds between two heartbeats of a node; 5000 by default. */
  heartbeatInterval?: number;
  /** Milliseconds without a message before a node counts as gone; 10000 by default. */
  heartbeatTimeout?: number;
  /** Receives errors that must not stop the server; `console.error` by default. */
  readonly onError?: AdapterErrorHandler;
  /**
   * Connection state recovery: how long a reconnecting client waits for the announcement of its
   * ended session to reach this node (it may have disconnected from another node a moment
   * earlier); 2000 ms by default.
   */
  readonly recoveryWaitMs?: number;
  /** Connection state recovery: broadcast packets kept per namespace; 10000 by default. */
  readonly recoveryLogSize?: number;
  /**
   * Broadcasts (without acknowledgements) emitted in the same tick travel as one `DISPATCH`
   * (the first packet in its fields, the others in `batch`), so a burst costs one publish per
   * tick instead of one per packet; `true` by default. Order is kept either way.
   */
  readonly coalesce?: boolean;
}

/** Most broadcasts carried by one coalesced `DISPATCH`. */
export const MAX_COALESCED_BROADCASTS = 256;

/** A broadcast waiting for this tick's `DISPATCH`. */
interface PendingBroadcast {
  readonly entry: DispatchEntry;
  /** For a recoverable packet, kept under its offset once published. */
  readonly data?: unknown[] | undefined;
  readonly opts?: { rooms: string[]; except: string[] };
  /** Absent when nobody waits for the offset: a failure is then reported once per batch. */
  readonly resolve?: (offset: string) => void;
  readonly reject?: (error: unknown) => void;
}

/** socket.io-adapter's in-memory broadcast: to this node's own clients. */
const localBroadcast = Adapter.prototype.broadcast;
/** socket.io-adapter's in-memory room and disconnect operations: on this node's own sockets. */
const localAddSockets = Adapter.prototype.addSockets;
const localDelSockets = Adapter.prototype.delSockets;
const localDisconnectSockets = Adapter.prototype.disconnectSockets;

const DONE: Promise<void> = Promise.resolve();
const NO_OFFSET: Promise<string> = Promise.resolve("");

type OutgoingClusterMessage = Parameters<ClusterAdapterWithHeartbeat["publish"]>[0];

/** A recovered session: what socket.io persisted, plus the packets its client missed. */
export interface RecoveredSession {
  /** Public socket id. */
  sid: string;
  /** Private session id. */
  pid: string;
  /**
   * Rooms the socket was in (typed as socket.io types them; a number room is still a number, see
   * {@linkcode SocketIoRoom}).
   */
  rooms: string[];
  /** `socket.data`. */
  data: unknown;
  /** Broadcast packets (event name, arguments, offset) emitted while it was away. */
  missedPackets: unknown[][];
}

interface SioPacket {
  readonly type: number;
  readonly id?: number;
  readonly data?: unknown[];
}

/**
 * socket.io's type of a room is `string`, but socket.io keys rooms by value: rooms that arrive
 * from another node are handed over as they are, a number as a number.
 */
function asRooms(rooms: Iterable<SocketIoRoom>): string[] {
  return [...rooms] as string[];
}

/**
 * The sockets an operation targets, as they travel.
 *
 * @throws {MessageValidationError} for a room that cannot travel (see `SocketIoRoom`).
 */
function selectorOf(opts: { rooms: Iterable<string>; except?: Iterable<string> }): SocketSelector {
  const rooms: readonly unknown[] = [...opts.rooms];
  const except: readonly unknown[] = [...(opts.except ?? [])];
  assertSocketIoRooms(rooms, "selector.rooms");
  assertSocketIoRooms(except, "selector.except");
  return { rooms, except };
}

function optionsOf(selector: SocketSelector, flags: Record<string, unknown> = {}) {
  return { rooms: asRooms(selector.rooms), except: asRooms(selector.except), flags };
}

/** The in-memory adapter's options of a broadcast that arrived from another node. */
function localOptions(entry: DispatchEntry): BroadcastOptions {
  return {
    rooms: new Set(asRooms(entry.rooms)),
    except: new Set(asRooms(entry.except)),
    flags: entry.flags as NonNullable<BroadcastOptions["flags"]>,
  };
}

/**
 * Offset of the `index`-th broadcast of a coalesced `DISPATCH` stored at `offset`: the offset
 * itself for the first, `<offset>+<index>` for the others (clients hand it back to recover).
 */
function batchOffset(offset: string, index: number): string {
  return index === 0 ? offset : `${offset}+${index}`;
}

/** Whether socket.io keeps a packet for recovery (events without ack, not volatile). */
/** A socket.io packet with its arguments copied for the other nodes (see `wireCopy`). */
function wirePacket(packet: unknown): unknown {
  const data = (packet as SioPacket | null)?.data;
  return Array.isArray(data)
    ? { ...(packet as SioPacket), data: wireCopy(data) }
    : wireCopy(packet);
}

function recoverable(packet: unknown, flags: { volatile?: boolean } | undefined): boolean {
  const p = packet as SioPacket;
  return p?.type === 2 && p.id === undefined && Array.isArray(p.data) &&
    flags?.volatile === undefined;
}

/**
 * A socket.io cluster adapter over a {@linkcode StoreFactory}'s event store. Create it through
 * {@linkcode createAdapter}; one instance serves one namespace of one server.
 */
export class StoreFactoryAdapter extends ClusterAdapterWithHeartbeat implements RoutedAdapter {
  readonly #node: ClusterNode;
  readonly #recoveryLog: RecoveryLog;
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #storeIds = new Set<string>();
  readonly #coalesce: boolean;
  #pending: PendingBroadcast[] = [];
  #sequence = 0;
  /** Sockets whose session ended recoverably: destroy their store only if nobody recovers them. */
  readonly #persisted = new Set<string>();
  readonly #deferred = new Map<string, ReturnType<typeof setTimeout>>();
  // Nodes whose adapter of this namespace closed, with when (kept maxDisconnectionDuration).
  readonly #departed = new Map<string, number>();
  #closed = false;
  readonly #started: Promise<void>;

  /**
   * Creates the adapter of one namespace; socket.io calls it through the class that
   * {@linkcode createAdapter} returns.
   *
   * @param nsp the namespace.
   * @param factory the store factory of this server.
   * @param options heartbeat, recovery and error-hook options.
   */
  constructor(nsp: Namespace, factory: StoreFactory, options: StoreFactoryAdapterOptions = {}) {
    const { onError, recoveryWaitMs, recoveryLogSize, coalesce, ...heartbeat } = options;
    super(nsp, heartbeat);
    this.#node = ClusterNode.of(factory, onError ?? logAdapterError);
    // The event store's node id identifies this server on the wire.
    (this as unknown as { uid: string }).uid = this.#node.nodeId;
    this.#recoveryLog = new RecoveryLog(recoveryLogSize ?? 10_000, recoveryWaitMs ?? 2000);
    this.#coalesce = coalesce ?? true;
    this.#node.attach(nsp.name, this);
    // socket.io 4.8.1 never calls init(); later versions do: announce once, either way.
    this.#started = this.#node.ready.then(() => {
      if (!this.#closed) super.init();
    });
    this.#started.catch(() => {});
  }

  /** The node id of this server (the event store's `nodeId`). */
  get nodeId(): string {
    return this.#node.nodeId;
  }

  /** The store factory this adapter is built on. */
  get factory(): StoreFactory {
    return this.#node.factory;
  }

  /** Resolves once the subscriptions are active and this node has announced itself. */
  override init(): Promise<void> {
    return this.#started;
  }

  /** Announces the departure of this node and waits for pending publishes. */
  override async close(): Promise<void> {
    if (this.#closed) return;
    this.#flush();
    super.close();
    this.#closed = true;
    this.#recoveryLog.close();
    // Stores kept for a possible recovery: their sessions may be recovered on another node, which
    // then uses the store (shared storage). The other nodes heard of them and of this node's
    // departure, and destroy them when they expire unrecovered (see #nodeLeft). Alone, this node
    // destroys them now: nobody would later.
    const kept = [...this.#deferred.keys()];
    for (const timer of this.#deferred.values()) clearTimeout(timer);
    this.#deferred.clear();
    if ((await this.serverCount()) === 1) { for (const id of kept) this.#destroyStore(id); }
    await Promise.allSettled([...this.#inFlight]);
    this.#node.detach(this.nsp.name, this);
  }

  /**
   * Publishing stops once the adapter is closed (no heartbeat is re-armed).
   *
   * @ignore
   */
  override publish(message: OutgoingClusterMessage): void {
    if (this.#closed) return;
    super.publish(message);
  }

  /**
   * The session {@linkcode Store} of a socket of this namespace; destroyed (through the
   * factory's `onDisconnect`) when the socket disconnects — or, when its session may be recovered
   * (connection state recovery), once `maxDisconnectionDuration` has passed without a recovery.
   * A recovered socket keeps its id, so with shared storage (Redis, Hazelcast) it finds its data
   * again on whichever node it reconnected to — also when its server shut down (`io.close()`, a
   * rolling restart): the remaining nodes then destroy the stores of the sessions nobody
   * recovered once those expire (a server alone destroys them as it closes).
   */
  sessionStore(socketId: string): Store {
    const store = this.#node.factory.createStore(socketId);
    this.#storeIds.add(socketId);
    return store;
  }

  /** Leaves every room; destroys the socket's session store if it was used. */
  override delAll(id: string): void {
    const persisted = this.#persisted.delete(id);
    // A socket leaving for good (not persisted for a recovery): its client's next connection,
    // which still names the old session, is told at once that there is none.
    if (!persisted && this.#recovery && !this.#closed) {
      const pid = (this.nsp.sockets.get(id) as { pid?: unknown } | undefined)?.pid;
      if (typeof pid === "string") this.#announceEnded(pid);
    }
    super.delAll(id);
    if (!this.#storeIds.delete(id)) return;
    const recovery = this.#recovery;
    if (persisted && recovery && !this.#closed) {
      this.#destroyLater(id, recovery.maxDisconnectionDuration);
      return;
    }
    this.#destroyStore(id);
  }

  /** Destroys the store of session `id` in `ms`, unless it is recovered (see #keepStore). */
  #destroyLater(id: string, ms: number): void {
    if (this.#closed || this.#deferred.has(id)) return;
    const timer = setTimeout(() => {
      this.#deferred.delete(id);
      this.#destroyStore(id);
    }, ms);
    unrefTimer(timer);
    this.#deferred.set(id, timer);
  }

  /**
   * Node `uid` closed its adapter of this namespace: the sessions it announced and nobody
   * recovered yet lose the node that would have destroyed their stores, so this node does, when
   * they expire unrecovered. An announcement that arrives after the departure (another channel)
   * is handled as it arrives.
   */
  #nodeLeft(uid: string): void {
    const recovery = this.#recovery;
    if (!recovery) return;
    const now = Date.now();
    for (const [departed, at] of this.#departed) {
      if (at + recovery.maxDisconnectionDuration > now) break;
      this.#departed.delete(departed);
    }
    this.#departed.delete(uid);
    this.#departed.set(uid, now);
    for (
      const { sid, remainingMs } of this.#recoveryLog.sessionsOf(
        uid,
        recovery.maxDisconnectionDuration,
      )
    ) {
      this.#destroyLater(sid, remainingMs);
    }
  }

  #destroyStore(id: string): void {
    this.#track(this.#node.factory.onDisconnect(id)).catch((error) =>
      this.#node.report(error, { stage: "session-store", namespace: this.nsp.name })
    );
  }

  /** A session was recovered (here or elsewhere): its store lives on. */
  #keepStore(sid: string): void {
    const timer = this.#deferred.get(sid);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#deferred.delete(sid);
    }
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inFlight.add(promise);
    const forget = () => this.#inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  get #recovery(): { maxDisconnectionDuration: number } | undefined {
    const recovery = this.nsp.server.opts.connectionStateRecovery as
      | { maxDisconnectionDuration?: number }
      | undefined;
    if (!recovery) return undefined;
    return { maxDisconnectionDuration: recovery.maxDisconnectionDuration ?? 120_000 };
  }

  /**
   * With connection state recovery on an at-most-once event store (no offsets), the id that
   * stands in for the offset of the next `DISPATCH`: it travels in the message, so every node logs
   * the packet under the same id (recovery is then best effort, like the delivery).
   */
  #nextId(): string | undefined {
    if (this.#node.events.publishMode === PublishMode.RELIABLE || !this.#recovery) return undefined;
    return `${this.#node.nodeId}:${++this.#sequence}`;
  }

  /**
   * Sends one cluster message through the event store; resolves the offset of a broadcast.
   *
   * @ignore
   */
  protected override doPublish(message: ClusterMessage): Promise<string> {
    // A closed adapter sends nothing more (its node has said goodbye; a message now would make
    // the others count it as alive again).
    if (this.#closed) return NO_OFFSET;
    let publishing: Promise<string>;
    if (
      this.#coalesce && message.type === MessageType.BROADCAST &&
      message.data.requestId === undefined
    ) {
      publishing = this.#enqueue(message.data.packet, message.data.opts);
    } else {
      this.#flush();
      publishing = this.#publish(message);
    }
    const published = this.#track(publishing);
    published.catch((error) =>
      this.#node.report(error, { stage: "publish", namespace: this.nsp.name })
    );
    return published;
  }

  /**
   * Broadcasts to the cluster and to this node's clients. socket.io-adapter waits for the publish
   * first, for the offset that connection state recovery adds to the packet. Without recovery no
   * offset is needed: the packet joins this tick's `DISPATCH` (or, with `coalesce: false`, is
   * published alone) and goes to this node's clients at once, with no wait per broadcast, as
   * with socket.io's in-memory adapter.
   *
   * @ignore
   */
  // deno-lint-ignore no-explicit-any
  override broadcast(packet: any, opts: BroadcastOptions): Promise<void> {
    if (this.#closed || opts.flags?.local || this.#recovery) return super.broadcast(packet, opts);
    const options = {
      rooms: [...opts.rooms],
      except: [...(opts.except ?? [])],
      flags: opts.flags ?? {},
    };
    if (this.#coalesce) {
      // A broadcast that cannot travel (a room neither a string nor a finite number) is reported
      // and kept from the cluster, alone; this node's clients get it all the same.
      let entry: DispatchEntry | undefined;
      try {
        entry = this.#entryOf(packet, options);
      } catch (error) {
        this.#node.report(error, { stage: "publish", namespace: this.nsp.name });
      }
      if (entry) this.#queue({ entry });
    } else {
      // doPublish reports a failure; socket.io-adapter's broadcast only logs it, as here.
      this.doPublish({
        uid: this.#node.nodeId,
        nsp: this.nsp.name,
        type: MessageType.BROADCAST,
        data: { packet, opts: options },
      }).catch(() => {});
    }
    localBroadcast.call(this, packet, opts);
    return DONE;
  }

  /**
   * `socketsJoin`: without connection state recovery, this node's sockets join at once, as on
   * one server, then the other nodes are told. (socket.io-adapter changes this node's sockets
   * only once the cluster message is published, so a broadcast emitted right after, which then
   * reaches this node's clients at once, would miss the sockets that had just joined, and reach
   * those that had just left.) With recovery, broadcasts wait for their publish too, and
   * socket.io-adapter's order holds: each change waits for its publish.
   *
   * @ignore
   */
  override addSockets(opts: BroadcastOptions, rooms: string[]): Promise<void> {
    if (this.#recovery) return super.addSockets(opts, rooms);
    localAddSockets.call(this, opts, rooms);
    return this.#tellCluster(opts, { type: MessageType.SOCKETS_JOIN, rooms });
  }

  /**
   * `socketsLeave`: on this node's sockets at once, then on the other nodes (see `addSockets`).
   *
   * @ignore
   */
  override delSockets(opts: BroadcastOptions, rooms: string[]): Promise<void> {
    if (this.#recovery) return super.delSockets(opts, rooms);
    localDelSockets.call(this, opts, rooms);
    return this.#tellCluster(opts, { type: MessageType.SOCKETS_LEAVE, rooms });
  }

  /**
   * `disconnectSockets`: this node's sockets at once, then the other nodes' (see `addSockets`).
   *
   * @ignore
   */
  override disconnectSockets(opts: BroadcastOptions, close: boolean): Promise<void> {
    if (this.#recovery) return super.disconnectSockets(opts, close);
    localDisconnectSockets.call(this, opts, close);
    return this.#tellCluster(opts, { type: MessageType.DISCONNECT_SOCKETS, close });
  }

  /** Publishes a room change or disconnect to the other nodes (unless `local`); never rejects. */
  #tellCluster(
    opts: BroadcastOptions,
    change:
      | { type: MessageType.SOCKETS_JOIN | MessageType.SOCKETS_LEAVE; rooms: string[] }
      | { type: MessageType.DISCONNECT_SOCKETS; close: boolean },
  ): Promise<void> {
    if (opts.flags?.local) return DONE;
    const encoded = {
      rooms: [...opts.rooms],
      except: [...(opts.except ?? [])],
      flags: opts.flags ?? {},
    };
    const message = change.type === MessageType.DISCONNECT_SOCKETS
      ? { type: change.type, data: { opts: encoded, close: change.close } }
      : { type: change.type, data: { opts: encoded, rooms: change.rooms } };
    // doPublish reports a failure.
    return this.doPublish(
      { uid: this.#node.nodeId, nsp: this.nsp.name, ...message } as ClusterMessage,
    )
      .then(() => {}, () => {});
  }

  /**
   * socket.io-adapter's `fetchSockets`, which asks every node; it rejects at once, with a
   * `MessageValidationError`, when a room cannot travel to them (neither a string nor a
   * finite number), rather than time out.
   *
   * @ignore
   */
  // deno-lint-ignore no-explicit-any
  override fetchSockets(opts: BroadcastOptions): Promise<any[]> {
    if (!opts.flags?.local) {
      try {
        selectorOf(opts);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return super.fetchSockets(opts);
  }

  /**
   * One broadcast as it travels (`opts.rooms` and `opts.except` are fresh copies).
   *
   * @throws {MessageValidationError} for a room that cannot travel (see `SocketIoRoom`).
   */
  #entryOf(
    packet: unknown,
    opts: { rooms: readonly unknown[]; except: readonly unknown[]; flags?: object },
  ): DispatchEntry {
    const { rooms, except } = opts;
    assertSocketIoRooms(rooms, "rooms");
    assertSocketIoRooms(except, "except");
    const flags: Record<string, unknown> = { ...opts.flags };
    delete flags.local;
    delete flags.broadcast;
    return {
      // The core's field holds a string: "42" for the room 42 (`rooms` holds 42 itself).
      room: rooms.length === 0 ? "" : String(rooms[0]),
      packet: wirePacket(packet),
      rooms,
      except,
      flags,
    };
  }

  #enqueue(
    packet: unknown,
    opts: { rooms: string[]; except: string[]; flags?: object },
  ): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const entry = this.#entryOf(packet, opts);
      const data = recoverable(packet, entry.flags) ? (packet as SioPacket).data : undefined;
      this.#queue({ entry, data, opts, resolve, reject });
    });
  }

  #queue(broadcast: PendingBroadcast): void {
    this.#pending.push(broadcast);
    if (this.#pending.length === 1) queueMicrotask(() => this.#flush());
    else if (this.#pending.length >= MAX_COALESCED_BROADCASTS) this.#flush();
  }

  /** Publishes the broadcasts queued in this tick (before anything else is published). */
  #flush(): void {
    const pending = this.#pending;
    if (pending.length === 0) return;
    this.#pending = [];
    const namespace = this.nsp.name;
    const [first, ...rest] = pending as [PendingBroadcast, ...PendingBroadcast[]];
    const id = this.#nextId();
    const tag = id === undefined ? {} : { id };
    const payload = rest.length === 0
      ? { namespace, ...first.entry, ...tag }
      : { namespace, ...first.entry, ...tag, batch: rest.map((item) => item.entry) };
    const settle = (items: PendingBroadcast[], offset: string | undefined) => {
      items.forEach((item, index) => {
        if (!item.resolve) return;
        const each = offset === undefined ? undefined : batchOffset(offset, index);
        if (each !== undefined && item.data) this.#remember(each, item.data, item.opts!);
        item.resolve(each ?? "");
      });
    };
    // Those who wait for an offset get the error (and report it); the others' is reported once.
    const fail = (items: PendingBroadcast[], error: unknown) => {
      let unreported = false;
      for (const item of items) {
        if (item.reject) item.reject(error);
        else unreported = true;
      }
      if (unreported) this.#node.report(error, { stage: "publish", namespace });
    };
    this.#track(
      this.#node.events.publish("DISPATCH", payload).then(
        ({ offset }) => settle(pending, offset ?? id),
        (error) => {
          if (
            rest.length === 0 || error instanceof BackendError ||
            error instanceof EventStoreClosedError
          ) {
            fail(pending, error);
            return;
          }
          // Refused together (too large, or one broadcast the codec cannot carry): one message
          // per broadcast, so that only the one at fault is lost to the other nodes.
          return Promise.all(pending.map((item, index) => {
            const own = id === undefined ? {} : { id: batchOffset(id, index) };
            return this.#node.events.publish("DISPATCH", { namespace, ...item.entry, ...own }).then(
              ({ offset }) => settle([item], offset ?? own.id),
              (error) => fail([item], error),
            );
          })).then(() => {});
        },
      ),
    );
  }

  async #publish(message: ClusterMessage): Promise<string> {
    const events = this.#node.events;
    const namespace = this.nsp.name;
    switch (message.type) {
      case MessageType.INITIAL_HEARTBEAT:
      case MessageType.HEARTBEAT:
      case MessageType.ADAPTER_CLOSE: {
        const beat = message.type === MessageType.INITIAL_HEARTBEAT
          ? "INITIAL"
          : message.type === MessageType.HEARTBEAT
          ? "ALIVE"
          : "CLOSE";
        await publishSocketIo(events, "SIO_HEARTBEAT", { namespace, beat });
        return "";
      }
      case MessageType.BROADCAST: {
        const { packet, opts, requestId } = message.data;
        const entry = this.#entryOf(packet, opts);
        const id = requestId === undefined ? this.#nextId() : undefined;
        const payload = {
          namespace,
          ...entry,
          ...(requestId === undefined ? {} : { requestId }),
          ...(id === undefined ? {} : { id }),
        };
        const offset = (await events.publish("DISPATCH", payload)).offset ?? id;
        if (offset !== undefined && requestId === undefined && recoverable(packet, entry.flags)) {
          this.#remember(offset, (packet as SioPacket).data!, opts);
        }
        return offset ?? "";
      }
      case MessageType.SOCKETS_JOIN:
      case MessageType.SOCKETS_LEAVE: {
        const rooms: readonly unknown[] = message.data.rooms.filter((room) => room !== "");
        if (rooms.length === 0) return "";
        assertSocketIoRooms(rooms, "roomKeys");
        const selector = selectorOf(message.data.opts);
        const join = message.type === MessageType.SOCKETS_JOIN;
        // The core's room fields hold strings; a number room travels in roomKeys too.
        const numbered = rooms.some((room) => typeof room === "number");
        const base = {
          sessionId: ANY_SESSION,
          namespace,
          selector,
          ...(numbered ? { roomKeys: rooms } : {}),
        };
        if (rooms.length === 1) {
          await events.publish(join ? "JOIN" : "LEAVE", { ...base, room: String(rooms[0]) });
        } else {
          await events.publish(join ? "BULK_JOIN" : "BULK_LEAVE", {
            ...base,
            rooms: rooms.map(String),
          });
        }
        return "";
      }
      case MessageType.DISCONNECT_SOCKETS: {
        const command: SocketIoDisconnect = {
          sessionId: ANY_SESSION,
          namespace,
          selector: selectorOf(message.data.opts),
          close: message.data.close === true,
        };
        await events.publish("DISCONNECT", command);
        return "";
      }
      case MessageType.FETCH_SOCKETS: {
        await publishSocketIo(events, "SIO_REQUEST", {
          namespace,
          request: "FETCH_SOCKETS",
          requestId: message.data.requestId,
          selector: selectorOf(message.data.opts),
        });
        return "";
      }
      case MessageType.SERVER_SIDE_EMIT: {
        const { packet, requestId } = message.data;
        await publishSocketIo(events, "SIO_REQUEST", {
          namespace,
          request: "SERVER_SIDE_EMIT",
          packet: wireCopy(packet) as unknown[],
          ...(requestId === undefined ? {} : { requestId }),
        });
        return "";
      }
      default:
        throw new TypeError(
          `cluster message type ${(message as { type: unknown }).type} has no mapping`,
        );
    }
  }

  /**
   * Sends an answer to the node that asked.
   *
   * @ignore
   */
  protected override doPublishResponse(
    requesterUid: string,
    response: ClusterResponse,
  ): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#flush();
    const base = {
      namespace: this.nsp.name,
      target: requesterUid,
      requestId: response.data.requestId,
    };
    let payload;
    switch (response.type) {
      case MessageType.FETCH_SOCKETS_RESPONSE:
        payload = {
          ...base,
          response: "FETCH_SOCKETS" as const,
          sockets: wireCopy(response.data.sockets) as typeof response.data.sockets,
        };
        break;
      case MessageType.SERVER_SIDE_EMIT_RESPONSE:
        payload = {
          ...base,
          response: "SERVER_SIDE_EMIT" as const,
          packet: wireCopy(response.data.packet),
        };
        break;
      case MessageType.BROADCAST_CLIENT_COUNT:
        payload = {
          ...base,
          response: "CLIENT_COUNT" as const,
          clientCount: response.data.clientCount,
        };
        break;
      case MessageType.BROADCAST_ACK:
        payload = {
          ...base,
          response: "CLIENT_ACK" as const,
          packet: wireCopy(response.data.packet),
        };
        break;
    }
    const published = this.#track(publishSocketIo(this.#node.events, "SIO_RESPONSE", payload)).then(
      () => {},
    );
    published.catch((error) =>
      this.#node.report(error, { stage: "publish", namespace: this.nsp.name })
    );
    return published;
  }

  /**
   * A `DISPATCH` without acknowledgement, where no offset is kept: straight to this node's
   * clients. It counts its sender as alive, as socket.io-adapter does for any message.
   */
  #broadcastLocally(message: SocketIoDispatch, uid: string): void {
    this.onMessage({ uid, nsp: this.nsp.name, type: MessageType.HEARTBEAT });
    localBroadcast.call(this, message.packet, localOptions(message));
    const batch = message.batch;
    if (batch === undefined) return;
    for (let index = 0; index < batch.length; index++) {
      localBroadcast.call(this, batch[index]!.packet, localOptions(batch[index]!));
    }
  }

  /** Applies a message from another node (called by the node's router). */
  receive(message: EventMessage | SocketIoMessage): void {
    if (this.#closed) return;
    const uid = message.nodeId;
    const nsp = this.nsp.name;
    switch (message.type) {
      case "DISPATCH": {
        assertSocketIoDispatch(message);
        if (message.requestId === undefined && !this.#recovery) {
          this.#broadcastLocally(message, uid);
          return;
        }
        const opts = optionsOf(message, message.flags as Record<string, unknown>);
        const { packet, requestId } = message;
        const offset = message.offset ?? message.id;
        if (offset !== undefined && requestId === undefined && recoverable(packet, message.flags)) {
          this.#remember(offset, (packet as SioPacket).data!, opts);
        }
        const data = requestId === undefined ? { packet, opts } : { packet, opts, requestId };
        this.onMessage({ uid, nsp, type: MessageType.BROADCAST, data }, offset);
        message.batch?.forEach((entry, index) => {
          const each = offset === undefined ? undefined : batchOffset(offset, index + 1);
          const entryOpts = optionsOf(entry, entry.flags as Record<string, unknown>);
          if (each !== undefined && recoverable(entry.packet, entry.flags)) {
            this.#remember(each, (entry.packet as SioPacket).data!, entryOpts);
          }
          this.onMessage(
            {
              uid,
              nsp,
              type: MessageType.BROADCAST,
              data: { packet: entry.packet, opts: entryOpts },
            },
            each,
          );
        });
        return;
      }
      case "JOIN":
      case "BULK_JOIN":
      case "LEAVE":
      case "BULK_LEAVE": {
        assertSocketIoRoomChange(message);
        const join = message.type === "JOIN" || message.type === "BULK_JOIN";
        this.onMessage({
          uid,
          nsp,
          type: join ? MessageType.SOCKETS_JOIN : MessageType.SOCKETS_LEAVE,
          data: {
            opts: optionsOf(message.selector),
            rooms: asRooms(message.roomKeys ?? roomsOf(message)),
          },
        });
        return;
      }
      case "DISCONNECT": {
        assertSocketIoDisconnect(message);
        if ("ended" in message) {
          const recovery = this.#recovery;
          if (recovery) this.#recoveryLog.end(message.sessionId, recovery.maxDisconnectionDuration);
          return;
        }
        if ("session" in message) {
          this.#saveSession(message.session, uid);
          const recovery = this.#recovery;
          if (recovery && this.#departed.has(uid)) {
            this.#destroyLater(message.session.sid, recovery.maxDisconnectionDuration);
          }
          return;
        }
        this.onMessage({
          uid,
          nsp,
          type: MessageType.DISCONNECT_SOCKETS,
          data: { opts: optionsOf(message.selector), close: message.close },
        });
        return;
      }
      case "CONNECT": {
        assertSocketIoConnect(message);
        this.#recoveryLog.forget(message.sessionId);
        if (message.sid !== undefined) this.#keepStore(message.sid);
        return;
      }
      case "SIO_HEARTBEAT": {
        if (message.beat === "CLOSE") this.#nodeLeft(uid);
        const type = message.beat === "INITIAL"
          ? MessageType.INITIAL_HEARTBEAT
          : message.beat === "ALIVE"
          ? MessageType.HEARTBEAT
          : MessageType.ADAPTER_CLOSE;
        this.onMessage({ uid, nsp, type });
        return;
      }
      case "SIO_REQUEST": {
        if (message.request === "FETCH_SOCKETS") {
          this.onMessage({
            uid,
            nsp,
            type: MessageType.FETCH_SOCKETS,
            data: { opts: optionsOf(message.selector!), requestId: message.requestId! },
          });
        } else {
          const packet = [...message.packet!];
          this.onMessage({
            uid,
            nsp,
            type: MessageType.SERVER_SIDE_EMIT,
            data: message.requestId === undefined
              ? { packet }
              : { packet, requestId: message.requestId },
          });
        }
        return;
      }
      case "SIO_RESPONSE": {
        const requestId = message.requestId;
        let response: ClusterResponse;
        switch (message.response) {
          case "FETCH_SOCKETS":
            response = {
              uid,
              nsp,
              type: MessageType.FETCH_SOCKETS_RESPONSE,
              data: { requestId, sockets: [...message.sockets!] },
            };
            break;
          case "SERVER_SIDE_EMIT":
            response = {
              uid,
              nsp,
              type: MessageType.SERVER_SIDE_EMIT_RESPONSE,
              data: { requestId, packet: message.packet },
            };
            break;
          case "CLIENT_COUNT":
            response = {
              uid,
              nsp,
              type: MessageType.BROADCAST_CLIENT_COUNT,
              data: { requestId, clientCount: message.clientCount! },
            };
            break;
          case "CLIENT_ACK":
            response = {
              uid,
              nsp,
              type: MessageType.BROADCAST_ACK,
              data: { requestId, packet: message.packet },
            };
            break;
        }
        // onMessage tracks the node as alive, then hands responses to onResponse.
        this.onMessage(response as unknown as ClusterMessage);
        return;
      }
    }
  }

  #remember(
    offset: string,
    data: unknown[],
    opts: { rooms: Iterable<string>; except?: Iterable<string> },
  ): void {
    const recovery = this.#recovery;
    if (recovery) this.#recoveryLog.remember(offset, data, opts, recovery.maxDisconnectionDuration);
  }

  #saveSession(session: PersistedSession, origin: string): void {
    const recovery = this.#recovery;
    if (recovery) {
      this.#recoveryLog.saveSession(session, recovery.maxDisconnectionDuration, origin);
    }
  }

  /** Keeps an ended session (here and on every node) so that its client can recover it. */
  override persistSession(session: {
    sid: string;
    pid: string;
    rooms: string[];
    data: unknown;
  }): void {
    if (!this.#recovery || this.#closed) return;
    this.#persisted.add(session.sid);
    const persisted: PersistedSession = {
      sid: session.sid,
      pid: session.pid,
      rooms: [...session.rooms],
      data: session.data,
    };
    this.#saveSession(persisted, this.#node.nodeId);
    this.#flush();
    try {
      assertSocketIoRooms(persisted.rooms, "session.rooms");
    } catch (error) {
      // A room that cannot travel: the session can be recovered on this node only.
      this.#node.report(error, { stage: "publish", namespace: this.nsp.name });
      return;
    }
    const announcement: SocketIoDisconnect = {
      sessionId: session.pid,
      namespace: this.nsp.name,
      // `data` as the other nodes can carry it (a class instance as its fields, see wireCopy).
      session: { ...persisted, data: wireCopy(persisted.data) },
    };
    this.#track(this.#node.events.publish("DISCONNECT", announcement)).catch((error) =>
      this.#node.report(error, { stage: "publish", namespace: this.nsp.name })
    );
  }

  /** Tells every node (this one too) that session `pid` ended for good. */
  #announceEnded(pid: string): void {
    this.#recoveryLog.end(pid, this.#recovery!.maxDisconnectionDuration);
    this.#flush();
    const ended: SocketIoDisconnect = { sessionId: pid, namespace: this.nsp.name, ended: true };
    this.#track(this.#node.events.publish("DISCONNECT", ended)).catch((error) =>
      this.#node.report(error, { stage: "publish", namespace: this.nsp.name })
    );
  }

  /**
   * Finds an ended session (announced by whichever node it was on) and the broadcast packets
   * its client missed after `offset`; `null` when it cannot be recovered.
   */
  override async restoreSession(pid: string, offset: string): Promise<RecoveredSession> {
    const recovery = this.#recovery;
    if (!recovery) return null as unknown as RecoveredSession;
    const found = await this.#recoveryLog.take(pid, offset, recovery.maxDisconnectionDuration);
    if (!found || this.#closed) return null as unknown as RecoveredSession;
    const { session, missedPackets } = found;
    const sid = session.sid;
    // Whichever node kept the store of this socket for a recovery: it lives on, here.
    this.#keepStore(sid);
    this.#storeIds.add(sid);
    this.#flush();
    const restored: SocketIoConnect = { sessionId: pid, namespace: this.nsp.name, sid };
    this.#track(this.#node.events.publish("CONNECT", restored)).catch((error) =>
      this.#node.report(error, { stage: "publish", namespace: this.nsp.name })
    );
    return {
      sid: session.sid,
      pid: session.pid,
      rooms: asRooms(session.rooms),
      data: session.data,
      missedPackets,
    };
  }
}

/** The constructor socket.io calls for each namespace (see {@linkcode createAdapter}). */
export type StoreFactoryAdapterClass = typeof StoreFactoryAdapter & {
  new (nsp: unknown): StoreFactoryAdapter;
};

/**
 * The adapter for `io.adapter(...)` (or the `adapter` server option): every socket.io server
 * given an adapter built on a factory whose event store reaches the others' becomes one cluster
 * (broadcasts, acknowledgements, `socketsJoin`/`socketsLeave`, `disconnectSockets`,
 * `fetchSockets`, `serverSideEmit`, heartbeats). Use one factory per server; the adapter calls
 * the factory's `init(host)`.
 *
 * Connection state recovery (`connectionStateRecovery` server option): every node logs the
 * broadcasts it sees under the event store's offsets, and the ended sessions it hears of (a
 * `DISCONNECT` from the node the client left), so a client that reconnects to ANY node gets the
 * packets it missed. Reliable event stores (Redis Streams, JetStream, Kafka, Hazelcast reliable
 * topic, memory) give the offsets; on at-most-once stores the sender's ids stand in for them and
 * recovery is best effort, like the delivery.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { Server } from "socket.io";
 * import { MemoryStoreFactory } from "@socketio4ts/stores";
 * import { createAdapter, sessionStore } from "@socketio4ts/stores/socketio";
 *
 * const factory = new MemoryStoreFactory(); // or Redis, NATS, Kafka, Hazelcast events
 * const io = new Server(createServer(), { adapter: createAdapter(factory) });
 * io.on("connection", (socket) => {
 *   socket.on("hello", (name: string) => sessionStore(socket).set("name", name));
 * });
 * await io.close();
 * await factory.shutdown();
 * ```
 */
export function createAdapter(
  factory: StoreFactory,
  options: StoreFactoryAdapterOptions = {},
): StoreFactoryAdapterClass {
  if (typeof factory?.eventStore !== "function" || typeof factory.init !== "function") {
    throw new TypeError("createAdapter(factory): factory must be a StoreFactory");
  }
  return class extends StoreFactoryAdapter {
    constructor(nsp: Namespace) {
      super(nsp, factory, options);
    }
  } as StoreFactoryAdapterClass;
}
