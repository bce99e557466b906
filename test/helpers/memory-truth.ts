// SPDX-License-Identifier: Apache-2.0
/**
 * What the agent's memory figure for one map must be, on the kernel the test runs on.
 *
 * From 6.4 (the BTF has map_mem_usage) fdinfo's memlock is the map's memory: the figure must
 * be fdinfo's, to the byte, and not flagged as an estimate. Before 6.4 memlock is a rough
 * figure, and the agent estimates with 6.4's formulas instead for the types that have one,
 * flagged `memoryEstimated`; the other types keep fdinfo's figure. The estimate's own
 * correctness is test/kernel/memory.test.ts's concern (the same formulas equal fdinfo on
 * 6.4+); here it must only be present, flagged, and for exactly those types.
 */
import { features } from './features';

/** The types the agent has a memory formula for (README, "Memory on older kernels"). */
const ESTIMATED_TYPES = new Set(['hash', 'percpu_hash', 'lru_hash', 'lru_percpu_hash', 'hash_of_maps', 'array', 'percpu_array', 'ringbuf', 'user_ringbuf', 'lpm_trie', 'queue', 'stack']);

/** A tap test: what the assertions here are made on. */
type Asserts = tap.Test;

/** The agent's reading of one map's memory. */
export interface MemoryReading {
  type: string;
  memoryBytes: number | null;
  memoryEstimated: boolean;
}

/** Whether the agent estimates this type's memory on the running kernel. */
export function estimatesMemory(type: string): boolean {
  return !features.memUsage() && ESTIMATED_TYPES.has(type);
}

/**
 * Asserts the agent's memory figure for a map against bpftool's memlock (`memlock`), the
 * truth on 6.4+; before 6.4 an estimate stands in for the types that have a formula.
 */
export function assertMemory(t: Asserts, got: MemoryReading | undefined, memlock: number | undefined, label: string): void {
  if (estimatesMemory(got?.type ?? '')) {
    t.equal(got?.memoryEstimated, true, `${label}: memory estimated (< 6.4, memlock is rough)`);
    t.ok((got?.memoryBytes ?? 0) > 0, `${label}: an estimate (${got?.memoryBytes}) in place of memlock ${memlock}`);
  } else {
    t.equal(got?.memoryEstimated, false, `${label}: memory read from fdinfo`);
    t.equal(got?.memoryBytes, memlock, `${label}: memory equals bpftool's memlock`);
  }
}
