// SPDX-License-Identifier: Apache-2.0
// The demo stack without a Docker engine: docker-compose.yml, otel-collector.yaml, the
// Prometheus and Grafana files parsed and checked against each other and against the code
// (ports, service names, mounted files, env names, configuration that loads, metric names of
// every query), plus promtool's own checks and rule unit tests.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import * as YAML from 'yaml';
import { parseArgs } from '../../src/cli/main';
import { loadConfig, schemaLeaves } from '../../src/config';
import { PER_MAP_SERIES } from '../../src/metrics/series';
import { METRICS, prometheusName } from '../../src/metrics/table';
import { bare, FULL } from './capabilities';
import { EXPORTED_METRICS, knownLabels, labelNames, metricNames } from './promql';

const ROOT = path.join(__dirname, '..', '..');
const read = (f: string) => readFileSync(path.join(ROOT, f), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const yaml = (f: string): Any => YAML.parse(read(f));

const compose = yaml('docker-compose.yml');
const collector = yaml('otel-collector.yaml');
const promConfig = yaml('deploy/prometheus/prometheus.yml');
const rules = yaml('deploy/prometheus/rules.yml');
const dashboard = JSON.parse(read('deploy/grafana/dashboards/ebpf-map-pressure.json')) as Any;
const datasources = yaml('deploy/grafana/provisioning/datasources/prometheus.yml');
const providers = yaml('deploy/grafana/provisioning/dashboards/ebpf-map-pressure.yml');

interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** Short-syntax volumes of a compose service ("src:dst[:ro]"). */
function mounts(service: Any): Mount[] {
  return (service.volumes ?? []).map((v: string) => {
    const [source, target, mode] = v.split(':');
    return { source: source!, target: target!, readOnly: mode === 'ro' };
  });
}

/** The repository file a path inside a container comes from, through the service's bind mounts. */
function repoFileFor(service: Any, containerPath: string): string | null {
  for (const m of mounts(service)) {
    if (!m.source.startsWith('./')) continue;
    if (containerPath === m.target) return m.source.slice(2);
    if (containerPath.startsWith(`${m.target}/`)) return path.posix.join(m.source.slice(2), containerPath.slice(m.target.length + 1));
  }
  return null;
}

const port = (endpoint: string) => Number(endpoint.split(':').pop());
const envNames = new Set(schemaLeaves().flatMap((l) => (l.env ? [l.env] : [])));
/** Variables the agent honours beyond the schema's: the generic OTLP forms and the resource's. */
const HONOURED = new Set([
  ...[...envNames].filter((e) => e.startsWith('OTEL_EXPORTER_OTLP_METRICS_')).map((e) => e.replace('OTEL_EXPORTER_OTLP_METRICS_', 'OTEL_EXPORTER_OTLP_')),
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_SERVICE_NAME',
]);

t.test('compose: services, pinned images, loopback ports, dependencies', async (t) => {
  t.same(Object.keys(compose.services).sort(), ['agent', 'demo', 'grafana', 'otel-collector', 'prometheus']);
  for (const [name, s] of Object.entries<Any>(compose.services)) {
    if (s.image && !s.build) t.match(s.image, /:v?\d+\.\d+\.\d+$/, `${name}: image pinned to a version`);
    for (const p of s.ports ?? []) t.match(String(p), /^127\.0\.0\.1:\d+:\d+$/, `${name}: ${p} published on loopback only`);
    for (const d of s.depends_on ?? []) t.ok(compose.services[d], `${name} depends on ${d}, which exists`);
    t.notOk(s.privileged, `${name}: not privileged`);
    for (const m of mounts(s)) {
      if (m.source.startsWith('./')) t.ok(existsSync(path.join(ROOT, m.source)), `${name}: mounted ${m.source} exists in the repository`);
    }
  }
  t.equal(compose.services.agent.build.context, '.');
  t.ok(existsSync(path.join(ROOT, compose.services.agent.build.dockerfile)), 'the agent is built from the Dockerfile in the repository');
});

t.test("compose: the agent gets the host's view with the measured capabilities", async (t) => {
  const agent = compose.services.agent;
  t.equal(agent.pid, 'host', 'host PID namespace');
  t.equal(agent.uts, 'host', "the host's name (host.name)");
  t.same(agent.cap_drop, ['ALL']);
  t.same([...agent.cap_add].sort(), FULL.map(bare).sort(), 'exactly the measured set');
  const m = mounts(agent);
  const bind = (target: string) => m.find((x) => x.target === target);
  const defaults = loadConfig({ env: {} }).config.paths;
  for (const [target, what] of [
    [defaults.bpffs, 'bpffs'],
    [path.dirname(defaults.btf), 'BTF'],
    [defaults.machineId, 'machine id'],
  ] as const) {
    t.equal(bind(target)?.source, target, `${what}: the host's ${target} at the path the agent reads`);
    t.equal(bind(target)?.readOnly, true, `${what}: read-only`);
  }
});

t.test('compose: the agent configuration loads and points at the collector', async (t) => {
  const agent = compose.services.agent;
  const env: Record<string, string> = Object.fromEntries(Object.entries<string>(agent.environment).map(([k, v]) => [k, String(v)]));
  for (const k of Object.keys(env)) t.ok(envNames.has(k) || HONOURED.has(k), `${k} is a variable the agent reads`);
  const args = parseArgs(agent.command);
  t.equal(args.command, 'run');
  const file = repoFileFor(agent, args.configFile!);
  t.ok(file && existsSync(path.join(ROOT, file)), `--config ${args.configFile} is mounted from the repository (${file})`);
  const { config } = loadConfig({ file: path.join(ROOT, file!), env, args: args.configArgs });
  const url = new URL(config.otlp.endpoint);
  t.equal(url.hostname, 'otel-collector', 'OTLP goes to the collector service');
  t.ok(compose.services[url.hostname], 'which exists');
  t.equal(config.otlp.protocol, 'grpc');
  t.equal(Number(url.port), port(collector.receivers.otlp.protocols.grpc.endpoint), "to the collector's OTLP gRPC port");
  t.ok(config.exporters.includes('otlp'));
  t.equal(config.health.enabled, true, 'the health endpoint is on for the healthcheck');
  const probe = agent.healthcheck.test.join(' ');
  t.match(probe, new RegExp(`http://127\\.0\\.0\\.1:${config.health.port}/readyz`), 'the healthcheck probes /readyz on health.port');
  t.equal(config.health.host, '127.0.0.1', 'and the endpoint stays on loopback inside the container');
});

t.test('compose: the demo load runs the CLI demo with the same least privilege', async (t) => {
  const demo = compose.services.demo;
  const args = parseArgs(demo.command);
  t.equal(args.command, 'demo', 'a command the CLI has');
  const { config } = loadConfig({ env: {}, args: args.configArgs });
  t.ok(config.demo.durationMs > 0, `runs ${config.demo.durationMs / 60_000} minutes, then restarts`);
  t.equal(demo.restart, 'unless-stopped', 'and starts over');
  t.equal(config.demo.export, false, 'it exports nothing itself: the agent reports its maps');
  t.equal(demo.image, compose.services.agent.image, 'the same image as the agent');
  t.same(demo.cap_drop, ['ALL']);
  t.same([...demo.cap_add].sort(), FULL.map(bare).sort());
  const btf = loadConfig({ env: {} }).config.paths.btf;
  t.ok(mounts(demo).some((m) => m.target === path.dirname(btf) && m.readOnly), "the host's BTF for its own collector");
});

t.test('collector: OTLP in on 4317/4318, Prometheus out with resource labels, debug', async (t) => {
  const { grpc, http } = collector.receivers.otlp.protocols;
  t.equal(port(grpc.endpoint), 4317);
  t.equal(port(http.endpoint), 4318);
  t.match(grpc.endpoint, /^0\.0\.0\.0:/, 'listens beyond loopback inside its container');
  t.equal(collector.exporters.prometheus.resource_to_telemetry_conversion.enabled, true);
  t.ok(collector.exporters.debug, 'debug exporter');
  t.ok(collector.processors.batch, 'batch processor');
  const pipe = collector.service.pipelines.metrics;
  t.same(pipe.receivers, ['otlp']);
  t.ok(pipe.processors.includes('batch'));
  t.same([...pipe.exporters].sort(), ['debug', 'prometheus']);
  for (const kind of ['receivers', 'processors', 'exporters'] as const)
    for (const c of pipe[kind]) t.ok(collector[kind][c], `${kind}.${c} is defined`);
  for (const e of collector.service.extensions ?? []) t.ok(collector.extensions[e], `extension ${e} is defined`);

  const s = compose.services['otel-collector'];
  t.match(s.image, /^otel\/opentelemetry-collector-contrib:/, 'the contrib distribution (datadog exporter)');
  const configFlag = s.command.find((c: string) => c.startsWith('--config='))!.slice('--config='.length);
  t.equal(repoFileFor(s, configFlag), 'otel-collector.yaml', 'the compose collector runs this file');
  const published = (s.ports as string[]).map((p) => Number(p.split(':')[2]));
  t.same(published.sort(), [4317, 4318, port(collector.exporters.prometheus.endpoint)].sort(), 'OTLP and Prometheus ports published');
});

t.test('collector: the commented vendor exporters are ready to enable', async (t) => {
  const text = read('otel-collector.yaml');
  // Uncomment the indented "#   key:" lines of the exporters section, as a user would.
  const uncommented = text.replace(/^ {2}# ( {2,}\S.*|[a-z][\w/-]*:.*)$/gm, (_l, rest: string) => `  ${rest}`);
  const c: Any = YAML.parse(uncommented);
  const dd = c.exporters.datadog;
  t.ok(dd, 'a datadog exporter');
  t.equal(dd.api.key, '${env:DD_API_KEY}', 'key from the environment');
  t.match(dd.api.site, /DD_SITE/);
  const hc = c.exporters['otlp/honeycomb'];
  t.equal(hc.endpoint, 'api.honeycomb.io:443');
  t.equal(hc.headers['x-honeycomb-team'], '${env:HONEYCOMB_API_KEY}');
  t.ok(hc.headers['x-honeycomb-dataset'], 'metrics need a dataset');
  const env = compose.services['otel-collector'].environment;
  for (const v of ['DD_API_KEY', 'DD_SITE', 'HONEYCOMB_API_KEY']) t.ok(v in env, `compose passes ${v} to the collector`);
});

t.test('prometheus: scrapes the collector, loads the mounted rules; promtool passes', async (t) => {
  const job = promConfig.scrape_configs.find((j: Any) => j.job_name === 'otel-collector');
  t.ok(job);
  t.equal(job.honor_labels, true, "the agents' job/instance labels are kept");
  t.same(job.static_configs[0].targets, [`otel-collector:${port(collector.exporters.prometheus.endpoint)}`], "the collector's Prometheus exporter");
  const svc = compose.services.prometheus;
  const configPath = svc.command.find((c: string) => c.startsWith('--config.file=')).slice('--config.file='.length);
  t.equal(repoFileFor(svc, configPath), 'deploy/prometheus/prometheus.yml');
  for (const f of promConfig.rule_files) {
    const inContainer = path.posix.join(path.posix.dirname(configPath), f);
    t.equal(repoFileFor(svc, inContainer), 'deploy/prometheus/rules.yml', `rule file ${f} is mounted at ${inContainer}`);
  }
  const run = (...args: string[]) => execFileSync('promtool', args, { cwd: path.join(ROOT, 'deploy/prometheus'), encoding: 'utf8', timeout: 60_000 });
  t.match(run('check', 'config', 'prometheus.yml'), /SUCCESS/, 'promtool check config');
  const count = rules.groups.reduce((n: number, g: Any) => n + g.rules.length, 0);
  t.match(run('check', 'rules', 'rules.yml'), new RegExp(`SUCCESS: ${count} rules found`), 'promtool check rules');
  t.match(run('test', 'rules', 'rules.test.yml'), /SUCCESS/, 'promtool test rules (the rules fire and stay quiet as intended)');
});

const allRules: Any[] = rules.groups.flatMap((g: Any) => g.rules);
const panels: Any[] = dashboard.panels.flatMap((p: Any) => [p, ...(p.panels ?? [])]);
const queries: Array<{ where: string; expr: string }> = [
  ...allRules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr as string })),
  ...panels.flatMap((p) => (p.targets ?? []).map((q: Any) => ({ where: `panel "${p.title}" ${q.refId}`, expr: q.expr as string }))),
  ...dashboard.templating.list.filter((v: Any) => v.type === 'query').map((v: Any) => ({ where: `variable ${v.name}`, expr: (v.query.query as string).replace(/^label_values\((.*),\s*\w+\)$/, '$1') })),
];

