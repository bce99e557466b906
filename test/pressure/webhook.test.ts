// SPDX-License-Identifier: Apache-2.0
// The webhook notifier against loopback HTTP servers: one notification per collection (bounded
// list, count beyond), payloads, the per-map cooldown inside a batch, retries with backoff,
// timeouts, refused connections, the bounded queue, telling the operator once, and URL secrets
// never logged.
import t from 'tap';
import { createLogger } from '../../src/log';
import type { Level } from '../../src/pressure/levels';
import type { Transition } from '../../src/pressure/tracker';
import { type Notification, slackEscape, WebhookNotifier, type WebhookSettings } from '../../src/pressure/webhook';
import { parseLogLine, type LogLine } from '../helpers/agent-process';
import { refusingUrl, SECRET, startSink } from '../helpers/http-sinks';

const T0 = 1_700_000_000_000;

function transition(id: number, from: Level | null, to: Level, over: { name?: string; time?: number; fill?: number } = {}): Transition {
  const fill = over.fill ?? 850;
  return {
    from,
    to,
    time: over.time ?? T0,
    map: {
      id, name: over.name ?? `m${id}`, type: 'hash', fill, maxEntries: 1000, utilization: fill / 1000, level: to,
      thresholds: { warning: 0.7, critical: 0.8 }, growthPerS: 2.5, timeToFullS: (1000 - fill) / 2.5,
      peakFill: fill, peakUtilization: fill / 1000, peakOverS: 600, suggestedMaxEntries: Math.ceil(fill * 1.5), owner: null,
    },
    owner: null,
  };
}

const COUNTS = { off: 0, normal: 10, warning: 1, critical: 1 };

/** A notification of these transitions at their time (the first one's). */
function batch(ts: Transition[], event: Notification['event'] = 'change'): Notification {
  return { event, time: ts[0]!.time, transitions: ts, counts: COUNTS };
}

const one = (id: number, from: Level | null, to: Level, over: { name?: string; time?: number; fill?: number } = {}) => batch([transition(id, from, to, over)]);

const BASE: WebhookSettings = { urls: [], format: 'generic', cooldownMs: 600_000, timeoutMs: 2000, retries: 2, backoffMs: 20, queueSize: 100, maxMaps: 20 };

function notifier(t: { teardown(fn: () => unknown): void }, over: Partial<WebhookSettings>) {
  const raw: string[] = [];
  const n = new WebhookNotifier({ ...BASE, ...over }, createLogger('debug', (l) => raw.push(l)), { host: 'host-1' });
  t.teardown(() => n.close(0));
  const logs = () => raw.map(parseLogLine).filter((l): l is LogLine => l !== null);
  const warned = (message: RegExp) => logs().filter((l) => message.test(l.message));
  return { n, raw, logs, warned };
}

interface Generic {
  event: string;
  transitions: Array<{ map: { id: number; name: string }; from: string | null; to: string }>;
  more: number;
  text: string;
}
const ids = (body: unknown) => (body as Generic).transitions.map((x) => `${x.map.id}:${x.to}`);

t.test('generic payload: every field, as JSON, one object per collection', async (t) => {
  const sink = await startSink(t, 'ok');
  const { n } = notifier(t, { urls: [sink.url] });
  t.ok(n.notify(batch([transition(42, 'warning', 'critical'), transition(7, 'normal', 'warning', { fill: 720 })])));
  await sink.waitFor(1);
  const r = sink.requests[0]!;
  t.equal(r.method, 'POST');
  t.equal(r.headers['content-type'], 'application/json');
  t.same(r.json, {
    source: 'ebpf-map-pressure',
    host: 'host-1',
    time: new Date(T0).toISOString(),
    event: 'change',
    counts: COUNTS,
    transitions: [
      {
        map: { id: 42, name: 'm42', type: 'hash' },
        owner: null,
        from: 'warning',
        to: 'critical',
        entries: 850,
        max_entries: 1000,
        utilization: 0.85,
        growth_per_s: 2.5,
        time_to_full_s: 60,
        peak_entries: 850,
        suggested_max_entries: 1275,
        text: 'eBPF map m42 (id 42, hash) warning -> critical: 850/1000 (85.0%), growing +2.5/s, full in ~60 s; raise max_entries to 1275',
      },
      {
        map: { id: 7, name: 'm7', type: 'hash' },
        owner: null,
        from: 'normal',
        to: 'warning',
        entries: 720,
        max_entries: 1000,
        utilization: 0.72,
        growth_per_s: 2.5,
        time_to_full_s: 112,
        peak_entries: 720,
        suggested_max_entries: 1080,
        text: 'eBPF map m7 (id 7, hash) normal -> warning: 720/1000 (72.0%), growing +2.5/s, full in ~2 min; raise max_entries to 1080',
      },
    ],
    more: 0,
    text: [
      'eBPF maps on host-1: 2 changed level (1 critical, 1 warning)',
      'eBPF map m42 (id 42, hash) warning -> critical: 850/1000 (85.0%), growing +2.5/s, full in ~60 s; raise max_entries to 1275',
      'eBPF map m7 (id 7, hash) normal -> warning: 720/1000 (72.0%), growing +2.5/s, full in ~2 min; raise max_entries to 1080',
    ].join('\n'),
  });
});

