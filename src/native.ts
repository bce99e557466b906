// SPDX-License-Identifier: Apache-2.0
/**
 * Typed loader for the native addon (native/addon.cc). Options are checked here, before
 * they cross into C++, and the addon's Node-shaped system errors become coded AgentErrors.
 */
import * as path from 'node:path';
import { AgentError, type ErrorCode } from './errors';

/** What the addon resolves each collection with. */
export interface RawCollection {
  /** struct map_stats_record entries back to back (bpf/map_stats.h). */
  readonly records: Buffer;
  /** One figure per record, bytes; -1 where unknown. */
  readonly memory: Float64Array;
  /** One per record: 1 where memory is computed with the kernel's formula, not read from fdinfo. */
  readonly memoryEstimated: Uint8Array;
  readonly bytesRead: number;
  /** fdinfo reads this collection; the rest came from the memlock cache. */
  readonly memoryReads: number;
  /** Set when memory could not be read at all (e.g. EPERM without CAP_SYS_ADMIN). */
  readonly memoryError?: SystemError;
  /** One per record: age in ms of a count made by an element walk (0: walked now); -1 where none. */
  readonly countAgeMs: Float64Array;
  /** Element walks made this collection. */
  readonly walks: number;
  /** Why maps that need an element walk were not walked (e.g. EPERM without CAP_SYS_ADMIN). */
  readonly walkError?: SystemError;
}

/** Node's shape for system errors, plus the kind of failure, our hint and detail. */
export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
  /** What failed, as the addon says where it happens (native/sys_error.h). */
  kind: NativeErrorKind;
  hint?: string;
  detail?: string;
}

/** A check of one option: the value if it is valid, else a TypeError or RangeError naming the option. */
type OptionCheck<T> = (name: string, value: unknown) => T;

