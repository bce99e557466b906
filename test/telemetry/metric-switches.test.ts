// SPDX-License-Identifier: Apache-2.0
// metrics.<name>.enabled on a real agent and real maps: with metrics switched off (from a file,
// the environment and flags) neither the OTLP export (decoded by a receiver on loopback) nor
// the Prometheus endpoint carries them, while every other metric is still there; switched back
// on they come back (in process: what a reload does; as a process: SIGHUP and a new file).
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { METRICS, type MetricSpec, prometheusName } from '../../src/metrics/table';
import { type InProcessAgent, startAgent, startAgentProcess } from '../helpers/agent-process';
import { scrape } from '../helpers/exposition';
import { createMap, fill } from '../helpers/kernel';
import { freePort, pointsOf, type Received, type Receiver, startGrpcReceiver } from '../helpers/otlp-receiver';
import { sleep } from '../helpers/wait';

/** A collection and its export now; what the receiver got for it (parts merged). */
async function exportNow(a: InProcessAgent, rx: Receiver): Promise<Received> {
  await a.agent.telemetry!.flush();
  const before = rx.requests.length;
  await a.agent.collectNow();
  await a.agent.telemetry!.flush();
  const parts = rx.requests.slice(before);
  if (parts.length === 0) throw new Error('the export reached no receiver');
  return { ...parts[0]!, points: parts.flatMap((p) => p.points) };
}

const OFF: readonly MetricSpec[] = [METRICS.memory, METRICS.owner, METRICS.count, METRICS.collections];
const STILL_ON: readonly MetricSpec[] = [METRICS.entries, METRICS.maxEntries, METRICS.utilization, METRICS.collectionDuration, METRICS.mapsSeen, METRICS.iteratorRead];

t.test('switched off from a file, env and flags: gone from OTLP and Prometheus, the rest still there; back on, back', async (t) => {
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64, name: 'm3_sw_hash' });
  fill(m, 4, 8, 10);
  const dir = t.testdir({
    'agent.yaml': 'metrics:\n  ebpf.map.memory:\n    enabled: false\n  ebpf_map_pressure.collections:\n    enabled: false\n',
  });
  const rx = await startGrpcReceiver(t);
  const port = await freePort();
  const a = await startAgent(
    t,
    ['--interval=1h', '--exporters=otlp,prometheus', `--otlp.endpoint=${rx.endpoint}`, `--prometheus.port=${port}`, '--metrics.ebpf.map.owner.enabled=false'],
    { file: path.join(dir, 'agent.yaml'), env: { EMP_METRICS_EBPF_MAP_COUNT_ENABLED: 'false' } },
  );
  t.same(OFF.filter((s) => a.config.metrics[s.name]), [], 'the configuration has them off');

  // Two collections: owners come with the pass after a map's first one.
  await exportNow(a, rx);
  const got = await exportNow(a, rx);
  const s = await scrape(port);
  const exposed = new Set(s.types.keys());
  t.same(pointsOf(got, METRICS.entries.name, m.id).map((p) => p.value), [10], 'OTLP: the map\'s entries');
  for (const spec of OFF) {
    t.same(pointsOf(got, spec.name), [], `OTLP: no ${spec.name}`);
    t.notOk(exposed.has(prometheusName(spec)), `Prometheus: no ${prometheusName(spec)}`);
  }
  for (const spec of STILL_ON) {
    t.ok(pointsOf(got, spec.name).length > 0, `OTLP: ${spec.name} still`);
    t.ok(exposed.has(prometheusName(spec)), `Prometheus: ${prometheusName(spec)} still`);
  }
  t.ok(s.samples.some((x) => x.name === prometheusName(METRICS.entries) && x.labels.ebpf_map_id === String(m.id) && x.value === 10), 'Prometheus: the map\'s entries');

  // What a reload does (src/cli/run.ts): the agent's selection set, the next export follows.
  a.agent.metrics.set({});
  const back = await exportNow(a, rx);
  const exposedBack = new Set((await scrape(port)).types.keys());
  for (const spec of OFF) {
    t.ok(pointsOf(back, spec.name).length > 0, `OTLP, back on: ${spec.name}`);
    t.ok(exposedBack.has(prometheusName(spec)), `Prometheus, back on: ${prometheusName(spec)}`);
  }
});

t.test('the agent as a process: SIGHUP with a new file switches ebpf.map.entries back on and ebpf.map.memory off', async (t) => {
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 32, name: 'm3_sw_reload' });
  fill(m, 4, 8, 5);
  const port = await freePort();
  const dir = t.testdir({});
  const file = path.join(dir, 'agent.yaml');
  const write = (off: string) =>
    writeFileSync(file, `interval: 300ms\nexporters: [prometheus]\nprometheus:\n  port: ${port}\nfilter:\n  include_names: [m3_sw_reload]\nmetrics:\n  ${off}:\n    enabled: false\n`);
  write(METRICS.entries.name);
  const a = startAgentProcess(t, ['run', '--config', file]);
  await a.waitForLog((l) => l.message === 'agent started', 'agent started');
  const names = async () => new Set((await scrape(port)).samples.filter((x) => x.labels.ebpf_map_id === String(m.id)).map((x) => x.name));
  const before = await names();
  t.notOk(before.has(prometheusName(METRICS.entries)), 'entries off');
  t.ok(before.has(prometheusName(METRICS.maxEntries)) && before.has(prometheusName(METRICS.memory)), 'max_entries and memory on');

  write(METRICS.memory.name);
  a.child.kill('SIGHUP');
  const line = await a.waitForLog((l) => l.message === 'configuration reloaded', 'the reload line');
  t.equal(line.fields.applied, 'metrics.ebpf.map.entries.enabled=true metrics.ebpf.map.memory.enabled=false', 'both switches applied, named');
  t.notOk(line.fields.restart_needed, 'nothing needs a restart');
  // A scrape serves the latest collection's rendering: poll until one after the reload.
  let after = await names();
  for (const deadline = Date.now() + 10_000; !after.has(prometheusName(METRICS.entries)) && Date.now() < deadline; after = await names()) await sleep(100);
  t.ok(after.has(prometheusName(METRICS.entries)), 'entries back at a later collection');
  t.notOk(after.has(prometheusName(METRICS.memory)), 'memory gone');
  t.ok(after.has(prometheusName(METRICS.maxEntries)), 'max_entries still');
  const { code } = await a.stop('SIGTERM');
  t.equal(code, 0, 'a clean stop');
});
