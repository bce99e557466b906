// SPDX-License-Identifier: Apache-2.0
// Maps come and go while the agent runs: a pinned map, one held by another process, one
// created after the collector started, one that changes between collections, and each of
// them deleted. One Collector instance throughout, as the agent keeps one: each must be right
// in the next collection.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import t from 'tap';
import { Collector } from '../../src/collector';
import { bpftoolDumpCount, bpftoolMap, createMap, F_NO_PREALLOC, fill, find, holdMapInChild, mapOps, WALK_EVERY_MAP } from '../helpers/kernel';
import { assertMemory } from '../helpers/memory-truth';

const collector = new Collector({ reader: WALK_EVERY_MAP });
t.teardown(() => collector.close());

/** Whether the kernel still lists the map: bpftool is the truth. */
function bpftoolHas(id: number): boolean {
  try {
    execFileSync('bpftool', ['map', 'show', 'id', String(id)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits until the kernel has freed the map. Freeing is not always done when the call that
 * drops the last reference returns (a bpffs inode is released after an RCU grace period; a
 * killed process's files are closed by a kernel worker), and the claim under test is about
 * the collection after the map is gone, not about how fast the kernel frees it.
 */
async function untilFreed(id: number): Promise<void> {
  for (let i = 0; i < 400 && bpftoolHas(id); i++) await new Promise((r) => setTimeout(r, 25));
  if (bpftoolHas(id)) throw new Error(`map ${id} still exists after 10 s`);
}

t.test('a pinned map: listed while pinned (no fd open), gone once unpinned', async (t) => {
  const dir = `/sys/fs/bpf/emp-test-${process.pid}`;
  if (execFileSync('stat', ['-f', '-c', '%T', '/sys/fs/bpf'], { encoding: 'utf8' }).trim() !== 'bpf_fs')
    throw new Error('bpffs is not mounted at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)');
  mkdirSync(dir, { recursive: true });
  t.teardown(() => rmSync(dir, { recursive: true, force: true })); // only our directory

  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 40, name: 'lc_pinned' });
  fill(m, 4, 8, 12);
  const pin = `${dir}/lc_pinned`;
  mapOps().pin(m.fd, pin);
  m.close(); // the pin alone keeps it alive now
  t.ok(bpftoolHas(m.id), 'the kernel keeps the pinned map');

  const c1 = await collector.collect();
  const got = find(c1, m.id);
  t.equal(got?.name, 'lc_pinned');
  t.equal(got?.entries, bpftoolDumpCount(m.id));
  t.equal(got?.entries, 12);
  assertMemory(t, got, bpftoolMap(m.id).bytes_memlock, 'pinned');

  rmSync(pin);
  await untilFreed(m.id);
  t.equal(find(await collector.collect(), m.id), undefined, 'gone in the next collection');
});

t.test('a map held by another process, unpinned: listed; gone once that process dies', async (t) => {
  const held = await holdMapInChild(t, { type: 'lru_hash', keySize: 4, valueSize: 8, maxEntries: 64, name: 'lc_child', fill: 30 });
  const got = find(await collector.collect(), held.id);
  t.equal(got?.name, 'lc_child');
  t.equal(got?.type, 'lru_hash');
  t.equal(got?.entries, bpftoolDumpCount(held.id), 'entries as a dump counts them');
  assertMemory(t, got, bpftoolMap(held.id).bytes_memlock, 'held by another process (read through an fd of our own)');

  await held.kill();
  await untilFreed(held.id);
  t.equal(find(await collector.collect(), held.id), undefined, 'gone in the next collection');
});

t.test('a map created after the collector started: in its next collection', async (t) => {
  const c1 = await collector.collect();
  const m = createMap(t, { type: 'percpu_hash', keySize: 8, valueSize: 16, maxEntries: 50, flags: F_NO_PREALLOC, name: 'lc_late' });
  t.equal(find(c1, m.id), undefined, 'not in the collection before it existed');
  fill(m, 8, 16, 21);
  const got = find(await collector.collect(), m.id);
  t.equal(got?.name, 'lc_late');
  t.equal(got?.entries, 21);
  t.equal(got?.utilization, 21 / 50);
  t.equal(got?.maxEntries, 50);
  assertMemory(t, got, bpftoolMap(m.id).bytes_memlock, 'created late');
});

t.test('a map that changes between collections: right in each', async (t) => {
  // Non-preallocated: its memory follows its entries, so a cached figure would go stale.
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 256, maxEntries: 4096, flags: F_NO_PREALLOC, name: 'lc_growing' });
  const memory: number[] = [];
  for (const total of [0, 100, 1500, 700]) {
    const now = bpftoolDumpCount(m.id);
    if (total > now) fill(m, 4, 256, total - now, now);
    for (let k = total; k < now; k++) {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(k);
      mapOps().delete(m.fd, key);
    }
    const got = find(await collector.collect(), m.id);
    t.equal(got?.entries, total, `${total} entries`);
    t.not(got?.countStale, true, `${total} entries: counted now, not an earlier walk's count`);
    assertMemory(t, got, bpftoolMap(m.id).bytes_memlock, `with ${total} entries`);
    memory.push(got?.memoryBytes ?? 0);
  }
  // Before 6.4 fdinfo charges such a map as if full; the estimate follows the entries.
  t.ok(memory[2]! > memory[0]!, `the figure did move (${memory.join(', ')}), else this test would prove nothing`);
  t.ok(memory[3]! < memory[2]!, 'and fell back when entries were deleted');
});

t.test('a map closed by its only holder: gone in the next collection', async (t) => {
  const m = createMap(t, { type: 'array', keySize: 4, valueSize: 4, maxEntries: 3, name: 'lc_closed' });
  t.ok(find(await collector.collect(), m.id), 'listed while open');
  m.close();
  await untilFreed(m.id);
  t.equal(find(await collector.collect(), m.id), undefined, 'gone in the next collection');
});
