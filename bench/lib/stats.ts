// SPDX-License-Identifier: Apache-2.0
/**
 * Small statistics and timing helpers for the benchmarks: order statistics of repeated
 * samples, a seeded PRNG (runs are reproducible), a monotonic clock in milliseconds.
 */

/** The q-quantile (0..1) of samples, nearest-rank; NaN when empty. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** Median: the mean of the two middle samples when their count is even. */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** What every latency figure reports: median and p99 of the repetitions, and how many. */
export interface Latency {
  median: number;
  p99: number;
  n: number;
}

export function latency(samples: readonly number[]): Latency {
  return { median: median(samples), p99: quantile(samples, 0.99), n: samples.length };
}

/** Milliseconds, monotonic, sub-microsecond resolution. */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** mulberry32: a tiny seeded PRNG, so every run builds the same maps. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs the variants round-robin (A B C A B C ...) for `reps` rounds after `warmup` rounds,
 * so noise from the rest of the machine lands on every variant alike; returns the samples of
 * each, in milliseconds. Each variant resolves with its own measured duration.
 */
export async function interleave<K extends string>(
  variants: Record<K, () => Promise<number>>,
  reps: number,
  warmup: number,
): Promise<Record<K, number[]>> {
  const keys = Object.keys(variants) as K[];
  const out = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let r = 0; r < warmup + reps; r++) {
    for (const k of keys) {
      const ms = await variants[k]();
      if (r >= warmup) out[k].push(ms);
    }
  }
  return out;
}
