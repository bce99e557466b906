// SPDX-License-Identifier: Apache-2.0
// Owners as series on every exporter, from recorded owner lists: ebpf.map.owner (value 1 per
// (map, process), (map, program), (map, pin)) and ebpf.map.owners.omitted in the OTLP request
// (decoded with the OpenTelemetry project's generated code), on the Prometheus exposition and
// in the console's points, alike; owners.copy_attributes on every per-map series, absent where
// unknown; each map's encodings made once and again only when its owners change; the request
// bound kept with owner points in the requests.
import { resourceFromAttributes } from '@opentelemetry/resources';
import t from 'tap';
import type { Collection, MapStats } from '../../src/collector';
import { perMapMetricData } from '../../src/export/console';
import { OtlpEncoder } from '../../src/export/encode';
import { sameOwnerPoints } from '../../src/export/owner-series';
import { labelName, labelValue, PrometheusExposition } from '../../src/export/prometheus';
import { PER_MAP_SERIES } from '../../src/metrics/series';
import { SCOPE } from '../../src/metrics/scope';
import { ATTR, METRICS, prometheusName } from '../../src/metrics/table';
import { type MapOwners, OWNER_ATTR, OWNERS_PENDING, type OwnerAttribute, type ProcessOwner } from '../../src/owners/model';
import { copiedOwnerAttributes, ownerInfoPoints } from '../../src/owners/series';
import { parseExposition } from '../helpers/exposition';
import { decodeRequest, type Point } from '../helpers/otlp-receiver';

const resource = resourceFromAttributes({ 'host.name': 'own-host', 'service.name': 'ebpf-map-pressure' });
const UID = '0f8e1f2a-1b2c-4d5e-8f90-123456789abc';
const CID = 'ab'.repeat(32);
const COPY: OwnerAttribute[] = ['process.executable.name', 'k8s.namespace.name', 'k8s.pod.name'];
const OWNERS = { maxPerMap: 10, copyAttributes: COPY };

function proc(pid: number, over: Partial<ProcessOwner> = {}): ProcessOwner {
  return { pid, comm: 'loader', executable: 'loader-bin', containerId: null, podUid: null, pod: null, namespace: null, container: null, via: 'map', ...over };
}

/** Map 1: in a pod, two holders, a program, a pin, 2 more holders omitted; 2: a holder outside Kubernetes; 3: owners off; 4: not resolved yet. */
function owned(): Record<number, MapOwners | null> {
  return {
    1: {
      processes: [proc(100, { containerId: CID, podUid: UID, pod: 'web-1', namespace: 'shop', container: 'nginx' }), proc(101, { comm: 'bpftool', executable: 'bpftool', via: 'program' })],
      processesOmitted: 2,
      programs: [{ id: 7, name: 'xdp_count', type: 'xdp', attachTo: null }],
      pins: ['/sys/fs/bpf/shop/counts'],
      unknown: null,
    },
    2: { processes: [proc(200, { executable: '' })], processesOmitted: 0, programs: [], pins: [], unknown: null },
    3: null,
    4: OWNERS_PENDING,
  };
}

function map(id: number, owners: MapOwners | null): MapStats {
  return {
    id, name: `os_${id}`, type: 'hash', keySize: 4, valueSize: 8, maxEntries: 100, mapFlags: 0, entries: id, pendingBytes: null, utilization: id / 100,
    countMethod: 'kfunc', countAgeMs: null, countStale: false, notCounted: null, notCountedReason: null, memoryBytes: 4096, memoryEstimated: false, owners, copiesOwner: true,
  };
}

function collection(owners: Record<number, MapOwners | null> = owned(), time = 1_796_000_000_123): Collection {
  const maps = Object.entries(owners).map(([id, o]) => map(Number(id), o));
  return { time, durationMs: 1, maps, mapsSeen: maps.length, bytesRead: 0, memoryError: null, walks: 0, walkError: null, walkUnsupported: null, ownerProblems: null };
}

const mapRef = (id: number) => ({ [ATTR.id]: id, [ATTR.name]: `os_${id}`, [ATTR.type]: 'hash' });

/** The owner points the issue asks for, of owned(). */
const EXPECTED_OWNERS = [
  {
    ...mapRef(1), 'process.pid': 100, 'process.executable.name': 'loader-bin', 'process.command': 'loader', 'ebpf.owner.via': 'map',
    'container.id': CID, 'k8s.pod.uid': UID, 'k8s.pod.name': 'web-1', 'k8s.namespace.name': 'shop', 'k8s.container.name': 'nginx',
  },
  { ...mapRef(1), 'process.pid': 101, 'process.executable.name': 'bpftool', 'process.command': 'bpftool', 'ebpf.owner.via': 'program' },
  { ...mapRef(1), 'ebpf.program.id': 7, 'ebpf.program.name': 'xdp_count', 'ebpf.program.type': 'xdp' },
  { ...mapRef(1), 'ebpf.pin.path': '/sys/fs/bpf/shop/counts' },
  // No executable name: the comm stands in for it.
  { ...mapRef(2), 'process.pid': 200, 'process.executable.name': 'loader', 'process.command': 'loader', 'ebpf.owner.via': 'map' },
];

