// SPDX-License-Identifier: Apache-2.0
/**
 * Growth rate and time to full from a map's recent history of (time, fill) samples.
 *
 * What the forecast has to get right, and how:
 *
 * - **Time to full is measured from the latest fill**, the last thing actually seen:
 *   (capacity - latest) / rate, with the latest fill's noise filtered out: where it is within
 *   STRAY_SD noise deviations of the current pace's line, the line's value at that time is the
 *   better estimate of it (the line averages the noise away); beyond, the value that far from
 *   it nearest the line. The line is the current pace's (below), which follows a stop within
 *   RECENT collections, not the window's, which lags behind a map that stopped.
 * - **The rate is the current pace.** A Theil–Sen line (the median of the slopes between every
 *   pair of samples; noise and outliers barely move it) over the window (pressure.forecast_window:
 *   the newest RAW collections and older ones thinned, at most MAX_SAMPLES samples). When the
 *   newest collections all stray to one side of that line by more than the noise, the map
 *   changed pace (stopped, sped up, started again): the line is then that of the longest recent
 *   stretch they do not stray from, at the shortest the last RECENT collections alone. The pace
 *   is measured by least squares over the samples of that stretch within TRIM_SD noise
 *   deviations of its line (refit): the robust line says which samples are noise, least squares
 *   makes the most of them. Exact counts (noise under EXACT) keep the robust line.
 * - **Growing means growing now.** A forecast needs (1) a rise over the last RECENT collections
 *   larger than the noise could make, so a map that stops growing loses its forecast by the
 *   RECENT-th collection after, whatever the window still remembers, and (2) a trend: a
 *   one-sided Mann–Kendall test at 95 % over the window, or a breakout — the last RECENT
 *   collections each higher than the one before and above everything earlier in the window by
 *   more than the noise — so renewed growth after a plateau is picked up as fast. Or (3) keeping
 *   up with a pace that rises that much over those collections: the latest fill at or above the
 *   pace's robust line, which a map that stopped falls behind.
 * - **Cycles are not growth.** A drop of more than CYCLE_DROP of the capacity between two
 *   collections (garbage collection, a flush) remembers the fill before it, for PEAK_MEMORY
 *   windows. Until the map is fuller than such a peak by more than the noise, it is on its way
 *   back to where it has been and came down from, so it gets no forecast: a conntrack-style sawtooth is not
 *   "full in 40 s" on every upswing. A drop of more than RESET_DROP also restarts the window,
 *   so a refill is measured on its own pace.
 * - **The noise** is estimated from the spreads of the last NOISE_MEMORY collections, more than
 *   the window holds (noiseOf, scaleOf): every threshold above scales with it, and from the
 *   window's dozen it is often off by half — too low and noise reads as a change of pace, too
 *   high and growth goes unseen. Exact counts of a map nobody touches have none, so any rise
 *   counts there.
 */

export interface Sample {
  /** ms since the epoch */
  t: number;
  /** entries (bytes pending for ring buffers) */
  v: number;
}

/** What the forecast reads of one map: see SampleWindow. */
export interface History {
  /** The window, oldest first: the newest RAW collections as they came, older ones thinned. */
  readonly samples: readonly Sample[];
  /** The last RECENT collections as they came (never thinned), oldest first. */
  readonly recent: readonly Sample[];
  /** Fills just before recent drops (see CYCLE_DROP), oldest first. */
  readonly peaks: readonly Sample[];
  /**
   * The noise of the fill, a standard deviation, from more collections than the window holds
   * (SampleWindow's: the last NOISE_MEMORY); without it, it is estimated from the samples.
   */
  readonly noise?: number;
  /**
   * True when the window holds two samples or more, all of the same fill (SampleWindow knows it
   * without joining its samples): the forecast is then "not growing" without looking further.
   * False or absent: the samples are looked at.
   */
  readonly unchanged?: boolean;
}

export interface Forecast {
  /** Entries (bytes for ring buffers) per second; null with fewer than two samples. */
  growthPerS: number | null;
  /** Seconds until full at that rate from the latest fill; 0 when full; null unless growing. */
  timeToFullS: number | null;
}