t.test('every alert and dashboard query names only metrics the agent exports', async (t) => {
  t.ok(queries.length >= 10, `${queries.length} queries`);
  const labels = knownLabels();
  for (const q of queries) {
    const names = metricNames(q.expr);
    t.ok(names.length > 0, `${q.where}: selects a metric`);
    for (const n of names) t.ok(EXPORTED_METRICS.has(n), `${q.where}: ${n} is in the metric table (prometheusName)`);
    for (const l of labelNames(q.expr)) t.ok(labels.has(l), `${q.where}: label ${l} exists`);
  }
});

/** The default per-type list's "TYPE=off/off" entries: the types the agent never alerts on. */
function typesOffByDefault(): string[] {
  const byType = loadConfig({ env: {} }).config.pressure.types;
  return byType.filter((r) => r.warning === null && r.critical === null).map((r) => r.match);
}

t.test("alert thresholds are the agent's defaults", async (t) => {
  const { warning, critical } = loadConfig({ env: {} }).config.pressure;
  const byName = Object.fromEntries(allRules.map((r) => [r.alert, r]));
  const util = prometheusName(METRICS.utilization);
  const off = typesOffByDefault();
  t.ok(off.length > 0, `types off by default: ${off.join(', ')}`);
  for (const [alert, threshold, severity] of [
    ['EbpfMapPressureWarning', warning, 'warning'],
    ['EbpfMapPressureCritical', critical, 'critical'],
  ] as const) {
    const r = byName[alert];
    t.equal(r.expr, `${util}{ebpf_map_type!~"${off.join('|')}"} >= ${threshold}`, `${alert}: ${util} >= ${threshold}, types off by default excluded`);
    t.equal(r.labels.severity, severity);
  }
  t.match(byName.EbpfMapFillingUp.expr, new RegExp(`^${prometheusName(METRICS.timeToFull)} <`));
});

