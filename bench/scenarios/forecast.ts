// SPDX-License-Identifier: Apache-2.0
/**
 * How right the time-to-full forecast is, against Prometheus's predict_linear on the same
 * samples and window: the synthetic traces of bench/lib/forecast-traces.ts over many seeds,
 * and real hash maps filled by this process at a fixed and at a changing rate while the real
 * Collector reads them (one collection per interval, as the agent does).
 */
import { Collector } from '../../src/collector';
import { RECENT } from '../../src/pressure/forecast';
import { loadAddon } from '../../src/native';
import { better, emptyScore, type Figures, figures, type Method, METHODS, predictions, score, type Score } from '../lib/forecast-score';
import { syntheticTraces, type Trace, type TraceStep } from '../lib/forecast-traces';

export interface ForecastPlan {
  mode: 'full' | 'tiny';
  /** Synthetic traces are built from seeds seed .. seed + seeds - 1. */
  seed: number;
  seeds: number;
  /** Real maps: collection interval and forecast window (12 collections, as 10 s and 2 min). */
  real: { intervalMs: number; windowMs: number; capacity: number; timeScale: number };
}

export function forecastPlan(mode: 'full' | 'tiny'): ForecastPlan {
  return mode === 'full'
    ? { mode, seed: 1, seeds: 50, real: { intervalMs: 500, windowMs: 6000, capacity: 2000, timeScale: 1 } }
    : { mode, seed: 1, seeds: 2, real: { intervalMs: 250, windowMs: 3000, capacity: 500, timeScale: 0.25 } };
}

export interface TraceResult {
  name: string;
  about: string;
  kind: 'synthetic' | 'real';
  /** Traces pooled (seeds), collections in all, and the collection interval / window. */
  traces: number;
  collections: number;
  intervalMs: number;
  windowMs: number;
  figures: Record<Method, Figures>;
  /** Ours against predict_linear (see better() in bench/lib/forecast-score.ts). */
  oursBetter: boolean;
  oursWorseOn: string[];
  /** Real maps: the trace itself (time, fill, truth) and both forecasts at every collection. */
  steps?: Array<TraceStep & { ours: number | null; predictLinear: number | null }>;
}

export interface ForecastResults {
  meta: { mode: string; date: string; command: string; seeds: string; node: string; kernel: string; durationS: number };
  traces: TraceResult[];
}

function result(name: string, about: string, kind: TraceResult['kind'], traces: Trace[]): TraceResult {
  const scores = Object.fromEntries(METHODS.map((m) => [m, emptyScore()])) as Record<Method, Score>;
  for (const tr of traces) for (const m of METHODS) score(tr, predictions(tr, m), scores[m]);
  const f = Object.fromEntries(METHODS.map((m) => [m, figures(scores[m])])) as Record<Method, Figures>;
  const b = better(f.ours, f.predict_linear);
  return {
    name,
    about,
    kind,
    traces: traces.length,
    collections: traces.reduce((a, t) => a + t.steps.length, 0),
    intervalMs: traces[0]!.intervalMs,
    windowMs: traces[0]!.windowMs,
    figures: f,
    oursBetter: b.better,
    oursWorseOn: b.worseOn,
  };
}

/** Every synthetic trace over the plan's seeds, pooled by kind. */
export function measureSynthetic(plan: ForecastPlan): TraceResult[] {
  const byName = new Map<string, Trace[]>();
  for (let seed = plan.seed; seed < plan.seed + plan.seeds; seed++) {
    for (const tr of syntheticTraces(seed)) byName.set(tr.name, [...(byName.get(tr.name) ?? []), tr]);
  }
  return [...byName.values()].map((trs) => result(trs[0]!.name, trs[0]!.about, 'synthetic', trs));
}

/** A fill plan: [seconds, entries per second] pieces; the last lasts until full. */
type RatePlan = ReadonlyArray<readonly [seconds: number, rate: number]>;

interface RealSpec {
  name: string;
  about: string;
  mapName: string;
  plan: RatePlan;
}

const REAL: readonly RealSpec[] = [
  { name: 'real map, fixed rate', about: 'a hash map filled at 30 entries/s to full', mapName: 'prs_fc_fixed', plan: [[Infinity, 30]] },
  {
    name: 'real map, changing rate',
    about: '40/s for 10 s, holds 10 s, 20/s for 15 s, 80/s for 10 s, holds 10 s, 50/s to full',
    mapName: 'prs_fc_change',
    plan: [[10, 40], [10, 0], [15, 20], [10, 80], [10, 0], [Infinity, 50]],
  },
];

