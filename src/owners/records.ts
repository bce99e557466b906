// SPDX-License-Identifier: Apache-2.0
/**
 * The owner records (bpf/owners.h) -> plain objects. The sizes here are the C layout; the
 * addon reports the sizes it was built with and a test checks both agree.
 */
import { AgentError } from '../errors';
import { textAt, u64 } from '../records';

export const FD_RECORD_SIZE = 96;
export const PROG_RECORD_SIZE = 328;
export const OWNERS_VERSION = 1;
const MAX_MAPS = 64;

/** enum owner_fd_kind, by value. */
export const FD_KINDS = [null, 'map', 'prog', 'link', 'perf_event'] as const;
export type FdKind = NonNullable<(typeof FD_KINDS)[number]>;

export interface FdRecord {
  kind: FdKind;
  pid: number;
  fd: number;
  /** Map, program or link id (0 for perf events). */
  id: number;
  /** Links and perf events: the program. */
  progId: number;
  linkType: number;
  /** As a number (exact below 2^53; an identity key, never arithmetic). */
  cgroupId: number;
  /** ns since boot: with the pid, the process's identity (a number, as cgroupId). */
  startTime: number;
  comm: string;
  exe: string;
}

export interface ProgRecord {
  id: number;
  typeId: number;
  attachType: number;
  name: string;
  attachTo: string;
  /** The first 64 maps (a program has at most 64). */
  mapIds: number[];
}

function check(buf: Buffer, size: number, what: string): void {
  if (buf.length % size !== 0)
    throw new AgentError('EMP_RECORD_MISMATCH', `${what} output of ${buf.length} bytes is not a whole number of ${size}-byte records`);
  for (let off = 0; off < buf.length; off += size) {
    const s = buf.readUInt16LE(off);
    const v = buf.readUInt16LE(off + 2);
    if (s !== size || v !== OWNERS_VERSION)
      throw new AgentError('EMP_RECORD_MISMATCH', `${what} record at byte ${off} has size ${s} and version ${v}, expected ${size} and ${OWNERS_VERSION}`);
  }
}

export function parseFdRecords(buf: Buffer): FdRecord[] {
  check(buf, FD_RECORD_SIZE, 'task_file');
  const out: FdRecord[] = [];
  for (let off = 0; off < buf.length; off += FD_RECORD_SIZE) {
    const kind = FD_KINDS[buf.readUInt32LE(off + 4)];
    if (!kind) continue; // a kind newer than this reader: not a reason to drop the rest
    out.push({
      kind,
      pid: buf.readUInt32LE(off + 8),
      fd: buf.readUInt32LE(off + 12),
      id: buf.readUInt32LE(off + 16),
      progId: buf.readUInt32LE(off + 20),
      linkType: buf.readUInt32LE(off + 24),
      cgroupId: u64(buf, off + 32),
      startTime: u64(buf, off + 40),
      comm: textAt(buf, off + 48, 16),
      exe: textAt(buf, off + 64, 32),
    });
  }
  return out;
}

export function parseProgRecords(buf: Buffer): ProgRecord[] {
  check(buf, PROG_RECORD_SIZE, 'bpf_prog');
  const out: ProgRecord[] = [];
  for (let off = 0; off < buf.length; off += PROG_RECORD_SIZE) {
    const n = Math.min(buf.readUInt32LE(off + 16), MAX_MAPS);
    const mapIds: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = buf.readUInt32LE(off + 72 + 4 * i);
      if (id) mapIds.push(id);
    }
    out.push({
      id: buf.readUInt32LE(off + 4),
      typeId: buf.readUInt32LE(off + 8),
      attachType: buf.readUInt32LE(off + 12),
      name: textAt(buf, off + 24, 16),
      attachTo: textAt(buf, off + 40, 32),
      mapIds,
    });
  }
  return out;
}

/** enum bpf_prog_type (uapi, never renumbered) in bpftool's spelling. */
const PROG_TYPES = [
  'unspec', 'socket_filter', 'kprobe', 'sched_cls', 'sched_act', 'tracepoint', 'xdp', 'perf_event', 'cgroup_skb',
  'cgroup_sock', 'lwt_in', 'lwt_out', 'lwt_xmit', 'sock_ops', 'sk_skb', 'cgroup_device', 'sk_msg', 'raw_tracepoint',
  'cgroup_sock_addr', 'lwt_seg6local', 'lirc_mode2', 'sk_reuseport', 'flow_dissector', 'cgroup_sysctl',
  'raw_tracepoint_writable', 'cgroup_sockopt', 'tracing', 'struct_ops', 'ext', 'lsm', 'sk_lookup', 'syscall', 'netfilter',
] as const;

export function progTypeName(id: number): string {
  return PROG_TYPES[id] ?? `type_${id}`;
}