/** A drop from one sample to the next of more than this share of the capacity resets the window. */
export const RESET_DROP = 0.1;
/** A drop of more than this share of the capacity is a cycle: the fill before it is a peak. */
export const CYCLE_DROP = 0.02;
/** Peaks are remembered for this many forecast windows. */
export const PEAK_MEMORY = 5;
/** Samples kept per window: bounds the pairwise work at n(n-1)/2 per map. */
export const MAX_SAMPLES = 24;
/** The newest collections kept as they came; older ones are thinned. */
export const RAW = 12;
/** Consecutive collections whose spreads (see noiseOf) a window remembers for the noise. */
export const NOISE_MEMORY = 2 * MAX_SAMPLES;
/**
 * Collections after a change of pace by which the forecast follows it: a map that stops
 * growing has none by the RECENT-th collection after, renewed growth has one by then. Those
 * collections span RECENT - 1 whole intervals of the new pace (the first may straddle it).
 */
export const RECENT = 3;
/** Peaks kept per map (the newest). */
const MAX_PEAKS = 4;
/** One-sided 95 % quantile of the standard normal. */
const Z_95 = 1.645;
/**
 * How far (in noise standard deviations) a collection must be from a line to stray from it: the
 * last ones, for the map to have changed pace; the latest, for its fill to be more than noise.
 */
const STRAY_SD = 2.5;
/** Median absolute deviation to standard deviation, for normal noise. */
const MAD_TO_SD = 1.4826;

/**
 * Scratch space for the medians, reused by every map: the forecast runs for every map on every
 * collection, and a median over a typed array sorts natively without a comparator or garbage.
 */
let scratch = new Float64Array(2 * MAX_SAMPLES * MAX_SAMPLES);

function scratchFor(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(2 * n);
  return scratch;
}

/** The k-th smallest of buf[lo..hi] (inclusive), partially ordering them in place (quickselect). */
function select(buf: Float64Array, lo: number, hi: number, k: number): number {
  while (hi > lo) {
    const pivot = buf[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (buf[i]! < pivot) i++;
      while (buf[j]! > pivot) j--;
      if (i <= j) {
        const x = buf[i]!;
        buf[i++] = buf[j]!;
        buf[j--] = x;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return buf[k]!;
}

/** The median of the first n values of buf (reorders them). */
function medianIn(buf: Float64Array, n: number): number {
  if (n === 0) return 0;
  const mid = n >> 1;
  const upper = select(buf, 0, n - 1, mid);
  if (n % 2) return upper;
  // The lower middle is the largest of what quickselect left below mid.
  let lower = -Infinity;
  for (let i = 0; i < mid; i++) if (buf[i]! > lower) lower = buf[i]!;
  return (lower + upper) / 2;
}

function median(xs: ArrayLike<number>): number {
  const buf = scratchFor(xs.length);
  for (let i = 0; i < xs.length; i++) buf[i] = xs[i]!;
  return medianIn(buf, xs.length);
}

export interface Line {
  /** per ms */
  slope: number;
  at(t: number): number;
}

/** Theil–Sen line through the samples: slope per ms and the fitted value at time t. */
export function theilSen(samples: readonly Sample[]): Line {
  const n = samples.length;
  const buf = scratchFor((n * (n - 1)) / 2);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const a = samples[i]!;
    for (let j = i + 1; j < n; j++) {
      const dt = samples[j]!.t - a.t;
      if (dt > 0) buf[k++] = (samples[j]!.v - a.v) / dt;
    }
  }
  const slope = medianIn(buf, k);
  const t0 = samples[0]?.t ?? 0;
  for (let i = 0; i < n; i++) buf[i] = samples[i]!.v - slope * (samples[i]!.t - t0);
  const intercept = medianIn(buf, n);
  return { slope, at: (t) => intercept + slope * (t - t0) };
}

/**
 * Mann–Kendall's standardized statistic (continuity-corrected, with the variance corrected
 * for ties: exact counts repeat a lot). Positive when later samples tend to be higher.
 */
export function mannKendallZ(samples: readonly Sample[]): number {
  const n = samples.length;
  let s = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) s += Math.sign(samples[j]!.v - samples[i]!.v);
  // Ties: runs of equal values once sorted.
  const buf = scratchFor(n);
  for (let i = 0; i < n; i++) buf[i] = samples[i]!.v;
  const sorted = buf.subarray(0, n).sort();
  let variance = n * (n - 1) * (2 * n + 5);
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && sorted[j] === sorted[i]) j++;
    const k = j - i;
    variance -= k * (k - 1) * (2 * k + 5);
    i = j;
  }
  variance /= 18;
  if (variance <= 0 || s === 0) return 0;
  return (s - Math.sign(s)) / Math.sqrt(variance);
}

