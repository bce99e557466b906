// SPDX-License-Identifier: Apache-2.0
// `top` through a real pseudo-terminal (tmux): real maps at known fills, their bars coloured
// by level, the keys (filter, type, sort, reverse, quit), and the terminal put back on quit,
// on Ctrl-C and on SIGINT. Then the plain table when stdout is not a terminal, and the
// screen logic on its own (keys, no control bytes from names).
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import t from 'tap';
import type { Collection, MapStats } from '../../src/collector';
import { formatBytes } from '../../src/cli/format';
import { AgentError } from '../../src/errors';
import { colorWanted, handleKeys, initialView, renderScreen, termSafe, visibleRows } from '../../src/cli/top';
import { loadConfig } from '../../src/config';
import { PressureTracker } from '../../src/pressure/tracker';
import { runCli } from '../helpers/agent-process';
import { bpftoolMap, createMap, F_NO_PREALLOC, fill, mapOps } from '../helpers/kernel';
import { COLLECTION_DEFAULTS, MAP_DEFAULTS } from '../helpers/collections';

const SOCKET = `emp-test-top-${process.pid}`;
const ENTRY = path.join(__dirname, '..', 'helpers', 'agent-process.ts');
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => T | null | undefined | false, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Starts `top` from a shell in a detached 160x40 tmux session. The shell outlives it, so the
 * terminal state it leaves behind (alternate screen, cursor) can be read afterwards; the
 * shell prints top's pid first and its exit status last.
 */
async function startTop(session: string, args: string[]): Promise<number> {
  tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '40', 'env PS1="$ " bash --norc --noprofile');
  // The colours are asserted: NO_COLOR from the test runner's environment must not reach it.
  const node = ['env', '-u', 'NO_COLOR', process.execPath, ...process.execArgv, ENTRY, 'top', ...args].map(quote).join(' ');
  const line = `sh -c ${quote(`echo pid=$$; exec ${node}`)}; echo "exit=$?"`;
  tmux('send-keys', '-t', session, '-l', line);
  tmux('send-keys', '-t', session, 'Enter');
  const pid = await waitFor('top to start', () => /^pid=(\d+)$/m.exec(screen(session))?.[1]);
  return Number(pid);
}

/** After top exits: its exit status, and the terminal state it left. */
async function afterExit(session: string): Promise<string> {
  const status = await waitFor('top to exit', () => /^exit=(\d+)$/m.exec(screen(session))?.[1]);
  return `exit=${status} alternate=${pane(session, '#{alternate_on}')} cursor=${pane(session, '#{cursor_flag}')}`;
}

const screen = (session: string, escapes = false) => tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', session);
const pane = (session: string, format: string) => tmux('display-message', '-p', '-t', session, format).trim();
const rowOf = (text: string, name: string) => text.split('\n').find((l) => l.includes(` ${name} `));
const namesIn = (text: string) => [...text.matchAll(/ (emp_top_\w+) /g)].map((m) => m[1]);

