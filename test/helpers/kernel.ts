// SPDX-License-Identifier: Apache-2.0
/**
 * Real maps for tests, made through the addon's mapOps, and the truth to compare with:
 * bpftool's view of the same maps. Every map a test makes is closed when the test ends.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { Collector, type Collection, type MapStats } from '../../src/collector';
import { mapTypeByName } from '../../src/map-types';
import { type CreateMapOptions, loadAddon, type ReaderOptions } from '../../src/native';

export const mapOps = () => loadAddon().mapOps;

/** BPF_F_NO_PREALLOC */
export const F_NO_PREALLOC = 1;

export function typeId(name: string): number {
  const t = mapTypeByName(name);
  if (!t) throw new Error(`unknown map type ${name}`);
  return t.id;
}

export interface TestMap {
  fd: number;
  id: number;
  close(): void;
}

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/** A real map, closed (and so freed) when the test ends. */
export function createMap(t: Teardown, options: Omit<CreateMapOptions, 'type'> & { type: string | number }): TestMap {
  const ops = mapOps();
  const fd = ops.createMap({ ...options, type: typeof options.type === 'string' ? typeId(options.type) : options.type });
  let open = true;
  const m: TestMap = {
    fd,
    id: ops.mapId(fd),
    close() {
      if (open) ops.close(fd);
      open = false;
    },
  };
  t.teardown(() => m.close());
  return m;
}

/** Inserts keys first..first+count-1; returns how many went in. */
export function fill(m: TestMap, keySize: number, valueSize: number, count: number, first = 0): number {
  return mapOps().fill(m.fd, keySize, valueSize, first, count).inserted;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

export interface BpftoolMap {
  id: number;
  type: string;
  name?: string;
  flags: number;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
  bytes_memlock: number;
}

export function bpftoolShow(): BpftoolMap[] {
  return JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show'], { encoding: 'utf8', maxBuffer: 256 << 20 })) as BpftoolMap[];
}

export function bpftoolMap(id: number): BpftoolMap {
  return JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'id', String(id)], { encoding: 'utf8' })) as BpftoolMap;
}

/** Entries as bpftool's dump sees them: the truth for LRU maps, which evict early. */
export function bpftoolDumpCount(id: number): number {
  const out = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'dump', 'id', String(id)], { encoding: 'utf8', maxBuffer: 256 << 20 })) as unknown[];
  return out.length;
}

/**
 * Reader options under which every map that needs an element walk (kernels before 6.6) is
 * walked in every collection: for a test of counts over several collections, where the walk
 * budget (200 ms by default, soon spent in a slow guest) would leave a map walked in the last
 * collection waiting its turn with its old count, flagged stale.
 */
export const WALK_EVERY_MAP: ReaderOptions = { walkMaxEntries: 1e12, walkBudgetMs: 60_000 };

/**
 * One collection through the real collector (opened and closed around it), every map that needs
 * an element walk walked (WALK_EVERY_MAP, unless `reader` says otherwise): with the default
 * 200 ms budget a slow guest defers some walks and their maps come uncounted (5.10, names.test.ts).
 */
export async function collectOnce(reader: ReaderOptions = {}): Promise<Collection> {
  const c = new Collector({ reader: { ...WALK_EVERY_MAP, ...reader } });
  try {
    return await c.collect();
  } finally {
    await c.close();
  }
}

export function find(c: Collection, id: number): MapStats | undefined {
  return c.maps.find((m) => m.id === id);
}

const HOLDER = path.join(__dirname, 'hold-map.js');

/** SIGKILLs the child now (resolving once it is gone) or, at the latest, when the test ends. */
export function killAtTeardown(t: Teardown, child: ChildProcess): () => Promise<void> {
  const kill = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  t.teardown(kill);
  return kill;
}

/**
 * A map created and held (unpinned) by another process; resolves with its id once created.
 * The process exits, freeing the map, when kill() is called or the test ends.
 */
export async function holdMapInChild(t: Teardown, options: { type: string; keySize: number; valueSize: number; maxEntries: number; name: string; fill?: number }): Promise<{ id: number; child: ChildProcess; kill(): Promise<void> }> {
  const child = spawn(process.execPath, [HOLDER, JSON.stringify({ ...options, type: typeId(options.type) })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const kill = killAtTeardown(t, child);
  const id = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /^id=(\d+)$/m.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`map holder exited with ${code}`)));
  });
  return { id, child, kill };
}
