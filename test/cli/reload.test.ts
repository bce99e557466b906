// SPDX-License-Identifier: Apache-2.0
// SIGHUP reloads the configuration file: a valid change to a threshold or the log level is
// applied to the running agent (its maps keep their levels and history, so a map now past the
// lowered threshold moves at the next collection); keys that need a restart are named and
// keep their running value; an invalid file leaves the running configuration as it was.
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import t from 'tap';
import { changedKeys, type Loaded, reload } from '../../src/cli/reload';
import { loadConfig } from '../../src/config';
import { AgentError } from '../../src/errors';
import type { Fields, Logger } from '../../src/log';
import { startAgentProcess } from '../helpers/agent-process';
import { createMap, fill } from '../helpers/kernel';

function recorder(): Logger & { lines: Array<{ level: string; message: string; fields: Fields }> } {
  const lines: Array<{ level: string; message: string; fields: Fields }> = [];
  const at = (level: string) => (message: string, fields: Fields = {}) => void lines.push({ level, message, fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), level: 'debug' };
}

const loaded = (args: string[]): Loaded => loadConfig({ env: {}, args });

t.test('changedKeys: dotted keys as the file writes them, arrays whole', async (t) => {
  const a = JSON.stringify({ interval: '10s', pressure: { warning: 0.7, types: ['lru_hash=off/off'] }, otlp: { headers: {} } });
  const b = JSON.stringify({ interval: '5s', pressure: { warning: 0.7, types: ['lru_hash=off/off', 'hash=0.5/0.6'] }, otlp: { headers: { authorization: '[redacted]' } } });
  t.same(changedKeys(a, b), ['interval', 'otlp.headers', 'otlp.headers.authorization', 'pressure.types']);
  t.same(changedKeys(a, a), []);
});

t.test('reload(): applied keys with their values, restart keys by name, invalid input keeps the running one', async (t) => {
  const running = loaded(['--pressure.warning=0.7', '--otlp.headers=authorization=Bearer%20top-secret']);
  const log = recorder();
  const applied: string[] = [];
  const target = {
    setLogLevel: (l: string) => void applied.push(`log=${l}`),
    setPressure: (p: { warning: number | null }) => void applied.push(`warning=${p.warning}`),
    setMetrics: (m: Record<string, boolean>) => void applied.push(`off=${Object.keys(m).filter((k) => !m[k]).join(',')}`),
  };

  const same = reload(running, () => loaded(['--pressure.warning=0.7', '--otlp.headers=authorization=Bearer%20top-secret']), target, log);
  t.equal(same, running, 'nothing changed: the same configuration');
  t.match(log.lines.pop(), { level: 'info', message: 'configuration reloaded: nothing changed' });

  const next = reload(running, () => loaded(['--pressure.warning=0.6', '--log.level=debug', '--interval=5s', '--otlp.headers=authorization=Bearer%20other-secret']), target, log);
  t.same(applied, ['log=debug', 'warning=0.6'], 'the log level and the thresholds applied');
  const line = log.lines.pop()!;
  t.equal(line.message, 'configuration reloaded');
  t.equal(line.fields.applied, 'log.level=debug pressure.warning=0.6');
  t.equal(line.fields.restart_needed, 'interval,otlp.headers', 'the interval and the changed header need a restart: named (a secret changed behind its redaction too)');
  t.notMatch(JSON.stringify(log.lines.concat(line)), /secret/, 'no header value in the log');
  t.equal(next.config.intervalMs, running.config.intervalMs, 'the running interval stays');
  t.equal(next.config.pressure.warning, 0.6);
  t.equal(next.config.logLevel, 'debug');
  const withSecret = (...args: string[]) => loaded([...args, '--otlp.headers=authorization=Bearer%20top-secret']);
  t.same(changedKeys(next.printable, withSecret('--pressure.warning=0.6', '--log.level=debug').printable), [], 'what runs now: the old configuration with the applied keys');

  // Again with the same new file: only the interval still differs from what runs.
  applied.length = 0;
  reload(next, () => withSecret('--pressure.warning=0.6', '--log.level=debug', '--interval=5s'), target, log);
  t.same(applied, [], 'nothing applied twice');
  t.equal(log.lines.pop()!.fields.restart_needed, 'interval');

  const bad = reload(next, () => loaded(['--pressure.warning=2']), target, log);
  t.equal(bad, next, 'an invalid value: the running configuration stays');
  const warn = log.lines.pop()!;
  t.match(warn, { level: 'warn', message: 'configuration reload failed: the running configuration stays', fields: { code: 'EMP_CONFIG_INVALID' } });
  t.match(String(warn.fields.error), /pressure\.warning/, 'naming the key');
  const thrown = reload(next, () => {
    throw new Error('disk gone');
  }, target, log);
  t.equal(thrown, next);
  t.match(log.lines.pop(), { fields: { code: 'EMP_CONFIG_INVALID', error: 'disk gone' } }, 'any failure to load is reported, never thrown');
  t.ok(new AgentError('EMP_CONFIG_INVALID', 'x') instanceof Error);
});