t.test('grafana: provisioned datasource and dashboard agree with compose and the code', async (t) => {
  const svc = compose.services.grafana;
  const ds = datasources.datasources[0];
  const url = new URL(ds.url);
  t.equal(url.hostname, 'prometheus', 'the compose Prometheus service');
  t.equal(Number(url.port), Number(compose.services.prometheus.ports[0].split(':')[2]), "Prometheus's port");
  t.ok(repoFileFor(svc, '/etc/grafana/provisioning/datasources/prometheus.yml'), 'datasources are mounted where Grafana reads them');
  t.ok(repoFileFor(svc, '/etc/grafana/provisioning/dashboards/ebpf-map-pressure.yml'), 'the dashboard provider too');
  const dir = providers.providers[0].options.path;
  const json = repoFileFor(svc, `${dir}/ebpf-map-pressure.json`);
  t.equal(json, 'deploy/grafana/dashboards/ebpf-map-pressure.json', "the provider's folder holds the dashboard");
  t.equal(repoFileFor(svc, svc.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH), json, 'and it is the home dashboard');
  t.ok(statSync(path.join(ROOT, json!)).isFile());

  const uids = new Set<string>();
  for (const p of panels) {
    t.equal(p.datasource?.uid, ds.uid, `panel "${p.title}": the provisioned datasource`);
    for (const q of p.targets ?? []) t.equal(q.datasource?.uid, ds.uid, `panel "${p.title}" ${q.refId}: the provisioned datasource`);
    t.notOk(uids.has(p.id), `panel id ${p.id} is unique`);
    uids.add(p.id);
    t.ok(p.gridPos.x + p.gridPos.w <= 24, `panel "${p.title}" fits the 24-column grid`);
  }
  for (const v of dashboard.templating.list) if (v.datasource) t.equal(v.datasource.uid, ds.uid, `variable ${v.name}`);
});

