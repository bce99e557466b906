// SPDX-License-Identifier: Apache-2.0
/**
 * Per-map pressure state, fed one Collection at a time: the level (with hysteresis), the
 * forecast and the peak of every countable map, and the level transitions of this collection.
 * State is keyed by map id and dropped as soon as a map is gone, so memory follows the maps
 * alive now. Reads only the Collection: never the kernel.
 */
import type { Collection, MapStats } from '../collector';
import type { MapOwners } from '../owners/model';
import { type OwnerBrief, ownerBrief } from '../owners/format';
import { forecast, SampleWindow } from './forecast';
import { INITIAL_LEVEL, type Level, type LevelState, levelsOff, type MapLevel, nextLevel, thresholdResolver, type ThresholdConfig } from './levels';
import { PeakWindow, suggestMaxEntries } from './peak';
import type { Thresholds } from './settings';

export interface TrackerSettings extends ThresholdConfig {
  hysteresisMargin: number;
  clearAfter: number;
  forecastWindowMs: number;
  /** How far back the peak fill reaches. */
  peakWindowMs: number;
  /** The suggested max_entries holds the peak with this share of it to spare. */
  headroom: number;
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
  /** null where fill is not meaningful (no utilization); 'off' when both thresholds are off. */
  readonly level: MapLevel | null;
  readonly thresholds: Thresholds;
  readonly growthPerS: number | null;
  /** Seconds until full from the latest fill; 0 when full; null unless growing. */
  readonly timeToFullS: number | null;
  /** The largest fill seen over pressure.peak_window (as far back as peakOverS); null without a fill. */
  readonly peakFill: number | null;
  readonly peakUtilization: number | null;
  /** Seconds of history the peak covers (less than the window while the agent is young). */
  readonly peakOverS: number | null;
  /** Who owns the map (its first owner and program), when known. */
  readonly owner: OwnerBrief | null;
  /**
   * max_entries that would hold the peak with pressure.headroom to spare; null without a
   * peak, and for maps whose levels are off (an LRU sits full by design: its fill says
   * nothing about the size it needs). At or above max_entries means raise it.
   */
  readonly suggestedMaxEntries: number | null;
}

export interface Transition {
  readonly map: MapPressure;
  /** null: the level the map was found at when the agent started. */
  readonly from: Level | null;
  readonly to: Level;
  /** Collection time, ms since the epoch. */
  readonly time: number;
  /** Who owns the map (its first owner and program), when known: log lines and webhooks name it. */
  readonly owner: OwnerBrief | null;
}

/**
 * The pressure of every map of one collection. The tracker keeps one readout and updates it
 * in place each collection (its maps, and each map's MapPressure): read it before the next
 * collection, and copy what must outlive it (transitions already carry copies).
 */
export interface PressureReadout {
  /** The collection's time: pairs the readout with its collection. */
  readonly time: number;
  readonly maps: ReadonlyMap<number, MapPressure>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface MapState {
  name: string;
  type: string;
  maxEntries: number;
  level: LevelState;
  window: SampleWindow;
  peak: PeakWindow;
  /** The map's thresholds under the current rules (resolved when it appears, and on reconfigure). */
  thresholds: Thresholds;
  /** The last collection that had the map (a stamp: maps not seen in this one are dropped). */
  seen: number;
  /** The owner list `brief` was made from: an owner pass that finds nothing new hands back the same one. */
  owners: MapOwners | null;
  brief: OwnerBrief | null;
  /** The map's entry in the readout, rewritten each collection (null until its first). */
  pressure: Mutable<MapPressure> | null;
}

/** The fill a map is forecast on: entries, or pending bytes for ring buffers. */
export function fillOf(m: MapStats): number | null {
  return m.entries ?? m.pendingBytes;
}

/** What a configuration reload may change while the tracker runs (the windows stay as they are). */
export type ReloadableTrackerSettings = Pick<TrackerSettings, 'warning' | 'critical' | 'types' | 'names' | 'hysteresisMargin' | 'clearAfter' | 'headroom'>;

export class PressureTracker {
  #settings: TrackerSettings;
  #thresholds: (name: string, type: string) => Thresholds;
  #state = new Map<number, MapState>();
  /** The readout's maps, in place from one collection to the next (10,000 maps: no new Map and objects each time). */
  readonly #maps = new Map<number, MapPressure>();
  #latest: PressureReadout | null = null;
  #stamp = 0;

  constructor(settings: TrackerSettings) {
    this.#settings = settings;
    this.#thresholds = thresholdResolver(settings);
  }

