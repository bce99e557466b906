// SPDX-License-Identifier: Apache-2.0
/**
 * `top`: a live terminal view of every map, fullest first — a bar per map coloured by level
 * (dim where levels are off), entries/max, memory, growth, time to full, the peak fill seen
 * while it runs and the max_entries that would hold it — redrawn every top.refresh. Keys change the
 * sort, filter by name or type, scroll and quit. It runs in the alternate screen with the
 * cursor hidden and puts the terminal back on every way out (q, Ctrl-C, SIGINT, SIGTERM,
 * SIGHUP, an error). When stdout is not a terminal it prints a plain table once instead.
 *
 * It reads collections like everything else (its own collector and pressure tracker; no
 * transition log lines or webhooks, which would tear the screen).
 */
import { createCollector } from '../collector-setup';
import type { Collection, MapStats, NotCountedReason } from '../collector';
import type { AgentConfig } from '../config';
import { globToRegExp } from '../filter';
import { ownerLabel, ownerWords } from '../owners/format';
import { formatFullIn, formatGrowth } from '../pressure/format';
import type { MapLevel } from '../pressure/levels';
import { type MapPressure, type PressureReadout, PressureTracker } from '../pressure/tracker';
import { byUtilization, formatBytes } from './format';
import { readTwice, snapshotTable } from './snapshot';

// ---- terminal control ------------------------------------------------------------------

const CSI = '\x1b[';
export const TERM = {
  enter: `${CSI}?1049h${CSI}?25l`,
  /** Reset attributes, show the cursor, leave the alternate screen. */
  restore: `${CSI}0m${CSI}?25h${CSI}?1049l`,
  home: `${CSI}H`,
  clearLine: `${CSI}K`,
  clearBelow: `${CSI}J`,
} as const;

const STYLE = {
  reset: `${CSI}0m`,
  bold: `${CSI}1m`,
  dim: `${CSI}2m`,
  inverse: `${CSI}7m`,
  normal: `${CSI}32m`,
  warning: `${CSI}33m`,
  critical: `${CSI}31m`,
} as const;

/**
 * Text for the terminal: no control bytes (C0, DEL, C1) ever reach it. Map names arrive
 * escaped by records.ts already; this is the last line of defence for anything else.
 */
