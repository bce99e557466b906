// SPDX-License-Identifier: Apache-2.0
/**
 * The ebpf.map.owner and ebpf.map.owners.omitted points of each map, encoded (by the OTLP
 * encoder: KeyValue bytes; by the Prometheus renderer: a label block) once per map and owner
 * list, cached by map id, dropped with the first collection that no longer has the map.
 *
 * Which points there are and with what attributes is ownerInfoPoints()'s (src/owners/series.ts);
 * this only remembers its answer. An owner pass that finds nothing new hands back the same
 * MapOwners objects (an identity check); one that rebuilds its table after a change elsewhere
 * on the host makes new objects with mostly the same content, so a map whose owners did not
 * change is compared field by field before anything is encoded again.
 */
import type { Attributes } from '@opentelemetry/api';
import type { MapStats } from '../collector';
import type { MapOwners, OwnerAttribute, ProcessOwner, ProgramRef } from '../owners/model';
import { ownerInfoPoints } from '../owners/series';
import { PerMapEntries } from './attributes';

/** What the exporters take from the owners configuration. */
export interface OwnerSeriesOptions {
  /** owners.max_per_map: the most ebpf.map.owner points of each kind (process, program, pin) per map. */
  maxPerMap: number;
  /** owners.copy_attributes: the first owner's attributes put on every per-map series. */
  copyAttributes: readonly OwnerAttribute[];
}

/** One map's owner points, encoded. */
export interface EncodedOwners<T> {
  /** ebpf.map.owner: one per (map, process), (map, program), (map, pin); value 1. */
  readonly owner: readonly T[];
  /** ebpf.map.owners.omitted, or null when the map has no omitted owners. */
  readonly omitted: { readonly attributes: T; readonly value: number } | null;
}

const NONE: EncodedOwners<never> = Object.freeze({ owner: Object.freeze([]), omitted: null });

interface Entry<T> {
  owners: MapOwners;
  name: string;
  type: string;
  encoded: EncodedOwners<T>;
}

const PROCESS_FIELDS = ['pid', 'comm', 'executable', 'containerId', 'podUid', 'pod', 'namespace', 'container', 'via'] as const satisfies ReadonlyArray<keyof ProcessOwner>;
const PROGRAM_FIELDS = ['id', 'name', 'type'] as const satisfies ReadonlyArray<keyof ProgramRef>;

function sameList<E>(a: readonly E[] | null, b: readonly E[] | null, same: (x: E, y: E) => boolean): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!same(a[i]!, b[i]!)) return false;
  return true;
}

const sameFields =
  <E>(fields: ReadonlyArray<keyof E>) =>
  (x: E, y: E): boolean =>
    x === y || fields.every((f) => x[f] === y[f]);
const sameProcess = sameFields<ProcessOwner>(PROCESS_FIELDS);
const sameProgram = sameFields<ProgramRef>(PROGRAM_FIELDS);

/** Whether two owner lists give the same points (what ownerInfoPoints reads of them). */
export function sameOwnerPoints(a: MapOwners, b: MapOwners): boolean {
  return (
    a === b ||
    (a.processesOmitted === b.processesOmitted &&
      sameList(a.processes, b.processes, sameProcess) &&
      sameList(a.programs, b.programs, sameProgram) &&
      sameList(a.pins, b.pins, (x, y) => x === y))
  );
}

/** Owner points by map id; call endCollection() after each collection's last get(). */
export class OwnerSeriesCache<T> {
  readonly #encode: (attributes: Attributes) => T;
  readonly #maxPerMap: number;
  readonly #entries = new PerMapEntries<Entry<T>>();
  /** Maps whose owner points were encoded (for tests: not again while they stay the same). */
  encodings = 0;

  /** `maxPerMap`: owners.max_per_map, the most points of each kind per map. */
  constructor(encode: (attributes: Attributes) => T, maxPerMap: number) {
    this.#encode = encode;
    this.#maxPerMap = maxPerMap;
  }

  get(m: MapStats): EncodedOwners<T> {
    const owners = m.owners;
    if (!owners) return NONE;
    const e = this.#entries.get(m.id);
    if (e && e.name === m.name && e.type === m.type && sameOwnerPoints(e.owners, owners)) {
      e.owners = owners; // the next identity check is one comparison again
      return e.encoded;
    }
    const points = ownerInfoPoints([m], this.#maxPerMap);
    const omitted = points.omitted[0];
    const encoded: EncodedOwners<T> = {
      owner: points.owner.map((p) => this.#encode(p.attributes)),
      omitted: omitted ? { attributes: this.#encode(omitted.attributes), value: omitted.value } : null,
    };
    this.#entries.set(m.id, { owners, name: m.name, type: m.type, encoded });
    this.encodings++;
    return encoded;
  }

  /** Forgets the maps not asked for since the last call. */
  endCollection(): void {
    this.#entries.endCollection();
  }
}
