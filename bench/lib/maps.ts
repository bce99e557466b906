// SPDX-License-Identifier: Apache-2.0
/**
 * The benchmark's maps: real maps of mixed types, sizes and fills, created through the
 * addon's mapOps from a seeded PRNG (the same seed builds the same population), held by fd
 * in this process (never pinned: they vanish when it exits) and grown step by step.
 */
import { readFileSync } from 'node:fs';
import { mapTypeByName } from '../../src/map-types';
import { loadAddon, type MapOps } from '../../src/native';
import { seededRandom } from './stats';

/** BPF_F_NO_PREALLOC */
const F_NO_PREALLOC = 1;

export interface BenchMap {
  /** -1 once held by an outer map (see FD_HELD). */
  fd: number;
  id: number;
  type: string;
  keySize: number;
  maxEntries: number;
  /** Entries we put in (LRU maps may hold fewer). */
  inserted: number;
}

interface Kind {
  type: string;
  weight: number;
  keySize: number;
  valueSize: number;
  flags?: number;
  /** Fixed max_entries (ring buffers: bytes, a page multiple). */
  maxEntries?: number;
  /** How to put n entries in; absent: left empty. */
  fill?: 'keys' | 'push' | 'lpm';
  percpu?: boolean;
}

/**
 * The population, by weight: mostly the hash family (what fills up in practice), arrays,
 * and a few of every other countable kind. Small maps: 10,000 of them must fit comfortably.
 */
const KINDS: readonly Kind[] = [
  { type: 'hash', weight: 30, keySize: 4, valueSize: 8, fill: 'keys' },
  { type: 'hash', weight: 8, keySize: 8, valueSize: 16, flags: F_NO_PREALLOC, fill: 'keys' },
  { type: 'lru_hash', weight: 10, keySize: 4, valueSize: 8, fill: 'keys' },
  { type: 'percpu_hash', weight: 5, keySize: 4, valueSize: 8, fill: 'keys', percpu: true },
  { type: 'lru_percpu_hash', weight: 3, keySize: 4, valueSize: 8, fill: 'keys', percpu: true },
  { type: 'array', weight: 18, keySize: 4, valueSize: 8 },
  { type: 'percpu_array', weight: 5, keySize: 4, valueSize: 8 },
  { type: 'queue', weight: 5, keySize: 0, valueSize: 8, fill: 'push' },
  { type: 'stack', weight: 3, keySize: 0, valueSize: 8, fill: 'push' },
  { type: 'lpm_trie', weight: 5, keySize: 8, valueSize: 8, flags: F_NO_PREALLOC, fill: 'lpm' },
  { type: 'bloom_filter', weight: 3, keySize: 0, valueSize: 4 },
  { type: 'ringbuf', weight: 2, keySize: 0, valueSize: 0, maxEntries: 4096 },
];

const TOTAL_WEIGHT = KINDS.reduce((a, k) => a + k.weight, 0);
const SIZES = [16, 32, 64, 128];
const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789_';

/** The CPUs a per-CPU value has a slot for (the kernel reads round_up(size, 8) * this). */
export function possibleCpus(): number {
  let n = 0;
  for (const part of readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - a! + 1;
  }
  return n;
}

/**
 * Past this many maps, new ones are held by an outer hash_of_maps instead of an fd (the
 * process's fd limit is 20,000 here and cannot be raised): the outer map keeps each alive,
 * the agent still sees and counts every one, and their fds are closed.
 */
const FD_HELD = 15_000;

export class MapPool {
  readonly maps: BenchMap[] = [];
  readonly #ops: MapOps;
  readonly #random: () => number;
  readonly #cpus = possibleCpus();
  /** Outer maps by inner-map template (type, sizes, flags, max_entries), with their next slot. */
  readonly #outers = new Map<string, { fd: number; next: number }>();

  constructor(seed: number) {
    this.#ops = loadAddon().mapOps;
    this.#random = seededRandom(seed);
  }

  /** Adds maps until the pool holds `total`. */
  growTo(total: number): void {
    while (this.maps.length < total) {
      const m = this.#create(this.maps.length);
      if (this.maps.length >= FD_HELD) this.#hold(m);
      this.maps.push(m);
    }
  }

