// SPDX-License-Identifier: Apache-2.0
// Right-sizing: the peak fill over pressure.peak_window (bucketed, in memory), how far back it
// reaches, and the suggested max_entries with its headroom — in the tracker's readout.
import t from 'tap';
import type { Collection, MapStats } from '../../src/collector';
import { loadConfig } from '../../src/config';
import { BUCKETS, PeakWindow, suggestMaxEntries } from '../../src/pressure/peak';
import { PressureTracker } from '../../src/pressure/tracker';
import { COLLECTION_DEFAULTS, MAP_DEFAULTS } from '../helpers/collections';

const H = 3_600_000;

t.test('the peak: the largest fill of the window, forgotten once older than it (and at most a bucket more)', async (t) => {
  const w = new PeakWindow(24 * H);
  t.equal(w.peak(), null, 'nothing seen yet');
  t.equal(w.coversMs(0), 0);
  const t0 = 999 * H; // a bucket boundary (buckets are 3 h)
  w.add(t0, 50);
  w.add(t0 + 1 * H, 900); // the spike
  for (let h = 2; h <= 24; h++) w.add(t0 + h * H, 100);
  t.equal(w.peak(), 900, 'a day later the spike is still the peak');
  t.equal(w.coversMs(t0 + 24 * H), 24 * H, 'covering everything since the first sample');
  for (let h = 25; h <= 28; h++) w.add(t0 + h * H, 100);
  t.equal(w.peak(), 100, 'once its bucket is older than the window, it is gone');
  const covered = w.coversMs(t0 + 28 * H);
  t.ok(covered >= 24 * H && covered <= 24 * H + (24 * H) / BUCKETS, `the peak covers the window and at most a bucket more (${covered / H} h)`);
  w.add(t0 + 100 * H, 7);
  t.equal(w.peak(), 7, 'after a long gap, only the new sample');
  w.add(t0 + 10 * H, 5000);
  t.equal(w.peak(), 7, 'a sample older than the window is ignored');
});

t.test('suggested max_entries: the peak with the headroom, ring buffers a power of two of a page or more', async (t) => {
  t.equal(suggestMaxEntries(100, 'hash', 0.5), 150);
  t.equal(suggestMaxEntries(7001, 'hash', 0.5), 10_502, 'rounded up');
  t.equal(suggestMaxEntries(0, 'hash', 0.5), 1, 'never 0');
  t.equal(suggestMaxEntries(100, 'hash', 0), 100, 'no headroom: the peak');
  t.equal(suggestMaxEntries(2000, 'ringbuf', 0.5), 4096);
  t.equal(suggestMaxEntries(5000, 'ringbuf', 0.5), 8192);
  t.equal(suggestMaxEntries(10, 'user_ringbuf', 0.5), 4096, 'at least a page');
});

function map(id: number, entries: number, over: Partial<MapStats> = {}): MapStats {
  return {
    ...MAP_DEFAULTS,
    id, name: `m${id}`, type: 'hash', keySize: 4, valueSize: 8, maxEntries: 1000, mapFlags: 0, entries, pendingBytes: null,
    utilization: entries / 1000, countMethod: 'kfunc', countAgeMs: null, countStale: false, notCounted: null, memoryBytes: 1, memoryEstimated: false,
    ...over,
  };
}
const coll = (time: number, maps: MapStats[]): Collection => ({ ...COLLECTION_DEFAULTS, time, durationMs: 1, maps, mapsSeen: maps.length, bytesRead: 0, memoryError: null, walks: 0, walkError: null });

t.test('the readout: peak, how far back, and the suggestion from the configured window and headroom', async (t) => {
  const { config } = loadConfig({ args: ['--pressure.peak-window=1h', '--pressure.headroom=0.25'], env: {} });
  const tracker = new PressureTracker(config.pressure);
  const t0 = 10 * H;
  const fills = [100, 400, 880, 300, 200];
  let r = tracker.update(coll(t0, [map(1, fills[0]!)])).readout;
  for (let i = 1; i < fills.length; i++) r = tracker.update(coll(t0 + i * 60_000, [map(1, fills[i]!)])).readout;
  t.match(r.maps.get(1), { fill: 200, peakFill: 880, peakUtilization: 0.88, peakOverS: 240, suggestedMaxEntries: 1100 }, 'peak 880 over 4 min, 880 × 1.25');
  // Two hours on: the spike is out of the window.
  r = tracker.update(coll(t0 + 2 * H, [map(1, 150)])).readout;
  t.match(r.maps.get(1), { peakFill: 150, suggestedMaxEntries: 188 }, 'the old spike is forgotten');
  const ring = tracker.update(coll(t0 + 2 * H, [map(2, 0, { type: 'ringbuf', entries: null, pendingBytes: 3000, maxEntries: 65_536, utilization: 3000 / 65_536 })])).readout;
  t.match(ring.maps.get(2), { peakFill: 3000, suggestedMaxEntries: 4096 }, 'a ring buffer: pending bytes, a valid size');
});
