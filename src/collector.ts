// SPDX-License-Identifier: Apache-2.0
/**
 * One collection: native read -> filter -> walks and memory (of the maps kept) -> records ->
 * per-type rules -> a plain array of map stats. The CLI views, the pressure layer and the
 * metrics all read this value; none of them calls the kernel.
 */
import { AgentError } from './errors';
import type { MapFilter } from './filter';
import { HASH_FAMILY, mapType } from './map-types';
import { MapStatsReader, type RawCollection, type ReaderOptions, type RecordSelector, type SystemError, toAgentError, type WalkSupport } from './native';
import type { MapOwners } from './owners/model';
import type { OwnerProblems, OwnerResolver } from './owners/resolver';
import { type CountMethod, FLAG_COUNT_STALE, FLAG_NEEDS_WALK, FLAG_WALK_SKIPPED, FLAG_WALK_UNSUPPORTED, type MapRecord, RecordCursor, selectRecords } from './records';

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
  /**
   * Counts by an element walk: how old the count is, ms (0: walked in this collection);
   * null for every other method. A walk deferred by the budget keeps its last count.
   */
  countAgeMs: number | null;
  /** The count is from an earlier collection (a walk deferred by walk.max_entries / walk.budget). */
  countStale: boolean;
  /** Why entries/utilization are null, when they are. */
  notCounted: string | null;
  /** The same as a stable word, for scripts and views; null when counted. */
  notCountedReason: NotCountedReason | null;
  /** Kernel-accounted memory (fdinfo memlock), bytes; null when unreadable. */
  memoryBytes: number | null;
  /**
   * memoryBytes is computed with the 6.4+ kernel's own formula for the type, not read from
   * fdinfo: on kernels before 6.4, whose fdinfo memlock is rough (see the README).
   */
  memoryEstimated: boolean;
  /**
   * Who owns the map (processes, programs, pins), from the latest owner pass; null when
   * owner resolution is off (owners.enabled false).
   */
  owners: MapOwners | null;
  /**
   * Its per-map series carry the first owner's attributes (owners.copy_attributes). False for
   * a map collected while its owning processes were unknown (the owner pass did not cover it
   * in time, failed, or cannot read processes on this kernel), for as long as the map lives:
   * its series keep the one attribute set they were first exported with, never gaining the
   * attributes a later pass finds (see Collector, ownersWaitMs).
   */
  copiesOwner: boolean;
}

/**
 * Why a map has no count:
 * - `type`: its type has no meaningful fill (arrays, storage, ...);
 * - `kernel`: this kernel lacks what counts it (the kfunc, a readable layout);
 * - `config`: counting.kernel_state is false;
 * - `walk_disabled`: it needs an element walk and walk.enabled is false;
 * - `walk_deferred`: its first walk was deferred by the walk budget;
 * - `walk_failed`: its walk failed (EMP_WALK_FAILED, e.g. no CAP_SYS_ADMIN);
 * - `walk_unsupported`: the kernel refuses or lacks the walk program (EMP_WALK_UNSUPPORTED).
 */
export type NotCountedReason = 'type' | 'kernel' | 'config' | 'walk_disabled' | 'walk_deferred' | 'walk_failed' | 'walk_unsupported';

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
  /** Element walks made in this collection (kernels without bpf_map_sum_elem_count). */
  readonly walks: number;
  /** Why maps that need an element walk were not walked, when they were not. */
  readonly walkError: AgentError | null;
  /**
   * The walk programs this kernel refuses or lacks, and what that costs: the same for every
   * collection of a reader (EMP_WALK_UNSUPPORTED); null when both load or walks are off.
   */
  readonly walkUnsupported: AgentError | null;
  /** Partial failures of the owner pass these owners come from; null when owners are off or none has finished. */
  readonly ownerProblems: OwnerProblems | null;
}

/**
 * Where a collection's records come from: the addon's MapStatsReader, or recorded fixtures
 * (test/helpers/recorded.ts), so the per-type rules can be tested without root.
 */
export interface CollectionSource {
  collect(select?: RecordSelector): Promise<RawCollection>;
  readonly kfuncAvailable: boolean;
  readonly walkSupport: WalkSupport;
  close(): void;
}

interface FillContext {
  kfuncAvailable: boolean;
  kernelState: boolean;
  walk: boolean;
  walkError: AgentError | null;
  walkSupport: WalkSupport;
}

