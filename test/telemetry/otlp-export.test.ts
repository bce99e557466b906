// SPDX-License-Identifier: Apache-2.0
// The OTLP export path end to end: real maps, the agent in this process, the real SDK and
// exporters, receivers on loopback decoding with the OpenTelemetry project's own protobuf code.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import type { Collection } from '../../src/collector';
import { ATTR, METRICS } from '../../src/metrics/table';
import { VERSION } from '../../src/version';
import { type InProcessAgent, startAgent } from '../helpers/agent-process';
import { features } from '../helpers/features';
import { fixtures } from '../helpers/fixtures';
import { bpftoolDumpCount, bpftoolMap, createMap, F_NO_PREALLOC, fill, mapOps, type TestMap } from '../helpers/kernel';
import { bpftoolMapPids, bpftoolProgMaps, POD, podHolder, procMapHolders } from '../helpers/owners';
import {
  decodeRequest,
  pointsOf,
  type Received,
  type Receiver,
  selfSignedCert,
  startGrpcReceiver,
  startGrpcWireTap,
  startHttpReceiver,
} from '../helpers/otlp-receiver';

/** The agent collects (and exports) once at start; a long interval means only collectNow() does again. */
const QUIET = ['--interval=1h'];

/** A collection and its export now; resolves with what the receiver got for it (parts merged). */
async function exportNow(a: InProcessAgent, rx: Receiver): Promise<Received> {
  await a.agent.telemetry!.flush(); // the start's export is through
  const before = rx.requests.length;
  await a.agent.collectNow();
  const parts = rx.requests.slice(before);
  if (parts.length === 0) throw new Error('the export reached no receiver');
  return { ...parts[0]!, points: parts.flatMap((p) => p.points) };
}

/**
 * Exports until one does what `done` asks (owners come with the pass after a map's first
 * collection, pod names with the kubelet's first answer); resolves with the last export.
 */
async function exportUntil(a: InProcessAgent, rx: Receiver, done: (r: Received) => boolean, timeoutMs = 15_000): Promise<Received> {
  const deadline = Date.now() + timeoutMs;
  let got = await exportNow(a, rx);
  while (!done(got) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    got = await exportNow(a, rx);
  }
  return got;
}

interface Made {
  m: TestMap;
  type: string;
  name: string;
  maxEntries: number;
  /** Entries inserted; null for types whose entries are not counted. */
  filled: number | null;
}

async function waitUntil(f: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!f() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return f();
}

/** Hash-family maps with known fills (empty, partial, full, no-prealloc) and arrays. */
function makeMaps(t: Test): Made[] {
  const specs: Array<Omit<Made, 'm'> & { flags?: number }> = [
    { type: 'hash', name: 'ox_hash_part', maxEntries: 64, filled: 17 },
    { type: 'hash', name: 'ox_hash_full', maxEntries: 32, filled: 32, flags: F_NO_PREALLOC },
    { type: 'percpu_hash', name: 'ox_pcpu_empty', maxEntries: 16, filled: 0 },
    { type: 'lru_hash', name: 'ox_lru', maxEntries: 40, filled: 10 },
    { type: 'array', name: 'ox_array', maxEntries: 8, filled: null },
    { type: 'percpu_array', name: 'ox_pcpu_array', maxEntries: 8, filled: null },
  ];
  return specs.map((s) => {
    const m = createMap(t, { type: s.type, keySize: 4, valueSize: 8, maxEntries: s.maxEntries, name: s.name, flags: s.flags ?? 0 });
    if (s.filled) fill(m, 4, 8, s.filled);
    return { m, type: s.type, name: s.name, maxEntries: s.maxEntries, filled: s.filled };
  });
}