t.test('top in a real terminal', async (t) => {
  t.teardown(() => {
    try {
      tmux('kill-server');
    } catch {
      // no server left
    }
  });
  const crit = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 100, name: 'emp_top_crit' });
  const warn = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 100, name: 'emp_top_warn' });
  const norm = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 100, name: 'emp_top_norm' });
  // Large enough to stay below emp_top_norm's 10 % for minutes at 40 entries/s.
  const grow = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 100_000, flags: F_NO_PREALLOC, name: 'emp_top_grow' });
  createMap(t, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 16, name: 'emp_top_arr' });
  fill(crit, 4, 8, 90);
  fill(warn, 4, 8, 75);
  fill(norm, 4, 8, 10);
  // emp_top_grow gains 40 entries a second while the view runs.
  const start = Date.now();
  let grown = 0;
  const filler = setInterval(() => {
    const due = Math.min(9000, Math.floor(((Date.now() - start) / 1000) * 40));
    if (due > grown) grown += mapOps().fill(grow.fd, 4, 8, grown, due - grown).inserted;
  }, 25);
  t.teardown(() => clearInterval(filler));

  await startTop('v', ['--filter.include-names=emp_top_*', '--top.refresh=300ms']);
  const first = await waitFor('the maps on screen', () => {
    const s = screen('v');
    return /emp_top_grow .* ~\d+ (s|min)/.test(s) && s;
  });
  t.equal(pane('v', '#{alternate_on} #{cursor_flag}'), '1 0', 'alternate screen, cursor hidden');
  t.match(first, /ebpf-map-pressure top/);
  t.match(first, /ID +NAME +TYPE +OWNER +FILL +UTIL +ENTRIES\/MAX +MEMORY +GROWTH +FULL IN +PEAK +SUGGEST/);
  t.same(namesIn(first), ['emp_top_crit', 'emp_top_warn', 'emp_top_norm', 'emp_top_grow', 'emp_top_arr'], 'fullest first, no utilization last');
  t.match(first, /1 critical .* 1 warning .* 2 normal .* 0 off/, 'maps by level in the header');
  for (const [m, name, n] of [[crit, 'emp_top_crit', 90], [warn, 'emp_top_warn', 75], [norm, 'emp_top_norm', 10]] as const) {
    const row = rowOf(first, name)!;
    t.match(row, new RegExp(` ${n}\\.0% +${n}/100 `), `${name}: utilization and entries/max`);
    t.ok(row.includes(formatBytes(bpftoolMap(m.id).bytes_memlock)), `${name}: memory as bpftool says`);
    t.match(row, new RegExp(`${'█'.repeat(n / 5)}${'░'.repeat(20 - n / 5)}`), `${name}: a bar of ${n / 5} cells of 20`);
  }
  t.match(rowOf(first, 'emp_top_grow'), / \+\d+(\.\d)?\/s +~\d+ (s|min) +\d+\.\d% +\d+$/, 'the growing map shows its growth, time to full, peak and suggestion');
  t.match(rowOf(first, 'emp_top_crit'), / 90\.0% +135$/, 'critical at 90/100: peak 90 %, suggested 135');
  t.match(rowOf(first, 'emp_top_arr'), / - +-\/16 .* - +- +- +-$/, 'the array has no fill, growth, forecast, peak or suggestion');

  const colours = screen('v', true);
  const bar = (name: string) => colours.split('\n').find((l) => l.includes(name))!;
  t.match(bar('emp_top_crit'), /\x1b\[31m█/, 'critical: a red bar');
  t.match(bar('emp_top_warn'), /\x1b\[33m█/, 'warning: a yellow bar');
  t.match(bar('emp_top_norm'), /\x1b\[32m█/, 'normal: a green bar');

  // Filter by name: / warn Enter.
  tmux('send-keys', '-t', 'v', '/', 'w', 'a', 'r', 'n', 'Enter');
  const filtered = await waitFor('the name filter', () => {
    const s = screen('v');
    return /filter name: warn /.test(s) && s;
  });
  t.same(namesIn(filtered), ['emp_top_warn'], 'only the matching map');
  tmux('send-keys', '-t', 'v', 'c', 't');
  const typed = await waitFor('the type filter', () => {
    const s = screen('v');
    return /type: array/.test(s) && s;
  });
  t.same(namesIn(typed), ['emp_top_arr'], 't: only arrays');
  tmux('send-keys', '-t', 'v', 'c', 's');
  const byGrowth = await waitFor('sorting by growth', () => {
    const s = screen('v');
    return /sort: growth, fastest first/.test(s) && s;
  });
  t.equal(namesIn(byGrowth)[0], 'emp_top_grow', 'the growing map first');
  tmux('send-keys', '-t', 'v', 'S', 'r');
  const reversed = await waitFor('the reversed sort', () => {
    const s = screen('v');
    return /sort: utilization, fullest first \(reversed\)/.test(s) && s;
  });
  t.same(namesIn(reversed), ['emp_top_arr', 'emp_top_grow', 'emp_top_norm', 'emp_top_warn', 'emp_top_crit']);

  tmux('send-keys', '-t', 'v', 'q');
  t.equal(await afterExit('v'), 'exit=0 alternate=0 cursor=1', 'q: exit 0, main screen back, cursor shown');
  t.notMatch(screen('v'), /ebpf-map-pressure top/, 'the view is gone from the screen');
});

for (const how of ['Ctrl-C', 'SIGINT', 'SIGTERM'] as const) {
  t.test(`top puts the terminal back on ${how}`, async (t) => {
    const session = `s${how.replace('-', '')}`;
    t.teardown(() => {
      try {
        tmux('kill-session', '-t', session);
      } catch {
        // gone already
      }
    });
    createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 10, name: 'emp_top_sig' });
    const pid = await startTop(session, ['--filter.include-names=emp_top_sig', '--top.refresh=200ms']);
    await waitFor('the view', () => / emp_top_sig +hash /.test(screen(session)));
    t.equal(pane(session, '#{alternate_on} #{cursor_flag}'), '1 0', 'in the view: alternate screen, no cursor');
    if (how === 'Ctrl-C') tmux('send-keys', '-t', session, 'C-c');
    else process.kill(pid, how);
    t.equal(await afterExit(session), 'exit=0 alternate=0 cursor=1', 'exit 0, main screen back, cursor shown');
    t.notMatch(screen(session), /ebpf-map-pressure top/, 'the view is gone from the screen');
  });
}

