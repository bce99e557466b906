// SPDX-License-Identifier: Apache-2.0
/**
 * Right-sizing: each map's peak fill over pressure.peak_window, kept in memory, and the
 * max_entries that would hold that peak with pressure.headroom to spare.
 *
 * The peak is kept in buckets of an eighth of the window each (the largest fill seen in each):
 * BUCKETS whole ones and the one filling now, so it costs the same few bytes per map whatever
 * the window and the interval; it covers the window and at most one bucket more, and says
 * exactly how far back it reaches.
 */

/** Buckets per window: the peak covers the window plus at most 1/BUCKETS of it. */
export const BUCKETS = 8;
/** The whole buckets and the current one. */
const SLOTS = BUCKETS + 1;

export class PeakWindow {
  readonly #width: number;
  /** Largest fill seen in each bucket (NaN: none); bucket b lives in slot b % SLOTS. */
  readonly #max = new Float64Array(SLOTS).fill(Number.NaN);
  #newest = -Infinity;
  #since = Number.NaN;

  constructor(windowMs: number) {
    this.#width = Math.max(1, windowMs / BUCKETS);
  }

  add(t: number, fill: number): void {
    const b = Math.floor(t / this.#width);
    if (b > this.#newest) {
      // Slots of buckets that fell out of the window are reused empty.
      const from = Math.max(this.#newest + 1, b - SLOTS + 1);
      for (let k = from; k <= b; k++) this.#max[k % SLOTS] = Number.NaN;
      this.#newest = b;
    }
    if (b < this.#newest - SLOTS + 1) return; // older than the window: ignore
    const slot = b % SLOTS;
    const cur = this.#max[slot]!;
    if (Number.isNaN(cur) || fill > cur) this.#max[slot] = fill;
    if (Number.isNaN(this.#since)) this.#since = t;
  }

  /** The largest fill in the window; null before the first sample. */
  peak(): number | null {
    let m = Number.NaN;
    for (const v of this.#max) if (!Number.isNaN(v) && (Number.isNaN(m) || v > m)) m = v;
    return Number.isNaN(m) ? null : m;
  }

  /** How far back the peak reaches from `now`, ms: to the first sample, or the oldest bucket kept. */
  coversMs(now: number): number {
    if (Number.isNaN(this.#since)) return 0;
    const oldest = (this.#newest - SLOTS + 1) * this.#width;
    return Math.max(0, now - Math.max(this.#since, oldest));
  }
}

/** Ring buffers take a power of two of at least a page (4 KiB on most kernels). */
const RINGBUF_MIN = 4096;

/**
 * The max_entries that holds `peak` with `headroom` to spare (a share of the peak: 0.5 keeps
 * the peak at two thirds of the size): ceil(peak × (1 + headroom)), at least 1; for ring
 * buffers the next power of two of at least RINGBUF_MIN bytes, the only sizes they take.
 */
export function suggestMaxEntries(peak: number, type: string, headroom: number): number {
  const n = Math.max(1, Math.ceil(peak * (1 + headroom) - 1e-9));
  if (type !== 'ringbuf' && type !== 'user_ringbuf') return n;
  let p = RINGBUF_MIN;
  while (p < n) p *= 2;
  return p;
}
