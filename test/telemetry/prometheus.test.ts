// SPDX-License-Identifier: Apache-2.0
// The agent's own Prometheus endpoint, scraped over HTTP: the names the OpenTelemetry
// Collector's Prometheus exporter would give (so one dashboard serves both paths), the values
// of real maps against bpftool, and the loopback-only default.
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config';
import { PER_MAP_SERIES } from '../../src/metrics/series';
import { ATTR, METRICS, prometheusName } from '../../src/metrics/table';
import { startAgent } from '../helpers/agent-process';
import { runBuiltCli, STACK_TRACE } from '../helpers/cli';
import { bpftoolDumpCount, bpftoolMap, createMap, fill } from '../helpers/kernel';
import { POD, podHolder, procMapHolders } from '../helpers/owners';
import { scrape } from '../helpers/exposition';
import { freePort, pointsOf, startGrpcReceiver } from '../helpers/otlp-receiver';

/** The issue's table, literally: OpenTelemetry name, unit, Prometheus name. */
const ISSUE_TABLE = [
  { name: 'ebpf.map.entries', unit: '{entry}', prometheus: 'ebpf_map_entries' },
  { name: 'ebpf.map.max_entries', unit: '{entry}', prometheus: 'ebpf_map_max_entries' },
  { name: 'ebpf.map.utilization', unit: '1', prometheus: 'ebpf_map_utilization_ratio' },
  { name: 'ebpf.map.memory', unit: 'By', prometheus: 'ebpf_map_memory_bytes' },
  { name: 'ebpf.map.count', unit: '{map}', prometheus: 'ebpf_map_count' },
];

const PROM = {
  entries: prometheusName(METRICS.entries),
  maxEntries: prometheusName(METRICS.maxEntries),
  utilization: prometheusName(METRICS.utilization),
  memory: prometheusName(METRICS.memory),
  count: prometheusName(METRICS.count),
};

const label = (k: string) => k.replace(/[^a-zA-Z0-9_]/g, '_');

t.test("the metric table spells the issue's names and units, and Prometheus names", async (t) => {
  for (const row of ISSUE_TABLE) {
    const spec = Object.values(METRICS).find((m) => m.name === row.name);
    t.ok(spec, `${row.name} is in the table`);
    if (!spec) continue;
    t.equal(spec.unit, row.unit, `${row.name}: unit`);
    t.equal(prometheusName(spec), row.prometheus, `${row.name}: Prometheus name`);
  }
});

