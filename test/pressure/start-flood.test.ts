// SPDX-License-Identifier: Apache-2.0
// No floods, counted on the real kernel: an agent starting on 10,000 real maps of which 2,500
// are past a threshold writes fewer than 30 log lines and sends one notification per URL; a
// collection in which 700 maps turn critical logs at most pressure.max_transition_lines lines
// and one more, and sends one notification per URL; and a start that fails (its Prometheus
// port taken) logs no transition and sends nothing, however full the maps are.
import * as net from 'node:net';
import t from 'tap';
import { parseLogLine, runCli, startAgent, type LogLine } from '../helpers/agent-process';
import { startSink } from '../helpers/http-sinks';
import { mapOps } from '../helpers/kernel';

const MAPS = 10_000;
const WARNING = 1500; // 3 of 4 entries: 75 %
const CRITICAL = 1000; // 4 of 4: full
const MAX = 4;

/** Real hash maps prs_st_0 .. prs_st_<n-1>, max_entries 4, all closed at test end. */
function createMaps(t: { teardown(fn: () => void): void }, prefix: string, n: number): number[] {
  const ops = mapOps();
  const fds: number[] = [];
  t.teardown(() => {
    for (const fd of fds.splice(0)) ops.close(fd);
  });
  for (let i = 0; i < n; i++) fds.push(ops.createMap({ type: 1 /* hash */, keySize: 4, valueSize: 8, maxEntries: MAX, flags: 0, name: `${prefix}${i}` }));
  return fds;
}

const until = async (what: string, cond: () => boolean, timeoutMs = 60_000) => {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

interface Notification {
  event: string;
  transitions: Array<{ map: { name: string }; from: string | null; to: string }>;
  more: number;
  counts: Record<string, number>;
}

t.test('a start on 10,000 maps, 2,500 past a threshold: < 30 log lines, one notification per URL; a flood of transitions stays bounded', async (t) => {
  const fds = createMaps(t, 'prs_st_', MAPS);
  const ops = mapOps();
  for (let i = 0; i < WARNING + CRITICAL; i++) ops.fill(fds[i]!, 4, 8, 0, i < WARNING ? 3 : 4);
  const a = await startSink(t, 'ok', 'a');
  const b = await startSink(t, 'ok', 'b');

  const { agent, lines } = await startAgent(t, ['--exporters=none', '--interval=1s', '--filter.include-names=prs_st_*', `--webhook.urls=${a.url},${b.url}`]);
  const logs = () => lines.map(parseLogLine).filter((l): l is LogLine => l !== null);
  let collections = 0;
  agent.onCollection(() => collections++);
  await until('three more collections', () => collections >= 3);
  await agent.pressure.notifier.idle();

  t.ok(lines.length < 30, `${lines.length} log lines at start:\n${lines.join('\n')}`);
  t.equal(logs().filter((l) => l.message.startsWith('map pressure')).length, 0, 'no transition line for the maps found past a threshold');
  const start = logs().find((l) => l.message === 'pressure at start');
  t.match(start?.fields, { maps: String(MAPS), warning: String(WARNING), critical: String(CRITICAL), normal: String(MAPS - WARNING - CRITICAL), off: '0' }, 'one line: maps per level');
  t.equal(start?.fields.fullest?.split(', ').length, 10, 'and the fullest ten');
  t.equal(start?.level, 'warn');

  for (const sink of [a, b]) {
    t.equal(sink.requests.length, 1, 'one notification per URL');
    const n = sink.requests[0]!.json as Notification;
    t.equal(n.event, 'start');
    t.equal(n.transitions.length, 20, 'listing webhook.max_maps maps');
    t.equal(n.more, WARNING + CRITICAL - 20, 'and counting the rest');
    t.same(new Set(n.transitions.map((x) => x.to)), new Set(['critical']), 'the critical ones first');
    t.match(n.counts, { warning: WARNING, critical: CRITICAL });
  }

  // 700 quiet maps turn critical at once.
  const before = lines.length;
  const seenBefore = collections;
  for (let i = WARNING + CRITICAL; i < WARNING + CRITICAL + 700; i++) ops.fill(fds[i]!, 4, 8, 0, 4);
  await until('the 700 transitions to be logged', () => {
    const after = logs().slice(before);
    const one = after.filter((l) => l.message.startsWith('map pressure ')).length;
    const more = after.filter((l) => l.message.startsWith('map pressure: ')).reduce((s, l) => s + Number(l.fields.more), 0);
    return one + more >= 700;
  });
  const seenAfter = collections;
  await agent.pressure.notifier.idle();
  const changed = logs().slice(before).filter((l) => l.message.startsWith('map pressure'));
  // Each collection with transitions sends one notification per URL (none of these maps was
  // critical before, so no cooldown holds one back): they count the collections.
  const notes = (sink: typeof a) => sink.requests.slice(1).map((r) => r.json as Notification);
  const k = notes(a).length;
  t.ok(k >= 1 && k <= seenAfter - seenBefore, `${k} collection(s) with transitions, ${seenAfter - seenBefore} in all`);
  t.ok(changed.length <= 11 * k, `${changed.length} lines for 700 transitions: at most max_transition_lines (10) + 1 a collection`);
  for (const sink of [a, b]) {
    const change = notes(sink);
    t.equal(change.length, k, 'one notification per URL and collection');
    t.equal(change.reduce((s, n) => s + n.transitions.length + n.more, 0), 700, 'covering all 700');
    t.ok(change.every((n) => n.event === 'change' && n.transitions.length <= 20 && n.transitions.every((x) => x.from === 'normal' && x.to === 'critical')));
  }
});

/** A loopback port in 48000–48999 held by this process. */
async function holdPort(t: { teardown(fn: () => void): void }): Promise<number> {
  for (let port = 48_100; port < 48_999; port++) {
    const server = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      t.teardown(() => server.close());
      return port;
    }
  }
  throw new Error('no free port in 48100-48999');
}

t.test('a failed start (the Prometheus port taken) logs no transition and sends nothing, attempt after attempt', async (t) => {
  const fds = createMaps(t, 'prs_fail_', 3);
  mapOps().fill(fds[0]!, 4, 8, 0, 4); // full: critical
  mapOps().fill(fds[1]!, 4, 8, 0, 3); // warning
  const sink = await startSink(t, 'ok', 'pager');
  const port = await holdPort(t);
  const args = ['run', '--exporters=prometheus', `--prometheus.port=${port}`, '--health.enabled=false', '--filter.include-names=prs_fail_*', `--webhook.urls=${sink.url}`];
  // What a supervisor restarting the unit would see: every attempt the same.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const r = await runCli(t, args);
    t.not(r.code, 0, `attempt ${attempt} fails`);
    t.match(r.stderr, /EMP_PORT_IN_USE/, 'naming the port');
    const lines = r.stderr.split('\n').map(parseLogLine).filter((l): l is LogLine => l !== null);
    t.same(lines.filter((l) => l.message.startsWith('map pressure') || l.message === 'pressure at start').map((l) => l.raw), [], 'no pressure line');
  }
  t.equal(sink.requests.length, 0, 'and no page');

  // The same maps, the port free: one start notification.
  const ok = await startAgent(t, ['--exporters=none', '--filter.include-names=prs_fail_*', `--webhook.urls=${sink.url}`, '--interval=1h']);
  await ok.agent.pressure.notifier.idle();
  t.equal(sink.requests.length, 1, 'a start that succeeds sends one');
  t.same((sink.requests[0]!.json as Notification).transitions.map((x) => x.to), ['critical', 'warning']);
});
