// SPDX-License-Identifier: Apache-2.0
/** The shape of bench/results/*.json: what the report renders and the smoke test checks. */
import type { Latency } from './stats';
import type { RunningFigures } from './agent-process';
import type { OwnersResult } from '../scenarios/owners';

export interface ScaleResult {
  /** Benchmark maps created. */
  benchMaps: number;
  /** Maps the agent saw (the host's own included), median over the repetitions. */
  mapsSeen: number;
  reps: number;
  /** The agent's full cycle and its stages, ms. */
  agent: { total: Latency; collect: Latency; listeners: Latency; metrics: Latency; encode: Latency };
  /** Full cycle per map seen, µs (median and p99 of total / maps). */
  perMapUs: { median: number; p99: number };
  /** The addon's iterator read alone, ms: without memory, and with the memory cache warm. */
  floor: Latency;
  floorMemory: Latency;
  agentOverFloor: number;
  agentOverFloorMemory: number;
  points: number;
  requestBytes: number;
  /** The benchmark process's heap after full GCs at this scale (null without --expose-gc). */
  retainedHeapBytes: number | null;
  peers: PeerResult;
}

export interface PeerResult {
  reps: number;
  hashMaps: number;
  /** The agent's full cycle in the same interleaved loop as the peers, ms. */
  agent: Latency;
  /** Its collect stage alone (every map counted, with memory; no metrics, no encoding), ms. */
  agentCollect: Latency;
  bpftoolShow: Latency & { maps: number; overAgent: number; overCollect: number };
  walk: Latency & { entries: number; overAgent: number; overCollect: number };
  dump: Latency & { entries: number; overAgent: number; overCollect: number };
  /** Entries the agent reported for the same maps: the walk and the dump must agree with it. */
  agentEntries: number;
  consistent: boolean;
}

export interface CountResult {
  entries: number;
  /** Entries the agent reported for the map (must equal `entries`). */
  reported: number | null;
  reps: number;
  agent: Latency;
  floor: Latency;
  agentOverEmpty: number;
  floorOverEmpty: number;
  walk: Latency;
  dump: Latency | null;
}

export interface RunningResult extends RunningFigures {
  benchMaps: number;
}

export interface ExportSizeResult {
  benchMaps: number;
  points: number;
  /** One request with every point (no split). */
  unsplitBytes: number;
  /** The bound the agent splits at (otlp.max_request_bytes, its default). */
  maxRequestBytes: number;
  requests: number;
  largestRequestBytes: number;
  bytesPerPoint: number;
  /** Requests the running agent sent to the sink at this scale (largest body), if measured. */
  wireLargestRequestBytes: number | null;
}

export interface WorstCaseExport {
  /** Longest escaped names, longest type and count-method strings, largest ids. */
  bytesPerPoint: number;
  maxRequestBytes: number;
  requestBytes: number;
  limitBytes: number;
}

export interface BenchResults {
  meta: {
    mode: string;
    date: string;
    command: string;
    seed: number;
    node: string;
    kernel: string;
    cpu: string;
    cores: number;
    memoryGiB: number;
    bpftool: string;
    hostMapsAtStart: number;
    /** 1-minute load average when the run started and ended (other work on the machine). */
    loadAverage: { start: number; end: number };
    durationS: number;
    phasesS: Record<string, number>;
  };
  scale: ScaleResult[];
  count: CountResult[];
  /** Running agents; benchMaps 0 is the baseline (the host's own maps only). */
  running: RunningResult[];
  /** The benchmark process's heap after full GCs before any benchmark map (null without --expose-gc). */
  heapBaselineBytes: number | null;
  exportSize: ExportSizeResult[];
  worstCaseExport: WorstCaseExport;
  owners: OwnersResult;
}
