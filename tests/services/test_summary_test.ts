/** The closing summary of `deno task test`: services and the tools that some tests need. */

import assert from "node:assert/strict";
import { formatSummary, readMissingTools, readRequested } from "../../scripts/test.ts";
import type { ServiceAvailability } from "../_services.ts";

const redis: ServiceAvailability = {
  name: "redis",
  available: true,
  endpoint: { host: "127.0.0.1", port: 6379 },
  startHint: "deno task services:up redis",
  skipReason: undefined,
};

Deno.test("the test summary lists a missing tool with its install command, and only missing ones", () => {
  const file = Deno.makeTempFileSync();
  try {
    Deno.writeTextFileSync(
      file,
      [
        "redis available",
        "tool chromium absent apt-get install -y chromium",
        "tool node available npm install node",
        "",
      ].join("\n"),
    );
    const tools = readMissingTools(file);
    assert.deepStrictEqual([...tools], [["chromium", "apt-get install -y chromium"]]);
    assert.deepStrictEqual([...readRequested(file)], [["redis", true]]);
    const summary = formatSummary([redis], readRequested(file), tools);
    assert.match(summary, /ran: {5}redis/);
    assert.match(
      summary,
      /tests that need chromium: (skipped|FAILED \(REQUIRE_SERVICES=1\)), it is not installed; install it with `apt-get install -y chromium`/,
    );
    assert.doesNotMatch(summary, /need node/);
  } finally {
    Deno.removeSync(file);
  }
});

Deno.test("the test summary names no tool when none is missing or the report is gone", () => {
  assert.equal(readMissingTools("/nonexistent/report.txt").size, 0);
  assert.doesNotMatch(formatSummary([redis], new Map([["redis", true]])), /tests that need/);
});