/** What each map's per-map series carry beyond the identity: the first owner's copied attributes, those known. */
const COPIED: Record<number, Record<string, string>> = {
  1: { 'process.executable.name': 'loader-bin', 'k8s.namespace.name': 'shop', 'k8s.pod.name': 'web-1' },
  2: { 'process.executable.name': 'loader' },
  3: {},
  4: {},
};

const encoder = (o: { maxRequestBytes?: number; maxPerMap?: number } = {}) =>
  new OtlpEncoder({ resource, scope: SCOPE, maxRequestBytes: o.maxRequestBytes ?? 1 << 20, owners: { ...OWNERS, maxPerMap: o.maxPerMap ?? 10 } });

function points(enc: OtlpEncoder, c: Collection): Point[] {
  return enc.encode(c, null, [], c.time - 60_000).flatMap((r) => decodeRequest(r.bytes).points);
}

const PER_MAP_NAMES = new Set(PER_MAP_SERIES.map((s) => s.spec.name));

t.test('OTLP: ebpf.map.owner per process, program and pin; owners.omitted; copied attributes on every per-map series', async (t) => {
  const c = collection();
  const got = points(encoder(), c);
  const owner = got.filter((p) => p.metric === METRICS.owner.name);
  t.same(owner.map((p) => p.attributes), EXPECTED_OWNERS, 'one point per (map, owner), with its attributes');
  t.ok(owner.every((p) => p.value === 1 && p.valueKind === 'int'), 'value 1, an int');
  t.equal(owner[0]?.attributeKinds['process.pid'], 'int', 'process.pid is an int attribute');
  t.equal(owner[2]?.attributeKinds['ebpf.program.id'], 'int', 'ebpf.program.id too');
  t.same([owner[0]?.unit, owner[0]?.description, owner[0]?.kind], [METRICS.owner.unit, METRICS.owner.description, 'gauge'], 'unit and description from the table');
  const omitted = got.filter((p) => p.metric === METRICS.ownersOmitted.name);
  t.same(omitted.map((p) => [p.attributes, p.value, p.unit]), [[mapRef(1), 2, METRICS.ownersOmitted.unit]], 'the 2 holders left out, on the map that has them only');
  const perMap = got.filter((p) => PER_MAP_NAMES.has(p.metric));
  t.ok(perMap.length >= 4 * 4, `${perMap.length} per-map points`);
  for (const p of perMap) {
    const id = p.attributes[ATTR.id] as number;
    t.same(p.attributes, { ...mapRef(id), [ATTR.countMethod]: 'kfunc', ...COPIED[id] }, `${p.metric} of map ${id}: identity and copied attributes, no empty ones`);
  }
  const times = new Set(got.map((p) => `${p.startTimeUnixNano} ${p.timeUnixNano}`));
  t.same([...times], [`${(c.time - 60_000) * 1e6} ${c.time * 1e6}`], 'owner points have the start and time of the per-map points');
  t.same([...new Set(got.map((p) => p.metric))].slice(-2), [METRICS.owner.name, METRICS.ownersOmitted.name], 'after the per-map metrics');
});

t.test('owners.omitted counts every owner cut at max_per_map: processes, programs and pins', async (t) => {
  const o: MapOwners = {
    processes: [proc(100), proc(101)],
    processesOmitted: 4,
    programs: [1, 2, 3].map((id) => ({ id, name: `p${id}`, type: 'xdp', attachTo: null })),
    pins: ['/sys/fs/bpf/a', '/sys/fs/bpf/b'],
    unknown: null,
  };
  const c = collection({ 1: o });
  const got = points(encoder({ maxPerMap: 1 }), c);
  const owner = got.filter((p) => p.metric === METRICS.owner.name);
  t.same(owner.map((p) => p.attributes['process.pid'] ?? p.attributes['ebpf.program.id'] ?? p.attributes['ebpf.pin.path']), [100, 1, '/sys/fs/bpf/a'], 'one of each kind exported');
  const omitted = got.filter((p) => p.metric === METRICS.ownersOmitted.name);
  // 4 processes the resolver left out, 1 more process, 2 programs and 1 pin cut here.
  t.same(omitted.map((p) => p.value), [4 + 1 + 2 + 1], 'the rest counted, all kinds');
  const exposition = new PrometheusExposition({ resource, scope: SCOPE, owners: { ...OWNERS, maxPerMap: 1 } });
  exposition.render(c, null, []);
  const omittedName = prometheusName(METRICS.ownersOmitted);
  t.same(parseExposition(exposition.body.toString()).samples.filter((x) => x.name === omittedName).map((x) => x.value), [8], 'the same on the Prometheus endpoint');
});