/** The fields of a map's fill, written in place into its MapStats (no object per map for them). */
type Fill = Pick<MapStats, 'entries' | 'pendingBytes' | 'utilization' | 'notCounted' | 'notCountedReason' | 'countAgeMs' | 'countStale'>;

function noFill(out: Fill, notCountedReason: NotCountedReason, notCounted: string): void {
  out.entries = null;
  out.pendingBytes = null;
  out.utilization = null;
  out.countAgeMs = null;
  out.countStale = false;
  out.notCounted = notCounted;
  out.notCountedReason = notCountedReason;
}
const WITHOUT_KFUNC = 'kernel without bpf_map_sum_elem_count (Linux < 6.6)';
const NEEDS_WALK = 'needs an element walk';

/** A map left uncounted because the element walk it needs failed (see walkError). */
export function awaitsWalk(m: MapStats): boolean {
  return m.notCountedReason === 'walk_failed';
}

/** Why a map of a countable type has no count this time. */
function whyNotCounted(out: Fill, rec: Readonly<MapRecord>, type: string, ctx: FillContext): void {
  if (rec.flags & FLAG_WALK_SKIPPED)
    return noFill(out, 'walk_deferred', 'element walk deferred by the walk budget (walk.max_entries, walk.budget); counted in a coming collection');
  if (rec.flags & FLAG_NEEDS_WALK) {
    const sockets = type === 'sockmap';
    const why = sockets ? 'the kernel keeps no count of sockmap slots' : WITHOUT_KFUNC;
    const refused = sockets ? ctx.walkSupport.sockets : ctx.walkSupport.elements;
    if (rec.flags & FLAG_WALK_UNSUPPORTED && refused)
      return noFill(out, 'walk_unsupported', `${NEEDS_WALK} (${why}), which this kernel does not run: ${refused.hint ?? refused.message}`);
    if (!ctx.walk) return noFill(out, 'walk_disabled', `${NEEDS_WALK} (${why}); walk.enabled is false`);
    if (ctx.walkError) return noFill(out, 'walk_failed', `${NEEDS_WALK} (${why}), which failed: ${ctx.walkError.hint ?? ctx.walkError.message}`);
    return noFill(out, 'walk_failed', `${NEEDS_WALK} (${why})`);
  }
  if (HASH_FAMILY.has(type)) {
    if (type === 'hash_of_maps' && !ctx.kfuncAvailable && ctx.kernelState)
      return noFill(out, 'kernel', `preallocated hash_of_maps on a ${WITHOUT_KFUNC}: no kernel counter and no element iterator for this type`);
    return noFill(out, 'kernel', 'needs bpf_map_sum_elem_count (Linux >= 6.6)');
  }
  if (!ctx.kernelState) return noFill(out, 'config', 'counting.kernel_state is false');
  return noFill(out, 'kernel', "this kernel's internal layout of the type is not one the agent can read");
}

/**
 * What the walk programs this kernel refuses or lacks cost (EMP_WALK_UNSUPPORTED), or null:
 * sockmap without iter/sockmap; without iter/bpf_map_elem, the hash maps that only a walk
 * counts, which exist only where the kfunc does not count them.
 */
export function walkUnsupported(support: WalkSupport, kfuncCounts: boolean): AgentError | null {
  const programs: Array<[string, SystemError | null]> = [
    ['iter/bpf_map_elem', support.elements],
    ['iter/sockmap', support.sockets],
  ];
  const missing = programs.filter((p): p is [string, SystemError] => p[1] !== null);
  if (missing.length === 0) return null;
  const names = (ps: typeof missing) => ps.map(([name]) => name).join(' and ');
  const denied = missing.filter(([, e]) => e.code === 'EPERM' || e.code === 'EACCES');
  const absent = missing.filter((p) => !denied.includes(p));
  const causes: string[] = [];
  if (denied.length)
    causes.push(`this kernel refuses ${names(denied)} programs (${denied[0]![1].code} at load, with the privileges that loaded iter/bpf_map: a hardened kernel or a security policy disallows the program type)`);
  if (absent.length) causes.push(`this kernel has no ${names(absent)} iterator (${absent[0]![1].code})`);
  const costs: string[] = [];
  if (support.elements)
    costs.push(
      kfuncCounts
        ? 'hash maps are still counted, by bpf_map_sum_elem_count'
        : 'hash maps without a kernel counter (preallocated and LRU ones) are not counted, as bpf_map_sum_elem_count does not count them here',
    );
  if (support.sockets) costs.push('sockmap maps are not counted');
  const cause = missing[0]![1];
  const cost = costs.join('; ');
  return new AgentError('EMP_WALK_UNSUPPORTED', `element walks: ${causes.join('; ')}. ${cost[0]!.toUpperCase()}${cost.slice(1)}`, {
    cause,
    errno: cause.errno,
    syscall: cause.syscall,
  });
}

