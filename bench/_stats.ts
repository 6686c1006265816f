/**
 * Timing helpers for the benchmarks: medians over repeated runs after a warm-up.
 *
 * @module
 */

/** The median of `runs` timings of `fn` in milliseconds, after `warmup` untimed calls. */
export function medianMs(fn: () => void, runs = 40, warmup = 5): number {
  for (let i = 0; i < warmup; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

/** The median of a list of numbers. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