t.test('stdout not a terminal: a plain table, once', async (t) => {
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 100, name: 'emp_top_pipe' });
  fill(m, 4, 8, 85);
  const r = await runCli(t, ['top', '--filter.include-names=emp_top_pipe', '--pressure.snapshot-interval=200ms', '--log.level=warn']);
  t.equal(r.code, 0);
  t.notMatch(r.stdout, /\x1b/, 'no escape sequences');
  t.match(r.stdout, /^ *ID +NAME +TYPE +OWNER +ENTRIES +MAX +UTIL +LEVEL +GROWTH +FULL IN +PEAK +SUGGESTED +MEMORY/);
  t.match(r.stdout, new RegExp(`${m.id} +emp_top_pipe +hash +node\\[${process.pid}\\] +85 +100 +85\\.0% +critical +0/s +- +85\\.0% +128 `), 'the OWNER column names this process');
  t.match(r.stdout, /\n1 maps/, 'printed once');
  t.equal(r.stdout.match(/emp_top_pipe/g)?.length, 1);
});

// ---- the screen logic ------------------------------------------------------------------

function map(id: number, name: string, entries: number | null, type = 'hash'): MapStats {
  return {
    ...MAP_DEFAULTS,
    id, name, type, keySize: 4, valueSize: 8, maxEntries: 100, mapFlags: 0, entries, pendingBytes: null,
    utilization: entries === null ? null : entries / 100, countMethod: 'kfunc', notCounted: null, memoryBytes: 1024,
  };
}

t.test('keys: filter editing, Esc, Backspace, type cycling, sort, scroll, quit', async (t) => {
  let v = initialView();
  v = handleKeys(v, '/ab', [], 10);
  t.same([v.nameFilter, v.editing !== null], ['ab', true], 'typing a filter');
  v = handleKeys(v, '\x7fc\r', [], 10);
  t.same([v.nameFilter, v.editing], ['ac', null], 'Backspace, then Enter keeps it');
  v = handleKeys(v, '/zz\x1b', [], 10);
  t.same([v.nameFilter, v.editing], ['ac', null], 'Esc restores the filter before');
  v = handleKeys(v, 'ttt', ['array', 'hash'], 10);
  t.equal(v.typeFilter, null, 'type cycles array, hash, back to any');
  v = handleKeys(v, 'tc', ['array', 'hash'], 10);
  t.same([v.typeFilter, v.nameFilter], [null, ''], 'c clears both');
  v = handleKeys(v, 'ss', [], 10);
  t.equal(v.sort, 'full_in');
  v = handleKeys(v, '\x1b[B\x1b[Bj\x1b[A\x1b[6~', [], 10);
  t.equal(v.scroll, 12, 'down, down, j, up, page down');
  t.equal(handleKeys(v, 'x\x03', [], 10).quit, true, 'Ctrl-C quits');
  t.equal(handleKeys(v, '/q', [], 10).quit, false, 'q while typing a filter is a letter');
});