t.test('the Prometheus endpoint: names, types and values of real maps', async (t) => {
  const part = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 50, name: 'pr_hash' });
  fill(part, 4, 8, 20);
  const lru = createMap(t, { type: 'lru_hash', keySize: 4, valueSize: 8, maxEntries: 30, name: 'pr_lru' });
  fill(lru, 4, 8, 5);
  const arr = createMap(t, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 12, name: 'pr_array' });

  const port = await freePort();
  const a = await startAgent(t, ['--interval=1h', '--exporters=prometheus', `--prometheus.port=${port}`]);
  t.match(a.agent.telemetry!.describe, [`prometheus http://127.0.0.1:${port}/metrics`]);
  const s = await scrape(port);
  t.equal(s.status, 200);
  t.match(s.contentType, /^text\/plain/);
  for (const name of Object.values(PROM)) t.equal(s.types.get(name), 'gauge', `# TYPE ${name} gauge`);
  // A # UNIT line names the unit the metric's name ends with (OpenMetrics), never {entry}.
  t.ok(s.units.size > 0, `# UNIT lines: ${[...s.units].map(([n, u]) => `${n} ${u}`).join(', ')}`);
  for (const [name, unit] of s.units) t.match(name, new RegExp(`_${unit}(_total)?$`), `# UNIT ${name} ${unit}: the name's suffix`);
  t.equal(s.units.get(PROM.memory), 'bytes');
  t.equal(s.units.get(PROM.utilization), 'ratio');
  t.notOk(s.units.has(PROM.entries), `${PROM.entries}: no unit line for {entry}`);
  const names = new Set(s.samples.map((x) => x.name));
  for (const row of ISSUE_TABLE) t.ok(names.has(row.prometheus), `${row.prometheus} is exposed`);

  const of = (name: string, id: number) => s.samples.filter((x) => x.name === name && x.labels[label(ATTR.id)] === String(id));
  const latest = a.agent.latest()!;
  for (const [m, name, max] of [
    [part, 'pr_hash', 50],
    [lru, 'pr_lru', 30],
    [arr, 'pr_array', 12],
  ] as const) {
    const truth = bpftoolMap(m.id);
    const base = { [label(ATTR.id)]: String(m.id), [label(ATTR.name)]: name, [label(ATTR.type)]: truth.type };
    const maxS = of(PROM.maxEntries, m.id);
    t.equal(maxS.length, 1, `${name}: one ${PROM.maxEntries}`);
    t.match(maxS[0]?.labels, base, `${name}: labels id, name, type`);
    t.equal(maxS[0]?.value, max, `${name}: max_entries`);
    t.equal(of(PROM.memory, m.id)[0]?.value, truth.bytes_memlock, `${name}: ${PROM.memory} equals bpftool's memlock`);
    if (truth.type === 'array') {
      t.same(of(PROM.entries, m.id), [], `${name}: no entries`);
      t.same(of(PROM.utilization, m.id), [], `${name}: no utilization`);
      continue;
    }
    const held = bpftoolDumpCount(m.id);
    const method = latest.maps.find((x) => x.id === m.id)?.countMethod;
    t.equal(of(PROM.entries, m.id)[0]?.value, held, `${name}: entries`);
    t.equal(of(PROM.entries, m.id)[0]?.labels[label(ATTR.countMethod)], method, `${name}: count_method label`);
    t.equal(of(PROM.utilization, m.id)[0]?.value, held / max, `${name}: ${PROM.utilization}`);
  }
  for (const c of s.samples.filter((x) => x.name === PROM.count)) {
    const type = c.labels[label(ATTR.type)];
    const n = s.samples.filter((x) => x.name === PROM.maxEntries && x.labels[label(ATTR.type)] === type).length;
    t.equal(c.value, n, `${PROM.count}{type="${type}"} = the maps of that type in the scrape`);
  }
  t.notOk(s.samples.some((x) => 'otel_metric_overflow' in x.labels), 'no overflow series');
});

t.test('Prometheus and OTLP together carry the same values', async (t) => {
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 10, name: 'pr_both' });
  fill(m, 4, 8, 3);
  const rx = await startGrpcReceiver(t);
  const port = await freePort();
  const a = await startAgent(t, ['--interval=1h', '--exporters=prometheus,otlp', `--prometheus.port=${port}`, `--otlp.endpoint=${rx.endpoint}`]);
  await a.agent.telemetry!.flush(); // the start's export is through
  const before = rx.requests.length;
  await a.agent.collectNow();
  const s = await scrape(port);
  // One export may be split into several requests (otlp.max_points_per_request).
  const got = { points: rx.requests.slice(before).flatMap((r) => r.points) };
  for (const key of ['entries', 'maxEntries', 'utilization', 'memory'] as const) {
    const otlp = pointsOf(got, METRICS[key].name, m.id);
    const prom = s.samples.filter((x) => x.name === PROM[key] && x.labels[label(ATTR.id)] === String(m.id));
    t.equal(otlp.length, 1, `${METRICS[key].name} over OTLP`);
    t.equal(prom.length, 1, `${PROM[key]} on /metrics`);
    t.equal(prom[0]?.value, otlp[0]?.value, `${METRICS[key].name}: same value on both paths`);
  }
});

