// SPDX-License-Identifier: Apache-2.0
// What the operator reads: one log line per transition (never per collection), its fields,
// and the periodic summary line.
import t from 'tap';
import type { Collection, MapStats } from '../../src/collector';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { formatGrowth, formatTimeToFull } from '../../src/pressure/format';
import { PressureMonitor } from '../../src/pressure/monitor';
import { parseLogLine, type LogLine } from '../helpers/agent-process';

const CAP = 10_000;

function map(id: number, entries: number | null, over: Partial<MapStats> = {}): MapStats {
  return {
    id, name: `m${id}`, type: 'hash', keySize: 4, valueSize: 8, maxEntries: CAP, mapFlags: 0,
    entries, pendingBytes: null, utilization: entries === null ? null : entries / CAP, countMethod: 'kfunc', notCounted: null, memoryBytes: 1 << 20,
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
const coll = (i: number, maps: MapStats[]): Collection => ({ time: T0 + i * 10_000, durationMs: 1, maps, mapsSeen: maps.length, bytesRead: 0, memoryError: null });

t.test('one line per transition, with map, levels, fill, growth and time to full', async (t) => {
  const { mon, logs } = monitor();
  // 5 entries/s from 6800: warning at 7000 (t = 40 s), critical at 8000 (t = 240 s); 40 collections.
  for (let i = 0; i < 40; i++) mon.update(coll(i, [map(7, 6800 + 50 * i), map(8, 100)]));
  const lines = logs().filter((l) => l.message.startsWith('map pressure'));
  t.equal(lines.length, 2, 'two transitions, two lines, over 40 collections');
  const [w, c] = lines;
  t.equal(w?.message, 'map pressure normal -> warning');
  t.equal(w?.level, 'warn');
  t.match(w?.fields, { id: '7', name: 'm7', type: 'hash', from: 'normal', to: 'warning', entries: '7000/10000', utilization: '70.0%', growth: '+5.0/s', full_in: '~10 min' });
  t.equal(c?.message, 'map pressure warning -> critical');
  t.equal(c?.level, 'error', 'reaching critical is logged as an error');
  t.match(c?.fields, { entries: '8000/10000', utilization: '80.0%', growth: '+5.0/s', full_in: '~7 min' });
});

t.test('easing is logged at info; a map that is not growing says so', async (t) => {
  const { mon, logs } = monitor(['--pressure.clear-after=1']);
  mon.update(coll(0, [map(7, 9000)]));
  mon.update(coll(1, [map(7, 9000)]));
  mon.update(coll(2, [map(7, 1000)]));
  const lines = logs().filter((l) => l.message.startsWith('map pressure'));
  t.same(lines.map((l) => [l.level, l.message]), [
    ['error', 'map pressure normal -> critical'],
    ['info', 'map pressure critical -> normal'],
  ]);
  t.equal(lines[0]?.fields.full_in, 'not growing', 'one sample: no forecast');
});

t.test('names are escaped already and stay one valid line', async (t) => {
  const { mon, raw } = monitor();
  mon.update(coll(0, [map(7, 9000, { name: 'a "b" \\x1b[31m' })]));
  const line = raw.find((l) => l.includes('map pressure'))!;
  t.notMatch(line, /[\x00-\x1f\x7f]/, 'no control bytes');
  t.equal(parseLogLine(line)?.fields.name, 'a "b" \\x1b[31m', 'the name round-trips through the quoting');
});

t.test('the summary line: maps by level and the three fullest, at its interval only', async (t) => {
  const { mon, logs } = monitor(['--pressure.summary-interval=30s']);
  const maps = [map(1, 9500), map(2, 7500), map(3, 500), map(4, 8200), map(5, null, { type: 'array', notCounted: 'preallocated' }), map(6, 10_000, { type: 'lru_hash' })];
  for (let i = 0; i < 13; i++) mon.update(coll(i, maps)); // 120 s
  const summaries = logs().filter((l) => l.message === 'pressure summary');
  t.equal(summaries.length, 5, 'at 0, 30, 60, 90 and 120 s');
  t.match(summaries[0]?.fields, { maps: '6', off: '1', normal: '1', warning: '1', critical: '2', top: 'm6 100.0% off, m1 95.0% critical, m4 82.0% critical' }, 'the LRU is off, not normal');
});

t.test('no summary by default (the daemon logs transitions only)', async (t) => {
  const { mon, logs } = monitor();
  for (let i = 0; i < 20; i++) mon.update(coll(i, [map(1, 100)]));
  t.equal(logs().length, 0, 'a quiet host writes nothing');
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
