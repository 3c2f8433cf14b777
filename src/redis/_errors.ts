/**
 * Turns a Redis client's failure into a {@linkcode BackendError} that says what could not be done
 * and why, keeping the client's error as `cause`.
 *
 * @module
 */

import { BackendError } from "../core/mod.ts";

function hintFor(message: string): string {
  if (
    /WRONGPASS|invalid username-password|NOAUTH|AUTH failed|Authentication required/i.test(message)
  ) {
    return " (authentication failed: check the password and ACL user of the client)";
  }
  if (/NOPERM/i.test(message)) {
    return " (the ACL user lacks the permission for this command or key)";
  }
  if (/Unauthorized|\b401\b/i.test(message)) {
    return " (the REST endpoint refused the token: check the client's token)";
  }
  if (
    /ECONNREFUSED|Connection refused|closed|ended|Disconnects|offline|fetch failed/i.test(message)
  ) {
    return " (Redis could not be reached)";
  }
  return "";
}

/** Wraps `error` from running `args` in a `BackendError("redis", ...)`. */
export function commandError(
  args: readonly (string | Uint8Array)[],
  error: unknown,
): BackendError {
  if (error instanceof BackendError) return error;
  const full = error instanceof Error ? error.message : String(error);
  const message = full.length > 300 ? `${full.slice(0, 300)}...` : full;
  const [name = "command", key] = args.slice(0, 2).map((arg) =>
    typeof arg === "string" ? arg : `<${arg.byteLength} bytes>`
  );
  const shownKey = key === undefined ? "" : ` ${JSON.stringify(key.slice(0, 80))}`;
  return new BackendError(
    "redis",
    `${name}${shownKey} failed: ${message}${hintFor(message)}`,
    { cause: error },
  );
}

/** Wraps `error` from a connection-level step (`what`, e.g. `connecting the client`). */
export function connectionError(what: string, error: unknown): BackendError {
  if (error instanceof BackendError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new BackendError("redis", `${what} failed: ${message}${hintFor(message)}`, {
    cause: error,
  });
}
