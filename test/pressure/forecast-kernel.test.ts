// SPDX-License-Identifier: Apache-2.0
// The forecast against the truth: a real hash map filled at a known rate (50 entries/s) while
// the real collector reads it; each prediction of when it will be full is compared with when
// it actually became full.
import t from 'tap';
import { Collector } from '../../src/collector';
import { loadConfig } from '../../src/config';
import { PressureTracker } from '../../src/pressure/tracker';
import { bpftoolDumpCount, createMap, mapOps } from '../helpers/kernel';

const MAX = 600;
const RATE = 50; // entries per second: full 12 s after the start
const NAME = 'emp_fc_rate';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('time to full of a real map filled at 50 entries/s is within 20 % of the truth', async (t) => {
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: MAX, name: NAME });
  const collector = new Collector({ filter: (name) => name === NAME });
  t.teardown(() => collector.close());
  const tracker = new PressureTracker(loadConfig({ env: {} }).config.pressure);

  // The filler inserts whatever is due by the wall clock, so the rate holds even when a
  // timer fires late on a busy machine.
  const start = Date.now();
  let inserted = 0;
  let fullAt: number | null = null;
  const filler = setInterval(() => {
    const due = Math.min(MAX, Math.floor(((Date.now() - start) / 1000) * RATE));
    if (due > inserted) inserted += mapOps().fill(m.fd, 4, 8, inserted, due - inserted).inserted;
    if (inserted >= MAX && fullAt === null) fullAt = Date.now();
  }, 10);
  t.teardown(() => clearInterval(filler));

  const predictions: Array<{ at: number; fill: number; ttf: number; growth: number }> = [];
  while (fullAt === null) {
    await sleep(250);
    const c = await collector.collect();
    const p = tracker.update(c).readout.maps.get(m.id);
    if (!p) throw new Error(`map ${m.id} not in the collection`);
    if (p.timeToFullS !== null) predictions.push({ at: c.time, fill: p.fill!, ttf: p.timeToFullS, growth: p.growthPerS! });
  }
  clearInterval(filler);
  const full = fullAt as number;

  t.equal(bpftoolDumpCount(m.id), MAX, 'the map is full');
  const last = tracker.update(await collector.collect()).readout.maps.get(m.id);
  t.equal(last?.fill, MAX, 'and the collector says so');

  // Predictions with a few seconds of history and a few seconds still to go.
  const judged = predictions.filter((p) => p.fill >= 0.3 * MAX && p.fill <= 0.8 * MAX);
  t.ok(judged.length >= 5, `${judged.length} predictions between 30 % and 80 % full`);
  for (const p of judged) {
    const predicted = p.at + p.ttf * 1000;
    const remaining = full - p.at;
    const error = Math.abs(predicted - full) / remaining;
    t.ok(error <= 0.2, `at ${p.fill}/${MAX}: full in ${(p.ttf).toFixed(2)} s predicted, ${(remaining / 1000).toFixed(2)} s true (${(error * 100).toFixed(1)} % off)`);
    t.ok(Math.abs(p.growth - RATE) <= 0.2 * RATE, `growth ${p.growth.toFixed(1)}/s against ${RATE}/s`);
  }
});