/** Every per-map assertion of the issue, against the kernel's truth (bpftool). */
function checkMaps(t: Test, got: Received, made: Made[], collected: Collection): void {
  for (const x of made) {
    const id = x.m.id;
    const truth = bpftoolMap(id);
    const label = `${x.type} ${x.name}`;
    const stats = collected.maps.find((m) => m.id === id);
    // Every per-map series carries the same identifying attributes, count_method included.
    const perMap = { [ATTR.id]: id, [ATTR.name]: x.name, [ATTR.type]: truth.type, [ATTR.countMethod]: stats?.countMethod };

    const max = pointsOf(got, METRICS.maxEntries.name, id);
    t.equal(max.length, 1, `${label}: one max_entries series`);
    t.same(max[0]?.attributes, perMap, `${label}: max_entries attributes are id, name, type (bpftool's spelling), count_method`);
    t.equal(max[0]?.attributeKinds[ATTR.id], 'int', `${label}: ebpf.map.id is an int attribute`);
    t.equal(max[0]?.value, truth.max_entries, `${label}: max_entries`);
    t.equal(max[0]?.unit, METRICS.maxEntries.unit, `${label}: max_entries unit`);
    t.equal(max[0]?.kind, 'gauge', `${label}: max_entries is a gauge`);

    const mem = pointsOf(got, METRICS.memory.name, id);
    t.equal(mem.length, 1, `${label}: one memory series`);
    t.same(mem[0]?.attributes, perMap, `${label}: memory attributes`);
    t.equal(mem[0]?.value, truth.bytes_memlock, `${label}: memory equals bpftool's memlock`);
    t.equal(mem[0]?.unit, 'By', `${label}: memory unit`);
    t.equal(mem[0]?.valueKind, 'int', `${label}: memory is an int`);

    const entries = pointsOf(got, METRICS.entries.name, id);
    const util = pointsOf(got, METRICS.utilization.name, id);
    if (x.filled === null) {
      t.equal(entries.length, 0, `${label}: no entries series`);
      t.equal(util.length, 0, `${label}: no utilization series (a fake 0 % or 100 % is a bug)`);
      continue;
    }
    // The kernel decides whether the hash family can be counted (bpf_map_sum_elem_count, 6.6+);
    // where it cannot, the documented fallback is no series rather than a wrong one.
    if (features.kfunc()) t.equal(stats?.countMethod, 'kfunc', `${label}: counted by the kfunc`);
    if (stats?.entries === null) {
      t.equal(entries.length + util.length, 0, `${label}: not counted on this kernel, so no entries or utilization series`);
      continue;
    }
    const held = bpftoolDumpCount(id); // LRU maps may hold fewer than were inserted
    if (!x.type.startsWith('lru')) t.equal(held, x.filled, `${label}: the map holds what was inserted`);
    const counted = perMap;
    t.equal(entries.length, 1, `${label}: one entries series`);
    t.same(entries[0]?.attributes, counted, `${label}: entries attributes include ebpf.map.count_method`);
    t.equal(entries[0]?.value, held, `${label}: entries equal what the map holds`);
    t.equal(entries[0]?.unit, '{entry}', `${label}: entries unit`);
    t.equal(util.length, 1, `${label}: one utilization series`);
    t.same(util[0]?.attributes, counted, `${label}: utilization attributes`);
    t.equal(util[0]?.value, held / x.maxEntries, `${label}: utilization = entries / max_entries`);
    t.equal(util[0]?.unit, '1', `${label}: utilization unit`);
    t.equal(util[0]?.valueKind, 'double', `${label}: utilization is a double`);
  }

  // ebpf.map.count by type agrees with the per-map series of the same export.
  const count = pointsOf(got, METRICS.count.name);
  t.ok(count.length > 0, 'ebpf.map.count is exported');
  for (const p of count) {
    t.same(Object.keys(p.attributes), [ATTR.type], `ebpf.map.count{${p.attributes[ATTR.type]}} has only the type attribute`);
    const n = pointsOf(got, METRICS.maxEntries.name).filter((q) => q.attributes[ATTR.type] === p.attributes[ATTR.type]).length;
    t.equal(p.value, n, `ebpf.map.count{${p.attributes[ATTR.type]}} = the maps of that type in the export`);
    t.equal(p.unit, '{map}', 'ebpf.map.count unit');
  }
  for (const type of new Set(made.map((x) => bpftoolMap(x.m.id).type))) {
    const mine = made.filter((x) => bpftoolMap(x.m.id).type === type).length;
    const c = count.find((p) => p.attributes[ATTR.type] === type);
    t.ok(c && c.value >= mine, `ebpf.map.count{${type}} counts at least the ${mine} made here`);
  }
  t.notOk(
    got.points.some((p) => 'otel.metric.overflow' in p.attributes),
    'no otel.metric.overflow series',
  );
  t.same([...new Set(got.points.map((p) => p.scope.name))], ['ebpf-map-pressure'], 'one instrumentation scope');
}