/** Where the plan is at `s` seconds: the entries due, the piece's rate and start. */
function planAt(plan: RatePlan, s: number, scale: number): { due: number; rate: number; startS: number } {
  let due = 0;
  let start = 0;
  for (const [len, rate] of plan) {
    const secs = len * scale;
    // Rates are scaled up as much as time is scaled down: the same fills, sooner.
    const r = rate / scale;
    if (s < start + secs) return { due: due + r * (s - start), rate: r, startS: start };
    due += r * secs;
    start += secs;
  }
  return { due, rate: 0, startS: start };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The real-map traces: both maps filled at once, read by one Collector every interval. */
export async function measureReal(plan: ForecastPlan): Promise<TraceResult[]> {
  const { intervalMs, windowMs, capacity, timeScale } = plan.real;
  const ops = loadAddon().mapOps;
  const maps = REAL.map((spec) => {
    const fd = ops.createMap({ type: 1 /* hash */, keySize: 4, valueSize: 8, maxEntries: capacity, flags: 0, name: spec.mapName });
    return { spec, fd, id: ops.mapId(fd), inserted: 0, steps: [] as Array<{ t: number; v: number; readAt: number }>, pieces: [] as Array<{ startS: number; rate: number; began: number }> };
  });
  const collector = new Collector({ filter: (name) => name.startsWith('prs_fc_') });
  // The first collection loads the iterator: done before the clock starts, as in a running agent.
  await collector.collect();
  const start = Date.now();
  // The filler inserts whatever is due by the wall clock, so each plan holds on a busy machine.
  // It notes when each piece of a plan really began (its first tick in it, after inserting):
  // the truth of a collection is the piece its read began in.
  const filler = setInterval(() => {
    const s = (Date.now() - start) / 1000;
    for (const m of maps) {
      const at = planAt(m.spec.plan, s, timeScale);
      const due = Math.min(capacity, Math.floor(at.due));
      if (due > m.inserted) m.inserted += ops.fill(m.fd, 4, 8, m.inserted, due - m.inserted).inserted;
      if (m.pieces.at(-1)?.startS !== at.startS) m.pieces.push({ startS: at.startS, rate: at.rate, began: Date.now() });
    }
  }, 5);
  try {
    const deadline = start + 300_000 * timeScale;
    let next = start;
    while (maps.some((m) => (m.steps.at(-1)?.v ?? 0) < capacity) && Date.now() < deadline) {
      next += intervalMs;
      await sleep(Math.max(0, next - Date.now()));
      const c = await collector.collect();
      for (const m of maps) {
        const seen = c.maps.find((x) => x.id === m.id);
        if (seen?.entries != null && (m.steps.at(-1)?.v ?? 0) < capacity) m.steps.push({ t: c.time, v: seen.entries, readAt: c.time - c.durationMs });
      }
    }
  } finally {
    clearInterval(filler);
    await collector.close();
    for (const m of maps) ops.close(m.fd);
  }
  return maps.map((m) => {
    const steps: TraceStep[] = [];
    let piece: (typeof m.pieces)[number] | undefined;
    let k = 0;
    for (const x of m.steps) {
      const at = m.pieces.filter((p) => p.began <= x.readAt).at(-1) ?? m.pieces[0]!;
      if (at !== piece) {
        piece = at;
        k = 0;
      }
      k++;
      // The first collections of a piece are its grace period (see forecast-traces.ts).
      const expect = k < RECENT ? 'grace' : at.rate > 0 ? 'grow' : 'flat';
      steps.push({ t: x.t, v: x.v, expect, ttfS: at.rate > 0 ? (capacity - x.v) / at.rate : null });
    }
    const trace: Trace = { name: m.spec.name, about: m.spec.about, capacity, intervalMs, windowMs, steps };
    const ours = predictions(trace, 'ours');
    const pl = predictions(trace, 'predict_linear');
    return { ...result(m.spec.name, m.spec.about, 'real', [trace]), steps: steps.map((x, i) => ({ ...x, ours: ours[i]!, predictLinear: pl[i]! })) };
  });
}
