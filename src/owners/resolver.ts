// SPDX-License-Identifier: Apache-2.0
/**
 * Owner resolution: who holds each map, which programs use it, where it is pinned, and for
 * each process its container and Kubernetes pod. It runs beside the collections, on its own
 * cadence and budget: the collector attaches the latest finished pass (src/collector.ts), and
 * a map no pass has covered yet says "pending". A collection waits for it only when it shows
 * such a map and owner attributes are copied onto per-map series (cover()): a bounded wait, so
 * that the map's first exported point already carries them.
 *
 * Cadence: a pass every owners.interval (0: every collection), and at once when a collection
 * shows a map no pass has covered, so a new map has its owners by the next collection (by its
 * own, when that collection waits in cover()). Budget:
 * the pin walk stops at half of owners.budget (it resumes from its cache next pass), and a pass
 * that took longer than the budget spaces the next ones out in proportion, so owner resolution
 * stays within its budget per interval on average.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { AgentError } from '../errors';
import type { OwnerSupport, RawOwners, SystemError } from '../native';
import { decodeMapName } from '../records';
import { type CgroupIdentity, parseProcCgroup } from './cgroup';
import type { PodNameSource } from './kubernetes';
import { type MapOwners, OWNERS_PENDING, type OwnersUnknown, type OwnerVia, type ProcessOwner, type ProgramRef } from './model';
import { FD_RECORD_SIZE, type FdRecord, parseFdRecords, parseProgRecords, progTypeName } from './records';

/** Where owners come from: the addon's OwnersReader, or recorded fixtures in tests. */
export interface OwnerSource {
  read(pinsBudgetMs: number): Promise<RawOwners>;
  readonly support: OwnerSupport;
  close(): void;
}

export interface OwnerSettings {
  /** Time between passes; 0: one per collection (collectionIntervalMs). */
  intervalMs: number;
  collectionIntervalMs: number;
  /** Time one pass may take; longer passes space the next ones out. */
  budgetMs: number;
  /** Owners listed per map; the rest are counted (processesOmitted). */
  maxPerMap: number;
  /** Pins are walked (false: MapOwners.pins is null, and says why). */
  pins: boolean;
  /** Root of the pin walk, for messages. */
  bpffs: string;
}

export interface OwnerDeps {
  /** /proc/<pid>/cgroup of a process; null when gone. */
  readCgroup(pid: number): string | null;
  /** Kubernetes names; null outside Kubernetes or when no source is configured. */
  names: PodNameSource | null;
  /**
   * The agent's own pid (default: this process). Its map fds count only for the maps of its
   * own programs: the others are the fds it opens for a moment to read memory or walk a map,
   * which are not ownership.
   */
  selfPid?: number;
}

/** Partial failures of the latest pass, each logged once by the agent. */
export interface OwnerProblems {
  /** A part the kernel lacks or refuses (EMP_OWNERS_UNSUPPORTED). */
  unsupported: AgentError | null;
  /** A read that failed this pass (EMP_OWNERS_FAILED); the earlier answer is kept. */
  failed: AgentError | null;
  /** Pins that could not be read (EMP_PINS_UNREADABLE). */
  pins: AgentError | null;
}

export interface OwnerTable {
  /** When the pass finished, ms since the epoch. */
  readonly time: number;
  readonly durationMs: number;
  readonly byMap: ReadonlyMap<number, MapOwners>;
  readonly problems: OwnerProblems;
  /** Parts of the pass, ms: the two iterators and the pin walk. */
  readonly parts: { fdsMs: number; progsMs: number; pinsMs: number; pinsOpened: number; cgroupReads: number };
}

/** The owner fd records without those of one process (a copy only when it has some). */
function withoutPid(buf: Buffer, pid: number): Buffer {
  const keep: Buffer[] = [];
  let from = 0;
  for (let off = 0; off + FD_RECORD_SIZE <= buf.length; off += FD_RECORD_SIZE) {
    if (buf.readUInt32LE(off + 8) !== pid) continue;
    if (off > from) keep.push(buf.subarray(from, off));
    from = off + FD_RECORD_SIZE;
  }
  if (from === 0) return buf;
  keep.push(buf.subarray(from));
  return Buffer.concat(keep);
}

/** /proc/<pid>/cgroup under a procfs mount. */
export function procCgroupReader(procfs: string): (pid: number) => string | null {
  return (pid) => {
    try {
      return readFileSync(path.join(procfs, String(pid), 'cgroup'), 'utf8');
    } catch {
      return null;
    }
  };
}

