// SPDX-License-Identifier: Apache-2.0
/**
 * The identity of a map's series: one list of (key, value) per map, the same on every
 * per-map series, encoded once per map and cached by map id (for OTLP: tagged KeyValue
 * bytes; for Prometheus: the label block). A map's entry is encoded again only when one of
 * its values changes (a map's name and type never do; its count method may), and dropped
 * with the first collection that no longer has the map.
 *
 * After MAP_IDENTITY come the attributes of the map's first owner that owners.copy_attributes
 * names (k8s.namespace.name, ...), those that are known: the first owner is sticky, so they
 * change about as rarely as the count method. A map's first collection waits for its owners,
 * and a map whose owning processes were still unknown then has none copied for its life
 * (MapStats.copiesOwner): its entry is not encoded again when a later pass finds them.
 */
import type { MapStats } from '../collector';
import { ATTR, PER_MAP } from '../metrics/table';
import type { OwnerAttribute } from '../owners/model';
import { copiedOwner, ownerAttributeValue } from '../owners/series';
import { MessageBuilder } from './proto';

export type AttrValue = string | number | boolean;

export interface IdentityAttribute {
  readonly key: string;
  value(m: MapStats): AttrValue;
}

/** The identifying attributes of every per-map series, in the order they are written. */
export const MAP_IDENTITY: readonly IdentityAttribute[] = [
  { key: ATTR.id, value: (m) => m.id },
  { key: ATTR.name, value: (m) => m.name },
  { key: ATTR.type, value: (m) => m.type },
  { key: ATTR.countMethod, value: (m) => m.countMethod },
];

// The table's attribute list and this one must not drift apart.
if (MAP_IDENTITY.map((a) => a.key).join() !== PER_MAP.join()) throw new Error('MAP_IDENTITY and the metric table disagree');

/** A map's attributes as the encoders take them; null: absent (an owner attribute not known). */
export type IdentityPairs = ReadonlyArray<readonly [string, AttrValue | null]>;

/** The value of a copied owner attribute on a map's series; null when the map has no such owner attribute. */
function copiedValue(m: MapStats, key: OwnerAttribute): AttrValue | null {
  const p = copiedOwner(m);
  return p ? ownerAttributeValue(p, key) : null;
}

/** The last collection that asked for each map's entry; entries not asked for go at endCollection(). */
export class PerMapEntries<E> {
  readonly #entries = new Map<number, { value: E; generation: number }>();
  #generation = 0;
  #asked = 0;

  /** The map's entry (marked as asked for in this collection), or undefined. */
  get(id: number): E | undefined {
    const e = this.#entries.get(id);
    if (!e) return undefined;
    if (e.generation !== this.#generation) {
      e.generation = this.#generation;
      this.#asked++;
    }
    return e.value;
  }

  set(id: number, value: E): void {
    const e = this.#entries.get(id);
    if (e) e.value = value;
    else this.#entries.set(id, { value, generation: -1 });
    this.get(id);
  }

  /** Forgets the maps not asked for since the last call. */
  endCollection(): void {
    // Only sweep when some map was not asked for (a map went away).
    if (this.#entries.size > this.#asked) for (const [id, e] of this.#entries) if (e.generation !== this.#generation) this.#entries.delete(id);
    this.#generation++;
    this.#asked = 0;
  }

  get size(): number {
    return this.#entries.size;
  }
}

interface Entry<T> {
  values: Array<AttrValue | null>;
  encoded: T;
}

/** Per-map encodings, by map id; call endCollection() after each collection's last get(). */
export class IdentityCache<T> {
  readonly #encode: (pairs: IdentityPairs) => T;
  readonly #copy: readonly OwnerAttribute[];
  readonly #keys: readonly string[];
  readonly #entries = new PerMapEntries<Entry<T>>();
  /** Encodings made (for tests: a map seen again is not encoded again). */
  encodings = 0;

  /** `copy`: owners.copy_attributes, the first owner's attributes put after MAP_IDENTITY. */
  constructor(encode: (pairs: IdentityPairs) => T, copy: readonly OwnerAttribute[] = []) {
    this.#encode = encode;
    this.#copy = [...new Set(copy)];
    this.#keys = [...MAP_IDENTITY.map((a) => a.key), ...this.#copy];
  }

  get(m: MapStats): T {
    const e = this.#entries.get(m.id);
    if (e && this.#same(e.values, m)) return e.encoded;
    const values = this.#values(m);
    const encoded = this.#encode(values.map((v, i) => [this.#keys[i]!, v] as const));
    this.#entries.set(m.id, { values, encoded });
    this.encodings++;
    return encoded;
  }

  #values(m: MapStats): Array<AttrValue | null> {
    const out: Array<AttrValue | null> = MAP_IDENTITY.map((a) => a.value(m));
    for (const k of this.#copy) out.push(copiedValue(m, k));
    return out;
  }

  #same(values: ReadonlyArray<AttrValue | null>, m: MapStats): boolean {
    const k = MAP_IDENTITY.length;
    for (let i = 0; i < k; i++) if (values[i] !== MAP_IDENTITY[i]!.value(m)) return false;
    for (let i = 0; i < this.#copy.length; i++) if (values[k + i] !== copiedValue(m, this.#copy[i]!)) return false;
    return true;
  }

  /** Forgets the maps not asked for since the last call. */
  endCollection(): void {
    this.#entries.endCollection();
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** An OTLP AnyValue: strings, booleans, integers as int_value, other numbers as double_value. */
export function anyValue(v: unknown): MessageBuilder {
  const b = new MessageBuilder();
  if (typeof v === 'string') b.string(1, v);
  else if (typeof v === 'boolean') b.varintField(2, v ? 1 : 0);
  else if (typeof v === 'number' && Number.isInteger(v)) b.int64Varint(3, v);
  else if (typeof v === 'number') b.double(4, v);
  else if (Array.isArray(v)) {
    const arr = new MessageBuilder();
    for (const x of v) arr.message(1, anyValue(x));
    b.message(5, arr);
  } else b.string(1, String(v));
  return b;
}

/** KeyValue messages, each as field `field` of the enclosing message (7 in a NumberDataPoint). */
export function keyValues(field: number, pairs: Iterable<readonly [string, unknown]>): Buffer {
  const out = new MessageBuilder();
  for (const [k, v] of pairs) {
    if (v === undefined || v === null) continue;
    out.message(field, new MessageBuilder().string(1, k).message(2, anyValue(v)));
  }
  return out.finish();
}

/** NumberDataPoint.attributes is field 7. */
export const NUMBER_POINT_ATTRIBUTES = 7;

/** Bytes after the attributes in a point prefix: start and time, each a tag and a fixed64. */
export const TIMES_BYTES = 18;

/**
 * The OTLP cache: each map's KeyValues, tagged as NumberDataPoint attributes, followed by
 * room for the point's start and time (written once per collection), so that a point is
 * one copy of this prefix and its value.
 */
export function otlpIdentityCache(copy: readonly OwnerAttribute[] = []): IdentityCache<Buffer> {
  return new IdentityCache(otlpPointPrefix, copy);
}

/** A point's attributes as KeyValues, then room for its start and time. */
export function otlpPointPrefix(pairs: Iterable<readonly [string, unknown]>): Buffer {
  const kv = keyValues(NUMBER_POINT_ATTRIBUTES, pairs);
  const prefix = Buffer.alloc(kv.length + TIMES_BYTES);
  kv.copy(prefix);
  return prefix;
}
