/**
 * Test gating for real services. A test module asks for a service at its top level:
 *
 * ```ts ignore
 * const redis = await requireService("redis");
 * serviceTest(redis, "redis: PING", async () => { ... });
 * ```
 *
 * When the service does not answer, its tests are skipped (ignored) and one `console.warn` per
 * service names it and the command that starts it. With `REQUIRE_SERVICES=1` an absent service
 * makes each of its tests FAIL with that message instead.
 *
 * When the env variable `SOCKETIO4TS_SERVICE_REPORT` names a file (set by `scripts/test.ts`),
 * every `requireService` call appends `<name> <available|absent>` to it, so the test command can
 * print which backends ran and which were skipped.
 *
 * @module
 */

import type {
  ServiceDefinition,
  ServiceEndpoint,
  ServiceName,
} from "../scripts/services/_types.ts";

/** Every shared service name. */
export const SERVICE_NAMES: readonly ServiceName[] = [
  "redis",
  "nats",
  "kafka",
  "hazelcast",
  "upstash",
];

/** `true` when `REQUIRE_SERVICES=1` (CI): an absent service fails instead of skipping. */
export const REQUIRE_SERVICES: boolean = readEnv("REQUIRE_SERVICES") === "1";

/** Env variable naming the report file written by {@linkcode requireService}. */
export const SERVICE_REPORT_ENV = "SOCKETIO4TS_SERVICE_REPORT";

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** Loads the definition of a service (lazily: only the modules of requested services load). */
export async function serviceDefinition(name: ServiceName): Promise<ServiceDefinition> {
  switch (name) {
    case "redis":
      return (await import("../scripts/services/redis.ts")).redisService;
    case "nats":
      return (await import("../scripts/services/nats.ts")).natsService;
    case "kafka":
      return (await import("../scripts/services/kafka.ts")).kafkaService;
    case "hazelcast":
      return (await import("../scripts/services/hazelcast.ts")).hazelcastService;
    case "upstash":
      return (await import("../scripts/services/upstash_rest.ts")).upstashService;
  }
}

/** What a test gets from {@linkcode requireService}. */
export interface ServiceAvailability {
  /** Service name. */
  readonly name: ServiceName;
  /** `true` when the service answered its protocol probe. */
  readonly available: boolean;
  /** Where the shared instance listens. */
  readonly endpoint: ServiceEndpoint;
  /** Command that starts it. */
  readonly startHint: string;
  /** Why its tests are skipped (`undefined` when available). */
  readonly skipReason: string | undefined;
}

function address(endpoint: ServiceEndpoint): string {
  return `${endpoint.host}:${endpoint.port}`;
}

/**
 * Env variable through which a parent process hands down probe results it made itself, as
 * `redis=1,nats=0,...`. `scripts/test_npm.ts` sets it for the npm build's test run on Node and
 * Bun, whose `Deno` shim cannot run the harness's socket-level probes.
 */
export const PROBED_ENV = "SOCKETIO4TS_PROBED";

function probedByParent(name: ServiceName): boolean | undefined {
  const entry = readEnv(PROBED_ENV)?.split(",").find((item) => item.startsWith(`${name}=`));
  return entry === undefined ? undefined : entry.endsWith("=1");
}

/** Encodes probe results for {@linkcode PROBED_ENV}. */
export function encodeProbed(probes: readonly ServiceAvailability[]): string {
  return probes.map((probe) => `${probe.name}=${probe.available ? 1 : 0}`).join(",");
}

/** Probes one service (no caching, no warning). */
export async function probeService(name: ServiceName): Promise<ServiceAvailability> {
  const definition = await serviceDefinition(name);
  const available = probedByParent(name) ??
    await definition.isReady().catch(() => false);
  return {
    name,
    available,
    endpoint: definition.endpoint,
    startHint: definition.startHint,
    skipReason: available
      ? undefined
      : `${name} is not answering at ${
        address(definition.endpoint)
      }; start it with \`${definition.startHint}\` (or all services: \`deno task services:up\`)`,
  };
}