/** Whether the samples rise as a clear trend: all rising below four samples, else Mann–Kendall at 95 %. */
export function risingTrend(samples: readonly Sample[]): boolean {
  const n = samples.length;
  if (n < 2) return false;
  if (n < 4) {
    for (let i = 1; i < n; i++) if (!(samples[i]!.v > samples[i - 1]!.v)) return false;
    return true;
  }
  return mannKendallZ(samples) >= Z_95;
}

/**
 * The noise of the samples, as a standard deviation, from the spread of each sample: how far
 * it is from the straight line through its two neighbours (scaled so pure noise of deviation
 * σ gives σ). A change of pace bends that line at one sample only, so the estimate stays the
 * noise's, not the change's (see scaleOf).
 */
export function noiseOf(samples: readonly Sample[]): number {
  const d: number[] = [];
  for (let i = 1; i + 1 < samples.length; i++) d.push(spreadOf(samples[i - 1]!, samples[i]!, samples[i + 1]!));
  return scaleOf(d);
}

/** How far c is from the line through p and n, scaled to the noise of one sample. */
function spreadOf(p: Sample, c: Sample, n: Sample): number {
  const a = (n.t - c.t) / (n.t - p.t);
  const b = 1 - a;
  return Math.abs(c.v - a * p.v - b * n.v) / Math.sqrt(1 + a * a + b * b);
}

/**
 * Noise under half an entry is none: the counts are exact up to their rounding (and the timing
 * of the reads), Theil–Sen's line is exact on them, and a band of TRIM_SD such deviations would
 * pick out a few samples by their rounding alone, for least squares to measure the pace from.
 */
const EXACT = 0.5;
/** Spreads beyond this many deviations (by their median) are changes of pace, not noise. */
const TRIM_SD = 3;
/** The deviation of normal noise cut at ±TRIM_SD, to that of the whole: sqrt(1 - 2·3·φ(3)/(2Φ(3) - 1)). */
const TRIMMED_SD = 0.98658;

/**
 * A standard deviation from spreads: the median's (times 1.4826) picks out the noise, then the
 * root mean square of the spreads within TRIM_SD of it measures it. The median alone uses a
 * third of what the spreads tell of normal noise (its efficiency is 37 %): from a dozen spreads
 * it is often off by half, and every threshold scales with it.
 */
export function scaleOf(spreads: ArrayLike<number>): number {
  const mad = MAD_TO_SD * median(spreads);
  let sum = 0;
  let n = 0;
  for (let i = 0; i < spreads.length; i++) {
    const d = spreads[i]!;
    if (d > TRIM_SD * mad) continue;
    sum += d * d;
    n++;
  }
  return n ? Math.sqrt(sum / n) / TRIMMED_SD : mad;
}

/** Floating-point slack for "more than the noise" when there is none (exact counts). */
const EPS = 1e-9;

/** The answers most maps get on most collections, shared (forecast() is called for every map on every collection). */
const NOT_GROWING: Forecast = Object.freeze({ growthPerS: 0, timeToFullS: null });
const NO_FORECAST: Forecast = Object.freeze({ growthPerS: null, timeToFullS: null });

