// SPDX-License-Identifier: Apache-2.0
/**
 * Per-map pressure state, fed one Collection at a time: the level (with hysteresis) and the
 * forecast of every countable map, and the level transitions of this collection. State is
 * keyed by map id and dropped as soon as a map is gone, so memory follows the maps alive now.
 * Reads only the Collection: never the kernel.
 */
import type { Collection, MapStats } from '../collector';
import { ownerBrief } from '../owners/format';
import { forecast, SampleWindow } from './forecast';
import { INITIAL_LEVEL, type Level, type LevelState, nextLevel, thresholdResolver, type ThresholdConfig } from './levels';
import type { Thresholds } from './settings';

export interface TrackerSettings extends ThresholdConfig {
  hysteresisMargin: number;
  clearAfter: number;
  forecastWindowMs: number;
}

/** One map's pressure as of a collection. */
export interface MapPressure {
  readonly id: number;
  readonly name: string;
  readonly type: string;
  /** Entries, or pending bytes for ring buffers; null when not counted. */
  readonly fill: number | null;
  readonly maxEntries: number;
  readonly utilization: number | null;
  /** null where fill is not meaningful (no utilization). */
  readonly level: Level | null;
  readonly thresholds: Thresholds;
  readonly growthPerS: number | null;
  /** Seconds until full; null unless growing. */
  readonly timeToFullS: number | null;
}

export interface Transition {
  readonly map: MapPressure;
  readonly from: Level;
  readonly to: Level;
  /** Collection time, ms since the epoch. */
  readonly time: number;
  /** Who owns the map (its first owner and program), when known: log lines and webhooks name it. */
  readonly owner: ReturnType<typeof ownerBrief>;
}

/** The pressure of every map of one collection. */
export interface PressureReadout {
  /** The collection's time: pairs the readout with its collection. */
  readonly time: number;
  readonly maps: ReadonlyMap<number, MapPressure>;
}

interface MapState {
  name: string;
  type: string;
  maxEntries: number;
  level: LevelState;
  window: SampleWindow;
}

/** The fill a map is forecast on: entries, or pending bytes for ring buffers. */
export function fillOf(m: MapStats): number | null {
  return m.entries ?? m.pendingBytes;
}

export class PressureTracker {
  readonly #settings: TrackerSettings;
  readonly #thresholds: (name: string, type: string) => Thresholds;
  #state = new Map<number, MapState>();
  #latest: PressureReadout | null = null;

  constructor(settings: TrackerSettings) {
    this.#settings = settings;
    this.#thresholds = thresholdResolver(settings);
  }

  /** The readout of the last collection given to update(). */
  latest(): PressureReadout | null {
    return this.#latest;
  }

  /** Maps with state (for tests: gone maps must not linger). */
  get tracked(): number {
    return this.#state.size;
  }

  /** Takes one collection; returns its readout and the level changes it caused. */
  update(c: Collection): { readout: PressureReadout; transitions: Transition[] } {
    const next = new Map<number, MapState>();
    const maps = new Map<number, MapPressure>();
    const transitions: Transition[] = [];
    const h = { margin: this.#settings.hysteresisMargin, clearAfter: this.#settings.clearAfter };
    for (const m of c.maps) {
      let st = this.#state.get(m.id);
      // Ids are not reused until they wrap, but a different map under an old id starts afresh.
      if (!st || st.type !== m.type || st.name !== m.name || st.maxEntries !== m.maxEntries) {
        st = { name: m.name, type: m.type, maxEntries: m.maxEntries, level: INITIAL_LEVEL, window: new SampleWindow(this.#settings.forecastWindowMs) };
      }
      next.set(m.id, st);
      const thresholds = this.#thresholds(m.name, m.type);
      const fill = fillOf(m);
      let level: Level | null = null;
      let growthPerS: number | null = null;
      let timeToFullS: number | null = null;
      if (m.utilization !== null) {
        const before = st.level.level;
        st.level = nextLevel(st.level, m.utilization, thresholds, h);
        level = st.level.level;
        if (fill !== null) {
          st.window.add(c.time, fill, m.maxEntries);
          ({ growthPerS, timeToFullS } = forecast(st.window.samples(), m.maxEntries));
        }
        const p = { id: m.id, name: m.name, type: m.type, fill, maxEntries: m.maxEntries, utilization: m.utilization, level, thresholds, growthPerS, timeToFullS };
        maps.set(m.id, p);
        if (level !== before) transitions.push({ map: p, from: before, to: level, time: c.time, owner: ownerBrief(m.owners ?? null) });
        continue;
      }
      maps.set(m.id, { id: m.id, name: m.name, type: m.type, fill, maxEntries: m.maxEntries, utilization: null, level, thresholds, growthPerS, timeToFullS });
    }
    this.#state = next;
    this.#latest = { time: c.time, maps };
    return { readout: this.#latest, transitions };
  }
}