  /**
   * New thresholds, hysteresis and headroom from the next collection on. Every map keeps its
   * level, forecast window and peak: a level moves by the usual rules at its next fill.
   */
  reconfigure(s: ReloadableTrackerSettings): void {
    const { warning, critical, types, names, hysteresisMargin, clearAfter, headroom } = s;
    this.#settings = { ...this.#settings, warning, critical, types, names, hysteresisMargin, clearAfter, headroom };
    this.#thresholds = thresholdResolver(this.#settings);
    for (const st of this.#state.values()) st.thresholds = this.#thresholds(st.name, st.type);
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
    const s = this.#settings;
    const state = this.#state;
    const stamp = ++this.#stamp;
    const maps = this.#maps;
    const transitions: Transition[] = [];
    const h = { margin: s.hysteresisMargin, clearAfter: s.clearAfter };
    for (const m of c.maps) {
      let st = state.get(m.id);
      // Ids are not reused until they wrap, but a different map under an old id starts afresh.
      if (!st || st.type !== m.type || st.name !== m.name || st.maxEntries !== m.maxEntries) {
        st = {
          name: m.name, type: m.type, maxEntries: m.maxEntries, level: INITIAL_LEVEL, window: new SampleWindow(s.forecastWindowMs), peak: new PeakWindow(s.peakWindowMs),
          thresholds: this.#thresholds(m.name, m.type), seen: stamp, owners: null, brief: null, pressure: null,
        };
        state.set(m.id, st);
      }
      st.seen = stamp;
      const owners = m.owners ?? null;
      if (st.owners !== owners) {
        st.owners = owners;
        st.brief = ownerBrief(owners);
      }
      const owner = st.brief;
      const thresholds = st.thresholds;
      const fill = fillOf(m);
      const p = readoutEntry(st, maps, m);
      p.fill = fill;
      p.utilization = m.utilization;
      p.thresholds = thresholds;
      p.owner = owner;
      if (m.utilization === null) {
        p.level = p.growthPerS = p.timeToFullS = p.peakFill = p.peakUtilization = p.peakOverS = p.suggestedMaxEntries = null;
        continue;
      }
      const off = levelsOff(thresholds);
      const before = st.level.level;
      if (!off) st.level = nextLevel(st.level, m.utilization, thresholds, h);
      p.level = off ? 'off' : st.level.level;
      p.growthPerS = p.timeToFullS = p.peakFill = p.peakUtilization = p.peakOverS = p.suggestedMaxEntries = null;
      if (fill !== null) {
        st.window.add(c.time, fill, m.maxEntries);
        ({ growthPerS: p.growthPerS, timeToFullS: p.timeToFullS } = forecast(st.window, m.maxEntries));
        st.peak.add(c.time, fill);
        const peakFill = st.peak.peak();
        p.peakFill = peakFill;
        if (peakFill !== null) {
          p.peakUtilization = m.maxEntries > 0 ? peakFill / m.maxEntries : null;
          p.peakOverS = st.peak.coversMs(c.time) / 1000;
          p.suggestedMaxEntries = off ? null : suggestMaxEntries(peakFill, m.type, s.headroom);
        }
      }
      // A transition outlives the collection (queued webhooks): it keeps a copy as of now.
      if (!off && st.level.level !== before) transitions.push({ map: Object.freeze({ ...p }), from: before, to: st.level.level, time: c.time, owner: p.owner });
    }
    // Gone maps take their state with them.
    if (state.size > c.maps.length) {
      for (const [id, st] of state) {
        if (st.seen !== stamp) {
          state.delete(id);
          maps.delete(id);
        }
      }
    }
    this.#latest = { time: c.time, maps };
    return { readout: this.#latest, transitions };
  }
}

/** The map's readout entry, rewritten in place each collection: made (and put in `maps`) at its first. */
function readoutEntry(st: MapState, maps: Map<number, MapPressure>, m: MapStats): Mutable<MapPressure> {
  if (st.pressure) return st.pressure;
  const p: Mutable<MapPressure> = {
    id: m.id, name: m.name, type: m.type, fill: null, maxEntries: m.maxEntries, utilization: null, level: null, thresholds: st.thresholds,
    growthPerS: null, timeToFullS: null, peakFill: null, peakUtilization: null, peakOverS: null, suggestedMaxEntries: null, owner: null,
  };
  st.pressure = p;
  maps.set(m.id, p); // also replaces the entry of a different map that had the same id
  return p;
}
