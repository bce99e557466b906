// SPDX-License-Identifier: Apache-2.0
// The CLI agent as a process: one warning when the collector is unreachable and one line when
// it recovers, alive all along; SIGTERM and SIGINT bring a final collection and flush to the
// collector and exit 0; --print-config and the logs never show OTLP headers.
import * as net from 'node:net';
import t from 'tap';
import { ATTR, METRICS } from '../../src/metrics/table';
import { type LogLine, runCli, startAgentProcess } from '../helpers/agent-process';
import { bpftoolDumpCount, createMap, fill } from '../helpers/kernel';
import { freePort, pointsOf, startGrpcReceiver } from '../helpers/otlp-receiver';

const SECRET = 's3cr3t-token-value';
const isCode = (code: string) => (l: LogLine) => l.fields.code === code;
/** service.instance.id of each signal test's run, compared at the end. */
const instanceIds: string[] = [];

t.test('collector unreachable: one warning naming the endpoint, one recovery line, alive throughout', async (t) => {
  const port = await freePort(); // nothing listens here until the receiver starts below
  const endpoint = `http://127.0.0.1:${port}`;
  // All by the standard variables this time.
  const agent = startAgentProcess(t, ['run'], {
    OTEL_METRIC_EXPORT_INTERVAL: '1000',
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${SECRET}`,
    OTEL_LOG_LEVEL: 'debug',
  });
  await agent.waitForLog((l) => l.message === 'agent started', 'agent started');
  const warning = await agent.waitForLog((l) => l.level === 'warn' && isCode('EMP_EXPORT_FAILED')(l), 'EMP_EXPORT_FAILED');
  t.match(warning.fields.exporter, `127.0.0.1:${port}`, 'the warning names the endpoint');
  t.ok(warning.fields.hint, 'with a hint');

  // Three more failed exports (debug lines), and still only that one warning.
  for (let n = 1; n <= 3; n++) {
    await agent.waitForLog(() => agent.logs().filter((l) => l.level === 'debug' && isCode('EMP_EXPORT_FAILED')(l)).length >= n, `failed export #${n + 1}`);
  }
  t.equal(agent.child.exitCode, null, 'the process stays up while the exporter is down');
  t.equal(agent.logs().filter((l) => l.level === 'warn' && isCode('EMP_EXPORT_FAILED')(l)).length, 1, 'one warning for the whole outage');

  // The collector comes up on that port: one line says so, and metrics arrive.
  const rx = await startGrpcReceiver(t, { port });
  const recovered = await agent.waitForLog((l) => l.message === 'exporter recovered', 'exporter recovered');
  t.equal(recovered.level, 'info');
  t.match(recovered.fields.exporter, `127.0.0.1:${port}`, 'the recovery line names the endpoint');
  await rx.waitFor((r) => pointsOf(r, METRICS.maxEntries.name).length > 0, 'with per-map series');
  t.equal(rx.requests[0]?.headers.authorization, `Bearer ${SECRET}`, 'the header arrives');
  // A few more intervals: delivered, and no further warning or recovery line.
  const delivered = rx.requests.length;
  await rx.waitFor(() => rx.requests.length >= delivered + 2, 'two more exports');
  t.equal(agent.logs().filter((l) => l.message === 'exporter recovered').length, 1, 'one recovery line');
  // (Other warnings, e.g. pressure on maps other tests fill, are not about exporting.)
  t.equal(agent.logs().filter((l) => l.level === 'warn' && isCode('EMP_EXPORT_FAILED')(l)).length, 1, 'still one export warning in all');

  const { code } = await agent.stop('SIGTERM');
  t.equal(code, 0, 'exits 0 on SIGTERM');
  t.notOk(agent.stderr.join('\n').includes(SECRET), 'the header value is never logged (debug level included)');
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal}: a final collection and flush reach the collector, then exit 0`, async (t) => {
    const rx = await startGrpcReceiver(t);
    // An hour's interval: the start's collection is exported, then nothing until the signal.
    const agent = startAgentProcess(t, ['run', '--interval=1h', `--otlp.endpoint=${rx.endpoint}`]);
    await agent.waitForLog((l) => l.message === 'agent started', 'agent started');
    // Created after the agent's first collection: only a collection at stop can see it.
    const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16, name: `sig_${signal.slice(3).toLowerCase()}` });
    fill(m, 4, 8, 5);
    await rx.waitFor(() => true, "the start's export");
    t.equal(rx.requests.flatMap((r) => pointsOf(r, METRICS.entries.name, m.id)).length, 0, "the start's export predates the map");

    const { code, signal: killedBy } = await agent.stop(signal);
    // run.ts exits 1 if stopping takes longer than its deadline (10 s), so 0 also says "in time".
    t.equal(code, 0, 'exit code 0');
    t.equal(killedBy, null, 'exited, not killed by the signal');
    t.ok(agent.logs().some((l) => l.message.startsWith('stopping') && l.fields.signal === signal), 'logs the signal');
    t.ok(agent.logs().some((l) => l.message === 'stopped'), 'logs stopped');

    t.ok(rx.requests.length >= 1, 'the flush reached the collector');
    const entries = rx.requests.flatMap((r) => pointsOf(r, METRICS.entries.name, m.id));
    t.equal(entries.length, 1, 'the map created after start is in the final export');
    t.equal(entries[0]?.value, bpftoolDumpCount(m.id), 'with its entries');
    const count = rx.requests.flatMap((r) => pointsOf(r, METRICS.count.name)).find((p) => p.attributes[ATTR.type] === 'hash');
    t.ok(count && count.value >= 1, 'the final export carries the Meter instruments too (ebpf.map.count)');
    instanceIds.push(String(rx.requests[0]?.resource['service.instance.id']));
  });
}

t.test('SIGTERM with a collector that accepts and never answers: still exit 0, in time', async (t) => {
  // A hung collector: TCP connections are accepted and then nothing is ever said.
  const sockets = new Set<net.Socket>();
  const hung = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    hung.close();
  });
  const port = (hung.address() as net.AddressInfo).port;
  const agent = startAgentProcess(t, ['run', '--interval=1h', `--otlp.endpoint=http://127.0.0.1:${port}`, '--otlp.timeout=30s']);
  await agent.waitForLog((l) => l.message === 'agent started', 'agent started');
  const { code } = await agent.stop('SIGTERM');
  // run.ts gives up with exit 1 after its deadline: 0 says the flush was bounded in time.
  t.equal(code, 0, 'exit code 0');
  t.ok(agent.logs().some((l) => l.level === 'warn' && isCode('EMP_EXPORT_FAILED')(l)), 'a warning says the final export did not get through');
  t.ok(agent.logs().some((l) => l.message === 'stopped'), 'stopped');
});

