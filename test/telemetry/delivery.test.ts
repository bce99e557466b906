// SPDX-License-Identifier: Apache-2.0
// Delivery end to end: the agent in this process with a real map, OTLP receivers on loopback
// that fail on purpose (the OpenTelemetry protos decode what arrives). A collector down for a
// minute, retryable and non-retryable answers over gRPC and HTTP, a server-given retry delay,
// a receiver slower than the interval, partial_success, a TCP black hole. Codes and counts
// are asserted; the only times compared are lower bounds a retry delay sets.
import { readdirSync, readlinkSync } from 'node:fs';
import t, { type Test } from 'tap';
import type { Delivery } from '../../src/export/delivery';
import { METRICS } from '../../src/metrics/table';
import { type InProcessAgent, startAgent } from '../helpers/agent-process';
import { createMap, fill, type TestMap } from '../helpers/kernel';
import { type Fault, type Receiver, startBlackHole, startGrpcReceiver, startHttpReceiver } from '../helpers/otlp-receiver';
import { sleep, until } from '../helpers/wait';


function expMap(t: Test, name: string): TestMap {
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64, name });
  fill(m, 4, 8, 5);
  return m;
}

/** Collection times (ms) of the map's max_entries points, in the order they arrived. */
function arrivedTimes(rxs: Receiver[], id: number): number[] {
  return rxs.flatMap((rx) => rx.requests.flatMap((r) => r.points.filter((p) => p.metric === METRICS.maxEntries.name && p.attributes['ebpf.map.id'] === id).map((p) => Math.round(p.timeUnixNano / 1e6))));
}

/** The agent's collection times from now on (the start's included). */
function collectionTimes(a: InProcessAgent): number[] {
  const times = [a.agent.latest()!.time];
  a.agent.onCollection((c) => times.push(c.time));
  return times;
}

const delivery = (a: InProcessAgent): Delivery => a.agent.telemetry!.delivery!;
const logLines = (a: InProcessAgent, re: RegExp) => a.lines.filter((l) => re.test(l));

for (const transport of ['grpc', 'http'] as const) {
  t.test(`${transport}: collector down 60 s: every collection made meanwhile arrives after recovery, in order, each once with its own time`, async (t) => {
    const name = `exp_down_${transport}`;
    const m = expMap(t, name);
    const port = transport === 'grpc' ? 47101 : 47102;
    const start = (o: { port: number }) => (transport === 'grpc' ? startGrpcReceiver(t, o) : startHttpReceiver(t, o));
    const rx1 = await start({ port });
    const a = await startAgent(t, ['--interval=2s', `--otlp.protocol=${transport === 'grpc' ? 'grpc' : 'http/protobuf'}`, `--otlp.endpoint=${rx1.endpoint}`, `--filter.include-names=${name}`]);
    const times = collectionTimes(a);
    await until(() => arrivedTimes([rx1], m.id).length > 0, 30_000, 'the first export');
    await rx1.close();
    await sleep(60_000);
    const duringOutage = times.length;
    const rx2 = await start({ port });
    const recoveredAt = times.length;
    await until(() => arrivedTimes([rx2], m.id).includes(times[recoveredAt - 1]!), 60_000, 'the collections of the outage');
    const arrived = arrivedTimes([rx1, rx2], m.id);
    const made = times.slice(0, recoveredAt);
    t.ok(duringOutage >= 25, `${duringOutage} collections made, most of them during the outage`);
    t.same(arrived.slice(0, made.length), made, 'every collection arrived, in collection order, each once, with its own time');
    t.same(new Set(arrived).size, arrived.length, 'no collection arrived twice');
    t.equal(logLines(a, / warn .*exporter cannot deliver/).length, 1, 'one line when delivery started failing');
    // The recovery line comes once the whole backlog is through (collections queued until
    // the first delivery included).
    await until(() => logLines(a, / info .*exporter recovered/).length > 0, 60_000, 'the recovery line');
    await sleep(3000);
    const recovered = logLines(a, / info .*exporter recovered/);
    t.equal(recovered.length, 1, 'one line when it recovered');
    const late = Number(/delivered_late=(\d+)/.exec(recovered[0] ?? '')?.[1]);
    t.ok(late >= duringOutage - 2, `the recovery line counts the late deliveries (${late})`);
    t.match(recovered[0], /dropped=0/, 'nothing dropped');
    t.equal(delivery(a).counters.dropped.queue_full + delivery(a).counters.dropped.max_age, 0);
  });
}

