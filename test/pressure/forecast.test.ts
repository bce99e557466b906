// SPDX-License-Identifier: Apache-2.0
// The forecast on synthetic series: exact lines, noise, outliers, empty/refill, plateaus.
import t from 'tap';
import { forecast, MAX_SAMPLES, risingTrend, SampleWindow, theilSen, type Sample } from '../../src/pressure/forecast';

/** A small deterministic PRNG (mulberry32), so every run sees the same "noise". */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Feeds (seconds, value) pairs through a window; returns the forecast after the last. */
function feed(points: Array<[number, number]>, capacity: number, windowMs = 120_000) {
  const w = new SampleWindow(windowMs);
  for (const [s, v] of points) w.add(1_700_000_000_000 + s * 1000, v, capacity);
  return { ...forecast(w.samples(), capacity), samples: w.samples() };
}

const within = (got: number | null, want: number, tol = 0.2) => got !== null && Math.abs(got - want) <= tol * want;

t.test('an exact line: rate and time to full are exact', async (t) => {
  const pts: Array<[number, number]> = [];
  for (let s = 0; s <= 60; s += 10) pts.push([s, 100 + 5 * s]); // 5/s, at 400 of 1000 at t=60
  const f = feed(pts, 1000);
  t.equal(f.growthPerS, 5);
  t.equal(f.timeToFullS, 120);
});

t.test('fewer than two samples: no forecast; a flat series: zero growth, never full', async (t) => {
  t.same(forecast([], 10), { growthPerS: null, timeToFullS: null });
  t.same(forecast([{ t: 0, v: 3 }], 10), { growthPerS: null, timeToFullS: null });
  t.same(feed([[0, 5], [10, 5], [20, 5]], 10), { growthPerS: 0, timeToFullS: null, samples: feed([[0, 5], [10, 5], [20, 5]], 10).samples });
});

t.test('a shrinking map has negative growth and no time to full', async (t) => {
  const f = feed([[0, 900], [10, 850], [20, 820], [30, 790]], 1000);
  t.ok(f.growthPerS! < 0);
  t.equal(f.timeToFullS, null);
});

t.test('noisy growth: within 20 % of the truth, over many seeds', async (t) => {
  const capacity = 10_000;
  let good = 0;
  const trials = 200;
  for (let seed = 1; seed <= trials; seed++) {
    const r = rng(seed);
    const rate = 5 + 10 * r(); // 5..15 entries/s
    const pts: Array<[number, number]> = [];
    // 13 samples 10 s apart; noise of ±1 % of capacity (±100 entries, up to 20 s of growth).
    for (let s = 0; s <= 120; s += 10) pts.push([s, Math.round(2000 + rate * s + (r() - 0.5) * 0.02 * capacity)]);
    const f = feed(pts, capacity, 130_000);
    const truth = (capacity - (2000 + rate * 120)) / rate;
    if (within(f.timeToFullS, truth) && within(f.growthPerS, rate)) good++;
  }
  t.ok(good >= 0.95 * trials, `${good}/${trials} forecasts within 20 %`);
});

t.test('outliers do not move Theil–Sen (they would move least squares)', async (t) => {
  const samples: Sample[] = [];
  for (let s = 0; s <= 110; s += 10) samples.push({ t: s * 1000, v: 1000 + 10 * s });
  samples[3]!.v += 3000; // two wild readings
  samples[8]!.v -= 2500;
  t.equal(theilSen(samples).slope * 1000, 10, 'the slope of the clean points');
  const n = samples.length;
  const mt = samples.reduce((a, s) => a + s.t, 0) / n;
  const mv = samples.reduce((a, s) => a + s.v, 0) / n;
  const ls = samples.reduce((a, s) => a + (s.t - mt) * (s.v - mv), 0) / samples.reduce((a, s) => a + (s.t - mt) ** 2, 0);
  t.ok(Math.abs(ls * 1000 - 10) > 2, `least squares is off (${(ls * 1000).toFixed(2)}/s): the test can tell`);
});

