// SPDX-License-Identifier: Apache-2.0
// The OTLP encoder on its own, decoded with the OpenTelemetry project's generated protobuf
// code: requests within the byte bound, every point once and in order, one resource and one
// scope block a request, the Meter's metrics as the SDK's own serializer writes them, each
// map's attribute bytes encoded once (not once per collection), start <= time everywhere.
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import t from 'tap';
import type { Collection, MapStats } from '../../src/collector';
import { OtlpEncoder } from '../../src/export/encode';
import { SCOPE } from '../../src/metrics/scope';
import { registerSelfInstruments, SelfTelemetry } from '../../src/metrics/self';
import { ATTR, METRICS } from '../../src/metrics/table';
import { decodeRequest } from '../helpers/otlp-receiver';
import { COLLECTION_DEFAULTS, MAP_DEFAULTS } from '../helpers/collections';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const root = require('otlp-proto-decoders/build/src/generated/root') as {
  opentelemetry: { proto: { collector: { metrics: { v1: { ExportMetricsServiceRequest: { decode(b: Uint8Array): object; toObject(m: object, o: object): Record<string, unknown> } } } } } };
};
const REQUEST = root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
type Obj = Record<string, unknown>;
const raw = (b: Uint8Array) => REQUEST.toObject(REQUEST.decode(b), { longs: String, enums: Number, arrays: true, defaults: false }) as { resourceMetrics: Obj[] };

const resource = resourceFromAttributes({ 'host.name': 'exp-host', 'service.name': 'ebpf-map-pressure' });

function map(id: number, over: Partial<MapStats> = {}): MapStats {
  return {
    ...MAP_DEFAULTS,
    id, name: `exp_${id}`, type: 'hash', keySize: 4, valueSize: 8, maxEntries: 1000, mapFlags: 0, entries: id % 7, pendingBytes: null,
    utilization: (id % 7) / 1000, countMethod: 'kfunc', countAgeMs: null, countStale: false, notCounted: null, memoryBytes: 4096 + id, memoryEstimated: false,
    ...over,
  };
}

function collection(n: number, time = 1_796_000_000_123, over: (i: number) => Partial<MapStats> = () => ({})): Collection {
  const maps = Array.from({ length: n }, (_, i) => map(i + 1, over(i)));
  return { ...COLLECTION_DEFAULTS, time, maps, mapsSeen: n };
}

class TestReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

t.test('requests within the byte bound; every point once, in order; one resource and one scope block each', async (t) => {
  const c = collection(3000);
  const enc = new OtlpEncoder({ resource, scope: SCOPE, maxRequestBytes: 64 * 1024 });
  const requests = enc.encode(c, null, [], c.time - 5000);
  t.ok(requests.length > 3, `${requests.length} requests`);
  const seen: string[] = [];
  for (const r of requests) {
    t.ok(r.bytes.length <= 64 * 1024, `request of ${r.bytes.length} bytes`);
    const o = raw(r.bytes);
    t.equal(o.resourceMetrics.length, 1, 'one resource');
    const sm = o.resourceMetrics[0]!.scopeMetrics as Obj[];
    t.equal(sm.length, 1, 'one scope block');
    t.match(sm[0]!.scope, { name: SCOPE.name, version: SCOPE.version });
    const d = decodeRequest(r.bytes);
    t.equal(d.points.length, r.points, 'points as counted');
    t.same(d.resource, { 'host.name': 'exp-host', 'service.name': 'ebpf-map-pressure' });
    for (const p of d.points) seen.push(`${p.metric} ${p.attributes[ATTR.id]}`);
  }
  // The order of the table, maps in collection order, each point once.
  const expected: string[] = [];
  for (const spec of [METRICS.entries, METRICS.maxEntries, METRICS.utilization, METRICS.memory]) for (const m of c.maps) expected.push(`${spec.name} ${m.id}`);
  t.same(seen, expected, 'every point once, in order');
});