const VIA_RANK: Record<OwnerVia, number> = { map: 0, program: 1, link: 2, perf_event: 3 };
/** A process, across pid reuse. */
const procKey = (r: FdRecord) => `${r.pid}:${r.startTime}`;

interface Proc {
  /** pid and start time: the same process across passes. */
  key: string;
  pid: number;
  comm: string;
  exe: string;
  cgroup: CgroupIdentity;
  /** Its owner entry per way of holding, made once a pass. */
  owners: Partial<Record<OwnerVia, ProcessOwner>>;
}

interface Holder {
  proc: Proc;
  via: OwnerVia;
}

/** Shared empty list (never mutated). */
const NONE: readonly never[] = Object.freeze([]);

/** One entry per process, with its strongest way of holding. */
function addHolder(list: Holder[], proc: Proc, via: OwnerVia): void {
  for (const h of list)
    if (h.proc === proc) {
      if (VIA_RANK[via] < VIA_RANK[h.via]) h.via = via;
      return;
    }
  list.push({ proc, via });
}

function reason(e: SystemError | AgentError): string {
  return (e as SystemError).hint ? `${e.message} (${(e as SystemError).hint})` : e.message;
}

export class OwnerResolver {
  readonly #source: OwnerSource;
  readonly #s: OwnerSettings;
  readonly #deps: OwnerDeps;
  #table: OwnerTable | null = null;
  #covered: ReadonlySet<number> = new Set();
  #observed: ReadonlySet<number> = new Set();
  #inFlight: Promise<OwnerTable> | null = null;
  #nextDue = 0;
  #withinBudget = true;
  /** Container identity per process and cgroup, kept while the process is seen. */
  #cgroups = new Map<string, CgroupIdentity>();
  /** The first owner of each map, kept first while it holds the map: copied attributes stay put. */
  #primary = new Map<number, string>();
  #closed = false;
  /** What the latest pass was built from, to skip rebuilding an unchanged answer. */
  #input: { fds: Buffer; progs: Buffer; pins: string; names: number } | null = null;

  constructor(source: OwnerSource, settings: OwnerSettings, deps: OwnerDeps) {
    this.#source = source;
    this.#s = settings;
    this.#deps = deps;
  }

  get support(): OwnerSupport {
    return this.#source.support;
  }

  /** The latest finished pass, or null before the first. */
  table(): OwnerTable | null {
    return this.#table;
  }

  /** A map's owners from the latest pass; OWNERS_PENDING where no pass covered it yet. */
  owners(mapId: number): MapOwners {
    const t = this.#table;
    if (!t) return OWNERS_PENDING;
    return t.byMap.get(mapId) ?? OWNERS_PENDING;
  }

