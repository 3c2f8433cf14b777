/**
 * Registers the multi-process socket.io tests of one event backend: every cluster operation on
 * three nodes (Deno, Node, Deno), and recovery across nodes on reliable backends.
 */

import { type ServiceAvailability, serviceTest } from "../_services.ts";
import { type ProcessCluster, startCluster } from "./_cluster.ts";
import { clusterSteps, recoverySteps } from "./_suite.ts";

const HEARTBEAT_TIMEOUT_MS = 2000;

/** What one backend's tests need. */
export interface BackendTestOptions {
  /** Label in test names, e.g. `Redis Streams`. */
  readonly label: string;
  /** Services the backend needs. */
  readonly services: ServiceAvailability | readonly ServiceAvailability[];
  /** Backend variables for a fresh prefix. */
  readonly env: (prefix: string) => Record<string, string>;
  /**
   * Whether the backend is reliable: recovery uses its offsets. At-most-once backends are tested
   * for recovery too (best effort: the adapter's own ids stand in for offsets).
   */
  readonly reliable: boolean;
  /** Whether every node's storage is the same (Redis, Hazelcast): session stores survive a move. */
  readonly sharedStorage?: boolean;
  /** Removes what a prefix left on the backend (optional). */
  readonly cleanup?: (prefix: string) => Promise<void>;
}

function randomPrefix(): string {
  return `sio-test-${crypto.randomUUID().slice(0, 8)}`;
}

async function withCluster(
  options: BackendTestOptions,
  recovery: boolean,
  run: (cluster: ProcessCluster) => Promise<void>,
): Promise<void> {
  const prefix = randomPrefix();
  const cluster = await startCluster({
    env: options.env(prefix),
    recovery,
    heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
  });
  let failed = true;
  try {
    await run(cluster);
    failed = false;
  } finally {
    await cluster.close();
    if (failed) console.error(cluster.logs());
    await options.cleanup?.(prefix).catch(() => {});
  }
}

/** Registers the tests of one backend. */
export function backendTests(options: BackendTestOptions): void {
  serviceTest(
    options.services,
    `socket.io over ${options.label}: every cluster operation across Deno and Node servers`,
    (t) =>
      withCluster(
        options,
        false,
        (cluster) => clusterSteps(t, cluster.nodes, { heartbeatTimeout: HEARTBEAT_TIMEOUT_MS }),
      ),
  );
  {
    serviceTest(
      options.services,
      `socket.io over ${options.label}: connection state recovery on a different node${
        options.reliable ? "" : " (best effort, ids instead of offsets)"
      }`,
      (t) =>
        withCluster(options, true, async (cluster) => {
          const [deno0, node1, deno2] = cluster.nodes as [
            (typeof cluster.nodes)[0],
            (typeof cluster.nodes)[0],
            (typeof cluster.nodes)[0],
          ];
          await recoverySteps(t, deno0, node1, deno2, {
            sharedStorage: options.sharedStorage === true,
          });
        }),
    );
  }
}
