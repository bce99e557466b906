// SPDX-License-Identifier: Apache-2.0
// The forecast's rules on synthetic series: time to full from the latest fill; no forecast by
// the third collection after growth stops; renewed growth picked up by the third; never "now"
// for a map that is not full; cycles (garbage collection) are not growth. Then its accuracy on
// exact lines, noise and outliers, and the window's bookkeeping.
import t from 'tap';
import { formatFullIn, formatTimeToFull } from '../../src/pressure/format';
import { CYCLE_DROP, forecast, MAX_SAMPLES, mannKendallZ, NOISE_MEMORY, noiseOf, PEAK_MEMORY, RECENT, refit, risingTrend, SampleWindow, scaleOf, theilSen, type Sample } from '../../src/pressure/forecast';

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

const T0 = 1_700_000_000_000;

/**
 * Feeds fills, one per collection `intervalMs` apart, through a window like the tracker does;
 * returns the forecast after each collection.
 */
function run(fills: number[], capacity: number, o: { intervalMs?: number; windowMs?: number } = {}) {
  const w = new SampleWindow(o.windowMs ?? 120_000);
  return fills.map((v, i) => {
    w.add(T0 + i * (o.intervalMs ?? 10_000), v, capacity);
    return forecast(w, capacity);
  });
}

/** Feeds (seconds, value) pairs; returns the forecast after the last and the window. */
function feed(points: Array<[number, number]>, capacity: number, windowMs = 120_000) {
  const w = new SampleWindow(windowMs);
  for (const [s, v] of points) w.add(T0 + s * 1000, v, capacity);
  return { ...forecast(w, capacity), samples: w.samples };
}

const within = (got: number | null, want: number, tol = 0.2) => got !== null && Math.abs(got - want) <= tol * want;

/** Fills of a map growing `rate` a collection for `grow` collections from `start`, then holding for `hold`. */
function growHold(start: number, rate: number, grow: number, hold: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < grow; i++) out.push(start + rate * i);
  for (let i = 0; i < hold; i++) out.push(start + rate * (grow - 1));
  return out;
}

// Collection interval, forecast window: the daemon's defaults, the demo's, a short window.
const CADENCES = [
  { intervalMs: 10_000, windowMs: 120_000 },
  { intervalMs: 1000, windowMs: 120_000 }, // the window is thinned to MAX_SAMPLES here
  { intervalMs: 500, windowMs: 6000 },
];

t.test(`rule: no forecast from the ${RECENT}rd collection after growth stops, whatever the window remembers`, async (t) => {
  for (const c of CADENCES) {
    for (const rate of [1, 7, 50, 300]) {
      for (const grow of [4, 12, 40, 200]) {
        const cap = 1_000_000;
        const fills = growHold(1000, rate, grow, 60);
        const f = run(fills, cap, c);
        // The last growing collection is grow - 1; the k-th after it is grow - 1 + k.
        t.ok(f[grow - 1]!.timeToFullS !== null || grow < 4, `still growing at its last rise (rate ${rate}, ${grow} collections, every ${c.intervalMs} ms)`);
        const late = f.slice(grow - 1 + RECENT).findIndex((x) => x.timeToFullS !== null);
        t.equal(late, -1, `rate ${rate}/collection for ${grow} collections every ${c.intervalMs} ms: none from the ${RECENT}rd flat collection on`);
      }
    }
  }
});

t.test('rule: the issue\'s map, flat at 70/100 after growing, and a map holding at 95 % are not forecast', async (t) => {
  // The demo's cadence: 1 s collections, a 2-minute window.
  const seventy = run([...Array.from({ length: 20 }, (_, i) => 30 + 2 * i), ...Array(40).fill(68), ...Array(2).fill(70), ...Array(30).fill(70)], 100, { intervalMs: 1000 });
  t.same(seventy.slice(-28).map((x) => x.timeToFullS), Array(28).fill(null), 'flat at 70/100: no time to full');
  const ninety5 = run([...Array.from({ length: 30 }, (_, i) => 3 * i + 8), ...Array(40).fill(95)], 100, { intervalMs: 1000 });
  t.same(ninety5.slice(RECENT + 31).map((x) => x.timeToFullS), Array(70 - 31 - RECENT).fill(null), 'holding at 95 %: no time to full');
  t.equal(formatFullIn({ fill: 95, maxEntries: 100, timeToFullS: null }), '-', 'so FULL IN shows "-", not "now"');
});

