/**
 * The socket.io application every test node runs (in-process or as a child process on Deno or
 * Node): client handlers, server-side event handlers, and a `control(op, args)` function through
 * which a test drives the server (directly, or over `POST /control`).
 */

import type { Server, Socket } from "socket.io";
import { sessionStore, type StoreFactoryAdapter } from "../../src/socketio/mod.ts";

/** Arguments of a control operation (JSON). */
export type ControlArgs = Record<string, unknown>;

/** Drives one server. */
export type Control = (op: string, args?: ControlArgs) => Promise<unknown>;

interface Target {
  rooms?: string[];
  except?: string[];
  local?: boolean;
}

// deno-lint-ignore no-explicit-any
function operator(io: Server, target: Target): any {
  // deno-lint-ignore no-explicit-any
  let op: any = io;
  if (target.rooms && target.rooms.length > 0) op = op.to(target.rooms);
  if (target.except && target.except.length > 0) op = op.except(target.except);
  if (target.local) op = op.local;
  return op;
}

function argsOf(args: ControlArgs): unknown[] {
  const list = [...((args.args as unknown[] | undefined) ?? [])];
  if (Array.isArray(args.bytes)) list.push(new Uint8Array(args.bytes as number[]));
  return list;
}

/** Wires the test application on `io`; returns its control function. */
export function setupApp(io: Server, nodeName: string): Control {
  const serverEvents: unknown[][] = [];
  const restored: string[] = [];

  io.on("connection", (socket: Socket) => {
    socket.data = { name: socket.handshake.auth?.name ?? null, node: nodeName };
    if (socket.recovered) restored.push(socket.id);
    socket.on("join", (room: string, ack: () => void) => {
      socket.join(room);
      ack();
    });
    socket.on("store:set", async (key: string, value: unknown, ack: (ok: unknown) => void) => {
      await sessionStore(socket).set(key, value as string);
      ack(true);
    });
    socket.on("store:get", async (key: string, ack: (value: unknown) => void) => {
      ack((await sessionStore(socket).get(key)) ?? null);
    });
    socket.on("whoami", (ack: (info: unknown) => void) => {
      ack({ id: socket.id, node: nodeName, rooms: [...socket.rooms], recovered: socket.recovered });
    });
  });
  for (const event of ["ping", "ping-ack"]) {
    io.on(event, (...args: unknown[]) => {
      const last = args[args.length - 1];
      if (typeof last === "function") {
        serverEvents.push([event, ...args.slice(0, -1)]);
        (last as (value: unknown) => void)(`${nodeName}:${String(args[0])}`);
      } else {
        serverEvents.push([event, ...args]);
      }
    });
  }

  return async (op, args = {}) => {
    const target = args as Target;
    switch (op) {
      case "name":
        return nodeName;
      case "serverCount":
        return await io.of("/").adapter.serverCount();
      case "emit":
        operator(io, target).emit(args.event as string, ...argsOf(args));
        return true;
      case "emitMany":
        // one synchronous loop: the adapter may coalesce these broadcasts into one message
        for (const item of args.list as ControlArgs[]) {
          operator(io, item as Target).emit(item.event as string, ...argsOf(item));
        }
        return true;
      case "emitWithAck": {
        const started = Date.now();
        try {
          const responses = await operator(io, target).timeout(args.timeout as number)
            .emitWithAck(args.event as string, ...argsOf(args));
          return { responses, ms: Date.now() - started };
        } catch (error) {
          return { error: (error as Error).message, ms: Date.now() - started };
        }
      }
      case "socketsJoin":
        operator(io, target).socketsJoin(args.join as string[]);
        return true;
      case "socketsLeave":
        operator(io, target).socketsLeave(args.leave as string[]);
        return true;
      case "disconnectSockets":
        operator(io, target).disconnectSockets(args.close === true);
        return true;
      case "fetchSockets": {
        const started = Date.now();
        let op = operator(io, target);
        if (typeof args.timeout === "number") op = op.timeout(args.timeout);
        try {
          const sockets = await op.fetchSockets();
          return {
            ms: Date.now() - started,
            sockets: sockets.map((s: { id: string; rooms: Set<string>; data: unknown }) => ({
              id: s.id,
              rooms: [...s.rooms].sort(),
              data: s.data,
            })).sort((a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id)),
          };
        } catch (error) {
          return { error: (error as Error).message, ms: Date.now() - started };
        }
      }
      case "serverSideEmit":
        io.serverSideEmit(args.event as string, ...argsOf(args));
        return true;
      case "serverSideEmitWithAck": {
        const started = Date.now();
        try {
          const responses = await io.serverSideEmitWithAck(args.event as string, ...argsOf(args));
          return { responses: (responses as unknown[]).sort(), ms: Date.now() - started };
        } catch (error) {
          return { error: (error as Error).message, ms: Date.now() - started };
        }
      }
      case "serverEvents":
        return serverEvents.splice(0);
      case "restored":
        return restored.splice(0);
      case "storeGet": {
        const adapter = io.of("/").adapter as unknown as StoreFactoryAdapter;
        try {
          const store = adapter.factory.createStore(args.sid as string);
          return (await store.get(args.key as string)) ?? null;
        } catch (error) {
          // caught while its destroy() runs: as good as gone
          if ((error as Error).name === "StoreDestroyedError") return null;
          throw error;
        }
      }
      case "localSockets":
        return [...io.of("/").sockets.keys()].sort();
      default:
        throw new Error(`unknown control op ${op}`);
    }
  };
}
