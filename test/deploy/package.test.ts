// SPDX-License-Identifier: Apache-2.0
// Packaging: `npm pack` makes a tarball with what an install needs (and nothing of the
// checkout's builds or tests); installed into an empty project it builds the addon from
// source against the system's libbpf and runs `ebpf-map-pressure`, which counts a map this
// test made. (No prebuilt binaries: README, "Packaging".)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { createMap, fill } from '../helpers/kernel';

const ROOT = path.join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string>; scripts: Record<string, string>; files: string[] };

t.test('npm pack: the tarball holds what an install needs, and installs and runs', async (t) => {
  t.ok(existsSync(path.join(ROOT, 'dist/cli/main.js')), 'dist/ is built (npm run build; `npm pack` runs prepack for it)');
  t.match(pkg.scripts.prepack ?? '', /tsc/, 'prepack compiles the TypeScript, so a pack from a fresh clone has dist/');
  const dir = t.testdir({ project: { 'package.json': JSON.stringify({ name: 'pack-probe', version: '1.0.0', private: true }) } });
  const packed = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  t.equal(packed.status, 0, `npm pack exits 0: ${packed.stderr}`);
  const info = (JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>)[0]!;
  const files = new Set(info.files.map((f) => f.path));

  // What the CLI, the loader and node-gyp need.
  for (const f of [pkg.bin['ebpf-map-pressure']!.replace(/^\.\//, ''), 'dist/cli/main.js', 'dist/native.js', 'binding.gyp', 'package.json', 'LICENSE', 'README.md', 'config/ebpf-map-pressure.yaml'])
    t.ok(files.has(f), `ships ${f}`);
  // Every source file binding.gyp names (sources, action inputs, the BPF program).
  const gyp = readFileSync(path.join(ROOT, 'binding.gyp'), 'utf8').replace(/#.*$/gm, '');
  const named = [...new Set([...gyp.matchAll(/"((?:native|bpf)\/[\w./-]+\.(?:cc|c|h))"/g)].map((m) => m[1]!))];
  t.ok(named.length >= 4, `binding.gyp names ${named.length} source files`);
  for (const f of named) t.ok(files.has(f), `ships ${f} (binding.gyp)`);
  // Every module dist/ requires relatively is shipped too.
  for (const f of [...files].filter((x) => x.startsWith('dist/') && x.endsWith('.js'))) {
    const text = readFileSync(path.join(ROOT, f), 'utf8');
    for (const m of text.matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), m[1]!));
      t.ok(files.has(target) || files.has(`${target}.js`) || files.has(`${target}/index.js`), `${f} requires ${m[1]}: shipped`);
    }
  }
  for (const prefix of ['test/', 'build/', 'node_modules/', 'src/', '.tap/', 'bench/', 'coverage/'])
    t.notOk([...files].some((f) => f.startsWith(prefix)), `nothing under ${prefix}`);

  // Install into an empty project: npm runs node-gyp for the addon (system clang, bpftool, libbpf).
  const project = path.join(dir, 'project');
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(dir, info.filename)], {
    cwd: project,
    encoding: 'utf8',
    timeout: 540_000,
  });
  t.equal(install.status, 0, `npm install of the tarball exits 0: ${install.stderr.slice(-2000)}`);
  const installed = path.join(project, 'node_modules', pkg.name);
  t.ok(existsSync(path.join(installed, 'build/Release/ebpf_map_pressure.node')), 'the addon was built from source at install');

  const npx = (...args: string[]) => spawnSync('npx', ['--no-install', 'ebpf-map-pressure', ...args], { cwd: project, encoding: 'utf8', timeout: 120_000, maxBuffer: 256 << 20 });
  const version = npx('--version');
  t.equal(version.stdout.trim(), pkg.version, '`npx ebpf-map-pressure --version` runs the installed CLI');
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64, name: 'pack_probe' });
  fill(m, 4, 8, 21);
  const snap = npx('snapshot', '--output=json', '--pressure.snapshot-interval=0');
  t.equal(snap.status, 0, `npx ebpf-map-pressure snapshot exits 0: ${snap.stderr}`);
  const found = (JSON.parse(snap.stdout) as { maps: Array<{ id: number; entries: number; max_entries: number }> }).maps.find((x) => x.id === m.id);
  t.same(found && { entries: found.entries, max: found.max_entries }, { entries: 21, max: 64 }, 'and counts a map this test made');
});
