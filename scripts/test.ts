/**
 * `deno task test`: probes the local services, runs `deno test -A tests/` (extra arguments are
 * passed through; when some of them are existing paths, they replace `tests/`), then prints which
 * backends ran and which were skipped (with the command that starts them), and exits with the
 * test run's exit code.
 *
 * @module
 */

import {
  REQUIRE_SERVICES,
  SERVICE_NAMES,
  SERVICE_REPORT_ENV,
  TOOL_REPORT_TAG,
} from "../tests/_services.ts";
import type { ServiceAvailability } from "../tests/_services.ts";
import { probeServices } from "../tests/_services.ts";
import type { ServiceName } from "./services/_types.ts";

const REPO_ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

function isExistingPath(arg: string): boolean {
  if (arg.startsWith("-")) return false;
  try {
    Deno.statSync(arg);
    return true;
  } catch {
    return false;
  }
}

/** Builds the `deno test` arguments from the extra arguments given to the task. */
export function testArgs(extra: readonly string[]): string[] {
  const separator = extra.indexOf("--");
  const before = separator >= 0 ? extra.slice(0, separator) : extra;
  const hasPaths = before.some(isExistingPath);
  return ["test", "-A", ...(hasPaths ? [] : ["tests/"]), ...extra];
}

/** The lines of the report file (none when it is gone). */
function reportLines(file: string): string[] {
  try {
    return Deno.readTextFileSync(file).split("\n");
  } catch {
    return [];
  }
}

/**
 * What the test modules asked for, read from the report file: service → whether it answered when
 * the tests probed it.
 */
export function readRequested(file: string): Map<ServiceName, boolean> {
  const requested = new Map<ServiceName, boolean>();
  for (const line of reportLines(file)) {
    const [name, state] = line.split(" ") as [ServiceName, string | undefined];
    if ((SERVICE_NAMES as readonly string[]).includes(name)) {
      requested.set(name, (requested.get(name) ?? true) && state === "available");
    }
  }
  return requested;
}

/**
 * The tools (not services) that some tests needed and did not find, read from the report file:
 * tool → how to install it.
 */
export function readMissingTools(file: string): Map<string, string> {
  const missing = new Map<string, string>();
  for (const line of reportLines(file)) {
    const [tag, name, state, ...hint] = line.split(" ");
    if (tag === TOOL_REPORT_TAG && name && state === "absent") missing.set(name, hint.join(" "));
  }
  return missing;
}

/**
 * The closing summary: ran / skipped (with start commands) / not used by the selected tests, then
 * the tools whose tests were skipped (or failed, under `REQUIRE_SERVICES=1`) for want of them.
 */
export function formatSummary(
  probes: readonly ServiceAvailability[],
  requested: ReadonlyMap<ServiceName, boolean>,
  missingTools: ReadonlyMap<string, string> = new Map(),
): string {
  const ran = probes.filter((p) => requested.get(p.name) === true);
  const skipped = probes.filter((p) => requested.get(p.name) === false);
  const unused = probes.filter((p) => !requested.has(p.name));
  const lines = ["", "backends:"];
  lines.push(`  ran:     ${ran.length ? ran.map((p) => p.name).join(", ") : "(none)"}`);
  if (skipped.length === 0) lines.push("  skipped: (none)");
  else {
    lines.push(
      `  ${REQUIRE_SERVICES ? "FAILED (REQUIRE_SERVICES=1)" : "skipped"}: ${
        skipped.map((p) => p.name).join(", ")
      }`,
    );
    for (const p of skipped) lines.push(`    ${p.name}: start with \`${p.startHint}\``);
    lines.push("    (or everything at once: `deno task services:up`)");
  }
  if (unused.length > 0) {
    lines.push(
      `  not used by these tests: ${
        unused.map((p) => `${p.name} (${p.available ? "up" : "down"})`).join(", ")
      }`,
    );
  }
  for (const [tool, install] of missingTools) {
    lines.push(
      `tests that need ${tool}: ${
        REQUIRE_SERVICES ? "FAILED (REQUIRE_SERVICES=1)" : "skipped"
      }, it is not installed; install it with \`${install}\``,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<number> {
  const reportDir = `${REPO_ROOT}/.services`;
  Deno.mkdirSync(reportDir, { recursive: true });
  const reportFile = `${reportDir}/test-report-${Deno.pid}.txt`;
  Deno.writeTextFileSync(reportFile, "");
  const probes = await probeServices();
  const args = testArgs(Deno.args);
  console.log(`deno ${args.join(" ")}`);
  const status = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO_ROOT,
    env: { [SERVICE_REPORT_ENV]: reportFile },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  const requested = readRequested(reportFile);
  const missingTools = readMissingTools(reportFile);
  try {
    Deno.removeSync(reportFile);
  } catch {
    // already gone
  }
  console.log(formatSummary(probes, requested, missingTools));
  return status.code;
}

if (import.meta.main) {
  Deno.exit(await main());
}
