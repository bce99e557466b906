// SPDX-License-Identifier: Apache-2.0
/**
 * struct map_stats_record (bpf/map_stats.h) -> a plain object. The offsets here are the C
 * layout; the addon reports the record size it was built with and a test checks both agree.
 */
import { AgentError } from './errors';

export const RECORD_SIZE = 88;
export const RECORD_VERSION = 1;
const NAME_OFFSET = 72;
const NAME_LEN = 16;

/** enum map_count_method, by value. */
export const COUNT_METHODS = ['none', 'kfunc', 'kernel_counter', 'walk'] as const;
export type CountMethod = (typeof COUNT_METHODS)[number];

/** MAP_STATS_F_NEEDS_WALK: countable only by walking its elements. */
export const FLAG_NEEDS_WALK = 1;
/** MAP_STATS_F_COUNT_STALE: `entries` comes from a walk in an earlier collection. */
export const FLAG_COUNT_STALE = 2;
/** MAP_STATS_F_WALK_SKIPPED: a walk is due but the budget deferred it; no earlier count. */
export const FLAG_WALK_SKIPPED = 4;
/** MAP_STATS_F_WALK_UNSUPPORTED: a walk is due but this kernel refuses (or lacks) the walk program. */
export const FLAG_WALK_UNSUPPORTED = 8;

export interface MapRecord {
  id: number;
  typeId: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  countMethod: CountMethod;
  flags: number;
  /** Meaningful only when countMethod !== 'none'. */
  entries: number;
  /** Type-specific (ring buffers: producer_pos, consumer_pos, data size). */
  aux: [number, number, number, number];
  name: string;
}

/**
 * A map name as the kernel holds it: up to 16 bytes, not necessarily UTF-8 (the kernel
 * accepts Latin-1 letters). Printable ASCII stays; every other byte becomes \xHH, so the
 * result is valid UTF-8, safe in labels and terminals, and distinct names stay distinct.
 */
export function decodeMapName(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    if (b === 0) break;
    out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/**
 * decodeMapName of the NUL-terminated (or full) text at buf[start..start+len), without a copy
 * per byte when it is plain ASCII. Also the owner records' comm, executable and program names.
 */
export function textAt(buf: Buffer, start: number, len: number): string {
  const limit = start + len;
  let end = start;
  let plain = true;
  for (; end < limit; end++) {
    const b = buf[end]!;
    if (b === 0) break;
    if (b < 0x20 || b >= 0x7f || b === 0x5c) plain = false;
  }
  // The common case (every byte printable, no backslash) is one string copy, not one per byte.
  return plain ? buf.toString('latin1', start, end) : decodeMapName(buf.subarray(start, end));
}

const nameAt = (buf: Buffer, start: number) => textAt(buf, start, NAME_LEN);

const TWO_32 = 2 ** 32;

/**
 * 64-bit little-endian integers as numbers, from their 32-bit halves (no BigInt per field:
 * this runs for every map on every collection). hi * 2^32 is exact and lo < 2^32, so the one
 * rounding of the sum is the same as Number(BigInt) would make above 2^53.
 */
export function u64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off + 4) * TWO_32 + buf.readUInt32LE(off);
}

function s64(buf: Buffer, off: number): number {
  return buf.readInt32LE(off + 4) * TWO_32 + buf.readUInt32LE(off);
}

/**
 * Which records a caller reports, before any walk or memory read: one byte per record, 1 to
 * keep, from the record's name (decoded as parseRecords does) and type id. Records of the
 * wrong size are left to parseRecords to reject.
 */
export function selectRecords(buf: Buffer, keep: (name: string, typeId: number) => boolean): Uint8Array {
  const n = Math.floor(buf.length / RECORD_SIZE);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const off = i * RECORD_SIZE;
    out[i] = keep(nameAt(buf, off + NAME_OFFSET), buf.readUInt32LE(off + 8)) ? 1 : 0;
  }
  return out;
}

/**
 * The records of one iterator read, in place: at(i) points the cursor at record i, whose
 * fields are read from the buffer when asked. The collector reads every map this way on every
 * collection, with no object per record; parseRecords() makes the objects where they are wanted.
 * Every record's size and version is checked when the cursor is made.
 */
export class RecordCursor implements Readonly<MapRecord> {
  readonly #buf: Buffer;
  #off = 0;
  /** Records in the buffer. */
  readonly length: number;

  constructor(buf: Buffer) {
    if (buf.length % RECORD_SIZE !== 0)
      throw new AgentError('EMP_RECORD_MISMATCH', `iterator output of ${buf.length} bytes is not a whole number of ${RECORD_SIZE}-byte records`);
    for (let off = 0; off < buf.length; off += RECORD_SIZE) {
      const size = buf.readUInt16LE(off);
      const version = buf.readUInt16LE(off + 2);
      if (size !== RECORD_SIZE || version !== RECORD_VERSION)
        throw new AgentError('EMP_RECORD_MISMATCH', `record at byte ${off} has size ${size} and version ${version}, expected ${RECORD_SIZE} and ${RECORD_VERSION}`);
    }
    this.#buf = buf;
    this.length = buf.length / RECORD_SIZE;
  }

  /** Points the cursor at record i (0 ≤ i < length). */
  at(i: number): this {
    this.#off = i * RECORD_SIZE;
    return this;
  }

  get id(): number {
    return this.#buf.readUInt32LE(this.#off + 4);
  }
  get typeId(): number {
    return this.#buf.readUInt32LE(this.#off + 8);
  }
  get keySize(): number {
    return this.#buf.readUInt32LE(this.#off + 12);
  }
  get valueSize(): number {
    return this.#buf.readUInt32LE(this.#off + 16);
  }
  get maxEntries(): number {
    return this.#buf.readUInt32LE(this.#off + 20);
  }
  get mapFlags(): number {
    return this.#buf.readUInt32LE(this.#off + 24);
  }
  get countMethod(): CountMethod {
    return COUNT_METHODS[this.#buf.readUInt16LE(this.#off + 28)] ?? 'none';
  }
  get flags(): number {
    return this.#buf.readUInt16LE(this.#off + 30);
  }
  get entries(): number {
    return s64(this.#buf, this.#off + 32);
  }
  get aux(): [number, number, number, number] {
    const b = this.#buf;
    const off = this.#off;
    return [u64(b, off + 40), u64(b, off + 48), u64(b, off + 56), u64(b, off + 64)];
  }
  get name(): string {
    return nameAt(this.#buf, this.#off + NAME_OFFSET);
  }
}

/** Every record as an object (see RecordCursor for the reading without them). */
export function parseRecords(buf: Buffer): MapRecord[] {
  const c = new RecordCursor(buf);
  const out: MapRecord[] = [];
  for (let i = 0; i < c.length; i++) {
    c.at(i);
    out.push({
      id: c.id,
      typeId: c.typeId,
      keySize: c.keySize,
      valueSize: c.valueSize,
      maxEntries: c.maxEntries,
      mapFlags: c.mapFlags,
      countMethod: c.countMethod,
      flags: c.flags,
      entries: c.entries,
      aux: c.aux,
      name: c.name,
    });
  }
  return out;
}
