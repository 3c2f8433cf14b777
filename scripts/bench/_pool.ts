/**
 * Pools the results of several processes of one benchmark script, run one after the other. A
 * process's V8 makes decisions early (which call sites it inlines, which allocation sites it
 * pretenures after the first scavenges) that shift both sides' figures by 10–20% for the rest of
 * that process; pooling several processes averages that luck out.
 *
 * @module
 */

/** One measured item of a benchmark: every result of each side. */
export interface SideResults {
  readonly raw: unknown[];
  readonly ours: unknown[];
}

/** How to start the child processes of {@linkcode poolProcesses}. */
export interface PoolOptions<T extends SideResults> {
  /** The benchmark script (`import.meta.url` of the caller). */
  readonly script: string;
  /** How many processes to run, one after the other. */
  readonly processes: number;
  /** Arguments for each child, which must print its results as a JSON array of `T`. */
  readonly args: readonly string[];
  /** Extra environment of each child. */
  readonly env?: Record<string, string>;
  /** The name under which results of different processes are pooled. */
  readonly keyOf: (result: T) => string;
}

/**
 * Runs the children and returns their results pooled by name, in the order first seen.
 *
 * @throws {Error} when a child fails.
 */
export async function poolProcesses<T extends SideResults>(options: PoolOptions<T>): Promise<T[]> {
  const pooled: T[] = [];
  for (let index = 0; index < options.processes; index++) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(options.script).pathname, ...options.args],
      env: options.env ?? {},
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!output.success) {
      throw new Error(`bench process ${index + 1} of ${options.processes} failed`);
    }
    for (const result of JSON.parse(new TextDecoder().decode(output.stdout)) as T[]) {
      const existing = pooled.find((other) => options.keyOf(other) === options.keyOf(result));
      if (existing) {
        existing.raw.push(...result.raw);
        existing.ours.push(...result.ours);
      } else pooled.push(result);
    }
  }
  return pooled;
}
