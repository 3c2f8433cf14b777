/**
 * Process helpers of the local-services harness: start a service process with its output in a log
 * file under `.services/logs/`, keep pid files under `.services/pids/`, wait for readiness, stop
 * (SIGTERM, then SIGKILL after a grace period), kill, restart, and find free loopback ports.
 *
 * Processes started for `services:up` are detached (own session) so that they outlive the
 * `deno task`; `services:down` stops exactly the processes named by pid files, after checking that
 * the pid still belongs to the program that was started.
 *
 * @module
 */

import type { ServiceEndpoint, ServiceInstance } from "./_types.ts";

/** Absolute path of the repository root (two folders above this file). */
export const REPO_ROOT: string = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** Folder for everything the harness writes at runtime (git-ignored). */
export const SERVICES_DIR: string = `${REPO_ROOT}/.services`;

/** Folder for service logs. */
export const LOG_DIR: string = `${SERVICES_DIR}/logs`;

/** Folder for pid files of shared instances started by `services:up`. */
export const PID_DIR: string = `${SERVICES_DIR}/pids`;

/** Creates (if needed) and returns a folder under `.services/`. */
export function servicePath(...parts: string[]): string {
  const dir = [SERVICES_DIR, ...parts].join("/");
  Deno.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Path of the log file for an instance name (the folder is created). */
export function logFileFor(name: string): string {
  Deno.mkdirSync(LOG_DIR, { recursive: true });
  return `${LOG_DIR}/${name}.log`;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What to run. */
export interface LaunchSpec {
  /** Executable (absolute path or a name found on PATH). */
  readonly cmd: string;
  /** Arguments. */
  readonly args: readonly string[];
  /** Working directory, default the repository root. */
  readonly cwd?: string;
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
}

/** Options of {@linkcode spawnService}. */
export interface SpawnOptions extends LaunchSpec {
  /** File that receives stdout and stderr (appended). */
  readonly logFile: string;
  /**
   * Start in a new session and `unref()` the child so it outlives this process (used by
   * `services:up`). Non-detached children are awaited on stop, which Deno's sanitizers require.
   */
  readonly detached?: boolean;
}

/** A process started by {@linkcode spawnService}. */
export interface SpawnedProcess {
  /** Process id (the service program itself: the shell wrapper `exec`s into it). */
  readonly pid: number;
  /** The log file. */
  readonly logFile: string;
  /** Resolves with the exit status once the process ended. */
  readonly status: Promise<Deno.CommandStatus>;
}

/**
 * Starts a service program with stdout/stderr appended to `logFile`. A tiny `sh` wrapper opens
 * the log and `exec`s the program, so the returned pid is the program's own pid.
 */
export function spawnService(opts: SpawnOptions): SpawnedProcess {
  Deno.mkdirSync(opts.logFile.replace(/\/[^/]*$/, ""), { recursive: true });
  const stamp = new Date().toISOString();
  Deno.writeTextFileSync(
    opts.logFile,
    `\n==== ${stamp} start: ${[opts.cmd, ...opts.args].join(" ")}\n`,
    { append: true },
  );
  const command = new Deno.Command("sh", {
    args: ["-c", 'exec "$@" >>"$SOCKETIO4TS_SERVICE_LOG" 2>&1', "sh", opts.cmd, ...opts.args],
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...opts.env, SOCKETIO4TS_SERVICE_LOG: opts.logFile },
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: opts.detached ?? false,
  });
  const child = command.spawn();
  const status = child.status;
  if (opts.detached) child.unref();
  return { pid: child.pid, logFile: opts.logFile, status };
}

/** Returns the last `lines` lines of a file, or `""` when it cannot be read. */
export function tailFile(path: string, lines = 20): string {
  try {
    const text = Deno.readTextFileSync(path);
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** Error thrown when a service does not become ready in time. */
export class ServiceStartError extends Error {
  /** The log file of the failed instance. */
  readonly logFile: string;
  /** Builds the error; the message names the log file. */
  constructor(message: string, logFile: string) {
    super(message);
    this.name = "ServiceStartError";
    this.logFile = logFile;
  }
}

/** Options of {@linkcode waitReady}. */
export interface WaitReadyOptions {
  /** Instance name, for the error message. */
  readonly name: string;
  /** Log file to point at in the error message. */
  readonly logFile: string;
  /** Give up after this long (default 30 s). */
  readonly timeoutMs?: number;
  /** Probe interval (default 100 ms). */
  readonly intervalMs?: number;
  /** A settled exit status stops the wait early. */
  readonly exited?: Promise<Deno.CommandStatus>;
  /** Alternative liveness check for processes that are not our children. */
  readonly pid?: number;
}

/**
 * Polls `probe` until it returns `true`. Throws a {@linkcode ServiceStartError} that names the log
 * file (and quotes its tail) when the process exits first or the timeout passes.
 */
export async function waitReady(
  probe: () => Promise<boolean>,
  opts: WaitReadyOptions,
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let exitStatus: Deno.CommandStatus | undefined;
  opts.exited?.then((s) => exitStatus = s, () => {});
  while (true) {
    if (await probe().catch(() => false)) return;
    const dead = exitStatus !== undefined ||
      (opts.pid !== undefined && !isPidAlive(opts.pid));
    if (dead || Date.now() >= deadline) {
      const why = dead
        ? `exited${exitStatus ? ` with code ${exitStatus.code}` : ""} before it was ready`
        : `was not ready after ${(timeoutMs / 1000).toFixed(1)} s`;
      const tail = tailFile(opts.logFile);
      throw new ServiceStartError(
        `${opts.name} ${why}; see ${opts.logFile}${
          tail ? `\n--- last log lines ---\n${tail}` : ""
        }`,
        opts.logFile,
      );
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

/** The state letter of a `/proc/…/stat` file (`R`, `S`, `T`, `Z`…), `undefined` if unreadable. */
function procState(statFile: string): string | undefined {
  try {
    const stat = Deno.readTextFileSync(statFile);
    // Field 3 (after the parenthesised command name) is the state.
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

/** `true` while the process exists and is not a zombie. */
export function isPidAlive(pid: number): boolean {
  const state = procState(`/proc/${pid}/stat`);
  return state !== undefined && state !== "Z" && state !== "X";
}

/** `true` once every thread of the process is stopped (state `T`); throws if it is gone. */
function allThreadsStopped(pid: number): boolean {
  let threads: Iterable<Deno.DirEntry>;
  try {
    threads = Deno.readDirSync(`/proc/${pid}/task`);
  } catch (error) {
    throw new Error(`process ${pid} is gone: cannot wait for it to stop`, { cause: error });
  }
  for (const thread of threads) {
    if (procState(`/proc/${pid}/task/${thread.name}/stat`) !== "T") return false;
  }
  return true;
}

/**
 * Freezes a process with `SIGSTOP` and waits until every one of its threads has stopped, so that
 * it can no longer answer anything. `kill` returns before that: a thread running on the other CPU
 * goes on for a moment, and a nats-server stopped this way was seen to answer a `PING` sent just
 * after `kill` returned. Throws if the threads are not all stopped within `timeoutMs`.
 */
export async function suspendProcess(pid: number, timeoutMs = 5_000): Promise<void> {
  Deno.kill(pid, "SIGSTOP");
  const deadline = performance.now() + timeoutMs;
  while (!allThreadsStopped(pid)) {
    if (performance.now() > deadline) {
      throw new Error(`process ${pid} did not stop within ${timeoutMs} ms of SIGSTOP`);
    }
    await sleep(1);
  }
}

/** Lets a process frozen by {@linkcode suspendProcess} go on (no error if it is gone). */
export function resumeProcess(pid: number): void {
  try {
    Deno.kill(pid, "SIGCONT");
  } catch {
    // already gone
  }
}

/** The command line of a process (arguments joined by spaces), or `undefined`. */
export function pidCommandLine(pid: number): string | undefined {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").join(" ").trim();
  } catch {
    return undefined;
  }
}

async function waitGone(pid: number, status: Promise<unknown> | undefined, ms: number) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isPidAlive(pid)) return true;
    await sleep(50);
  }
  void status;
  return !isPidAlive(pid);
}

function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Stops a process: SIGTERM, then SIGKILL after `graceMs` (default 10 s). When `status` (the
 * child's status promise) is given it is awaited too, so no resource stays open.
 */
export async function stopPid(
  pid: number,
  opts: { graceMs?: number; status?: Promise<unknown> } = {},
): Promise<void> {
  signal(pid, "SIGTERM");
  if (!await waitGone(pid, opts.status, opts.graceMs ?? 10_000)) {
    signal(pid, "SIGKILL");
    await waitGone(pid, opts.status, 5_000);
  }
  await opts.status?.catch(() => {});
}

/** Kills a process with SIGKILL and waits until it is gone. */
export async function killPid(
  pid: number,
  opts: { status?: Promise<unknown> } = {},
): Promise<void> {
  signal(pid, "SIGKILL");
  await waitGone(pid, opts.status, 5_000);
  await opts.status?.catch(() => {});
}

/** Content of a pid file (JSON). */
export interface PidRecord {
  /** Instance name (also the file name). */
  readonly name: string;
  /** Process id. */
  readonly pid: number;
  /** Text that the process's command line must contain for the pid to count as ours. */
  readonly match: string;
  /** Full command line that was started. */
  readonly command: readonly string[];
  /** Log file. */
  readonly logFile: string;
  /** Where it listens. */
  readonly endpoint: ServiceEndpoint;
  /** ISO time of the start. */
  readonly startedAt: string;
  /** For private (test) instances: pid of the process that started it. */
  readonly owner?: number;
}

function pidFilePath(name: string): string {
  return `${PID_DIR}/${name}.json`;
}

/** Writes the pid file of a shared instance. */
export function writePidFile(record: PidRecord): void {
  Deno.mkdirSync(PID_DIR, { recursive: true });
  Deno.writeTextFileSync(pidFilePath(record.name), JSON.stringify(record, null, 2) + "\n");
}

/** Reads a pid file, `undefined` when absent or unreadable. */
export function readPidFile(name: string): PidRecord | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(pidFilePath(name))) as PidRecord;
  } catch {
    return undefined;
  }
}

/** Removes a pid file (no error when absent). */
export function removePidFile(name: string): void {
  try {
    Deno.removeSync(pidFilePath(name));
  } catch {
    // absent
  }
}

/** `true` when the pid of the record is alive and still runs the program that was started. */
export function isRecordAlive(record: PidRecord): boolean {
  if (!isPidAlive(record.pid)) return false;
  const cmdline = pidCommandLine(record.pid);
  return cmdline !== undefined && cmdline.includes(record.match);
}

/** Result of {@linkcode stopByPidFile}. */
export type StopOutcome = "stopped" | "not-running" | "no-pid-file";

/**
 * Stops the instance named by a pid file, only if the pid still runs the recorded program, then
 * removes the pid file.
 */
export async function stopByPidFile(name: string, graceMs = 10_000): Promise<StopOutcome> {
  const record = readPidFile(name);
  if (!record) return "no-pid-file";
  if (!isRecordAlive(record)) {
    removePidFile(name);
    return "not-running";
  }
  await stopPid(record.pid, { graceMs });
  removePidFile(name);
  return "stopped";
}

/** Folder of records of private (test) instances, so orphans can be found and stopped. */
export const INSTANCE_PID_DIR: string = `${PID_DIR}/instances`;

/** Records a private instance (with its owner pid). */
export function writeInstanceRecord(record: PidRecord): void {
  try {
    Deno.mkdirSync(INSTANCE_PID_DIR, { recursive: true });
    Deno.writeTextFileSync(`${INSTANCE_PID_DIR}/${record.name}.json`, JSON.stringify(record));
  } catch {
    // best effort: only used to clean up orphans
  }
}

/** Removes the record of a private instance. */
export function removeInstanceRecord(name: string): void {
  try {
    Deno.removeSync(`${INSTANCE_PID_DIR}/${name}.json`);
  } catch {
    // absent
  }
}

/** Records of private instances whose owner (test process) is gone but which still run. */
export function orphanInstances(): PidRecord[] {
  const orphans: PidRecord[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(INSTANCE_PID_DIR)];
  } catch {
    return orphans;
  }
  for (const entry of entries) {
    if (!entry.name.endsWith(".json")) continue;
    const path = `${INSTANCE_PID_DIR}/${entry.name}`;
    let record: PidRecord;
    try {
      record = JSON.parse(Deno.readTextFileSync(path)) as PidRecord;
    } catch {
      continue;
    }
    if (record.owner !== undefined && isPidAlive(record.owner)) continue;
    if (isRecordAlive(record)) orphans.push(record);
    else {
      try {
        Deno.removeSync(path);
      } catch {
        // gone
      }
    }
  }
  return orphans;
}

/**
 * Stops private instances left behind by test processes that died (their records name a dead
 * owner); returns their names.
 */
export async function stopOrphanInstances(graceMs = 10_000): Promise<string[]> {
  const orphans = orphanInstances();
  await Promise.all(orphans.map(async (record) => {
    await stopPid(record.pid, { graceMs });
    removeInstanceRecord(record.name);
  }));
  return orphans.map((r) => r.name);
}

const handedOut = new Set<number>();

/** `true` when nothing listens on 127.0.0.1:`port` and we can bind it. */
export function isPortFree(port: number): boolean {
  try {
    const listener = Deno.listen({ hostname: "127.0.0.1", port });
    listener.close();
    return true;
  } catch {
    return false;
  }
}

/** Lowest port {@linkcode findFreePort} hands out by default. */
export const FREE_PORT_BASE = 16400;

/**
 * Finds a free loopback port at or above `start` that this process has not handed out before.
 * The port is only checked, not held: start the service soon after. By default the search starts
 * at a random port of 16400–31999, so that test processes running side by side do not race for
 * the same ports (one taking the port of another's instance while it restarts).
 */
export function findFreePort(start = FREE_PORT_BASE + Math.floor(Math.random() * 15_600)): number {
  for (let port = start; port < 65_000; port++) {
    if (handedOut.has(port)) continue;
    if (isPortFree(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free loopback port at or above ${start}`);
}

/** `true` when a TCP connection to host:port is accepted. */
export async function isTcpOpen(port: number, hostname = "127.0.0.1"): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Connects to host:port, writes `request`, and reads until `done(text)` is true or `timeoutMs`
 * passes. Returns the text read (possibly partial), or `undefined` when the connection failed.
 */
export async function tcpExchange(
  port: number,
  request: string,
  done: (text: string) => boolean,
  opts: { hostname?: string; timeoutMs?: number } = {},
): Promise<string | undefined> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: opts.hostname ?? "127.0.0.1", port });
  } catch {
    return undefined;
  }
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch {
      // closed
    }
  }, opts.timeoutMs ?? 2_000);
  let text = "";
  try {
    if (request) await conn.write(new TextEncoder().encode(request));
    const buf = new Uint8Array(4096);
    const decoder = new TextDecoder();
    while (!done(text)) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n), { stream: true });
    }
  } catch {
    // closed by the timer or the peer
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed
    }
  }
  return text;
}

/** Absolute path of an executable found on PATH (plus /usr/sbin, /sbin), or `undefined`. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/sbin", "/usr/bin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = `${dir}/${name}`;
    try {
      const info = Deno.statSync(path);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Returns the path of `binary`, installing the Debian package `aptPackage` with `apt-get` when it
 * is missing (runs `apt-get update` first if the install fails).
 */
export async function ensureExecutable(binary: string, aptPackage: string): Promise<string> {
  const found = findExecutable(binary);
  if (found) return found;
  const sudo = Deno.uid() === 0 ? [] : ["sudo", "-n"];
  const run = async (args: string[]) => {
    const [cmd, ...rest] = [...sudo, ...args];
    const out = await new Deno.Command(cmd!, {
      args: rest,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    return out.success;
  };
  console.error(`installing ${aptPackage} (missing ${binary}) with apt-get…`);
  if (!await run(["apt-get", "install", "-y", "--no-install-recommends", aptPackage])) {
    await run(["apt-get", "update"]);
    await run(["apt-get", "install", "-y", "--no-install-recommends", aptPackage]);
  }
  const path = findExecutable(binary);
  if (!path) throw new Error(`could not install ${aptPackage}: ${binary} still missing`);
  return path;
}

/** Options of {@linkcode ManagedProcess}. */
export interface ManagedProcessOptions {
  /** Instance name, e.g. `redis-aof-16400`; also the log file name and pid file name. */
  readonly name: string;
  /** Where it listens. */
  readonly endpoint: ServiceEndpoint;
  /** What to run; called again on every (re)start. */
  readonly launch: () => LaunchSpec | Promise<LaunchSpec>;
  /** Resolves `true` once the service answers its protocol. */
  readonly probe: () => Promise<boolean>;
  /** Readiness timeout (default 30 s). */
  readonly readyTimeoutMs?: number;
  /** SIGTERM grace period before SIGKILL (default 10 s). */
  readonly graceMs?: number;
  /** Detached + pid file under `.services/pids/` (shared instances for `services:up`). */
  readonly shared?: boolean;
  /** Text the command line must contain to count as ours (default: the launch command). */
  readonly match?: string;
}

/**
 * A service process we started: implements {@linkcode ServiceInstance} (stop, kill, restart on
 * the same ports and data). Use {@linkcode ManagedProcess.start} once after construction.
 */
export class ManagedProcess implements ServiceInstance {
  /** Instance name. */
  readonly name: string;
  /** Where it listens. */
  readonly endpoint: ServiceEndpoint;
  /** Its log file. */
  readonly logFile: string;
  #opts: ManagedProcessOptions;
  #proc: SpawnedProcess | undefined;

  /** Prepares the instance; nothing runs until {@linkcode ManagedProcess.start}. */
  constructor(opts: ManagedProcessOptions) {
    this.name = opts.name;
    this.endpoint = opts.endpoint;
    this.logFile = logFileFor(opts.name);
    this.#opts = opts;
  }

  /** PID while running. */
  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /** Starts the process and resolves once the probe says ready (throws with the log path). */
  async start(): Promise<void> {
    if (this.#proc) return;
    const spec = await this.#opts.launch();
    const shared = this.#opts.shared ?? false;
    const proc = spawnService({ ...spec, logFile: this.logFile, detached: shared });
    this.#proc = proc;
    const record: PidRecord = {
      name: this.name,
      pid: proc.pid,
      match: this.#opts.match ?? spec.cmd.replace(/^.*\//, ""),
      command: [spec.cmd, ...spec.args],
      logFile: this.logFile,
      endpoint: this.endpoint,
      startedAt: new Date().toISOString(),
    };
    if (shared) writePidFile(record);
    else writeInstanceRecord({ ...record, owner: Deno.pid });
    try {
      await waitReady(this.#opts.probe, {
        name: this.name,
        logFile: this.logFile,
        timeoutMs: this.#opts.readyTimeoutMs ?? 30_000,
        exited: proc.status,
      });
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  /** Graceful stop (SIGTERM, SIGKILL after the grace period). Idempotent. */
  async stop(): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    await stopPid(proc.pid, { status: proc.status, graceMs: this.#opts.graceMs ?? 10_000 });
    this.#proc = undefined;
    if (this.#opts.shared) removePidFile(this.name);
    else removeInstanceRecord(this.name);
  }

  /** Hard kill (SIGKILL). Idempotent. */
  async kill(): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    await killPid(proc.pid, { status: proc.status });
    this.#proc = undefined;
    if (this.#opts.shared) removePidFile(this.name);
    else removeInstanceRecord(this.name);
  }

  /** Stops (if running) and starts again on the same ports and data; resolves once ready. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

/** Starts a {@linkcode ManagedProcess} and returns it once ready. */
export async function startManaged(opts: ManagedProcessOptions): Promise<ManagedProcess> {
  const instance = new ManagedProcess(opts);
  await instance.start();
  return instance;
}

/**
 * For `ensure…` functions: when the pid file of a shared instance names a live process of ours
 * that does not answer yet (another caller is starting it), waits for it. Returns `true` when it
 * became ready; otherwise stops that process (by pid file) and returns `false`, so the caller
 * starts a fresh one.
 */
export async function awaitStartingShared(
  name: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const record = readPidFile(name);
  if (record === undefined || !isRecordAlive(record)) return false;
  const ready = await waitReady(probe, {
    name,
    logFile: record.logFile,
    pid: record.pid,
    timeoutMs,
  }).then(() => true, () => false);
  if (!ready) await stopByPidFile(name);
  return ready;
}

/** How {@linkcode ensureShared} reaches a shared service. */
export interface SharedServiceStarter {
  /** Pid-file name of the shared instance, e.g. `kafka`. */
  readonly name: string;
  /** Resolves `true` when the service answers its protocol. */
  readonly isReady: () => Promise<boolean>;
  /** Builds the detached process of the shared instance (not yet started). */
  readonly create: () => ManagedProcess;
  /** How long a start may take. */
  readonly readyTimeoutMs: number;
  /** Grace period of a stop before SIGKILL. */
  readonly graceMs: number;
}

/**
 * Makes sure a shared service answers: reuses a running one (`undefined`), waits for one of ours
 * that another caller is still starting, and otherwise starts it detached and returns it.
 */
export async function ensureShared(
  starter: SharedServiceStarter,
): Promise<ServiceInstance | undefined> {
  if (await starter.isReady()) return undefined;
  const record = readPidFile(starter.name);
  if (record !== undefined && isRecordAlive(record)) {
    const ready = await waitReady(starter.isReady, {
      name: starter.name,
      logFile: record.logFile,
      pid: record.pid,
      timeoutMs: starter.readyTimeoutMs,
    }).then(() => true, () => false);
    if (ready) return undefined;
    await stopByPidFile(starter.name, starter.graceMs);
  }
  const instance = starter.create();
  await instance.start();
  return instance;
}