/** Writes the fill of `rec` into `out`. */
function fillOf(out: Fill, rec: Readonly<MapRecord>, age: number, ctx: FillContext): void {
  const info = mapType(rec.typeId);
  if (info.fill === 'none') return noFill(out, 'type', info.reason ?? 'not countable');
  if (rec.countMethod === 'none' || rec.flags & FLAG_WALK_SKIPPED) return whyNotCounted(out, rec, info.name, ctx);
  const walked = rec.countMethod === 'walk';
  const entries = rec.entries;
  out.countAgeMs = walked && age >= 0 ? age : null;
  out.countStale = walked && (rec.flags & FLAG_COUNT_STALE) !== 0;
  out.notCounted = null;
  out.notCountedReason = null;
  if (info.fill === 'bytes') {
    const size = rec.aux[2] || rec.maxEntries;
    out.entries = null;
    out.pendingBytes = entries;
    out.utilization = size > 0 ? entries / size : null;
  } else {
    const max = rec.maxEntries;
    out.entries = entries;
    out.pendingBytes = null;
    out.utilization = max > 0 ? entries / max : null;
  }
}

export interface CollectorOptions {
  /** Options of the addon's reader, and of how its records are read (kernel state, walks). */
  reader?: ReaderOptions;
  /** The records' source; default: a MapStatsReader made with `reader`. */
  source?: CollectionSource;
  filter?: MapFilter;
  /** Owner resolution, run beside the collections. */
  owners?: OwnerResolver;
  /**
   * The longest a collection waits for a pass covering the maps no owner pass has seen yet
   * (OwnerResolver.cover), so their first exported point already carries the copied owner
   * attributes; 0 (the default): never waits.
   */
  ownersWaitMs?: number;
}

export class Collector {
  readonly #reader: CollectionSource;
  readonly #options: ReaderOptions;
  readonly #filter: MapFilter | null;
  readonly #walkSupport: WalkSupport;
  readonly #walkUnsupported: AgentError | null;
  readonly #owners: OwnerResolver | null;
  readonly #ownersWaitMs: number;
  /** The maps on the host collected while their owning processes were unknown: copiesOwner false. */
  readonly #uncopied = new Set<number>();
  #inFlight: Promise<Collection> | null = null;

  constructor(options: CollectorOptions = {}) {
    this.#reader = options.source ?? new MapStatsReader(options.reader);
    this.#options = options.reader ?? {};
    this.#filter = options.filter ?? null;
    this.#owners = options.owners ?? null;
    this.#ownersWaitMs = options.ownersWaitMs ?? 0;
    // Known once the programs are loaded, and for the reader's life.
    this.#walkSupport = this.#reader.walkSupport;
    this.#walkUnsupported = walkUnsupported(this.#walkSupport, this.#reader.kfuncAvailable);
  }

  get kfuncAvailable(): boolean {
    return this.#reader.kfuncAvailable;
  }

  /** The owner resolver, when owners are on. */
  get owners(): OwnerResolver | null {
    return this.#owners;
  }

