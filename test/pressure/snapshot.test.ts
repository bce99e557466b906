// SPDX-License-Identifier: Apache-2.0
// `snapshot` with levels (off where they are off), growth, time to full, peak and suggested
// max_entries: two collections a configurable interval apart, against real maps at known fills
// and one growing at a known rate.
import t from 'tap';
import { runCli } from '../helpers/agent-process';
import { createMap, fill, mapOps } from '../helpers/kernel';

interface SnapMap {
  id: number;
  name: string;
  entries: number | null;
  max_entries: number;
  level: string | null;
  growth_per_s: number | null;
  time_to_full_s: number | null;
  peak_entries: number | null;
  peak_utilization: number | null;
  peak_over_s: number | null;
  suggested_max_entries: number | null;
}

const RATE = 200; // entries/s into emp_snap_grow while snapshot runs

t.test('snapshot JSON: level, growth_per_s, time_to_full_s, peak and suggested max_entries', async (t) => {
  const warn = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 100, name: 'emp_snap_warn' });
  const lru = createMap(t, { type: 'lru_hash', keySize: 4, valueSize: 8, maxEntries: 100, name: 'emp_snap_lru' });
  const arr = createMap(t, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 8, name: 'emp_snap_arr' });
  const grow = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 100_000, name: 'emp_snap_grow' });
  fill(warn, 4, 8, 75);
  fill(lru, 4, 8, 100);
  const start = Date.now();
  let grown = 0;
  const filler = setInterval(() => {
    const due = Math.floor(((Date.now() - start) / 1000) * RATE);
    if (due > grown) grown += mapOps().fill(grow.fd, 4, 8, grown, due - grown).inserted;
  }, 10);
  t.teardown(() => clearInterval(filler));

  const grownBefore = grown;
  const r = await runCli(t, ['snapshot', '--output=json', '--filter.include-names=emp_snap_*', '--pressure.snapshot-interval=1s']);
  const grownDuring = grown - grownBefore;
  t.equal(r.code, 0);
  const maps = new Map((JSON.parse(r.stdout) as { maps: SnapMap[] }).maps.map((m) => [m.id, m]));
  t.match(maps.get(warn.id), { level: 'warning', growth_per_s: 0, time_to_full_s: null }, '75 %: warning, flat');
  t.match(maps.get(warn.id), { peak_entries: 75, peak_utilization: 0.75, suggested_max_entries: 113 }, 'its peak over the two readings, and 75 x 1.5');
  t.ok(maps.get(warn.id)!.peak_over_s! >= 1 && maps.get(warn.id)!.peak_over_s! < 60, `the peak covers the snapshot's readings only (${maps.get(warn.id)!.peak_over_s} s)`);
  t.match(maps.get(lru.id), { level: 'off', time_to_full_s: null, peak_entries: 100, suggested_max_entries: null }, 'LRU: levels off by default, shown as off, no sizing advice');
  t.match(maps.get(arr.id), { level: null, growth_per_s: null, time_to_full_s: null, peak_entries: null, suggested_max_entries: null }, 'array: nothing to say');
  const g = maps.get(grow.id)!;
  t.equal(g.level, 'normal');
  t.ok(g.peak_entries !== null && g.peak_entries >= g.entries! && g.peak_entries <= grown, 'a growing map peaks at its latest reading');
  // The two readings are at least 1 s apart, so their difference per second cannot exceed
  // what was inserted while the command ran. (The rate's accuracy against a known fill is
  // forecast-kernel.test.ts's job; one second of a timer-driven filler is too coarse for it.)
  t.ok(g.growth_per_s !== null && g.growth_per_s > 0, `growing (${g.growth_per_s}/s)`);
  t.ok(g.growth_per_s! <= grownDuring, `at most what was inserted meanwhile (${grownDuring})`);
  t.ok(g.time_to_full_s !== null && Math.abs(g.time_to_full_s - (g.max_entries - g.entries!) / g.growth_per_s!) < 1e-6 * g.time_to_full_s, 'time to full: what is left at that rate');

  const once = await runCli(t, ['snapshot', '--output=json', '--filter.include-names=emp_snap_*', '--pressure.snapshot-interval=0']);
  const single = (JSON.parse(once.stdout) as { maps: SnapMap[] }).maps;
  t.same(single.map((m) => [m.growth_per_s, m.time_to_full_s]), single.map(() => [null, null]), 'interval 0: one collection, no growth');
  t.equal(single.find((m) => m.id === warn.id)?.level, 'warning', 'levels still');
});

t.test('snapshot table: LEVEL, GROWTH, FULL IN, PEAK and SUGGESTED columns', async (t) => {
  const crit = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 100, name: 'emp_snap_crit' });
  fill(crit, 4, 8, 95);
  const r = await runCli(t, ['snapshot', '--filter.include-names=emp_snap_crit', '--pressure.snapshot-interval=100ms']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^ *ID +NAME +TYPE +OWNER +ENTRIES +MAX +UTIL +LEVEL +GROWTH +FULL IN +PEAK +SUGGESTED +MEMORY +METHOD +NOTE/);
  t.match(r.stdout, new RegExp(`${crit.id} +emp_snap_crit +hash +\\S+ +95 +100 +95\\.0% +critical +0/s +- +95\\.0% +143 `));
});
