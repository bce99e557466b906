// SPDX-License-Identifier: Apache-2.0
/**
 * The capability sets measured by test/deploy/capabilities.test.ts and documented in the
 * README ("Least privilege"). The deploy files (compose, systemd unit, DaemonSet) are checked
 * against FULL; the test proves FULL gives full function and what each smaller set loses.
 */

/**
 * Full function (every map seen and counted, memory read). CAP_SYS_ADMIN alone: it loads the
 * iterator (the kernel accepts it in place of CAP_BPF and CAP_PERFMON) and it is what
 * BPF_MAP_GET_FD_BY_ID requires for the memory figures, which nothing smaller grants.
 */
export const FULL = ['CAP_SYS_ADMIN'] as const;

/** Every map seen and counted, but no ebpf.map.memory: for hosts that refuse CAP_SYS_ADMIN. */
export const NO_MEMORY = ['CAP_BPF', 'CAP_PERFMON'] as const;

/** "CAP_SYS_ADMIN" -> "SYS_ADMIN" (the spelling of docker and Kubernetes). */
export const bare = (cap: string): string => cap.replace(/^CAP_/, '');
