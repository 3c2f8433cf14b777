/**
 * Conformance suite of the {@linkcode SharedMap} contract. A storage backend's test file calls
 * {@linkcode sharedMapSuite} with a maker of factories.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { StoreFactory, StoreValue } from "../../mod.ts";
import { ROUND_TRIP_VALUES } from "./store_suite.ts";

/** How a backend plugs into the shared-map suite. */
export interface SharedMapSuiteOptions {
  /** Backend label used in test names. */
  readonly name: string;
  /** Skip every test (the backend's service is absent). */
  readonly ignore?: boolean;
  /** Creates a fresh factory on the backend (with its own random prefix). */
  createFactory(): StoreFactory | Promise<StoreFactory>;
  /**
   * Creates a second factory on the same backend data (same prefix), as a second node would.
   * Omitted for backends whose data lives in one process only (memory).
   */
  createPeerFactory?(first: StoreFactory): StoreFactory | Promise<StoreFactory>;
}

function mapName(label: string): string {
  return `${label}-${crypto.randomUUID()}`;
}

/** Registers the shared-map conformance tests for one backend. */
export function sharedMapSuite(options: SharedMapSuiteOptions): void {
  const test = (name: string, body: (factory: StoreFactory) => Promise<void>) =>
    Deno.test({
      name: `${options.name}: ${name}`,
      ignore: options.ignore ?? false,
      async fn() {
        const factory = await options.createFactory();
        try {
          await body(factory);
        } finally {
          await factory.shutdown();
        }
      },
    });

  test("SharedMap get/set/has/delete/size/keys/entries/clear", async (factory) => {
    const map = factory.createMap(mapName("basic"));
    assert.equal(await map.size(), 0);
    assert.equal(await map.get("a"), undefined);
    await map.set("a", 1);
    await map.set("b:c", { nested: [true] });
    await map.set("*", new Uint8Array([1, 2]));
    assert.equal(await map.has("a"), true);
    assert.equal(await map.size(), 3);
    assert.deepStrictEqual((await map.keys()).sort(), ["*", "a", "b:c"]);
    assert.deepStrictEqual(
      (await map.entries()).sort(([x], [y]) => x.localeCompare(y)),
      [["*", new Uint8Array([1, 2])], ["a", 1], ["b:c", { nested: [true] }]],
    );
    assert.equal(await map.delete("a"), true);
    assert.equal(await map.delete("a"), false);
    assert.equal(await map.size(), 2);
    await map.clear();
    assert.equal(await map.size(), 0);
    assert.deepStrictEqual(await map.keys(), []);
  });

  test("SharedMap.clear() takes what was issued before it and nothing issued after", async (factory) => {
    const map = factory.createMap(mapName("clear-order"));
    await map.set("warm", 0); // the connection is up: nothing below waits for it
    const calls: Promise<unknown>[] = [];
    for (let index = 0; index < 50; index++) {
      calls.push(map.set(`k${index}`, index));
      if (index === 25) calls.push(map.clear());
    }
    await Promise.all(calls);
    assert.deepStrictEqual(
      (await map.keys()).sort(),
      Array.from({ length: 24 }, (_, index) => `k${index + 26}`).sort(),
    );
    await map.clear();
  });

  test("SharedMap round-trips every value kind and rejects unstorable ones", async (factory) => {
    const map = factory.createMap(mapName("values"));
    for (const [label, value] of Object.entries(ROUND_TRIP_VALUES)) await map.set(label, value);
    for (const [label, value] of Object.entries(ROUND_TRIP_VALUES)) {
      assert.deepStrictEqual(await map.get(label), value, label);
    }
    await assert.rejects(map.set("bad", null as unknown as StoreValue), TypeError);
    await assert.rejects(map.set("bad", (() => 1) as unknown as StoreValue), /"bad"/);
    assert.equal(await map.has("bad"), false);
    await map.clear();
  });

  test("createMap returns one instance per name; names and keys are validated", async (factory) => {
    const name = mapName("same");
    assert.equal(factory.createMap(name), factory.createMap(name));
    assert.equal(factory.createMap(name).name, name);
    assert.throws(() => factory.createMap(""), TypeError);
    assert.throws(() => factory.createMap("x".repeat(5000)), RangeError);
    await assert.rejects(factory.createMap(name).get(""), TypeError);
  });

  test("maps with hostile names are isolated from each other and from sessions", async (factory) => {
    const base = mapName("iso");
    const names = [base, `${base}:x`, `${base}*`, `${base}{t}`];
    await Promise.all(names.map((name, index) => factory.createMap(name).set("k", index)));
    const session = factory.createStore(base);
    await session.set("k", "session");
    const values = await Promise.all(names.map((name) => factory.createMap(name).get("k")));
    assert.deepStrictEqual(values, [0, 1, 2, 3]);
    assert.equal(await session.get("k"), "session");
    await factory.createMap(names[0]!).clear();
    assert.equal(await factory.createMap(names[1]!).get("k"), 1);
    assert.equal(await session.get("k"), "session");
    await Promise.all(names.map((name) => factory.createMap(name).clear()));
    await session.destroy();
  });

  if (options.createPeerFactory) {
    const makePeer = options.createPeerFactory;
    test("a map is visible to every node on the same backend", async (factory) => {
      const peer = await makePeer(factory);
      try {
        const name = mapName("peer");
        await factory.createMap(name).set("shared", { from: "first" });
        assert.deepStrictEqual(await peer.createMap(name).get("shared"), { from: "first" });
        await peer.createMap(name).set("back", 2);
        assert.equal(await factory.createMap(name).get("back"), 2);
        const sessionId = mapName("session");
        await factory.createStore(sessionId).set("who", "first");
        assert.equal(await peer.createStore(sessionId).get("who"), "first");
        await peer.createStore(sessionId).destroy();
        assert.equal(await factory.createStore(sessionId).get("who"), undefined);
        await factory.createMap(name).clear();
      } finally {
        await peer.shutdown();
      }
    });
  }
}
