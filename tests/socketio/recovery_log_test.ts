import assert from "node:assert/strict";
import { RecoveryLog } from "../../src/socketio/recovery_log.ts";

const HOUR = 3_600_000;
const session = (pid: string, rooms: string[]) => ({ sid: `s-${pid}`, pid, rooms, data: { pid } });

Deno.test("RecoveryLog.take returns the session and the packets sent to its rooms after its offset", async () => {
  const log = new RecoveryLog(100, 0);
  log.remember("1", ["before"], { rooms: [] }, HOUR);
  log.remember("2", ["all"], { rooms: [] }, HOUR);
  log.remember("3", ["to a"], { rooms: ["a"] }, HOUR);
  log.remember("4", ["to b"], { rooms: ["b"] }, HOUR);
  log.remember("5", ["all but a"], { rooms: [], except: ["a"] }, HOUR);
  log.saveSession(session("p1", ["a"]), HOUR, "node-a");
  const found = await log.take("p1", "1", HOUR);
  assert.deepStrictEqual(found?.session, session("p1", ["a"]));
  assert.deepStrictEqual(found?.missedPackets, [["all"], ["to a"]]);
  assert.equal(await log.take("p1", "1", HOUR), undefined, "a session is taken once");
});

Deno.test("RecoveryLog finds nothing for an offset it no longer holds, or a session too old", async () => {
  const log = new RecoveryLog(2, 0);
  for (const offset of ["1", "2", "3"]) log.remember(offset, [offset], { rooms: [] }, HOUR);
  log.saveSession(session("p1", []), HOUR, "node-a");
  assert.equal(await log.take("p1", "1", HOUR), undefined, "offset 1 fell out of a log of 2");
  log.saveSession(session("p2", []), HOUR, "node-a");
  assert.deepStrictEqual((await log.take("p2", "2", HOUR))?.missedPackets, [["3"]]);
  log.saveSession(session("p3", []), HOUR, "node-a");
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(await log.take("p3", "2", 1), undefined, "older than maxAgeMs");
});

Deno.test("RecoveryLog.take waits for a session announced a little later, and close() ends the wait", async () => {
  const log = new RecoveryLog(10, 1_000);
  log.remember("1", ["x"], { rooms: [] }, HOUR);
  const waiting = log.take("late", "0", HOUR);
  log.remember("2", ["y"], { rooms: [] }, HOUR);
  log.saveSession(session("late", []), HOUR, "node-a");
  assert.equal(await waiting, undefined, "offset 0 was never logged");
  log.saveSession(session("again", []), HOUR, "node-a");
  assert.deepStrictEqual((await log.take("again", "1", HOUR))?.missedPackets, [["y"]]);
  const pending = log.take("never", "1", HOUR);
  log.close();
  assert.equal(await pending, undefined);
});

Deno.test("RecoveryLog.sessionsOf lists the sessions a node announced that may still be recovered", async () => {
  const log = new RecoveryLog(10, 0);
  log.remember("1", ["x"], { rooms: [] }, HOUR);
  log.saveSession(session("a1", []), HOUR, "node-a");
  log.saveSession(session("a2", []), HOUR, "node-a");
  log.saveSession(session("b1", []), HOUR, "node-b");
  assert.ok(await log.take("a2", "1", HOUR), "a2 recovered");
  const orphans = log.sessionsOf("node-a", HOUR);
  assert.deepStrictEqual(orphans.map((orphan) => orphan.sid), ["s-a1"]);
  assert.ok(orphans[0]!.remainingMs > HOUR - 1_000 && orphans[0]!.remainingMs <= HOUR);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepStrictEqual(log.sessionsOf("node-a", 1), [], "expired");
});

Deno.test("RecoveryLog.end: a session that ended for good is refused at once, and its wait ends; an announcement of it later counts again", async () => {
  const log = new RecoveryLog(10, 60_000);
  log.remember("1", ["x"], { rooms: [] }, HOUR);
  const waiting = log.take("gone", "1", HOUR);
  log.end("gone", HOUR);
  assert.equal(await waiting, undefined, "the wait ends with the end");
  const started = performance.now();
  assert.equal(await log.take("gone", "1", HOUR), undefined);
  assert.ok(performance.now() - started < 1_000, "no wait for a session that ended");
  // Recovered elsewhere and announced again: found as any other.
  log.saveSession(session("gone", []), HOUR, "node-b");
  log.remember("2", ["y"], { rooms: [] }, HOUR);
  assert.deepStrictEqual((await log.take("gone", "1", HOUR))?.missedPackets, [["y"]]);
  // Ends older than maxAgeMs are dropped when the next one is noted.
  log.end("old", 1);
  await new Promise((resolve) => setTimeout(resolve, 5));
  log.end("new", 1);
  const next = log.take("old", "1", HOUR).then(() => "answered");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    next,
    new Promise((resolve) => timer = setTimeout(() => resolve("waiting"), 50)),
  ]);
  clearTimeout(timer);
  assert.equal(outcome, "waiting", "an end older than maxAgeMs no longer answers at once");
  log.close();
  assert.equal(await next, "answered");
});
