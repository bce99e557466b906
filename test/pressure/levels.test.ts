// SPDX-License-Identifier: Apache-2.0
// Levels: which thresholds apply to a map, and hysteresis on sequences of fills.
import t from 'tap';
import type { Collection, MapStats } from '../../src/collector';
import { loadConfig } from '../../src/config';
import { levelOf, nextLevel, INITIAL_LEVEL, thresholdResolver, type LevelState } from '../../src/pressure/levels';
import { parseRules } from '../../src/pressure/settings';
import { PressureTracker } from '../../src/pressure/tracker';
import { COLLECTION_DEFAULTS, MAP_DEFAULTS } from '../helpers/collections';

const MAX = 1000;

function map(id: number, entries: number, over: Partial<MapStats> = {}): MapStats {
  return {
    ...MAP_DEFAULTS,
    id, name: `m${id}`, type: 'hash', keySize: 4, valueSize: 8, maxEntries: MAX, mapFlags: 0,
    entries, pendingBytes: null, utilization: entries / MAX, countMethod: 'kfunc', notCounted: null, memoryBytes: 4096,
    ...over,
  };
}

function coll(time: number, maps: MapStats[]): Collection {
  return { ...COLLECTION_DEFAULTS, time, durationMs: 1, maps, mapsSeen: maps.length, bytesRead: 0, memoryError: null };
}

const defaults = loadConfig({ env: {} }).config.pressure;

t.test('thresholds: name glob over type over global; LRU off by default', async (t) => {
  t.equal(defaults.warning, 0.7);
  t.equal(defaults.critical, 0.8);
  const resolve = thresholdResolver({ ...defaults, names: parseRules(['ct_*=0.5/0.6', 'ct_big=0.9/0.95']) });
  t.same(resolve('foo', 'hash'), { warning: 0.7, critical: 0.8 }, 'global');
  t.same(resolve('foo', 'lru_hash'), { warning: null, critical: null }, 'LRU: no levels');
  t.same(resolve('foo', 'lru_percpu_hash'), { warning: null, critical: null }, 'per-CPU LRU: no levels');
  t.same(resolve('ct_v4', 'lru_hash'), { warning: 0.5, critical: 0.6 }, 'a name rule beats the type rule');
  t.same(resolve('ct_big', 'hash'), { warning: 0.5, critical: 0.6 }, 'the first matching glob wins');
  const typed = thresholdResolver({ ...defaults, types: parseRules('queue=off/0.9') });
  t.same(typed('q', 'queue'), { warning: null, critical: 0.9 }, 'a type rule with one level off');
  t.same(typed('x', 'lru_hash'), { warning: 0.7, critical: 0.8 }, 'setting pressure.types replaces the LRU defaults');
});

t.test('levelOf with and without a margin', async (t) => {
  const th = { warning: 0.7, critical: 0.8 };
  t.equal(levelOf(0.69, th), 'normal');
  t.equal(levelOf(0.7, th), 'warning');
  t.equal(levelOf(0.8, th), 'critical');
  t.equal(levelOf(1, { warning: null, critical: null }), 'normal');
  t.equal(levelOf(0.66, th, 0.05), 'warning', 'within the margin the level holds');
  t.equal(levelOf(0.64, th, 0.05), 'normal');
});

/** Feeds fills (ratios) through the tracker; returns the transitions as "from->to@index". */
function run(fills: number[], h: { margin: number; clearAfter: number }, over: Partial<MapStats> = {}): string[] {
  const tracker = new PressureTracker({ ...defaults, hysteresisMargin: h.margin, clearAfter: h.clearAfter });
  const out: string[] = [];
  fills.forEach((f, i) => {
    const { transitions } = tracker.update(coll(1_000_000 + i * 10_000, [map(7, Math.round(f * MAX), over)]));
    for (const tr of transitions) out.push(`${tr.from}->${tr.to}@${i}`);
  });
  return out;
}

// A map hovering around the warning threshold, then around critical, then draining.
const HOVER = [0.5, 0.69, 0.71, 0.69, 0.7, 0.68, 0.71, 0.69, 0.79, 0.81, 0.79, 0.8, 0.78, 0.81, 0.77, 0.76, 0.74, 0.74, 0.6, 0.6, 0.6];

t.test('hysteresis: hovering at a threshold does not flap', async (t) => {
  const without = run(HOVER, { margin: 0, clearAfter: 1 });
  t.ok(without.length >= 10, `without hysteresis the same fills flap (${without.length} transitions)`);
  t.same(run(HOVER, { margin: 0.05, clearAfter: 2 }), [
    'normal->warning@2',
    'warning->critical@9',
    'critical->warning@17', // 0.74 twice in a row: below 0.8 - 0.05
    'warning->normal@19', // 0.6 twice in a row: below 0.7 - 0.05
  ]);
});

t.test('hysteresis: the margin alone, and N collections alone', async (t) => {
  t.same(run(HOVER, { margin: 0.05, clearAfter: 1 }), ['normal->warning@2', 'warning->critical@9', 'critical->warning@16', 'warning->normal@18']);
  // N collections alone: a dip of one collection does not lower the level, two do.
  t.same(run([0.75, 0.69, 0.75, 0.69, 0.69, 0.75], { margin: 0, clearAfter: 2 }), ['normal->warning@0', 'warning->normal@4', 'normal->warning@5']);
});

t.test('raising is immediate and may skip a level; lowering may skip one too', async (t) => {
  t.same(run([0.1, 0.95, 0.95, 0.1, 0.1], { margin: 0.05, clearAfter: 2 }), ['normal->critical@1', 'critical->normal@4']);
  t.same(run([0.9, 0.72, 0.72], { margin: 0.05, clearAfter: 2 }), ['normal->critical@0', 'critical->warning@2']);
});

