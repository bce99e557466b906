// SPDX-License-Identifier: Apache-2.0
// The host service: scripts/install-service.sh stages a complete install (DESTDIR) whose
// program runs from the staged files alone; `systemd-analyze verify` accepts the installed
// unit and `systemd-analyze security` rates it; the unit grants exactly the measured
// capabilities to a dedicated user with the hardening the issue asks for; and, since no
// systemd runs the unit here, strace shows that the agent makes no system call outside the
// unit's SystemCallFilter and opens no socket family outside RestrictAddressFamilies.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { parseArgs } from '../../src/cli/main';
import { loadConfig } from '../../src/config';
import { createMap, fill } from '../helpers/kernel';
import { freePort, startGrpcReceiver } from '../helpers/otlp-receiver';
import { FULL } from './capabilities';

const ROOT = path.join(__dirname, '..', '..');
const UNIT = path.join(ROOT, 'deploy/systemd/ebpf-map-pressure.service');

/** systemd's unit syntax: [Section] then Key=Value lines; repeated keys accumulate. */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      out[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    (out[section]![key] ??= []).push(line.slice(eq + 1));
  }
  return out;
}

const unit = parseUnit(readFileSync(UNIT, 'utf8'));
const svc = unit.Service!;
const one = (k: string) => {
  const v = svc[k];
  return v?.length === 1 ? v[0] : undefined;
};

t.test('unit: a dedicated user with exactly the measured capabilities', async (t) => {
  const user = one('User');
  t.ok(user && user !== 'root' && user !== '0', `runs as ${user}, not root`);
  t.same(one('AmbientCapabilities')?.split(/\s+/).sort(), [...FULL].sort(), 'AmbientCapabilities = the measured set');
  t.same(one('CapabilityBoundingSet')?.split(/\s+/).sort(), [...FULL].sort(), 'CapabilityBoundingSet = the measured set');
  t.equal(one('NoNewPrivileges'), 'yes');
});

t.test('unit: hardening that V8 survives', async (t) => {
  for (const [k, v] of Object.entries({
    ProtectSystem: 'strict',
    ProtectHome: 'yes',
    PrivateTmp: 'yes',
    PrivateDevices: 'yes',
    ProtectKernelTunables: 'yes',
    ProtectKernelModules: 'yes',
    ProtectControlGroups: 'yes',
    RestrictSUIDSGID: 'yes',
    LockPersonality: 'yes',
    SystemCallArchitectures: 'native',
  }))
    t.equal(one(k), v, `${k}=${v}`);
  t.notOk(svc.MemoryDenyWriteExecute, "no MemoryDenyWriteExecute: V8's JIT writes code it then runs");
  t.notOk(svc.PrivateUsers, 'no PrivateUsers: CAP_SYS_ADMIN in a user namespace does not count for bpf()');
  t.notOk(svc.ReadWritePaths, 'nothing writable but its state directory');
  t.equal(one('StateDirectory'), 'ebpf-map-pressure', 'the state directory: /var/lib/ebpf-map-pressure');
  const queueDir = (svc.Environment ?? []).map((e) => /^EMP_EXPORT_QUEUE_DIR=(.*)$/.exec(e)?.[1]).find(Boolean);
  t.ok(queueDir?.startsWith('/var/lib/ebpf-map-pressure/'), `the export queue on disk, in the state directory (${queueDir})`);
  t.equal(loadConfig({ env: { EMP_EXPORT_QUEUE_DIR: queueDir! } }).config.export.queue.dir, queueDir, 'the agent reads it');
  t.equal(one('RestartPreventExitStatus'), '2', 'bad configuration (exit 2) is not restarted in a loop');
});