t.test('off is not normal: a full LRU is counted as off and drawn dim, not green; a map at its limit says full', async (t) => {
  const c: Collection = {
    ...COLLECTION_DEFAULTS, time: 0, durationMs: 1, mapsSeen: 3, bytesRead: 0, memoryError: null,
    maps: [map(1, 'prs_lru', 100, 'lru_hash'), map(2, 'prs_norm', 10), map(3, 'prs_full', 100)],
  };
  const tracker = new PressureTracker(loadConfig({ env: {} }).config.pressure);
  const pressure = tracker.update(c).readout;
  const { lines } = renderScreen({ collection: c, pressure, error: null, refreshMs: 1000 }, initialView(), 160, 12);
  t.match(lines[0]!.replace(/\x1b\[[0-9;]*m/g, ''), /● 1 critical +● 0 warning +● 1 normal +● 1 off/, 'the full hash map critical, the LRU off');
  const lru = lines.find((l) => l.includes('prs_lru'))!;
  t.match(lru, /\x1b\[2m█/, 'a dim bar');
  t.notMatch(lru, /\x1b\[32m/, 'nothing green');
  const plain = (name: string) => lines.find((l) => l.includes(name))!.replace(/\x1b\[[0-9;]*m/g, '');
  t.match(plain('prs_lru'), / full +100\.0% +-$/, 'the LRU is full, with no sizing advice');
  t.match(plain('prs_full'), / full +100\.0% +150$/, 'the full hash map: "full", not "now", and a suggestion');
  t.match(plain('prs_norm'), / - +10\.0% +15$/);
});

t.test('the screen never carries control bytes from names, and fits the width', async (t) => {
  const c: Collection = { ...COLLECTION_DEFAULTS, time: 0, durationMs: 1, mapsSeen: 2, bytesRead: 0, memoryError: null, maps: [map(1, 'evil\x1b]0;pwn\x07\x9b', 50), map(2, 'ok', 10)] };
  const { lines } = renderScreen({ collection: c, pressure: null, error: null, refreshMs: 1000 }, initialView(), 100, 12);
  t.equal(lines.length, 12);
  const ours = /\x1b\[[0-9;]*m/g; // the view's own colours
  for (const l of lines) {
    const text = l.replace(ours, '');
    t.notMatch(text, /[\x00-\x1f\x7f-\x9f]/, `no control bytes: ${JSON.stringify(text.slice(0, 40))}`);
    t.ok([...text].length <= 100, 'fits 100 columns');
  }
  t.ok(lines.some((l) => l.includes('evil\\x1b]0;pw')), 'the name shown escaped (and cut to its column)');
  t.equal(termSafe('a\nb'), 'a\\x0ab');
  t.same(visibleRows(c, null, { ...initialView(), nameFilter: 'e*' }).map((r) => r.m.id), [1], 'a glob filter');
});

t.test('a map the kernel will not walk: "refused" in its ENTRIES, the reason on its row, a count on the status line', async (t) => {
  const refused = new AgentError('EMP_WALK_UNSUPPORTED', 'element walks: this kernel refuses iter/sockmap programs (EPERM at load). Sockmap maps are not counted');
  const sock: MapStats = { ...map(7, 'socks', null, 'sockmap'), countMethod: 'none', notCounted: 'needs an element walk (no count), which this kernel does not run: refused', notCountedReason: 'walk_unsupported' };
  const c: Collection = { ...COLLECTION_DEFAULTS, time: 0, durationMs: 1, mapsSeen: 2, bytesRead: 0, memoryError: null, walkError: null, walkUnsupported: refused, walks: 0, maps: [sock, map(2, 'ok', 10)] };
  const { lines } = renderScreen({ collection: c, pressure: null, error: null, refreshMs: 1000 }, initialView(), 320, 12);
  const plain = lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
  t.match(plain[2], /^1 map not counted \(EMP_WALK_UNSUPPORTED\): element walks: this kernel refuses iter\/sockmap/, 'the status line');
  const row = plain.find((l) => l.includes('socks'));
  t.match(row, /refused\/100/, 'ENTRIES says why there is no figure');
  t.match(row, /which this kernel does not run/, 'and the row carries the reason where the width allows');
  t.notMatch(plain.find((l) => l.includes(' ok ')), /refused|not run/, 'a counted map has no note');
});

t.test('a narrow terminal keeps the columns that matter, each whole; the name shrinks last', async (t) => {
  const c: Collection = { ...COLLECTION_DEFAULTS, time: 0, durationMs: 1, mapsSeen: 2, bytesRead: 0, memoryError: null, maps: [map(41, 'narrow_full', 90), map(42, 'narrow_half', 50)] };
  const tracker = new PressureTracker(loadConfig({ env: {} }).config.pressure);
  const pressure = tracker.update(c).readout;
  const plainAt = (width: number) => renderScreen({ collection: c, pressure, error: null, refreshMs: 1000 }, initialView(), width, 8).lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
  const ALL = ['ID', 'NAME', 'TYPE', 'OWNER', 'FILL', 'UTIL', 'ENTRIES/MAX', 'MEMORY', 'GROWTH', 'FULL IN', 'PEAK', 'SUGGEST'];
  const headers = (width: number) => {
    const h = ` ${plainAt(width)[3]!} `;
    return ALL.filter((x) => h.includes(` ${x} `)).sort((a, b) => h.indexOf(` ${a} `) - h.indexOf(` ${b} `));
  };
  t.same(headers(60), ['NAME', 'UTIL', 'ENTRIES/MAX', 'GROWTH', 'FULL IN'], '60 columns: name, utilization, entries, growth, time to full');
  t.same(headers(200), ALL, 'wide: every column');
  t.same(headers(156), ALL, 'every column from 156');
  t.same(headers(155), ALL.slice(0, -1), 'one column less at 155: the last kept goes');
  t.same(headers(90), ['ID', 'NAME', 'FILL', 'UTIL', 'ENTRIES/MAX', 'GROWTH', 'FULL IN'], 'columns too wide for what is left are skipped for a narrower one after them (OWNER, TYPE, MEMORY for ID)');
  const row60 = plainAt(60).find((l) => l.includes('narrow_full'))!;
  t.match(row60, /^narrow_full +90\.0% +90\/100 +- +- *$/, 'a row at 60 columns: its cells whole');
  for (const width of [20, 40, 60, 80, 120, 155, 156, 200]) for (const l of plainAt(width)) t.ok([...l].length <= width, `fits ${width} columns`);
  t.match(plainAt(8).find((l) => l.includes('narrow'))!, /^narrow_…$/, 'at 8 columns only the name is left, cut');
});

t.test('Home and End (every spelling), g and G', async (t) => {
  const v = { ...initialView(), scroll: 5 };
  const END = Number.MAX_SAFE_INTEGER;
  for (const home of ['\x1b[H', '\x1b[1~', '\x1b[7~', '\x1bOH', 'g']) t.equal(handleKeys(v, home, [], 10).scroll, 0, `${JSON.stringify(home)}: the first map`);
  for (const end of ['\x1b[F', '\x1b[4~', '\x1b[8~', '\x1bOF', 'G']) t.equal(handleKeys(v, end, [], 10).scroll, END, `${JSON.stringify(end)}: to the end`);
  // End then the screen: the last page, and up from there moves one row.
  const maps = Array.from({ length: 30 }, (_, i) => map(100 + i, `page_${String(i).padStart(2, '0')}`, 30 - i));
  const c: Collection = { ...COLLECTION_DEFAULTS, time: 0, durationMs: 1, mapsSeen: 30, bytesRead: 0, memoryError: null, maps };
  const frame = { collection: c, pressure: null, error: null, refreshMs: 1000 };
  const atEnd = renderScreen(frame, handleKeys(initialView(), '\x1b[F', [], 10), 160, 12);
  const shown = atEnd.lines.filter((l) => l.includes('page_'));
  t.match(shown[shown.length - 1], /page_29/, 'End shows the last map');
  t.match(atEnd.lines[11], /24-30 of 30/, 'the last page');
  t.equal(handleKeys({ ...initialView(), scroll: atEnd.scroll }, '\x1b[A', [], 10).scroll, atEnd.scroll - 1, 'up from the end: one row');
});

t.test('NO_COLOR: no colours, the rest of the styling kept', async (t) => {
  t.equal(colorWanted({}), true);
  t.equal(colorWanted({ NO_COLOR: '' }), true, 'empty means unset (no-color.org)');
  t.equal(colorWanted({ NO_COLOR: '1' }), false);
  const c: Collection = { ...COLLECTION_DEFAULTS, time: 0, durationMs: 1, mapsSeen: 2, bytesRead: 0, memoryError: null, maps: [map(51, 'nc_crit', 95), map(52, 'nc_norm', 10)] };
  const tracker = new PressureTracker(loadConfig({ env: {} }).config.pressure);
  const pressure = tracker.update(c).readout;
  const draw = (color: boolean) => renderScreen({ collection: c, pressure, error: null, refreshMs: 1000, color }, initialView(), 160, 8).lines.join('\n');
  t.match(draw(true), /\x1b\[3[123]m/, 'colours by default');
  const plain = draw(false);
  t.notMatch(plain, /\x1b\[3[0-9]m/, 'no colour under NO_COLOR');
  t.match(plain, /\x1b\[1m/, 'bold kept (a critical UTIL)');
  t.match(plain, /\x1b\[7m/, 'the inverse header kept');
  t.equal(plain.replace(/\x1b\[[0-9;]*m/g, ''), draw(true).replace(/\x1b\[[0-9;]*m/g, ''), 'the same text');
});
