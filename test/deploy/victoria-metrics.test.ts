// SPDX-License-Identifier: Apache-2.0
// A real OTLP backend: Debian's VictoriaMetrics (scripts/victoria-metrics.sh) on loopback, the
// agent started as the CLI pushing OTLP/HTTP protobuf to it. Asked through its Prometheus
// query API: every metric of the table that this run should produce is stored under its
// Prometheus name (and those that should not, are not); a filled map's values equal the
// kernel's; the resource is on every series; every dashboard panel query and alert rule
// expression returns data for the maps this test made. Then the backend goes down for a few
// intervals and comes back on the same port and storage: the points collected meanwhile
// arrive with their own timestamps, so the outage leaves no gap.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import * as YAML from 'yaml';
import { loadConfig } from '../../src/config';
import { ATTR, METRICS, type MetricKey, prometheusName } from '../../src/metrics/table';
import { buildResource } from '../../src/resource';
import { startAgentProcess } from '../helpers/agent-process';
import { features } from '../helpers/features';
import { bpftoolDumpCount, bpftoolMap, createMap, fill, mapOps } from '../helpers/kernel';
import { freePort } from '../helpers/otlp-receiver';
import { pinDir } from '../helpers/owners';
import { type Sample, victoriaMetrics, victoriaMetricsBinary } from '../helpers/victoria-metrics';
import { expandGrafana, metricNames, promLabel } from './promql';
import { poll, sleep } from '../helpers/wait';

const ROOT = path.join(__dirname, '..', '..');
const INTERVAL_MS = 1000;
/** Intervals the backend stays down. */
const OUTAGE_INTERVALS = 4;
/** Extra resource attributes given the agent, to be found as labels. */
const RESOURCE_ENV = 'deployment.environment.name=vmt-test,service.namespace=vmt';


/** The Prometheus names a metric of the table is stored under (a histogram's three series). */
const storedNames = (key: MetricKey): string[] => {
  const name = prometheusName(METRICS[key]);
  return METRICS[key].instrument === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
};

