// SPDX-License-Identifier: Apache-2.0
/**
 * Recorded sources: what the addon returned on a real kernel, saved as JSON (buffers in
 * base64) under test/fixtures/, replayed through the Collector and the OwnerResolver by
 * injection, so per-kernel rules and owner resolution are tested without root.
 *
 *   node --import tsx test/helpers/recorded.ts record test/fixtures/NAME.json   (as root)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import type { CollectionSource } from '../../src/collector';
import type { OwnerSupport, RawCollection, RawOwners, WalkSupport } from '../../src/native';
import type { OwnerSource } from '../../src/owners/resolver';

export interface Recording {
  kernel: string;
  kfuncAvailable: boolean;
  walkSupport: WalkSupport;
  collection: RawCollection;
  ownerSupport: OwnerSupport;
  owners: RawOwners;
  /** /proc/<pid>/cgroup of the owning processes at recording time. */
  cgroups: Record<string, string>;
}

const isBuf = (v: unknown): v is Buffer => Buffer.isBuffer(v);
const errJson = (e: unknown) => (e && typeof e === 'object' ? { ...(e as object), message: (e as Error).message } : e);

function encode(v: unknown): unknown {
  if (isBuf(v)) return { $b64: v.toString('base64') };
  if (v instanceof Float64Array || v instanceof Uint8Array) return { $typed: v.constructor.name, values: [...v] };
  if (v instanceof Error) return errJson(v);
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
  return v;
}

function decode(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.$b64 === 'string') return Buffer.from(o.$b64, 'base64');
    if (o.$typed === 'Float64Array') return Float64Array.from(o.values as number[]);
    if (o.$typed === 'Uint8Array') return Uint8Array.from(o.values as number[]);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decode(x)]));
  }
  return v;
}

export function loadRecording(file: string): Recording {
  return decode(JSON.parse(readFileSync(file, 'utf8'))) as Recording;
}

/** Replays a recorded collection (every call returns it; a select gets its records). */
export class RecordedSource implements CollectionSource {
  constructor(private readonly r: Recording) {}
  get kfuncAvailable() {
    return this.r.kfuncAvailable;
  }
  get walkSupport() {
    return this.r.walkSupport;
  }
  async collect(select?: (b: Buffer) => Uint8Array): Promise<RawCollection> {
    select?.(this.r.collection.records);
    return this.r.collection;
  }
  close() {}
}

/** Replays recorded owner passes: each read() returns the next one (the last repeats). */
export class RecordedOwnerSource implements OwnerSource {
  reads = 0;
  constructor(
    private readonly passes: RawOwners[],
    readonly support: OwnerSupport = { processes: null, programs: null },
  ) {}
  async read(): Promise<RawOwners> {
    return this.passes[Math.min(this.reads++, this.passes.length - 1)]!;
  }
  close() {}
}

async function record(file: string): Promise<void> {
  // Loaded here, not at the top: replaying recordings needs neither the addon nor root.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { MapStatsReader, OwnersReader } = require('../../src/native') as typeof import('../../src/native');
  const reader = new MapStatsReader();
  const owners = new OwnersReader();
  try {
    const collection = await reader.collect();
    const raw = await owners.read(1000);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { parseFdRecords } = require('../../src/owners/records') as typeof import('../../src/owners/records');
    const cgroups: Record<string, string> = {};
    for (const r of parseFdRecords(raw.fds)) {
      try {
        cgroups[r.pid] = readFileSync(`/proc/${r.pid}/cgroup`, 'utf8');
      } catch {
        // gone
      }
    }
    const out: Recording = { kernel: release(), kfuncAvailable: reader.kfuncAvailable, walkSupport: reader.walkSupport, collection, ownerSupport: owners.support, owners: raw, cgroups };
    writeFileSync(file, `${JSON.stringify(encode(out))}\n`);
  } finally {
    reader.close();
    owners.close();
  }
}

if (require.main === module && process.argv[2] === 'record') void record(process.argv[3]!);
