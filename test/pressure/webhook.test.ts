// SPDX-License-Identifier: Apache-2.0
// The webhook notifier against loopback HTTP servers: payloads, cooldown, retries with
// backoff, timeouts, refused connections, the bounded queue, telling the operator once, and
// URL secrets never logged.
import t from 'tap';
import { createLogger } from '../../src/log';
import type { Level } from '../../src/pressure/levels';
import type { Transition } from '../../src/pressure/tracker';
import { slackEscape, WebhookNotifier, type WebhookSettings } from '../../src/pressure/webhook';
import { parseLogLine, type LogLine } from '../helpers/agent-process';
import { refusingUrl, SECRET, startSink } from '../helpers/http-sinks';

const T0 = 1_700_000_000_000;

function transition(id: number, from: Level, to: Level, over: { name?: string; time?: number } = {}): Transition {
  return {
    from,
    to,
    time: over.time ?? T0,
    map: {
      id, name: over.name ?? `m${id}`, type: 'hash', fill: 850, maxEntries: 1000, utilization: 0.85, level: to,
      thresholds: { warning: 0.7, critical: 0.8 }, growthPerS: 2.5, timeToFullS: 60,
    },
  };
}

const BASE: WebhookSettings = { urls: [], format: 'generic', cooldownMs: 600_000, timeoutMs: 2000, retries: 2, backoffMs: 20, queueSize: 100 };

function notifier(t: { teardown(fn: () => unknown): void }, over: Partial<WebhookSettings>) {
  const raw: string[] = [];
  const n = new WebhookNotifier({ ...BASE, ...over }, createLogger('debug', (l) => raw.push(l)), { host: 'host-1' });
  t.teardown(() => n.close(0));
  const logs = () => raw.map(parseLogLine).filter((l): l is LogLine => l !== null);
  const warned = (message: RegExp) => logs().filter((l) => message.test(l.message));
  return { n, raw, logs, warned };
}

t.test('generic payload: every field, as JSON', async (t) => {
  const sink = await startSink(t, 'ok');
  const { n } = notifier(t, { urls: [sink.url] });
  t.ok(n.notify(transition(42, 'warning', 'critical')));
  await sink.waitFor(1);
  const r = sink.requests[0]!;
  t.equal(r.method, 'POST');
  t.equal(r.headers['content-type'], 'application/json');
  t.same(r.json, {
    source: 'ebpf-map-pressure',
    host: 'host-1',
    time: new Date(T0).toISOString(),
    map: { id: 42, name: 'm42', type: 'hash' },
    owner: null,
    from: 'warning',
    to: 'critical',
    entries: 850,
    max_entries: 1000,
    utilization: 0.85,
    growth_per_s: 2.5,
    time_to_full_s: 60,
    text: 'eBPF map m42 (id 42, hash) warning -> critical: 850/1000 (85.0%), growing +2.5/s, full in ~60 s',
  });
});

t.test('Slack payload: text with the forecast; &, <, > escaped', async (t) => {
  const sink = await startSink(t, 'ok');
  const { n } = notifier(t, { urls: [sink.url], format: 'slack' });
  n.notify(transition(9, 'normal', 'warning', { name: 'a<b>&`c' }));
  await sink.waitFor(1);
  const body = sink.requests[0]!.json as { text: string };
  t.same(Object.keys(body), ['text']);
  t.equal(body.text, ":warning: *warning* eBPF map `a&lt;b&gt;&amp;'c` (id 9, hash) on host-1: normal -> warning, 850/1000 (85.0%), full in ~60 s");
  t.equal(slackEscape('<!channel>'), '&lt;!channel&gt;', 'no mention can be smuggled in a name');
});

t.test('cooldown: the same level of the same map once per cooldown; other levels and maps go', async (t) => {
  const sink = await startSink(t, 'ok');
  const { n } = notifier(t, { urls: [sink.url], cooldownMs: 60_000 });
  const sent = [
    n.notify(transition(1, 'normal', 'warning', { time: T0 })),
    n.notify(transition(1, 'warning', 'critical', { time: T0 + 1000 })),
    n.notify(transition(1, 'critical', 'warning', { time: T0 + 2000 })), // warning again within 60 s
    n.notify(transition(1, 'warning', 'critical', { time: T0 + 3000 })), // critical again
    n.notify(transition(2, 'normal', 'warning', { time: T0 + 3000 })), // another map
    n.notify(transition(1, 'critical', 'warning', { time: T0 + 61_000 })), // cooldown over
  ];
  t.same(sent, [true, true, false, false, true, true]);
  await sink.waitFor(4);
  await n.idle();
  t.same(sink.requests.map((r) => { const j = r.json as { map: { id: number }; to: string }; return `${j.map.id}:${j.to}`; }), ['1:warning', '1:critical', '2:warning', '1:warning']);
});

t.test('cooldown 0 sends every transition', async (t) => {
  const sink = await startSink(t, 'ok');
  const { n } = notifier(t, { urls: [sink.url], cooldownMs: 0 });
  for (let i = 0; i < 3; i++) t.ok(n.notify(transition(1, 'normal', 'warning')));
  await sink.waitFor(3);
});

