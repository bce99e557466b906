// SPDX-License-Identifier: Apache-2.0
// The Dockerfile without a Docker engine: parsed and checked against the repository (every
// file it copies exists and is not excluded by .dockerignore; the build stage installs what
// scripts/install-deps.sh installs; the runtime stage installs the packages that own every
// shared library the built addon links, per ldd and dpkg), then its runtime stage is
// reproduced in a directory (the files it copies, production dependencies only) and its
// entrypoint run there against the kernel.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { parseArgs } from '../../src/cli/main';
import { loadConfig } from '../../src/config';
import { createMap, fill } from '../helpers/kernel';

const ROOT = path.join(__dirname, '..', '..');
const ADDON = 'build/Release/ebpf_map_pressure.node';

interface Instr {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string;
  instrs: Instr[];
}

/** Dockerfile -> stages of instructions (continuations joined, comments dropped, ARGs before FROM expanded). */
function parseDockerfile(text: string): { stages: Stage[]; args: Record<string, string> } {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op, rest] = /^(\w+)\s+(.*)$/.exec(line)!;
    const upper = op!.toUpperCase();
    if (upper === 'ARG' && stages.length === 0) {
      const [k, v] = rest!.split('=');
      args[k!] = v ?? '';
    } else if (upper === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest!)!;
      stages.push({ from: m[1]!.replace(/\$\{(\w+)\}/g, (_, k: string) => args[k] ?? ''), name: m[2] ?? String(stages.length), instrs: [] });
    } else stages.at(-1)!.instrs.push({ op: upper, args: rest! });
  }
  return { stages, args };
}

const { stages, args: buildArgs } = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const build = stages[0]!;
const runtime = stages.at(-1)!;

/** Packages an `apt-get install` in a stage installs. */
function aptPackages(stage: Stage): string[] {
  return stage.instrs
    .filter((i) => i.op === 'RUN' && i.args.includes('apt-get install'))
    .flatMap((i) => i.args.split('apt-get install')[1]!.split('&&')[0]!.split(/\s+/))
    .filter((w) => w && !w.startsWith('-'));
}

/** COPY instructions: [sources..., dest], flags apart. */
function copies(stage: Stage): Array<{ from: string | null; sources: string[]; dest: string }> {
  return stage.instrs
    .filter((i) => i.op === 'COPY')
    .map((i) => {
      const words = i.args.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length) ?? null;
      const rest = words.filter((w) => !w.startsWith('--'));
      return { from, sources: rest.slice(0, -1), dest: rest.at(-1)! };
    });
}

const workdir = (stage: Stage) => stage.instrs.filter((i) => i.op === 'WORKDIR').at(-1)!.args;
const json = (s: string) => JSON.parse(s) as string[];

t.test('stages: a build stage with the toolchain, a slim Node 20 runtime', async (t) => {
  t.equal(stages.length, 2);
  t.match(build.from, /^node:20-/, 'build on Node 20');
  t.match(runtime.from, /^node:20-\w+-slim$/, 'runtime on Node 20 slim');
  t.equal(buildArgs.NODE_VERSION, '20');
  const deps = readFileSync(path.join(ROOT, 'scripts/install-deps.sh'), 'utf8');
  const want = /^want=\(([^)]*)\)/m.exec(deps)![1]!.split(/\s+/).filter((w) => /^[a-z]/.test(w));
  const got = new Set(aptPackages(build));
  for (const p of [...want, 'bpftool']) t.ok(got.has(p), `build stage installs ${p} (as scripts/install-deps.sh does)`);
  t.ok(build.instrs.some((i) => i.op === 'RUN' && /npm run build/.test(i.args) && /npm prune --omit=dev/.test(i.args)), 'builds, then drops dev dependencies');
});

t.test("runtime installs the packages of every library the addon links", async (t) => {
  t.ok(existsSync(path.join(ROOT, ADDON)), 'the addon is built here (npm run build)');
  const ldd = execFileSync('ldd', [path.join(ROOT, ADDON)], { encoding: 'utf8' });
  const libs = [...ldd.matchAll(/=>\s+(\/\S+)/g)].map((m) => m[1]!);
  // The node image's own runtime: Node itself needs these, so they are in every node image.
  const base = new Set(['libc6', 'libstdc++6', 'libgcc-s1']);
  const owners = new Set<string>();
  for (const lib of libs) {
    const real = execFileSync('readlink', ['-f', lib], { encoding: 'utf8' }).trim();
    const out = spawnSync('dpkg', ['-S', real], { encoding: 'utf8' }).stdout || spawnSync('dpkg', ['-S', lib], { encoding: 'utf8' }).stdout;
    const pkg = out.split(':')[0]!.trim();
    t.ok(pkg, `${lib} belongs to a package (${pkg})`);
    owners.add(pkg);
  }
  t.ok(owners.has('libbpf1'), 'the addon links libbpf');
  const installed = new Set(aptPackages(runtime));
  for (const p of owners) if (!base.has(p)) t.ok(installed.has(p), `runtime installs ${p}`);
  for (const p of installed) t.ok(owners.has(p), `runtime installs nothing the addon does not link (${p})`);
});

