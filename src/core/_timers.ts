/**
 * Timer helpers shared by the backends (internal).
 *
 * @module
 */

/** Lets a timer not keep the process alive (Deno's timers are numbers, Node's are objects). */
export function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  if (typeof timer === "number") {
    (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer(timer);
  } else {
    (timer as { unref?: () => void }).unref?.();
  }
}