t.test(`rule: renewed growth is picked up by the ${RECENT}rd collection, after a short or a long plateau`, async (t) => {
  for (const c of CADENCES) {
    const perWindow = c.windowMs / c.intervalMs;
    for (const rate of [2, 20, 200]) {
      for (const plateau of [RECENT + 1, Math.round(perWindow / 2), perWindow * 3]) {
        const cap = 1_000_000;
        const first = growHold(5000, rate, 30, plateau);
        const from = first[first.length - 1]!;
        const again = Array.from({ length: 20 }, (_, i) => from + (i + 1) * rate * 2); // twice the pace
        const f = run([...first, ...again], cap, c);
        const k = f.slice(first.length).findIndex((x) => x.timeToFullS !== null) + 1;
        t.ok(k >= 1 && k <= RECENT, `rate ${rate}→${rate * 2}, plateau of ${plateau} every ${c.intervalMs} ms: forecast at new collection ${k}`);
        t.same(f.slice(first.length + RECENT - 1).map((x) => x.timeToFullS !== null), Array(20 - RECENT + 1).fill(true), 'and from then on');
        const last = f[f.length - 1]!;
        const truth = (cap - again[again.length - 1]!) / ((rate * 2) / (c.intervalMs / 1000));
        t.ok(within(last.timeToFullS, truth, 0.01), `at the new pace: ${last.timeToFullS?.toFixed(0)} s against ${truth.toFixed(0)} s`);
      }
    }
  }
});

t.test('rule: time to full is measured from the latest fill, never "now" for a map that is not full', async (t) => {
  // An exact line: what is left from the latest fill at the rate.
  const pts: Array<[number, number]> = [];
  for (let s = 0; s <= 60; s += 10) pts.push([s, 100 + 5 * s]); // 5/s, 400 of 1000 at t = 60
  const f = feed(pts, 1000);
  t.equal(f.growthPerS, 5);
  t.equal(f.timeToFullS, (1000 - 400) / 5);

  // Noisy and fast series near full: positive whenever not full, 0 or none when full.
  const r = rng(99);
  let checked = 0;
  for (let trial = 0; trial < 200; trial++) {
    const cap = 1000;
    const rate = 20 + 200 * r();
    const fills = Array.from({ length: 80 }, (_, i) => Math.max(0, Math.min(cap, Math.round(100 + rate * i + (r() - 0.5) * 60))));
    run(fills, cap).forEach((x, i) => {
      const full = fills[i]! >= cap;
      if (full) t.ok(x.timeToFullS === null || x.timeToFullS === 0, 'full: 0 or no forecast');
      else if (x.timeToFullS !== null && !(x.timeToFullS > 0)) t.fail(`not full (${fills[i]}/${cap}) but time to full ${x.timeToFullS}`);
      checked++;
    });
  }
  t.ok(checked > 10_000, `${checked} collections checked`);
  t.equal(formatTimeToFull(0.3), '<1 s', 'under a second reads "<1 s"');
  t.equal(formatFullIn({ fill: 999, maxEntries: 1000, timeToFullS: 0.3 }), '<1 s', '999/1000 filling fast: not "now"');
  t.equal(formatFullIn({ fill: 1000, maxEntries: 1000, timeToFullS: 0 }), 'full', 'a full map says so');
  t.equal(formatFullIn({ fill: 1000, maxEntries: 1000, timeToFullS: null }), 'full', 'even once not growing');
});