t.test('a bounded list: webhook.max_maps maps, the count of the rest', async (t) => {
  const sink = await startSink(t, 'ok');
  const { n } = notifier(t, { urls: [sink.url], maxMaps: 3 });
  n.notify(batch(Array.from({ length: 250 }, (_, i) => transition(i + 1, null, 'critical')), 'start'));
  await sink.waitFor(1);
  await n.idle();
  t.equal(sink.requests.length, 1, 'one request for 250 maps');
  const body = sink.requests[0]!.json as Generic;
  t.equal(body.event, 'start');
  t.same(ids(body), ['1:critical', '2:critical', '3:critical']);
  t.equal(body.transitions[0]!.from, null, 'at start there is no level before');
  t.equal(body.more, 247);
  t.match(body.text, /^eBPF maps on host-1 at agent start: 250 past a threshold \(250 critical\)\n/);
  t.match(body.text, /\n\.\.\. and 247 more$/);
  t.ok(sink.requests[0]!.body.length < 4096, `a small body (${sink.requests[0]!.body.length} bytes)`);
});

t.test('Slack payload: a headline and a line per map; &, <, > escaped; the rest counted', async (t) => {
  const sink = await startSink(t, 'ok');
  const { n } = notifier(t, { urls: [sink.url], format: 'slack', maxMaps: 2 });
  n.notify(batch([transition(9, 'normal', 'warning', { name: 'a<b>&`c' }), transition(3, 'warning', 'normal', { fill: 100 }), transition(4, 'normal', 'warning')]));
  await sink.waitFor(1);
  const body = sink.requests[0]!.json as { text: string };
  t.same(Object.keys(body), ['text']);
  t.equal(
    body.text,
    [
      '*eBPF maps on host-1: 3 changed level (2 warning, 1 back to normal)*',
      ":warning: *warning* eBPF map a&lt;b&gt;&amp;'c (id 9, hash) normal -&gt; warning: 850/1000 (85.0%), growing +2.5/s, full in ~60 s; raise max_entries to 1275",
      ':large_green_circle: *normal* eBPF map m3 (id 3, hash) warning -&gt; normal: 100/1000 (10.0%), growing +2.5/s, full in ~6 min',
      '... and 1 more',
    ].join('\n'),
  );
  t.equal(slackEscape('<!channel>'), '&lt;!channel&gt;', 'no mention can be smuggled in a name');
});

t.test('cooldown: per map and level, inside a batch; a batch of only held-back maps is not sent', async (t) => {
  const sink = await startSink(t, 'ok');
  const { n } = notifier(t, { urls: [sink.url], cooldownMs: 60_000 });
  const sent = [
    n.notify(batch([transition(1, 'normal', 'warning', { time: T0 }), transition(2, 'normal', 'warning', { time: T0 })])),
    n.notify(one(1, 'warning', 'critical', { time: T0 + 1000 })),
    n.notify(batch([transition(1, 'critical', 'warning', { time: T0 + 2000 }), transition(3, 'normal', 'warning', { time: T0 + 2000 })])), // 1 held back, 3 goes
    n.notify(batch([transition(1, 'warning', 'critical', { time: T0 + 3000 }), transition(2, 'warning', 'critical', { time: T0 + 3000 })])), // 2 goes
    n.notify(one(1, 'critical', 'warning', { time: T0 + 4000 })), // only a held-back map: nothing sent
    n.notify(one(1, 'critical', 'warning', { time: T0 + 61_000 })), // cooldown over
  ];
  t.same(sent, [true, true, true, true, false, true]);
  await sink.waitFor(5);
  await n.idle();
  t.same(sink.requests.map((r) => ids(r.json)), [['1:warning', '2:warning'], ['1:critical'], ['3:warning'], ['2:critical'], ['1:warning']]);
});

