// SPDX-License-Identifier: Apache-2.0
/**
 * What the running kernel offers, read from its BTF (test/helpers/btf.ts): the tests' own truth about
 * features, independent of how the agent detects them. Tests on a kernel that lacks a
 * feature assert the documented fallback instead of skipping.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import { vmlinuxFacts } from './btf';
import { fixtures } from './fixtures';

/** What the tests ask of the BTF (test/helpers/btf.ts), read once per process. */
interface Facts {
  kfunc: boolean;
  members: Record<string, string[]>;
  mapTypes: string[];
}

const STRUCTS = ['bpf_map_ops', 'bpf_htab'];

let facts: Facts | undefined;
function btf(): Facts {
  if (facts) return facts;
  const f = vmlinuxFacts(STRUCTS);
  facts = { kfunc: f.funcs.has('bpf_map_sum_elem_count'), members: f.members, mapTypes: [...f.enumerators].filter((n) => n.startsWith('BPF_MAP_TYPE_')) };
  return facts;
}

const members = (struct: string) => btf().members[struct] ?? [];

/** num_possible_cpus(): per-CPU parts of a map are sized by it. */
export function possibleCpus(): number {
  let n = 0;
  for (const range of readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim().split(',')) {
    const [a, b] = range.split('-').map(Number);
    n += b === undefined ? 1 : b - a! + 1;
  }
  return n;
}

/** The kernel's release, as the matrix names it. */
export function kernelRelease(): string {
  return process.env.EMP_KERNEL_UNDER_TEST || os.release();
}

/** Whether the kernel loads an iterator program of a target: it may refuse it (EPERM) or lack it. */
export type ProgramSupport = 'loads' | 'refused' | 'absent';

const probed = new Map<string, ProgramSupport>();
function probeIterator(target: string): ProgramSupport {
  let got = probed.get(target);
  if (!got) {
    const rc = fixtures().probeIterator(target);
    got = rc === 0 ? 'loads' : rc === -1 || rc === -13 ? 'refused' : 'absent';
    probed.set(target, got);
  }
  return got;
}

export const features = {
  /** iter/bpf_map_elem, the hash maps' element walk: some kernels refuse it at load (EPERM). */
  walkElements: () => probeIterator('bpf_map_elem'),
  /** iter/sockmap, the sockmap walk: refused like iter/bpf_map_elem, or absent before 5.10. */
  walkSockets: () => probeIterator('sockmap'),
  /** bpf_map_sum_elem_count (6.6+): the hash family is counted by the kfunc. */
  kfunc: () => btf().kfunc,
  /** map_mem_usage (6.4+): fdinfo memlock is the map's real memory. */
  memUsage: () => members('bpf_map_ops').includes('map_mem_usage'),
  /** use_percpu_counter (6.1+): large non-preallocated hash maps count per CPU. */
  percpuCounter: () => members('bpf_htab').includes('use_percpu_counter'),
  /** map_locked (5.13 to 6.14): per-CPU lock ints of every hash map. */
  htabMapLocked: () => members('bpf_htab').includes('map_locked'),
  /** Whether the kernel knows a map type, e.g. 'BPF_MAP_TYPE_USER_RINGBUF'. */
  mapType: (name: string) => btf().mapTypes.includes(name),
};

/**
 * One cell of the README's support matrix (kernel x map type x method), appended to the
 * file named by EMP_SUPPORT_OUT when set (scripts/support-matrix.sh collects them).
 */
export function recordSupport(row: string, method: string, exact: boolean): void {
  const out = process.env.EMP_SUPPORT_OUT;
  if (!out) return;
  appendFileSync(out, `${JSON.stringify({ kernel: kernelRelease(), row, method, exact })}\n`);
}
