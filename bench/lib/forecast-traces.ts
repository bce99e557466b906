// SPDX-License-Identifier: Apache-2.0
/**
 * Fill traces for judging a time-to-full forecast: a map's fill, one sample per collection,
 * with the truth at every step — whether the map is growing now, and when it would be full
 * if it kept its current pace. Synthetic traces are built from a seed (the same seed gives the
 * same trace); the real-map traces (bench/scenarios/forecast.ts) carry the same truth.
 *
 * Truth is the regime the trace is in. While a regime grows at rate r, the true time to full is
 * (capacity - true fill) / r; an accelerating trace's is the time it really takes to fill. A
 * plateau, a noisy flat line and a sawtooth whose peaks do not rise never fill: no forecast is
 * right there. The first RECENT collections of a regime are a grace period, scored for
 * neither: the rules allow that long to notice a change (a regime's first sample is where the
 * previous pace ends).
 */
import { RECENT } from '../../src/pressure/forecast';
import { seededRandom } from './stats';

export type Expect = 'grow' | 'flat' | 'grace';

export interface TraceStep {
  /** ms */
  t: number;
  /** The fill as observed (noise and rounding included). */
  v: number;
  expect: Expect;
  /** The true seconds to full, when growing; null otherwise. */
  ttfS: number | null;
}

export interface Trace {
  name: string;
  /** What the trace is, for the table. */
  about: string;
  capacity: number;
  intervalMs: number;
  windowMs: number;
  steps: TraceStep[];
}

/** The defaults of the agent: one collection every 10 s, a 2-minute forecast window. */
export const SYNTHETIC = { capacity: 10_000, intervalMs: 10_000, windowMs: 120_000 } as const;

/** A regime of a synthetic trace: its true fill at a time since it started, and its pace. */
interface Regime {
  /** Collections it lasts; Infinity: until full. */
  steps: number;
  /** The true fill `s` seconds into the regime, given the fill it started at. */
  fill(start: number, s: number): number;
  /** The true seconds to full from fill v at s seconds in; null when it never fills. */
  ttf(v: number, s: number): number | null;
}

const linear = (rate: number, steps = Infinity): Regime => ({
  steps,
  fill: (v0, s) => v0 + rate * s,
  ttf: (v) => (rate > 0 ? (SYNTHETIC.capacity - v) / rate : null),
});

const flat = (steps: number): Regime => ({ steps, fill: (v0) => v0, ttf: () => null });

/** Normal noise of standard deviation sd (Box–Muller over the seeded PRNG). */
function gaussian(random: () => number, sd: number): () => number {
  return () => sd * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Runs regimes one after another from `start`; stops when the true fill reaches capacity. */
function build(name: string, about: string, start: number, regimes: Regime[], noise: () => number): Trace {
  const { capacity, intervalMs, windowMs } = SYNTHETIC;
  const steps: TraceStep[] = [];
  let v0 = start;
  let i = 0;
  outer: for (const r of regimes) {
    for (let k = 0; k < r.steps; k++, i++) {
      const s = (k * intervalMs) / 1000;
      const truth = Math.min(capacity, r.fill(v0, s));
      const observed = Math.max(0, Math.min(capacity, Math.round(truth + noise())));
      const ttf = r.ttf(truth, s);
      // A regime's first RECENT collections: a pace that changed at its start may still show.
      const grace = k < RECENT;
      const growing = ttf !== null;
      steps.push({ t: i * intervalMs, v: observed, expect: grace ? 'grace' : growing ? 'grow' : 'flat', ttfS: growing ? ttf : null });
      if (truth >= capacity) break outer;
    }
    v0 = Math.min(capacity, r.fill(v0, (r.steps * intervalMs) / 1000));
  }
  return { name, about, capacity, intervalMs, windowMs, steps };
}

const MIN = 6; // collections a minute at 10 s

/** The synthetic traces, each built from `seed`. */
export function syntheticTraces(seed: number): Trace[] {
  const random = seededRandom(seed);
  const between = (a: number, b: number) => a + (b - a) * random();
  const churn = gaussian(random, 10); // 0.1 % of the capacity: entries come and go
  const out: Trace[] = [];

  out.push(build('linear', 'grows 4–12 entries/s from 10 % to full', 1000, [linear(between(4, 12))], churn));

  out.push(build('grow → plateau', 'grows 5 min, then holds for 10 min', 1000, [linear(between(8, 14), 5 * MIN), flat(10 * MIN)], churn));

  out.push(
    build('grow → plateau → grow', 'grows 3 min, holds 3 min, grows again (another pace) to full', 1000, [linear(between(8, 14), 3 * MIN), flat(3 * MIN), linear(between(6, 12))], churn),
  );

  {
    // Conntrack-style garbage collection: a steady climb, cut back to the same floor every
    // period; the peaks do not rise, so the map never fills.
    const base = 4000;
    const period = Math.round(between(5, 7)) * 10; // s
    const rise = between(1200, 1800);
    const saw: Regime = { steps: 20 * MIN, fill: (_v0, s) => base + (rise * (s % period)) / (period - 10), ttf: () => null };
    out.push(build('sawtooth', 'climbs 12–18 % and is garbage-collected back to 40 % every 50–70 s; never fills', base, [saw], churn));
  }

  {
    const sd = between(80, 120); // about 1 % of the capacity
    out.push(build('noisy flat', 'holds at 50 %, noise of 0.8–1.2 % of the capacity', 5000, [flat(20 * MIN)], gaussian(random, sd)));
  }

  {
    const doubling = between(150, 210); // s
    const start = 500;
    const acc: Regime = {
      steps: Infinity,
      fill: (v0, s) => v0 * 2 ** (s / doubling),
      ttf: (v) => doubling * Math.log2(SYNTHETIC.capacity / v),
    };
    out.push(build('accelerating', 'doubles every 150–210 s from 5 % to full', start, [acc], churn));
  }
  return out;
}
