/**
 * Shared shapes of the local-services harness (see DESIGN.md §5).
 *
 * Every service module in this folder (`redis.ts`, `nats.ts`, `kafka.ts`, `hazelcast.ts`,
 * `upstash_rest.ts`) exports a {@linkcode ServiceDefinition} for the shared instance the test
 * suite uses, and a `start…` function that launches an extra, private instance for failure
 * tests and returns a {@linkcode ServiceInstance}.
 *
 * @module
 */

/** Names of the shared services the harness manages. */
export type ServiceName = "redis" | "nats" | "kafka" | "hazelcast" | "upstash";

/** Where a service listens. */
export interface ServiceEndpoint {
  /** Loopback host, always `127.0.0.1` here. */
  readonly host: string;
  /** Main port (Redis protocol, NATS TCP, Kafka bootstrap, Hazelcast member, REST). */
  readonly port: number;
  /** Extra named addresses, e.g. `{ websocket: "ws://127.0.0.1:14280" }` for NATS. */
  readonly extra?: Readonly<Record<string, string>>;
}

/** A process of ours that a test or the CLI started and can stop, kill or restart. */
export interface ServiceInstance {
  /** Service name plus a distinguishing suffix, e.g. `redis-aof-16400`. */
  readonly name: string;
  /** Where the instance listens. */
  readonly endpoint: ServiceEndpoint;
  /** PID of the running process, `undefined` while stopped. */
  readonly pid: number | undefined;
  /** Graceful stop (SIGTERM, wait for exit). Idempotent. */
  stop(): Promise<void>;
  /** Hard kill (SIGKILL, wait for exit). Idempotent. */
  kill(): Promise<void>;
  /** Start again on the same ports with the same data directory; resolves once ready. */
  restart(): Promise<void>;
}

/** A shared service: how to probe it, start it and describe it. */
export interface ServiceDefinition {
  /** Shared service name. */
  readonly name: ServiceName;
  /** Where the shared instance listens. */
  readonly endpoint: ServiceEndpoint;
  /** Command a user runs to start it, shown in skip messages. */
  readonly startHint: string;
  /** Resolves `true` when the service answers its protocol (not just an open port). */
  isReady(): Promise<boolean>;
}
