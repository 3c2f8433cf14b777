/**
 * The statistics the benchmarks report: quantiles of samples, and the ratio of two sides measured
 * in turns. A machine that is shared, or whose clock speed drifts, moves both sides of one round
 * together and the next round elsewhere: the ratio of the two sides' medians carries that drift,
 * the ratio within each round does not. So besides the ratio of medians the benchmarks give the
 * median of the per-round ratios, with a bootstrap interval that says how far that median can be
 * trusted.
 *
 * @module
 */

/** The value at quantile `q` (0–1) of `values`, nearest rank below; `NaN` when there is none. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** The median of `values` (the mean of the two middle ones for an even count); `NaN` if empty. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The order in which the sides run in round `round`: as given in even rounds, reversed in odd
 * ones, so that no side always runs after another.
 */
export function inTurns<T>(round: number, sides: readonly T[]): T[] {
  return round % 2 === 0 ? [...sides] : [...sides].reverse();
}

/**
 * `ours[i] / raw[i]` for each round `i` in which both sides were measured, the two results of a
 * round being next to each other in time.
 *
 * @throws {RangeError} when the sides have different numbers of rounds.
 */
export function pairedRatios(raw: readonly number[], ours: readonly number[]): number[] {
  if (raw.length !== ours.length) {
    throw new RangeError(`paired rounds need as many raw (${raw.length}) as ours (${ours.length})`);
  }
  return ours.map((value, round) => value / raw[round]!);
}

/** A median with its bootstrap interval. */
export interface MedianEstimate {
  readonly median: number;
  /** Lower end of the interval. */
  readonly low: number;
  /** Upper end of the interval. */
  readonly high: number;
}

/**
 * The median of `values` and its percentile-bootstrap interval at `confidence` (0.95 by
 * default): the medians of 2,000 resamples drawn with replacement, from a fixed seed so that the
 * same values always give the same interval.
 *
 * @example
 * ```ts
 * const { median, low, high } = medianInterval([0.91, 0.88, 0.95, 0.9, 0.93]);
 * console.log(`${median.toFixed(2)} [${low.toFixed(2)}, ${high.toFixed(2)}]`);
 * ```
 */
export function medianInterval(values: readonly number[], confidence = 0.95): MedianEstimate {
  const resamples = 2_000;
  const random = seededRandom(0x5eed);
  const medians: number[] = [];
  const sample = new Array<number>(values.length);
  for (let draw = 0; draw < resamples; draw++) {
    for (let index = 0; index < values.length; index++) {
      sample[index] = values[Math.floor(random() * values.length)]!;
    }
    medians.push(median(sample));
  }
  const tail = (1 - confidence) / 2;
  return {
    median: median(values),
    low: quantile(medians, tail),
    high: quantile(medians, 1 - tail),
  };
}

/** Formats a {@linkcode MedianEstimate} as `0.91 [0.88–0.94]`. */
export function formatEstimate(estimate: MedianEstimate, digits = 2): string {
  return `${estimate.median.toFixed(digits)} [${estimate.low.toFixed(digits)}–${
    estimate.high.toFixed(digits)
  }]`;
}

/** mulberry32: a small seeded generator of numbers in [0, 1), enough to resample with. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}