const isBoolean: OptionCheck<boolean> = (name, v) => {
  if (typeof v !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${JSON.stringify(v)}`);
  return v;
};

const isPath: OptionCheck<string> = (name, v) => {
  if (typeof v !== 'string' || v.length === 0 || v.includes('\0')) throw new TypeError(`${name} must be a non-empty path string, got ${JSON.stringify(v)}`);
  return v;
};

const isNonNegative: OptionCheck<number> = (name, v) => {
  if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new RangeError(`${name} must be a number >= 0, got ${JSON.stringify(v)}`);
  return v;
};

const ESTIMATE_MODES = ['auto', 'always', 'never'] as const;
const isEstimateMode: OptionCheck<(typeof ESTIMATE_MODES)[number]> = (name, v) => {
  if (!ESTIMATE_MODES.includes(v as never)) throw new TypeError(`${name} must be "auto", "always" or "never", got ${JSON.stringify(v)}`);
  return v as (typeof ESTIMATE_MODES)[number];
};

const isUint32: OptionCheck<number> = (name, v) => {
  if (!(Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 2 ** 32 - 1)) throw new RangeError(`${name} must be a whole number >= 0, got ${JSON.stringify(v)}`);
  return v as number;
};

/** Options of a reader, each optional, typed by its check. */
type OptionsOf<Table> = { [K in keyof Table]?: Table[K] extends OptionCheck<infer T> ? T : never };

/**
 * The options of MapStatsReader, declared once: ReaderOptions is derived from this table, the
 * constructor checks by it, and the addon reads the same names (native/addon.cc
 * kReaderOptions; test/native.test.ts holds the two lists equal).
 */
export const READER_OPTIONS = {
  /** Use bpf_map_sum_elem_count where the kernel has it (default true). */
  useKfunc: isBoolean,
  /** Read counters and positions of non-hash types (default true). */
  useKernelState: isBoolean,
  /** Read kernel-accounted memory from fdinfo (default true). */
  readMemory: isBoolean,
  /**
   * Memory from the 6.4+ kernel's own formulas instead of fdinfo (whose memlock is rough
   * before 6.4): 'auto' (default) on kernels before 6.4, 'always' wherever a formula exists
   * (tests compare it with fdinfo on 6.4+), 'never'.
   */
  memoryEstimate: isEstimateMode,
  /** The kernel's BTF; default: libbpf's search (/sys/kernel/btf/vmlinux). */
  btfPath: isPath,
  /** procfs mount, for /proc/self/fdinfo (default /proc). */
  procfs: isPath,
  /** Count hash maps the kernel keeps no counter for by an in-kernel element walk (default true). */
  walk: isBoolean,
  /** Walks per collection stop once the walked maps' max_entries add up to this (default 1,000,000). */
  walkMaxEntries: isNonNegative,
  /** No walk starts after this many ms of walking in one collection (default 200). */
  walkBudgetMs: isNonNegative,
};

export type ReaderOptions = OptionsOf<typeof READER_OPTIONS>;

/**
 * Checks options against their table before they cross into C++: an unknown key (a misspelt
 * one would otherwise be ignored by the addon, silently), then each option given, in the
 * table's order.
 */
function checkOptions(what: string, table: Record<string, OptionCheck<unknown>>, options: object): void {
  const known = Object.keys(table);
  for (const key of Object.keys(options)) if (!Object.hasOwn(table, key)) throw new TypeError(`unknown ${what} option ${JSON.stringify(key)} (known: ${known.join(', ')})`);
  for (const key of known) {
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined) table[key]!(key, value);
  }
}

/** Why each element-walk program is not loaded (null: it is, or walks are disabled). */
export interface WalkSupport {
  /** iter/bpf_map_elem: hash maps on kernels without bpf_map_sum_elem_count. */
  readonly elements: SystemError | null;
  /** iter/sockmap: sockmap, which keeps no count on any kernel. */
  readonly sockets: SystemError | null;
}

/** One byte per record of the iterator's output: 1 for the maps the caller reports. */
export type RecordSelector = (records: Buffer) => Uint8Array;

interface NativeReader {
  collect(select?: RecordSelector): Promise<RawCollection>;
  close(): void;
  readonly kfuncAvailable: boolean;
  readonly walkSupport: WalkSupport;
}

export interface CreateMapOptions {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  name?: string;
  /** Name bytes as given, for names that are not ASCII. */
  rawName?: Buffer;
  innerMapFd?: number;
  /** Describe key (int) and value with BTF: task, inode, sk and cgroup storage need it. */
  btf?: boolean;
}

/** Map syscalls for the demo, tests and benchmarks; the agent itself only reads. */
export interface MapOps {
  createMap(options: CreateMapOptions): number;
  update(fd: number, key: Buffer | null, value: Buffer | null, flags?: number): void;
  delete(fd: number, key: Buffer | null): void;
  /** Pops a queue or stack (key null); returns the value. */
  lookupAndDelete(fd: number, key: Buffer | null, valueSize: number): Buffer;
  fill(fd: number, keySize: number, valueSize: number, first: number, count: number): {
    inserted: number;
    errno: number;
  };
  countKeys(fd: number, keySize: number): number;
  mapId(fd: number): number;
  pin(fd: number, path: string): void;
  close(fd: number): void;
}

/** One pin under the bpffs root: what it is (bpf/owners.h kinds 1 map, 2 prog, 3 link) and its id. */
export interface RawPin {
  /** The path's bytes (not necessarily UTF-8). */
  readonly path: Buffer;
  readonly kind: number;
  readonly id: number;
  /** Links: their program. */
  readonly progId: number;
}

/** What one owner pass of the addon read (native/owners_glue.cc). */
export interface RawOwners {
  /** struct owner_fd_record entries back to back (bpf/owners.h). */
  readonly fds: Buffer;
  readonly fdsError?: SystemError;
  /** struct owner_prog_record entries back to back. */
  readonly progs: Buffer;
  readonly progsError?: SystemError;
  /** Programs came from the BPF_PROG_GET_NEXT_ID walk (no iter/bpf_prog). */
  readonly progsById: boolean;
  readonly pinsWalked: boolean;
  readonly pins: readonly RawPin[];
  /** The bpffs root could not be read at all. */
  readonly pinsError?: SystemError;
  /** Pins that could not be opened (permissions), and the first one's error. */
  readonly pinsUnreadable: number;
  readonly pinsUnreadableError?: SystemError;
  /** owners.max_pins or the budget stopped the walk. */
  readonly pinsTruncated: boolean;
  readonly pinsOpened: number;
  readonly fdsMs: number;
  readonly progsMs: number;
  readonly pinsMs: number;
}

/** Why each owner iterator program is not loaded (null: it is). */
export interface OwnerSupport {
  /** iter/task_file: the processes holding maps, programs and links. */
  readonly processes: SystemError | null;
  /** iter/bpf_prog: programs and their maps (without it, BPF_PROG_GET_NEXT_ID, CAP_SYS_ADMIN). */
  readonly programs: SystemError | null;
}

/** The options of OwnersReader, declared once (as READER_OPTIONS; native/owners_glue.cc kOwnersOptions). */
export const OWNERS_OPTIONS = {
  btfPath: isPath,
  /** Root of the pin walk (paths.bpffs). */
  bpffs: isPath,
  procfs: isPath,
  /** Walk pins at all (default true). */
  pins: isBoolean,
  /** Pins visited at most per walk (default 10,000). */
  maxPins: isUint32,
};

export type OwnersReaderOptions = OptionsOf<typeof OWNERS_OPTIONS>;

interface NativeOwnersReader {
  read(pinsBudgetMs: number): Promise<RawOwners>;
  close(): void;
  readonly support: OwnerSupport;
}

interface Addon {
  Reader: new (options: ReaderOptions) => NativeReader;
  OwnersReader: new (options: OwnersReaderOptions) => NativeOwnersReader;
  /** sizeof the owner records of bpf/owners.h, and their version. */
  ownerRecords: { fd: number; prog: number; version: number };
  recordSize: number;
  recordVersion: number;
  /** The MAP_STATS_F_* bits of bpf/map_stats.h, for the test that keeps records.ts in step. */
  recordFlags: Record<'needsWalk' | 'countStale' | 'walkSkipped' | 'walkUnsupported', number>;
  /** The option names Reader and OwnersReader read (native/addon.cc, owners_glue.cc), for the test that keeps the tables in step. */
  readerOptions: string[];
  ownersReaderOptions: string[];
  /** The kinds an addon error's `kind` names (native/sys_error.h), for the test that keeps NATIVE_ERROR_KINDS in step. */
  errorKinds: string[];
  mapOps: MapOps;
  /** Bytes malloc has out (glibc mallinfo2), for the leak test; -1 where unknown. */
  mallocInUse(): number;
}

let addon: Addon | undefined;

/** The addon, loaded once; a missing build is a coded error, not a stack trace. */
export function loadAddon(): Addon {
  if (addon) return addon;
  const file = path.join(__dirname, '..', 'build', 'Release', 'ebpf_map_pressure.node');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    addon = require(file) as Addon;
  } catch (cause) {
    throw new AgentError('EMP_NATIVE_MISSING', `cannot load the native addon ${file}: ${String((cause as Error).message)}`, {
      cause,
    });
  }
  return addon;
}

/**
 * The code of each kind of addon failure (native/sys_error.h names the kinds): `code`, or
 * `denied` when the errno is EPERM or EACCES. An error without a kind (not the addon's) is
 * taken as `system`.
 */
export const NATIVE_ERROR_KINDS = {
  system: { code: 'EMP_COLLECT_FAILED', denied: 'EMP_PERMISSION' },
  // paths.btf: a BTF file we may not read is a BTF problem, not a BPF privilege one.
  btf: { code: 'EMP_NO_BTF', denied: 'EMP_NO_BTF' },
  open: { code: 'EMP_NO_BTF', denied: 'EMP_PERMISSION' },
  load: { code: 'EMP_LOAD_FAILED', denied: 'EMP_PERMISSION' },
  closed: { code: 'EMP_READER_CLOSED', denied: 'EMP_PERMISSION' },
  record: { code: 'EMP_RECORD_MISMATCH', denied: 'EMP_PERMISSION' },
} as const satisfies Record<string, { code: ErrorCode; denied: ErrorCode }>;

export type NativeErrorKind = keyof typeof NATIVE_ERROR_KINDS;

/** Turns an addon error into the AgentError an operator can act on. */
export function toAgentError(e: unknown): AgentError {
  if (e instanceof AgentError) return e;
  const err = e as Partial<SystemError>;
  const message = err.message ?? String(e);
  // libbpf's lines ("make sure ... RLIMIT_MEMLOCK", the verifier log) are for debug logs: they
  // guess at causes the errno and hint already settle, and would bury the first line.
  const detail = err.detail?.trimEnd();
  const options = {
    cause: e,
    ...(detail && { detail }),
    ...(err.hint !== undefined && { hint: err.hint }),
    ...(err.errno !== undefined && { errno: err.errno }),
    ...(err.syscall !== undefined && { syscall: err.syscall }),
  };
  const kind = err.kind !== undefined && Object.hasOwn(NATIVE_ERROR_KINDS, err.kind) ? NATIVE_ERROR_KINDS[err.kind] : NATIVE_ERROR_KINDS.system;
  const denied = err.code === 'EPERM' || err.code === 'EACCES';
  return new AgentError(denied ? kind.denied : kind.code, message, options);
}

/** The loaded iterator. One collection at a time; close() releases the program and link. */
export class MapStatsReader {
  readonly #native: NativeReader;
  #closed = false;

  constructor(options: ReaderOptions = {}) {
    checkOptions('reader', READER_OPTIONS, options);
    const { Reader } = loadAddon();
    try {
      this.#native = new Reader(options);
    } catch (e) {
      throw toAgentError(e);
    }
  }

  get kfuncAvailable(): boolean {
    return this.#native.kfuncAvailable;
  }

  /** Which element-walk programs the kernel refused or lacks, known from the start. */
  get walkSupport(): WalkSupport {
    return this.#native.walkSupport;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * One collection. With select, element walks and memory reads are made only for the
   * records it keeps (the others get memory -1 and the iterator's own figures): a map the
   * agent does not report is not opened. A select that throws rejects the collection.
   */
  async collect(select?: RecordSelector): Promise<RawCollection> {
    if (this.#closed) throw new AgentError('EMP_READER_CLOSED', 'collect() called after close()');
    try {
      return await this.#native.collect(select);
    } catch (e) {
      throw toAgentError(e);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }
}

/**
 * The owner programs (iter/task_file, iter/bpf_prog) and the pin walk. Never throws for a
 * program the kernel lacks or refuses: `support` says which, and read() returns what the
 * others found.
 */
export class OwnersReader {
  readonly #native: NativeOwnersReader;
  #closed = false;

  constructor(options: OwnersReaderOptions = {}) {
    checkOptions('owners reader', OWNERS_OPTIONS, options);
    const { OwnersReader: Native } = loadAddon();
    this.#native = new Native(options);
  }

  get support(): OwnerSupport {
    return this.#native.support;
  }

  /** One pass: both iterators whole, then the pin walk for at most pinsBudgetMs. */
  async read(pinsBudgetMs: number): Promise<RawOwners> {
    if (this.#closed) throw new AgentError('EMP_READER_CLOSED', 'read() called after close()');
    return this.#native.read(pinsBudgetMs);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }
}
