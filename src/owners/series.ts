// SPDX-License-Identifier: Apache-2.0
/**
 * Owners as series — the seam between owner resolution and the export path:
 *
 * - ownerInfoPoints(): the points of `ebpf.map.owner` (value 1), one per (map, owning process),
 *   (map, program) and (map, pin), at most maxPerMap of each per map; and of
 *   `ebpf.map.owners.omitted` for maps with more owners of a kind than that (all kinds counted);
 * - copiedOwnerAttributes(): the few attributes of a map's first owner (owners.copy_attributes)
 *   to add to every per-map series, so a backend groups utilization by namespace without a join.
 *
 * Both read MapStats.owners only (and copiedOwner() MapStats.copiesOwner). The first owner is
 * sticky (OwnerResolver keeps it first while it holds the map), a failed pass keeps the last
 * answer, a map's first collection waits (bounded) for its owners, and a map collected while
 * they were unknown copies none for its life (Collector): so these attributes do not flap
 * between collections. Whoever encodes per-map series calls these once per collection.
 */
import type { Attributes } from '@opentelemetry/api';
import type { MapStats } from '../collector';
import { ATTR } from '../metrics/table';
import { OWNER_ATTR, type OwnerAttribute, type ProcessOwner } from './model';

export interface OwnerPoint {
  readonly attributes: Attributes;
  readonly value: number;
}

/** The attributes of a process on its ebpf.map.owner point, in this order. */
const PROCESS_ATTRIBUTES = [
  OWNER_ATTR.pid,
  OWNER_ATTR.executable,
  OWNER_ATTR.command,
  OWNER_ATTR.via,
  OWNER_ATTR.containerId,
  OWNER_ATTR.podUid,
  OWNER_ATTR.pod,
  OWNER_ATTR.namespace,
  OWNER_ATTR.container,
] as const;

/** Those that are known: an unknown attribute is absent, never an empty string. */
function processAttributes(p: ProcessOwner): Attributes {
  const a: Attributes = {};
  for (const k of PROCESS_ATTRIBUTES) {
    const v = ownerAttributeValue(p, k);
    if (v !== null) a[k] = v;
  }
  return a;
}

/** The ebpf.map.owner and ebpf.map.owners.omitted points of one collection's maps. */
export function ownerInfoPoints(maps: readonly MapStats[], maxPerMap: number): { owner: OwnerPoint[]; omitted: OwnerPoint[] } {
  const owner: OwnerPoint[] = [];
  const omitted: OwnerPoint[] = [];
  for (const m of maps) {
    const o = m.owners;
    if (!o) continue;
    const map = { [ATTR.id]: m.id, [ATTR.name]: m.name, [ATTR.type]: m.type };
    for (const p of (o.processes ?? []).slice(0, maxPerMap)) owner.push({ attributes: { ...map, ...processAttributes(p) }, value: 1 });
    for (const p of (o.programs ?? []).slice(0, maxPerMap))
      owner.push({ attributes: { ...map, 'ebpf.program.id': p.id, 'ebpf.program.name': p.name, 'ebpf.program.type': p.type }, value: 1 });
    for (const path of (o.pins ?? []).slice(0, maxPerMap)) owner.push({ attributes: { ...map, 'ebpf.pin.path': path }, value: 1 });
    // Everything cut at maxPerMap is counted: processes (the resolver keeps at most that many
    // and counts the rest), programs and pins.
    const more =
      o.processesOmitted +
      Math.max(0, (o.processes?.length ?? 0) - maxPerMap) +
      Math.max(0, (o.programs?.length ?? 0) - maxPerMap) +
      Math.max(0, (o.pins?.length ?? 0) - maxPerMap);
    if (more > 0) omitted.push({ attributes: map, value: more });
  }
  return { owner, omitted };
}

/**
 * One attribute of a process owner, or null where it is unknown: what copiedOwnerAttributes()
 * and the encoders' per-map caches read, without an object per map.
 */
export function ownerAttributeValue(p: ProcessOwner, key: OwnerAttribute): string | number | null {
  switch (key) {
    case OWNER_ATTR.pid:
      return p.pid;
    case OWNER_ATTR.executable:
      return p.executable || p.comm || null;
    case OWNER_ATTR.command:
      return p.comm || null;
    case OWNER_ATTR.containerId:
      return p.containerId || null;
    case OWNER_ATTR.podUid:
      return p.podUid || null;
    case OWNER_ATTR.pod:
      return p.pod || null;
    case OWNER_ATTR.namespace:
      return p.namespace || null;
    case OWNER_ATTR.container:
      return p.container || null;
    case OWNER_ATTR.via:
      return p.via;
    default:
      // ebpf.program.*: attributes of a program, never of a process.
      return null;
  }
}

/** The owner whose attributes the map's per-map series carry: its first, unless it copies none (MapStats.copiesOwner). */
export function copiedOwner(m: MapStats): ProcessOwner | null {
  return (m.copiesOwner && m.owners?.processes?.[0]) || null;
}

/** The configured attributes of the map's first owner, for every per-map series; {} when none. */
export function copiedOwnerAttributes(m: MapStats, keys: readonly OwnerAttribute[]): Attributes {
  const p = copiedOwner(m);
  const out: Attributes = {};
  if (!p) return out;
  for (const k of keys) {
    const v = ownerAttributeValue(p, k);
    if (v !== null) out[k] = v;
  }
  return out;
}
