// SPDX-License-Identifier: Apache-2.0
/**
 * Per map type: bpftool's spelling of its name, and whether "how full" means anything for
 * it. The README's per-type table is generated from (and tested against) this one.
 */

/** How a type's fill is reported. */
export type FillKind =
  /** Entries against max_entries: the map can run out of room. */
  | 'entries'
  /** Bytes written and not yet consumed against the data size (ring buffers). */
  | 'bytes'
  /** Fill is meaningless or unknowable: limit and memory only, with a reason. */
  | 'none';

export interface MapTypeInfo {
  readonly id: number;
  /** bpftool's (and libbpf's) name for the type. */
  readonly name: string;
  readonly fill: FillKind;
  /** Why fill is not reported, for fill === 'none'. */
  readonly reason?: string;
  /** How entries are counted, by kernel (the README's per-type table). */
  readonly counted?: string;
}

const PREALLOCATED = 'preallocated: every slot exists from creation';
const LOCAL_STORAGE = 'no capacity limit: storage attached to each owner object';

// How each countable type is counted (count_method), by kernel. Pre-6.6 hash maps: the
// kernel's counter exists only without preallocation, and only while it is not per-CPU
// (6.1+: max_entries / 2 > 32 x CPUs); the rest are walked (iter/bpf_map_elem).
const HASH = '`kfunc` (6.6+); before: `kernel_counter` if `BPF_F_NO_PREALLOC` (small enough not to count per CPU), else `walk`';
const LRU = '`kfunc` (6.6+); before: `walk` (always preallocated)';
const KERNEL_STATE = (what: string) => `\`kernel_counter\` (${what}), every kernel`;

const TYPES: readonly MapTypeInfo[] = [
  { id: 0, name: 'unspec', fill: 'none', reason: 'not a real map type' },
  { id: 1, name: 'hash', fill: 'entries', counted: HASH },
  { id: 2, name: 'array', fill: 'none', reason: PREALLOCATED },
  { id: 3, name: 'prog_array', fill: 'none', reason: PREALLOCATED },
  { id: 4, name: 'perf_event_array', fill: 'none', reason: PREALLOCATED },
  { id: 5, name: 'percpu_hash', fill: 'entries', counted: HASH },
  { id: 6, name: 'percpu_array', fill: 'none', reason: PREALLOCATED },
  { id: 7, name: 'stack_trace', fill: 'none', reason: 'the kernel keeps no count of stored stacks' },
  { id: 8, name: 'cgroup_array', fill: 'none', reason: PREALLOCATED },
  { id: 9, name: 'lru_hash', fill: 'entries', counted: LRU },
  { id: 10, name: 'lru_percpu_hash', fill: 'entries', counted: LRU },
  { id: 11, name: 'lpm_trie', fill: 'entries', counted: KERNEL_STATE('n_entries') },
  { id: 12, name: 'array_of_maps', fill: 'none', reason: PREALLOCATED },
  {
    id: 13,
    name: 'hash_of_maps',
    fill: 'entries',
    counted: '`kfunc` (6.6+); before: `kernel_counter` if `BPF_F_NO_PREALLOC`, else not counted (no element iterator for this type)',
  },
  { id: 14, name: 'devmap', fill: 'none', reason: PREALLOCATED },
  { id: 15, name: 'sockmap', fill: 'entries', counted: '`walk` (iter/sockmap), on every kernel that runs iter/sockmap (5.10+; some refuse it: then not counted): the kernel keeps no count' },
  { id: 16, name: 'cpumap', fill: 'none', reason: PREALLOCATED },
  { id: 17, name: 'xskmap', fill: 'none', reason: PREALLOCATED },
  { id: 18, name: 'sockhash', fill: 'entries', counted: KERNEL_STATE('count') },
  { id: 19, name: 'cgroup_storage', fill: 'none', reason: LOCAL_STORAGE },
  { id: 20, name: 'reuseport_sockarray', fill: 'none', reason: PREALLOCATED },
  { id: 21, name: 'percpu_cgroup_storage', fill: 'none', reason: LOCAL_STORAGE },
  { id: 22, name: 'queue', fill: 'entries', counted: KERNEL_STATE('head - tail') },
  { id: 23, name: 'stack', fill: 'entries', counted: KERNEL_STATE('head - tail') },
  { id: 24, name: 'sk_storage', fill: 'none', reason: LOCAL_STORAGE },
  { id: 25, name: 'devmap_hash', fill: 'entries', counted: KERNEL_STATE('items') },
  { id: 26, name: 'struct_ops', fill: 'none', reason: 'not a data map: holds one set of kernel callbacks' },
  { id: 27, name: 'ringbuf', fill: 'bytes', counted: KERNEL_STATE('producer - consumer position') },
  { id: 28, name: 'inode_storage', fill: 'none', reason: LOCAL_STORAGE },
  { id: 29, name: 'task_storage', fill: 'none', reason: LOCAL_STORAGE },
  { id: 30, name: 'bloom_filter', fill: 'none', reason: 'a bloom filter keeps bits, not entries' },
  { id: 31, name: 'user_ringbuf', fill: 'bytes', counted: KERNEL_STATE('producer - consumer position') },
  { id: 32, name: 'cgrp_storage', fill: 'none', reason: LOCAL_STORAGE },
  { id: 33, name: 'arena', fill: 'none', reason: 'memory arena: max_entries counts pages, mapped on demand' },
  { id: 34, name: 'insn_array', fill: 'none', reason: PREALLOCATED },
  { id: 35, name: 'rhash', fill: 'entries', counted: '`kernel_counter` (rhashtable `nelems`), 7.2+' },
];

const BY_ID = new Map(TYPES.map((t) => [t.id, t]));
const BY_NAME = new Map(TYPES.map((t) => [t.name, t]));

/** Every known type, by id. */
export const MAP_TYPES: readonly MapTypeInfo[] = TYPES;

/** The type's info; an id newer than this table gets a generic "unknown" entry. */
export function mapType(id: number): MapTypeInfo {
  return BY_ID.get(id) ?? { id, name: `unknown_${id}`, fill: 'none', reason: 'map type unknown to this agent' };
}

export function mapTypeByName(name: string): MapTypeInfo | undefined {
  return BY_NAME.get(name);
}

/** The hash family: counted exactly by bpf_map_sum_elem_count (kernel >= 6.6). */
export const HASH_FAMILY: ReadonlySet<string> = new Set([
  'hash',
  'percpu_hash',
  'lru_hash',
  'lru_percpu_hash',
  'hash_of_maps',
]);
