// SPDX-License-Identifier: Apache-2.0
/**
 * Growth rate and time to full from a window of (time, fill) samples.
 *
 * The slope is Theil–Sen's (the median of the slopes between every pair of samples), which
 * shrugs off outliers and noise where least squares or "the last two samples" would swing.
 * A map that is emptied and refilled would drag the slope of a whole window down, so a drop
 * of more than a tenth of the capacity from one sample to the next starts the window afresh
 * (a gradual drain does not: it shows as negative growth).
 * The map counts as growing only when the trend is clear: every pair rising while there are
 * fewer than four samples, and beyond that a Mann–Kendall test at 95 % (one-sided).
 */

export interface Sample {
  /** ms since the epoch */
  t: number;
  /** entries (bytes pending for ring buffers) */
  v: number;
}

export interface Forecast {
  /** Entries (bytes for ring buffers) per second; null with fewer than two samples. */
  growthPerS: number | null;
  /** Seconds until full at that rate; null unless the map is clearly growing. */
  timeToFullS: number | null;
}

/** A drop from one sample to the next of more than this share of the capacity resets the window. */
export const RESET_DROP = 0.1;
/** Samples kept per window: bounds the pairwise work at n(n-1)/2 per map. */
export const MAX_SAMPLES = 24;
/** One-sided 95 % quantile of the standard normal. */
const Z_95 = 1.645;

function median(xs: number[]): number {
  xs.sort((a, b) => a - b);
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

/** Theil–Sen line through the samples: slope per ms and the fitted value at time t. */
export function theilSen(samples: readonly Sample[]): { slope: number; at(t: number): number } {
  const slopes: number[] = [];
  for (let i = 0; i < samples.length; i++) {
    for (let j = i + 1; j < samples.length; j++) {
      const dt = samples[j]!.t - samples[i]!.t;
      if (dt > 0) slopes.push((samples[j]!.v - samples[i]!.v) / dt);
    }
  }
  const slope = slopes.length ? median(slopes) : 0;
  const t0 = samples[0]?.t ?? 0;
  const intercept = samples.length ? median(samples.map((s) => s.v - slope * (s.t - t0))) : 0;
  return { slope, at: (t) => intercept + slope * (t - t0) };
}

/** Whether the samples rise as a clear trend rather than noise (see the file's comment). */
export function risingTrend(samples: readonly Sample[]): boolean {
  const n = samples.length;
  if (n < 2) return false;
  let s = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) s += Math.sign(samples[j]!.v - samples[i]!.v);
  if (n < 4) return s === (n * (n - 1)) / 2;
  const variance = (n * (n - 1) * (2 * n + 5)) / 18;
  return (s - 1) / Math.sqrt(variance) >= Z_95;
}

/** The forecast of a map holding `samples` (oldest first) out of `capacity`. */
export function forecast(samples: readonly Sample[], capacity: number): Forecast {
  if (samples.length < 2) return { growthPerS: null, timeToFullS: null };
  const first = samples[0]!.v;
  if (samples.every((s) => s.v === first)) return { growthPerS: 0, timeToFullS: null };
  const line = theilSen(samples);
  const growthPerS = line.slope * 1000;
  if (!(growthPerS > 0) || !risingTrend(samples)) return { growthPerS, timeToFullS: null };
  const last = samples[samples.length - 1]!;
  const now = last.v >= capacity ? capacity : Math.min(capacity, Math.max(0, line.at(last.t)));
  return { growthPerS, timeToFullS: (capacity - now) / growthPerS };
}

/**
 * The recent samples of one map: the last `windowMs`, at most MAX_SAMPLES of them (older
 * ones thinned to an even spacing; the newest always kept), restarted after a big drop.
 */
export class SampleWindow {
  readonly #windowMs: number;
  readonly #spacingMs: number;
  #samples: Sample[] = [];

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
    this.#spacingMs = windowMs / (MAX_SAMPLES - 2);
  }

  add(t: number, v: number, capacity: number): void {
    let s = this.#samples;
    const start = t - this.#windowMs;
    let old = 0;
    while (old < s.length && s[old]!.t < start) old++;
    if (old) s.splice(0, old);
    const last = s[s.length - 1];
    if (last && v < last.v - RESET_DROP * capacity) s = this.#samples = [];
    if (s.length >= 2 && t - s[s.length - 2]!.t < this.#spacingMs) s[s.length - 1] = { t, v };
    else s.push({ t, v });
    if (s.length > MAX_SAMPLES) s.shift();
  }

  samples(): readonly Sample[] {
    return this.#samples;
  }
}