t.test('unit: ExecStart runs the agent with the installed config', async (t) => {
  const argv = one('ExecStart')!.split(/\s+/);
  t.equal(argv[0], '/usr/bin/node');
  t.equal(argv[1], '/opt/ebpf-map-pressure/bin/ebpf-map-pressure.js');
  const args = parseArgs(argv.slice(2));
  t.equal(args.command, 'run');
  t.equal(args.configFile, '/etc/ebpf-map-pressure/config.yaml');
  // The file installed there is the repository's example: it loads.
  t.doesNotThrow(() => loadConfig({ file: path.join(ROOT, 'config/ebpf-map-pressure.yaml'), env: {}, args: args.configArgs }));
  const stop = Number(/^(\d+)s$/.exec(one('TimeoutStopSec') ?? '')?.[1]);
  t.ok(stop > 10, `TimeoutStopSec (${stop} s) leaves the agent its 10 s final flush`);
});

t.test('install-service.sh stages a working install; systemd-analyze accepts the unit', async (t) => {
  const dest = t.testdir();
  const prefix = '/opt/ebpf-map-pressure';
  const r = spawnSync('bash', [path.join(ROOT, 'scripts/install-service.sh'), '--no-start'], {
    env: { ...process.env, DESTDIR: dest },
    encoding: 'utf8',
    timeout: 120_000,
  });
  t.equal(r.status, 0, `install-service.sh exits 0: ${r.stderr}`);
  const installed = path.join(dest, 'etc/systemd/system/ebpf-map-pressure.service');
  const conf = path.join(dest, 'etc/ebpf-map-pressure/config.yaml');
  t.ok(existsSync(installed), 'unit installed');
  t.equal(readFileSync(conf, 'utf8'), readFileSync(path.join(ROOT, 'config/ebpf-map-pressure.yaml'), 'utf8'), 'the example config installed');
  t.equal(statSync(conf).mode & 0o777, 0o640, 'config readable by root and the service group only');
  const exec = parseUnit(readFileSync(installed, 'utf8')).Service!.ExecStart![0]!.split(/\s+/);
  t.ok(path.isAbsolute(exec[0]!) && existsSync(exec[0]!), `ExecStart runs this machine's node (${exec[0]})`);
  t.equal(exec[1], `${prefix}/bin/ebpf-map-pressure.js`);

  // The staged program runs from its own files (production dependencies only).
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 16, name: 'svc_probe' });
  fill(m, 4, 4, 4);
  const snap = spawnSync(exec[0]!, [path.join(dest, prefix, 'bin/ebpf-map-pressure.js'), 'snapshot', '--output=json', '--config', conf, '--pressure.snapshot-interval=0'], {
    encoding: 'utf8',
    timeout: 60_000,
    cwd: dest,
    maxBuffer: 256 << 20,
  });
  t.equal(snap.status, 0, `the staged install runs: ${snap.stderr}`);
  const maps = (JSON.parse(snap.stdout) as { maps: Array<{ id: number; entries: number }> }).maps;
  t.equal(maps.find((x) => x.id === m.id)?.entries, 4, 'and counts a map');
  t.notOk(existsSync(path.join(dest, prefix, 'node_modules/tap')), 'no dev dependencies installed');

  const verify = spawnSync('systemd-analyze', ['verify', installed], { encoding: 'utf8', timeout: 60_000 });
  t.equal(verify.status, 0, 'systemd-analyze verify exits 0');
  t.equal(verify.stderr.trim(), '', `and warns about nothing: ${verify.stderr}`);

  const security = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', installed], { encoding: 'utf8', timeout: 60_000 });
  const level = /Overall exposure level for .*: (\d+\.\d+) (\w+)/.exec(security.stdout);
  t.ok(level, `systemd-analyze security rates the unit: ${security.stderr}`);
  t.ok(Number(level?.[1]) <= 2.5, `exposure ${level?.[1]} ${level?.[2]} (systemd's scale: 0 best, 10 worst)`);
});

/** Every system call in a systemd filter group, groups expanded. */
function syscallsOf(group: string, tables: Map<string, string[]>, seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  if (seen.has(group)) return out;
  seen.add(group);
  for (const item of tables.get(group) ?? []) {
    if (item.startsWith('@')) for (const s of syscallsOf(item, tables, seen)) out.add(s);
    else out.add(item);
  }
  return out;
}

