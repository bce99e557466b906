// SPDX-License-Identifier: Apache-2.0
/**
 * One collection: native read -> records -> per-type rules -> memory -> filter -> a plain
 * array of map stats. The CLI views, the pressure layer and the metrics all read this value;
 * none of them calls the kernel.
 */
import { AgentError } from './errors';
import type { MapFilter } from './filter';
import { mapType } from './map-types';
import { MapStatsReader, type ReaderOptions, toAgentError } from './native';
import { type CountMethod, FLAG_NEEDS_WALK, parseRecords } from './records';

export interface MapStats {
  id: number;
  /** Escaped to valid UTF-8 (see decodeMapName). */
  name: string;
  /** bpftool's spelling: hash, lru_hash, ringbuf, ... */
  type: string;
  keySize: number;
  valueSize: number;
  /** For ring buffers: the data size in bytes. */
  maxEntries: number;
  mapFlags: number;
  /** Current entries; null when not counted (and always null for ring buffers). */
  entries: number | null;
  /** Ring buffers: bytes written and not yet consumed; null for other types. */
  pendingBytes: number | null;
  /** entries (or pending bytes) / max_entries; null where fill is not meaningful or unknown. */
  utilization: number | null;
  countMethod: CountMethod;
  /** Why entries/utilization are null, when they are. */
  notCounted: string | null;
  /** Kernel-accounted memory (fdinfo memlock), bytes; null when unreadable. */
  memoryBytes: number | null;
}

export interface Collection {
  /** When the collection finished, ms since the epoch. */
  readonly time: number;
  readonly durationMs: number;
  /** Maps that passed the filter, by id. */
  readonly maps: readonly MapStats[];
  /** Maps on the host, filtered or not. */
  readonly mapsSeen: number;
  readonly bytesRead: number;
  /** Why memory is missing for every map, when it is. */
  readonly memoryError: AgentError | null;
}

function fillOf(rec: ReturnType<typeof parseRecords>[number], kfuncAvailable: boolean) {
  const info = mapType(rec.typeId);
  const counted = rec.countMethod !== 'none';
  if (info.fill === 'none')
    return { entries: null, pendingBytes: null, utilization: null, notCounted: info.reason ?? 'not countable' };
  if (!counted) {
    let why = 'not counted on this kernel';
    if (rec.flags & FLAG_NEEDS_WALK) why = 'needs an element walk (kernel without bpf_map_sum_elem_count)';
    else if (!kfuncAvailable) why = 'needs bpf_map_sum_elem_count (Linux >= 6.6)';
    return { entries: null, pendingBytes: null, utilization: null, notCounted: why };
  }
  if (info.fill === 'bytes') {
    const size = rec.aux[2] || rec.maxEntries;
    return { entries: null, pendingBytes: rec.entries, utilization: size > 0 ? rec.entries / size : null, notCounted: null };
  }
  return {
    entries: rec.entries,
    pendingBytes: null,
    utilization: rec.maxEntries > 0 ? rec.entries / rec.maxEntries : null,
    notCounted: null,
  };
}

export class Collector {
  readonly #reader: MapStatsReader;
  readonly #filter: MapFilter;
  #inFlight: Promise<Collection> | null = null;

  constructor(options: { reader?: ReaderOptions; filter?: MapFilter } = {}) {
    this.#reader = new MapStatsReader(options.reader);
    this.#filter = options.filter ?? (() => true);
  }

  get kfuncAvailable(): boolean {
    return this.#reader.kfuncAvailable;
  }

  /** One collection; concurrent callers share the one in flight. */
  collect(): Promise<Collection> {
    if (!this.#inFlight) {
      this.#inFlight = this.#collect().finally(() => {
        this.#inFlight = null;
      });
    }
    return this.#inFlight;
  }

  async #collect(): Promise<Collection> {
    const start = performance.now();
    const raw = await this.#reader.collect();
    const records = parseRecords(raw.records);
    const kfunc = this.#reader.kfuncAvailable;
    const maps: MapStats[] = [];
    for (let i = 0; i < records.length; i++) {
      const rec = records[i]!;
      const type = mapType(rec.typeId).name;
      if (!this.#filter(rec.name, type)) continue;
      const memory = raw.memory[i]!;
      maps.push({
        id: rec.id,
        name: rec.name,
        type,
        keySize: rec.keySize,
        valueSize: rec.valueSize,
        maxEntries: rec.maxEntries,
        mapFlags: rec.mapFlags,
        countMethod: rec.countMethod,
        ...fillOf(rec, kfunc),
        memoryBytes: memory >= 0 ? memory : null,
      });
    }
    return {
      time: Date.now(),
      durationMs: performance.now() - start,
      maps,
      mapsSeen: records.length,
      bytesRead: raw.bytesRead,
      memoryError: raw.memoryError ? toMemoryError(raw.memoryError) : null,
    };
  }

  /** Detaches the iterator; waits for a collection in flight. */
  async close(): Promise<void> {
    await this.#inFlight?.catch(() => undefined);
    this.#reader.close();
  }
}

function toMemoryError(e: Error): AgentError {
  const sys = toAgentError(e);
  return new AgentError('EMP_MEMORY_UNREADABLE', sys.message, {
    hint: sys.hint,
    cause: e,
    ...(sys.errno !== undefined && { errno: sys.errno }),
    ...(sys.syscall !== undefined && { syscall: sys.syscall }),
  });
}