/** .dockerignore patterns as predicates on a repository path. */
function ignored(rel: string): boolean {
  const patterns = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  return patterns.some((p) => {
    if (p.endsWith('/')) return rel === p.slice(0, -1) || rel.startsWith(p);
    const re = new RegExp(`^${p.replace(/[.+^$()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
    return re.test(rel) || re.test(path.basename(rel));
  });
}

t.test('every file copied from the context exists and is not ignored', async (t) => {
  for (const stage of stages) {
    for (const c of copies(stage).filter((x) => x.from === null)) {
      for (const s of c.sources) {
        const rel = s.replace(/\/$/, '');
        t.ok(existsSync(path.join(ROOT, rel)), `${stage.name}: ${s} exists`);
        t.notOk(ignored(rel), `${stage.name}: ${s} is not in .dockerignore`);
      }
    }
  }
  for (const local of ['node_modules', 'build', 'dist', '.git', 'test']) t.ok(ignored(local), `${local} stays out of the build context`);
});

t.test('the runtime stage, reproduced in a directory, runs its entrypoint', async (t) => {
  const root = t.testdir();
  const at = (p: string) => path.join(root, p);
  const wd = workdir(runtime);
  const buildWd = workdir(build);
  // The COPY --from=build lines, from this checkout's build (production dependencies only).
  for (const c of copies(runtime)) {
    const dest = c.dest.startsWith('/') ? c.dest : path.posix.join(wd, c.dest);
    for (const s of c.sources) {
      const src = c.from === 'build' ? path.posix.relative(buildWd, s) : s;
      t.ok(src && !src.startsWith('..'), `${s}: from the build stage's ${buildWd} or the context`);
      // Docker's rules: a directory's contents go into dest; a file goes into dest/ or is dest.
      const isDir = src.replace(/\/$/, '') === 'node_modules' || statSync(path.join(ROOT, src)).isDirectory();
      const target = isDir || !dest.endsWith('/') ? at(dest) : path.join(at(dest), path.basename(src));
      if (src.replace(/\/$/, '') === 'node_modules') {
        // `npm prune --omit=dev`: the dependency tree npm resolved, without dev packages.
        const prod = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').slice(1);
        for (const dir of prod) cpSync(dir, path.join(target, path.relative(path.join(ROOT, 'node_modules'), dir)), { recursive: true });
        continue;
      }
      mkdirSync(path.dirname(target), { recursive: true });
      cpSync(path.join(ROOT, src), target, { recursive: true });
    }
  }
  t.ok(existsSync(at(path.posix.join(wd, ADDON))), `the addon lands at ${wd}/${ADDON}, where dist/native.js loads it from`);
  t.notOk(existsSync(at(path.posix.join(wd, 'node_modules/tap'))), 'no dev dependencies');

  const entrypoint = json(runtime.instrs.find((i) => i.op === 'ENTRYPOINT')!.args);
  const cmd = json(runtime.instrs.find((i) => i.op === 'CMD')!.args);
  t.equal(entrypoint[0], 'node');
  const parsed = parseArgs(cmd);
  t.equal(parsed.command, 'run', 'the default command is the agent');
  t.ok(existsSync(at(parsed.configFile!)), `CMD's --config ${parsed.configFile} is a file the image copies`);
  t.doesNotThrow(() => loadConfig({ file: at(parsed.configFile!), env: {} }), 'and it loads');

  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 32, name: 'docker_probe' });
  fill(m, 4, 8, 12);
  const run = spawnSync(process.execPath, [at(entrypoint[1]!), 'snapshot', '--output=json', '--config', at(parsed.configFile!), '--pressure.snapshot-interval=0'], {
    cwd: at(wd),
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 256 << 20,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_ENV: 'production' },
  });
  t.equal(run.status, 0, `the entrypoint runs from the image layout: ${run.stderr}`);
  const found = (JSON.parse(run.stdout) as { maps: Array<{ id: number; entries: number }> }).maps.find((x) => x.id === m.id);
  t.equal(found?.entries, 12, 'and counts a map');
});
