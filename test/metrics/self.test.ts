// SPDX-License-Identifier: Apache-2.0
// The agent's own telemetry: what SelfTelemetry records from real collections, how it comes
// out of a real MeterProvider (instrument kinds, units, attributes, histogram buckets), and
// that it reaches every exporter: the Prometheus endpoint (names as the Collector writes
// them), OTLP, and the console.
import t from 'tap';
import { DataPointType, type Histogram, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { Collector, type Collection } from '../../src/collector';
import { DURATION_BUCKETS_S, registerSelfInstruments, SelfTelemetry } from '../../src/metrics/self';
import { ATTR, METRICS, type MetricSpec, prometheusName } from '../../src/metrics/table';
import { startAgent, startAgentProcess } from '../helpers/agent-process';
import { createMap, fill } from '../helpers/kernel';
import { freePort, pointsOf, startGrpcReceiver } from '../helpers/otlp-receiver';

const SELF = [
  METRICS.collectionDuration,
  METRICS.collections,
  METRICS.collectionErrors,
  METRICS.mapsSeen,
  METRICS.mapsSkipped,
  METRICS.iteratorRead,
  METRICS.exportFailures,
  METRICS.exportDataPoints,
] as const;

class TestReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

async function collectSelf(self: SelfTelemetry): Promise<Map<string, MetricData>> {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  registerSelfInstruments(provider.getMeter('test'), self);
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]));
}

function valueOf(m: MetricData | undefined, attrs: Record<string, string> = {}): unknown {
  const dp = m?.dataPoints.find((p) => Object.keys(attrs).every((k) => p.attributes[k] === attrs[k]) && Object.keys(p.attributes).length === Object.keys(attrs).length);
  return dp?.value;
}

/** A real collection of maps this test made, one of them filtered out. */
async function realCollection(t: { teardown(fn: () => unknown): void }): Promise<{ c: Collection; kept: number }> {
  const a = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16, name: 'st_kept' });
  fill(a, 4, 8, 5);
  createMap(t, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 4, name: 'st_filtered' });
  const collector = new Collector({ filter: (name) => name !== 'st_filtered' });
  t.teardown(() => collector.close());
  return { c: await collector.collect(), kept: a.id };
}

t.test('prometheusName writes names the way the Collector does', async (t) => {
  const spec = (name: string, unit: string, instrument: MetricSpec['instrument']): MetricSpec => ({ name, unit, instrument, description: '', valueType: 'int', attributes: [], enabled: true });
  t.equal(prometheusName(spec('x.duration', 's', 'histogram')), 'x_duration_seconds', 'histogram with unit s: the exposition adds _bucket/_sum/_count');
  t.equal(prometheusName(spec('x.read', 'By', 'counter')), 'x_read_bytes_total', 'counter: unit word, then _total');
  t.equal(prometheusName(spec('x.total.things', '{thing}', 'counter')), 'x_things_total', 'a total word moves to the end, once');
  t.equal(prometheusName(spec('x.bytes.read', 'By', 'counter')), 'x_bytes_read_total', 'the unit word is not repeated');
  t.equal(prometheusName(spec('x.share', '1', 'gauge')), 'x_share_ratio', 'unit 1 on a gauge: _ratio');
  t.equal(prometheusName(spec('x.hits', '1', 'counter')), 'x_hits_total', 'unit 1 on a counter: no _ratio');
  t.equal(prometheusName(spec('x..odd-name', 'ms', 'gauge')), 'x_odd_name_milliseconds', 'runs of other characters become one _');
  const expected: Record<string, string> = {
    collectionDuration: 'ebpf_map_pressure_collection_duration_seconds',
    collections: 'ebpf_map_pressure_collections_total',
    collectionErrors: 'ebpf_map_pressure_collection_errors_total',
    mapsSeen: 'ebpf_map_pressure_maps_seen',
    mapsSkipped: 'ebpf_map_pressure_maps_skipped',
    iteratorRead: 'ebpf_map_pressure_iterator_read_bytes_total',
    exportFailures: 'ebpf_map_pressure_export_failures_total',
    exportDataPoints: 'ebpf_map_pressure_export_data_points_total',
  };
  for (const [key, name] of Object.entries(expected)) t.equal(prometheusName(METRICS[key as keyof typeof METRICS]), name, key);
});