  /** Moves a map into an outer map of its template and closes its fd (kept if the kernel refuses). */
  #hold(m: BenchMap & { template?: string }): void {
    const key = m.template!;
    let outer = this.#outers.get(key);
    try {
      if (!outer) {
        const hashOfMaps = mapTypeByName('hash_of_maps')!.id;
        outer = { fd: this.#ops.createMap({ type: hashOfMaps, keySize: 4, valueSize: 4, maxEntries: 40_000, innerMapFd: m.fd, name: 'bench_outer' }), next: 0 };
        this.#outers.set(key, outer);
      }
      const k = Buffer.alloc(4);
      k.writeUInt32LE(outer.next++);
      const v = Buffer.alloc(4);
      v.writeUInt32LE(m.fd);
      this.#ops.update(outer.fd, k, v);
    } catch {
      return; // this type cannot be an inner map: it keeps its fd
    }
    this.#ops.close(m.fd);
    m.fd = -1;
  }

  /** The hash-family maps: what a get-next-key walk or a dump must visit to count. */
  hashMaps(): BenchMap[] {
    return this.maps.filter((m) => m.type.endsWith('hash'));
  }

  closeAll(): void {
    for (const m of this.maps.splice(0)) if (m.fd >= 0) this.#ops.close(m.fd);
    for (const o of this.#outers.values()) this.#ops.close(o.fd);
    this.#outers.clear();
  }

  #pick(): Kind {
    let r = this.#random() * TOTAL_WEIGHT;
    for (const k of KINDS) {
      r -= k.weight;
      if (r < 0) return k;
    }
    return KINDS[0]!;
  }

  #name(i: number): Buffer {
    // 1 in 50 names carries a Latin-1 byte (the kernel accepts them; the agent escapes them).
    const len = 8 + Math.floor(this.#random() * 8);
    let s = `b${i.toString(36)}_`;
    while (s.length < len) s += NAME_CHARS[Math.floor(this.#random() * NAME_CHARS.length)];
    const bytes = Buffer.from(s.slice(0, 15), 'latin1');
    if (this.#random() < 0.02) bytes[bytes.length - 1] = 0xe9;
    return bytes;
  }

  #create(i: number): BenchMap {
    const kind = this.#pick();
    const info = mapTypeByName(kind.type);
    if (!info) throw new Error(`unknown map type ${kind.type}`);
    const maxEntries = kind.maxEntries ?? SIZES[Math.floor(this.#random() * SIZES.length)]!;
    // Fill: empty, full, or anywhere between, uniformly.
    const r = this.#random();
    const want = r < 0.15 ? 0 : r > 0.9 ? maxEntries : Math.floor(this.#random() * maxEntries);
    const fd = this.#ops.createMap({
      type: info.id,
      keySize: kind.keySize,
      valueSize: kind.valueSize,
      maxEntries,
      flags: kind.flags ?? 0,
      rawName: this.#name(i),
    });
    const m: BenchMap & { template?: string } = { fd, id: this.#ops.mapId(fd), type: kind.type, keySize: kind.keySize, maxEntries, inserted: 0 };
    m.template = `${kind.type}/${kind.keySize}/${kind.valueSize}/${kind.flags ?? 0}/${maxEntries}`;
    const valueBytes = kind.percpu ? Math.ceil(kind.valueSize / 8) * 8 * this.#cpus : kind.valueSize;
    if (kind.fill === 'keys') {
      m.inserted = this.#ops.fill(fd, kind.keySize, valueBytes, 0, want).inserted;
    } else if (kind.fill === 'lpm') {
      // Keys are {u32 prefixlen; u8 addr[4]}: prefix lengths 0..32 of 0.0.0.0 are distinct.
      m.inserted = this.#ops.fill(fd, kind.keySize, valueBytes, 0, Math.min(want, 33)).inserted;
    } else if (kind.fill === 'push') {
      const value = Buffer.alloc(kind.valueSize, 0x5a);
      for (let n = 0; n < want; n++) this.#ops.update(fd, null, value);
      m.inserted = want;
    }
    return m;
  }
}