/** The forecast of a map with this history (see the file's comment) out of `capacity`. */
export function forecast(h: History, capacity: number): Forecast {
  if (h.unchanged) return NOT_GROWING;
  const { samples, recent, peaks } = h;
  if (samples.length < 2) return NO_FORECAST;
  const last = samples[samples.length - 1]!;
  if (samples.every((s) => s.v === last.v) && recent.every((s) => s.v === last.v)) return NOT_GROWING;

  // The pace: the window's line, unless the last collections left it; then measured by least
  // squares over the samples of that stretch the robust line says are noise.
  const noise = h.noise ?? noiseOf(samples);
  let stretch = samples;
  let robust = theilSen(samples);
  if (recent.length >= RECENT && leftLine(recent.slice(1), robust, noise)) ({ stretch, line: robust } = currentPace(samples, recent, noise));
  const line = noise >= EXACT ? refit(stretch, robust, noise) : robust;
  const growthPerS = line.slope * 1000;
  if (!(growthPerS > 0)) return { growthPerS, timeToFullS: null };

  const from = latestFill(last, line.at(last.t), noise, capacity);

  // Growing now: a rise over the last RECENT collections the noise cannot explain...
  const beyond = Z_95 * noise * Math.SQRT2 + EPS;
  const nowRising = recent.length >= RECENT ? last.v - recent[0]!.v > beyond : risingTrend(recent);
  // ...as part of a trend, or breaking out of a plateau; or keeping up with a pace that rises
  // that much over those collections: the latest fill at or above the pace's robust line, which
  // a map that stopped falls behind (least squares would bend towards the stop).
  const onPace = recent.length >= RECENT && robust.slope * (last.t - recent[0]!.t) > beyond && last.v >= robust.at(last.t) - EPS;
  const growing = (nowRising && (risingTrend(samples) || breakout(samples, recent, noise))) || onPace;
  // ...and past where it has been before dropping.
  const peak = peaks.reduce((m, p) => Math.max(m, p.v), -Infinity);
  if (!growing || last.v <= peak + Z_95 * noise * Math.SQRT2) return { growthPerS, timeToFullS: null };
  return { growthPerS, timeToFullS: last.v >= capacity ? 0 : (capacity - from) / growthPerS };
}

/**
 * The latest fill with its noise filtered out: the pace's line at that time, moved no further
 * than STRAY_SD noise deviations from what was seen. Never full for a map that is not (its time
 * to full is never "now").
 */
function latestFill(last: Sample, line: number, noise: number, capacity: number): number {
  const v = Math.min(Math.max(line, last.v - STRAY_SD * noise), last.v + STRAY_SD * noise);
  return v < capacity ? v : last.v;
}

/**
 * The pace since the map changed it: the line of the longest recent stretch of the window
 * (halving from the whole) that its own last collections do not leave, else of the
 * last RECENT collections alone.
 */
function currentPace(samples: readonly Sample[], recent: readonly Sample[], noise: number): { stretch: readonly Sample[]; line: Line } {
  const tail = recent.slice(1);
  for (let m = samples.length >> 1; m > RECENT; m >>= 1) {
    const stretch = samples.slice(-m);
    const line = theilSen(stretch);
    if (!leftLine(tail, line, noise)) return { stretch, line };
  }
  return { stretch: recent, line: theilSen(recent) };
}

/**
 * Least squares over the samples within TRIM_SD noise deviations of a robust line (at least
 * three; else that line). Theil–Sen picks out which samples are noise about the pace, and
 * outliers stay out; least squares then measures the pace from them with all they tell: on
 * normal noise it is the better estimate, of the slope and of the fill at the end.
 */
export function refit(samples: readonly Sample[], robust: Line, noise: number): Line {
  const tEnd = samples[samples.length - 1]?.t ?? 0;
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxy = 0;
  let sxx = 0;
  for (const p of samples) {
    if (Math.abs(p.v - robust.at(p.t)) > TRIM_SD * noise + EPS) continue;
    const x = p.t - tEnd;
    n++;
    sx += x;
    sy += p.v;
    sxy += x * p.v;
    sxx += x * x;
  }
  const d = sxx - (sx * sx) / n;
  if (n < 3 || !(d > 0)) return robust;
  const slope = (sxy - (sx * sy) / n) / d;
  const end = sy / n - (slope * sx) / n;
  return { slope, at: (t) => end + slope * (t - tEnd) };
}

/** Residuals all on one side of the line, their median beyond STRAY_SD times the noise. */
function leftLine(tail: readonly Sample[], line: Line, noise: number): boolean {
  const e = tail.map((s) => s.v - line.at(s.t));
  const side = Math.sign(e[0]!);
  return side !== 0 && e.every((x) => Math.sign(x) === side) && Math.abs(median(e)) > STRAY_SD * noise + EPS;
}

/** The last RECENT collections each higher, the last above the rest of the window by more than the noise. */
function breakout(samples: readonly Sample[], recent: readonly Sample[], noise: number): boolean {
  if (recent.length < RECENT) return false;
  for (let i = 1; i < recent.length; i++) if (!(recent[i]!.v > recent[i - 1]!.v)) return false;
  let before = -Infinity;
  for (const s of samples) if (s.t < recent[0]!.t) before = Math.max(before, s.v);
  return before === -Infinity || recent[recent.length - 1]!.v - before > Z_95 * noise * Math.SQRT2 + EPS;
}

