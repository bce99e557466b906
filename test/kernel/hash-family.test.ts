// The hash family on the real kernel: known fills, compared with bpftool's view.
import t from 'tap';
import { features } from '../helpers/features';
import { bpftoolDumpCount, bpftoolMap, collectOnce, createMap, F_NO_PREALLOC, fill, find, mapOps, u32 } from '../helpers/kernel';

// Without the kfunc (< 6.6) the fallbacks count (test/kernel/fallback.test.ts); before 6.4
// memory of these types is the agent's estimate (test/kernel/memory.test.ts).
const kfunc = features.kfunc();
const method = (flags: number) => (kfunc ? 'kfunc' : flags & F_NO_PREALLOC ? 'kernel_counter' : 'walk');

const MAX = 64;
const cases: Array<{ type: string; flags: number; fill: number }> = [];
for (const type of ['hash', 'percpu_hash', 'lru_hash', 'lru_percpu_hash']) {
  for (const n of [0, 17, MAX]) cases.push({ type, flags: 0, fill: n });
}
for (const type of ['hash', 'percpu_hash']) for (const n of [0, 17, MAX]) cases.push({ type, flags: F_NO_PREALLOC, fill: n });

t.test('entries, limit, utilization and memory of hash-family maps', async (t) => {
  const made = cases.map((c, i) => {
    const m = createMap(t, { type: c.type, keySize: 4, valueSize: 8, maxEntries: MAX, flags: c.flags, name: `hf_${i}` });
    fill(m, 4, 8, c.fill);
    return { ...c, m, name: `hf_${i}` };
  });
  const c = await collectOnce();
  for (const x of made) {
    const label = `${x.type}${x.flags ? ' no_prealloc' : ''} filled with ${x.fill}`;
    const got = find(c, x.m.id);
    const truth = bpftoolMap(x.m.id);
    if (!got) {
      t.fail(`${label}: map ${x.m.id} not reported`);
      continue;
    }
    const held = bpftoolDumpCount(x.m.id); // LRU maps may hold fewer than were inserted
    if (!x.type.startsWith('lru')) t.equal(held, x.fill, `${label}: the map holds what was inserted`);
    t.equal(got.entries, held, `${label}: entries`);
    t.equal(got.countMethod, method(x.flags), `${label}: counted by ${method(x.flags)}`);
    t.equal(got.maxEntries, MAX, `${label}: max_entries`);
    t.equal(got.utilization, held / MAX, `${label}: utilization`);
    if (!got.memoryEstimated) t.equal(got.memoryBytes, truth.bytes_memlock, `${label}: memory equals bpftool's memlock`);
    t.equal(got.name, x.name, `${label}: name`);
    t.equal(got.type, truth.type, `${label}: type spelled as bpftool does`);
  }
});

t.test('an LRU map filled past its size reports what it holds, not what was inserted', async (t) => {
  const m = createMap(t, { type: 'lru_hash', keySize: 4, valueSize: 8, maxEntries: 50, name: 'lru_over' });
  fill(m, 4, 8, 200);
  const held = bpftoolDumpCount(m.id);
  const got = find(await collectOnce(), m.id);
  t.ok(held <= 50, `the map holds at most its size (${held})`);
  t.equal(got?.entries, held);
});

t.test('hash_of_maps counts its inner maps', async (t) => {
  const inner = createMap(t, { type: 'array', keySize: 4, valueSize: 4, maxEntries: 1, name: 'hom_inner' });
  const outer = createMap(t, { type: 'hash_of_maps', keySize: 4, valueSize: 4, maxEntries: 8, innerMapFd: inner.fd, name: 'hom_outer' });
  for (let k = 0; k < 3; k++) mapOps().update(outer.fd, u32(k), u32(inner.fd));
  const got = find(await collectOnce(), outer.id);
  if (kfunc) {
    t.equal(got?.entries, 3);
    t.equal(got?.utilization, 3 / 8);
  } else {
    // Preallocated hash_of_maps: no counter, no element iterator before the kfunc.
    t.equal(got?.countMethod, 'none');
    t.match(got?.notCounted, /no element iterator/);
  }
  if (!got?.memoryEstimated) t.equal(got?.memoryBytes, bpftoolMap(outer.id).bytes_memlock);
});

t.test('arrays get limit and memory, never utilization', async (t) => {
  for (const type of ['array', 'percpu_array']) {
    const m = createMap(t, { type, keySize: 4, valueSize: 8, maxEntries: 32, name: `arr_${type.slice(0, 6)}` });
    const got = find(await collectOnce(), m.id);
    t.equal(got?.maxEntries, 32, `${type}: max_entries`);
    t.equal(got?.entries, null, `${type}: no entries`);
    t.equal(got?.utilization, null, `${type}: no utilization`);
    t.match(got?.notCounted, /preallocated/, `${type}: says why`);
    if (!got?.memoryEstimated) t.equal(got?.memoryBytes, bpftoolMap(m.id).bytes_memlock, `${type}: memory`);
  }
});