interface FaultCase {
  what: string;
  transport: 'grpc' | 'http';
  fault: Fault;
  times: number;
  retried: boolean;
  /** A server-given delay the retry must wait at least. */
  delayMs?: number;
}

const GRPC = { UNAVAILABLE: 14, DEADLINE_EXCEEDED: 4, RESOURCE_EXHAUSTED: 8, INVALID_ARGUMENT: 3 } as const;

const CASES: FaultCase[] = [
  { what: 'gRPC UNAVAILABLE x3, then OK', transport: 'grpc', fault: { grpc: GRPC.UNAVAILABLE }, times: 3, retried: true },
  { what: 'gRPC DEADLINE_EXCEEDED, then OK', transport: 'grpc', fault: { grpc: GRPC.DEADLINE_EXCEEDED }, times: 1, retried: true },
  { what: 'gRPC RESOURCE_EXHAUSTED with RetryInfo 1.5 s', transport: 'grpc', fault: { grpc: GRPC.RESOURCE_EXHAUSTED, retryDelayMs: 1500 }, times: 1, retried: true, delayMs: 1500 },
  { what: 'gRPC RESOURCE_EXHAUSTED without RetryInfo: not retried', transport: 'grpc', fault: { grpc: GRPC.RESOURCE_EXHAUSTED }, times: 1, retried: false },
  { what: 'gRPC INVALID_ARGUMENT: not retried', transport: 'grpc', fault: { grpc: GRPC.INVALID_ARGUMENT, details: 'bad metric' }, times: 1, retried: false },
  { what: 'HTTP 503 x2, then OK', transport: 'http', fault: { http: 503 }, times: 2, retried: true },
  { what: 'HTTP 502, then OK', transport: 'http', fault: { http: 502 }, times: 1, retried: true },
  { what: 'HTTP 429 with Retry-After: 2', transport: 'http', fault: { http: 429, retryAfter: '2' }, times: 1, retried: true, delayMs: 2000 },
  { what: 'HTTP 400: not retried', transport: 'http', fault: { http: 400, body: 'bad request' }, times: 1, retried: false },
];

t.test('retryable answers are retried (honouring a server delay), non-retryable ones dropped and counted', async (t) => {
  const m = expMap(t, 'exp_dl_faults');
  const receivers = { grpc: await startGrpcReceiver(t), http: await startHttpReceiver(t) };
  for (const c of CASES) {
    const rx = receivers[c.transport];
    const a = await startAgent(t, [
      '--interval=1h',
      `--otlp.protocol=${c.transport === 'grpc' ? 'grpc' : 'http/protobuf'}`,
      `--otlp.endpoint=${rx.endpoint}`,
      '--filter.include-names=exp_dl_faults',
      // Our own backoff short, so a server's delay stands out from it.
      '--export.retry.initial-backoff=20ms',
      '--export.retry.max-backoff=100ms',
    ]);
    await a.agent.telemetry!.flush();
    const d = delivery(a);
    const before = { attempts: rx.attempts.length, retries: d.counters.retries, rejected: d.counters.dropped.rejected, late: d.counters.late };
    rx.fail(c.times, c.fault);
    await a.agent.collectNow();
    const attempts = rx.attempts.slice(before.attempts);
    const faultStatus = 'grpc' in c.fault ? c.fault.grpc : c.fault.http;
    const okStatus = c.transport === 'grpc' ? 0 : 200;
    t.same(attempts.map((x) => x.status), [...Array<number>(c.times).fill(faultStatus), ...(c.retried ? [okStatus] : [])], `${c.what}: the attempts the receiver saw`);
    const time = a.agent.latest()!.time;
    t.ok(attempts.every((x) => x.times.length === 0 || (x.times.length === 1 && x.times[0] === time)), `${c.what}: every attempt carried the collection, with its own time`);
    t.equal(d.counters.retries - before.retries, c.retried ? c.times : 0, `${c.what}: retries counted`);
    t.equal(d.counters.dropped.rejected - before.rejected, c.retried ? 0 : 1, `${c.what}: ${c.retried ? 'nothing dropped' : 'dropped as rejected'}`);
    if (c.retried) t.equal(d.counters.late - before.late, 1, `${c.what}: delivered late, once`);
    if (!c.retried) t.equal(logLines(a, /code=EMP_EXPORT_REJECTED/).length, 1, `${c.what}: one EMP_EXPORT_REJECTED line`);
    if (c.delayMs !== undefined) {
      const gap = attempts[1]!.time - attempts[0]!.time;
      t.ok(gap >= c.delayMs - 5, `${c.what}: the retry waited the server's ${c.delayMs} ms (${gap} ms)`);
    }
    t.same(arrivedTimes([rx], m.id).filter((x) => x === time), c.retried ? [time] : [], `${c.what}: the collection arrived ${c.retried ? 'once' : 'never'}`);
    await a.agent.stop();
    rx.requests.length = 0;
  }
});

