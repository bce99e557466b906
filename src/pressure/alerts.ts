// SPDX-License-Identifier: Apache-2.0
/**
 * What the pressure layer tells the operator in the log, bounded whatever the host holds:
 * one line when the agent has started (maps per level, the fullest ten), then per collection
 * at most pressure.max_transition_lines transitions one line each, the most severe first, and
 * one line counting the rest; a periodic summary line when an interval is set.
 */
import type { Fields, Logger } from '../log';
import { formatFill, formatFullIn, formatGrowth } from './format';
import { type Level, LEVEL_VALUE, MAP_LEVELS, type MapLevel } from './levels';
import type { MapPressure, PressureReadout, Transition } from './tracker';

/** Maps named in the start line. */
export const START_FULLEST = 10;
/** Maps named in the periodic summary line. */
export const SUMMARY_FULLEST = 3;

export function percent(u: number | null): string {
  return u === null ? '-' : `${(u * 100).toFixed(1)}%`;
}

/** "full", "full in ~12 min", or "not growing". */
export function fullIn(m: MapPressure): string {
  const cell = formatFullIn(m);
  return cell === 'full' ? 'full' : m.timeToFullS === null ? 'not growing' : `full in ${cell}`;
}

/**
 * "raise max_entries to 150" when the suggestion is above the map's size; "at least" when the
 * peak reached the limit (inserts may have failed then, so the demand is not known). null
 * when there is nothing to raise.
 */
export function raiseAdvice(m: MapPressure): string | null {
  if (m.suggestedMaxEntries === null || m.suggestedMaxEntries <= m.maxEntries) return null;
  const atLimit = m.peakFill !== null && m.peakFill >= m.maxEntries;
  return `raise max_entries to ${atLimit ? 'at least ' : ''}${m.suggestedMaxEntries}`;
}

/** Advice belongs to a map reaching warning or critical. */
function adviceFor(t: Transition): string | null {
  return t.to === 'normal' ? null : raiseAdvice(t.map);
}

/** The fields of a transition's log line. */
export function transitionFields(t: Transition): Fields {
  const m = t.map;
  return {
    id: m.id,
    name: m.name,
    type: m.type,
    from: t.from ?? 'unknown',
    to: t.to,
    entries: formatFill(m.fill, m.maxEntries),
    utilization: percent(m.utilization),
    growth: formatGrowth(m.growthPerS),
    full_in: m.timeToFullS === null && formatFullIn(m) !== 'full' ? 'not growing' : formatFullIn(m),
    peak: m.peakFill === null ? undefined : formatFill(m.peakFill, m.maxEntries),
    fix: adviceFor(t) ?? undefined,
    owner: t.owner?.label,
    ...(t.owner?.program && { program: t.owner.program.name || `#${t.owner.program.id}` }),
  };
}

/** One sentence for people (webhooks, the demo): map, levels, fill, growth, forecast, advice. */
export function transitionText(t: Transition): string {
  const m = t.map;
  const growing = m.growthPerS !== null && m.growthPerS > 0 && m.timeToFullS !== null;
  const pace = formatFullIn(m) === 'full' ? 'full' : growing ? `growing ${formatGrowth(m.growthPerS)}, ${fullIn(m)}` : 'not growing';
  const advice = adviceFor(t);
  const owner = t.owner ? `, owned by ${t.owner.label}` : '';
  const change = t.from === null ? `at ${t.to}` : `${t.from} -> ${t.to}`;
  return `eBPF map ${m.name || '(no name)'} (id ${m.id}, ${m.type}${owner}) ${change}: ${formatFill(m.fill, m.maxEntries)} (${percent(m.utilization)}), ${pace}${advice ? `; ${advice}` : ''}`;
}

const RANK: Readonly<Record<Level, number>> = { critical: 0, warning: 1, normal: 2 };