t.test('HTTP 500: bounded retries, then one warning; one recovery line when it answers again', async (t) => {
  const sink = await startSink(t, 'error');
  const { n, warned, raw } = notifier(t, { urls: [sink.url], retries: 2 });
  n.notify(transition(1, 'normal', 'warning'));
  await sink.waitFor(3);
  await n.idle();
  t.equal(sink.requests.length, 3, 'one attempt and two retries');
  n.notify(transition(2, 'normal', 'warning'));
  n.notify(transition(3, 'normal', 'warning'));
  await sink.waitFor(9);
  await n.idle();
  const failing = warned(/^webhook delivery failing/);
  t.equal(failing.length, 1, 'the operator is told once');
  t.match(failing[0]?.fields, { error: 'HTTP 500', attempts: '3' });
  t.equal(failing[0]?.level, 'warn');
  sink.mode = 'ok';
  n.notify(transition(4, 'normal', 'warning'));
  await sink.waitFor(10);
  await n.idle();
  const recovered = warned(/^webhook recovered/);
  t.equal(recovered.length, 1, 'and once when it recovers');
  t.equal(recovered[0]?.fields.lost, '3', 'with how many were lost');
  t.same(n.stats().map((s) => [s.sent, s.failed, s.failing]), [[1, 3, false]]);
  for (const l of raw) t.notOk(l.includes(SECRET) || l.includes('/services/'), `no secret in: ${l}`);
});

t.test('a client error (404) is not retried', async (t) => {
  const http = await import('node:http');
  let hits = 0;
  const server = http.createServer((_req, res) => {
    hits++;
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as import('node:net').AddressInfo).port;
  const { n, warned } = notifier(t, { urls: [`http://127.0.0.1:${port}/x/${SECRET}`], retries: 3 });
  n.notify(transition(1, 'normal', 'warning'));
  await n.idle();
  t.equal(hits, 1, 'one attempt');
  t.match(warned(/^webhook delivery failing/)[0]?.fields, { error: 'HTTP 404' });
});

t.test('a slow endpoint times out, is retried, and is reported once', async (t) => {
  const sink = await startSink(t, 'slow');
  const { n, warned } = notifier(t, { urls: [sink.url], timeoutMs: 150, retries: 1 });
  n.notify(transition(1, 'normal', 'warning'));
  n.notify(transition(2, 'normal', 'warning'));
  await sink.waitFor(4);
  await n.idle();
  t.equal(sink.requests.length, 4, 'two notifications, two attempts each');
  const failing = warned(/^webhook delivery failing/);
  t.equal(failing.length, 1);
  t.match(failing[0]?.fields, { error: 'timeout after 150 ms' });
  for (let i = 0; i < 100 && sink.held > 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(sink.held, 0, 'timed-out requests were abandoned, not left open');
});

t.test('refused connections are reported once, naming no secret', async (t) => {
  const url = await refusingUrl();
  const { n, warned, raw } = notifier(t, { urls: [url], retries: 1 });
  for (let i = 0; i < 4; i++) n.notify(transition(i, 'normal', 'critical'));
  await n.idle();
  const failing = warned(/^webhook delivery failing/);
  t.equal(failing.length, 1);
  t.match(failing[0]?.fields, { error: 'ECONNREFUSED', webhook: /^#1 http:\/\/127\.0\.0\.1:\d+\/\*\*\*$/ });
  t.same(n.stats().map((s) => [s.sent, s.failed]), [[0, 4]]);
  for (const l of raw) t.notOk(l.includes(SECRET), `no secret in: ${l}`);
});

t.test('the queue is bounded: the oldest are dropped, once logged', async (t) => {
  const sink = await startSink(t, 'slow');
  const { n, warned } = notifier(t, { urls: [sink.url], queueSize: 3, timeoutMs: 60_000 });
  for (let i = 0; i < 10; i++) n.notify(transition(i, 'normal', 'warning'));
  await sink.waitFor(1);
  t.same(n.stats().map((s) => [s.queued, s.dropped]), [[3, 6]], 'one in flight, three queued, six dropped');
  t.equal(warned(/^webhook queue full/).length, 1, 'logged once');
  sink.release();
  sink.mode = 'ok';
  await n.idle();
  const ids = sink.requests.map((r) => (r.json as { map: { id: number } }).map.id);
  t.same(ids, [0, 7, 8, 9], 'the first (in flight) and the newest three went out');
});

t.test('one failing URL does not hold back a healthy one', async (t) => {
  const slow = await startSink(t, 'slow', 'slow');
  const ok = await startSink(t, 'ok', 'ok');
  const { n } = notifier(t, { urls: [slow.url, ok.url], timeoutMs: 60_000 });
  for (let i = 0; i < 5; i++) n.notify(transition(i, 'normal', 'warning'));
  await ok.waitFor(5);
  t.equal(slow.requests.length, 1, 'the slow one is still on its first');
  t.equal(slow.held, 1);
});

t.test('close: queued notifications get a bounded flush, then in-flight ones are aborted', async (t) => {
  const sink = await startSink(t, 'slow');
  const { n } = notifier(t, { urls: [sink.url], timeoutMs: 60_000 });
  n.notify(transition(1, 'normal', 'warning'));
  n.notify(transition(2, 'normal', 'warning'));
  await sink.waitFor(1);
  await n.close(50);
  t.equal(n.notify(transition(3, 'normal', 'warning')), false, 'a closed notifier takes nothing');
  t.same(n.stats().map((s) => s.queued), [0]);
  t.equal(sink.requests.length, 1, 'the queued one was abandoned');
});
