/**
 * {@linkcode checkedConnection}: turns the failure of a NATS connect call (either transport) into
 * a {@linkcode BackendError} that says what went wrong, bad credentials first.
 *
 * @module
 */

import { errors } from "@nats-io/nats-core";
import type { NatsConnection } from "./connection_type.ts";
import { BackendError } from "../core/mod.ts";
import { BACKEND } from "./_shared.ts";

function explain(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (
    error instanceof errors.AuthorizationError ||
    error instanceof errors.UserAuthenticationExpiredError || /authoriz/i.test(message)
  ) {
    return `the server refused the credentials (${message}); check the token or the user name and password`;
  }
  if (/ECONNREFUSED|connection refused|CONNECTION_REFUSED/i.test(message)) {
    return `no NATS server accepted the connection (${message})`;
  }
  return message;
}

/**
 * Awaits a connect call of nats.js (`wsconnect` from `@nats-io/nats-core` or `connect` from
 * `@nats-io/transport-node`) and rethrows its failure as a {@linkcode BackendError} with a clear
 * message (the nats.js error kept as `cause`). A connect that has not settled after `timeoutMs`
 * (30 s by default) rejects too: `wsconnect` never settles where no global `WebSocket` exists
 * (Node 20 without `--experimental-websocket`). nats.js cannot abort a connect, so its attempts
 * go on after that rejection; a connection they open later is closed at once.
 *
 * @example
 * ```ts ignore
 * import { wsconnect } from "@nats-io/nats-core";
 * import { checkedConnection } from "@socketio4ts/stores/nats";
 *
 * const nc = await checkedConnection(
 *   wsconnect({ servers: "ws://127.0.0.1:14280", token: "s3cret" }),
 * );
 * await nc.close();
 * ```
 *
 * @throws {BackendError} when the connection cannot be opened, e.g. wrong credentials.
 */
export async function checkedConnection(
  connecting: Promise<NatsConnection>,
  timeoutMs = 30_000,
): Promise<NatsConnection> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const hint = typeof globalThis.WebSocket === "undefined"
        ? " (this runtime has no global WebSocket, which wsconnect needs: on Node 20 run with --experimental-websocket or install one)"
        : "";
      reject(
        new BackendError(BACKEND, `could not connect: no answer within ${timeoutMs} ms${hint}`),
      );
      // The caller never gets a connection that opens from now on: close it, or it would stay
      // open (and reconnecting) with nobody to close it.
      connecting.then((nc) => nc.close(), () => {}).catch(() => {});
    }, timeoutMs);
  });
  try {
    return await Promise.race([connecting, timeout]);
  } catch (error) {
    if (error instanceof BackendError) throw error;
    throw new BackendError(BACKEND, `could not connect: ${explain(error)}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}
