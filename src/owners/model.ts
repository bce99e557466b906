// SPDX-License-Identifier: Apache-2.0
/**
 * Who owns a map: the shapes every view and exporter reads (MapStats.owners). Strings that
 * come from the kernel or from bpffs (comm, executable, program names, pin paths) are escaped
 * to valid UTF-8 as map names are (decodeMapName).
 */

/** How a process comes to own a map. */
export type OwnerVia =
  /** it holds an fd of the map */
  | 'map'
  /** it holds an fd of a program that uses the map */
  | 'program'
  /** it holds a link of such a program */
  | 'link'
  /** it holds a perf event (a kprobe, a tracepoint) running such a program */
  | 'perf_event';

export interface ProcessOwner {
  pid: number;
  /** The process's comm (15 bytes at most, settable by the process). */
  comm: string;
  /** Base name of its executable (OpenTelemetry's process.executable.name), cut at 31 bytes. */
  executable: string;
  /** The container it runs in, from its cgroup path; null outside one. */
  containerId: string | null;
  /** Kubernetes: the pod's uid, from the cgroup path. */
  podUid: string | null;
  /** Kubernetes: names from the node-local pod source (see README, "Owners"). */
  pod: string | null;
  namespace: string | null;
  container: string | null;
  via: OwnerVia;
}

export interface ProgramRef {
  id: number;
  name: string;
  /** bpftool's spelling: kprobe, xdp, tracing, ... */
  type: string;
  /** What it is attached to, where the kernel says it cheaply (tracing/LSM/iterator targets). */
  attachTo: string | null;
}

/** Which part of the owners could not be known for a map, and why (never "no owner"). */
export interface OwnersUnknown {
  processes?: string;
  programs?: string;
  pins?: string;
}

export interface MapOwners {
  /** Processes holding the map (or, when none does, its programs, their links or perf events); null: not known. */
  processes: ProcessOwner[] | null;
  /** Owners left out by owners.max_per_map. */
  processesOmitted: number;
  /** Programs that use the map; null: not known. */
  programs: ProgramRef[] | null;
  /** Paths under the bpffs root: the map's own pins, and when no process holds it its programs' and their links'. */
  pins: string[] | null;
  /** Why a null above is null; null when everything is known. */
  unknown: OwnersUnknown | null;
}

/** A map seen before any owner pass covered it: its owners come with the next pass. */
export const OWNERS_PENDING: MapOwners = Object.freeze({
  processes: null,
  processesOmitted: 0,
  programs: null,
  pins: null,
  unknown: Object.freeze({
    processes: 'pending: resolved by the next owner pass',
    programs: 'pending: resolved by the next owner pass',
    pins: 'pending: resolved by the next owner pass',
  }),
}) as MapOwners;

/** The attributes of owners on series, OpenTelemetry's semantic conventions where they exist. */
export const OWNER_ATTR = {
  pid: 'process.pid',
  executable: 'process.executable.name',
  command: 'process.command',
  containerId: 'container.id',
  podUid: 'k8s.pod.uid',
  pod: 'k8s.pod.name',
  namespace: 'k8s.namespace.name',
  container: 'k8s.container.name',
  programId: 'ebpf.program.id',
  programName: 'ebpf.program.name',
  via: 'ebpf.owner.via',
} as const;

export type OwnerAttribute = (typeof OWNER_ATTR)[keyof typeof OWNER_ATTR];