/**
 * The history of one map over the last `windowMs`: the newest RAW collections as they came,
 * and older ones thinned to an even spacing (at most MAX_SAMPLES - RAW of them), so the window
 * is sharp where the forecast decides (now) and still reaches back its whole length at any
 * interval; plus the peaks before recent drops. A drop of more than RESET_DROP of the capacity
 * restarts the window.
 */
export class SampleWindow implements History {
  readonly #windowMs: number;
  readonly #spacingMs: number;
  #old: Sample[] = [];
  #raw: Sample[] = [];
  #peaks: Sample[] = [];
  #joined: Sample[] | null = null;
  /** The spreads of the last NOISE_MEMORY collections, a ring (in no order: the noise does not need one). */
  readonly #spreads = new Float64Array(NOISE_MEMORY);
  #spreadCount = 0;
  #spreadNext = 0;
  #noise: number | null = null;
  /** When the newest sample that differs from the one before it came (-Infinity: none has). */
  #changedAt = -Infinity;
  /**
   * A sample that left the window (not kept as an old sample, not a peak), reused for the next
   * one: a map lives for days and adds a sample every collection, and most leave after RAW
   * collections, old enough to have been promoted: reused, they cost the collector nothing.
   */
  #spare: Sample | null = null;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
    this.#spacingMs = windowMs / (MAX_SAMPLES - RAW);
  }

  add(t: number, v: number, capacity: number): void {
    this.#joined = null;
    this.#noise = null;
    const prev = this.#raw[this.#raw.length - 1];
    if (prev && v !== prev.v) this.#changedAt = t;
    if (prev && v < prev.v - CYCLE_DROP * capacity) {
      this.#peaks.push(prev);
      if (this.#peaks.length > MAX_PEAKS) this.#peaks.shift();
    }
    while (this.#peaks.length && this.#peaks[0]!.t < t - PEAK_MEMORY * this.#windowMs) this.#peaks.shift();
    if (prev && v < prev.v - RESET_DROP * capacity) {
      this.#old = [];
      this.#raw = [];
    }
    const raw = this.#raw;
    const spare = this.#spare;
    if (spare) {
      spare.t = t;
      spare.v = v;
      this.#spare = null;
      raw.push(spare);
    } else {
      raw.push({ t, v });
    }
    if (raw.length >= 3) {
      this.#spreads[this.#spreadNext] = spreadOf(raw[raw.length - 3]!, raw[raw.length - 2]!, raw[raw.length - 1]!);
      this.#spreadNext = (this.#spreadNext + 1) % NOISE_MEMORY;
      if (this.#spreadCount < NOISE_MEMORY) this.#spreadCount++;
    }
    if (raw.length > RAW) {
      const x = raw.shift()!;
      const last = this.#old[this.#old.length - 1];
      if (!last || x.t - last.t >= this.#spacingMs) this.#old.push(x);
      else if (!this.#peaks.includes(x)) this.#spare = x;
      if (this.#old.length > MAX_SAMPLES - RAW) this.#old.shift();
    }
    const start = t - this.#windowMs;
    while (this.#old.length && this.#old[0]!.t < start) this.#old.shift();
    while (raw.length > 1 && raw[0]!.t < start) raw.shift();
  }

  get unchanged(): boolean {
    // Every sample kept came at or after the last change of fill, so all have one value.
    const raw = this.#raw;
    const oldest = this.#old[0] ?? raw[0];
    return this.#old.length + raw.length >= 2 && oldest !== undefined && oldest.t >= this.#changedAt;
  }

  get samples(): readonly Sample[] {
    this.#joined ??= this.#old.length ? [...this.#old, ...this.#raw] : this.#raw;
    return this.#joined;
  }

  get recent(): readonly Sample[] {
    return this.#raw.length > RECENT ? this.#raw.slice(-RECENT) : this.#raw;
  }

  /** The noise over the last NOISE_MEMORY consecutive collections (see noiseOf); kept across resets. */
  get noise(): number {
    this.#noise ??= scaleOf(this.#spreads.subarray(0, this.#spreadCount));
    return this.#noise;
  }

  get peaks(): readonly Sample[] {
    return this.#peaks;
  }
}