t.test('rule: a sawtooth (garbage collected back to the same floor) is not forecast to fill', async (t) => {
  const cap = 10_000;
  const fills: number[] = [];
  for (let cycle = 0; cycle < 12; cycle++) for (let k = 0; k < 6; k++) fills.push(4000 + 300 * k); // 4000..5500, then back
  const f = run(fills, cap);
  t.same(f.slice(12).map((x) => x.timeToFullS), Array(fills.length - 12).fill(null), 'from the second cycle on: no forecast on the upswings');
  // The peaks start rising past the old ones: growth again.
  const rising = [...fills, 4000, 4300, 4600, 4900, 5200, 5500, 5800, 6100, 6400];
  const g = run(rising, cap);
  t.ok(g[g.length - 1]!.timeToFullS !== null, 'past its old peaks, the map is forecast again');
  t.ok(g.slice(fills.length, fills.length + 6).every((x) => x.timeToFullS === null), 'not before');
});

t.test('a drop of more than CYCLE_DROP remembers the peak; a refill is forecast once past it, or once the peak is old', async (t) => {
  const cap = 1000;
  const pts: Array<[number, number]> = [];
  for (let s = 0; s <= 40; s += 5) pts.push([s, 20 * s]); // 20/s up to 800
  pts.push([45, 0]); // emptied
  for (let s = 50; s <= 80; s += 5) pts.push([s, 5 * (s - 45)]); // refilled at 5/s to 175
  const f = feed(pts, cap);
  t.ok(within(f.growthPerS, 5, 0.05), `the rate is the refill's (${f.growthPerS}/s), the window restarted`);
  t.equal(f.timeToFullS, null, 'below the old peak (800): no forecast');
  t.ok(f.samples.every((s) => s.t >= T0 + 45_000), 'the samples before the drop are gone');
  // Without the reset, the same window would mix both phases: the test can tell.
  const mixed = theilSen(pts.map(([s, v]) => ({ t: s * 1000, v })));
  t.notOk(within(mixed.slope * 1000, 5, 0.2), `the unreset window is wrong (${(mixed.slope * 1000).toFixed(2)}/s)`);

  // The same refill, the peak older than PEAK_MEMORY windows: forecast again.
  const windowMs = 20_000;
  const late: Array<[number, number]> = [];
  for (let s = 0; s <= 40; s += 5) late.push([s, 20 * s]);
  late.push([45, 0]);
  const resume = 45 + (PEAK_MEMORY * windowMs) / 1000;
  for (let s = 50; s <= resume + 20; s += 5) late.push([s, Math.round(0.5 * (s - 45))]);
  const g = feed(late, cap, windowMs);
  t.ok(g.timeToFullS !== null, 'the peak is forgotten after PEAK_MEMORY windows');
  t.ok(CYCLE_DROP < 0.1, 'cycles are smaller drops than a reset');
});

t.test('fewer than two samples: no forecast; a flat series: zero growth, never full', async (t) => {
  t.same(forecast({ samples: [], recent: [], peaks: [] }, 10), { growthPerS: null, timeToFullS: null });
  const one = [{ t: 0, v: 3 }];
  t.same(forecast({ samples: one, recent: one, peaks: [] }, 10), { growthPerS: null, timeToFullS: null });
  const flat = feed([[0, 5], [10, 5], [20, 5]], 10);
  t.same([flat.growthPerS, flat.timeToFullS], [0, null]);
});

t.test('a shrinking map has negative growth and no time to full', async (t) => {
  const f = feed([[0, 900], [10, 885], [20, 870], [30, 855]], 1000);
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
    // 13 samples 10 s apart; noise of ±0.25 % of capacity (±25 entries, half of one collection's
    // growth at the slowest). Noisier than that, a slow map is forecast on and off: a rise over
    // the last collections must beat the noise, the price of dropping the forecast of a map
    // that stopped within RECENT collections.
    for (let s = 0; s <= 120; s += 10) pts.push([s, Math.round(2000 + rate * s + (r() - 0.5) * 0.005 * capacity)]);
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
  t.ok(called <= 0.05 * trials, `${called}/${trials} noise series forecast to fill`);
});