t.test('reload(): metrics.<name>.enabled is applied at once, the rest of the table unchanged', async (t) => {
  const running = loaded([]);
  const log = recorder();
  const switched: Array<Record<string, boolean>> = [];
  const target = { setLogLevel: () => {}, setPressure: () => {}, setMetrics: (m: Record<string, boolean>) => void switched.push(m) };
  const next = reload(running, () => loaded(['--metrics.ebpf.map.memory.enabled=false', '--interval=5s']), target, log);
  t.equal(switched.length, 1, 'the switch handed to the agent');
  t.equal(switched[0]!['ebpf.map.memory'], false, 'memory off');
  t.equal(switched[0]!['ebpf.map.entries'], true, 'entries still on');
  const line = log.lines.pop()!;
  t.equal(line.fields.applied, 'metrics.ebpf.map.memory.enabled=false');
  t.equal(line.fields.restart_needed, 'interval');
  t.equal(next.config.metrics['ebpf.map.memory'], false, 'what runs now has it off');
  t.equal(next.config.intervalMs, running.config.intervalMs);
  reload(next, () => loaded(['--metrics.ebpf.map.memory.enabled=false']), target, log);
  t.equal(switched.length, 1, 'the same switch again: not applied twice');
  reload(next, () => loaded([]), target, log);
  t.equal(switched[1]!['ebpf.map.memory'], true, 'and back on');
});

t.test('the running agent: SIGHUP applies a lowered threshold to a map already at 65 %, then survives a broken file', async (t) => {
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 100, name: 'rl_sixty_five' });
  fill(m, 4, 8, 65);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'emp-reload-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'agent.yaml');
  const write = (warning: number | string, interval = '500ms') =>
    writeFileSync(file, `interval: ${interval}\nexporters: [prometheus]\nprometheus:\n  port: 47711\nfilter:\n  include_names: [rl_sixty_five]\npressure:\n  warning: ${warning}\n  critical: 0.9\n`);
  write(0.7);
  const a = startAgentProcess(t, ['run', '--config', file]);
  await a.waitForLog((l) => l.message === 'agent started', 'agent started');
  // Two collections at least, at normal.
  await new Promise((r) => setTimeout(r, 1500));
  t.notOk(a.logs().some((l) => /map pressure/.test(l.message)), 'at 65 % with warning 0.7: no transition');

  write(0.6, '2s');
  a.child.kill('SIGHUP');
  const reloaded = await a.waitForLog((l) => l.message === 'configuration reloaded', 'the reload line');
  t.equal(reloaded.fields.applied, 'pressure.warning=0.6');
  t.equal(reloaded.fields.restart_needed, 'interval', 'the interval named as needing a restart');
  const moved = await a.waitForLog((l) => l.message === 'map pressure normal -> warning' && l.fields.name === 'rl_sixty_five', 'the map to warning');
  t.equal(moved.fields.from, 'normal', 'from its running level: the history was kept');

  writeFileSync(file, 'pressure:\n  warning: [not a number\n');
  a.child.kill('SIGHUP');
  const failed = await a.waitForLog((l) => l.message === 'configuration reload failed: the running configuration stays', 'the failed reload');
  t.ok(failed.fields.code, `coded (${failed.fields.code})`);
  t.match(String(failed.fields.error), file, 'naming the file');
  t.equal(a.child.exitCode, null, 'still running');
  const { code } = await a.stop('SIGTERM');
  t.equal(code, 0, 'SIGTERM after the reloads: a clean stop');
});
