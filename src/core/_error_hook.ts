/**
 * Calls a user's error hook (`onError`) so that the hook's own failure can never break delivery
 * nor crash the process: a hook that throws, or an `async` hook whose promise rejects (which
 * would otherwise be an unhandled rejection, fatal on Deno), is logged to the console instead.
 *
 * @module
 */

/** Calls `hook(error, context)`; never throws, never leaves a rejection unhandled. */
export function callErrorHook<Context>(
  hook: (error: Error, context: Context) => unknown,
  error: unknown,
  context: Context,
): void {
  try {
    const result = hook(error instanceof Error ? error : new Error(String(error)), context);
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === "function") {
      (result as PromiseLike<unknown>).then(undefined, hookFailed);
    }
  } catch (hookError) {
    hookFailed(hookError);
  }
}

function hookFailed(hookError: unknown): void {
  console.error("[socketio4ts] the onError hook failed", hookError);
}