t.test('a small dip (noise) does not reset the window', async (t) => {
  const f = feed([[0, 100], [10, 200], [20, 300], [30, 290], [40, 500], [50, 600]], 1000);
  t.equal(f.samples.length, 6);
  t.ok(within(f.growthPerS, 10, 0.1));
});

t.test('the window: only the last windowMs, at most MAX_SAMPLES, the newest always kept; recent collections as they came', async (t) => {
  const w = new SampleWindow(60_000);
  for (let ms = 0; ms <= 300_000; ms += 250) w.add(ms, ms / 100, 1e9);
  const s = w.samples;
  t.ok(s.length <= MAX_SAMPLES, `${s.length} samples kept`);
  t.ok(s.length >= MAX_SAMPLES / 2, 'and enough of them');
  t.equal(s[s.length - 1]!.t, 300_000, 'the newest sample is kept');
  t.ok(s[0]!.t >= 240_000, 'nothing older than the window');
  t.same(w.recent.map((x) => x.t), [299_500, 299_750, 300_000], `the last ${RECENT} collections, unthinned`);
});

t.test('the trend tests: few samples must all rise; more need significance; ties count', async (t) => {
  const mk = (vs: number[]) => vs.map((v, i) => ({ t: i * 1000, v }));
  t.ok(risingTrend(mk([1, 2])));
  t.notOk(risingTrend(mk([1, 1])));
  t.notOk(risingTrend(mk([1, 3, 2])));
  t.ok(risingTrend(mk([1, 2, 3, 4])));
  t.notOk(risingTrend(mk([1, 3, 2, 4])), 'four samples, one pair falling: not significant');
  t.ok(risingTrend(mk([1, 3, 2, 4, 5, 6, 7, 8])), 'eight samples, one pair falling: significant');
  // Exact counts repeat: ten equal readings then two higher is a clear rise once ties are counted.
  t.ok(mannKendallZ(mk([...Array(10).fill(5), 6, 7])) > 1.645, 'ties shrink the variance');
  t.equal(mannKendallZ(mk(Array(8).fill(3))), 0, 'all equal: no trend');
});

