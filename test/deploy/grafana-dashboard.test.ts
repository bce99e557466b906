// SPDX-License-Identifier: Apache-2.0
// The shipped Grafana dashboard against Grafana's own types (npm @grafana/schema): it
// type-checks as a Dashboard; and the check can fail: the same dashboard with one wrong enum
// value, one wrong type or one unknown key does not, and the error points at that property.
// What the schema types only loosely (a panel's `options`, `fieldConfig.defaults.custom`: each
// plugin's own, `Record<string, unknown>` here) is not checked by this test.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { checkDashboards } from './grafana-schema';

const FILE = path.join(__dirname, '..', '..', 'deploy/grafana/dashboards/ebpf-map-pressure.json');

/* eslint-disable @typescript-eslint/no-explicit-any -- the cases edit parsed JSON */
interface Case {
  what: string;
  edit(d: any): void;
  /** The property the compiler must point at, as the JSON text spells it. */
  at: string;
  /** TypeScript's diagnostic code: 2322 a value not assignable (2820 the same, with a "did you
   *  mean" for a near string literal), 2353 an unknown property. */
  code: number;
}

const firstWith = (d: any, pred: (p: any) => boolean): any => {
  const p = d.panels.find(pred);
  if (!p) throw new Error('the dashboard has no panel this case needs; pick another');
  return p;
};

const CASES: Case[] = [
  { what: 'thresholds mode "absolut" (ThresholdsMode)', edit: (d) => (firstWith(d, (p) => p.fieldConfig?.defaults?.thresholds).fieldConfig.defaults.thresholds.mode = 'absolut'), at: '"mode"', code: 2820 },
  { what: 'color mode "treshold" (FieldColorModeId)', edit: (d) => (firstWith(d, (p) => p.fieldConfig?.defaults?.color).fieldConfig.defaults.color.mode = 'treshold'), at: '"mode"', code: 2820 },
  { what: 'graphTooltip 7 (DashboardCursorSync: 0, 1, 2)', edit: (d) => (d.graphTooltip = 7), at: '"graphTooltip"', code: 2322 },
  { what: 'a variable of type "querry" (VariableType)', edit: (d) => (d.templating.list[0].type = 'querry'), at: '"type"', code: 2820 },
  { what: 'a variable refresh 5 (VariableRefresh: 0, 1, 2)', edit: (d) => (d.templating.list[0].refresh = 5), at: '"refresh"', code: 2322 },
  { what: 'gridPos.w as a string', edit: (d) => (d.panels[0].gridPos.w = '6'), at: '"w"', code: 2322 },
  { what: 'an unknown key on a panel ("gridpos")', edit: (d) => (d.panels[0].gridpos = d.panels[0].gridPos), at: '"gridpos"', code: 2353 },
];

t.test('the dashboard type-checks as @grafana/schema\'s Dashboard, and a wrong value does not', async (t) => {
  const text = readFileSync(FILE, 'utf8');
  const texts: Record<string, string> = { shipped: text };
  CASES.forEach((c, i) => {
    const d = JSON.parse(text);
    c.edit(d);
    texts[`case${i}`] = JSON.stringify(d, null, 2);
  });
  const found = checkDashboards(texts);
  t.same(found.shipped, [], 'deploy/grafana/dashboards/ebpf-map-pressure.json conforms');
  CASES.forEach((c, i) => {
    const f = found[`case${i}`]!;
    t.equal(f.length, 1, `${c.what}: one error (${JSON.stringify(f)})`);
    t.equal(f[0]?.code, c.code, `${c.what}: TS${c.code}`);
    t.equal(f[0]?.at, c.at, `${c.what}: at ${c.at}`);
  });
});