t.test('OTLP: one resource and one scope block per request; the byte bound kept with owner points; every point once', async (t) => {
  // 300 maps, each with 4 owners and a long pin path: owner points of ~300 bytes.
  const many: Record<number, MapOwners> = {};
  for (let id = 1; id <= 300; id++)
    many[id] = { ...owned()[1]!, pins: [`/sys/fs/bpf/${'d'.repeat(200)}/${id}`], processes: [proc(1000 + id, { pod: `pod-${id}`, namespace: 'ns' })] };
  const c = collection(many);
  const enc = encoder({ maxRequestBytes: 8 * 1024 });
  const requests = enc.encode(c, null, [], c.time);
  t.ok(requests.length > 10, `${requests.length} requests`);
  const seen: string[] = [];
  for (const r of requests) {
    t.ok(r.bytes.length <= 8 * 1024, `request of ${r.bytes.length} bytes`);
    const d = decodeRequest(r.bytes);
    t.equal(d.points.length, r.points, 'points as counted');
    t.equal(new Set(d.points.map((p) => p.scope.name)).size, 1, 'one scope');
    for (const p of d.points) if (!PER_MAP_NAMES.has(p.metric)) seen.push(`${p.metric} ${JSON.stringify(p.attributes)}`);
  }
  t.equal(seen.length, 300 * 4, '300 maps x (a process, a program, a pin, omitted)');
  t.equal(new Set(seen).size, seen.length, 'each once');
});

t.test('OTLP: owners.max_per_map bounds each kind of owner point', async (t) => {
  const o = owned();
  o[1] = { ...o[1]!, programs: [1, 2, 3].map((id) => ({ id, name: `p${id}`, type: 'kprobe', attachTo: null })), pins: ['/a', '/b'] };
  const got = points(encoder({ maxPerMap: 1 }), collection(o)).filter((p) => p.metric === METRICS.owner.name && p.attributes[ATTR.id] === 1);
  t.same(got.map((p) => p.attributes['process.pid'] ?? p.attributes['ebpf.program.id'] ?? p.attributes['ebpf.pin.path']), [100, 1, '/a'], 'one process, one program, one pin');
});

t.test('OTLP: encodings once per map, again only when its owners change, forgotten with the map', async (t) => {
  const enc = encoder();
  points(enc, collection());
  t.same([enc.attributeEncodings, enc.ownerEncodings], [4, 3], 'first: each map, and the owner points of the three with owners on');
  points(enc, collection());
  t.same([enc.attributeEncodings, enc.ownerEncodings], [4, 3], 'a new pass with the same owners (new objects, the same content): nothing again');
  const renamed = owned();
  const first = renamed[1]!.processes![0]!;
  renamed[1] = { ...renamed[1]!, processes: [{ ...first, pod: 'web-2' }, ...renamed[1]!.processes!.slice(1)] };
  const got = points(enc, collection(renamed));
  t.same([enc.attributeEncodings, enc.ownerEncodings], [5, 4], "map 1's first owner changed pods: map 1 again, only");
  t.ok(got.filter((p) => p.attributes[ATTR.id] === 1 && PER_MAP_NAMES.has(p.metric)).every((p) => p.attributes['k8s.pod.name'] === 'web-2'), 'its per-map series carry the new pod');
  t.equal(got.find((p) => p.metric === METRICS.owner.name && p.attributes['process.pid'] === 100)?.attributes['k8s.pod.name'], 'web-2', 'so does its owner point');
  const resolved = owned();
  resolved[4] = resolved[2]!;
  const later = points(enc, collection(resolved));
  t.same(later.filter((p) => p.attributes[ATTR.id] === 4 && PER_MAP_NAMES.has(p.metric)).map((p) => p.attributes['process.executable.name']), ['loader', 'loader', 'loader', 'loader'], 'a map whose owners arrive gains the copied attribute');
  points(enc, collection({ 2: owned()[2]! }));
  t.equal(enc.cachedMaps, 1, 'maps gone are forgotten');
});