t.test('service.instance.id is the same across runs', async (t) => {
  t.equal(instanceIds.length, 2, 'two runs exported');
  t.equal(new Set(instanceIds).size, 1, `one id: ${instanceIds.join(', ')}`);
  t.match(instanceIds[0], /^[0-9a-f-]{36}$/);
});

t.test('--print-config redacts headers from env, file and flags', async (t) => {
  const dir = t.testdir({ 'agent.json': JSON.stringify({ otlp: { headers: { 'x-file-key': `${SECRET}-file` } } }) });
  const cases: Array<{ label: string; args: string[]; env: Record<string, string>; names: string[] }> = [
    { label: 'env', args: [], env: { OTEL_EXPORTER_OTLP_HEADERS: `x-api-key=${SECRET},x-tenant=${SECRET}-2` }, names: ['x-api-key', 'x-tenant'] },
    { label: 'METRICS_ env', args: [], env: { OTEL_EXPORTER_OTLP_METRICS_HEADERS: `authorization=Bearer%20${SECRET}` }, names: ['authorization'] },
    { label: 'file', args: ['--config', `${dir}/agent.json`], env: {}, names: ['x-file-key'] },
    { label: 'flag', args: [`--otlp.headers=x-flag-key=${SECRET}`], env: {}, names: ['x-flag-key'] },
  ];
  for (const c of cases) {
    const out = await runCli(t, ['--print-config', ...c.args], c.env);
    t.equal(out.code, 0, `${c.label}: exit 0`);
    t.notOk(`${out.stdout}\n${out.stderr}`.includes(SECRET), `${c.label}: the secret is not printed`);
    const printed = JSON.parse(out.stdout) as { otlp: { headers: Record<string, string> } };
    t.same(printed.otlp.headers, Object.fromEntries(c.names.map((n) => [n, '[redacted]'])), `${c.label}: header names shown, values redacted`);
  }
  const withPassword = await runCli(t, ['--print-config', `--otlp.endpoint=http://user:${SECRET}@127.0.0.1:4317`]);
  t.notOk(withPassword.stdout.includes(SECRET), 'a password in the endpoint URL is redacted');
});
