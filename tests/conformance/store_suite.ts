/**
 * Conformance suite of the {@linkcode Store} contract (DESIGN.md §3, "Store"). A storage
 * backend's test file calls {@linkcode storeSuite} with a maker of factories.
 *
 * @module
 */

import assert from "node:assert/strict";
import { StoreDestroyedError, type StoreFactory, type StoreValue } from "../../mod.ts";

/** How a backend plugs into the store suite. */
export interface StoreSuiteOptions {
  /** Backend label used in test names, e.g. `MemoryStore` or `RedisStore (TCP)`. */
  readonly name: string;
  /** Skip every test (the backend's service is absent). */
  readonly ignore?: boolean;
  /** Creates a fresh factory on the backend (with its own random prefix). */
  createFactory(): StoreFactory | Promise<StoreFactory>;
  /**
   * Counts what the backend really holds for a session (keys, fields, map entries), looking at
   * the backend itself rather than through the store. Used to prove `destroy()` removes it all.
   */
  backendEntryCount?(factory: StoreFactory, sessionId: string): Promise<number>;
}

/** Values that must round-trip exactly through every backend. */
export const ROUND_TRIP_VALUES: Record<string, StoreValue> = {
  "empty string": "",
  "unicode string": "héllo wörld ✓ 你好 🎉",
  "string that looks like JSON": '{"a":1}',
  "integer": 42,
  "negative float": -3.25,
  "large safe integer": Number.MAX_SAFE_INTEGER,
  "zero": 0,
  "true": true,
  "false": false,
  "empty object": {},
  "empty array": [],
  "nested object": { user: { name: "Ada", tags: ["a", "b"], age: 36, admin: false, none: null } },
  "array of mixed": [1, "two", { three: 3 }, [4], null, true],
  "bytes": new Uint8Array([0, 1, 2, 127, 128, 254, 255]),
  "empty bytes": new Uint8Array(0),
  "bytes nested in object": { avatar: new Uint8Array([9, 8, 7]), list: [new Uint8Array([1])] },
  "object with a $bin key": { $bin: "AAEC" },
  "object with $-prefixed keys": { $$x: 1, $y: { $bin: 2 } },
};

const HOSTILE_NAMES = [
  "a:b",
  "a",
  "*",
  "{tag}",
  "a b",
  "用户:🎉",
  "x".repeat(1024),
  "a:b:c",
  "\\n\n",
];

async function withFactory(
  options: StoreSuiteOptions,
  body: (factory: StoreFactory) => Promise<void>,
): Promise<void> {
  const factory = await options.createFactory();
  try {
    await body(factory);
  } finally {
    await factory.shutdown();
  }
}

function sid(label: string): string {
  return `${label}-${crypto.randomUUID()}`;
}