/** Normal noise of deviation sd (Box–Muller over rng). */
function gauss(r: () => number, sd: number): () => number {
  return () => sd * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

t.test(`the noise: over the last NOISE_MEMORY collections, not the window's dozen; a change of pace is not noise`, async (t) => {
  const trials = 200;
  let good = 0;
  let goodWindow = 0;
  for (let seed = 1; seed <= trials; seed++) {
    const noise = gauss(rng(seed), 10);
    const w = new SampleWindow(120_000);
    for (let i = 0; i < NOISE_MEMORY; i++) w.add(T0 + i * 10_000, Math.round(1000 + 50 * i + noise()), 1e6);
    if (Math.abs(w.noise - 10) <= 3) good++;
    if (Math.abs(noiseOf(w.samples) - 10) <= 3) goodWindow++;
  }
  t.ok(good >= 0.9 * trials, `${good}/${trials} within 30 % of the noise`);
  t.ok(goodWindow < 0.75 * trials, `from the window alone, ${goodWindow}/${trials}: the test can tell`);
  // Exact counts that change pace: no noise, so any rise counts.
  const bends = [...growHold(100, 7, 20, 10), ...growHold(170, 30, 20, 0)];
  const w = new SampleWindow(120_000);
  bends.forEach((v, i) => w.add(T0 + i * 10_000, v, 1e6));
  t.equal(w.noise, 0, 'exact counts, three changes of pace: no noise');
  t.equal(scaleOf([0, 0, 0, 0, 0, 40, 0, 0]), 0, 'a bend is not noise');
});

t.test('the pace: least squares over what Theil–Sen calls noise — closer on normal noise, still deaf to outliers', async (t) => {
  let tsErr = 0;
  let lsErr = 0;
  const trials = 1000;
  for (let seed = 1; seed <= trials; seed++) {
    const noise = gauss(rng(seed), 10);
    const samples: Sample[] = [];
    for (let s = 0; s <= 120; s += 10) samples.push({ t: s * 1000, v: 1000 + 5 * s + noise() });
    const robust = theilSen(samples);
    const sd = noiseOf(samples);
    // The fill at the end, which time to full is measured from (see the level's rule).
    tsErr += (robust.at(120_000) - 1600) ** 2;
    lsErr += (refit(samples, robust, sd).at(120_000) - 1600) ** 2;
  }
  t.ok(lsErr < 0.92 * tsErr, `mean squared error of the fill at the end: ${(lsErr / trials).toFixed(1)} against Theil–Sen's ${(tsErr / trials).toFixed(1)}`);

  const samples: Sample[] = [];
  for (let s = 0; s <= 110; s += 10) samples.push({ t: s * 1000, v: 1000 + 10 * s });
  samples[3]!.v += 3000;
  samples[8]!.v -= 2500;
  const line = refit(samples, theilSen(samples), 0);
  t.equal(line.slope * 1000, 10, 'two wild readings left out');
  t.equal(line.at(110_000), 2100, 'and the fill at the end is the line');
});

t.test('rule: time to full from the latest fill with its noise filtered out, never beyond the noise of what was seen', async (t) => {
  // Normal noise near full: the fill at the end of the pace's line is the better estimate of
  // the latest fill than the latest reading, which carries that collection's noise.
  const cap = 10_000;
  let filtered = 0;
  let raw = 0;
  const trials = 300;
  for (let seed = 1; seed <= trials; seed++) {
    const noise = gauss(rng(seed), 10);
    const w = new SampleWindow(120_000);
    let v = 0;
    for (let i = 0; i <= 24; i++) w.add(T0 + i * 10_000, (v = Math.round(8600 + 50 * i + noise())), cap);
    const f = forecast(w, cap);
    const truth = (cap - 9800) / 5; // 40 s
    filtered += Math.abs(f.timeToFullS! - truth);
    raw += Math.abs((cap - v) / f.growthPerS! - truth);
  }
  t.ok(filtered < 0.75 * raw, `mean error ${(filtered / trials).toFixed(2)} s against ${(raw / trials).toFixed(2)} s from the raw latest fill`);

  // A jump far beyond the noise: measured from the jump, less the noise at most.
  const w = new SampleWindow(120_000);
  const noise = gauss(rng(7), 10);
  for (let i = 0; i < 24; i++) w.add(T0 + i * 10_000, Math.round(5000 + 50 * i + noise()), cap);
  w.add(T0 + 24 * 10_000, 7000, cap);
  const f = forecast(w, cap);
  t.ok(f.timeToFullS !== null, 'the jump is growth');
  const fill = cap - f.timeToFullS! * f.growthPerS!;
  t.ok(fill <= 7000 && fill >= 7000 - 2.5 * w.noise - 1e-6, `measured from ${fill.toFixed(0)}, within the noise of 7000`);
});

t.test('rule: growth of twice the noise a collection, kept up with, is growing; a stop is not, from the 3rd collection after', async (t) => {
  // A rise over the last RECENT collections alone misses such growth one time in eight (two
  // intervals' rise is 2.8 deviations of its noise). A map at or above the line of a pace that
  // rises beyond the noise over them is growing too; one that stopped falls behind that line,
  // so this does not keep a stopped map forecast any longer.
  let growing = 0;
  let forecast = 0;
  let flat = 0;
  let stale = 0;
  for (let seed = 1; seed <= 100; seed++) {
    const noise = gauss(rng(seed), 10);
    const fills = [...growHold(3000, 20, 60, 20)].map((v) => Math.round(v + noise()));
    run(fills, 10_000).forEach((f, i) => {
      if (i >= 12 && i < 60) {
        growing++;
        if (f.timeToFullS !== null) forecast++;
      } else if (i >= 59 + RECENT) {
        flat++;
        if (f.timeToFullS !== null) stale++;
      }
    });
  }
  t.ok(forecast >= 0.885 * growing, `${forecast}/${growing} growing collections forecast (from the rise alone: 4,220)`);
  t.ok(stale <= 0.025 * flat, `${stale}/${flat} collections from the ${RECENT}rd after the stop forecast (from the rise alone: 36)`);
});

t.test('exact counts read at jittery times: the pace is the robust line\'s, exact, not least squares over a few samples', async (t) => {
  // A real map filled at 30 entries/s, read every 500 ms give or take a few: whole entries.
  const r = rng(3);
  const w = new SampleWindow(6000);
  let exact = 0;
  let n = 0;
  for (let i = 0; i < 60; i++) {
    const read = i * 500 + (r() - 0.5) * 6;
    w.add(T0 + i * 500 + (r() - 0.5) * 4, Math.floor(100 + 0.03 * read), 10_000);
    const f = forecast(w, 10_000);
    if (i < 12 || f.growthPerS === null) continue;
    n++;
    if (Math.abs(f.growthPerS - 30) <= 0.03) exact++;
  }
  t.ok(exact >= 0.75 * n, `${exact}/${n} collections at 30/s to within 0.1 % (by least squares over the few: 19)`);
});

t.test('theilSen: the median of every pairwise slope, and of the intercepts, also beyond the window size', async (t) => {
  const brute = (xs: number[]) => {
    const a = [...xs].sort((x, y) => x - y);
    const m = a.length >> 1;
    return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
  };
  let seed = 7;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (const n of [2, 3, 4, 7, MAX_SAMPLES, 3 * MAX_SAMPLES]) {
    // Ties on purpose (exact counts repeat), and uneven spacing.
    const samples: Sample[] = [];
    let time = 0;
    for (let i = 0; i < n; i++) samples.push({ t: (time += 500 + Math.floor(rnd() * 1000)), v: rnd() < 0.4 ? Math.floor(rnd() * 3) : rnd() * 100 });
    const slopes: number[] = [];
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) slopes.push((samples[j]!.v - samples[i]!.v) / (samples[j]!.t - samples[i]!.t));
    const slope = brute(slopes);
    const intercept = brute(samples.map((s) => s.v - slope * (s.t - samples[0]!.t)));
    const line = theilSen(samples);
    t.ok(Math.abs(line.slope - slope) <= 1e-12 * Math.max(1, Math.abs(slope)), `${n} samples: slope`);
    t.ok(Math.abs(line.at(samples[0]!.t) - intercept) <= 1e-9 * Math.max(1, Math.abs(intercept)), `${n} samples: intercept`);
  }
});

