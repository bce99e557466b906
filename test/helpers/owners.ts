// SPDX-License-Identifier: Apache-2.0
/**
 * Owners for tests: the truth to compare with, taken independently of the agent's iterator
 * (every process's fds through /proc, as `lsof` would; `bpftool prog show`'s map_ids), child
 * processes that hold a map, cgroup directories of our own, a kubelet pod list on loopback, and a
 * collector with owners on.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { createCollector } from '../../src/collector-setup';
import type { Collection } from '../../src/collector';
import { loadConfig } from '../../src/config';
import { createLogger, type Logger } from '../../src/log';
import { holdMapInChild, killAtTeardown } from './kernel';

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/** Where test pins go (never anything else under bpffs). */
export const PIN_DIR = '/sys/fs/bpf/emp-owners-test';

export function pinDir(t: Teardown, name: string): string {
  mkdirSync(PIN_DIR, { recursive: true });
  const dir = path.join(PIN_DIR, `${name}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  t.teardown(() => {
    for (const f of readdirSync(dir)) execFileSync('rm', ['-f', path.join(dir, f)]);
    rmdirSync(dir);
  });
  return dir;
}

/** Map id -> pids holding an fd of it, from /proc/<pid>/fd and fdinfo (the test's own truth). */
export function procMapHolders(): Map<number, Set<number>> {
  const out = new Map<number, Set<number>>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${d}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${d}/fd/${fd}`) !== 'anon_inode:bpf-map') continue;
        const id = /^map_id:\s+(\d+)$/m.exec(readFileSync(`/proc/${d}/fdinfo/${fd}`, 'utf8'));
        if (!id) continue;
        const set = out.get(Number(id[1])) ?? new Set<number>();
        set.add(Number(d));
        out.set(Number(id[1]), set);
      } catch {
        // gone meanwhile
      }
    }
  }
  return out;
}

/** Program id -> map ids, as `bpftool prog show` lists them. */
export function bpftoolProgMaps(): Map<number, { name: string; mapIds: number[] }> {
  const progs = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8', maxBuffer: 256 << 20 })) as Array<{ id: number; name?: string; map_ids?: number[] }>;
  return new Map(progs.map((p) => [p.id, { name: p.name ?? '', mapIds: p.map_ids ?? [] }]));
}

/** The cgroup v2 mount: the host's (pure or hybrid), or one we mount (the QEMU guests have none). */
export function cgroup2Root(): string {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep > 0 && f[sep + 1] === 'cgroup2') return f[4]!;
  }
  const dir = '/tmp/emp-owners-cgroup2';
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'cgroup2', 'none', dir]);
  return dir;
}

/** A cgroup directory of ours (relative path under emp-owners-test/), removed when the test ends. */
export function cgroupDir(t: Teardown, rel: string): { dir: string; path: string; move(pid: number): void } {
  const root = cgroup2Root();
  const base = path.join(root, `emp-owners-test-${process.pid}`);
  const dir = path.join(base, rel);
  mkdirSync(dir, { recursive: true });
  t.teardown(() => {
    // Deepest first; a directory still holding a process cannot go (the child is killed first).
    const parts = rel.split('/');
    for (let i = parts.length; i >= 0; i--) {
      try {
        rmdirSync(path.join(base, ...parts.slice(0, i)));
      } catch {
        // not empty yet (another case's directory) or gone
      }
    }
  });
  return {
    dir,
    path: dir.slice(root.length) || '/',
    move: (pid) => writeFileSync(path.join(dir, 'cgroup.procs'), String(pid)),
  };
}

const HOLD_ID = path.join(__dirname, 'hold-id.js');

/** A process that opens the map by id and holds it until killed. */
export async function holdMapById(t: Teardown, id: number): Promise<{ child: ChildProcess; kill(): Promise<void> }> {
  const child = spawn(process.execPath, [HOLD_ID, String(id)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const kill = killAtTeardown(t, child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
    child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
  return { child, kill };
}

export const quietLog: Logger = createLogger('none');

/** A collector with owners on, as the agent builds it, from configuration flags. */
export function ownersCollector(args: string[] = [], log: Logger = quietLog) {
  const { config } = loadConfig({ args: ['--interval', '100ms', '--paths.pod-logs', '', '--paths.container-logs', '', ...args], env: {} });
  return createCollector(config, log);
}

/** One collection with owners from a pass made after it (as `snapshot` does). */
export async function collectOwners(args: string[] = []): Promise<Collection> {
  const c = ownersCollector(args);
  try {
    return await c.withFreshOwners(await c.collect());
  } finally {
    await c.close();
  }
}

/** A pod the fake kubelet of podHolder() lists. */
export const POD = { uid: '0f8e1f2a-1b2c-4d5e-8f90-123456789abc', name: 'conntrack-7d9f', namespace: 'kube-system', container: 'agent', containerId: 'c0'.repeat(32) } as const;

/**
 * A child holding a new map from inside a cgroup shaped like a containerd container of POD
 * (systemd driver), and a kubelet pod list naming it served on 127.0.0.1:port; resolves with
 * the map, the child and the kubelet URL (for --owners.kubelet.url).
 */
export async function podHolder(t: Teardown, o: { name: string; port: number }) {
  const cg = cgroupDir(t, `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD.uid.replace(/-/g, '_')}.slice/cri-containerd-${POD.containerId}.scope`);
  const held = await holdMapInChild(t, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 16, name: o.name, fill: 4 });
  cg.move(held.child.pid!);
  const podList = {
    kind: 'PodList',
    items: [{ metadata: { name: POD.name, namespace: POD.namespace, uid: POD.uid }, status: { containerStatuses: [{ name: POD.container, containerID: `containerd://${POD.containerId}` }] } }],
  };
  const server = http.createServer((_req, res) => res.end(JSON.stringify(podList)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, '127.0.0.1', () => resolve());
  });
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { ...held, pid: held.child.pid!, url: `http://127.0.0.1:${o.port}/pods` };
}

/** Pids holding the map as bpftool says (`pids`, where bpftool is built with its pid iterator), else null. */
export function bpftoolMapPids(id: number): number[] | null {
  const m = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'id', String(id)], { encoding: 'utf8' })) as { pids?: Array<{ pid: number }> };
  return m.pids ? m.pids.map((p) => p.pid).sort((a, b) => a - b) : null;
}
