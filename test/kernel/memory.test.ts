// SPDX-License-Identifier: Apache-2.0
// Map memory. On kernels >= 6.4 fdinfo's memlock is the map's real memory: the agent must
// equal bpftool at every fill, through its memlock cache (which re-reads only the types
// whose figure follows their entries), and its own formulas (used before 6.4) must give the
// very same figures. Before 6.4 the agent reports those formulas' estimate instead.
import t from 'tap';
import { Collector } from '../../src/collector';
import type { ReaderOptions } from '../../src/native';
import { ringbufWriter, tcpListeners } from '../helpers/fixtures';
import { features, kernelRelease, possibleCpus } from '../helpers/features';
import { bpftoolMap, bpftoolShow, collectOnce, createMap, F_NO_PREALLOC, fill, find, mapOps, type TestMap, u32, WALK_EVERY_MAP } from '../helpers/kernel';

const exact = features.memUsage();
t.comment(`kernel ${kernelRelease()}: fdinfo memlock is ${exact ? 'exact (map_mem_usage)' : 'rough (< 6.4)'}`);

/** bpftool's memlock of every map, in one call (each bpftool run is slow in an emulated guest). */
function memlockById(): Map<number, number> {
  return new Map(bpftoolShow().map((m) => [m.id, m.bytes_memlock]));
}

function lpmKey(i: number): Buffer {
  const k = Buffer.alloc(8);
  k.writeUInt32LE(32);
  k.writeUInt32BE(0x0a000000 + i, 4);
  return k;
}

