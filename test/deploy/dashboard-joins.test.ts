// SPDX-License-Identifier: Apache-2.0
// Every vector match of the shipped dashboard (`on(...)`) joins on the host's identity,
// host_name, which the scrape and the OTLP push path both put on every series (the resource's
// host.name), never on job and instance: series pushed over OTLP have no scrape job, so such a
// join matches nothing there and the panel stays empty.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { expandGrafana } from './promql';

const FILE = path.join(__dirname, '..', '..', 'deploy/grafana/dashboards/ebpf-map-pressure.json');

t.test('the dashboard joins series on host_name and the map, not on job and instance', async (t) => {
  const dashboard = JSON.parse(readFileSync(FILE, 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ refId: string; expr: string }> }> };
  let joins = 0;
  for (const p of dashboard.panels)
    for (const q of p.targets ?? [])
      for (const m of expandGrafana(q.expr).matchAll(/\bon\s*\(([^)]*)\)/g)) {
        joins++;
        const labels = m[1]!.split(',').map((l) => l.trim());
        t.ok(labels.includes('host_name'), `panel "${p.title}" ${q.refId}: on(${labels.join(', ')}) has host_name`);
        t.notOk(labels.includes('job') || labels.includes('instance'), `panel "${p.title}" ${q.refId}: and neither job nor instance`);
      }
  t.ok(joins >= 3, `${joins} joins checked`);
});