/** Probes several services in parallel (default: all five), in the given order. */
export function probeServices(
  names: readonly ServiceName[] = SERVICE_NAMES,
): Promise<ServiceAvailability[]> {
  return Promise.all(names.map(probeService));
}

const cache = new Map<ServiceName, Promise<ServiceAvailability>>();
const warned = new Set<ServiceName>();

/** Appends a line to the report file of `deno task test`, when there is one. */
function appendReport(line: string): void {
  const file = readEnv(SERVICE_REPORT_ENV);
  if (!file) return;
  try {
    Deno.writeTextFileSync(file, `${line}\n`, { append: true });
  } catch {
    // no write permission: the summary just lacks this line
  }
}

function report(availability: ServiceAvailability): void {
  appendReport(`${availability.name} ${availability.available ? "available" : "absent"}`);
}

/** First word of a report line about a tool (not a service) that some tests need. */
export const TOOL_REPORT_TAG = "tool";

/**
 * Tells `deno task test` whether a tool that some tests need (not a service, such as a browser)
 * is installed, so that its summary lists the tests skipped for want of it and how to install it.
 */
export function reportTool(name: string, available: boolean, installHint: string): void {
  appendReport(`${TOOL_REPORT_TAG} ${name} ${available ? "available" : "absent"} ${installHint}`);
}

/**
 * Asks for a shared service: probes it once per process and returns its availability. When it
 * is absent, warns once (naming the start command); with `REQUIRE_SERVICES=1` the warning says
 * that its tests will fail.
 */
export function requireService(name: ServiceName): Promise<ServiceAvailability> {
  let pending = cache.get(name);
  if (!pending) {
    pending = probeService(name).then((availability) => {
      report(availability);
      if (!availability.available && !warned.has(name)) {
        warned.add(name);
        console.warn(
          REQUIRE_SERVICES
            ? `REQUIRE_SERVICES=1 and ${availability.skipReason} — its tests will fail`
            : `skipping tests that need ${name}: ${availability.skipReason}`,
        );
      }
      return availability;
    });
    cache.set(name, pending);
  }
  return pending;
}

function asList(
  services: ServiceAvailability | readonly ServiceAvailability[],
): readonly ServiceAvailability[] {
  return Array.isArray(services) ? services : [services as ServiceAvailability];
}

/**
 * The `ignore` flag for `Deno.test`: `true` when a needed service is absent and
 * `REQUIRE_SERVICES` is not set.
 */
export function ignoreUnless(
  services: ServiceAvailability | readonly ServiceAvailability[],
): boolean {
  return !REQUIRE_SERVICES && asList(services).some((s) => !s.available);
}

/** The failure message for absent services (`undefined` when all are available). */
export function missingMessage(
  services: ServiceAvailability | readonly ServiceAvailability[],
): string | undefined {
  const missing = asList(services).filter((s) => !s.available);
  if (missing.length === 0) return undefined;
  return `REQUIRE_SERVICES=1 but ${missing.map((s) => s.skipReason).join("; ")}`;
}

/** Options of {@linkcode serviceTest} (any `Deno.test` option except name, fn and ignore). */
export type ServiceTestOptions = Omit<Deno.TestDefinition, "name" | "fn" | "ignore">;

/**
 * Registers a `Deno.test` that needs the given service(s): skipped (ignored) when one is absent,
 * or failing with a message naming the service and its start command under
 * `REQUIRE_SERVICES=1`.
 */
export function serviceTest(
  services: ServiceAvailability | readonly ServiceAvailability[],
  name: string,
  fn: (t: Deno.TestContext) => void | Promise<void>,
  options: ServiceTestOptions = {},
): void {
  const message = missingMessage(services);
  Deno.test({
    ...options,
    name,
    ignore: ignoreUnless(services),
    fn: message === undefined ? fn : () => {
      throw new Error(message);
    },
  });
}