  /**
   * A collection's maps: starts a pass when one is due, or at once for a map no pass has
   * covered (while passes fit the budget). Never waits.
   */
  observe(mapIds: ReadonlySet<number>, now = Date.now()): void {
    this.#observed = mapIds;
    if (this.#inFlight || this.#closed) return;
    let fresh = false;
    for (const id of mapIds)
      if (!this.#covered.has(id)) {
        fresh = true;
        break;
      }
    if (now >= this.#nextDue || (fresh && this.#withinBudget)) void this.#start().catch(() => undefined);
  }

  /** Whether the latest finished pass has the map (false: owners(mapId) is OWNERS_PENDING). */
  covers(mapId: number): boolean {
    return this.#table?.byMap.has(mapId) ?? false;
  }

  /**
   * For a collection about to be exported with maps no pass has covered yet: waits for the
   * pass in flight and, when that one missed them (it started before they were observed), for
   * one more, started at once while passes fit the budget (as observe() starts one). At most
   * timeoutMs; true when the latest pass then covers every one of mapIds. A pass that fails
   * (its read throws) leaves them uncovered. The names sources' first answers are waited for
   * too, and a pass made again when they brought new names meanwhile (the agent's first
   * collection); a pod whose names a source does not have yet still gets them only with a
   * later pass, once the source has refreshed.
   */
  async cover(mapIds: readonly number[], timeoutMs: number): Promise<boolean> {
    const all = () => mapIds.every((id) => this.covers(id));
    const names = this.#deps.names;
    const generation = names?.generation?.();
    const passes = (async () => {
      await Promise.all([this.settled(), names?.ready?.()]);
      if ((all() && names?.generation?.() === generation) || this.#closed || !this.#withinBudget) return;
      await (this.#inFlight ?? this.#start()).catch(() => undefined);
    })();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([passes, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    return all();
  }

  /** Waits for the pass in flight, if any. */
  async settled(): Promise<void> {
    await this.#inFlight?.catch(() => undefined);
  }

  /** A pass now (after the one in flight, and the names sources' first answers), for one-shot views such as `snapshot`. */
  async refresh(mapIds?: ReadonlySet<number>): Promise<OwnerTable> {
    await Promise.all([this.settled(), this.#deps.names?.ready?.()]);
    if (mapIds) this.#observed = mapIds;
    return this.#start();
  }

  #start(): Promise<OwnerTable> {
    const covered = this.#observed;
    const p = this.#pass(covered).finally(() => {
      if (this.#inFlight === p) this.#inFlight = null;
    });
    this.#inFlight = p;
    return p;
  }

  async #pass(covered: ReadonlySet<number>): Promise<OwnerTable> {
    const started = performance.now();
    const startedAt = Date.now();
    try {
      const raw = await this.#source.read(Math.max(1, this.#s.budgetMs / 2));
      const table = this.#build(raw, covered, started);
      this.#table = table;
      this.#covered = covered;
      return table;
    } finally {
      this.#schedule(startedAt, performance.now() - started);
    }
  }

  #schedule(startedAt: number, durationMs: number): void {
    const base = this.#s.intervalMs > 0 ? this.#s.intervalMs : this.#s.collectionIntervalMs;
    this.#withinBudget = durationMs <= this.#s.budgetMs;
    const spacing = this.#withinBudget ? base : (base * durationMs) / this.#s.budgetMs;
    // A little early: the next collection's timer may fire a hair before a full interval.
    this.#nextDue = startedAt + spacing * 0.9;
  }

  #build(raw: RawOwners, covered: ReadonlySet<number>, started: number): OwnerTable {
    const parts = { fdsMs: raw.fdsMs, progsMs: raw.progsMs, pinsMs: raw.pinsMs, pinsOpened: raw.pinsOpened, cgroupReads: 0 };
    const selfPid = this.#deps.selfPid ?? process.pid;
    // A steady host gives the same records pass after pass: the last table stands (no
    // rebuild, no flap). The agent's own transient fds are left out of the comparison.
    const input = {
      fds: raw.fdsError ? Buffer.alloc(0) : withoutPid(raw.fds, selfPid),
      progs: raw.progsError ? Buffer.alloc(0) : raw.progs,
      pins: raw.pins.map((p) => `${p.kind}:${p.id}:${p.progId}:${p.path.toString('latin1')}`).join('\n') + `|${raw.pinsUnreadable}|${raw.pinsTruncated}`,
      // A source that cannot say whether its answer changed is asked every pass (NaN never equals).
      names: this.#deps.names ? (this.#deps.names.generation?.() ?? Number.NaN) : 0,
    };
    const last = this.#input;
    const previous = this.#table;
    if (
      previous && last && !raw.fdsError && !raw.progsError && !raw.pinsError &&
      input.names === last.names && input.pins === last.pins && input.fds.equals(last.fds) && input.progs.equals(last.progs) &&
      [...covered].every((id) => previous.byMap.has(id))
    )
      return { ...previous, time: Date.now(), durationMs: performance.now() - started, parts };
    this.#input = input;
    const support = this.#source.support;
    const problems: OwnerProblems = { unsupported: null, failed: null, pins: null };
    const unsupported: string[] = [];

    // 1. Processes and what they hold.
    let fds: FdRecord[] | null = null;
    let whyNoProcesses: string | undefined;
    if (support.processes) {
      whyNoProcesses = `not supported (needs iter/task_file): ${reason(support.processes)}`;
      unsupported.push(whyNoProcesses);
    } else if (raw.fdsError) {
      whyNoProcesses = `failed: ${reason(raw.fdsError)}`;
      problems.failed = new AgentError('EMP_OWNERS_FAILED', `reading the processes that hold maps failed: ${raw.fdsError.message}`, { cause: raw.fdsError });
    } else {
      try {
        fds = parseFdRecords(raw.fds);
      } catch (e) {
        whyNoProcesses = `failed: ${(e as Error).message}`;
        problems.failed = e as AgentError;
      }
    }
    // By pid: within one pass a pid is one process (identity across passes is Proc.key).
    const procs = new Map<number, Proc>();
    const mapHolders = new Map<number, Holder[]>();
    const progHolders = new Map<number, Holder[]>();
    const add = (m: Map<number, Holder[]>, id: number, proc: Proc, via: OwnerVia) => {
      let list = m.get(id);
      if (!list) m.set(id, (list = []));
      addHolder(list, proc, via);
    };
    let cgroupReads = 0;
    const selfMaps: number[] = [];
    const seenCgroupKeys = new Set<string>();
    for (const r of fds ?? []) {
      let proc = procs.get(r.pid);
      if (!proc) {
        const key = procKey(r);
        const cgKey = `${key}:${r.cgroupId}`;
        seenCgroupKeys.add(cgKey);
        let cgroup = this.#cgroups.get(cgKey);
        if (!cgroup) {
          const text = this.#deps.readCgroup(r.pid);
          cgroupReads++;
          cgroup = text === null ? { containerId: null, runtime: null, podUid: null } : parseProcCgroup(text);
          if (text !== null) this.#cgroups.set(cgKey, cgroup);
        }
        proc = { key, pid: r.pid, comm: r.comm, exe: r.exe, cgroup, owners: {} };
        procs.set(r.pid, proc);
      }
      if (r.kind === 'map') {
        if (r.pid === selfPid) selfMaps.push(r.id);
        else add(mapHolders, r.id, proc, 'map');
      }
      else if (r.kind === 'prog') add(progHolders, r.id, proc, 'program');
      else if (r.kind === 'link' && r.progId) add(progHolders, r.progId, proc, 'link');
      else if (r.kind === 'perf_event' && r.progId) add(progHolders, r.progId, proc, 'perf_event');
    }
    for (const k of this.#cgroups.keys()) if (!seenCgroupKeys.has(k)) this.#cgroups.delete(k);

    // 2. Programs and the maps they use.
    let programs: Map<number, ProgramRef> | null = null;
    const mapProgs = new Map<number, number[]>();
    const programMaps = new Map<number, number[]>();
    let whyNoPrograms: string | undefined;
    if (raw.progsError) {
      if (raw.progsById && support.programs) {
        whyNoPrograms = `not supported (needs iter/bpf_prog, Linux >= 5.9, or CAP_SYS_ADMIN for BPF_PROG_GET_NEXT_ID): ${reason(raw.progsError)}`;
        unsupported.push(whyNoPrograms);
      } else {
        whyNoPrograms = `failed: ${reason(raw.progsError)}`;
        problems.failed ??= new AgentError('EMP_OWNERS_FAILED', `reading the programs failed: ${raw.progsError.message}`, { cause: raw.progsError });
      }
    } else {
      try {
        programs = new Map();
        for (const p of parseProgRecords(raw.progs)) {
          programs.set(p.id, { id: p.id, name: p.name, type: progTypeName(p.typeId), attachTo: p.attachTo || null });
          programMaps.set(p.id, p.mapIds);
          for (const m of p.mapIds) {
            const list = mapProgs.get(m);
            if (list) list.push(p.id);
            else mapProgs.set(m, [p.id]);
          }
        }
      } catch (e) {
        programs = null;
        whyNoPrograms = `failed: ${(e as Error).message}`;
        problems.failed ??= e as AgentError;
      }
    }

    // The agent's own map fds: only the maps its own programs use.
    const self = procs.get(selfPid);
    if (self && selfMaps.length) {
      const mine = new Set<number>();
      for (const [progId, holders] of progHolders) if (holders.some((h) => h.proc === self)) for (const m of programMaps.get(progId) ?? NONE) mine.add(m);
      for (const id of selfMaps) if (mine.has(id)) add(mapHolders, id, self, 'map');
    }

    // 3. Pins.
    let whyNoPins: string | undefined;
    let pinsIncomplete: string | undefined;
    const mapPins = new Map<number, string[]>();
    const progPins = new Map<number, string[]>();
    if (!this.#s.pins) whyNoPins = 'owners.pins is false';
    else if (raw.pinsError) {
      whyNoPins = `not readable: ${reason(raw.pinsError)}`;
      problems.pins = new AgentError('EMP_PINS_UNREADABLE', `the bpffs root ${this.#s.bpffs} cannot be read: ${raw.pinsError.message}`, { cause: raw.pinsError });
    } else {
      const push = (m: Map<number, string[]>, id: number, p: string) => {
        const list = m.get(id);
        if (list) list.push(p);
        else m.set(id, [p]);
      };
      for (const p of raw.pins) {
        const at = decodeMapName(p.path);
        if (p.kind === 1) push(mapPins, p.id, at);
        else if (p.kind === 2) push(progPins, p.id, at);
        else if (p.kind === 3 && p.progId) push(progPins, p.progId, at);
      }
      if (raw.pinsUnreadable > 0) {
        const first = raw.pinsUnreadableError;
        pinsIncomplete = `incomplete: ${raw.pinsUnreadable} pin${raw.pinsUnreadable === 1 ? '' : 's'} under ${this.#s.bpffs} could not be opened${first ? ` (${first.code}, e.g. ${first.hint ?? ''})` : ''}`;
        problems.pins = new AgentError('EMP_PINS_UNREADABLE', `${pinsIncomplete}: their objects are not attributed`, {
          ...(first && { cause: first, errno: first.errno, syscall: first.syscall }),
        });
      } else if (raw.pinsTruncated) {
        pinsIncomplete = 'incomplete: the pin walk stopped at owners.max_pins or the budget (it goes on next pass)';
      }
    }
    if (unsupported.length)
      problems.unsupported = new AgentError('EMP_OWNERS_UNSUPPORTED', `owners: ${unsupported.join('; ')}`, {
        cause: support.processes ?? support.programs ?? undefined,
      });

    // 4. Per map. Objects that many maps share (a process's owner entry, empty lists, the
    // pass's unknowns) are made once: a host may have one process holding 10,000 maps.
    const names = this.#deps.names;
    let missed = false;
    const ownerOf = (p: Proc, via: OwnerVia): ProcessOwner => {
      const made = p.owners[via];
      if (made) return made;
      const k8s = names && (p.cgroup.podUid || p.cgroup.containerId) ? names.lookup(p.cgroup.podUid, p.cgroup.containerId) : null;
      if (names && p.cgroup.podUid && !k8s) missed = true;
      return (p.owners[via] = Object.freeze({
        pid: p.pid,
        comm: p.comm,
        executable: p.exe,
        containerId: p.cgroup.containerId,
        podUid: p.cgroup.podUid,
        pod: k8s?.pod ?? null,
        namespace: k8s?.namespace ?? null,
        container: k8s?.container ?? null,
        via,
      }));
    };
    const unknownParts: OwnersUnknown = {};
    if (whyNoProcesses) unknownParts.processes = whyNoProcesses;
    if (whyNoPrograms) unknownParts.programs = whyNoPrograms;
    if (whyNoPins ?? pinsIncomplete) unknownParts.pins = (whyNoPins ?? pinsIncomplete)!;
    const unknown = Object.keys(unknownParts).length ? Object.freeze(unknownParts) : null;
    const ids = new Set<number>(covered);
    for (const m of [mapHolders, mapProgs, mapPins]) for (const id of m.keys()) ids.add(id);
    const byMap = new Map<number, MapOwners>();
    const primary = new Map<number, string>();
    const max = this.#s.maxPerMap;
    for (const id of ids) {
      const progIds = mapProgs.get(id) ?? NONE;
      // Holders of the map itself; else of its programs (the loader attached them and left).
      let holders = mapHolders.get(id) ?? NONE;
      const direct = holders.length > 0;
      if (!direct && progIds.length > 0) {
        const via: Holder[] = [];
        for (const pid of progIds) for (const h of progHolders.get(pid) ?? NONE) addHolder(via, h.proc, h.via);
        holders = via;
      }
      let processes: readonly ProcessOwner[] | null = null;
      let omitted = 0;
      if (fds) {
        if (holders.length > 1) {
          const first = this.#primary.get(id);
          holders = [...holders].sort((a, b) => (a.proc.key === first ? -1 : b.proc.key === first ? 1 : VIA_RANK[a.via] - VIA_RANK[b.via] || a.proc.pid - b.proc.pid));
        }
        if (holders[0]) primary.set(id, holders[0].proc.key);
        omitted = Math.max(0, holders.length - max);
        processes = holders.length === 0 ? NONE : holders.slice(0, max).map((h) => ownerOf(h.proc, h.via));
      }
      let pins: readonly string[] | null = null;
      if (whyNoPins === undefined) {
        const own = mapPins.get(id) ?? NONE;
        const theirs: readonly string[] = direct ? NONE : progIds.flatMap((p) => progPins.get(p) ?? []);
        pins = own.length + theirs.length === 0 ? NONE : [...new Set([...own, ...theirs])].sort();
      }
      // A read that failed this pass keeps the last answer for that part.
      const before = problems.failed ? previous?.byMap.get(id) : undefined;
      byMap.set(id, {
        processes: (processes ?? before?.processes ?? null) as ProcessOwner[] | null,
        processesOmitted: processes ? omitted : (before?.processesOmitted ?? 0),
        programs: (programs ? (progIds.length ? progIds.map((p) => programs!.get(p)!).filter(Boolean) : NONE) : (before?.programs ?? null)) as ProgramRef[] | null,
        pins: pins as string[] | null,
        unknown,
      });
    }
    this.#primary = primary;
    if (missed) names!.miss();
    return {
      time: Date.now(),
      durationMs: performance.now() - started,
      byMap,
      problems,
      parts: { ...parts, cgroupReads },
    };
  }

  close(): void {
    this.#closed = true;
    this.#deps.names?.close();
    this.#source.close();
  }
}
