// SPDX-License-Identifier: Apache-2.0
// metrics.<name>.enabled on the exporters, from recorded collections: the selection's defaults
// are the table's; a disabled per-map, owner or Meter metric is in no exporter's output (OTLP
// request decoded with the OpenTelemetry project's code, Prometheus exposition, console points)
// while every other metric still is; a disabled owner series is not even encoded; set()
// switches them back for the next export.
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import t from 'tap';
import type { Collection, MapStats } from '../../src/collector';
import { perMapMetricData } from '../../src/export/console';
import { OtlpEncoder } from '../../src/export/encode';
import { PrometheusExposition } from '../../src/export/prometheus';
import { registerHostInstruments } from '../../src/metrics/instruments';
import { SCOPE } from '../../src/metrics/scope';
import { defaultSwitches, MetricSelection } from '../../src/metrics/selection';
import { registerSelfInstruments, SelfTelemetry } from '../../src/metrics/self';
import { PER_MAP_SERIES } from '../../src/metrics/series';
import { ALL_METRICS, METRICS, type MetricSpec, prometheusName } from '../../src/metrics/table';
import type { MapOwners } from '../../src/owners/model';
import { COLLECTION_DEFAULTS, MAP_DEFAULTS } from '../helpers/collections';
import { parseExposition } from '../helpers/exposition';
import { decodeRequest } from '../helpers/otlp-receiver';

const resource = resourceFromAttributes({ 'host.name': 'sel-host', 'service.name': 'ebpf-map-pressure' });
const OWNERS = { maxPerMap: 1, copyAttributes: [] };

const owners: MapOwners = {
  processes: [
    { pid: 100, comm: 'loader', executable: 'loader', containerId: null, podUid: null, pod: null, namespace: null, container: null, via: 'map' },
    { pid: 101, comm: 'other', executable: 'other', containerId: null, podUid: null, pod: null, namespace: null, container: null, via: 'map' },
  ],
  processesOmitted: 0,
  programs: [],
  pins: [],
  unknown: null,
};

function map(id: number): MapStats {
  return { ...MAP_DEFAULTS, id, name: `sel_${id}`, maxEntries: 100, entries: id, utilization: id / 100, memoryBytes: 4096, owners };
}

function collection(): Collection {
  const maps = [map(1), map(2), map(3)];
  return { ...COLLECTION_DEFAULTS, time: 1_796_000_000_123, maps, mapsSeen: maps.length };
}

class TestReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** The Meter's metrics of a recorded collection (host and self-telemetry), as one export reads them. */
async function meterMetrics(c: Collection, selection: MetricSelection) {
  const reader = new TestReader();
  const provider = new MeterProvider({ resource, readers: [reader] });
  const meter = provider.getMeter(SCOPE.name, SCOPE.version);
  const self = new SelfTelemetry({ readMemory: true });
  self.collected(c);
  registerHostInstruments(meter, { latest: () => c }, selection);
  registerSelfInstruments(meter, self);
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
}

/** The metric names each exporter writes for `c` under `selection`. */
async function exported(c: Collection, selection: MetricSelection) {
  const sdk = selection.sdk(await meterMetrics(c, selection));
  const encoder = new OtlpEncoder({ resource, scope: SCOPE, maxRequestBytes: 1 << 20, owners: OWNERS, metrics: selection });
  const otlp = new Set(encoder.encode(c, null, sdk, c.time - 1000).flatMap((r) => decodeRequest(r.bytes).points.map((p) => p.metric)));
  const exposition = new PrometheusExposition({ resource, scope: SCOPE, owners: OWNERS, metrics: selection });
  exposition.render(c, null, sdk);
  const { samples, types } = parseExposition(exposition.body.toString());
  const prometheus = new Set(types.keys());
  const console = new Set([...sdk, ...perMapMetricData(c, null, c.time - 1000, OWNERS, selection)].map((m) => m.descriptor.name));
  return { otlp, prometheus, console, encoder, exposition, samples: samples.length };
}

/** What a recorded collection exports: maps with entries, memory, utilization and owners (one omitted). */
const EXPECTED = [
  METRICS.entries,
  METRICS.maxEntries,
  METRICS.utilization,
  METRICS.memory,
  METRICS.owner,
  METRICS.ownersOmitted,
  METRICS.count,
  METRICS.collectionDuration,
  METRICS.collections,
  METRICS.mapsSeen,
  METRICS.mapsSkipped,
  METRICS.iteratorRead,
];
const OFF: readonly MetricSpec[] = [METRICS.memory, METRICS.owner, METRICS.count, METRICS.collections, METRICS.collectionDuration];