t.test('a copied attribute is what the owner point of the same process says, for every owner attribute; none empty', async (t) => {
  const all = Object.values(OWNER_ATTR);
  const mapKeys = new Set(Object.keys(mapRef(0)));
  for (const p of [owned()[1]!.processes![0]!, owned()[1]!.processes![1]!, proc(300, { comm: '', executable: '' })]) {
    const m = map(9, { processes: [p], processesOmitted: 0, programs: [], pins: [], unknown: null });
    const point = ownerInfoPoints([m], 10).owner[0]!.attributes;
    const own = Object.fromEntries(Object.entries(point).filter(([k]) => !mapKeys.has(k)));
    t.same(copiedOwnerAttributes(m, all), own, `pid ${p.pid}: the attributes of its owner point`);
    t.notOk(Object.values(point).includes(''), `pid ${p.pid}: no empty attribute`);
  }
});

t.test('sameOwnerPoints: what makes owner points differ', async (t) => {
  const a = owned()[1]!;
  t.ok(sameOwnerPoints(a, owned()[1]!), 'the same content');
  t.notOk(sameOwnerPoints(a, { ...a, processesOmitted: 3 }), 'omitted');
  t.notOk(sameOwnerPoints(a, { ...a, processes: a.processes!.slice(1) }), 'a holder less');
  t.notOk(sameOwnerPoints(a, { ...a, processes: null }), 'holders unknown');
  t.notOk(sameOwnerPoints(a, { ...a, programs: [{ ...a.programs![0]!, name: 'other' }] }), 'a program renamed');
  t.notOk(sameOwnerPoints(a, { ...a, pins: ['/elsewhere'] }), 'a pin moved');
  t.ok(sameOwnerPoints(a, { ...a, unknown: { pins: 'incomplete' } }), 'why a list is unknown is no point');
});

t.test('Prometheus: the same owner series and copied labels as OTLP', async (t) => {
  const c = collection();
  const otlp = points(encoder(), c);
  const exposition = new PrometheusExposition({ resource, scope: SCOPE, owners: OWNERS });
  exposition.render(c, null, []);
  const s = parseExposition(exposition.body.toString());
  const common = { otel_scope_name: SCOPE.name, otel_scope_version: SCOPE.version ?? '', host_name: 'own-host' };
  const asLabels = (a: Point['attributes']) => ({ ...Object.fromEntries(Object.entries(a).map(([k, v]) => [labelName(k), typeof v === 'string' ? v : labelValue(v)])), ...common });
  const OWNER = prometheusName(METRICS.owner);
  const OMITTED = prometheusName(METRICS.ownersOmitted);
  t.same([OWNER, OMITTED], ['ebpf_map_owner', 'ebpf_map_owners_omitted'], 'the names (annotation units add nothing)');
  t.equal(s.types.get(OWNER), 'gauge');
  t.equal(s.types.get(OMITTED), 'gauge');
  const byName = (n: string) => s.samples.filter((x) => x.name === n);
  t.same(byName(OWNER).map((x) => x.labels), otlp.filter((p) => p.metric === METRICS.owner.name).map((p) => asLabels(p.attributes)), 'ebpf_map_owner: the OTLP points, as labels');
  t.ok(byName(OWNER).every((x) => x.value === 1), 'value 1');
  t.same(byName(OMITTED).map((x) => [x.labels, x.value]), [[asLabels(mapRef(1)), 2]]);
  let perMap = 0;
  for (const spec of PER_MAP_SERIES.map((x) => x.spec)) {
    const want = otlp.filter((p) => p.metric === spec.name).map((p) => [asLabels(p.attributes), p.value]);
    t.same(byName(prometheusName(spec)).map((x) => [x.labels, x.value]), want, `${prometheusName(spec)}: the OTLP points with their copied labels`);
    perMap += want.length;
  }
  t.equal(exposition.points, perMap + byName(OWNER).length + byName(OMITTED).length, 'every sample counted');
  t.ok(byName(prometheusName(METRICS.entries)).every((x) => !Object.values(x.labels).includes('')), 'no empty label values');
});

t.test('console: the same points again', async (t) => {
  const c = collection();
  const otlp = points(encoder(), c);
  const data = perMapMetricData(c, null, c.time - 60_000, OWNERS);
  const flat = data.flatMap((m) => m.dataPoints.map((p) => [m.descriptor.name, p.attributes, p.value]));
  t.same(flat, otlp.map((p) => [p.metric, p.attributes, p.value]), 'metric, attributes and value of every point');
  const bare = perMapMetricData(c, null, c.time);
  t.ok(bare.filter((m) => PER_MAP_NAMES.has(m.descriptor.name)).every((m) => m.dataPoints.every((p) => !('k8s.pod.name' in p.attributes))), 'nothing copied when none is asked for');
});
