// SPDX-License-Identifier: Apache-2.0
// Least privilege, measured: the CLI runs under setpriv with exactly a candidate capability
// set (as root with a bounding set, and as an unprivileged user with ambient capabilities, the
// way the systemd unit runs it). The documented full set (capabilities.ts FULL) must give full
// function: every map seen, entries counted, memory equal to bpftool's. One capability less
// must give the documented degradation, with its error code and the call the kernel refused.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { bpftoolDumpCount, bpftoolMap, bpftoolShow, createMap, fill, F_NO_PREALLOC } from '../helpers/kernel';
import { parseLogLine } from '../helpers/agent-process';
import { FULL, NO_MEMORY } from './capabilities';

const CLI = path.join(__dirname, '..', 'helpers', 'agent-process.ts');
const CAP_NUMBERS: Record<string, number> = { CAP_SYS_ADMIN: 21, CAP_PERFMON: 38, CAP_BPF: 39 };
const NOBODY = 65534;

interface Who {
  /** uid/gid to run as; undefined: stay root (uid 0) with only the bounding set. */
  uid?: number;
}

/** setpriv arguments giving exactly `caps` (none when empty). */
function setprivArgs(caps: readonly string[], who: Who): string[] {
  const list = ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
  const args = [`--bounding-set=${list}`, `--inh-caps=${list}`];
  if (who.uid !== undefined) args.unshift(`--reuid=${who.uid}`, `--regid=${who.uid}`, '--clear-groups');
  // Ambient capabilities carry the set across exec for a non-root uid (AmbientCapabilities=).
  if (caps.length > 0) args.push(`--ambient-caps=${list}`);
  return args;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runUnder(caps: readonly string[], who: Who, argv: string[], opts: { untilLog?: (line: string) => boolean } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn('setpriv', [...setprivArgs(caps, who), '--', ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (opts.untilLog && stderr.split('\n').some(opts.untilLog)) child.kill('SIGTERM');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const cli = (...args: string[]) => [process.execPath, ...process.execArgv, CLI, ...args];

/** The effective capability mask a process gets under these arguments. */
async function effectiveCaps(caps: readonly string[], who: Who): Promise<bigint> {
  const r = await runUnder(caps, who, ['cat', '/proc/self/status']);
  return BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(r.stdout)![1]}`);
}

const mask = (caps: readonly string[]) => caps.reduce((m, c) => m | (1n << BigInt(CAP_NUMBERS[c]!)), 0n);

interface SnapshotMap {
  id: number;
  name: string;
  entries: number | null;
  memory_bytes: number | null;
}

/**
 * Whether the unprivileged user can read the checkout (sources and node_modules): a clone
 * under a private home directory is not readable, and then only the root variants can run.
 */
async function readableBy(uid: number): Promise<boolean> {
  const probe = `const fs = require('fs'); fs.accessSync(${JSON.stringify(CLI)}, fs.constants.R_OK); fs.readdirSync(${JSON.stringify(path.join(__dirname, '..', '..', 'node_modules'))});`;
  return (await runUnder([], { uid }, [process.execPath, '-e', probe])).code === 0;
}

t.test('least privilege, measured', async (t) => {
  const a = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64, name: 'cap_hash' });
  fill(a, 4, 8, 10);
  const b = createMap(t, { type: 'lru_hash', keySize: 4, valueSize: 8, maxEntries: 32, name: 'cap_lru', flags: 0 });
  fill(b, 4, 8, 3);
  const c = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 128, name: 'cap_noprealloc', flags: F_NO_PREALLOC });
  fill(c, 4, 8, 100);
  const mine = [a, b, c];

  /** Runs `snapshot --output json` and checks the maps: every stable map seen, ours counted. */
  async function snapshotUnder(t: Test, caps: readonly string[], who: Who, expectMemory: boolean) {
    t.equal(await effectiveCaps(caps, who), mask(caps), `the process runs with exactly ${caps.join(' + ') || 'no capabilities'}`);
    const before = new Set(bpftoolShow().map((m) => m.id));
    const r = await runUnder(caps, who, cli('snapshot', '--output=json', '--pressure.snapshot-interval=0'));
    const after = new Set(bpftoolShow().map((m) => m.id));
    t.equal(r.code, 0, `snapshot exits 0${r.code ? `: ${r.stderr}` : ''}`);
    if (r.code !== 0) return;
    const seen = new Map((JSON.parse(r.stdout) as { maps: SnapshotMap[] }).maps.map((m) => [m.id, m]));
    // Maps other tests create and free come and go; every map alive before and after must be there.
    const stable = [...before].filter((id) => after.has(id));
    const missing = stable.filter((id) => !seen.has(id));
    t.same(missing, [], `every map on the host is seen (${stable.length} alive throughout)`);
    for (const m of mine) {
      const s = seen.get(m.id);
      t.equal(s?.entries, bpftoolDumpCount(m.id), `map ${m.id} (${s?.name}): entries counted, as a dump sees them`);
      if (expectMemory) t.equal(s?.memory_bytes, bpftoolMap(m.id).bytes_memlock, `map ${m.id}: memory equals bpftool's memlock`);
      else t.equal(s?.memory_bytes, null, `map ${m.id}: no memory figure`);
    }
  }

  async function refused(t: Test, caps: readonly string[], who: Who) {
    t.equal(await effectiveCaps(caps, who), mask(caps), `the process runs with exactly ${caps.join(' + ') || 'no capabilities'}`);
    const r = await runUnder(caps, who, cli('snapshot', '--output=json'));
    t.equal(r.code, 1, 'exit 1');
    t.match(r.stderr, /^error EMP_PERMISSION: /m, 'EMP_PERMISSION');
    t.match(r.stderr, /bpf_prog_load/, 'the kernel refused BPF_PROG_LOAD (the iterator program)');
    t.equal(r.stdout, '', 'nothing printed as if it had worked');
  }

  const users: Array<[string, Who]> = [['root with a bounding set', {}]];
  if (await readableBy(NOBODY)) users.push(['an unprivileged user with ambient capabilities', { uid: NOBODY }]);
  else t.comment(`the checkout is not readable by uid ${NOBODY}; only the root variants run`);

  for (const [label, who] of users) {
    t.test(`${label}: ${FULL.join(' + ')} is full function`, (t) => snapshotUnder(t, FULL, who, true));
    t.test(`${label}: without CAP_SYS_ADMIN (nothing left) the iterator cannot load`, (t) => refused(t, FULL.filter((c) => c !== 'CAP_SYS_ADMIN'), who));
    t.test(`${label}: ${NO_MEMORY.join(' + ')} sees and counts every map, without memory`, (t) => snapshotUnder(t, NO_MEMORY, who, false));
    for (const dropped of NO_MEMORY) {
      t.test(`${label}: ${NO_MEMORY.filter((c) => c !== dropped).join(' + ')} (no ${dropped}) cannot load`, (t) =>
        refused(
          t,
          NO_MEMORY.filter((c) => c !== dropped),
          who,
        ),
      );
    }
  }

  t.test(`run with ${NO_MEMORY.join(' + ')}: says once why memory is missing`, async (t) => {
    const r = await runUnder(NO_MEMORY, {}, cli('run', '--exporters=none', '--interval=1h'), {
      untilLog: (l) => parseLogLine(l)?.fields.code === 'EMP_MEMORY_UNREADABLE',
    });
    const lines = r.stderr.split('\n').map(parseLogLine).filter((l) => l !== null);
    const warn = lines.filter((l) => l.fields.code === 'EMP_MEMORY_UNREADABLE');
    t.equal(warn.length, 1, 'one warning with code EMP_MEMORY_UNREADABLE');
    t.equal(warn[0]?.level, 'warn');
    t.ok(lines.some((l) => l.message === 'agent started'), 'and the agent runs');
    t.equal(r.code, 0, 'SIGTERM: exit 0');
  });
});
