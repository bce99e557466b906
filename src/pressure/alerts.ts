// SPDX-License-Identifier: Apache-2.0
/**
 * What the pressure layer tells the operator in the log: one line per level transition
 * (never one per collection), and a periodic summary line when an interval is set.
 */
import type { Fields, Logger } from '../log';
import { formatFill, formatGrowth, formatTimeToFull } from './format';
import { LEVEL_VALUE, type Level } from './levels';
import type { MapPressure, PressureReadout, Transition } from './tracker';

function percent(u: number | null): string {
  return u === null ? '-' : `${(u * 100).toFixed(1)}%`;
}

/** "full in ~12 min", or "not growing". */
export function fullIn(m: MapPressure): string {
  return m.timeToFullS === null ? 'not growing' : `full in ${formatTimeToFull(m.timeToFullS)}`;
}

/** The fields of a transition's log line. */
export function transitionFields(t: Transition): Fields {
  const m = t.map;
  return {
    id: m.id,
    name: m.name,
    type: m.type,
    from: t.from,
    to: t.to,
    entries: formatFill(m.fill, m.maxEntries),
    utilization: percent(m.utilization),
    growth: formatGrowth(m.growthPerS),
    full_in: m.timeToFullS === null ? 'not growing' : formatTimeToFull(m.timeToFullS),
    owner: t.owner?.label,
    ...(t.owner?.program && { program: t.owner.program.name || `#${t.owner.program.id}` }),
  };
}

/** One sentence for people (webhooks, the demo): map, levels, fill, growth, forecast. */
export function transitionText(t: Transition): string {
  const m = t.map;
  const growth = m.growthPerS !== null && m.growthPerS > 0 ? `growing ${formatGrowth(m.growthPerS)}, ${fullIn(m)}` : 'not growing';
  const owner = t.owner ? `, owned by ${t.owner.label}` : '';
  return `eBPF map ${m.name || '(no name)'} (id ${m.id}, ${m.type}${owner}) ${t.from} -> ${t.to}: ${formatFill(m.fill, m.maxEntries)} (${percent(m.utilization)}), ${growth}`;
}

/** The summary line's fields: maps by level and the three fullest. */
export function summaryFields(r: PressureReadout): Fields {
  const counts: Record<Level, number> = { normal: 0, warning: 0, critical: 0 };
  const filled: MapPressure[] = [];
  for (const m of r.maps.values()) {
    if (m.level) counts[m.level]++;
    if (m.utilization !== null) filled.push(m);
  }
  filled.sort((a, b) => b.utilization! - a.utilization! || a.id - b.id);
  const top = filled.slice(0, 3).map((m) => `${m.name || `id:${m.id}`} ${percent(m.utilization)} ${m.level}`);
  return { maps: r.maps.size, ...counts, top: top.join(', ') || 'none' };
}

export class AlertLog {
  readonly #log: Logger;
  readonly #summaryIntervalMs: number;
  #lastSummary = -Infinity;

  /** @param summaryIntervalMs 0: no summary lines */
  constructor(log: Logger, summaryIntervalMs: number) {
    this.#log = log;
    this.#summaryIntervalMs = summaryIntervalMs;
  }

  /** One line: error when reaching critical, warn when reaching warning, info when easing. */
  transition(t: Transition): void {
    const message = `map pressure ${t.from} -> ${t.to}`;
    const fields = transitionFields(t);
    if (LEVEL_VALUE[t.to] < LEVEL_VALUE[t.from]) this.#log.info(message, fields);
    else if (t.to === 'critical') this.#log.error(message, fields);
    else this.#log.warn(message, fields);
  }

  /** A summary line when one is due (the first at the first collection). */
  collection(r: PressureReadout): void {
    if (this.#summaryIntervalMs <= 0 || r.time - this.#lastSummary < this.#summaryIntervalMs) return;
    this.#lastSummary = r.time;
    this.#log.info('pressure summary', summaryFields(r));
  }
}
