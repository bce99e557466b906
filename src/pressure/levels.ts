// SPDX-License-Identifier: Apache-2.0
/**
 * Pressure levels: which thresholds apply to a map (name glob > type > global), and the
 * level a map is at, with hysteresis so a map hovering at a threshold does not flap.
 *
 * Raising is immediate — being early is the point. Lowering needs the fill to be below the
 * threshold minus a margin for `clearAfter` collections in a row.
 */
import { globToRegExp } from '../filter';
import type { Thresholds, ThresholdRule } from './settings';

export const LEVELS = ['normal', 'warning', 'critical'] as const;
/** A level a map can be at and move between (transitions). */
export type Level = (typeof LEVELS)[number];
/**
 * What a map's readout says: a level, or `off` for a map whose levels are both off (LRU
 * hashes by default). An off map never changes level and is never reported as normal.
 */
export type MapLevel = Level | 'off';
export const MAP_LEVELS: readonly MapLevel[] = ['off', ...LEVELS];

/**
 * The exported value of each level (ebpf.map.alert_level): -1 for off, so that no rule on
 * `== 0` (normal) or `> 0` (alerting) ever takes an off map for either.
 */
export const LEVEL_VALUE: Readonly<Record<MapLevel, number>> = { off: -1, normal: 0, warning: 1, critical: 2 };

/** Both thresholds off: the map has no levels. */
export function levelsOff(t: Thresholds): boolean {
  return t.warning === null && t.critical === null;
}

export interface ThresholdConfig extends Thresholds {
  /** By map type; one rule per type. */
  types: readonly ThresholdRule[];
  /** By name glob; the first match wins, and wins over the type's rule. */
  names: readonly ThresholdRule[];
}

/** Resolves each map's thresholds; answers are cached (names repeat, rules do not change). */
export function thresholdResolver(config: ThresholdConfig): (name: string, type: string) => Thresholds {
  const global: Thresholds = { warning: config.warning, critical: config.critical };
  const byType = new Map(config.types.map((r) => [r.match, { warning: r.warning, critical: r.critical }]));
  const byName = config.names.map((r) => ({ re: globToRegExp(r.match), t: { warning: r.warning, critical: r.critical } }));
  const cache = new Map<string, Thresholds>();
  return (name, type) => {
    const key = `${type}\0${name}`;
    let t = cache.get(key);
    if (t) return t;
    t = byName.find((r) => r.re.test(name))?.t ?? byType.get(type) ?? global;
    // Names churn with map reloads; a bounded cache is enough to skip the regexps.
    if (cache.size >= 10_000) cache.clear();
    cache.set(key, t);
    return t;
  };
}

/** The level of a fill, each threshold lowered by `margin`. */
export function levelOf(utilization: number, t: Thresholds, margin = 0): Level {
  if (t.critical !== null && utilization >= t.critical - margin) return 'critical';
  if (t.warning !== null && utilization >= t.warning - margin) return 'warning';
  return 'normal';
}

export interface HysteresisOptions {
  /** A level is left only below its threshold minus this (a fill ratio). */
  margin: number;
  /** ...for this many collections in a row (>= 1). */
  clearAfter: number;
}

export interface LevelState {
  level: Level;
  /** Collections in a row below the current level's threshold minus the margin. */
  below: number;
}

export const INITIAL_LEVEL: LevelState = { level: 'normal', below: 0 };

/** The next state of a map's level given its new fill. */
export function nextLevel(state: LevelState, utilization: number, t: Thresholds, h: HysteresisOptions): LevelState {
  const raised = levelOf(utilization, t);
  if (LEVEL_VALUE[raised] > LEVEL_VALUE[state.level]) return { level: raised, below: 0 };
  const held = levelOf(utilization, t, h.margin);
  if (LEVEL_VALUE[held] >= LEVEL_VALUE[state.level]) return state.below === 0 ? state : { level: state.level, below: 0 };
  const below = state.below + 1;
  return below >= h.clearAfter ? { level: held, below: 0 } : { level: state.level, below };
}