/** The host resource of the issue, read from the same sources the agent must use. */
function checkResource(t: Test, got: Received): void {
  const r = got.resource;
  t.equal(r['service.name'], 'ebpf-map-pressure', 'service.name');
  t.equal(r['service.version'], VERSION, 'service.version');
  t.equal(VERSION, (JSON.parse(readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { version: string }).version, 'service.version is the package version');
  t.match(r['service.instance.id'], /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'service.instance.id is a UUID');
  t.equal(r['host.name'], os.hostname(), 'host.name');
  let machineId: string | undefined;
  try {
    machineId = readFileSync('/etc/machine-id', 'utf8').trim();
  } catch {
    machineId = undefined;
  }
  if (machineId) t.equal(r['host.id'], machineId, 'host.id is the machine id');
  const arch = { x64: 'amd64', arm64: 'arm64' }[os.arch() as string] ?? os.arch();
  t.equal(r['host.arch'], arch, 'host.arch (semantic-convention spelling)');
  t.equal(r['os.type'], 'linux', 'os.type');
  t.equal(r['os.version'], os.release(), 'os.version is the kernel release');
  for (const [k, kind] of Object.entries(got.resourceKinds)) t.equal(kind, 'string', `resource attribute ${k} is a string`);
}

t.test('OTLP/gRPC: metric names, units, values, attributes and resource', async (t) => {
  const made = makeMaps(t);
  const rx = await startGrpcReceiver(t);
  const a = await startAgent(t, [...QUIET, `--otlp.endpoint=${rx.endpoint}`]);
  const got = await exportNow(a, rx);
  t.equal(got.path, '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export');
  checkMaps(t, got, made, a.agent.latest()!);
  checkResource(t, got);
  // Every point of every export so far, the start's first one included: start <= time.
  const all = rx.requests.flatMap((r) => r.points);
  const backwards = all.filter((p) => !(p.startTimeUnixNano > 0 && p.startTimeUnixNano <= p.timeUnixNano));
  t.same(backwards.map((p) => `${p.metric} ${p.startTimeUnixNano} > ${p.timeUnixNano}`), [], `every point's start is at or before its time (${all.length} points, ${rx.requests.length} requests)`);
  // The table is what the wire carries: descriptions too.
  for (const spec of [METRICS.entries, METRICS.maxEntries, METRICS.utilization, METRICS.memory, METRICS.count]) {
    const p = pointsOf(got, spec.name)[0];
    t.equal(p?.description, spec.description, `${spec.name}: description from the table`);
  }
});

t.test('owners as series: the child in a pod holding a map, the program using maps, the pod on every per-map series', async (t) => {
  const held = await podHolder(t, { name: 'os_pod_held', port: 47901 });
  const prog = fixtures().programUsingMaps(2);
  t.teardown(() => {
    for (const fd of [prog.progFd, ...prog.mapFds]) mapOps().close(fd);
  });
  const rx = await startGrpcReceiver(t, { port: 47902 });
  const a = await startAgent(t, [
    ...QUIET,
    `--otlp.endpoint=${rx.endpoint}`,
    `--owners.kubelet.url=${held.url}`,
    // A pass may start with any collection (by default one is due an interval after the last).
    '--owners.interval=100ms',
    '--paths.pod-logs=',
    '--paths.container-logs=',
    '--filter.include-names=os_pod_held,emp_used',
  ]);
  const got = await exportUntil(a, rx, (r) => pointsOf(r, METRICS.owner.name, held.id).some((p) => p.attributes['k8s.pod.name'] !== undefined));

  // The truth: /proc's fds (as lsof finds them), and bpftool's pids where this bpftool has them.
  const truth = [...(procMapHolders().get(held.id) ?? [])].sort((x, y) => x - y);
  t.same(truth, [held.pid], 'truth: the child alone holds the map');
  const bpftoolPids = bpftoolMapPids(held.id);
  if (bpftoolPids) t.same(bpftoolPids, truth, 'bpftool map show lists the same pids');
  else t.comment('this bpftool shows no pids (built without its pid iterator): /proc is the truth');
  const owners = pointsOf(got, METRICS.owner.name, held.id);
  t.same(owners.map((p) => p.attributes['process.pid']).sort(), truth, 'ebpf.map.owner: one point per holding process');
  t.same(
    owners[0]?.attributes,
    {
      [ATTR.id]: held.id,
      [ATTR.name]: 'os_pod_held',
      [ATTR.type]: bpftoolMap(held.id).type,
      'process.pid': held.pid,
      'process.executable.name': path.basename(process.execPath),
      'process.command': readFileSync(`/proc/${held.pid}/comm`, 'utf8').trim(),
      'ebpf.owner.via': 'map',
      'container.id': POD.containerId,
      'k8s.pod.uid': POD.uid,
      'k8s.pod.name': POD.name,
      'k8s.namespace.name': POD.namespace,
      'k8s.container.name': POD.container,
    },
    'its attributes: the process (its comm as /proc says), the container from its cgroup, the names from the kubelet',
  );
  t.equal(owners[0]?.attributeKinds['process.pid'], 'int', 'process.pid is an int');
  t.same([owners[0]?.value, owners[0]?.unit, owners[0]?.description], [1, METRICS.owner.unit, METRICS.owner.description], 'value 1; unit and description from the table');
  t.same(pointsOf(got, METRICS.ownersOmitted.name, held.id), [], 'no owners omitted');

  // The default owners.copy_attributes, on every per-map series of the map.
  const perMap = got.points.filter((p) => p.attributes[ATTR.id] === held.id && p.metric !== METRICS.owner.name);
  const series = new Set(perMap.map((p) => p.metric));
  for (const spec of [METRICS.entries, METRICS.maxEntries, METRICS.memory, METRICS.utilization]) t.ok(series.has(spec.name), `${spec.name} of the map is exported`);
  for (const p of perMap)
    t.match(p.attributes, { 'process.executable.name': path.basename(process.execPath), 'k8s.namespace.name': POD.namespace, 'k8s.pod.name': POD.name }, `${p.metric}: the first owner's executable, namespace and pod`);

  // The program's maps: a point per program bpftool prog show lists for each, with its name.
  const progs = bpftoolProgMaps();
  t.equal(progs.get(prog.progId)?.name, 'emp_many_maps', "truth: bpftool's name of the program");
  for (const id of prog.mapIds) {
    const want = [...progs].filter(([, p]) => p.mapIds.includes(id)).map(([pid, p]) => [pid, p.name]);
    const ours = pointsOf(got, METRICS.owner.name, id).filter((p) => p.attributes['ebpf.program.id'] !== undefined);
    t.same(ours.map((p) => [p.attributes['ebpf.program.id'], p.attributes['ebpf.program.name']]), want, `map ${id}: the programs bpftool prog show lists, by id and name`);
    t.equal(ours[0]?.attributes['ebpf.program.type'], 'socket_filter', `map ${id}: the program type (bpftool's spelling)`);
    t.equal(ours[0]?.attributeKinds['ebpf.program.id'], 'int');
  }
  t.equal(execFileSync('cat', [`/proc/${held.pid}/cgroup`], { encoding: 'utf8' }).includes(POD.containerId), true, 'truth: the child is in the container cgroup still');
});

t.test('OTLP/HTTP protobuf: the same series, POSTed to /v1/metrics', async (t) => {
  const made = makeMaps(t);
  const rx = await startHttpReceiver(t);
  const a = await startAgent(t, [...QUIET, '--otlp.protocol=http/protobuf', `--otlp.endpoint=${rx.endpoint}`]);
  const got = await exportNow(a, rx);
  t.equal(got.path, '/v1/metrics');
  t.equal(got.headers['content-type'], 'application/x-protobuf');
  checkMaps(t, got, made, a.agent.latest()!);
  checkResource(t, got);
});

t.test('OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME are merged into the resource', async (t) => {
  const rx = await startGrpcReceiver(t);
  const a = await startAgent(t, [...QUIET, `--otlp.endpoint=${rx.endpoint}`], {
    resourceEnv: {
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=ci,team=kernel%20tools',
      OTEL_SERVICE_NAME: 'maps-on-ci',
    },
  });
  const r = (await exportNow(a, rx)).resource;
  t.equal(r['service.name'], 'maps-on-ci', 'OTEL_SERVICE_NAME wins over the default service.name');
  t.equal(r['deployment.environment.name'], 'ci', 'OTEL_RESOURCE_ATTRIBUTES adds attributes');
  t.equal(r.team, 'kernel tools', 'OTEL_RESOURCE_ATTRIBUTES values are URL-decoded');
  t.equal(r['os.version'], os.release(), 'the detected attributes stay');
  t.equal(r['host.name'], os.hostname());
  t.equal(r['service.version'], VERSION);

  const b = await startAgent(t, [...QUIET, `--otlp.endpoint=${rx.endpoint}`], {
    resourceEnv: { OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attributes' },
  });
  t.equal((await exportNow(b, rx)).resource['service.name'], 'from-attributes', 'service.name from OTEL_RESOURCE_ATTRIBUTES');
});

/** Secrets used below: none may appear in a log line or in the exporter description. */
const SECRETS = ['s3cr3t-generic', 's3cr3t specific', 's3cr3t-file', 's3cr3t-http'];

function checkNoSecrets(t: Test, a: InProcessAgent): void {
  const text = [...a.lines, ...(a.agent.telemetry?.describe ?? [])].join('\n');
  t.ok(a.lines.length > 0, 'the agent logged something to check');
  for (const s of SECRETS) {
    t.notOk(text.includes(s), `secret ${JSON.stringify(s)} is not logged`);
    t.notOk(text.includes(encodeURIComponent(s)), `secret ${JSON.stringify(s)} is not logged URL-encoded`);
  }
}

t.test('headers: generic and METRICS_ variables and the config file arrive as gRPC metadata; never logged', async (t) => {
  const rx = await startGrpcReceiver(t);
  const args = [...QUIET, `--otlp.endpoint=${rx.endpoint}`, '--log.level=debug'];

  const generic = await startAgent(t, args, { env: { OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=s3cr3t-generic,X-Tenant=team%2Da' } });
  const g = await exportNow(generic, rx);
  t.equal(g.headers['x-api-key'], 's3cr3t-generic', 'OTEL_EXPORTER_OTLP_HEADERS arrives');
  t.equal(g.headers['x-tenant'], 'team-a', 'names are case-insensitive, values URL-decoded');
  checkNoSecrets(t, generic);

  const specific = await startAgent(t, args, {
    env: { OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=s3cr3t-generic', OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'x-api-key=s3cr3t%20specific' },
  });
  t.equal((await exportNow(specific, rx)).headers['x-api-key'], 's3cr3t specific', 'the METRICS_ form wins over the generic one');
  checkNoSecrets(t, specific);

  const dir = t.testdir({ 'agent.yaml': 'otlp:\n  headers:\n    x-api-key: s3cr3t-file\n    x-other: plain\n' });
  const fromFile = await startAgent(t, args, { file: path.join(dir, 'agent.yaml') });
  const f = await exportNow(fromFile, rx);
  t.equal(f.headers['x-api-key'], 's3cr3t-file', 'headers from the config file arrive');
  t.equal(f.headers['x-other'], 'plain');
  checkNoSecrets(t, fromFile);
});

t.test('headers arrive as HTTP headers over OTLP/HTTP', async (t) => {
  const rx = await startHttpReceiver(t);
  const a = await startAgent(t, [...QUIET, '--otlp.protocol=http/protobuf', `--otlp.endpoint=${rx.endpoint}`, '--log.level=debug'], {
    env: { OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'authorization=Bearer%20s3cr3t-http' },
  });
  t.equal((await exportNow(a, rx)).headers.authorization, 'Bearer s3cr3t-http');
  checkNoSecrets(t, a);
});

t.test('gzip: gRPC messages cross the wire compressed', async (t) => {
  const rx = await startGrpcReceiver(t);
  const wire = await startGrpcWireTap(t, rx.port);
  for (const compression of ['gzip', 'none'] as const) {
    const a = await startAgent(t, [...QUIET, `--otlp.endpoint=${wire.endpoint}`, `--otlp.compression=${compression}`]);
    await a.agent.telemetry!.flush(); // the start's export is through
    const before = wire.messages.length;
    const got = await exportNow(a, rx);
    const sent = wire.messages.slice(before);
    t.ok(sent.length > 0, `${compression}: messages went through the tap`);
    for (const m of sent) {
      t.equal(m.compressed, compression === 'gzip', `${compression}: the message's compressed flag`);
      t.equal(m.grpcEncoding ?? 'identity', compression === 'gzip' ? 'gzip' : 'identity', `${compression}: grpc-encoding`);
      if (compression === 'gzip') t.ok(m.length < m.message.length, `gzip: ${m.length} bytes on the wire for ${m.message.length}`);
    }
    // What crossed the wire decodes to what the receiver saw.
    t.same(sent.flatMap((m) => decodeRequest(m.message).points), got.points, `${compression}: the wire carries the export`);
    await a.agent.stop();
  }
});

t.test('gzip: OTLP/HTTP bodies are gzip with Content-Encoding gzip', async (t) => {
  const rx = await startHttpReceiver(t);
  for (const compression of ['gzip', 'none'] as const) {
    // The standard variable this time (the gRPC test uses the flag).
    const a = await startAgent(t, [...QUIET, '--otlp.protocol=http/protobuf', `--otlp.endpoint=${rx.endpoint}`], {
      env: { OTEL_EXPORTER_OTLP_COMPRESSION: compression },
    });
    const got = await exportNow(a, rx);
    if (compression === 'gzip') {
      t.equal(got.contentEncoding, 'gzip', 'Content-Encoding: gzip');
      t.same([...got.wireBody!.subarray(0, 2)], [0x1f, 0x8b], 'the body is gzip');
    } else {
      t.equal(got.contentEncoding, null, 'no Content-Encoding');
      t.ok(decodeRequest(got.wireBody!).points.length > 0, 'the body is plain protobuf');
    }
    t.ok(got.points.length > 0, `${compression}: decoded`);
    await a.agent.stop();
  }
});

t.test('OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: /v1/metrics is appended for http/protobuf', async (t) => {
  const rx = await startHttpReceiver(t);
  const base = `http://127.0.0.1:${rx.port}`;
  const cases: Array<{ label: string; env: Record<string, string>; args?: string[]; file?: string; path: string }> = [
    { label: 'generic endpoint and protocol', env: { OTEL_EXPORTER_OTLP_ENDPOINT: base, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, path: '/v1/metrics' },
    { label: 'trailing slash', env: { OTEL_EXPORTER_OTLP_ENDPOINT: `${base}/`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, path: '/v1/metrics' },
    { label: 'a base path', env: { OTEL_EXPORTER_OTLP_ENDPOINT: `${base}/otlp`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, path: '/otlp/v1/metrics' },
    { label: 'protocol by METRICS_ variable', env: { OTEL_EXPORTER_OTLP_ENDPOINT: base, OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf' }, path: '/v1/metrics' },
    { label: 'protocol by flag', env: { OTEL_EXPORTER_OTLP_ENDPOINT: base }, args: ['--otlp.protocol=http/protobuf'], path: '/v1/metrics' },
    { label: 'protocol in the config file', env: { OTEL_EXPORTER_OTLP_ENDPOINT: base }, file: 'otlp:\n  protocol: http/protobuf\n', path: '/v1/metrics' },
    { label: 'the METRICS_ endpoint is used as is', env: { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${base}/custom/path`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, path: '/custom/path' },
  ];
  const dir = t.testdir({});
  for (const [i, c] of cases.entries()) {
    let file: string | undefined;
    if (c.file) writeFileSync((file = path.join(dir, `c${i}.yaml`)), c.file);
    rx.requests.length = 0; // the last agent's final export is in
    const a = await startAgent(t, [...QUIET, ...(c.args ?? [])], { env: c.env, ...(file !== undefined && { file }) });
    await a.agent.telemetry!.flush();
    t.ok(rx.requests.length > 0, `${c.label}: delivered`);
    t.same([...new Set(rx.requests.map((r) => r.path))], [c.path], `${c.label}: POSTed to ${c.path}`);
    await a.agent.stop();
  }
});

t.test('TLS: the CA from OTEL_EXPORTER_OTLP_CERTIFICATE is trusted; without it the export fails', async (t) => {
  const tls = selfSignedCert(t.testdir({}));
  const grpcRx = await startGrpcReceiver(t, { tls });
  const httpRx = await startHttpReceiver(t, { tls });
  t.match(grpcRx.endpoint, /^https:/);

  const grpcOk = await startAgent(t, [...QUIET, `--otlp.endpoint=${grpcRx.endpoint}`], { env: { OTEL_EXPORTER_OTLP_CERTIFICATE: tls.certFile } });
  t.ok((await exportNow(grpcOk, grpcRx)).points.length > 0, 'gRPC over TLS, CA from OTEL_EXPORTER_OTLP_CERTIFICATE');

  const httpOk = await startAgent(t, [...QUIET, '--otlp.protocol=http/protobuf', `--otlp.endpoint=${httpRx.endpoint}`], {
    env: { OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE: tls.certFile },
  });
  t.ok((await exportNow(httpOk, httpRx)).points.length > 0, 'HTTP over TLS, CA from OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE');

  // Without the CA the certificate is not trusted: nothing arrives, one coded warning.
  for (const [protocol, rx] of [['grpc', grpcRx], ['http/protobuf', httpRx]] as const) {
    const before = rx.requests.length;
    const untrusted = await startAgent(t, [...QUIET, `--otlp.protocol=${protocol}`, `--otlp.endpoint=${rx.endpoint}`, '--otlp.timeout=5s']);
    const warned = await waitUntil(() => untrusted.lines.some((l) => l.includes(' warn ') && l.includes('code=EMP_EXPORT_FAILED')), 30_000);
    t.equal(rx.requests.length, before, `${protocol}: nothing delivered to an untrusted certificate`);
    t.ok(warned, `${protocol}: EMP_EXPORT_FAILED warning`);
    await untrusted.agent.stop();
  }
});
