/**
 * Picks the store factory of a socket.io server from environment variables: the memory default
 * when none is set, a cluster on the first backend whose address is given otherwise.
 *
 * | variable | meaning |
 * |---|---|
 * | `SOCKETIO4TS_REDIS_URL` | Redis (e.g. `redis://127.0.0.1:6379`): Redis storage + Redis events |
 * | `SOCKETIO4TS_REDIS_EVENTS` | `streams` (default, at-least-once, recovery) or `pubsub` |
 * | `SOCKETIO4TS_UPSTASH_URL` | Redis over REST (`@upstash/redis`, with `SOCKETIO4TS_UPSTASH_TOKEN`): Redis storage + Redis Streams events (polling) |
 * | `SOCKETIO4TS_NATS_URL` | NATS (`nats://host:port` over TCP, `ws://host:port` over WebSocket) |
 * | `SOCKETIO4TS_NATS_EVENTS` | `core` (default) or `jetstream` |
 * | `SOCKETIO4TS_KAFKA_BROKERS` | Kafka brokers, comma-separated (e.g. `127.0.0.1:19092`) |
 * | `SOCKETIO4TS_HAZELCAST_ADDRESS` | Hazelcast member (e.g. `127.0.0.1:15701`): storage + events |
 * | `SOCKETIO4TS_HAZELCAST_CLUSTER` | Hazelcast cluster name (`dev` by default) |
 * | `SOCKETIO4TS_HAZELCAST_EVENTS` | `reliable` (default, reliable topic) or `pubsub` (fire-and-forget) |
 * | `SOCKETIO4TS_PREFIX` | channel/key prefix shared by the cluster (`socketio4ts-chat`) |
 * | `SOCKETIO4TS_NODE_ID` | this node's id (random by default) |
 *
 * Events always travel in `SINGLE_CHANNEL` mode, so that a room change and a broadcast that
 * follows it arrive in order, and with `hybridCodec` on every backend (the default only on Redis
 * and memory): socket.io's coalesced broadcasts are mostly strings, which JSON reads and writes
 * faster than MessagePack does, and a node then drops its own messages without decoding them.
 */

import {
  EventStoreMode,
  hybridCodec,
  MemoryStoreFactory,
  PublishMode,
  type StoreFactory,
} from "../../mod.ts";

/** A store factory and what to release after it. */
export interface ChosenBackend {
  /** The factory to give to `createAdapter`. */
  readonly factory: StoreFactory;
  /** Human-readable description, e.g. `redis streams at redis://127.0.0.1:6379`. */
  readonly label: string;
  /** Shuts the factory down and closes the clients opened for it. */
  readonly close: () => Promise<void>;
}

/** Reads one environment variable (`undefined` when unset or empty). */
export type EnvReader = (name: string) => string | undefined;