t.test('a receiver slower than the interval loses nothing', async (t) => {
  for (const transport of ['grpc', 'http'] as const) {
    const name = `exp_slow_${transport}`;
    const m = expMap(t, name);
    const rx = transport === 'grpc' ? await startGrpcReceiver(t) : await startHttpReceiver(t);
    // Each collection is five requests (the Meter's metrics and a point, then a point each);
    // each takes the receiver 400 ms: 2 s one after another, at a 1 s interval. Four in
    // flight at once (export.max_in_flight) keep up.
    rx.delayMs = 400;
    const a = await startAgent(t, ['--interval=1s', `--otlp.protocol=${transport === 'grpc' ? 'grpc' : 'http/protobuf'}`, `--otlp.endpoint=${rx.endpoint}`, `--filter.include-names=${name}`, '--otlp.max-points-per-request=1']);
    const times = collectionTimes(a);
    await sleep(12_000);
    const made = times.slice();
    await until(() => arrivedTimes([rx], m.id).length >= made.length, 60_000, 'every collection delivered');
    t.same(arrivedTimes([rx], m.id).slice(0, made.length), made, `${transport}: all ${made.length} collections arrived, in order, each once`);
    const c = delivery(a).counters;
    t.same(c.dropped, { queue_full: 0, max_age: 0, rejected: 0, shutdown: 0 }, `${transport}: nothing dropped`);
    t.equal(c.failures, 0, `${transport}: no export failed`);
    await a.agent.stop();
  }
});

t.test('partial_success: counted, logged once', async (t) => {
  expMap(t, 'exp_dl_partial');
  const rx = await startGrpcReceiver(t);
  rx.partial = { rejected: 3, message: 'exp: 3 points refused' };
  const a = await startAgent(t, ['--interval=1h', `--otlp.endpoint=${rx.endpoint}`, '--filter.include-names=exp_dl_partial']);
  await a.agent.collectNow();
  await a.agent.collectNow();
  const requests = rx.requests.length;
  t.ok(requests >= 3, `${requests} requests`);
  t.equal(delivery(a).counters.rejectedPoints, 3 * requests, 'every rejected point counted');
  const lines = logLines(a, /partial_success/);
  t.equal(lines.length, 1, 'logged once');
  t.match(lines[0], /exp: 3 points refused/, "with the endpoint's message");
  t.equal(delivery(a).counters.dropped.rejected, 0, 'the requests themselves were delivered');
});

/** Sockets this process holds (the agent is in it; so is the black hole's side). */
function sockets(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      // closed between the listing and the read
    }
  }
  return n;
}

t.test('a peer that accepts TCP and never answers: sockets stay flat', async (t) => {
  for (const transport of ['grpc', 'http'] as const) {
    const hole = await startBlackHole(t);
    const endpoint = transport === 'grpc' ? `http://127.0.0.1:${hole.port}` : `http://127.0.0.1:${hole.port}/v1/metrics`;
    const a = await startAgent(t, [
      '--interval=1s',
      `--otlp.protocol=${transport === 'grpc' ? 'grpc' : 'http/protobuf'}`,
      `--otlp.endpoint=${endpoint}`,
      '--otlp.timeout=1s',
      '--export.retry.initial-backoff=200ms',
      '--export.retry.max-backoff=500ms',
      '--filter.include-names=exp_dl_none',
    ]);
    await sleep(5000);
    const start = sockets();
    const samples: number[] = [];
    for (let i = 0; i < 6; i++) {
      await sleep(5000);
      samples.push(sockets());
    }
    t.ok(hole.accepted() >= 10, `${transport}: ${hole.accepted()} connections tried over 35 s, enough for a leak to show`);
    t.ok(Math.max(...samples) - start <= 4, `${transport}: sockets of the process ${start} -> ${samples.join(', ')}`);
    t.ok(hole.open() <= 4, `${transport}: connections the black hole still holds: ${hole.open()}`);
    t.ok(delivery(a).counters.failures > 0, `${transport}: the failures were counted`);
    t.equal(logLines(a, / warn .*exporter cannot deliver/).length, 1, `${transport}: one line for the outage`);
    await a.agent.stop();
  }
});