t.test('owners on /metrics: ebpf_map_owner of the child holding a map, its pod on every per-map series, as over OTLP', async (t) => {
  const held = await podHolder(t, { name: 'os_prom_held', port: 47903 });
  const rx = await startGrpcReceiver(t, { port: 47904 });
  const port = 47905;
  const a = await startAgent(t, [
    '--interval=1h',
    '--owners.interval=100ms',
    '--exporters=prometheus,otlp',
    `--prometheus.port=${port}`,
    `--otlp.endpoint=${rx.endpoint}`,
    `--owners.kubelet.url=${held.url}`,
    '--paths.pod-logs=',
    '--paths.container-logs=',
    '--filter.include-names=os_prom_held',
  ]);
  const OWNER = prometheusName(METRICS.owner);
  const deadline = Date.now() + 15_000;
  let s = await scrape(port);
  let otlp: ReturnType<typeof pointsOf> = [];
  const owners = () => s.samples.filter((x) => x.name === OWNER && x.labels.ebpf_map_id === String(held.id));
  while (Date.now() < deadline) {
    await a.agent.telemetry!.flush();
    const before = rx.requests.length;
    await a.agent.collectNow();
    s = await scrape(port);
    otlp = rx.requests.slice(before).flatMap((r) => r.points);
    if (owners().some((x) => x.labels.k8s_pod_name)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.same([...(procMapHolders().get(held.id) ?? [])], [held.pid], 'truth: the child alone holds the map');
  t.equal(s.types.get(OWNER), 'gauge', `# TYPE ${OWNER} gauge`);
  const o = owners();
  t.same(o.map((x) => x.labels.process_pid), [String(held.pid)], `${OWNER}: one series, the child's pid`);
  t.match(
    o[0]?.labels,
    { ebpf_map_name: 'os_prom_held', process_executable_name: path.basename(process.execPath), k8s_pod_name: POD.name, k8s_namespace_name: POD.namespace, k8s_container_name: POD.container, container_id: POD.containerId, host_name: os.hostname() },
    'its labels: the process, its container and pod, the host',
  );
  t.equal(o[0]?.value, 1, 'value 1');
  // The same series as the OTLP export of this very collection.
  const asLabels = (a: Record<string, unknown>) => Object.fromEntries(Object.entries(a).map(([k, v]) => [label(k), String(v)]));
  // Without the labels every series of the endpoint has (scope, host): the point's own.
  const own = (l: Record<string, string>) => Object.fromEntries(Object.entries(l).filter(([k]) => !['otel_scope_name', 'otel_scope_version', 'host_name'].includes(k)));
  const wire = pointsOf({ points: otlp }, METRICS.owner.name, held.id);
  t.same(o.map((x) => own(x.labels)), wire.map((p) => asLabels(p.attributes)), 'the labels of the OTLP point');
  const perMapNames = new Set(PER_MAP_SERIES.map((x) => prometheusName(x.spec)));
  const perMap = s.samples.filter((x) => x.labels.ebpf_map_id === String(held.id) && perMapNames.has(x.name));
  t.ok(perMap.length >= 4, `${perMap.length} per-map series of the map`);
  for (const x of perMap)
    t.match(x.labels, { process_executable_name: path.basename(process.execPath), k8s_namespace_name: POD.namespace, k8s_pod_name: POD.name }, `${x.name}: the copied owner labels`);
  for (const x of perMap) {
    const p = pointsOf({ points: otlp }, PER_MAP_SERIES.find((y) => prometheusName(y.spec) === x.name)!.spec.name, held.id)[0];
    t.same(own(x.labels), asLabels(p?.attributes ?? {}), `${x.name}: the labels of the OTLP point`);
  }
});

t.test('the endpoint listens on 127.0.0.1 only, by default', async (t) => {
  const { config } = loadConfig({ args: [], env: {} });
  t.equal(config.prometheus.host, '127.0.0.1', 'the default host is loopback');
  const port = await freePort();
  // By the standard variables.
  await startAgent(t, ['--interval=1h'], { env: { OTEL_METRICS_EXPORTER: 'prometheus', OTEL_EXPORTER_PROMETHEUS_PORT: String(port) } });
  t.equal((await scrape(port)).status, 200, 'answers on 127.0.0.1');
  // A listener on 0.0.0.0 (or ::) would answer any local address; one on 127.0.0.1 refuses
  // 127.0.0.2, which also reaches this host through lo.
  const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    const sock = net.connect({ host: '127.0.0.2', port }, () => {
      sock.destroy();
      resolve(null);
    });
    sock.on('error', resolve);
  });
  t.equal(err?.code, 'ECONNREFUSED', 'refuses a connection to another local address');
});

t.test('a port already in use is EMP_PORT_IN_USE, not a crash', async (t) => {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => holder.close());
  const port = (holder.address() as net.AddressInfo).port;
  await t.rejects(startAgent(t, ['--interval=1h', '--exporters=prometheus', `--prometheus.port=${port}`]), { code: 'EMP_PORT_IN_USE' });
});

