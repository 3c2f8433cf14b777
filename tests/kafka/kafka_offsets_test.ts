/**
 * Positions of a Kafka reader, one `<partition>:<offset>` per partition: their parsing and
 * formatting (no broker needed).
 */

import assert from "node:assert/strict";
import { parsePositions } from "../../src/kafka/mod.ts";
import { formatPositions } from "../../src/kafka/offsets.ts";

Deno.test({
  name:
    "parsePositions reads one <partition>:<offset> per partition; -1 is before the first record",
  fn() {
    assert.deepStrictEqual(parsePositions("0:3"), [{ partition: 0, offset: 3n }]);
    assert.deepStrictEqual(parsePositions("1:5,0:-1"), [
      { partition: 1, offset: 5n },
      { partition: 0, offset: -1n },
    ]);
    const big = 2n ** 60n;
    assert.deepStrictEqual(parsePositions(`2:${big}`), [{ partition: 2, offset: big }]);
    for (
      const text of ["", "0", "0:1,", ",0:1", "0:1,,1:2", "0:1 ,1:2", "0:1;1:2", "0:-2", "-1:0"]
    ) {
      assert.throws(() => parsePositions(text), TypeError, text);
    }
    assert.throws(
      () => parsePositions("0:1,1:2,0:3"),
      (error: unknown) =>
        error instanceof TypeError && error.message.includes("partition 0 is named twice"),
    );
    assert.throws(() => parsePositions(42), TypeError);
  },
});

Deno.test({
  name: "formatPositions writes the partitions in order, leaving out those without an entry",
  fn() {
    assert.equal(formatPositions([3n, 5n]), "0:3,1:5");
    assert.equal(formatPositions([-1n, undefined, 7n]), "0:-1,2:7");
    assert.equal(formatPositions([]), "");
    const positions = [4n, -1n, 2n ** 60n];
    assert.equal(
      formatPositions(parsePositions(formatPositions(positions)).map((entry) => entry.offset)),
      formatPositions(positions),
    );
  },
});