function filterTables(): Map<string, string[]> {
  const text = execFileSync('systemd-analyze', ['syscall-filter', '--no-pager'], { encoding: 'utf8' });
  const tables = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of text.split('\n')) {
    const g = /^(@[\w-]+)$/.exec(line.trim());
    if (g && !line.startsWith(' ')) {
      current = [];
      tables.set(g[1]!, current);
    } else if (current && /^\s+[@\w]/.test(line) && !line.trim().startsWith('#')) current.push(line.trim());
  }
  return tables;
}

t.test('under strace: no system call or socket family the unit refuses', async (t) => {
  const strace = spawnSync('strace', ['-V'], { encoding: 'utf8' });
  t.equal(strace.status, 0, 'strace is installed (scripts/test.sh installs it)');
  const tables = filterTables();
  const allowed = new Set<string>();
  for (const item of one('SystemCallFilter')!.split(/\s+/)) {
    if (item.startsWith('@')) for (const s of syscallsOf(item, tables)) allowed.add(s);
    else allowed.add(item);
  }
  t.ok(allowed.has('read') && allowed.has('bpf'), `the filter expands to ${allowed.size} calls`);
  const families = new Set(one('RestrictAddressFamilies')!.split(/\s+/));

  const rx = await startGrpcReceiver(t);
  const dir = t.testdir();
  const trace = path.join(dir, 'trace');
  const promPort = await freePort();
  const healthPort = await freePort();
  // Only this test's map is exported: the run stays small however many maps other tests make.
  // The endpoint is a name, so the trace includes a host name lookup.
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 16, name: 'svc_strace' });
  fill(m, 4, 4, 3);
  const child = spawn(
    'strace',
    ['-f', '-qq', '-o', trace, '--', process.execPath, path.join(ROOT, 'bin/ebpf-map-pressure.js'), 'run', '--config', path.join(ROOT, 'config/ebpf-map-pressure.yaml'),
      '--interval=1s', '--exporters=otlp,prometheus', `--otlp.endpoint=http://localhost:${rx.port}`, `--prometheus.port=${promPort}`, '--health.enabled=true', `--health.port=${healthPort}`,
      '--filter.include-names=svc_strace'],
    // Its own process group: a teardown kill reaches the traced agent too, not only strace.
    { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, detached: true },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
  });
  const get = (url: string) => fetch(url, { signal: AbortSignal.timeout(30_000) });
  // Exports, scrapes and probes while traced: every path the service takes at run time.
  await rx.waitFor((r) => r.points.some((p) => p.attributes['ebpf.map.id'] === m.id), 'an export from the traced agent', 120_000).catch((e: Error) => {
    throw new Error(`${e.message}; agent stderr:\n${stderr}`);
  });
  t.equal((await get(`http://127.0.0.1:${promPort}/metrics`)).status, 200, 'scraped');
  t.equal((await get(`http://127.0.0.1:${healthPort}/readyz`)).status, 200, 'probed');
  await rx.waitFor(() => rx.requests.length >= 3, 'three exports', 60_000);
  // SIGTERM to the agent itself (strace would detach on its own SIGTERM); strace exits with its status.
  const agentPid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
  process.kill(agentPid, 'SIGTERM');
  t.equal(await exited, 0, 'the traced agent stops cleanly');

  const text = readFileSync(trace, 'utf8');
  const used = new Set<string>();
  const socketFamilies = new Set<string>();
  for (const line of text.split('\n')) {
    const call = /^\d+\s+(?:<\.\.\. )?([a-z_0-9]+)[( ]/.exec(line);
    if (call) used.add(call[1]!);
    const s = /\bsocket\((AF_\w+)/.exec(line);
    if (s) socketFamilies.add(s[1]!);
  }
  // strace's own exec of the program happens before systemd would apply the filter.
  used.delete('execve');
  t.ok(used.has('bpf'), `the trace saw the agent's calls (${used.size} distinct)`);
  const refused = [...used].filter((s) => !allowed.has(s)).sort();
  t.same(refused, [], 'every system call is inside SystemCallFilter');
  t.same([...socketFamilies].filter((f) => !families.has(f)).sort(), [], `socket families ${[...socketFamilies].join(', ')} are inside RestrictAddressFamilies`);
});