t.test('points: attributes (count_method on every series), kinds, values, times', async (t) => {
  const c = collection(5, 1_796_000_000_123, (i) => (i === 4 ? { type: 'ringbuf', entries: null, pendingBytes: 100, utilization: 100 / 4096, maxEntries: 4096, countMethod: 'kernel_counter' } : {}));
  const enc = new OtlpEncoder({ resource, scope: SCOPE, maxRequestBytes: 1 << 20 });
  const [r] = enc.encode(c, null, [], 1_795_999_990_000);
  const points = decodeRequest(r!.bytes).points;
  for (const p of points) {
    const m = c.maps.find((x) => x.id === p.attributes[ATTR.id])!;
    t.same(p.attributes, { [ATTR.id]: m.id, [ATTR.name]: m.name, [ATTR.type]: m.type, [ATTR.countMethod]: m.countMethod }, `${p.metric} ${m.id}: the identity attributes`);
    t.equal(p.attributeKinds[ATTR.id], 'int');
    t.equal(p.timeUnixNano, 1_796_000_000_123 * 1e6, 'time: the collection time');
  }
  const ring = points.filter((p) => p.attributes[ATTR.id] === 5).map((p) => [p.metric, p.value, p.valueKind]);
  t.same(ring, [
    [METRICS.maxEntries.name, 4096, 'int'],
    [METRICS.utilization.name, 100 / 4096, 'double'],
    [METRICS.memory.name, 4101, 'int'],
    [METRICS.ringbufPending.name, 100, 'int'],
  ]);
  const o = raw(r!.bytes);
  const metrics = ((o.resourceMetrics[0]!.scopeMetrics as Obj[])[0]!.metrics as Obj[]);
  for (const m of metrics) {
    for (const dp of ((m.gauge as Obj).dataPoints as Obj[])) t.ok(BigInt(dp.startTimeUnixNano as string) <= BigInt(dp.timeUnixNano as string), 'start <= time');
  }
  t.equal((metrics[0]!.gauge as { dataPoints: Obj[] }).dataPoints[0]!.startTimeUnixNano, String(1_795_999_990_000n * 1_000_000n), 'start: the agent start');
  // A start after the collection (a clock step) never makes start > time.
  const [late] = enc.encode(c, null, [], c.time + 60_000);
  for (const m of (raw(late!.bytes).resourceMetrics[0]!.scopeMetrics as Obj[])[0]!.metrics as Obj[])
    for (const dp of ((m.gauge as Obj).dataPoints as Obj[])) t.ok(BigInt(dp.startTimeUnixNano as string) <= BigInt(dp.timeUnixNano as string));
});

t.test("the Meter's metrics decode as the SDK's own serializer writes them", async (t) => {
  const self = new SelfTelemetry({ readMemory: true });
  const reader = new TestReader();
  const provider = new MeterProvider({ resource, readers: [reader] });
  t.teardown(() => provider.shutdown());
  registerSelfInstruments(provider.getMeter(SCOPE.name, SCOPE.version), self);
  self.collected(collection(3));
  self.failed('EMP_COLLECT_FAILED', 3.5);
  self.exported('otlp', { ok: true, points: 12 });
  const { resourceMetrics } = await reader.collect();
  const sdk = decodeRequest(ProtobufMetricsSerializer.serializeRequest(resourceMetrics)!);
  const enc = new OtlpEncoder({ resource, scope: SCOPE, maxRequestBytes: 1 << 20 });
  const [r] = enc.encode(null, null, resourceMetrics.scopeMetrics.flatMap((s) => s.metrics), Date.now());
  const ours = decodeRequest(r!.bytes);
  t.ok(sdk.points.length > 5, `${sdk.points.length} points`);
  t.same(ours.points, sdk.points, 'the same points: names, units, descriptions, kinds, attributes, values, times');
  t.same(ours.resource, sdk.resource);
  // What the flattened points leave out: temporality, monotonicity, histogram buckets.
  const strip = (o: { resourceMetrics: Obj[] }) => (o.resourceMetrics[0]!.scopeMetrics as Obj[])[0]!.metrics;
  t.same(strip(raw(r!.bytes)), strip(raw(ProtobufMetricsSerializer.serializeRequest(resourceMetrics)!)), 'field for field');
});

t.test("each map's attributes are encoded once, again only when a value changes, forgotten when the map goes", async (t) => {
  const enc = new OtlpEncoder({ resource, scope: SCOPE, maxRequestBytes: 1 << 20 });
  enc.encode(collection(100), null, [], 0);
  t.equal(enc.attributeEncodings, 100, 'the first collection: once per map');
  enc.encode(collection(100, 1_796_000_010_000), null, [], 0);
  t.equal(enc.attributeEncodings, 100, 'the next: none again');
  const changed = collection(100, 1_796_000_020_000, (i) => (i === 7 ? { countMethod: 'walk' } : {}));
  const [r] = enc.encode(changed, null, [], 0);
  t.equal(enc.attributeEncodings, 101, 'a changed count method: that map again');
  t.ok(decodeRequest(r!.bytes).points.filter((p) => p.attributes[ATTR.id] === 8).every((p) => p.attributes[ATTR.countMethod] === 'walk'), 'with the new value');
  enc.encode(collection(10), null, [], 0);
  t.equal(enc.cachedMaps, 10, 'maps gone are forgotten');
});

t.test('nothing to send: no request', async (t) => {
  const enc = new OtlpEncoder({ resource, scope: SCOPE, maxRequestBytes: 1 << 20 });
  t.same(enc.encode(null, null, [], 0), []);
  t.same(enc.encode(collection(0), null, [], 0), []);
});

t.test('a point bound closes requests too', async (t) => {
  const enc = new OtlpEncoder({ resource, scope: SCOPE, maxRequestBytes: 1 << 20, maxPointsPerRequest: 50 });
  const requests = enc.encode(collection(100), null, [], 0);
  t.same(requests.map((r) => r.points), [50, 50, 50, 50, 50, 50, 50, 50]);
});
