// SPDX-License-Identifier: Apache-2.0
/**
 * What one benchmark run measures and how often. `full` is the documented run (npm run
 * bench, under 15 minutes on the 2-core VM); `tiny` exercises every scenario in seconds, for
 * the harness's smoke test. Repetitions shrink with the map count so every scale costs a
 * similar wall time.
 */
import { DEFAULTS, type Tuning } from './agent-process';

/**
 * What RSS is most sensitive to: V8's young generation capped at 1 MiB semi-spaces, and glibc
 * kept from growing an arena per thread and from raising its mmap threshold (so the large
 * per-collection buffers go back to the kernel when freed). Deployment settings, not code.
 */
export const TUNED: Tuning = {
  label: 'tuned',
  nodeFlags: ['--max-semi-space-size=1'],
  env: { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' },
};

/** The defaults, also serving Prometheus to 20 concurrent scrapes every 10 s (the RSS target's case). */
export const SCRAPED: Tuning = { label: 'scraped', nodeFlags: [], env: {}, scrapes: 20 };

export interface Plan {
  mode: 'full' | 'tiny';
  seed: number;
  /** Benchmark maps to grow to, in order (the host's own maps come on top). */
  scales: number[];
  /** Repetitions (after warm-up) of the agent/floor comparison at a scale. */
  reps(maps: number): number;
  /** Repetitions of each peer at a scale (they are slow). */
  peerReps(maps: number): number;
  warmup: number;
  /** Count cost against map size: entries of one preallocated hash map. */
  count: { maxEntries: number; sizes: number[]; reps: number; warmupCycles: number; walkReps(entries: number): number; dumpUpTo: number };
  /** The running agent: at which scales (and with no benchmark maps; scales past the last of `scales` only here), which intervals and tunings (run side by side), window length. */
  running: { atMaps: number[]; intervalsS: number[]; windowS: number; baselineWindowS: number; tunings: Tuning[] };
  /** Scales at which the OTLP request size is measured. */
  exportAt: number[];
  /** Owner resolution, after the largest scale: its maps held by this many processes of this many fds each. */
  owners: { processes: number; fdsPerProcess: number; reps: number };
}

export function fullPlan(): Plan {
  return {
    mode: 'full',
    seed: 20240601,
    scales: [100, 1000, 10_000],
    reps: (n) => (n <= 100 ? 400 : n <= 1000 ? 200 : 60),
    peerReps: (n) => (n <= 100 ? 30 : n <= 1000 ? 15 : 5),
    warmup: 5,
    count: { maxEntries: 1_000_000, sizes: [0, 10_000, 1_000_000], reps: 500, warmupCycles: 300, walkReps: (e) => (e >= 1_000_000 ? 3 : 15), dumpUpTo: 10_000 },
    running: { atMaps: [1000, 10_000, 30_000], intervalsS: [1, 10], windowS: 60, baselineWindowS: 60, tunings: [DEFAULTS, TUNED, SCRAPED] },
    exportAt: [1000, 10_000],
    owners: { processes: 1000, fdsPerProcess: 50, reps: 20 },
  };
}

export function tinyPlan(): Plan {
  return {
    mode: 'tiny',
    seed: 20240601,
    scales: [20, 60],
    reps: () => 8,
    peerReps: () => 2,
    warmup: 1,
    count: { maxEntries: 2000, sizes: [0, 1000], reps: 8, warmupCycles: 4, walkReps: () => 2, dumpUpTo: 1000 },
    running: { atMaps: [60, 80], intervalsS: [1], windowS: 3, baselineWindowS: 3, tunings: [DEFAULTS, SCRAPED] },
    exportAt: [60],
    owners: { processes: 6, fdsPerProcess: 20, reps: 3 },
  };
}
