/** The statistics the benchmarks report (`scripts/bench/_stats.ts`). */

import assert from "node:assert/strict";
import {
  formatEstimate,
  inTurns,
  median,
  medianInterval,
  pairedRatios,
  quantile,
} from "../../scripts/bench/_stats.ts";

Deno.test("median and quantile of unsorted samples", () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  const samples = Array.from({ length: 100 }, (_, index) => 100 - index);
  assert.equal(quantile(samples, 0.5), 51);
  assert.equal(quantile(samples, 0.99), 100);
  assert.equal(quantile(samples, 1), 100);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

Deno.test("paired ratios divide each round's ours by the same round's raw", () => {
  assert.deepEqual(pairedRatios([100, 200, 50], [90, 220, 25]), [0.9, 1.1, 0.5]);
  assert.throws(() => pairedRatios([1, 2], [1]), RangeError);
});

Deno.test("a drift that slows both sides of a round leaves the per-round ratios unmoved", () => {
  // The machine runs at full speed, then at half speed: every round, ours does 0.9 of raw.
  const raw = [200, 210, 205, 100, 105, 102];
  const ours = raw.map((value) => value * 0.9);
  const estimate = medianInterval(pairedRatios(raw, ours));
  assert.ok(Math.abs(estimate.median - 0.9) < 1e-9);
  assert.ok(Math.abs(estimate.low - 0.9) < 1e-9 && Math.abs(estimate.high - 0.9) < 1e-9);
  assert.equal(formatEstimate(estimate), "0.90 [0.90–0.90]");
});

Deno.test("the bootstrap interval holds the median, widens with the spread, and repeats", () => {
  const tight = [0.9, 0.91, 0.89, 0.9, 0.92, 0.88, 0.9, 0.91, 0.89, 0.9];
  const loose = [0.7, 1.1, 0.8, 1.0, 0.9, 0.75, 1.05, 0.85, 0.95, 0.9];
  const a = medianInterval(tight);
  const b = medianInterval(loose);
  for (const estimate of [a, b]) {
    assert.ok(estimate.low <= estimate.median && estimate.median <= estimate.high);
  }
  assert.ok(b.high - b.low > a.high - a.low);
  assert.deepEqual(medianInterval(loose), b);
});

Deno.test("sides run in turns: as given in even rounds, reversed in odd ones", () => {
  const sides = ["raw", "promised", "ours"];
  assert.deepEqual(inTurns(0, sides), ["raw", "promised", "ours"]);
  assert.deepEqual(inTurns(1, sides), ["ours", "promised", "raw"]);
  assert.deepEqual(inTurns(2, sides), sides);
  assert.deepEqual(sides, ["raw", "promised", "ours"]);
});
