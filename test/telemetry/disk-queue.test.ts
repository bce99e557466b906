// SPDX-License-Identifier: Apache-2.0
// The disk queue with the real agent: killed (SIGKILL) or stopped (SIGTERM) while the
// collector is down, then started again, it delivers every collection it had queued, each
// once; an unusable export.queue.dir stops the start with EMP_QUEUE_DIR, exit 2; a disk that
// fills while the agent runs is one warning, and the rest waits in memory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { METRICS } from '../../src/metrics/table';
import { runCli, startAgent, startAgentProcess } from '../helpers/agent-process';
import { createMap, fill } from '../helpers/kernel';
import { type Receiver, startGrpcReceiver } from '../helpers/otlp-receiver';
import { sleep, until } from '../helpers/wait';


/** How often each collection time (ms) of the map arrived. */
function arrivals(rx: Receiver, id: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of rx.requests)
    for (const p of r.points)
      if (p.metric === METRICS.maxEntries.name && p.attributes['ebpf.map.id'] === id) {
        const ms = Math.round(p.timeUnixNano / 1e6);
        out.set(ms, (out.get(ms) ?? 0) + 1);
      }
  return out;
}

/** A tmpfs mounted for the test (root), outside its testdir; unmounted and removed at its end. */
function tmpfs(t: Test, options: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'exp-queue-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  t.teardown(() => {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  t.test(`${signal} during an outage, then a restart: every queued collection is delivered, once`, async (t) => {
    const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 32, name: 'exp_dq_kill' });
    fill(m, 4, 8, 3);
    const dir = path.join(t.testdir(), 'queue');
    const port = signal === 'SIGKILL' ? 47121 : 47122;
    const args = ['run', '--interval=500ms', '--log.level=debug', `--otlp.endpoint=http://127.0.0.1:${port}`, `--export.queue.dir=${dir}`, '--filter.include-names=exp_dq_kill', '--export.retry.initial-backoff=100ms', '--export.retry.max-backoff=200ms'];
    const first = startAgentProcess(t, args);
    const queued = () => first.logs().filter((l) => l.message === 'export queued').map((l) => Number(l.fields.collected_at));
    await until(() => queued().length >= 6, 60_000, 'six collections queued');
    await first.waitForLog((l) => l.fields.code === 'EMP_EXPORT_FAILED', 'the outage noticed');
    const exit = await first.stop(signal);
    t.equal(exit.signal ?? exit.code, signal === 'SIGKILL' ? 'SIGKILL' : 0, `the first agent ended by ${signal}`);
    const times = queued();

    const rx = await startGrpcReceiver(t, { port });
    const second = startAgentProcess(t, args);
    await second.waitForLog((l) => l.message === 'export queue recovered from disk', 'the queue recovered');
    await until(() => times.every((x) => arrivals(rx, m.id).has(x)), 60_000, 'every queued collection delivered');
    await second.stop('SIGTERM');
    const got = arrivals(rx, m.id);
    t.ok(times.length >= 6, `${times.length} collections queued by the first agent`);
    t.same(times.filter((x) => got.get(x) !== 1), [], 'each queued collection arrived exactly once');
    const order = [...got.keys()];
    t.same(order, [...order].sort((a, b) => a - b), 'in collection order');
    t.notOk(second.logs().some((l) => l.fields.code === 'EMP_QUEUE_CORRUPT'), 'nothing torn');
  });
}

t.test('an unusable export.queue.dir is EMP_QUEUE_DIR at start, exit 2', async (t) => {
  const base = t.testdir({ 'a-file': 'x' });
  const ro = tmpfs(t, 'ro,size=64k');
  for (const [what, dir] of [
    ['a file where the directory should be', path.join(base, 'a-file')],
    ['a read-only file system', ro],
    ['a directory that cannot be made on a read-only file system', path.join(ro, 'queue')],
  ] as const) {
    const r = await runCli(t, ['run', '--interval=1h', `--export.queue.dir=${dir}`]);
    t.equal(r.code, 2, `${what}: exit 2`);
    t.match(r.stderr, /EMP_QUEUE_DIR/, `${what}: the code`);
    t.match(r.stderr, /export\.queue\.dir/, `${what}: names the key`);
  }
});

t.test('a disk that fills while the agent runs: one warning, the rest queues in memory, all delivered', async (t) => {
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 32, name: 'exp_dq_full' });
  const dir = tmpfs(t, 'size=48k');
  writeFileSync(path.join(dir, 'ballast'), Buffer.alloc(8192));
  const port = 47123;
  const a = await startAgent(t, ['--interval=250ms', `--otlp.endpoint=http://127.0.0.1:${port}`, `--export.queue.dir=${dir}`, '--filter.include-names=exp_dq_full', '--export.retry.initial-backoff=100ms', '--export.retry.max-backoff=200ms']);
  const times = [a.agent.latest()!.time];
  a.agent.onCollection((c) => times.push(c.time));
  await until(() => a.lines.some((l) => l.includes('code=EMP_QUEUE_DISK')), 60_000, 'the disk filled');
  await sleep(1000);
  t.ok(a.agent.telemetry!.delivery!.stats().memoryBytes > 0, 'requests wait in memory');
  t.ok(a.agent.telemetry!.delivery!.stats().diskBytes > 0, 'and on disk');
  const rx = await startGrpcReceiver(t, { port });
  const made = times.slice();
  await until(() => made.every((x) => arrivals(rx, m.id).has(x)), 60_000, 'every collection delivered');
  const got = arrivals(rx, m.id);
  t.same(made.filter((x) => got.get(x) !== 1), [], `all ${made.length} collections arrived, each once`);
  t.same([...got.keys()].slice(0, made.length), made, 'in collection order');
  t.equal(a.lines.filter((l) => l.includes('code=EMP_QUEUE_DISK')).length, 1, 'one warning');
});
