// SPDX-License-Identifier: Apache-2.0
// The forecast against the truth on real maps read by the real collector: a hash map filled at
// a known rate (50 entries/s), each prediction of when it will be full compared with when it
// actually became full; and one that stops and grows again, against the rules (counted in
// collections, not seconds).
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

t.test('a real map that stops and grows again: no forecast from the 3rd collection after it stops, one by the 3rd after it grows again', async (t) => {
  const NAME2 = 'prs_fc_stop';
  const CAP = 1000;
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: CAP, name: NAME2 });
  const collector = new Collector({ filter: (name) => name === NAME2 });
  t.teardown(() => collector.close());
  const tracker = new PressureTracker(loadConfig({ env: {} }).config.pressure);

  // 100 entries/s to 300, hold, then 100/s again: the filler notes when it really stopped and
  // started (the truth of a collection is whether its read began after that).
  // Set by the filler's timer: the loops below must not narrow it to its first value.
  let phase = 'grow' as 'grow' | 'hold' | 'again' | 'done';
  let inserted = 0;
  let phaseStart = Date.now();
  let phaseFrom = 0;
  let stoppedAt = Infinity;
  let resumedAt = Infinity;
  const filler = setInterval(() => {
    if (phase === 'hold' || phase === 'done') return;
    const target = phase === 'grow' ? 300 : 700;
    const due = Math.min(target, phaseFrom + Math.floor(((Date.now() - phaseStart) / 1000) * 100));
    if (due > inserted) {
      inserted += mapOps().fill(m.fd, 4, 8, inserted, due - inserted).inserted;
      if (phase === 'again' && resumedAt === Infinity) resumedAt = Date.now();
    }
    if (inserted >= target) {
      if (phase === 'grow') stoppedAt = Date.now();
      phase = phase === 'grow' ? 'hold' : 'done';
    }
  }, 5);
  t.teardown(() => clearInterval(filler));

  const seen: Array<{ readAt: number; fill: number; ttf: number | null }> = [];
  let afterStop = 0;
  while (phase !== 'done' || seen.at(-1)!.fill < 700) {
    await sleep(200);
    const c = await collector.collect();
    const p = tracker.update(c).readout.maps.get(m.id);
    if (!p) throw new Error(`map ${m.id} not in the collection`);
    seen.push({ readAt: c.time - c.durationMs, fill: p.fill!, ttf: p.timeToFullS });
    if (phase === 'hold' && seen.at(-1)!.readAt > stoppedAt && ++afterStop >= 8) {
      phaseStart = Date.now();
      phaseFrom = inserted;
      phase = 'again';
    }
  }
  clearInterval(filler);

  const held = seen.filter((s) => s.readAt > stoppedAt && s.readAt < resumedAt);
  t.ok(held.length >= 8, `${held.length} collections while it held at 300`);
  t.same(held.map((s) => s.fill), held.map(() => 300), 'and it did');
  t.same(held.slice(2).map((s) => s.ttf), held.slice(2).map(() => null), 'no forecast from the 3rd collection after it stopped');
  const again = seen.filter((s) => s.readAt > resumedAt && s.fill < 700);
  t.ok(again.length >= 3, `${again.length} collections while it grew again`);
  t.same(again.slice(2).map((s) => s.ttf !== null), again.slice(2).map(() => true), 'a forecast from the 3rd collection after it grew again');
  const last = again.at(-1)!;
  t.ok(last.ttf !== null && Math.abs(last.ttf - (CAP - last.fill) / 100) <= 0.2 * ((CAP - last.fill) / 100), `at its pace: ${last.ttf?.toFixed(1)} s for ${CAP - last.fill} entries at 100/s`);
});