/** Most severe first: reaching critical, then warning, then easing to normal; fuller first. */
export function bySeverity(a: Transition, b: Transition): number {
  return RANK[a.to] - RANK[b.to] || (b.map.utilization ?? 0) - (a.map.utilization ?? 0) || a.map.id - b.map.id;
}

/** Maps per level (maps without a utilization have none and are not counted). */
export function levelCounts(r: PressureReadout): Record<MapLevel, number> {
  const counts = Object.fromEntries(MAP_LEVELS.map((l) => [l, 0])) as Record<MapLevel, number>;
  for (const m of r.maps.values()) if (m.level) counts[m.level]++;
  return counts;
}

/** The `n` maps most in trouble: highest level, then fullest. Maps whose levels are off are not ranked. */
export function fullest(r: PressureReadout, n: number): MapPressure[] {
  const ranked: MapPressure[] = [];
  for (const m of r.maps.values()) if (m.level && m.level !== 'off') ranked.push(m);
  ranked.sort((a, b) => LEVEL_VALUE[b.level!] - LEVEL_VALUE[a.level!] || b.utilization! - a.utilization! || a.id - b.id);
  return ranked.slice(0, n);
}

/** Fields of a summary line: maps by level and the `n` fullest. */
export function summaryFields(r: PressureReadout, n = SUMMARY_FULLEST): Fields {
  const top = fullest(r, n).map((m) => `${m.name || `id:${m.id}`} ${percent(m.utilization)} ${m.level}`);
  return { maps: r.maps.size, ...levelCounts(r), fullest: top.join(', ') || 'none' };
}

export interface AlertLogOptions {
  /** 0: no periodic summary lines. */
  summaryIntervalMs: number;
  maxTransitionLines: number;
}

export class AlertLog {
  readonly #log: Logger;
  readonly #o: AlertLogOptions;
  #lastSummary = -Infinity;

  constructor(log: Logger, options: AlertLogOptions) {
    this.#log = log;
    this.#o = options;
  }

  /** The one line at start: warn when some map is past a threshold, info otherwise. */
  started(r: PressureReadout): void {
    const fields = summaryFields(r, START_FULLEST);
    this.#lastSummary = r.time;
    if ((fields.warning as number) + (fields.critical as number) > 0) this.#log.warn('pressure at start', fields);
    else this.#log.info('pressure at start', fields);
  }

  /** One collection's transitions, sorted bySeverity: the first lines one each, then one for the rest. */
  transitions(sorted: readonly Transition[]): void {
    const shown = sorted.slice(0, this.#o.maxTransitionLines);
    for (const t of shown) this.#line(t);
    const rest = sorted.slice(shown.length);
    if (rest.length === 0) return;
    const to = { critical: 0, warning: 0, normal: 0 };
    for (const t of rest) to[t.to]++;
    const message = `map pressure: ${rest.length} more transition${rest.length === 1 ? '' : 's'} in this collection, not logged one by one`;
    const fields = { more: rest.length, to_critical: to.critical, to_warning: to.warning, to_normal: to.normal };
    if (to.critical) this.#log.error(message, fields);
    else if (to.warning) this.#log.warn(message, fields);
    else this.#log.info(message, fields);
  }

  /** error when reaching critical, warn when reaching warning, info when easing. */
  #line(t: Transition): void {
    const message = `map pressure ${t.from ?? 'unknown'} -> ${t.to}`;
    const fields = transitionFields(t);
    if (t.from !== null && LEVEL_VALUE[t.to] < LEVEL_VALUE[t.from]) this.#log.info(message, fields);
    else if (t.to === 'critical') this.#log.error(message, fields);
    else this.#log.warn(message, fields);
  }

  /** A summary line when one is due (counting from the start line). */
  collection(r: PressureReadout): void {
    if (this.#o.summaryIntervalMs <= 0 || r.time - this.#lastSummary < this.#o.summaryIntervalMs) return;
    this.#lastSummary = r.time;
    this.#log.info('pressure summary', summaryFields(r));
  }
}
