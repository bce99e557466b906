// SPDX-License-Identifier: Apache-2.0
/** How owners read to people (snapshot, top, log lines, webhooks) and to scripts (JSON). */
import type { MapOwners, ProcessOwner } from './model';

/** The owner a person is shown first: the first process (sticky, see OwnerResolver), if any. */
export function primaryOwner(o: MapOwners | null): ProcessOwner | null {
  return o?.processes?.[0] ?? null;
}

/** "namespace/pod" in Kubernetes, else "comm[pid]". */
export function processLabel(p: ProcessOwner): string {
  if (p.namespace && p.pod) return `${p.namespace}/${p.pod}`;
  return `${p.comm || p.executable || '?'}[${p.pid}]`;
}

/**
 * One cell: the first owner ("+N" for the others), else the first program ("prog:name"),
 * else the first pin; "-" when known to have none; "?" when processes are unknown (why:
 * owners_unknown), "…" while no pass has covered the map.
 */
export function ownerLabel(o: MapOwners | null): string {
  if (!o) return '-';
  const ps = o.processes;
  if (ps && ps.length > 0) {
    const more = ps.length - 1 + o.processesOmitted;
    return more > 0 ? `${processLabel(ps[0]!)} +${more}` : processLabel(ps[0]!);
  }
  if (o.programs && o.programs.length > 0) return `prog:${o.programs[0]!.name || `#${o.programs[0]!.id}`}`;
  if (o.pins && o.pins.length > 0) return o.pins[0]!;
  if (o.unknown?.processes?.startsWith('pending')) return '…';
  if (ps === null) return '?';
  return '-';
}

/** Every owner text of a map, for top's filter. */
export function ownerWords(o: MapOwners | null): string[] {
  if (!o) return [];
  const words: string[] = [];
  for (const p of o.processes ?? []) words.push(processLabel(p), p.comm, p.executable, String(p.pid), ...(p.namespace ? [p.namespace] : []), ...(p.pod ? [p.pod] : []));
  for (const p of o.programs ?? []) words.push(p.name);
  words.push(...(o.pins ?? []));
  return words;
}

/** The snapshot JSON's per-map owner keys (stable: scripts read them). */
export function ownersJson(o: MapOwners | null) {
  return {
    owners:
      o?.processes?.map((p) => ({
        pid: p.pid,
        comm: p.comm,
        executable: p.executable,
        container_id: p.containerId,
        pod: p.pod,
        namespace: p.namespace,
        container: p.container,
        pod_uid: p.podUid,
        via: p.via,
      })) ?? null,
    owners_omitted: o?.processesOmitted ?? 0,
    programs: o?.programs?.map((p) => ({ id: p.id, name: p.name, type: p.type, attach_to: p.attachTo })) ?? null,
    pins: o?.pins ?? null,
    owners_unknown: o?.unknown ?? null,
  };
}

/** The owner in a log line or webhook: the first process, and the first program. */
export interface OwnerBrief {
  readonly label: string;
  readonly pid: number | null;
  readonly comm: string | null;
  readonly executable: string | null;
  readonly container_id: string | null;
  readonly pod: string | null;
  readonly namespace: string | null;
  readonly program: { readonly id: number; readonly name: string } | null;
}

/** The map's owner brief (frozen: callers may share it); null without a process or program. */
export function ownerBrief(o: MapOwners | null): OwnerBrief | null {
  if (!o) return null;
  const p = primaryOwner(o);
  const prog = o.programs?.[0];
  if (!p && !prog) return null;
  return Object.freeze({
    label: ownerLabel(o),
    pid: p?.pid ?? null,
    comm: p?.comm ?? null,
    executable: p?.executable ?? null,
    container_id: p?.containerId ?? null,
    pod: p?.pod ?? null,
    namespace: p?.namespace ?? null,
    program: prog ? Object.freeze({ id: prog.id, name: prog.name }) : null,
  });
}