t.test("the window's unchanged shortcut gives the forecast its samples give", async (t) => {
  // Long flat stretches with steps, drops past the reset and the cycle thresholds, and a
  // window short enough that thinning and expiry run: the shortcut must agree with the full
  // look at the samples after every collection, and must have been taken.
  const rnd = rng(20261203);
  const capacity = 1000;
  for (const windowMs of [60_000, 600_000]) {
    const w = new SampleWindow(windowMs);
    let v = 100;
    let taken = 0;
    let differ = 0;
    let wrong = 0;
    for (let i = 0; i < 3000; i++) {
      const r = rnd();
      if (r < 0.01) v = Math.floor(rnd() * capacity);
      else if (r < 0.03) v = Math.min(capacity, v + 1);
      w.add(T0 + i * 1000, v, capacity);
      const plain = { samples: w.samples, recent: w.recent, peaks: w.peaks, noise: w.noise };
      const want = forecast(plain, capacity);
      if (w.unchanged) {
        taken++;
        if (!(plain.samples.length >= 2 && plain.samples.every((s) => s.v === v))) wrong++;
      }
      if (JSON.stringify(forecast(w, capacity)) !== JSON.stringify(want)) differ++;
    }
    t.equal(wrong, 0, `window ${windowMs / 1000} s: unchanged only when every sample has one fill`);
    t.equal(differ, 0, `window ${windowMs / 1000} s: the same forecast after each of 3000 collections`);
    t.ok(taken > 100, `window ${windowMs / 1000} s: the shortcut was taken (${taken} times)`);
  }
});
