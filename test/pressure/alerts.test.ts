// SPDX-License-Identifier: Apache-2.0
// What the operator reads: nothing before the agent has started, then one line where the maps
// stand, one line per transition up to pressure.max_transition_lines a collection (the most
// severe first) and one line counting the rest, the advice to raise max_entries, and the
// periodic summary line.
import t from 'tap';
import type { Collection, MapStats } from '../../src/collector';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { formatGrowth, formatTimeToFull } from '../../src/pressure/format';
import { PressureMonitor } from '../../src/pressure/monitor';
import { parseLogLine, type LogLine } from '../helpers/agent-process';
import { COLLECTION_DEFAULTS, MAP_DEFAULTS } from '../helpers/collections';

const CAP = 10_000;

function map(id: number, entries: number | null, over: Partial<MapStats> = {}): MapStats {
  const maxEntries = over.maxEntries ?? CAP;
  return {
    ...MAP_DEFAULTS,
    id, name: `m${id}`, type: 'hash', keySize: 4, valueSize: 8, maxEntries, mapFlags: 0,
    entries, pendingBytes: null, utilization: entries === null ? null : entries / maxEntries, countMethod: 'kfunc', countAgeMs: null, countStale: false,
    notCounted: null, memoryBytes: 1 << 20, memoryEstimated: false,
    ...over,
  };
}

function monitor(args: string[] = []): { mon: PressureMonitor; logs: () => LogLine[]; raw: string[] } {
  const { config } = loadConfig({ args, env: {} });
  const raw: string[] = [];
  const mon = new PressureMonitor(config, createLogger('debug', (l) => raw.push(l)));
  return { mon, raw, logs: () => raw.map(parseLogLine).filter((l): l is LogLine => l !== null) };
}

const T0 = 1_700_000_000_000;
const coll = (i: number, maps: MapStats[]): Collection => ({ ...COLLECTION_DEFAULTS, time: T0 + i * 10_000, durationMs: 1, maps, mapsSeen: maps.length, bytesRead: 0, memoryError: null, walks: 0, walkError: null });
const transitions = (logs: LogLine[]) => logs.filter((l) => l.message.startsWith('map pressure'));

t.test('before begin(): levels are computed, nothing is said', async (t) => {
  const { mon, raw } = monitor(['--pressure.summary-interval=10s']);
  for (let i = 0; i < 5; i++) mon.update(coll(i, [map(1, 9500), map(2, 7500)]));
  t.equal(raw.length, 0, 'not a line');
  t.equal(mon.latest()?.maps.get(1)?.level, 'critical', 'but the level is known');
  t.notOk(mon.live);
});

t.test('begin(): one line where the maps stand, the fullest ten; no line per map', async (t) => {
  const { mon, logs } = monitor();
  const maps = [
    ...Array.from({ length: 30 }, (_, i) => map(100 + i, 9000 + i)), // critical
    ...Array.from({ length: 20 }, (_, i) => map(200 + i, 7000 + i)), // warning
    map(300, 500),
    map(301, CAP, { type: 'lru_hash' }), // full, levels off: counted, not ranked
    map(302, null, { type: 'array', notCounted: 'preallocated' }),
  ];
  mon.update(coll(0, maps));
  mon.begin();
  mon.begin(); // idempotent
  const lines = logs();
  t.equal(lines.length, 1, 'one line');
  t.equal(lines[0]?.message, 'pressure at start');
  t.equal(lines[0]?.level, 'warn', 'warn: maps are past a threshold');
  t.match(lines[0]?.fields, { maps: '53', off: '1', normal: '1', warning: '20', critical: '30' });
  const named = lines[0]!.fields.fullest!.split(', ');
  t.equal(named.length, 10, 'ten maps named');
  t.same(named.slice(0, 2), ['m129 90.3% critical', 'm128 90.3% critical'], 'critical ones first, fullest first');
  t.notOk(lines[0]!.fields.fullest!.includes('m301'), 'the LRU whose levels are off is not among them');

  const quiet = monitor();
  quiet.mon.update(coll(0, [map(1, 10)]));
  quiet.mon.begin();
  t.match(quiet.logs()[0], { level: 'info', message: 'pressure at start' }, 'info when nothing is past a threshold');
});

t.test('one line per transition, with map, levels, fill, growth, time to full and the advice to raise', async (t) => {
  const { mon, logs } = monitor();
  mon.update(coll(0, [map(7, 6800), map(8, 100)]));
  mon.begin();
  // 5 entries/s from 6800: warning at 7000 (t = 40 s), critical at 8000 (t = 240 s); 40 collections.
  for (let i = 1; i < 40; i++) mon.update(coll(i, [map(7, 6800 + 50 * i), map(8, 100)]));
  const lines = transitions(logs());
  t.equal(lines.length, 2, 'two transitions, two lines, over 40 collections');
  const [w, c] = lines;
  t.equal(w?.message, 'map pressure normal -> warning');
  t.equal(w?.level, 'warn');
  t.match(w?.fields, {
    id: '7', name: 'm7', type: 'hash', from: 'normal', to: 'warning', entries: '7000/10000', utilization: '70.0%', growth: '+5.0/s', full_in: '~10 min',
    peak: '7000/10000', fix: 'raise max_entries to 10500',
  });
  t.equal(c?.message, 'map pressure warning -> critical');
  t.equal(c?.level, 'error', 'reaching critical is logged as an error');
  t.match(c?.fields, { entries: '8000/10000', utilization: '80.0%', growth: '+5.0/s', full_in: '~7 min', fix: 'raise max_entries to 12000' });
});