/** Builds the store factory the environment asks for. */
export async function backendFromEnv(env: EnvReader): Promise<ChosenBackend> {
  const prefix = env("SOCKETIO4TS_PREFIX") || "socketio4ts-chat";
  const nodeId = env("SOCKETIO4TS_NODE_ID") || undefined;
  const common = {
    prefix,
    mode: EventStoreMode.SINGLE_CHANNEL,
    codec: hybridCodec,
    ...(nodeId ? { nodeId } : {}),
  };

  const redisUrl = env("SOCKETIO4TS_REDIS_URL");
  if (redisUrl) {
    const { createClient } = await import("redis");
    const redis = await import("../../src/redis/mod.ts");
    const client = createClient({ url: redisUrl });
    await client.connect();
    const kind = env("SOCKETIO4TS_REDIS_EVENTS") === "pubsub" ? "pubsub" : "streams";
    const eventStore = kind === "pubsub"
      ? new redis.RedisPubSubEventStore({ client, ...common })
      : new redis.RedisStreamEventStore({ client, ...common });
    const factory = new redis.RedisStoreFactory({ client, prefix, eventStore });
    return {
      factory,
      label: `redis ${kind} at ${redisUrl}`,
      close: async () => {
        await factory.shutdown();
        client.destroy();
      },
    };
  }

  const upstashUrl = env("SOCKETIO4TS_UPSTASH_URL");
  if (upstashUrl) {
    const { Redis } = await import("@upstash/redis");
    const redis = await import("../../src/redis/mod.ts");
    const client = new Redis({
      url: upstashUrl,
      token: env("SOCKETIO4TS_UPSTASH_TOKEN") ?? "",
      enableTelemetry: false,
    });
    const eventStore = new redis.RedisStreamEventStore({
      client,
      ...common,
      read: "poll",
      pollIntervalMs: 20,
    });
    const factory = new redis.RedisStoreFactory({ client, prefix, eventStore });
    return {
      factory,
      label: `redis streams over REST at ${upstashUrl}`,
      close: () => factory.shutdown(),
    };
  }

  const natsUrl = env("SOCKETIO4TS_NATS_URL");
  if (natsUrl) {
    const nats = await import("../../src/nats/mod.ts");
    const kind = env("SOCKETIO4TS_NATS_EVENTS") === "jetstream" ? "jetstream" : "core";
    // The connection serves this node alone: the server need not send it its own events back.
    const noEcho = kind === "core";
    const nc = await nats.checkedConnection(
      natsUrl.startsWith("ws")
        ? (await import("@nats-io/nats-core")).wsconnect({
          servers: natsUrl,
          noEcho,
          // Deno's global WebSocket keeps Nagle's algorithm on, which holds a node's writes about
          // 40 ms: open the socket with the `ws` package there (see webSocketFactory).
          ...("Deno" in globalThis
            ? { wsFactory: nats.webSocketFactory((await import("ws")).default) }
            : {}),
        })
        : (await import("@nats-io/transport-node")).connect({ servers: natsUrl, noEcho }),
    );
    const eventStore = kind === "jetstream"
      ? new nats.NatsJetStreamEventStore(nc, {
        ...common,
        retention: { maxAgeMs: 10 * 60 * 1000 },
        storage: "memory",
      })
      : new nats.NatsEventStore(nc, common);
    const factory = new MemoryStoreFactory(eventStore);
    return {
      factory,
      label: `nats ${kind} at ${natsUrl}`,
      close: async () => {
        await factory.shutdown();
        await nc.close();
      },
    };
  }

  const kafkaBrokers = env("SOCKETIO4TS_KAFKA_BROKERS");
  if (kafkaBrokers) {
    const kafka = await import("../../src/kafka/mod.ts");
    const eventStore = new kafka.KafkaEventStore({
      brokers: kafkaBrokers.split(","),
      ...common,
    });
    const factory = new MemoryStoreFactory(eventStore);
    return {
      factory,
      label: `kafka at ${kafkaBrokers}`,
      close: () => factory.shutdown(),
    };
  }

  const hazelcastAddress = env("SOCKETIO4TS_HAZELCAST_ADDRESS");
  if (hazelcastAddress) {
    const hazelcast = await import("../../src/hazelcast/mod.ts");
    const kind = env("SOCKETIO4TS_HAZELCAST_EVENTS") === "pubsub" ? "pubsub" : "reliable topic";
    const factory = new hazelcast.HazelcastStoreFactory({
      prefix,
      clientConfig: {
        clusterName: env("SOCKETIO4TS_HAZELCAST_CLUSTER") || "dev",
        network: { clusterMembers: [hazelcastAddress] },
        properties: { "hazelcast.logging.level": "OFF" },
      },
      eventStoreOptions: {
        ...common,
        publishMode: kind === "pubsub" ? PublishMode.UNRELIABLE : PublishMode.RELIABLE,
      },
    });
    return {
      factory,
      label: `hazelcast ${kind} at ${hazelcastAddress}`,
      close: () => factory.shutdown(),
    };
  }

  const factory = new MemoryStoreFactory();
  return { factory, label: "memory (single node)", close: () => factory.shutdown() };
}