/** Registers the store conformance tests for one backend. */
export function storeSuite(options: StoreSuiteOptions): void {
  const test = (name: string, body: (factory: StoreFactory) => Promise<void>) =>
    Deno.test({
      name: `${options.name}: ${name}`,
      ignore: options.ignore ?? false,
      fn: () => withFactory(options, body),
    });

  test("get of a missing key resolves undefined, has resolves false", async (factory) => {
    const store = factory.createStore(sid("missing"));
    assert.equal(await store.get("nothing"), undefined);
    assert.equal(await store.has("nothing"), false);
  });

  test("set/get round-trips JSON-like values and Uint8Array exactly", async (factory) => {
    const store = factory.createStore(sid("values"));
    for (const [label, value] of Object.entries(ROUND_TRIP_VALUES)) {
      await store.set(label, value);
    }
    for (const [label, value] of Object.entries(ROUND_TRIP_VALUES)) {
      assert.deepStrictEqual(await store.get(label), value, label);
      assert.equal(await store.has(label), true, label);
    }
  });

  test("a value read back is a copy: mutating the original after set changes nothing", async (factory) => {
    const store = factory.createStore(sid("copy"));
    const value = { list: [1, 2], bytes: new Uint8Array([1, 2]) };
    await store.set("k", value);
    value.list.push(3);
    value.bytes[0] = 99;
    assert.deepStrictEqual(await store.get("k"), { list: [1, 2], bytes: new Uint8Array([1, 2]) });
  });

  test("set overwrites, del removes, del of a missing key is fine", async (factory) => {
    const store = factory.createStore(sid("del"));
    await store.set("k", 1);
    await store.set("k", "two");
    assert.equal(await store.get("k"), "two");
    await store.del("k");
    assert.equal(await store.has("k"), false);
    assert.equal(await store.get("k"), undefined);
    await store.del("k");
  });

  test("set(key, undefined | null) rejects with TypeError and writes nothing", async (factory) => {
    const store = factory.createStore(sid("nullish"));
    await store.set("kept", "old");
    for (const bad of [undefined, null]) {
      await assert.rejects(store.set("kept", bad as unknown as StoreValue), TypeError);
      await assert.rejects(store.set("fresh", bad as unknown as StoreValue), TypeError);
    }
    assert.equal(await store.get("kept"), "old");
    assert.equal(await store.has("fresh"), false);
  });

  test("unstorable values reject with a TypeError naming the key; nothing is written", async (factory) => {
    const store = factory.createStore(sid("unstorable"));
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    const unstorable: Record<string, unknown> = {
      fn: () => 1,
      symbol: Symbol("s"),
      bigint: 10n,
      cycle,
      nestedFn: { deep: [1, { f() {} }] },
      date: new Date(0),
      map: new Map(),
      nan: Number.NaN,
      infinity: { n: Infinity },
      undefinedInArray: [1, undefined],
    };
    await store.set("kept", "old");
    for (const [label, value] of Object.entries(unstorable)) {
      await assert.rejects(
        store.set("kept", value as StoreValue),
        (error: unknown) => error instanceof TypeError && error.message.includes('"kept"'),
        label,
      );
      await assert.rejects(store.set(`fresh-${label}`, value as StoreValue), TypeError, label);
      assert.equal(await store.has(`fresh-${label}`), false, label);
    }
    assert.equal(await store.get("kept"), "old");
  });

  test("invalid keys reject with TypeError or RangeError on every method", async (factory) => {
    const store = factory.createStore(sid("keys"));
    const bad: [unknown, ErrorConstructor][] = [
      ["", TypeError],
      [42, TypeError],
      [undefined, TypeError],
      ["x".repeat(5000), RangeError],
      ["lone \ud800 surrogate", TypeError],
    ];
    for (const [key, kind] of bad) {
      const k = key as string;
      await assert.rejects(store.set(k, 1), kind);
      await assert.rejects(store.get(k), kind);
      await assert.rejects(store.has(k), kind);
      await assert.rejects(store.del(k), kind);
    }
  });

  test("invalid session ids throw TypeError or RangeError from createStore", (factory) => {
    assert.throws(() => factory.createStore(""), TypeError);
    assert.throws(() => factory.createStore(7 as unknown as string), TypeError);
    assert.throws(() => factory.createStore("x".repeat(5000)), RangeError);
    assert.throws(() => factory.createStore("\udfff"), TypeError);
    return Promise.resolve();
  });

  test("hostile session ids and keys never read or clobber another session", async (factory) => {
    const tag = crypto.randomUUID().slice(0, 8);
    const pairs: [string, string][] = [];
    for (const session of HOSTILE_NAMES) {
      for (const key of HOSTILE_NAMES) pairs.push([`${tag}${session}`, key]);
    }
    // Every (session, key) pair gets a distinct value; a clash anywhere shows as a wrong read.
    await Promise.all(
      pairs.map(([session, key], index) => factory.createStore(session).set(key, index)),
    );
    const reads = await Promise.all(
      pairs.map(([session, key]) => factory.createStore(session).get(key)),
    );
    reads.forEach((value, index) =>
      assert.equal(value, index, `session ${pairs[index]![0]} key ${pairs[index]![1]}`)
    );
    // Destroying one session leaves every other intact.
    const [victim] = pairs[0]!;
    await factory.createStore(victim).destroy();
    const after = await Promise.all(
      pairs.map(([session, key]) => factory.createStore(session).get(key)),
    );
    after.forEach((value, index) =>
      assert.equal(
        value,
        pairs[index]![0] === victim ? undefined : index,
        `after destroy: ${pairs[index]![0]}`,
      )
    );
    await Promise.all(
      [...new Set(pairs.map(([session]) => session))].map((s) => factory.createStore(s).destroy()),
    );
  });

  test("createStore returns the live store of a session; concurrent sets all land", async (factory) => {
    const id = sid("same");
    const store = factory.createStore(id);
    assert.equal(factory.createStore(id), store);
    assert.equal(store.sessionId, id);
    await Promise.all(Array.from({ length: 50 }, (_, index) => store.set(`k${index}`, index)));
    for (let index = 0; index < 50; index++) assert.equal(await store.get(`k${index}`), index);
  });

  test("destroy() removes every key; later calls reject with StoreDestroyedError", async (factory) => {
    const id = sid("destroy");
    const store = factory.createStore(id);
    await Promise.all(["a", "b:c", "*", "{x}"].map((key) => store.set(key, key)));
    if (options.backendEntryCount) {
      assert.equal(await options.backendEntryCount(factory, id), 4, "backend holds the four keys");
    }
    await store.destroy();
    await store.destroy(); // idempotent
    if (options.backendEntryCount) {
      assert.equal(
        await options.backendEntryCount(factory, id),
        0,
        "backend holds nothing after destroy",
      );
    }
    for (
      const call of [
        () => store.get("a"),
        () => store.has("a"),
        () => store.del("a"),
        () => store.set("a", 1),
      ]
    ) {
      await assert.rejects(
        call(),
        (error: unknown) => error instanceof StoreDestroyedError && error.sessionId === id,
      );
    }
    const fresh = factory.createStore(id);
    assert.notEqual(fresh, store);
    assert.equal(await fresh.get("a"), undefined);
    await fresh.set("a", 1);
    assert.equal(await fresh.get("a"), 1);
    await fresh.destroy();
  });

  test("createStore while a destroy is pending returns a new store that the destroy leaves intact", async (factory) => {
    const id = sid("reuse");
    const old = factory.createStore(id);
    await old.set("old", "gone after destroy");
    // The session disconnects and its id comes back at once (Socket.IO connection-state recovery).
    const destroying = factory.onDisconnect(id);
    destroying.catch(() => {}); // awaited below; a failed assertion first must not leave it unhandled
    const fresh = factory.createStore(id);
    assert.notEqual(fresh, old, "a store being destroyed is not handed out again");
    // Issued before the old store's delete reached the backend: it must not be wiped by it.
    const writes = [fresh.set("new", 1), fresh.set("also", [2])];
    const read = fresh.get("old");
    await assert.rejects(old.get("old"), StoreDestroyedError);
    await Promise.all([destroying, ...writes]);
    assert.equal(await read, undefined, "the new store reads after the destroy");
    assert.equal(await fresh.get("new"), 1);
    assert.deepStrictEqual(await fresh.get("also"), [2]);
    assert.equal(await fresh.has("old"), false);
    assert.equal(factory.createStore(id), fresh, "the new store is the live one");
    if (options.backendEntryCount) assert.equal(await options.backendEntryCount(factory, id), 2);
    await fresh.destroy();
    if (options.backendEntryCount) assert.equal(await options.backendEntryCount(factory, id), 0);
  });

  test("destroy() waits for writes in flight, so none survives it", async (factory) => {
    const id = sid("inflight");
    const store = factory.createStore(id);
    const writes = Array.from({ length: 20 }, (_, index) => store.set(`k${index}`, index));
    await store.destroy();
    await Promise.allSettled(writes);
    const fresh = factory.createStore(id);
    for (let index = 0; index < 20; index++) assert.equal(await fresh.has(`k${index}`), false);
    if (options.backendEntryCount) assert.equal(await options.backendEntryCount(factory, id), 0);
  });
}