  /**
   * The collection with owners from a pass made after it: for one-shot views (`snapshot`),
   * which print once and may wait; the agent's collections never do.
   */
  async withFreshOwners(c: Collection): Promise<Collection> {
    const owners = this.#owners;
    if (!owners) return c;
    await owners.refresh(new Set(c.maps.map((m) => m.id)));
    return { ...c, maps: c.maps.map((m) => ({ ...m, owners: owners.owners(m.id) })), ownerProblems: owners.table()?.problems ?? null };
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
    // The filter is applied before walks and memory reads: a map not reported is not opened.
    const filter = this.#filter;
    let keep: Uint8Array | null = null;
    const raw = await this.#reader.collect(
      filter ? (buf) => (keep = selectRecords(buf, (name, typeId) => filter(name, mapType(typeId).name))) : undefined,
    );
    const records = new RecordCursor(raw.records);
    const walkError = raw.walkError ? recode('EMP_WALK_FAILED', raw.walkError) : null;
    const ctx: FillContext = {
      kfuncAvailable: this.#reader.kfuncAvailable,
      kernelState: this.#options.useKernelState !== false,
      walk: this.#options.walk !== false,
      walkError,
      walkSupport: this.#walkSupport,
    };
    const maps: MapStats[] = [];
    for (let i = 0; i < records.length; i++) {
      if (keep && !keep[i]) continue;
      const rec = records.at(i);
      const type = mapType(rec.typeId).name;
      const memory = raw.memory[i]!;
      const m: MapStats = {
        id: rec.id,
        name: rec.name,
        type,
        keySize: rec.keySize,
        valueSize: rec.valueSize,
        maxEntries: rec.maxEntries,
        mapFlags: rec.mapFlags,
        countMethod: rec.countMethod,
        // Written by fillOf, in place: this runs for every map on every collection.
        entries: null,
        pendingBytes: null,
        utilization: null,
        countAgeMs: null,
        countStale: false,
        notCounted: null,
        notCountedReason: null,
        memoryBytes: memory >= 0 ? memory : null,
        memoryEstimated: memory >= 0 && raw.memoryEstimated[i] === 1,
        owners: null,
        copiesOwner: false,
      };
      fillOf(m, rec, raw.countAgeMs[i] ?? -1, ctx);
      maps.push(m);
    }
    const owners = this.#owners;
    if (owners) {
      // Every map on the host, not only those reported: a pass covers what it was shown.
      const ids = new Set<number>();
      for (let i = 0; i < records.length; i++) ids.add(records.at(i).id);
      owners.observe(ids);
      // A map's first collection is exported like any other, so its series have the copied
      // owner attributes from their first point only if its owners are known now: wait
      // (bounded) for a pass that covers the maps the latest one has not seen.
      if (this.#ownersWaitMs > 0) {
        const fresh: number[] = [];
        for (const m of maps) if (!owners.covers(m.id)) fresh.push(m.id);
        if (fresh.length) await owners.cover(fresh, this.#ownersWaitMs);
      }
      const uncopied = this.#uncopied;
      for (const m of maps) {
        const o = owners.owners(m.id);
        m.owners = o;
        // Processes unknown now (pending after the wait, failed, not supported): the series go
        // without the copied attributes now, and stay so rather than gain them and become a
        // second series of the same map on a push backend. A pass that fails later keeps the
        // last answer, so a map once copied is not uncopied by it.
        if (o.processes === null) uncopied.add(m.id);
        m.copiesOwner = !uncopied.has(m.id);
      }
      if (uncopied.size > 0) for (const id of uncopied) if (!ids.has(id)) uncopied.delete(id);
    }
    return {
      time: Date.now(),
      durationMs: performance.now() - start,
      maps,
      mapsSeen: records.length,
      bytesRead: raw.bytesRead,
      memoryError: raw.memoryError ? recode('EMP_MEMORY_UNREADABLE', raw.memoryError) : null,
      walks: raw.walks,
      walkError,
      walkUnsupported: this.#walkUnsupported,
      ownerProblems: owners?.table()?.problems ?? null,
    };
  }

  /** Detaches the iterators; waits for a collection and an owner pass in flight. */
  async close(): Promise<void> {
    await this.#inFlight?.catch(() => undefined);
    await this.#owners?.settled();
    this.#owners?.close();
    this.#reader.close();
  }
}

/** An addon error re-coded as a partial failure of one collection (memory, walks). */
function recode(code: 'EMP_MEMORY_UNREADABLE' | 'EMP_WALK_FAILED', e: Error): AgentError {
  const sys = toAgentError(e);
  return new AgentError(code, sys.message, {
    hint: sys.hint,
    cause: e,
    ...(sys.errno !== undefined && { errno: sys.errno }),
    ...(sys.syscall !== undefined && { syscall: sys.syscall }),
    ...(sys.detail !== undefined && { detail: sys.detail }),
  });
}