t.test('cooldown 0 sends every transition', async (t) => {
  const sink = await startSink(t, 'ok');
  const { n } = notifier(t, { urls: [sink.url], cooldownMs: 0 });
  for (let i = 0; i < 3; i++) t.ok(n.notify(one(1, 'normal', 'warning')));
  await sink.waitFor(3);
});

t.test('HTTP 500: bounded retries, then one warning; one recovery line when it answers again', async (t) => {
  const sink = await startSink(t, 'error');
  const { n, warned, raw } = notifier(t, { urls: [sink.url], retries: 2 });
  n.notify(one(1, 'normal', 'warning'));
  await sink.waitFor(3);
  await n.idle();
  t.equal(sink.requests.length, 3, 'one attempt and two retries');
  n.notify(one(2, 'normal', 'warning'));
  n.notify(one(3, 'normal', 'warning'));
  await sink.waitFor(9);
  await n.idle();
  const failing = warned(/^webhook delivery failing/);
  t.equal(failing.length, 1, 'the operator is told once');
  t.match(failing[0]?.fields, { error: 'HTTP 500', attempts: '3' });
  t.equal(failing[0]?.level, 'warn');
  sink.mode = 'ok';
  n.notify(one(4, 'normal', 'warning'));
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
  n.notify(one(1, 'normal', 'warning'));
  await n.idle();
  t.equal(hits, 1, 'one attempt');
  t.match(warned(/^webhook delivery failing/)[0]?.fields, { error: 'HTTP 404' });
});

t.test('a slow endpoint times out, is retried, and is reported once', async (t) => {
  const sink = await startSink(t, 'slow');
  const { n, warned } = notifier(t, { urls: [sink.url], timeoutMs: 150, retries: 1 });
  n.notify(one(1, 'normal', 'warning'));
  n.notify(one(2, 'normal', 'warning'));
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
  for (let i = 0; i < 4; i++) n.notify(one(i, 'normal', 'critical'));
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
  for (let i = 0; i < 10; i++) n.notify(one(i, 'normal', 'warning'));
  await sink.waitFor(1);
  t.same(n.stats().map((s) => [s.queued, s.dropped]), [[3, 6]], 'one in flight, three queued, six dropped');
  t.equal(warned(/^webhook queue full/).length, 1, 'logged once');
  sink.release();
  sink.mode = 'ok';
  await n.idle();
  const sentIds = sink.requests.map((r) => (r.json as Generic).transitions[0]!.map.id);
  t.same(sentIds, [0, 7, 8, 9], 'the first (in flight) and the newest three went out');
});

t.test('one failing URL does not hold back a healthy one', async (t) => {
  const slow = await startSink(t, 'slow', 'slow');
  const ok = await startSink(t, 'ok', 'ok');
  const { n } = notifier(t, { urls: [slow.url, ok.url], timeoutMs: 60_000 });
  for (let i = 0; i < 5; i++) n.notify(one(i, 'normal', 'warning'));
  await ok.waitFor(5);
  t.equal(slow.requests.length, 1, 'the slow one is still on its first');
  t.equal(slow.held, 1);
});

t.test('close: queued notifications get a bounded flush, then in-flight ones are aborted', async (t) => {
  const sink = await startSink(t, 'slow');
  const { n } = notifier(t, { urls: [sink.url], timeoutMs: 60_000 });
  n.notify(one(1, 'normal', 'warning'));
  n.notify(one(2, 'normal', 'warning'));
  await sink.waitFor(1);
  await n.close(50);
  t.equal(n.notify(one(3, 'normal', 'warning')), false, 'a closed notifier takes nothing');
  t.same(n.stats().map((s) => s.queued), [0]);
  t.equal(sink.requests.length, 1, 'the queued one was abandoned');
});
