// SPDX-License-Identifier: Apache-2.0
// A real client: Debian's Prometheus server on loopback scrapes the agent's own endpoint
// (the agent started as the CLI, `run --exporters prometheus`), with the project's alert
// rules loaded; its query API must return the utilization of a map this test filled, equal
// to what the kernel holds. Every dashboard and alert query is then run through Prometheus's
// own parser and evaluator.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import * as YAML from 'yaml';
import { METRICS, prometheusName } from '../../src/metrics/table';
import { startAgentProcess } from '../helpers/agent-process';
import { bpftoolDumpCount, bpftoolMap, createMap, fill } from '../helpers/kernel';
import { freePort } from '../helpers/otlp-receiver';
import { poll } from '../helpers/wait';
import { expandGrafana } from './promql';

const ROOT = path.join(__dirname, '..', '..');
const PROMETHEUS = process.env.EMP_PROMETHEUS_BIN ?? '/usr/bin/prometheus';

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * The README's PromQL examples: inline code spans made of exposition names (no dots: those are
 * OpenTelemetry names), at least one `ebpf_` metric, and an operator or a function call.
 */
function readmeQueries(readme: string): string[] {
  const spans = [...readme.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
  return [...new Set(spans.filter((q) => /\bebpf_[a-z_]+\b/.test(q) && !/[a-z_]\.[a-z*]/.test(q) && /[-+*/<>=!]|\w\(/.test(q) && !/[|$;]/.test(q)))];
}

t.test('Prometheus scrapes the agent and returns the utilization of a filled map', async (t) => {
  const made = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64, name: 'prom_scrape_a' });
  const inserted = fill(made, 4, 8, 48);
  t.equal(inserted, 48);

  const agentPort = await freePort();
  const agent = startAgentProcess(t, ['run', '--exporters=prometheus', `--prometheus.port=${agentPort}`, '--interval=1s']);
  await agent.waitForLog((l) => l.message === 'agent started', 'agent started');

  const dir = t.testdir({ data: {} });
  const promPort = await freePort();
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '1s' },
    rule_files: [path.join(ROOT, 'deploy/prometheus/rules.yml')],
    scrape_configs: [{ job_name: 'ebpf-map-pressure', static_configs: [{ targets: [`127.0.0.1:${agentPort}`] }] }],
  };
  writeFileSync(path.join(dir, 'prometheus.yml'), YAML.stringify(config));
  const promErr: string[] = [];
  const prom: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  prom.stderr!.on('data', (d: Buffer) => promErr.push(d.toString()));
  const promExit = new Promise<number | null>((resolve) => prom.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (prom.exitCode === null && prom.signalCode === null) {
      prom.kill('SIGTERM');
      const killer = setTimeout(() => prom.kill('SIGKILL'), 15_000);
      await promExit;
      clearTimeout(killer);
    }
  });
  const stderr = () => `prometheus stderr:\n${promErr.join('').slice(-4000)}`;
  const api = `http://127.0.0.1:${promPort}/api/v1`;
  const query = async (q: string): Promise<{ status: string; data: { resultType: string; result: Sample[] }; error?: string }> => {
    const res = await fetch(`${api}/query?query=${encodeURIComponent(q)}`);
    return (await res.json()) as { status: string; data: { resultType: string; result: Sample[] }; error?: string };
  };

  const util = prometheusName(METRICS.utilization);
  const sample = await poll(
    `${util} of map ${made.id}`,
    async () => {
      const r = await query(`${util}{ebpf_map_id="${made.id}"}`);
      return r.status === 'success' && r.data.result.length > 0 ? r.data.result : undefined;
    },
    90_000,
    stderr,
  );
  t.equal(sample.length, 1, 'one series for the map');
  const truth = bpftoolMap(made.id);
  const entries = bpftoolDumpCount(made.id);
  t.equal(Number(sample[0]!.value[1]), entries / truth.max_entries, `utilization = ${entries}/${truth.max_entries} as the kernel holds it`);
  t.equal(sample[0]!.metric.ebpf_map_name, 'prom_scrape_a');
  t.equal(sample[0]!.metric.ebpf_map_type, truth.type);
  t.equal(sample[0]!.metric.job, 'ebpf-map-pressure');

  const ent = await query(`${prometheusName(METRICS.entries)}{ebpf_map_id="${made.id}"}`);
  t.equal(Number(ent.data.result[0]?.value[1]), entries, 'entries');
  const mem = await query(`${prometheusName(METRICS.memory)}{ebpf_map_id="${made.id}"}`);
  t.equal(Number(mem.data.result[0]?.value[1]), truth.bytes_memlock, "memory = bpftool's memlock");
  const level = await poll(
    'alert level of the map',
    async () => {
      const r = await query(`${prometheusName(METRICS.alertLevel)}{ebpf_map_id="${made.id}"}`);
      return r.data.result[0] ? Number(r.data.result[0].value[1]) : undefined;
    },
    30_000,
    stderr,
  );
  t.equal(level, 1, '48/64 = 0.75: level warning (1) through the real endpoint');

  // The project's rules, loaded by this server from deploy/prometheus/rules.yml, evaluate.
  const rules = await poll(
    'rules evaluated',
    async () => {
      const r = (await (await fetch(`${api}/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string; lastEvaluation: string }> }> } };
      const all = r.data.groups.flatMap((g) => g.rules);
      return all.length > 0 && all.every((x) => !x.lastEvaluation.startsWith('0001')) ? all : undefined;
    },
    30_000,
    stderr,
  );
  const declared = (YAML.parse(readFileSync(path.join(ROOT, 'deploy/prometheus/rules.yml'), 'utf8')) as { groups: Array<{ rules: unknown[] }> }).groups.flatMap((g) => g.rules);
  t.equal(rules.length, declared.length, `all ${declared.length} rules of rules.yml loaded`);
  for (const r of rules) t.equal(r.health, 'ok', `rule ${r.name} evaluates`);
  const pending = await poll(
    'EbpfMapPressureWarning pending for the map',
    async () => {
      const r = (await (await fetch(`${api}/alerts`)).json()) as { data: { alerts: Array<{ labels: Record<string, string>; state: string }> } };
      return r.data.alerts.find((a) => a.labels.alertname === 'EbpfMapPressureWarning' && a.labels.ebpf_map_id === String(made.id));
    },
    30_000,
    stderr,
  );
  t.equal(pending.state, 'pending', 'the warning rule matches the 75% map (pending: it needs 5 minutes to fire)');

  // Every dashboard query, as Grafana would send it, is valid PromQL to this server.
  const dashboard = JSON.parse(readFileSync(path.join(ROOT, 'deploy/grafana/dashboards/ebpf-map-pressure.json'), 'utf8')) as {
    panels: Array<{ title: string; targets?: Array<{ refId: string; expr: string }> }>;
  };
  for (const p of dashboard.panels) {
    for (const q of p.targets ?? []) {
      const r = await query(expandGrafana(q.expr));
      t.equal(r.status, 'success', `panel "${p.title}" ${q.refId}: ${r.error ?? 'ok'}`);
    }
  }
  // The README's PromQL examples (code spans that combine metrics with an operator), as
  // written: valid, and each returns the map this test filled (series of one map carry the
  // same labels, so `ebpf_map_entries / ebpf_map_max_entries` needs no on() or ignoring()).
  const examples = readmeQueries(readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  t.ok(examples.length >= 2, `the README's PromQL examples found (${examples.join('; ')})`);
  for (const q of examples) {
    const r = await query(q);
    t.equal(r.status, 'success', `README: ${q}: ${r.error ?? 'ok'}`);
    t.ok(r.data.result.some((x) => x.metric.ebpf_map_id === String(made.id)), `README: ${q} returns the filled map`);
  }

  const overview = await query(expandGrafana(dashboard.panels.find((p) => p.title.startsWith('Utilization'))!.targets![0]!.expr));
  // The panel is a top 20: other tests' fuller maps may push ours out, but never a less full one.
  const ours = inserted / 64;
  const shown = overview.data.result.some((s) => s.metric.ebpf_map_id === String(made.id));
  const crowdedOut = overview.data.result.length === 20 && overview.data.result.every((s) => Number(s.value[1]) >= ours);
  t.ok(shown || crowdedOut, 'the utilization panel shows the filled map, or 20 maps at least as full');

  await agent.stop();
  prom.kill('SIGTERM');
  t.equal(await promExit, 0, 'Prometheus shuts down cleanly');
});
