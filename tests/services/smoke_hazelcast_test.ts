/**
 * Smoke tests of the Hazelcast harness with the raw `hazelcast-client`: the shared member serves
 * a map and a reliable topic, and a second member joins its cluster, takes over partitions, and
 * can be killed without losing map entries (one backup per map).
 *
 * @module
 */

import assert from "node:assert/strict";
import { Client } from "hazelcast-client";
import { isPidAlive } from "../../scripts/services/_process.ts";
import {
  HAZELCAST_CLUSTER_NAME,
  HAZELCAST_PORT,
  startHazelcastMember,
} from "../../scripts/services/hazelcast.ts";
import { requireService, serviceTest } from "../_services.ts";

const hazelcast = await requireService("hazelcast");

type HazelcastClient = Awaited<ReturnType<typeof Client.newHazelcastClient>>;

function connect(): Promise<HazelcastClient> {
  return Client.newHazelcastClient({
    clusterName: HAZELCAST_CLUSTER_NAME,
    network: { clusterMembers: [`${hazelcast.endpoint.host}:${hazelcast.endpoint.port}`] },
    connectionStrategy: { connectionRetry: { clusterConnectTimeoutMillis: 5_000 } },
    properties: { "hazelcast.logging.level": "OFF" },
  });
}

/** Polls `check` every 100 ms until it holds; throws naming `what` after `ms`. */
async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

serviceTest(hazelcast, "hazelcast smoke: map put/get and a reliable topic round trip", async () => {
  assert.equal(hazelcast.endpoint.port, HAZELCAST_PORT);
  const client = await connect();
  try {
    const name = `smoke-hz-${crypto.randomUUID()}`;
    const map = await client.getMap<string, string>(name);
    assert.equal(await map.put("k", "v1"), null);
    assert.equal(await map.put("k", "v2"), "v1");
    assert.equal(await map.get("k"), "v2");
    assert.equal(await map.size(), 1);
    await map.destroy();

    const topic = await client.getReliableTopic<string>(name);
    const value = `hello hazelcast ${crypto.randomUUID()}`;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const received = new Promise<string>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error("no reliable-topic message within 10 s")), 10_000);
      const id = topic.addMessageListener((message) => {
        topic.removeMessageListener(id);
        resolve(message.messageObject);
      });
    });
    try {
      await topic.publish(value);
      assert.equal(await received, value);
    } finally {
      clearTimeout(timer);
    }
    await topic.destroy();
  } finally {
    await client.shutdown();
  }
});

serviceTest(
  hazelcast,
  "hazelcast failure instance: a second member joins, takes partitions, is killed, no entry lost",
  async () => {
    const member = await startHazelcastMember();
    let client: HazelcastClient | undefined;
    try {
      assert.ok(member.endpoint.port >= 16400, "extra instances use ports from 16400 up");
      client = await connect();
      const cluster = client.getCluster();
      await until("a cluster of 2 members", () => cluster.getMembers().length === 2);
      const ports = cluster.getMembers().map((m) => m.address.port).sort();
      assert.deepEqual(ports, [HAZELCAST_PORT, member.endpoint.port].sort());

      // Wait until the second member owns partitions, so the kill below really removes owners.
      const second = cluster.getMembers().find((m) => m.address.port === member.endpoint.port);
      assert.ok(second);
      const partitions = client.getPartitionService();
      const ownedBySecond = (): number => {
        let owned = 0;
        for (let p = 0; p < partitions.getPartitionCount(); p++) {
          if (partitions.getPartitionOwner(p)?.toString() === second.uuid.toString()) owned++;
        }
        return owned;
      };
      await until("partitions owned by the second member", () => ownedBySecond() > 0);

      const map = await client.getMap<string, number>(`failover-${crypto.randomUUID()}`);
      const entries = 200;
      for (let i = 0; i < entries; i++) await map.put(`k${i}`, i);
      const onSecond = Array.from({ length: entries }, (_, i) => partitions.getPartitionId(`k${i}`))
        .filter((p) => partitions.getPartitionOwner(p)?.toString() === second.uuid.toString());
      assert.ok(onSecond.length > 0, "some entries live on the member that is killed");

      const pid = member.pid;
      assert.notEqual(pid, undefined);
      await member.kill();
      assert.equal(member.pid, undefined);
      assert.equal(isPidAlive(pid!), false, "kill() ended the member");
      await until("the cluster back to 1 member", () => cluster.getMembers().length === 1);
      assert.equal(cluster.getMembers()[0]?.address.port, HAZELCAST_PORT);

      // Backups (backup-count 1) on the shared member take over: every entry is still there.
      assert.equal(await map.size(), entries);
      for (let i = 0; i < entries; i += 13) assert.equal(await map.get(`k${i}`), i);
      await map.destroy();
    } finally {
      await client?.shutdown();
      await member.stop();
    }
  },
);