t.test('the agent pushes OTLP/HTTP to VictoriaMetrics: names, values, resource, dashboard and rules, an outage without a gap', async (t) => {
  const bin = victoriaMetricsBinary();

  // The maps: one filled past the critical level and pinned twice (owners.max_per_map=1 leaves
  // one pin omitted), one growing from past the warning level (a forecast), a ring buffer.
  const filled = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64, name: 'vmt_filled' });
  t.equal(fill(filled, 4, 8, 56), 56, '56 of 64 entries in vmt_filled');
  const pins = pinDir(t, 'vmt');
  mapOps().pin(filled.fd, path.join(pins, 'a'));
  mapOps().pin(filled.fd, path.join(pins, 'b'));
  const growing = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4096, name: 'vmt_growing' });
  let next = fill(growing, 4, 8, 2900);
  const grow = setInterval(() => {
    next += fill(growing, 4, 8, 4, next);
  }, INTERVAL_MS / 2);
  t.teardown(() => clearInterval(grow));
  const ring = createMap(t, { type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: 4096, name: 'vmt_ring' });
  const ours = new Set([filled.id, growing.id, ring.id].map(String));

  const port = await freePort();
  const vm = victoriaMetrics(t, { bin, port, storageDir: t.testdir({ storage: {} }) + '/storage' });
  await vm.start();

  const startedAt = Date.now();
  const agent = startAgentProcess(
    t,
    [
      'run',
      '--exporters=otlp',
      '--otlp.protocol=http/protobuf',
      `--otlp.endpoint=${vm.otlpEndpoint}`,
      `--interval=${INTERVAL_MS}ms`,
      '--filter.include-names=vmt_*',
      '--owners.max-per-map=1',
      // The pin walk covers this test's own directory only (other tests' pins may be thousands).
      `--paths.bpffs=${pins}`,
    ],
    { OTEL_RESOURCE_ATTRIBUTES: RESOURCE_ENV },
  );
  await agent.waitForLog((l) => l.message === 'agent started', 'agent started');
  const context = () => `agent stderr (tail):\n${agent.stderr.slice(-20).join('\n')}\nVictoriaMetrics stderr (tail):\n${vm.log()}`;

  const label = { id: promLabel(ATTR.id), name: promLabel(ATTR.name), type: promLabel(ATTR.type) };
  const sel = (key: MetricKey, id: number) => `${prometheusName(METRICS[key])}{${label.id}="${id}"}`;
  // The map's current series: one a collection has written within the last three intervals.
  // (A plain instant query also returns, for minutes, any series the map had earlier; it has
  // only one: see the owner attributes below.)
  const one = async (key: MetricKey, id: number): Promise<Sample> => {
    const r = await vm.query(`last_over_time(${sel(key, id)}[${3 * INTERVAL_MS}ms])`);
    if (r.length !== 1) throw new Error(`${sel(key, id)}: ${r.length} series, not 1: ${JSON.stringify(r)}`);
    return r[0]!;
  };

  // ---- the outage: down for OUTAGE_INTERVALS intervals, back on the same port and storage ----
  await poll('three collections of vmt_filled stored', async () => ((await vm.exportRaw(sel('entries', filled.id), startedAt, Date.now()))[0]?.timestamps.length ?? 0) >= 3 || undefined, 30_000, context);
  const downAt = Date.now();
  await vm.stop();
  const stoppedAt = Date.now();
  await agent.waitForLog((l) => l.fields.code === 'EMP_EXPORT_FAILED', 'EMP_EXPORT_FAILED while the backend is down', 10 * INTERVAL_MS);
  await sleep(OUTAGE_INTERVALS * INTERVAL_MS - (Date.now() - stoppedAt));
  const upAt = Date.now();
  await vm.start();
  const recovered = await agent.waitForLog((l) => l.message === 'exporter recovered', 'exporter recovered', 30_000);
  t.ok(Number(recovered.fields.delivered_late) > 0, `the agent delivered ${recovered.fields.delivered_late} requests late`);
  t.equal(Number(recovered.fields.dropped), 0, 'and dropped none');

  // Every collection's points are stored at their own time: inside the outage too.
  const raw = await poll(
    'the queued points of vmt_filled',
    async () => {
      const s = (await vm.exportRaw(sel('entries', filled.id), downAt - 3 * INTERVAL_MS, Date.now()))[0];
      return s && s.timestamps.some((ts) => ts > upAt) ? s : undefined;
    },
    15_000,
    context,
  );
  const stamps = [...raw.timestamps].sort((a, b) => a - b);
  const during = stamps.filter((ts) => ts > stoppedAt && ts < upAt);
  const expected = Math.floor((upAt - stoppedAt) / INTERVAL_MS) - 1;
  t.ok(during.length >= expected, `${during.length} points stamped while the backend was down (${upAt - stoppedAt} ms; at least ${expected} expected), delivered after it came back`);
  const gaps = stamps.slice(1).map((ts, i) => ts - stamps[i]!);
  const widest = Math.max(...gaps);
  t.ok(widest <= 2.5 * INTERVAL_MS, `no gap in the raw points across the outage: widest ${widest} ms at a ${INTERVAL_MS} ms interval (an outage of ${upAt - downAt} ms left as a gap would be wider)`);
  // The same through the query API: at every step of the outage window, a point within the
  // last two intervals. (Not the bare selector: a range query fills a gap with the last value
  // for minutes, so it would show none even with the outage's points lost.)
  const window = `count_over_time(${sel('entries', filled.id)}[${2 * INTERVAL_MS}ms])`;
  const range = await vm.queryRange(window, Math.ceil(downAt / 1000), Math.floor(upAt / 1000), INTERVAL_MS / 1000);
  const steps = Math.floor(upAt / 1000) - Math.ceil(downAt / 1000) + 1;
  const counted = range[0]?.values.filter(([, v]) => Number(v) >= 1).length ?? 0;
  t.equal(counted, steps, `${window}: a point at each of the ${steps} steps of the outage window`);

  // ---- names: every metric of the table this run produces, and no other ----
  // The forecast needs a few collections of growth: wait for it before reading the names.
  await poll('a forecast for vmt_growing', async () => (await vm.query(sel('timeToFull', growing.id))).length > 0 || undefined, 30_000, context);
  const failedCollections = agent.logs().filter((l) => l.message.startsWith('collection failed'));
  const absentBecause: Partial<Record<MetricKey, string>> = {
    ...(features.kfunc() && { countAge: 'every map here is counted by bpf_map_sum_elem_count, none by an element walk' }),
    ...(failedCollections.length === 0 && { collectionErrors: 'no collection failed (the agent logged none)' }),
  };
  const stored = new Set(await vm.names());
  for (const key of Object.keys(METRICS) as MetricKey[]) {
    const why = absentBecause[key];
    for (const name of storedNames(key)) {
      if (why === undefined) t.ok(stored.has(name), `${METRICS[key].name} stored as ${name}`);
      else t.notOk(stored.has(name), `${METRICS[key].name} (${name}) absent: ${why}`);
    }
  }
  const known = new Set((Object.keys(METRICS) as MetricKey[]).flatMap(storedNames));
  t.same([...stored].filter((n) => !known.has(n)), [], 'nothing stored that the table does not name');

  // ---- values of the filled map, against the kernel ----
  const truth = bpftoolMap(filled.id);
  const entries = bpftoolDumpCount(filled.id);
  const util = await one('utilization', filled.id);
  t.equal(Number((await one('entries', filled.id)).value[1]), entries, `entries = ${entries}, as bpftool dumps them`);
  t.equal(Number((await one('maxEntries', filled.id)).value[1]), truth.max_entries, 'max_entries as bpftool shows it');
  t.equal(Number(util.value[1]), entries / truth.max_entries, `utilization = ${entries}/${truth.max_entries}`);
  t.equal(Number((await one('memory', filled.id)).value[1]), truth.bytes_memlock, "memory = bpftool's memlock");
  const { pressure } = loadConfig({ args: [], env: {} }).config;
  const ratio = entries / truth.max_entries;
  const level = pressure.critical !== null && ratio >= pressure.critical ? 2 : pressure.warning !== null && ratio >= pressure.warning ? 1 : 0;
  t.equal(Number((await one('alertLevel', filled.id)).value[1]), level, `alert level ${level} at ${ratio} with the default thresholds`);
  t.equal(util.metric[label.name], 'vmt_filled', 'its name');
  t.equal(util.metric[label.type], truth.type, `its type, ${truth.type} as bpftool says`);
  t.equal(Number((await one('ownersOmitted', filled.id)).value[1]), 1, 'two pins, owners.max_per_map=1: one omitted');
  const owners = await vm.query(`${prometheusName(METRICS.owner)}{${label.id}="${filled.id}"}`);
  t.ok(
    owners.some((s) => s.metric.process_pid === String(process.pid)),
    `an owner series for this test's process (pid ${process.pid}), which holds the map: ${JSON.stringify(owners.map((s) => s.metric))}`,
  );
  t.equal(Number((await one('ringbufPending', ring.id)).value[1]), 0, 'nothing written to vmt_ring: 0 bytes pending');

  // A push backend has no staleness marker: a series the agent stops writing answers instant
  // queries for minutes. Were a map's first collection exported before its owners were known,
  // its per-map series would lack the attributes owners.copy_attributes copies
  // (process.executable.name) and the next collection would start a second series of the same
  // map: dashboards would count and sum it twice. The first collection waits for its owners.
  const perMap = await vm.query(`count by (${label.id}) (${sel('utilization', filled.id)})`);
  t.equal(Number(perMap[0]?.value[1]), 1, 'one utilization series for vmt_filled, not one per owner pass');
  const exe = promLabel('process.executable.name');
  const firstPoints = await vm.exportRaw(sel('utilization', filled.id), startedAt, Date.now());
  t.same(
    firstPoints.map((s) => s.metric[exe]),
    [path.basename(process.execPath)],
    `its raw points, the first collection's included, are all of one series, with ${exe} (the test's node holds the map)`,
  );

  // ---- the resource: every attribute the agent builds, as a label of every series ----
  // Built here as the agent built it: with its environment (the child's is exactly RESOURCE_ENV).
  const saved = { attrs: process.env.OTEL_RESOURCE_ATTRIBUTES, service: process.env.OTEL_SERVICE_NAME };
  process.env.OTEL_RESOURCE_ATTRIBUTES = RESOURCE_ENV;
  delete process.env.OTEL_SERVICE_NAME;
  const resource = buildResource({ machineIdFile: '/etc/machine-id' }).attributes;
  if (saved.attrs === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES;
  else process.env.OTEL_RESOURCE_ATTRIBUTES = saved.attrs;
  if (saved.service !== undefined) process.env.OTEL_SERVICE_NAME = saved.service;
  t.ok(Object.keys(resource).includes('deployment.environment.name'), 'OTEL_RESOURCE_ATTRIBUTES is part of the resource');
  for (const key of ['utilization', 'count', 'collections'] as const) {
    const series = await vm.query(prometheusName(METRICS[key]));
    t.ok(series.length > 0, `${prometheusName(METRICS[key])} has series`);
    for (const [k, v] of Object.entries(resource)) {
      t.ok(series.every((s) => s.metric[promLabel(k)] === String(v)), `${prometheusName(METRICS[key])}: ${promLabel(k)}="${String(v)}"`);
    }
  }

  // ---- every dashboard panel query and alert rule expression ----
  const dashboard = JSON.parse(readFileSync(path.join(ROOT, 'deploy/grafana/dashboards/ebpf-map-pressure.json'), 'utf8')) as {
    panels: Array<{ title: string; targets?: Array<{ refId: string; expr: string }> }>;
  };
  const rules = (YAML.parse(readFileSync(path.join(ROOT, 'deploy/prometheus/rules.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap((g) => g.rules);
  const queries = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((q) => ({ what: `panel "${p.title}" ${q.refId}`, expr: expandGrafana(q.expr) }))),
    ...rules.map((r) => ({ what: `rule ${r.alert}`, expr: r.expr })),
  ];
  t.ok(queries.length > rules.length, `${queries.length - rules.length} panel queries and ${rules.length} rules`);
  const absentNames = new Map(Object.entries(absentBecause).flatMap(([k, why]) => storedNames(k as MetricKey).map((n) => [n, why] as const)));
  for (const { what, expr } of queries) {
    const missing = metricNames(expr).filter((n) => absentNames.has(n));
    const result = await vm.query(expr);
    if (/\babsent(_over_time)?\(/.test(expr)) {
      // An absence alert: nothing while the agent reports, a series for a time before it did.
      t.same(result, [], `${what}: no result while the agent reports`);
      t.ok((await vm.query(expr, Math.floor(startedAt / 1000) - 60)).length > 0, `${what}: returns data for a time before the agent reported`);
    } else if (missing.length > 0) {
      t.same(result, [], `${what}: no data, as it selects ${missing.join(', ')}: ${missing.map((n) => absentNames.get(n)).join('; ')}`);
    } else {
      t.ok(result.length > 0, `${what}: returns data`);
      if (result.some((s) => s.metric[label.id] !== undefined)) {
        t.ok(result.some((s) => ours.has(s.metric[label.id]!)), `${what}: returns a map of this test (${result.map((s) => s.metric[label.name]).join(', ')})`);
      }
    }
  }

  clearInterval(grow);
  await agent.stop();
  await vm.stop();
});