t.test('grafana: the panels the issue asks for, with the 0.7/0.8 thresholds', async (t) => {
  const { warning, critical } = loadConfig({ env: {} }).config.pressure;
  const uses = (p: Any, metric: string) => (p.targets ?? []).some((q: Any) => metricNames(q.expr).includes(metric));
  const util = panels.filter((p) => uses(p, prometheusName(METRICS.utilization)) && p.fieldConfig?.defaults?.unit === 'percentunit');
  t.ok(util.length >= 2, 'utilization overview panels');
  for (const p of util) {
    const steps = p.fieldConfig.defaults.thresholds.steps.map((s: Any) => s.value);
    t.same(steps, [null, warning, critical], `panel "${p.title}": thresholds at warning ${warning} and critical ${critical}`);
  }
  const table = panels.find((p) => p.type === 'table' && uses(p, prometheusName(METRICS.alertLevel)));
  t.ok(table, 'a table of maps over warning (level >= 1)');
  t.ok(panels.some((p) => p.type === 'timeseries' && uses(p, prometheusName(METRICS.entries))), 'entries over time');
  const memory = panels.find((p) => uses(p, prometheusName(METRICS.memory)) && p.targets.some((q: Any) => /by \(ebpf_map_type\)/.test(q.expr)));
  t.ok(memory, 'memory by type');
  t.equal(memory?.fieldConfig.defaults.unit, 'bytes');
  const ttf = panels.find((p) => uses(p, prometheusName(METRICS.timeToFull)) && p.type === 'timeseries');
  t.equal(ttf?.fieldConfig.defaults.unit, 's', 'time to full, in seconds');
  const owners = panels.find((p) => p.type === 'table' && uses(p, prometheusName(METRICS.owner)));
  t.ok(owners, 'a table of owners (ebpf.map.owner)');
  const ownerLabels = owners ? labelNames(owners.targets[0].expr) : [];
  for (const l of ['k8s_pod_name', 'k8s_namespace_name', 'process_pid']) t.ok(ownerLabels.includes(l), `the owners table shows ${l}`);
  const ns = dashboard.templating.list.find((v: Any) => v.name === 'namespace');
  t.match(ns?.query.query, /label_values\(ebpf_map_owner, k8s_namespace_name\)/, 'a namespace variable');
  t.match(owners?.targets[0].expr, /k8s_namespace_name=~"\$namespace"/, 'that filters the owners');
  // And the maps: per-map series carry the first owner's namespace (owners.copy_attributes).
  t.ok(loadConfig({ env: {} }).config.owners.copyAttributes.includes('k8s.namespace.name'), 'k8s.namespace.name is copied onto per-map series by default');
  const perMap = new Set(PER_MAP_SERIES.map((x) => prometheusName(x.spec)));
  const byMap = panels.flatMap((p) => (p.targets ?? []).filter((q: Any) => /\$map\b/.test(q.expr) && metricNames(q.expr).some((n) => perMap.has(n))).map((q: Any) => ({ p, q })));
  t.ok(byMap.length >= 5, `${byMap.length} per-map queries that filter by map name`);
  for (const { p, q } of byMap) t.match(q.expr, /k8s_namespace_name=~"\$namespace"/, `panel "${p.title}" ${q.refId}: filters by namespace too`);
});