export function termSafe(s: string): string {
  // eslint-disable-next-line no-control-regex -- control bytes are what this escapes
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A piece of a line: text and an optional style. Lines are cut by visible width. */
type Segment = [text: string, style?: string];

function fit(segments: Segment[], width: number): string {
  let out = '';
  let left = width;
  for (const [text, style] of segments) {
    if (left <= 0) break;
    const t = [...text].slice(0, left).join('');
    left -= [...t].length;
    out += style ? `${style}${t}${STYLE.reset}` : t;
  }
  return out;
}

function cut(s: string, w: number): string {
  const chars = [...s];
  return chars.length <= w ? s.padEnd(w) : `${chars.slice(0, w - 1).join('')}…`;
}

// ---- view state ------------------------------------------------------------------------

export const SORTS = ['util', 'growth', 'full_in', 'entries', 'memory', 'name', 'id'] as const;
export type SortKey = (typeof SORTS)[number];

export interface ViewState {
  sort: SortKey;
  reverse: boolean;
  /** Substring (case-insensitive), or a glob when it has * or ?. */
  nameFilter: string;
  /** Substring (case-insensitive) of an owner: comm, pid, executable, namespace, pod, program, pin. */
  ownerFilter: string;
  typeFilter: string | null;
  /** Typing a name (or owner) filter: the text before, to restore on Esc. */
  editing: { before: string; field?: 'nameFilter' | 'ownerFilter' } | null;
  scroll: number;
  quit: boolean;
}

export function initialView(): ViewState {
  return { sort: 'util', reverse: false, nameFilter: '', ownerFilter: '', typeFilter: null, editing: null, scroll: 0, quit: false };
}

export interface Row {
  m: MapStats;
  p: MapPressure | undefined;
}

const nullsLast = (a: number | null | undefined, b: number | null | undefined, dir: 1 | -1) =>
  a == null ? (b == null ? 0 : 1) : b == null ? -1 : dir * (a - b);

function compare(sort: SortKey): (a: Row, b: Row) => number {
  switch (sort) {
    case 'util':
      return (a, b) => byUtilization(a.m, b.m);
    case 'growth':
      return (a, b) => nullsLast(a.p?.growthPerS, b.p?.growthPerS, -1) || byUtilization(a.m, b.m);
    case 'full_in':
      return (a, b) => nullsLast(a.p?.timeToFullS, b.p?.timeToFullS, 1) || byUtilization(a.m, b.m);
    case 'entries':
      return (a, b) => nullsLast(a.m.entries ?? a.m.pendingBytes, b.m.entries ?? b.m.pendingBytes, -1) || a.m.id - b.m.id;
    case 'memory':
      return (a, b) => nullsLast(a.m.memoryBytes, b.m.memoryBytes, -1) || a.m.id - b.m.id;
    case 'name':
      return (a, b) => (a.m.name < b.m.name ? -1 : a.m.name > b.m.name ? 1 : a.m.id - b.m.id);
    case 'id':
      return (a, b) => a.m.id - b.m.id;
  }
}

function nameMatcher(filter: string): (name: string) => boolean {
  if (!filter) return () => true;
  if (/[*?]/.test(filter)) {
    const re = globToRegExp(filter);
    return (n) => re.test(n);
  }
  const f = filter.toLowerCase();
  return (n) => n.toLowerCase().includes(f);
}

/** The rows the view shows, filtered and sorted. */
export function visibleRows(c: Collection, pressure: PressureReadout | null, v: ViewState): Row[] {
  const match = nameMatcher(v.nameFilter);
  const owner = v.ownerFilter.toLowerCase();
  const ownedBy = (m: MapStats) => !owner || ownerWords(m.owners ?? null).some((w) => w.toLowerCase().includes(owner));
  const rows = c.maps
    .filter((m) => match(m.name) && (v.typeFilter === null || m.type === v.typeFilter) && ownedBy(m))
    .map((m) => ({ m, p: pressure?.maps.get(m.id) }));
  rows.sort(compare(v.sort));
  if (v.reverse) rows.reverse();
  return rows;
}

/**
 * The keys that arrive as escape sequences: arrows, PgUp/PgDn, and Home/End in the spellings
 * terminals use for them (xterm `CSI H`/`CSI F`, application mode `SS3 H`/`SS3 F`, VT220
 * `CSI 1~`/`CSI 4~`, rxvt `CSI 7~`/`CSI 8~`).
 */
const ESCAPE_KEYS: Record<string, 'up' | 'down' | 'pageUp' | 'pageDown' | 'home' | 'end'> = {
  A: 'up',
  B: 'down',
  '5~': 'pageUp',
  '6~': 'pageDown',
  H: 'home',
  '1~': 'home',
  '7~': 'home',
  F: 'end',
  '4~': 'end',
  '8~': 'end',
};
// eslint-disable-next-line no-control-regex -- the keys arrive as ESC sequences
const ESCAPE_KEY = /^\x1b(?:\[(A|B|5~|6~|H|F|1~|4~|7~|8~)|O(H|F))/;
/** Scrolled to the end: renderScreen() clamps it to the last page. */
const END = Number.MAX_SAFE_INTEGER;

/** Key bytes (one chunk of stdin, possibly several keys) -> the next view state. */
export function handleKeys(v: ViewState, data: string, types: readonly string[], pageRows: number): ViewState {
  let s: ViewState = { ...v };
  for (let i = 0; i < data.length; i++) {
    const ch = data[i]!;
    const esc = ch === '\x1b' ? ESCAPE_KEY.exec(data.slice(i)) : null;
    if (ch === '\x03') return { ...s, quit: true }; // Ctrl-C in raw mode
    if (s.editing) {
      const field = s.editing.field ?? 'nameFilter';
      if (ch === '\r' || ch === '\n') s.editing = null;
      else if (ch === '\x1b' && !esc) s = { ...s, [field]: s.editing.before, editing: null };
      else if (ch === '\x7f' || ch === '\b') s[field] = [...s[field]].slice(0, -1).join('');
      else if (ch >= ' ' && ch !== '\x7f') s[field] += ch;
      if (esc) i += esc[0].length - 1;
      s.scroll = 0;
      continue;
    }
    if (esc) {
      const k = ESCAPE_KEYS[esc[1] ?? esc[2]!];
      if (k === 'up') s.scroll = Math.max(0, s.scroll - 1);
      else if (k === 'down') s.scroll += 1;
      else if (k === 'pageUp') s.scroll = Math.max(0, s.scroll - pageRows);
      else if (k === 'pageDown') s.scroll += pageRows;
      else if (k === 'home') s.scroll = 0;
      else s.scroll = END;
      i += esc[0].length - 1;
      continue;
    }
    switch (ch) {
      case 'q':
      case 'Q':
        return { ...s, quit: true };
      case 's':
        s.sort = SORTS[(SORTS.indexOf(s.sort) + 1) % SORTS.length]!;
        s.scroll = 0;
        break;
      case 'S':
        s.sort = SORTS[(SORTS.indexOf(s.sort) + SORTS.length - 1) % SORTS.length]!;
        s.scroll = 0;
        break;
      case 'r':
        s.reverse = !s.reverse;
        break;
      case '/':
        s.editing = { before: s.nameFilter };
        s.nameFilter = '';
        break;
      case 'o':
        s.editing = { before: s.ownerFilter, field: 'ownerFilter' };
        s.ownerFilter = '';
        break;
      case 't': {
        const all = [null, ...types];
        s.typeFilter = all[(all.indexOf(s.typeFilter) + 1) % all.length] ?? null;
        s.scroll = 0;
        break;
      }
      case 'c':
        s.nameFilter = '';
        s.ownerFilter = '';
        s.typeFilter = null;
        s.scroll = 0;
        break;
      case 'j':
        s.scroll += 1;
        break;
      case 'k':
        s.scroll = Math.max(0, s.scroll - 1);
        break;
      case 'g':
        s.scroll = 0;
        break;
      case 'G':
        s.scroll = END;
        break;
    }
  }
  return s;
}

// ---- rendering -------------------------------------------------------------------------

const BAR = 20;
const SORT_LABEL: Record<SortKey, string> = {
  util: 'utilization, fullest first',
  growth: 'growth, fastest first',
  full_in: 'time to full, soonest first',
  entries: 'entries, most first',
  memory: 'memory, most first',
  name: 'name, A to Z',
  id: 'id, lowest first',
};

function bar(u: number | null, level: MapLevel | null | undefined): Segment[] {
  if (u === null) return [['·'.repeat(BAR), STYLE.dim]];
  const n = Math.max(0, Math.min(BAR, Math.round(u * BAR)));
  // Off is not normal: a full LRU is not shown green.
  const style = level && level !== 'off' ? STYLE[level] : STYLE.dim;
  return [['█'.repeat(n), style], ['░'.repeat(BAR - n), STYLE.dim]];
}

/** A suggestion above the map's size (raise it) stands out at the map's level colour. */
function raiseStyle(p: MapPressure | undefined): string | undefined {
  if (!p || p.suggestedMaxEntries === null || p.suggestedMaxEntries <= p.maxEntries) return undefined;
  return p.level === 'warning' || p.level === 'critical' ? `${STYLE[p.level]}${STYLE.bold}` : STYLE.bold;
}

/** In the ENTRIES column of a map that could be counted and is not: a word for why. */
const UNCOUNTED: Record<NotCountedReason, string> = {
  type: '-',
  kernel: 'n/a',
  config: 'off',
  walk_disabled: 'off',
  walk_deferred: 'later',
  walk_failed: 'failed',
  walk_unsupported: 'refused',
};

const pct = (u: number | null | undefined) => (u == null ? '-' : `${(u * 100).toFixed(1)}%`);
/** The style of a map's UTIL: bold in its level's colour at warning and critical. */
const hot = (p: MapPressure | undefined) => (p?.level === 'warning' || p?.level === 'critical' ? `${STYLE[p.level]}${STYLE.bold}` : undefined);

/** One column of the map table: its header, its width (with the space after it) and its cell. */
interface Column {
  readonly key: (typeof COLUMN_PRIORITY)[number];
  readonly header: string;
  readonly width: number;
  readonly align: 'left' | 'right';
  /** The cell, `w` wide (the space after it included). */
  cell(r: Row, w: number): Segment[];
}

/** A cell's text in `w` columns: cut (left) or padded (right), then the space after it. */
const cell = (s: string, w: number, align: Column['align']) => (align === 'left' ? cut(s, w - 1) : s.padStart(w - 1)) + ' ';

/**
 * What a narrow terminal keeps, most important first: the name (which shrinks, down to
 * NAME_MIN, only when nothing else fits), how full, how soon, the count, then the rest. Each
 * column is taken whole, in this order, if it still fits: one too wide is skipped for
 * narrower ones after it.
 */
export const COLUMN_PRIORITY = ['name', 'util', 'full_in', 'entries', 'growth', 'fill', 'owner', 'type', 'memory', 'id', 'peak', 'suggest'] as const;
const NAME_MIN = 8;

/** The columns in the order they are drawn. */
const COLUMNS: readonly Column[] = [
  { key: 'id', header: 'ID', width: 9, align: 'right', cell: (r, w) => [[cell(String(r.m.id), w, 'right')]] },
  { key: 'name', header: 'NAME', width: 17, align: 'left', cell: (r, w) => [[cell(termSafe(r.m.name || '-'), w, 'left')]] },
  { key: 'type', header: 'TYPE', width: 16, align: 'left', cell: (r, w) => [[cell(r.m.type, w, 'left')]] },
  { key: 'owner', header: 'OWNER', width: 22, align: 'left', cell: (r, w) => [[cell(termSafe(ownerLabel(r.m.owners ?? null)), w, 'left')]] },
  { key: 'fill', header: 'FILL', width: BAR + 1, align: 'left', cell: (r) => [...bar(r.m.utilization, r.p?.level), [' ']] },
  { key: 'util', header: 'UTIL', width: 7, align: 'right', cell: (r, w) => [[cell(pct(r.m.utilization), w, 'right'), hot(r.p)]] },
  {
    key: 'entries',
    header: 'ENTRIES/MAX',
    width: 19,
    align: 'right',
    cell: (r, w) => {
      const fill = r.m.entries ?? r.m.pendingBytes ?? UNCOUNTED[r.m.notCountedReason ?? 'type'];
      return [[cell(`${fill === null ? '-' : fill}/${r.m.maxEntries}`, w, 'right')]];
    },
  },
  { key: 'memory', header: 'MEMORY', width: 10, align: 'right', cell: (r, w) => [[cell(formatBytes(r.m.memoryBytes), w, 'right')]] },
  { key: 'growth', header: 'GROWTH', width: 9, align: 'right', cell: (r, w) => [[cell(formatGrowth(r.p?.growthPerS ?? null), w, 'right')]] },
  { key: 'full_in', header: 'FULL IN', width: 9, align: 'right', cell: (r, w) => [[cell(r.p ? formatFullIn(r.p) : '-', w, 'right')]] },
  { key: 'peak', header: 'PEAK', width: 7, align: 'right', cell: (r, w) => [[cell(pct(r.p?.peakUtilization), w, 'right')]] },
  {
    key: 'suggest',
    header: 'SUGGEST',
    width: 11,
    align: 'right',
    cell: (r, w) => [[cell(r.p?.suggestedMaxEntries == null ? '-' : String(r.p.suggestedMaxEntries), w, 'right'), raiseStyle(r.p)]],
  },
];

/** The columns a screen `width` wide shows, in drawing order, each with the width it gets. */
export type Layout = ReadonlyArray<{ column: Column; width: number }>;

export function layout(width: number): Layout {
  const byKey = new Map(COLUMNS.map((c) => [c.key as string, c]));
  const name = byKey.get('name')!;
  // The last column's trailing space may fall off the edge: a screen `width` wide holds
  // columns of width + 1 in all.
  const nameWidth = Math.max(NAME_MIN, Math.min(name.width, width + 1));
  const keep = new Set<string>(['name']);
  let used = nameWidth;
  for (const key of COLUMN_PRIORITY.slice(1)) {
    const w = byKey.get(key)!.width;
    if (used + w <= width + 1) {
      keep.add(key);
      used += w;
    }
  }
  return COLUMNS.filter((c) => keep.has(c.key)).map((c) => ({ column: c, width: c.key === 'name' ? nameWidth : c.width }));
}

function rowLine(r: Row, width: number, l: Layout): string {
  const segs = l.flatMap(({ column, width: w }) => column.cell(r, w));
  // The last cell's space would only trail.
  const last = segs[segs.length - 1];
  if (last) segs[segs.length - 1] = [last[0].replace(/ $/, ''), last[1]];
  // Why a countable map has no count, where the width leaves room (the status line sums it up).
  if (r.m.notCountedReason && r.m.notCountedReason !== 'type') segs.push([`  ${termSafe(r.m.notCounted ?? '')}`, STYLE.dim]);
  return fit(segs, width);
}

function headerLine(width: number, l: Layout): string {
  const h = l.map(({ column: c, width: w }) => (c.align === 'left' ? c.header.padEnd(w) : c.header.padStart(w - 1) + ' ')).join('');
  return fit([[h.padEnd(width), STYLE.inverse]], width);
}

/** Maps left uncounted because a walk failed or the kernel refuses it: how many, and why. */
function uncountedLine(c: Collection | null, width: number): string {
  if (!c) return '';
  for (const [reason, e] of [['walk_failed', c.walkError], ['walk_unsupported', c.walkUnsupported]] as const) {
    const n = e ? c.maps.filter((m) => m.notCountedReason === reason).length : 0;
    if (e && n > 0) return fit([[`${n} map${n === 1 ? '' : 's'} not counted (${e.code}): ${termSafe(reason === 'walk_failed' ? e.hint : e.message)}`, STYLE.warning]], width);
  }
  return '';
}

export interface Frame {
  collection: Collection | null;
  pressure: PressureReadout | null;
  error: string | null;
  refreshMs: number;
  /** false under NO_COLOR: bold, dim and inverse only (levels still show in the header counts and a bold UTIL). */
  color?: boolean;
}

/** The colours of STYLE (not bold, dim or inverse), for NO_COLOR. */
const COLOUR = new RegExp(`\\x1b\\[(?:${[STYLE.normal, STYLE.warning, STYLE.critical].map((x) => x.slice(CSI.length, -1)).join('|')})m`, 'g');

/** Whether the environment asks for no colour (https://no-color.org: set and not empty). */
export function colorWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return !env.NO_COLOR;
}

/** The whole screen as lines (each already cut to width). */
export function renderScreen(f: Frame, v: ViewState, width: number, height: number): { lines: string[]; scroll: number } {
  const lines: string[] = [];
  const c = f.collection;
  const counts = { off: 0, normal: 0, warning: 0, critical: 0 };
  for (const p of f.pressure?.maps.values() ?? []) if (p.level) counts[p.level]++;
  const time = c ? new Date(c.time).toISOString().slice(11, 19) : '--:--:--';
  lines.push(
    fit(
      [
        ['ebpf-map-pressure top', STYLE.bold],
        [`  ${time}  ${c ? c.maps.length : 0} maps  `],
        [`● ${counts.critical} critical`, STYLE.critical],
        ['  '],
        [`● ${counts.warning} warning`, STYLE.warning],
        ['  '],
        [`● ${counts.normal} normal`, STYLE.normal],
        ['  '],
        [`● ${counts.off} off`, STYLE.dim],
        [`  refresh ${f.refreshMs >= 1000 ? `${f.refreshMs / 1000}s` : `${f.refreshMs}ms`}`],
      ],
      width,
    ),
  );
  const editingOwner = v.editing?.field === 'ownerFilter';
  const filter = v.editing && !editingOwner ? `name: ${termSafe(v.nameFilter)}▏` : `name: ${v.nameFilter ? termSafe(v.nameFilter) : 'any'}`;
  const ownerFilter = editingOwner ? `owner: ${termSafe(v.ownerFilter)}▏` : `owner: ${v.ownerFilter ? termSafe(v.ownerFilter) : 'any'}`;
  lines.push(
    fit(
      [
        [`sort: ${SORT_LABEL[v.sort]}${v.reverse ? ' (reversed)' : ''}   `],
        [`filter ${filter}`, v.editing && !editingOwner ? STYLE.inverse : undefined],
        [`   ${ownerFilter}`, editingOwner ? STYLE.inverse : undefined],
        [`   type: ${v.typeFilter ?? 'any'}`],
      ],
      width,
    ),
  );
  lines.push(f.error ? fit([[`collection failed: ${termSafe(f.error)}`, STYLE.critical]], width) : uncountedLine(c, width));
  const cols = layout(width);
  lines.push(headerLine(width, cols));
  const rows = c ? visibleRows(c, f.pressure, v) : [];
  const room = Math.max(1, height - lines.length - 1);
  const scroll = Math.max(0, Math.min(v.scroll, rows.length - room));
  for (const r of rows.slice(scroll, scroll + room)) lines.push(rowLine(r, width, cols));
  while (lines.length < height - 1) lines.push('');
  const shown = rows.length ? `${scroll + 1}-${Math.min(rows.length, scroll + room)} of ${rows.length}` : '0 of 0';
  lines.push(
    fit(
      [
        [
          v.editing
            ? editingOwner
              ? 'type part of an owner (comm, pid, namespace, pod, program, pin), Enter keep, Esc cancel'
              : 'type a name (glob with * ?), Enter keep, Esc cancel'
            : 'q quit  s/S sort  r reverse  / name  o owner  t type  c clear  ↑↓ PgUp PgDn Home End scroll',
          STYLE.dim,
        ],
        [`   ${shown}`, STYLE.dim],
      ],
      width,
    ),
  );
  const out = lines.slice(0, height);
  return { lines: f.color === false ? out.map((l) => l.replace(COLOUR, '')) : out, scroll };
}

// ---- the command -----------------------------------------------------------------------

export interface TopIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
}

