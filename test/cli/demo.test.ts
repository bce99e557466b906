// SPDX-License-Identifier: Apache-2.0
// The demo, fast: real maps filled while the agent watches. Warning then critical at the right
// fills in the log, each transition once to a loopback webhook (the cooldown holding back a
// repeat), no alert for the LRU cache, and every map freed at the end and on SIGINT.
import t from 'tap';
import { runCli, startAgentProcess, type LogLine } from '../helpers/agent-process';
import { startSink } from '../helpers/http-sinks';
import { bpftoolShow } from '../helpers/kernel';

interface Hook {
  map: { id: number; name: string };
  from: string | null;
  to: string;
  entries: number;
  max_entries: number;
}

/** A notification: every transition of one collection. */
interface Notification {
  event: 'start' | 'change';
  transitions: Hook[];
  more: number;
}

const transitionsOf = (logs: LogLine[], name: string) => logs.filter((l) => l.message.startsWith('map pressure') && l.fields.name === name);
const createdIds = (logs: LogLine[]) => new Map(logs.filter((l) => l.message === 'demo map created').map((l) => [l.fields.name!, Number(l.fields.id)]));
const ratio = (entries: string) => {
  const [n, max] = entries.split('/').map(Number);
  return n! / max!;
};

t.test('a fast demo: warning then critical at the right fills, each sent once', async (t) => {
  const sink = await startSink(t, 'ok', 'demo');
  const p = startAgentProcess(t, ['demo', '--demo.duration=8s', '--demo.interval=200ms', `--webhook.urls=${sink.url}`]);
  const { code } = await p.exited;
  t.equal(code, 0, 'the demo ends by itself with 0');
  const logs = p.logs();
  const ids = createdIds(logs);
  t.same([...ids.keys()].sort(), ['demo_conntrack', 'demo_events', 'demo_flows', 'demo_lru_cache', 'demo_sessions']);

  const ct = transitionsOf(logs, 'demo_conntrack');
  t.same(ct.map((l) => `${l.fields.from}->${l.fields.to}`), ['normal->warning', 'warning->critical'], 'conntrack: warning, then critical');
  const w = ratio(ct[0]!.fields.entries!);
  const c = ratio(ct[1]!.fields.entries!);
  t.ok(w >= 0.7 && w < 0.8, `warning at ${(w * 100).toFixed(1)} % (0.7 <= fill < 0.8)`);
  t.ok(c >= 0.8, `critical at ${(c * 100).toFixed(1)} %`);
  t.equal(ct[0]!.fields.utilization, `${(w * 100).toFixed(1)}%`);
  t.equal(transitionsOf(logs, 'demo_lru_cache').length, 0, 'the full LRU cache raises nothing');
  const flows = transitionsOf(logs, 'demo_flows');
  t.ok(flows.filter((l) => l.fields.to === 'critical').length >= 2, 'flows: critical, emptied, critical again');
  t.ok(flows.some((l) => l.fields.from === 'critical' && l.fields.to === 'normal'), 'flows: back to normal when emptied');

  const notifications = sink.requests.map((r) => r.json as Notification);
  t.same(notifications.map((n) => n.more), notifications.map(() => 0), 'every transition listed (a few maps)');
  const hooks = notifications.flatMap((n) => n.transitions);
  const sent = hooks.map((h) => `${h.map.name} ${h.to}`);
  t.same(hooks.filter((h) => h.map.name === 'demo_conntrack').map((h) => h.to), ['warning', 'critical'], 'conntrack: warning and critical, once each');
  t.equal(new Set(sent).size, sent.length, 'no map and level sent twice (cooldown)');
  const logged = logs.filter((l) => l.message.startsWith('map pressure')).map((l) => `${l.fields.name} ${l.fields.to}`);
  t.same([...new Set(logged)], sent, 'every first reaching of a level went out, in order; repeats only in the log');
  t.equal(hooks.filter((h) => h.map.name === 'demo_flows' && h.to === 'critical').length, 1, 'flows: the second critical held back');
  for (const h of hooks) t.equal(h.map.id, ids.get(h.map.name), `${h.map.name}: the id in the payload`);

  t.ok(logs.some((l) => l.message === 'pressure summary'), 'summary lines during the demo');
  const alive = new Set(bpftoolShow().map((m) => m.id));
  t.same([...ids.values()].filter((id) => alive.has(id)), [], 'every demo map is freed');
});

t.test('top shows the running demo; SIGINT stops it and frees its maps', async (t) => {
  const p = startAgentProcess(t, ['demo', '--demo.duration=40s', '--demo.interval=250ms']);
  await p.waitForLog((l) => l.message.startsWith('demo running'), 'demo running');
  const ids = createdIds(p.logs());
  const before = new Set(bpftoolShow().map((m) => m.id));
  t.same([...ids.values()].filter((id) => before.has(id)), [...ids.values()], 'the maps exist while it runs');

  await p.waitForLog((l) => l.message === 'map pressure normal -> warning' && l.fields.name === 'demo_conntrack', 'the conntrack warning');
  const view = await runCli(t, ['top', '--filter.include-names=demo_*', '--pressure.snapshot-interval=500ms']);
  t.equal(view.code, 0);
  for (const [name, id] of ids) t.match(view.stdout, new RegExp(`^ *${id} +${name} `, 'm'), `top lists ${name}`);
  t.match(view.stdout, new RegExp(`^ *${ids.get('demo_conntrack')} +demo_conntrack +hash +\\S+ +\\d+ +4096 +\\d+\\.\\d% +(warning|critical) `, 'm'), 'with its level');
  t.match(view.stdout, new RegExp(`^ *${ids.get('demo_lru_cache')} +demo_lru_cache +lru_hash .* off `, 'm'), 'the LRU cache off (its levels are), not normal');

  const { code } = await p.stop('SIGINT');
  t.equal(code, 0);
  t.match(p.logs().find((l) => l.message.startsWith('demo stopped'))?.fields, { reason: 'SIGINT' });
  const after = new Set(bpftoolShow().map((m) => m.id));
  t.same([...ids.values()].filter((id) => after.has(id)), [], 'and none after');
});
