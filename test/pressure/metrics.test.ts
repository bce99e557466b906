// SPDX-License-Identifier: Apache-2.0
// ebpf.map.alert_level and ebpf.map.time_to_full in the per-map series (what the OTLP
// encoder and the Prometheus renderer write): levels for maps with a utilization whose
// levels are on (-1 for LRU hashes, whose levels are off by default: never 0, normal), time
// to full only while growing, never paired with another collection's readout.
import t from 'tap';
import type { Collection, MapStats } from '../../src/collector';
import { loadConfig } from '../../src/config';
import { PER_MAP_SERIES, readoutFor } from '../../src/metrics/series';
import { METRICS, prometheusName } from '../../src/metrics/table';
import { PressureTracker, type PressureReadout } from '../../src/pressure/tracker';
import { COLLECTION_DEFAULTS, MAP_DEFAULTS } from '../helpers/collections';

function map(id: number, entries: number | null, over: Partial<MapStats> = {}): MapStats {
  return {
    ...MAP_DEFAULTS,
    id, name: `m${id}`, type: 'hash', keySize: 4, valueSize: 8, maxEntries: 1000, mapFlags: 0,
    entries, pendingBytes: null, utilization: entries === null ? null : entries / 1000, countMethod: 'kfunc', notCounted: null, memoryBytes: 1 << 16,
    ...over,
  };
}

t.test('names and units in the one metric table', async (t) => {
  t.equal(METRICS.alertLevel.name, 'ebpf.map.alert_level');
  t.equal(prometheusName(METRICS.alertLevel), 'ebpf_map_alert_level');
  t.equal(METRICS.timeToFull.name, 'ebpf.map.time_to_full');
  t.equal(METRICS.timeToFull.unit, 's');
  t.equal(prometheusName(METRICS.timeToFull), 'ebpf_map_time_to_full_seconds');
});

/** metric name -> map id -> value, as the exporters write them. */
function series(c: Collection, pressure: PressureReadout | null): Map<string, Map<number, number>> {
  const readout = readoutFor(c, pressure)?.maps;
  const out = new Map<string, Map<number, number>>();
  for (const s of PER_MAP_SERIES) {
    const byId = new Map<number, number>();
    for (const m of c.maps) {
      const v = s.value(m, readout?.get(m.id));
      if (v !== null) byId.set(m.id, v);
    }
    if (byId.size) out.set(s.spec.name, byId);
  }
  return out;
}

t.test('levels, and time to full only for growing maps; no level where levels are off', async (t) => {
  const tracker = new PressureTracker(loadConfig({ env: {} }).config.pressure);
  const now = Date.now();
  let latest: Collection | null = null;
  let readout: PressureReadout | null = null;
  // Map 1 grows 10/s through warning; map 2 sits at critical, flat; 3 is an array; 4 an LRU at full.
  for (let i = 0; i < 6; i++) {
    latest = {
      ...COLLECTION_DEFAULTS,
      time: now - (5 - i) * 1000, durationMs: 1, mapsSeen: 4, bytesRead: 0, memoryError: null,
      maps: [map(1, 700 + 10 * i), map(2, 900), map(3, null, { type: 'array', notCounted: 'preallocated' }), map(4, 1000, { type: 'lru_hash' })],
    };
    readout = tracker.update(latest!).readout;
  }
  const got = series(latest!, readout);
  const points = (name: string) => got.get(name) ?? new Map<number, number>();
  t.same([...points(METRICS.alertLevel.name)].sort(), [[1, 1], [2, 2], [4, -1]], 'warning 1, critical 2, the LRU (levels off) -1, never 0 (normal); none for the array');
  const ttf = points(METRICS.timeToFull.name);
  t.same([...ttf.keys()], [1], 'only the growing map has a time to full');
  t.equal(ttf.get(1), (1000 - 750) / 10);

  const stale = series(latest!, { ...readout!, time: readout!.time - 1 });
  t.notOk(stale.has(METRICS.alertLevel.name), "another collection's readout is not exported");
  t.ok(stale.has(METRICS.utilization.name));
});