/** Runs the view until quit; resolves with the exit code. */
export async function top(config: AgentConfig, io: TopIo = { stdin: process.stdin, stdout: process.stdout }): Promise<number> {
  // Owner passes follow the view's refresh, not the daemon's interval.
  const collector = createCollector({ ...config, intervalMs: config.top.refreshMs });
  if (!io.stdout.isTTY) {
    try {
      const { collection, pressure } = await readTwice(collector, config);
      io.stdout.write(`${snapshotTable(collection, pressure)}\n`);
      return 0;
    } finally {
      await collector.close();
    }
  }

  const tracker = new PressureTracker(config.pressure);
  const frame: Frame = { collection: null, pressure: null, error: null, refreshMs: config.top.refreshMs, color: colorWanted() };
  let view = initialView();
  let timer: NodeJS.Timeout | null = null;
  let restored = false;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));

  const size = () => ({ width: io.stdout.columns || 80, height: io.stdout.rows || 24 });
  const draw = () => {
    if (restored) return;
    const { width, height } = size();
    const { lines, scroll } = renderScreen(frame, view, width, height);
    view.scroll = scroll;
    io.stdout.write(TERM.home + lines.map((l) => l + TERM.clearLine).join('\r\n') + TERM.clearBelow);
  };
  const restore = () => {
    if (restored) return;
    restored = true;
    io.stdout.write(TERM.restore);
    if (io.stdin.isTTY) io.stdin.setRawMode(false);
    io.stdin.pause();
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const onSignal = () => quit(0);
  // A terminal that went away (SIGHUP, a closed pane) fails writes with EIO: just leave.
  // It stays attached: the restore sequence itself may be what fails, after quitting.
  const onWriteError = () => quit(0);
  const quit = (code: number) => {
    if (timer) clearTimeout(timer);
    timer = null;
    restore();
    io.stdin.off('data', onData);
    io.stdout.off('resize', draw);
    for (const s of signals) process.off(s, onSignal);
    process.off('exit', restore);
    void collector.close().finally(() => finish(code));
  };
  const onData = (d: Buffer | string) => {
    const types = [...new Set(frame.collection?.maps.map((m) => m.type) ?? [])].sort();
    view = handleKeys(view, d.toString(), types, Math.max(1, size().height - 6));
    if (view.quit) quit(0);
    else draw();
  };
  const tick = async () => {
    try {
      const c = await collector.collect();
      frame.collection = c;
      frame.pressure = tracker.update(c).readout;
      frame.error = null;
    } catch (e) {
      frame.error = (e as Error).message.split('\n')[0] ?? String(e);
    }
    if (restored) return;
    draw();
    timer = setTimeout(() => void tick(), config.top.refreshMs);
  };

  // From here on, every way out puts the terminal back.
  process.on('exit', restore);
  for (const s of signals) process.on(s, onSignal);
  io.stdout.on('error', onWriteError);
  io.stdout.write(TERM.enter);
  if (io.stdin.isTTY) io.stdin.setRawMode(true);
  io.stdin.on('data', onData);
  io.stdin.resume();
  io.stdout.on('resize', draw);
  draw();
  try {
    await tick();
  } catch (e) {
    quit(1);
    throw e;
  }
  return done;
}
