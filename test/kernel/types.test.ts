// SPDX-License-Identifier: Apache-2.0
// Fill on the real kernel, for every map type that can run out: one map of each, filled to
// a known level, must be reported exactly, counted by the method this kernel allows (from
// its BTF, read here with bpftool). On a kernel that lacks a feature the test asserts the
// documented fallback. Each result is also a cell of the README's support matrix.
import * as os from 'node:os';
import t from 'tap';
import type { CountMethod } from '../../src/records';
import { mapTypeByName } from '../../src/map-types';
import { fixtures, ringbufRecordBytes, ringbufWriter, tcpListeners } from '../helpers/fixtures';
import { features, kernelRelease, recordSupport } from '../helpers/features';
import { bpftoolDumpCount, bpftoolMap, collectOnce, createMap, F_NO_PREALLOC, fill, find, mapOps, type TestMap, u32 } from '../helpers/kernel';

const kfunc = features.kfunc();
const percpuCounter = features.percpuCounter();
// Whether the kernel runs the element-walk programs: probed, not assumed (some refuse them).
const walkElements = features.walkElements();
const walkSockets = features.walkSockets();
t.comment(`kernel ${kernelRelease()}: kfunc ${kfunc}, per-CPU counter ${percpuCounter}, iter/bpf_map_elem ${walkElements}, iter/sockmap ${walkSockets}`);
recordSupport('element-walk programs (iter/bpf_map_elem, iter/sockmap)', walkElements === walkSockets ? walkElements : `${walkElements}, ${walkSockets}`, true);

/** The method that counts a hash map on this kernel (see README "Support matrix"). */
function hashMethod(o: { prealloc: boolean; usesPercpuCounter?: boolean; ofMaps?: boolean }): CountMethod {
  if (kfunc) return 'kfunc';
  if (!o.prealloc && !(o.usesPercpuCounter && percpuCounter)) return 'kernel_counter';
  return o.ofMaps || walkElements !== 'loads' ? 'none' : 'walk';
}

/** For method 'none' where a walk would count the map: the kernel refuses or lacks the program. */
const WALK_REFUSED = /needs an element walk .*which this kernel does not run/;

function lpmKey(i: number): Buffer {
  const k = Buffer.alloc(8);
  k.writeUInt32LE(32); // prefix length, then an IPv4 address
  k.writeUInt32BE(0x0a000000 + i, 4);
  return k;
}

interface Made {
  id: number;
  /** The truth: entries held (a dump), or bytes pending in a ring buffer. */
  truth: () => number;
}

interface Case {
  row: string;
  /** Kernel type name (enum bpf_map_type) when it may be missing on old kernels. */
  needs?: string;
  method: CountMethod;
  /** For method 'none': why, as the snapshot says. */
  reason?: RegExp;
  bytes?: boolean;
  make(t: tap.Test): Made;
}

// Above 2 * 32 * CPUs a non-preallocated hash map counts per CPU (6.1+), not in htab->count.
const BIG = 64 * os.cpus().length + 64;

function hash(t: tap.Test, type: string, max: number, n: number, flags = 0): Made {
  const m = createMap(t, { type, keySize: 4, valueSize: 8, maxEntries: max, flags, name: `ty_${type.slice(0, 12)}` });
  t.equal(fill(m, 4, 8, n), n, `${type}: ${n} inserted`);
  return { id: m.id, truth: () => bpftoolDumpCount(m.id) };
}

