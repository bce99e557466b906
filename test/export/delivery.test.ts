// SPDX-License-Identifier: Apache-2.0
// The delivery loop and its queue on their own, with a scripted transport: one collection in
// flight at a time, at most max_in_flight requests, drop-oldest when full (counted, logged
// once), max age, the backoff and its jitter, a server delay kept, the one line for failing
// and the one for recovery with its counts.
import t from 'tap';
import { backoffMs, Delivery } from '../../src/export/delivery';
import type { EncodedRequest } from '../../src/export/encode';
import { DeliveryQueue } from '../../src/export/queue';
import type { SendOutcome, Transport } from '../../src/export/transport';
import { createLogger } from '../../src/log';

const req = (tag: number, size = 100): EncodedRequest => {
  const bytes = Buffer.alloc(size);
  bytes.writeUInt32LE(tag, 0);
  return { bytes, points: 1 };
};
const tagOf = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).readUInt32LE(0);

/** A transport whose answers the test gives, one send at a time. */
class Scripted implements Transport {
  readonly describe = 'scripted';
  readonly sent: number[] = [];
  readonly pending: Array<{ tag: number; answer: (o: SendOutcome) => void }> = [];
  auto: SendOutcome | null = null;
  send(r: EncodedRequest): Promise<SendOutcome> {
    const tag = tagOf(r.bytes);
    this.sent.push(tag);
    if (this.auto) return Promise.resolve(this.auto);
    return new Promise((resolve) => this.pending.push({ tag, answer: resolve }));
  }
  async shutdown(): Promise<void> {}
}

const OK: SendOutcome = { kind: 'delivered', rejectedPoints: 0, rejectMessage: '' };
const DOWN: SendOutcome = { kind: 'retryable', reason: 'UNAVAILABLE', error: 'connection refused', retryAfterMs: null };
const tick = () => new Promise((r) => setImmediate(r));
/** Collection times near now (older ones would be past max_age). */
const T0 = Date.now();

function setup(o: { maxBytes?: number; maxInFlight?: number; maxAgeMs?: number; now?: () => number } = {}) {
  const lines: string[] = [];
  const transport = new Scripted();
  const queue = new DeliveryQueue({ maxMemoryBytes: o.maxBytes ?? 1 << 20 });
  const d = new Delivery({
    transport,
    queue,
    maxInFlight: o.maxInFlight ?? 4,
    initialBackoffMs: 5,
    maxBackoffMs: 20,
    maxAgeMs: o.maxAgeMs ?? 3_600_000,
    log: createLogger('info', (l) => lines.push(l)),
    ...(o.now && { now: o.now }),
  });
  return { d, queue, transport, lines };
}

t.test('one collection in flight at a time, at most max_in_flight of its requests', async (t) => {
  const { d, transport } = setup({ maxInFlight: 2 });
  d.enqueue(T0 + 1000, [req(1), req(2), req(3)]);
  d.enqueue(T0 + 2000, [req(4)]);
  await tick();
  t.same(transport.sent, [1, 2], 'two of the first collection');
  transport.pending.shift()!.answer(OK);
  await tick();
  t.same(transport.sent, [1, 2, 3], 'the third takes the free slot; the next collection waits');
  transport.pending.shift()!.answer(OK);
  transport.pending.shift()!.answer(OK);
  await tick();
  t.same(transport.sent, [1, 2, 3, 4], 'then the next collection');
  transport.pending.shift()!.answer(OK);
  t.equal(await d.flush(1000), true, 'flushed');
  t.equal(d.counters.delivered, 4);
});

t.test('a failure: retried first, in order; one line failing, one recovering with the counts', async (t) => {
  const { d, transport, lines } = setup();
  d.enqueue(T0 + 1000, [req(1)]);
  await tick();
  transport.pending.shift()!.answer(DOWN);
  d.enqueue(T0 + 2000, [req(2)]);
  d.enqueue(T0 + 3000, [req(3)]);
  // The new collections probe once each: the oldest request again, never a newer one first.
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 30));
    while (transport.pending.length) transport.pending.shift()!.answer(DOWN);
  }
  t.ok(transport.sent.every((tag) => tag === 1), `only the oldest is tried while failing (${transport.sent.length} tries)`);
  t.equal(lines.filter((l) => l.includes('cannot deliver')).length, 1, 'one line when failing starts');
  transport.auto = OK;
  await new Promise((r) => setTimeout(r, 50));
  while (transport.pending.length) transport.pending.shift()!.answer(OK);
  t.equal(await d.flush(1000), true);
  const order = transport.sent.filter((tag, i, a) => a.indexOf(tag) === i);
  t.same(order, [1, 2, 3], 'delivered in collection order');
  const recovered = lines.filter((l) => l.includes('exporter recovered'));
  t.equal(recovered.length, 1, 'one recovery line');
  t.match(recovered[0], /delivered_late=3/, 'the three waited');
  t.match(recovered[0], /dropped=0/);
  t.equal(d.counters.retries, transport.sent.length - 3, 'every failed try counted');
  t.equal(d.counters.late, 3);
});

