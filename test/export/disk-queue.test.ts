// SPDX-License-Identifier: Apache-2.0
// The disk queue on its own: what is appended comes back after a reopen unless acknowledged
// (each request once), in order; a torn or corrupt tail is found, reported once, cut off, and
// the records before it come back; segments of acknowledged records are deleted; the
// directory is bounded in bytes; an unusable directory is EMP_QUEUE_DIR.
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { openDiskQueue, prepareQueueDir, RECORD_HEADER } from '../../src/export/disk-queue';
import type { EncodedRequest } from '../../src/export/encode';
import { DeliveryQueue } from '../../src/export/queue';
import { createLogger } from '../../src/log';

const req = (tag: number, size = 1000): EncodedRequest => {
  const bytes = Buffer.alloc(size, tag & 0xff);
  bytes.writeUInt32LE(tag, 0);
  return { bytes, points: tag % 7 };
};

async function open(dir: string, maxBytes = 64 << 20) {
  const lines: string[] = [];
  const disk = await openDiskQueue({ dir, maxBytes, log: createLogger('info', (l) => lines.push(l)) });
  const queue = new DeliveryQueue({ maxMemoryBytes: 1 << 20, store: disk.store, recovered: disk.recovered, nextSeq: disk.nextSeq });
  return { disk, queue, lines };
}

const segments = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('seg-'));

t.test('appended requests come back after a reopen, in order, with their bytes; acknowledged ones never', async (t) => {
  const dir = path.join(t.testdir(), 'q');
  const a = await open(dir);
  for (let i = 1; i <= 5; i++) a.queue.push(1_796_000_000_000 + i, [req(i), req(100 + i)], false);
  t.equal(a.queue.stats().diskBytes, 10 * 1000, 'on disk');
  t.equal(a.queue.stats().memoryBytes, 0, 'nothing in memory');
  const first = a.queue.entries.slice(0, 3);
  for (const e of first) a.queue.done(e); // delivered
  a.queue.close();

  const b = await open(dir);
  t.same(b.lines, [], 'nothing to report');
  t.equal(b.queue.length, 7, 'the seven not delivered');
  t.same(b.queue.entries.map((e) => b.queue.load(e).readUInt32LE(0)), [102, 3, 103, 4, 104, 5, 105], 'in order, with their bytes');
  t.same(b.queue.entries.map((e) => e.points), [102 % 7, 3 % 7, 103 % 7, 4 % 7, 104 % 7, 5 % 7, 105 % 7]);
  t.same([...new Set(b.queue.entries.map((e) => e.collectedAt))], [2, 3, 4, 5].map((i) => 1_796_000_000_000 + i), 'collection times kept');
  t.ok(b.queue.entries.every((e) => e.delayed), 'recovered requests count as late');
  // New requests after a restart are numbered after every old one.
  b.queue.push(1_796_000_000_009, [req(9)], false);
  const last = b.queue.entries[b.queue.length - 1]!;
  t.ok(last.seq > b.queue.entries[b.queue.length - 2]!.seq);
  for (const e of [...b.queue.entries]) b.queue.done(e);
  t.same(segments(dir), [], 'all delivered: no segment left');
  t.equal(statSync(path.join(dir, 'acks')).size, 0, 'and the ack file emptied');
  b.queue.close();
  const c = await open(dir);
  t.equal(c.queue.length, 0, 'nothing comes back twice');
  c.queue.close();
});

t.test('a torn tail: reported once, cut off, the records before it delivered', async (t) => {
  const dir = path.join(t.testdir(), 'q');
  const a = await open(dir);
  for (let i = 1; i <= 4; i++) a.queue.push(1_796_000_000_000 + i, [req(i)], false);
  a.queue.close();
  const [seg] = segments(dir);
  const file = path.join(dir, seg!);
  // A crash in mid-write: half a record's header after the last record.
  appendFileSync(file, Buffer.alloc(RECORD_HEADER / 2, 7));
  const b = await open(dir);
  t.equal(b.queue.length, 4, 'the four whole records');
  t.equal(b.lines.filter((l) => l.includes('code=EMP_QUEUE_CORRUPT')).length, 1, 'reported once');
  t.equal(statSync(file).size, 4 * (RECORD_HEADER + 1000), 'the torn tail cut off');
  b.queue.close();
  const c = await open(dir);
  t.same(c.lines, [], 'not reported again');
  t.equal(c.queue.length, 4);
  c.queue.close();
});

t.test('a corrupt record (CRC mismatch): reported, the records before it delivered', async (t) => {
  const dir = path.join(t.testdir(), 'q');
  const a = await open(dir);
  for (let i = 1; i <= 4; i++) a.queue.push(1_796_000_000_000 + i, [req(i)], false);
  a.queue.close();
  const file = path.join(dir, segments(dir)[0]!);
  const bytes = readFileSync(file);
  bytes[2 * (RECORD_HEADER + 1000) + RECORD_HEADER + 500] ^= 0xff; // a payload byte of the third record
  writeFileSync(file, bytes);
  const b = await open(dir);
  t.same(b.queue.entries.map((e) => b.queue.load(e).readUInt32LE(0)), [1, 2], 'the two before it');
  const line = b.lines.find((l) => l.includes('code=EMP_QUEUE_CORRUPT'));
  t.match(line, /CRC-32/, 'says why');
  b.queue.close();
});

t.test('bounded in bytes: the oldest go first', async (t) => {
  const dir = path.join(t.testdir(), 'q');
  const a = await open(dir, 10_000);
  let dropped = 0;
  for (let i = 1; i <= 30; i++) dropped += a.queue.push(1_796_000_000_000 + i, [req(i)], false).dropped.length;
  t.ok(a.queue.stats().diskBytes <= 10_000, `${a.queue.stats().diskBytes} bytes queued`);
  t.equal(dropped + a.queue.length, 30, 'each request kept or counted as dropped');
  t.equal(a.queue.entries[a.queue.length - 1]!.collectedAt, 1_796_000_000_030, 'the newest kept');
  a.queue.close();
  const b = await open(dir, 10_000);
  t.equal(b.queue.length, a.queue.length, 'the dropped ones do not come back');
  b.queue.close();
});

t.test('an unusable directory is EMP_QUEUE_DIR', async (t) => {
  const base = t.testdir({ 'a-file': 'x' });
  t.throws(() => prepareQueueDir(path.join(base, 'a-file')), { code: 'EMP_QUEUE_DIR' }, 'a file where the directory should be');
  t.throws(() => prepareQueueDir(path.join(base, 'a-file', 'below')), { code: 'EMP_QUEUE_DIR' }, 'below a file');
  const made = path.join(base, 'new', 'deeper');
  prepareQueueDir(made);
  t.ok(existsSync(made), 'a missing directory is created');
  mkdirSync(path.join(base, 'locked'));
  writeFileSync(path.join(base, 'locked', 'lock'), '1'); // pid 1 is alive: another agent holds it
  t.throws(() => prepareQueueDir(path.join(base, 'locked')), { code: 'EMP_QUEUE_DIR' }, 'a directory another live agent holds');
  chmodSync(path.join(base, 'locked', 'lock'), 0o600);
});