const cases: Case[] = [
  { row: 'hash', method: hashMethod({ prealloc: true }), make: (t) => hash(t, 'hash', 64, 17) },
  { row: 'hash (no_prealloc)', method: hashMethod({ prealloc: false }), make: (t) => hash(t, 'hash', 64, 17, F_NO_PREALLOC) },
  {
    row: `hash (no_prealloc, max_entries > 64 x CPUs)`,
    method: hashMethod({ prealloc: false, usesPercpuCounter: true }),
    make: (t) => hash(t, 'hash', BIG, 23, F_NO_PREALLOC),
  },
  { row: 'percpu_hash', method: hashMethod({ prealloc: true }), make: (t) => hash(t, 'percpu_hash', 64, 17) },
  { row: 'percpu_hash (no_prealloc)', method: hashMethod({ prealloc: false }), make: (t) => hash(t, 'percpu_hash', 64, 17, F_NO_PREALLOC) },
  { row: 'lru_hash', method: hashMethod({ prealloc: true }), make: (t) => hash(t, 'lru_hash', 64, 17) },
  { row: 'lru_percpu_hash', method: hashMethod({ prealloc: true }), make: (t) => hash(t, 'lru_percpu_hash', 64, 17) },
  ...[0, F_NO_PREALLOC].map(
    (flags): Case => ({
      row: flags ? 'hash_of_maps (no_prealloc)' : 'hash_of_maps',
      method: hashMethod({ prealloc: !flags, ofMaps: true }),
      reason: /no kernel counter and no element iterator/,
      make(t) {
        const inner = createMap(t, { type: 'array', keySize: 4, valueSize: 4, maxEntries: 1, name: 'ty_inner' });
        const m = createMap(t, { type: 'hash_of_maps', keySize: 4, valueSize: 4, maxEntries: 8, flags, innerMapFd: inner.fd, name: 'ty_hom' });
        for (let k = 0; k < 3; k++) mapOps().update(m.fd, u32(k), u32(inner.fd));
        return { id: m.id, truth: () => bpftoolDumpCount(m.id) };
      },
    }),
  ),
  {
    row: 'lpm_trie',
    method: 'kernel_counter',
    make(t) {
      const m = createMap(t, { type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 16, flags: F_NO_PREALLOC, name: 'ty_lpm' });
      for (let i = 0; i < 7; i++) mapOps().update(m.fd, lpmKey(i), u32(i));
      return { id: m.id, truth: () => bpftoolDumpCount(m.id) };
    },
  },
  ...['queue', 'stack'].map(
    (type): Case => ({
      row: type,
      method: 'kernel_counter',
      make(t) {
        const m = createMap(t, { type, keySize: 0, valueSize: 4, maxEntries: 8, name: `ty_${type}` });
        // Fill, drain some, fill again: the ring's head wraps round behind its tail.
        for (let i = 0; i < 8; i++) mapOps().update(m.fd, null, u32(i));
        for (let i = 0; i < 6; i++) mapOps().lookupAndDelete(m.fd, null, 4);
        for (let i = 0; i < 3; i++) mapOps().update(m.fd, null, u32(i));
        return { id: m.id, truth: () => 8 - 6 + 3 };
      },
    }),
  ),
  {
    row: 'ringbuf',
    method: 'kernel_counter',
    bytes: true,
    make(t) {
      const size = 20;
      const { writer, id } = ringbufWriter(t, { ringSize: 4096, recordSize: size });
      writer.fire(9);
      t.same(writer.stats(), { written: 9, dropped: 0 }, 'ringbuf: 9 records written, none dropped');
      return { id, truth: () => 9 * ringbufRecordBytes(size) };
    },
  },
  {
    row: 'user_ringbuf',
    needs: 'BPF_MAP_TYPE_USER_RINGBUF',
    method: 'kernel_counter',
    bytes: true,
    make(t) {
      const m = createMap(t, { type: 'user_ringbuf', keySize: 0, valueSize: 0, maxEntries: 4096, name: 'ty_urb' });
      const size = 13;
      t.equal(fixtures().produceUserRingbuf(m.fd, size, 6), 6, 'user_ringbuf: 6 samples submitted');
      return { id: m.id, truth: () => 6 * ringbufRecordBytes(size) };
    },
  },
  {
    row: 'devmap_hash',
    method: 'kernel_counter',
    make(t) {
      const m = createMap(t, { type: 'devmap_hash', keySize: 4, valueSize: 4, maxEntries: 16, name: 'ty_devh' });
      for (let k = 0; k < 4; k++) mapOps().update(m.fd, u32(k * 3), u32(1)); // ifindex 1: lo
      return { id: m.id, truth: () => bpftoolDumpCount(m.id) };
    },
  },
  {
    row: 'rhash',
    needs: 'BPF_MAP_TYPE_RHASH',
    method: 'kernel_counter',
    make(t) {
      // Resizable, always without preallocation; max_entries is still a hard limit.
      const m = createMap(t, { type: 'rhash', keySize: 4, valueSize: 8, maxEntries: 16, flags: F_NO_PREALLOC, name: 'ty_rhash' });
      t.equal(fill(m, 4, 8, 20), 16, 'rhash: full at max_entries (16 of 20 inserted)');
      for (let k = 0; k < 5; k++) mapOps().delete(m.fd, u32(k * 3));
      return { id: m.id, truth: () => bpftoolDumpCount(m.id) };
    },
  },
  ...['sockhash', 'sockmap'].map(
    (type): Case => ({
      row: type,
      method: type === 'sockhash' ? 'kernel_counter' : walkSockets === 'loads' ? 'walk' : 'none',
      ...(type === 'sockmap' && walkSockets !== 'loads' && { reason: WALK_REFUSED }),
      make(t) {
        const m = createMap(t, { type, keySize: 4, valueSize: 4, maxEntries: 16, name: `ty_${type}` });
        tcpListeners(t, 3).forEach((fd, k) => mapOps().update(m.fd, u32(k * 5), u32(fd)));
        return { id: m.id, truth: () => 3 };
      },
    }),
  ),
];