t.test('full: the oldest go first, counted, logged once; the newest collection is kept', async (t) => {
  const { d, queue, transport, lines } = setup({ maxBytes: 1000 });
  transport.auto = DOWN;
  for (let i = 1; i <= 10; i++) d.enqueue(T0 + i * 1000, [req(i, 300)]);
  await tick();
  const kept = queue.entries.map((e) => e.collectedAt);
  t.ok(queue.stats().memoryBytes <= 1000, `queue within its bound (${queue.stats().memoryBytes} bytes)`);
  t.same(kept.slice(-2), [T0 + 9000, T0 + 10_000], 'the newest are kept');
  t.ok(d.counters.dropped.queue_full >= 6, `${d.counters.dropped.queue_full} dropped`);
  t.equal(d.counters.dropped.queue_full + queue.length, 10, 'each request either queued or counted as dropped');
  t.equal(lines.filter((l) => l.includes('export queue full')).length, 1, 'logged once');
  await d.stop();
});

t.test('older than max_age: dropped before sending, counted', async (t) => {
  let now = 100_000;
  const { d, transport } = setup({ maxAgeMs: 10_000, now: () => now });
  transport.auto = DOWN;
  d.enqueue(95_000, [req(1)]);
  await tick();
  now = 200_000;
  transport.auto = OK;
  d.enqueue(199_000, [req(2)]);
  await tick();
  t.equal(d.counters.dropped.max_age, 1, 'the old one dropped');
  t.equal(await d.flush(1000), true);
  t.same(transport.sent.slice(-1), [2], 'the new one delivered');
});

t.test('a server delay is kept: a new collection does not cut it short', async (t) => {
  const { d, transport } = setup();
  d.enqueue(T0 + 1000, [req(1)]);
  await tick();
  transport.pending.shift()!.answer({ kind: 'retryable', reason: 'RESOURCE_EXHAUSTED', error: 'slow down', retryAfterMs: 300 });
  await tick();
  d.enqueue(T0 + 2000, [req(2)]);
  await new Promise((r) => setTimeout(r, 100));
  t.same(transport.sent, [1], 'nothing sent within the delay');
  await new Promise((r) => setTimeout(r, 300));
  t.same(transport.sent, [1, 1], 'retried after it');
});

t.test('rejected: dropped, counted, never retried', async (t) => {
  const { d, transport, lines } = setup();
  transport.auto = { kind: 'rejected', reason: 'INVALID_ARGUMENT', error: 'bad' };
  d.enqueue(T0 + 1000, [req(1)]);
  d.enqueue(T0 + 2000, [req(2)]);
  t.equal(await d.flush(1000), true);
  t.same(transport.sent, [1, 2]);
  t.equal(d.counters.dropped.rejected, 2);
  t.equal(lines.filter((l) => l.includes('EMP_EXPORT_REJECTED')).length, 1, 'one line per kind of rejection');
});

t.test('backoff: doubles up to the max, jitter 0.5x to 1.5x', async (t) => {
  t.same([1, 2, 3, 4, 10].map((n) => backoffMs(n, 1000, 30_000, () => 0.5)), [1000, 2000, 4000, 8000, 30_000]);
  t.equal(backoffMs(1, 1000, 30_000, () => 0), 500, 'jitter low end');
  t.equal(backoffMs(1, 1000, 30_000, () => 0.999), 1499, 'jitter high end');
  t.equal(backoffMs(20, 1000, 30_000, () => 0.999), 30_000, 'never above the max');
});

t.test('stop: requests in memory are dropped and counted (reason shutdown), said once', async (t) => {
  const { d, transport, lines } = setup();
  transport.auto = DOWN;
  d.enqueue(T0 + 1000, [req(1), req(2)]);
  await tick();
  await d.stop();
  t.equal(d.counters.dropped.shutdown, 2);
  t.equal(lines.filter((l) => l.includes('export stopped with requests undelivered')).length, 1);
});