t.test('easing is logged at info, without advice; a map that is not growing says so', async (t) => {
  const { mon, logs } = monitor(['--pressure.clear-after=1']);
  mon.update(coll(0, [map(7, 10)]));
  mon.begin();
  mon.update(coll(1, [map(7, 9000)]));
  mon.update(coll(2, [map(7, 9000)]));
  mon.update(coll(3, [map(7, 1000)]));
  const lines = transitions(logs());
  t.same(lines.map((l) => [l.level, l.message]), [
    ['error', 'map pressure normal -> critical'],
    ['info', 'map pressure critical -> normal'],
  ]);
  t.equal(lines[1]?.fields.fix, undefined, 'no advice when easing');
  t.equal(lines[1]?.fields.full_in, 'not growing');
});

t.test('a full map: full_in says full; the advice says "at least" (inserts may have failed)', async (t) => {
  const { mon, logs } = monitor();
  mon.update(coll(0, [map(7, 10, { maxEntries: 100 })]));
  mon.begin();
  mon.update(coll(1, [map(7, 100, { maxEntries: 100 })]));
  t.match(transitions(logs())[0]?.fields, { to: 'critical', full_in: 'full', fix: 'raise max_entries to at least 150' });
});

t.test('a flood: at most max_transition_lines lines a collection, the most severe first, one line for the rest', async (t) => {
  const { mon, logs } = monitor(['--pressure.max-transition-lines=5']);
  const quiet = Array.from({ length: 1000 }, (_, i) => map(i + 1, 100));
  mon.update(coll(0, quiet));
  mon.begin();
  // 600 maps to critical, 300 to warning, in one collection.
  mon.update(coll(1, quiet.map((m, i) => (i < 300 ? map(m.id, 7500) : i < 900 ? map(m.id, 9000 + (i % 7)) : m))));
  let lines = logs().slice(1);
  t.equal(lines.length, 6, 'five lines and one more');
  t.same(lines.slice(0, 5).map((l) => l.fields.to), Array(5).fill('critical'), 'critical ones first');
  t.equal(lines[5]?.message, 'map pressure: 895 more transitions in this collection, not logged one by one');
  t.equal(lines[5]?.level, 'error', 'as severe as the worst it counts');
  t.match(lines[5]?.fields, { more: '895', to_critical: '595', to_warning: '300', to_normal: '0' });

  // All back to normal (clear_after 2): two quiet collections, then one with 900 easings.
  mon.update(coll(2, quiet));
  mon.update(coll(3, quiet));
  lines = logs().slice(7);
  t.equal(lines.length, 6);
  t.match(lines[5], { level: 'info', fields: { more: '895', to_normal: '895' } }, 'easings are counted at info');

  const none = monitor(['--pressure.max-transition-lines=0']);
  none.mon.update(coll(0, quiet));
  none.mon.begin();
  none.mon.update(coll(1, [map(1, 9000), ...quiet.slice(1)]));
  t.same(none.logs().slice(1).map((l) => l.message), ['map pressure: 1 more transition in this collection, not logged one by one'], '0: only the count');
});

t.test('names are escaped already and stay one valid line', async (t) => {
  const { mon, raw } = monitor();
  mon.update(coll(0, [map(7, 10, { name: 'a "b" \\x1b[31m' })]));
  mon.begin();
  mon.update(coll(1, [map(7, 9000, { name: 'a "b" \\x1b[31m' })]));
  const line = raw.find((l) => l.includes('map pressure'))!;
  t.notMatch(line, /[\x00-\x1f\x7f]/, 'no control bytes');
  t.equal(parseLogLine(line)?.fields.name, 'a "b" \\x1b[31m', 'the name round-trips through the quoting');
});

t.test('the summary line: maps by level and the three fullest, at its interval, counted from the start line', async (t) => {
  const { mon, logs } = monitor(['--pressure.summary-interval=30s']);
  const maps = [map(1, 9500), map(2, 7500), map(3, 500), map(4, 8200), map(5, null, { type: 'array', notCounted: 'preallocated' }), map(6, 10_000, { type: 'lru_hash' })];
  mon.update(coll(0, maps));
  mon.begin();
  for (let i = 1; i < 13; i++) mon.update(coll(i, maps)); // to 120 s
  const summaries = logs().filter((l) => l.message === 'pressure summary');
  t.equal(summaries.length, 4, 'at 30, 60, 90 and 120 s (the start line at 0)');
  t.match(summaries[0]?.fields, { maps: '6', off: '1', normal: '1', warning: '1', critical: '2', fullest: 'm1 95.0% critical, m4 82.0% critical, m2 75.0% warning' });
});

t.test('no summary by default, and a quiet host writes only its start line', async (t) => {
  const { mon, logs } = monitor();
  mon.update(coll(0, [map(1, 100)]));
  mon.begin();
  for (let i = 1; i < 20; i++) mon.update(coll(i, [map(1, 100)]));
  t.same(logs().map((l) => l.message), ['pressure at start']);
});

t.test('wording of growth and time to full', async (t) => {
  t.equal(formatTimeToFull(null), '-');
  t.equal(formatTimeToFull(0.4), '<1 s', 'never "now": that would say full');
  t.equal(formatTimeToFull(45), '~45 s');
  t.equal(formatTimeToFull(12 * 60 + 10), '~12 min');
  t.equal(formatTimeToFull(5 * 3600), '~5 h');
  t.equal(formatTimeToFull(4 * 86400), '~4 d');
  t.equal(formatGrowth(null), '-');
  t.equal(formatGrowth(0), '0/s');
  t.equal(formatGrowth(12.46), '+12/s');
  t.equal(formatGrowth(-3.2), '-3.2/s');
  t.equal(formatGrowth(1234), '+1.2k/s');
  t.equal(formatGrowth(0.004), '+0.004/s');
});