t.test('every map type that can run out is reported exactly, with the method this kernel allows', async (t) => {
  const made: Array<{ c: Case; m: Made | null }> = [];
  for (const c of cases) {
    if (c.needs && !features.mapType(c.needs)) {
      // Older kernels lack the type: creating one must fail, and there is nothing to count.
      t.throws(() => c.make(t), { code: 'EINVAL' }, `${c.row}: no such map type on ${kernelRelease()}`);
      made.push({ c, m: null });
      continue;
    }
    made.push({ c, m: c.make(t) });
  }
  const col = await collectOnce();
  for (const { c, m } of made) {
    if (!m) {
      recordSupport(c.row, 'n/a', true);
      continue;
    }
    const got = find(col, m.id);
    if (!got) {
      t.fail(`${c.row}: map ${m.id} not reported`);
      continue;
    }
    t.equal(got.countMethod, c.method, `${c.row}: counted by ${c.method}`);
    let exact: boolean;
    if (c.method === 'none') {
      t.equal(got.entries, null, `${c.row}: no entries`);
      t.equal(got.utilization, null, `${c.row}: no utilization`);
      t.match(got.notCounted, c.reason ?? /./, `${c.row}: says why`);
      exact = got.entries === null;
    } else if (c.bytes) {
      const pending = m.truth();
      t.equal(got.pendingBytes, pending, `${c.row}: pending bytes`);
      t.equal(got.entries, null, `${c.row}: entries are not bytes`);
      t.equal(got.utilization, pending / got.maxEntries, `${c.row}: utilization = pending / size`);
      exact = got.pendingBytes === pending;
    } else {
      const held = m.truth();
      t.equal(got.entries, held, `${c.row}: entries (${held})`);
      t.equal(got.utilization, held / got.maxEntries, `${c.row}: utilization`);
      t.equal(got.notCounted, null, `${c.row}: counted`);
      exact = got.entries === held;
    }
    // A map left uncounted because the kernel refuses its walk says so in its cell.
    const cellMethod = got.notCountedReason === 'walk_unsupported' ? `${got.countMethod} (walk ${c.row === 'sockmap' ? walkSockets : walkElements})` : got.countMethod;
    recordSupport(c.row, cellMethod, exact && got.countMethod === c.method);
  }
});

t.test('types whose fill means nothing: limit and memory only, and the snapshot says why', async (t) => {
  const made: Array<{ type: string; max: number; m: TestMap | null }> = [];
  const make = (type: string, o: Omit<Parameters<typeof createMap>[1], 'type'>, needs?: string) => {
    if (needs && !features.mapType(needs)) {
      // Older kernels lack the type: creating one must fail.
      t.throws(() => createMap(t, { ...o, type }), { code: 'EINVAL' }, `${type}: no such map type on ${kernelRelease()}`);
      made.push({ type, max: o.maxEntries, m: null });
      return;
    }
    made.push({ type, max: o.maxEntries, m: createMap(t, { ...o, type }) });
  };
  make('array', { keySize: 4, valueSize: 8, maxEntries: 32 });
  make('percpu_array', { keySize: 4, valueSize: 8, maxEntries: 32 });
  make('prog_array', { keySize: 4, valueSize: 4, maxEntries: 8 });
  make('perf_event_array', { keySize: 4, valueSize: 4, maxEntries: 2 });
  make('cgroup_array', { keySize: 4, valueSize: 4, maxEntries: 4 });
  make('array_of_maps', { keySize: 4, valueSize: 4, maxEntries: 4, innerMapFd: createMap(t, { type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 }).fd });
  make('stack_trace', { keySize: 4, valueSize: 8 * 16, maxEntries: 16 });
  make('sk_storage', { keySize: 4, valueSize: 8, maxEntries: 0, flags: F_NO_PREALLOC, btf: true });
  make('devmap', { keySize: 4, valueSize: 4, maxEntries: 8 });
  make('cpumap', { keySize: 4, valueSize: 4, maxEntries: 2 });
  make('bloom_filter', { keySize: 0, valueSize: 4, maxEntries: 64 }, 'BPF_MAP_TYPE_BLOOM_FILTER');
  make('task_storage', { keySize: 4, valueSize: 8, maxEntries: 0, flags: F_NO_PREALLOC, btf: true }, 'BPF_MAP_TYPE_TASK_STORAGE');
  make('insn_array', { keySize: 4, valueSize: 16, maxEntries: 4 }, 'BPF_MAP_TYPE_INSN_ARRAY');
  const col = await collectOnce();
  for (const { type, max, m } of made) {
    if (!m) {
      recordSupport(type, 'n/a', true);
      continue;
    }
    const got = find(col, m.id);
    if (!got) {
      t.fail(`${type}: map ${m.id} not reported`);
      continue;
    }
    t.equal(got.type, type, `${type}: reported`);
    t.equal(got.entries, null, `${type}: no entries`);
    t.equal(got.utilization, null, `${type}: no utilization`);
    t.equal(got.countMethod, 'none', `${type}: not counted`);
    t.equal(got.notCounted, mapTypeByName(type)?.reason, `${type}: says why (${got.notCounted})`);
    t.equal(got.maxEntries, max, `${type}: max_entries`);
    // Estimated memory (kernels < 6.4) is checked against the kernel's formula in memory.test.ts.
    if (!got.memoryEstimated) t.equal(got.memoryBytes, bpftoolMap(m.id).bytes_memlock, `${type}: memory is fdinfo's`);
    recordSupport(type, got.countMethod, got.entries === null);
  }
});