t.test('pure noise around a constant is rarely called growth', async (t) => {
  let called = 0;
  const trials = 300;
  for (let seed = 1; seed <= trials; seed++) {
    const r = rng(seed * 7919);
    const pts: Array<[number, number]> = [];
    for (let s = 0; s <= 120; s += 10) pts.push([s, Math.round(5000 + (r() - 0.5) * 400)]);
    if (feed(pts, 10_000, 130_000).timeToFullS !== null) called++;
  }
  // The trend test is one-sided at 95 %: about 5 % false alarms by design.
  t.ok(called <= 0.1 * trials, `${called}/${trials} noise series forecast to fill`);
});

t.test('emptied and refilled: the forecast follows the refill, not the whole window', async (t) => {
  const pts: Array<[number, number]> = [];
  for (let s = 0; s <= 40; s += 5) pts.push([s, 20 * s]); // 20/s up to 800 of 1000
  pts.push([45, 0]); // emptied
  for (let s = 50; s <= 80; s += 5) pts.push([s, 5 * (s - 45)]); // refilled at 5/s
  const f = feed(pts, 1000);
  t.ok(within(f.growthPerS, 5, 0.05), `refill rate ${f.growthPerS}`);
  t.ok(within(f.timeToFullS, (1000 - 175) / 5, 0.05), `time to full ${f.timeToFullS}`);
  t.ok(f.samples.every((s) => s.t >= 1_700_000_000_000 + 45_000), 'the samples before the drop are gone');
  // Without the reset, the same window would mix both phases: the test can tell.
  const mixed = forecast(pts.map(([s, v]) => ({ t: s * 1000, v })), 1000);
  t.notOk(within(mixed.growthPerS, 5, 0.2), `the unreset window is wrong (${mixed.growthPerS?.toFixed(2)}/s)`);
});

t.test('a small dip (noise) does not reset the window', async (t) => {
  const f = feed([[0, 100], [10, 200], [20, 300], [30, 260], [40, 500], [50, 600]], 1000);
  t.equal(f.samples.length, 6);
  t.ok(within(f.growthPerS, 10, 0.1));
});

t.test('a plateau after growth stops the forecast', async (t) => {
  const pts: Array<[number, number]> = [];
  for (let s = 0; s <= 30; s += 10) pts.push([s, 100 * s]);
  for (let s = 40; s <= 130; s += 10) pts.push([s, 3000]);
  t.equal(feed(pts, 10_000).timeToFullS, null);
});

t.test('the window: only the last windowMs, at most MAX_SAMPLES, the newest always kept', async (t) => {
  const w = new SampleWindow(60_000);
  for (let ms = 0; ms <= 300_000; ms += 250) w.add(ms, ms / 100, 1e9);
  const s = w.samples();
  t.ok(s.length <= MAX_SAMPLES, `${s.length} samples kept`);
  t.ok(s.length >= MAX_SAMPLES / 2, 'and enough of them');
  t.equal(s[s.length - 1]!.t, 300_000, 'the newest sample is kept');
  t.ok(s[0]!.t >= 240_000, 'nothing older than the window');
});

t.test('the trend test: few samples must all rise; more need significance', async (t) => {
  const mk = (vs: number[]) => vs.map((v, i) => ({ t: i * 1000, v }));
  t.ok(risingTrend(mk([1, 2])));
  t.notOk(risingTrend(mk([1, 1])));
  t.notOk(risingTrend(mk([1, 3, 2])));
  t.ok(risingTrend(mk([1, 2, 3, 4])));
  t.notOk(risingTrend(mk([1, 3, 2, 4])), 'four samples, one pair falling: not significant');
  t.ok(risingTrend(mk([1, 3, 2, 4, 5, 6, 7, 8])), 'eight samples, one pair falling: significant');
});