t.test('a host that does not resolve or is not on this host is EMP_BAD_HOST: exit 2, the key and value, no stack trace', async (t) => {
  await t.rejects(startAgent(t, ['--interval=1h', '--exporters=prometheus', '--prometheus.host=192.0.2.1', '--prometheus.port=47810']), { code: 'EMP_BAD_HOST' });
  const r = await runBuiltCli(['run', '--exporters=prometheus', '--prometheus.host=no-such-host.invalid', '--prometheus.port=47811', '--log.level=error']);
  t.equal(r.code, 2, 'exit 2: a configuration error');
  t.match(r.stderr, /^error EMP_BAD_HOST: prometheus\.host "no-such-host\.invalid" does not resolve/m, 'the code, the key and the value');
  t.match(r.stderr, /^ {2}hint: set prometheus\.host /m, 'the fix');
  t.notMatch(r.stderr, /EMP_PORT_IN_USE|stop what holds/, 'not a port in use');
  t.notMatch(r.stderr, STACK_TRACE, 'no stack trace');
});

t.test('host identity: target_info with the resource, and the dashboard\'s host label on every series', async (t) => {
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 10, name: 'exp_pr_host' });
  fill(m, 4, 8, 2);
  const port = await freePort();
  const a = await startAgent(t, ['--interval=1h', '--exporters=prometheus', `--prometheus.port=${port}`], { resourceEnv: { OTEL_RESOURCE_ATTRIBUTES: 'k8s.node.name=exp-node' } });
  const s = await scrape(port);
  const info = s.samples.filter((x) => x.name === 'target_info');
  t.equal(info.length, 1, 'one target_info');
  t.equal(s.types.get('target_info'), 'gauge');
  t.equal(info[0]?.value, 1);
  t.equal(info[0]?.labels.host_name, os.hostname(), 'target_info carries host.name');
  t.equal(info[0]?.labels.service_name, 'ebpf-map-pressure', 'and service.name');
  t.equal(info[0]?.labels.k8s_node_name, 'exp-node', 'and what OTEL_RESOURCE_ATTRIBUTES adds');
  t.equal(info[0]?.labels.os_type, 'linux');
  // The Grafana dashboard picks hosts by the labels of its template variables; the collector
  // path has them from resource_to_telemetry_conversion, this endpoint on every series.
  const dashboard = JSON.parse(readFileSync(path.join(__dirname, '../../deploy/grafana/dashboards/ebpf-map-pressure.json'), 'utf8')) as { templating: { list: Array<{ name: string; query: unknown; definition?: string }> } };
  const hostLabels = new Set<string>();
  for (const v of dashboard.templating.list.filter((x) => x.name === 'host')) {
    const q = typeof v.query === 'string' ? v.query : ((v.query as { query?: string } | undefined)?.query ?? v.definition ?? '');
    const lv = /label_values\([^,]+,\s*(\w+)\)/.exec(q);
    if (lv) hostLabels.add(lv[1]!);
  }
  t.ok(hostLabels.has('host_name'), `the dashboard's host variable uses ${[...hostLabels].join(', ')}`);
  const series = s.samples.filter((x) => x.name !== 'target_info');
  for (const l of hostLabels) t.ok(series.length > 0 && series.every((x) => x.labels[l] === os.hostname()), `every series has ${l}`);
  const perMapNames = new Set(PER_MAP_SERIES.map((x) => prometheusName(x.spec)));
  const mine = s.samples.filter((x) => x.labels.ebpf_map_id === String(m.id) && perMapNames.has(x.name));
  t.ok(mine.length >= 4, 'the map is exposed');
  for (const x of mine) t.equal(x.labels.ebpf_map_count_method, a.agent.latest()!.maps.find((y) => y.id === m.id)?.countMethod, `${x.name}: count_method on every per-map series`);
});

t.test('one rendering per collection, served to concurrent scrapes alike', async (t) => {
  const port = await freePort();
  const a = await startAgent(t, ['--interval=1h', '--exporters=prometheus', `--prometheus.port=${port}`]);
  const bodies = await Promise.all(Array.from({ length: 20 }, async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text()));
  t.equal(new Set(bodies).size, 1, '20 concurrent scrapes get the same exposition');
  await a.agent.collectNow();
  const next = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  t.not(next, bodies[0], 'the next collection renders a new one');
  t.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404, 'other paths: 404');
});