t.test('a dip that does not last resets the count', async (t) => {
  let s: LevelState = INITIAL_LEVEL;
  const th = { warning: 0.7, critical: 0.8 };
  const h = { margin: 0.05, clearAfter: 3 };
  const seen: string[] = [];
  for (const u of [0.9, 0.7, 0.7, 0.78, 0.7, 0.7, 0.7]) {
    s = nextLevel(s, u, th, h);
    seen.push(s.level);
  }
  t.same(seen, ['critical', 'critical', 'critical', 'critical', 'critical', 'critical', 'warning']);
});

t.test('off means off: an LRU at full is `off`, never `normal`, and never changes level; maps without utilization have none', async (t) => {
  t.same(run([0.2, 1, 1, 0.1, 1], { margin: 0.05, clearAfter: 1 }, { type: 'lru_hash' }), [], 'no transitions');
  const tracker = new PressureTracker({ ...defaults, hysteresisMargin: 0.05, clearAfter: 2 });
  const { readout } = tracker.update(
    coll(1, [
      map(1, 0, { type: 'array', entries: null, utilization: null, notCounted: 'preallocated' }),
      map(2, MAX, { type: 'lru_hash' }),
      map(3, MAX, { type: 'lru_percpu_hash' }),
    ]),
  );
  t.equal(readout.maps.get(1)?.level, null, 'an array has no level');
  t.equal(readout.maps.get(1)?.growthPerS, null);
  t.match(readout.maps.get(2), { level: 'off', utilization: 1, suggestedMaxEntries: null }, 'LRU: off, no sizing advice');
  t.equal(readout.maps.get(3)?.level, 'off');
  // One level on is not off.
  const half = new PressureTracker({ ...defaults, types: parseRules('lru_hash=off/0.98'), hysteresisMargin: 0.05, clearAfter: 2 });
  const r = half.update(coll(1, [map(2, 900, { type: 'lru_hash' }), map(4, MAX, { type: 'lru_hash' })]));
  t.equal(r.readout.maps.get(2)?.level, 'normal', 'lru_hash=off/0.98 at 90 %: normal');
  t.same(r.transitions.map((x) => `${x.map.id}:${x.to}`), ['4:critical'], 'and critical at full');
});

t.test('state is dropped for maps that are gone, and restarts for a new map under an old id', async (t) => {
  const tracker = new PressureTracker({ ...defaults, hysteresisMargin: 0.05, clearAfter: 2 });
  tracker.update(coll(0, [map(1, 900), map(2, 100)]));
  t.equal(tracker.tracked, 2);
  tracker.update(coll(10_000, [map(2, 100)]));
  t.equal(tracker.tracked, 1, 'map 1 is gone and forgotten');
  const again = tracker.update(coll(20_000, [map(1, 900)]));
  t.same(again.transitions.map((x) => `${x.from}->${x.to}`), ['normal->critical'], 'a map seen again starts from normal');
  const renamed = tracker.update(coll(30_000, [map(1, 900, { name: 'other' })]));
  t.same(renamed.transitions.map((x) => `${x.from}->${x.to}`), ['normal->critical'], 'another map under the same id starts afresh');
});

t.test('reconfigure: maps already tracked take the new thresholds at their next collection, and keep their level until then', async (t) => {
  const tracker = new PressureTracker({ ...defaults, warning: 0.8, critical: 0.95, hysteresisMargin: 0.05, clearAfter: 1 });
  tracker.update(coll(0, [map(1, 850), map(2, 300)]));
  t.equal(tracker.latest()!.maps.get(1)!.level, 'warning');
  tracker.reconfigure({ ...defaults, warning: 0.2, critical: 0.5, hysteresisMargin: 0.05, clearAfter: 1, names: parseRules('m2=0.9/0.99') });
  t.equal(tracker.latest()!.maps.get(1)!.level, 'warning', 'the readout already taken is unchanged');
  const next = tracker.update(coll(10_000, [map(1, 850), map(2, 300)]));
  t.same(next.transitions.map((x) => `${x.map.id}:${x.from}->${x.to}`), ['1:warning->critical'], 'map 1 under the new global rule; map 2 under its new name rule');
  t.same(tracker.latest()!.maps.get(2)!.thresholds, { warning: 0.9, critical: 0.99 });
});

t.test('the readout is kept in place, and what outlives a collection is a copy', async (t) => {
  const tracker = new PressureTracker({ ...defaults, hysteresisMargin: 0.05, clearAfter: 2 });
  const first = tracker.update(coll(0, [map(1, 100), map(2, 950)]));
  const [toCritical] = first.transitions;
  t.match(toCritical, { from: 'normal', to: 'critical', map: { id: 2, fill: 950 } });
  const second = tracker.update(coll(10_000, [map(2, 400), map(3, 10)]));
  t.equal(second.readout, tracker.latest(), 'the latest readout');
  t.same([...second.readout.maps.keys()], [2, 3], 'map 1 gone from the readout, map 3 in it');
  t.equal(second.readout.maps.get(2)?.fill, 400, 'the readout has this collection\'s fill');
  t.equal(toCritical!.map.fill, 950, 'a transition keeps the fill of its own collection (a queued webhook sends it later)');
  t.equal(toCritical!.map.utilization, 950 / MAX);
  t.ok(Object.isFrozen(toCritical!.map), 'and is a frozen copy');
  const renamed = tracker.update(coll(20_000, [map(2, 400, { name: 'other' })]));
  t.equal(renamed.readout.maps.get(2)?.name, 'other', 'another map under the same id: its own entry');
  t.equal(renamed.readout.maps.size, 1);
});