/** Maps whose memory follows their entries on 6.4+, each with a way to add and remove. */
function growing(t: Parameters<typeof createMap>[0]) {
  const inner = createMap(t, { type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
  const socks = tcpListeners(t, 40);
  const kv = (m: TestMap) => ({
    add: (k: number) => mapOps().update(m.fd, u32(k), u32(k)),
    del: (k: number) => mapOps().delete(m.fd, u32(k)),
  });
  const list: Array<{ label: string; m: TestMap; add(k: number): void; del(k: number): void }> = [];
  for (const type of ['hash', 'percpu_hash']) {
    const m = createMap(t, { type, keySize: 4, valueSize: 4, maxEntries: 64, flags: F_NO_PREALLOC, name: 'mem_grow' });
    list.push({ label: `${type} no_prealloc`, m, ...kv(m) });
  }
  {
    const m = createMap(t, { type: 'hash_of_maps', keySize: 4, valueSize: 4, maxEntries: 64, flags: F_NO_PREALLOC, innerMapFd: inner.fd });
    list.push({ label: 'hash_of_maps no_prealloc', m, add: (k) => mapOps().update(m.fd, u32(k), u32(inner.fd)), del: kv(m).del });
  }
  {
    const m = createMap(t, { type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 64, flags: F_NO_PREALLOC });
    list.push({ label: 'lpm_trie', m, add: (k) => mapOps().update(m.fd, lpmKey(k), u32(k)), del: (k) => mapOps().delete(m.fd, lpmKey(k)) });
  }
  for (const type of ['devmap', 'devmap_hash']) {
    const m = createMap(t, { type, keySize: 4, valueSize: 4, maxEntries: 64 });
    list.push({ label: type, m, add: (k) => mapOps().update(m.fd, u32(k), u32(1)), del: kv(m).del });
  }
  {
    const m = createMap(t, { type: 'sockhash', keySize: 4, valueSize: 4, maxEntries: 64 });
    list.push({ label: 'sockhash', m, add: (k) => mapOps().update(m.fd, u32(k), u32(socks[k]!)), del: kv(m).del });
  }
  return list;
}

t.test('memory follows the fill and equals bpftool at every step, through the memlock cache', async (t) => {
  const maps = growing(t);
  const fixed = [
    createMap(t, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 64, name: 'mem_fixed' }),
    createMap(t, { type: 'array', keySize: 4, valueSize: 4, maxEntries: 64, name: 'mem_fixed' }),
  ];
  const collector = new Collector({ reader: { memoryEstimate: 'never' } });
  t.teardown(() => collector.close());
  const steps: Array<[string, (x: (typeof maps)[number]) => void]> = [
    ['empty', () => {}],
    ['10 entries', (x) => { for (let k = 0; k < 10; k++) x.add(k); }],
    ['30 entries', (x) => { for (let k = 10; k < 30; k++) x.add(k); }],
    ['20 removed', (x) => { for (let k = 0; k < 20; k++) x.del(k); }],
  ];
  const seen = new Map<string, Set<number>>();
  for (const [i, [step, change]] of steps.entries()) {
    for (const x of maps) change(x);
    fill(fixed[0]!, 4, 4, 5 * i); // entries move, memory (preallocated) does not
    const col = await collector.collect();
    const shown = memlockById();
    for (const x of [...maps, ...fixed.map((m) => ({ label: 'fixed', m }))]) {
      const got = find(col, x.m.id);
      const truth = shown.get(x.m.id);
      t.equal(got?.memoryBytes, truth, `${x.label}, ${step}: memory equals bpftool's (${truth})`);
      t.equal(got?.memoryEstimated, false, `${x.label}: read from fdinfo`);
      if (!seen.has(x.label)) seen.set(x.label, new Set());
      if (truth !== undefined) seen.get(x.label)!.add(truth);
    }
  }
  // On 6.4+ these figures move with the fill; before, fdinfo's figure is fixed at creation.
  for (const x of maps) t.equal(seen.get(x.label)!.size > 1, exact, `${x.label}: memory ${exact ? 'changed' : 'fixed'} with the fill`);
});

/** One map of every type the agent has a formula for, in several shapes. */
function estimable(t: Parameters<typeof createMap>[0]) {
  const list: Array<{ label: string; id: number; hash?: boolean }> = [];
  const add = (label: string, o: Parameters<typeof createMap>[1], n = 0) => {
    const m = createMap(t, o);
    if (n) fill(m, o.keySize, o.valueSize, n);
    list.push({ label, id: m.id, hash: /hash/.test(String(o.type)) });
    return m;
  };
  for (const type of ['hash', 'percpu_hash', 'lru_hash', 'lru_percpu_hash'])
    for (const max of [1, 100, 1000]) add(`${type}, ${max} max`, { type, keySize: 4, valueSize: 12, maxEntries: max }, Math.min(max, 7));
  add('lru_hash, no common LRU', { type: 'lru_hash', keySize: 4, valueSize: 8, maxEntries: 33, flags: 2 }, 5);
  for (const type of ['hash', 'percpu_hash'])
    for (const n of [0, 9]) add(`${type} no_prealloc, ${n}`, { type, keySize: 6, valueSize: 20, maxEntries: 100, flags: F_NO_PREALLOC }, n);
  const inner = createMap(t, { type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
  for (const flags of [0, F_NO_PREALLOC]) {
    const m = add(`hash_of_maps${flags ? ' no_prealloc' : ''}`, { type: 'hash_of_maps', keySize: 4, valueSize: 4, maxEntries: 8, flags, innerMapFd: inner.fd });
    mapOps().update(m.fd, u32(1), u32(inner.fd));
  }
  add('array', { type: 'array', keySize: 4, valueSize: 12, maxEntries: 100 });
  add('array, mmapable', { type: 'array', keySize: 4, valueSize: 12, maxEntries: 100, flags: 1024 });
  add('percpu_array', { type: 'percpu_array', keySize: 4, valueSize: 12, maxEntries: 100 });
  add('ringbuf', { type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: 16384 });
  list.push({ label: 'ringbuf, written', id: ringbufWriter(t, { ringSize: 8192, recordSize: 8 }).id });
  if (features.mapType('BPF_MAP_TYPE_USER_RINGBUF')) add('user_ringbuf', { type: 'user_ringbuf', keySize: 0, valueSize: 0, maxEntries: 8192 });
  const lpm = add('lpm_trie', { type: 'lpm_trie', keySize: 8, valueSize: 6, maxEntries: 100, flags: F_NO_PREALLOC });
  for (let i = 0; i < 5; i++) mapOps().update(lpm.fd, lpmKey(i), Buffer.alloc(6));
  add('queue', { type: 'queue', keySize: 0, valueSize: 12, maxEntries: 10 });
  add('stack', { type: 'stack', keySize: 0, valueSize: 12, maxEntries: 10 });
  return list;
}

if (exact) {
  t.test("the agent's formulas give fdinfo's exact figure on this kernel (>= 6.4)", async (t) => {
    const maps = estimable(t);
    const col = await collectOnce({ memoryEstimate: 'always' });
    const shown = memlockById();
    // One known difference: rqspinlock buckets (6.15) removed the per-CPU lock ints of hash
    // maps (bpf_htab.map_locked), and the agent counts them only where the kernel's BTF has
    // them, but htab_map_mem_usage went on counting HASHTAB_MAP_LOCK_COUNT (8) ints per
    // possible CPU until 7.2. Where map_locked is gone, fdinfo is one of the two figures.
    const leftover = features.htabMapLocked() ? 0 : 4 * 8 * possibleCpus();
    for (const x of maps) {
      const got = find(col, x.id);
      const truth = shown.get(x.id)!;
      t.equal(got?.memoryEstimated, true, `${x.label}: estimated`);
      if (x.hash && leftover && got?.memoryBytes === truth - leftover) t.pass(`${x.label}: the estimate is fdinfo's figure but the lock ints this kernel no longer has`);
      else t.equal(got?.memoryBytes, truth, `${x.label}: the estimate is fdinfo's figure`);
    }
    // By default fdinfo is read: it is exact here.
    const auto = await collectOnce();
    for (const x of maps) t.equal(find(auto, x.id)?.memoryEstimated, false, `${x.label}: fdinfo by default`);
  });
} else {
  t.test('before 6.4, memory is the estimate for the types with a formula, fdinfo for the rest', async (t) => {
    const maps = estimable(t);
    const other = createMap(t, { type: 'devmap', keySize: 4, valueSize: 4, maxEntries: 8 });
    const options: ReaderOptions[] = [{}, { memoryEstimate: 'never' }];
    const [auto, never] = await Promise.all(options.map((o) => collectOnce(o)));
    const shown = memlockById();
    for (const x of maps) {
      const est = find(auto!, x.id);
      t.equal(est?.memoryEstimated, true, `${x.label}: estimated`);
      t.ok(est!.memoryBytes! > 0, `${x.label}: a figure`);
      t.equal(find(never!, x.id)?.memoryBytes, shown.get(x.id), `${x.label}: fdinfo when asked for`);
    }
    t.equal(find(auto!, other.id)?.memoryEstimated, false, 'devmap: no formula, fdinfo');
    t.equal(find(auto!, other.id)?.memoryBytes, bpftoolMap(other.id).bytes_memlock, 'devmap: fdinfo figure');
    // A non-preallocated hash map's estimate follows its entries, where fdinfo stands still.
    const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64, flags: F_NO_PREALLOC, name: 'mem_old' });
    const collector = new Collector({ reader: WALK_EVERY_MAP });
    t.teardown(() => collector.close());
    const figures: number[] = [];
    for (const n of [0, 10, 30]) {
      fill(m, 4, 8, n);
      figures.push(find(await collector.collect(), m.id)!.memoryBytes!);
    }
    t.ok(figures[0]! < figures[1]! && figures[1]! < figures[2]!, `the estimate grows with the entries (${figures.join(' < ')})`);
    t.equal((figures[2]! - figures[1]!) / 20, (figures[1]! - figures[0]!) / 10, 'by the same amount per entry');
  });
}