t.test('SelfTelemetry records collections, failures, skipped maps and exports', async (t) => {
  const { c } = await realCollection(t);
  const self = new SelfTelemetry({ readMemory: true });
  // Recorded before any Meter exists (the agent's first collection): replayed on registration.
  self.collected(c);
  self.failed('EMP_COLLECT_FAILED', 12);
  self.exported('otlp', { ok: true, points: 10 });
  self.exported('otlp', { ok: false, points: 3 });
  self.exported('prometheus', { ok: true, points: 7 });

  const snap = self.snapshot();
  t.equal(snap.collections, 2);
  t.same(snap.errors, { EMP_COLLECT_FAILED: 1 });
  t.equal(snap.iteratorBytes, c.bytesRead);
  t.equal(snap.mapsSeen, c.mapsSeen);
  t.equal(snap.mapsSkipped?.filtered, c.mapsSeen - c.maps.length, 'filtered: maps seen but not passed on');
  t.ok((snap.mapsSkipped?.filtered ?? 0) >= 1, 'our filtered map is among them');
  t.same(snap.exports, { otlp: { points: 13, failures: 1 }, prometheus: { points: 7, failures: 0 } });

  const m = await collectSelf(self);
  for (const spec of SELF) {
    const got = m.get(spec.name);
    t.ok(got, `${spec.name} is exported`);
    if (!got) continue;
    t.equal(got.descriptor.unit, spec.unit, `${spec.name}: unit`);
    const kind = { counter: DataPointType.SUM, gauge: DataPointType.GAUGE, histogram: DataPointType.HISTOGRAM }[spec.instrument];
    t.equal(got.dataPointType, kind, `${spec.name}: ${spec.instrument}`);
    if (got.dataPointType === DataPointType.SUM) t.ok(got.isMonotonic, `${spec.name}: monotonic`);
    for (const p of got.dataPoints) for (const k of Object.keys(p.attributes)) t.ok(spec.attributes.includes(k as never), `${spec.name}: attribute ${k} is in the table`);
  }
  t.equal(valueOf(m.get(METRICS.collections.name)), 2);
  t.equal(valueOf(m.get(METRICS.collectionErrors.name), { [ATTR.errorType]: 'EMP_COLLECT_FAILED' }), 1);
  t.equal(valueOf(m.get(METRICS.iteratorRead.name)), c.bytesRead);
  t.equal(valueOf(m.get(METRICS.mapsSeen.name)), c.mapsSeen);
  t.equal(valueOf(m.get(METRICS.mapsSkipped.name), { [ATTR.reason]: 'filtered' }), c.mapsSeen - c.maps.length);
  t.equal(valueOf(m.get(METRICS.exportDataPoints.name), { [ATTR.exporter]: 'otlp' }), 13);
  t.equal(valueOf(m.get(METRICS.exportFailures.name), { [ATTR.exporter]: 'otlp' }), 1);
  t.equal(valueOf(m.get(METRICS.exportFailures.name), { [ATTR.exporter]: 'prometheus' }), 0);

  const ok = valueOf(m.get(METRICS.collectionDuration.name)) as Histogram | undefined;
  t.equal(ok?.count, 1, 'one successful collection in the histogram (recorded before registration)');
  t.equal(ok?.sum, c.durationMs / 1000, 'its duration, in seconds');
  t.same(ok?.buckets.boundaries, DURATION_BUCKETS_S, 'the histogram has the seconds-scale buckets');
  const failed = valueOf(m.get(METRICS.collectionDuration.name), { [ATTR.errorType]: 'EMP_COLLECT_FAILED' }) as Histogram | undefined;
  t.equal(failed?.count, 1, 'the failed collection carries error.type');
  t.equal(failed?.sum, 0.012);
});

