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

/** Most streams an `XREAD` failure names. */
const SHOWN_STREAMS = 4;

/**
 * What an `XREAD` was reading: its stream keys and the id each was read after (the arguments
 * after `STREAMS`, keys first, then as many ids), e.g. `of stream "p:stream:JOIN" after 1-0`.
 */
function xreadTarget(args: readonly string[]): string {
  const at = args.findIndex((arg) => arg.toUpperCase() === "STREAMS");
  const rest = at < 0 ? [] : args.slice(at + 1);
  const count = Math.floor(rest.length / 2);
  if (count === 0) return "";
  const shown = [];
  for (let index = 0; index < Math.min(count, SHOWN_STREAMS); index++) {
    shown.push(`${JSON.stringify(rest[index]!.slice(0, 80))} after ${rest[count + index]}`);
  }
  const more = count > SHOWN_STREAMS ? ` and ${count - SHOWN_STREAMS} more` : "";
  return ` of stream${count > 1 ? "s" : ""} ${shown.join(", ")}${more}`;
}

/**
 * Wraps `error` from running `args` in a `BackendError("redis", ...)` naming the command and its
 * key (for `XREAD`, the stream keys and the id each was read after).
 */
export function commandError(
  args: readonly (string | Uint8Array)[],
  error: unknown,
): BackendError {
  if (error instanceof BackendError) return error;
  const [full, cause] = withoutCommandEcho(error);
  const message = full.length > 300 ? `${full.slice(0, 300)}...` : full;
  const [name = "command", key] = args.slice(0, 2).map((arg) =>
    typeof arg === "string" ? arg : `<${arg.byteLength} bytes>`
  );
  const target = name.toUpperCase() === "XREAD"
    ? xreadTarget(args.map((arg) => typeof arg === "string" ? arg : ""))
    : key === undefined
    ? ""
    : ` ${JSON.stringify(key.slice(0, 80))}`;
  return new BackendError(
    "redis",
    `${name}${target} failed: ${message}${hintFor(message)}`,
    { cause },
  );
}

/** What `@upstash/redis` appends to a refused request's error: every command of the request. */
const COMMAND_ECHO = /, command was: [\s\S]*$/;

/**
 * The message of `error` and the error to keep as `cause`, both without the commands a REST
 * client echoes: a batch holds other sessions' commands, whose values must not reach this
 * caller's error (or logs). An echoing error is replaced by one of the same name and message
 * without the echo.
 */
function withoutCommandEcho(error: unknown): [message: string, cause: unknown] {
  const message = error instanceof Error ? error.message : String(error);
  if (!COMMAND_ECHO.test(message)) return [message, error];
  const stripped = message.replace(COMMAND_ECHO, "");
  const cause = new Error(stripped);
  if (error instanceof Error) cause.name = error.name;
  return [stripped, cause];
}

/** Wraps `error` from a connection-level step (`what`, e.g. `connecting the client`). */
export function connectionError(what: string, error: unknown): BackendError {
  if (error instanceof BackendError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new BackendError("redis", `${what} failed: ${message}${hintFor(message)}`, {
    cause: error,
  });
}