t.test('the defaults are the table\'s: every metric, and every one on', async (t) => {
  const defaults = defaultSwitches();
  t.same(Object.keys(defaults), ALL_METRICS.map((m) => m.name), 'one switch per metric of the table');
  t.same(Object.entries(defaults).filter(([, on]) => !on), [], 'all on: nobody loses a series on upgrade');
  const s = new MetricSelection();
  t.same(s.perMap, PER_MAP_SERIES, 'every per-map series');
  t.ok(ALL_METRICS.every((m) => s.enabled(m)));
  const all = [{ descriptor: { name: METRICS.count.name } }] as Parameters<MetricSelection['sdk']>[0];
  t.equal(s.sdk(all), all, 'nothing to drop: the same array');
});

t.test('set(): switches by name, the rest keep the table\'s default; per-map order kept', async (t) => {
  const s = new MetricSelection({ [METRICS.memory.name]: false, [METRICS.entries.name]: false });
  t.notOk(s.enabled(METRICS.memory));
  t.notOk(s.enabled(METRICS.entries));
  t.ok(s.enabled(METRICS.maxEntries), 'a metric not named: its default');
  t.same(s.perMap.map((x) => x.spec.name), PER_MAP_SERIES.filter((x) => x.spec !== METRICS.memory && x.spec !== METRICS.entries).map((x) => x.spec.name));
  const sdk = [{ descriptor: { name: METRICS.memory.name } }, { descriptor: { name: 'not.ours' } }] as Parameters<MetricSelection['sdk']>[0];
  t.same(s.sdk(sdk).map((m) => m.descriptor.name), ['not.ours'], 'a Meter metric of the table dropped, a name not in the table kept');
  s.set({});
  t.ok(s.enabled(METRICS.memory) && s.enabled(METRICS.entries), 'set({}): the defaults again');
});

t.test('every exporter: the disabled metrics are gone, every other one is still there', async (t) => {
  const c = collection();
  const all = await exported(c, new MetricSelection());
  for (const [exporter, names] of Object.entries({ otlp: all.otlp, console: all.console })) {
    for (const m of EXPECTED) t.ok(names.has(m.name), `${exporter}, all on: ${m.name}`);
  }
  for (const m of EXPECTED) t.ok(all.prometheus.has(prometheusName(m)), `prometheus, all on: ${prometheusName(m)}`);

  const selection = new MetricSelection(Object.fromEntries(OFF.map((m) => [m.name, false])));
  const some = await exported(c, selection);
  for (const m of EXPECTED) {
    const on = !OFF.includes(m);
    t.equal(some.otlp.has(m.name), on, `otlp: ${m.name} ${on ? 'kept' : 'gone'}`);
    t.equal(some.console.has(m.name), on, `console: ${m.name} ${on ? 'kept' : 'gone'}`);
    t.equal(some.prometheus.has(prometheusName(m)), on, `prometheus: ${prometheusName(m)} ${on ? 'kept' : 'gone'}`);
  }
  t.ok(some.samples < all.samples, `fewer samples (${some.samples} < ${all.samples})`);
});

t.test('the owner series off: not encoded at all; set() brings them back at the next export', async (t) => {
  const c = collection();
  const selection = new MetricSelection({ [METRICS.owner.name]: false, [METRICS.ownersOmitted.name]: false });
  const off = await exported(c, selection);
  t.equal(off.encoder.ownerEncodings, 0, 'no owner point encoded');
  t.notOk(off.otlp.has(METRICS.owner.name) || off.otlp.has(METRICS.ownersOmitted.name), 'no owner series');
  t.ok(off.otlp.has(METRICS.entries.name), 'the per-map series still');

  const encoder = new OtlpEncoder({ resource, scope: SCOPE, maxRequestBytes: 1 << 20, owners: OWNERS, metrics: selection });
  const names = () => new Set(encoder.encode(c, null, [], c.time).flatMap((r) => decodeRequest(r.bytes).points.map((p) => p.metric)));
  t.notOk(names().has(METRICS.owner.name));
  selection.set({ [METRICS.ownersOmitted.name]: false });
  const back = names();
  t.ok(back.has(METRICS.owner.name), 'owner back on');
  t.notOk(back.has(METRICS.ownersOmitted.name), 'omitted still off');
  t.equal(encoder.ownerEncodings, 3, 'encoded once per map, from the export it came back in');
});