t.test('maps.skipped: not_counted and memory_unreadable, and no memory reason when memory is off', async (t) => {
  const { c, kept } = await realCollection(t);
  const model = c.maps.find((m) => m.id === kept)!;
  t.ok(model, 'our map is in the collection');
  // The same map as a kernel without a count (and without memory) would report it.
  const uncounted = { ...model, id: model.id + 1_000_000_000, entries: null, utilization: null, memoryBytes: null };
  const modified: Collection = { ...c, maps: [...c.maps, uncounted], mapsSeen: c.mapsSeen + 1 };

  const before = new SelfTelemetry({ readMemory: true });
  before.collected(c);
  const after = new SelfTelemetry({ readMemory: true });
  after.collected(modified);
  t.equal(after.snapshot().mapsSkipped?.not_counted, before.snapshot().mapsSkipped!.not_counted + 1, 'a countable map without a count: not_counted');
  t.equal(after.snapshot().mapsSkipped?.memory_unreadable, before.snapshot().mapsSkipped!.memory_unreadable + 1, 'a map without memory: memory_unreadable');
  t.equal(after.snapshot().mapsSkipped?.filtered, before.snapshot().mapsSkipped!.filtered, 'filtered unchanged');

  const noMemory = new SelfTelemetry({ readMemory: false });
  noMemory.collected(modified);
  const m = await collectSelf(noMemory);
  const reasons = m.get(METRICS.mapsSkipped.name)!.dataPoints.map((p) => p.attributes[ATTR.reason]).sort();
  t.same(reasons, ['filtered', 'not_counted'], 'memory_unreadable is not reported when memory is not read');
});

t.test('the agent feeds its SelfTelemetry from every collection', async (t) => {
  createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8, name: 'st_agent' });
  const a = await startAgent(t, ['--interval=1h', '--exporters=none', '--filter.exclude-names=st_agent']);
  const latest = a.agent.latest()!;
  const snap = a.agent.self.snapshot();
  t.equal(snap.collections, 1, 'the first collection');
  t.same(snap.errors, {});
  t.equal(snap.mapsSeen, latest.mapsSeen);
  t.equal(snap.iteratorBytes, latest.bytesRead);
  t.equal(snap.mapsSkipped?.filtered, latest.mapsSeen - latest.maps.length);
  t.ok((snap.mapsSkipped?.filtered ?? 0) >= 1, 'the excluded map is counted as filtered');
});

/** Prometheus text format: samples and the # TYPE of each family. */
function parseExposition(text: string) {
  const samples: Array<{ name: string; labels: string; value: number }> = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (m) samples.push({ name: m[1]!, labels: m[2] ?? '', value: Number(m[3]) });
  }
  return { samples, types };
}

/** Data points behind a scrape: one per sample, except a histogram's (one per _count). */
function dataPointsIn(s: ReturnType<typeof parseExposition>): number {
  const histograms = [...s.types].filter(([, type]) => type === 'histogram').map(([name]) => name);
  return s.samples.filter((x) => {
    if (x.name === 'target_info') return false;
    const h = histograms.find((n) => x.name.startsWith(`${n}_`));
    return !h || x.name === `${h}_count`;
  }).length;
}

