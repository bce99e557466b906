// SPDX-License-Identifier: Apache-2.0
/**
 * The identity of a map's series: one list of (key, value) per map, the same on every
 * per-map series, encoded once per map and cached by map id (for OTLP: tagged KeyValue
 * bytes; for Prometheus: the label block). A map's entry is encoded again only when one of
 * its values changes (a map's name and type never do; its count method may), and dropped
 * with the first collection that no longer has the map.
 *
 * More identity attributes (the owner: k8s.namespace.name, ...) are one more row in
 * MAP_IDENTITY; the caches, encoders and renderers take them as they are.
 */
import type { MapStats } from '../collector';
import { ATTR, PER_MAP } from '../metrics/table';
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

interface Entry<T> {
  values: AttrValue[];
  encoded: T;
  /** The collection that last asked for it. */
  generation: number;
}

/** Per-map encodings, by map id; call endCollection() after each collection's last get(). */
export class IdentityCache<T> {
  readonly #encode: (values: readonly AttrValue[]) => T;
  readonly #entries = new Map<number, Entry<T>>();
  #generation = 0;
  #asked = 0;
  /** Encodings made (for tests: a map seen again is not encoded again). */
  encodings = 0;

  constructor(encode: (values: readonly AttrValue[]) => T) {
    this.#encode = encode;
  }

  get(m: MapStats): T {
    let e = this.#entries.get(m.id);
    if (!e) {
      const values = MAP_IDENTITY.map((a) => a.value(m));
      e = { values, encoded: this.#encode(values), generation: -1 };
      this.#entries.set(m.id, e);
      this.encodings++;
    } else if (!same(e.values, m)) {
      e.values = MAP_IDENTITY.map((a) => a.value(m));
      e.encoded = this.#encode(e.values);
      this.encodings++;
    }
    if (e.generation !== this.#generation) {
      e.generation = this.#generation;
      this.#asked++;
    }
    return e.encoded;
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

function same(values: readonly AttrValue[], m: MapStats): boolean {
  for (let i = 0; i < MAP_IDENTITY.length; i++) if (values[i] !== MAP_IDENTITY[i]!.value(m)) return false;
  return true;
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
export function otlpIdentityCache(): IdentityCache<Buffer> {
  return new IdentityCache((values) => {
    const kv = keyValues(NUMBER_POINT_ATTRIBUTES, MAP_IDENTITY.map((a, i) => [a.key, values[i]] as const));
    const prefix = Buffer.alloc(kv.length + TIMES_BYTES);
    kv.copy(prefix);
    return prefix;
  });
}