t.test('on the Prometheus endpoint, with the Collector\'s names and types', async (t) => {
  const port = await freePort();
  const a = await startAgent(t, ['--interval=1h', '--exporters=prometheus', `--prometheus.port=${port}`]);
  const scrape = async () => parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
  const s1 = await scrape();
  const duration = prometheusName(METRICS.collectionDuration);
  t.equal(s1.types.get(duration), 'histogram', `# TYPE ${duration} histogram`);
  for (const suffix of ['_bucket', '_sum', '_count']) t.ok(s1.samples.some((x) => x.name === duration + suffix), `${duration}${suffix}`);
  t.ok(s1.samples.some((x) => x.name === `${duration}_bucket` && x.labels.includes('le="+Inf"')), 'a +Inf bucket');
  t.equal(s1.samples.find((x) => x.name === `${duration}_count`)?.value, 1, 'one collection so far');
  for (const spec of [METRICS.collections, METRICS.iteratorRead]) t.equal(s1.types.get(prometheusName(spec)), 'counter', `# TYPE ${prometheusName(spec)} counter`);
  for (const spec of [METRICS.mapsSeen, METRICS.mapsSkipped]) t.equal(s1.types.get(prometheusName(spec)), 'gauge', `# TYPE ${prometheusName(spec)} gauge`);
  const latest = a.agent.latest()!;
  const value = (name: string, label = '') => s1.samples.find((x) => x.name === name && x.labels.includes(label))?.value;
  t.equal(value(prometheusName(METRICS.collections)), 1);
  t.equal(value(prometheusName(METRICS.mapsSeen)), latest.mapsSeen);
  t.equal(value(prometheusName(METRICS.iteratorRead)), latest.bytesRead);
  t.equal(value(prometheusName(METRICS.mapsSkipped), 'reason="filtered"'), latest.mapsSeen - latest.maps.length);

  // The exposition is rendered once per collection and served as is to every scrape; each
  // scrape counts the data points it served, and the next collection's exposition shows the sum.
  const served = prometheusName(METRICS.exportDataPoints);
  const s2 = await scrape();
  t.same(s2.samples, s1.samples, 'a second scrape before the next collection gets the same exposition');
  await a.agent.collectNow();
  const s3 = await scrape();
  const at = (s: ReturnType<typeof parseExposition>) => s.samples.find((x) => x.name === served && x.labels.includes('exporter="prometheus"'))?.value;
  t.equal(s3.types.get(served), 'counter');
  t.equal(at(s3), dataPointsIn(s1) + dataPointsIn(s2), 'after two scrapes: the points both served');
  t.equal(value(prometheusName(METRICS.collections)), 1, 'the first exposition was of the first collection');
  t.equal(s3.samples.find((x) => x.name === prometheusName(METRICS.collections))?.value, 2, 'the next one, of the second');
  t.equal(s3.samples.find((x) => x.name === prometheusName(METRICS.exportFailures) && x.labels.includes('exporter="prometheus"'))?.value, 0, 'no failed scrape');
});

t.test('over OTLP, counting the points of each export', async (t) => {
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8, name: 'st_otlp' });
  fill(m, 4, 8, 2);
  const rx = await startGrpcReceiver(t);
  const a = await startAgent(t, ['--interval=1h', '--exporters=otlp', `--otlp.endpoint=${rx.endpoint}`]);
  await a.agent.telemetry!.flush(); // the start's export is delivered (and counted) first
  await a.agent.collectNow();
  const [first, second] = rx.requests;
  t.ok(first && second, 'two exports');
  if (!first || !second) return;
  for (const spec of SELF) {
    if (spec === METRICS.collectionErrors || spec === METRICS.exportFailures || spec === METRICS.exportDataPoints) continue;
    t.ok(pointsOf(first, spec.name).length > 0, `${spec.name} in the first export`);
  }
  const kind = (name: string) => pointsOf(first, name)[0]?.kind;
  t.equal(kind(METRICS.collectionDuration.name), 'histogram');
  t.equal(kind(METRICS.collections.name), 'sum');
  t.equal(kind(METRICS.mapsSeen.name), 'gauge');
  // The second export is of the latest collection; the first one's count may differ from it
  // (tests in the other tap worker create and close maps between the two collections).
  t.equal(pointsOf(second, METRICS.mapsSeen.name)[0]?.value, a.agent.latest()!.mapsSeen, 'maps_seen is the collection it was exported with');
  const delivered = pointsOf(second, METRICS.exportDataPoints.name).find((p) => p.attributes[ATTR.exporter] === 'otlp');
  t.equal(delivered?.value, first.points.length, 'the second export counts the points of the first');
  t.equal(pointsOf(second, METRICS.exportFailures.name).find((p) => p.attributes[ATTR.exporter] === 'otlp')?.value, 0);
});

t.test('on the console exporter', async (t) => {
  const p = startAgentProcess(t, ['run', '--interval=1s', '--exporters=console']);
  const deadline = Date.now() + 30_000;
  const has = (s: string) => p.stdout.some((l) => l.includes(s));
  while (!(has(`'${METRICS.exportDataPoints.name}'`) && has(`'${METRICS.collectionDuration.name}'`)) && Date.now() < deadline) {
    if (p.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const spec of [METRICS.collectionDuration, METRICS.collections, METRICS.mapsSeen, METRICS.iteratorRead, METRICS.exportDataPoints])
    t.ok(has(`'${spec.name}'`), `${spec.name} printed`);
  t.ok(has("exporter: 'console'"), 'console exports are counted under exporter="console"');
  const { code } = await p.stop();
  t.equal(code, 0);
});
