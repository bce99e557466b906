// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's own Prometheus endpoint: the exposition is rendered once per collection and
 * the same bytes are served to every scrape (twenty concurrent scrapes cost twenty writes
 * of one Buffer, not twenty renderings). Names are the table's (prometheusName: what the
 * OpenTelemetry Collector's Prometheus exporter writes), each family with # HELP, # UNIT
 * (when the name ends with a unit word) and # TYPE; every series carries the scope labels and
 * the resource labels the dashboard selects hosts by (host_name), as the collector path does
 * with resource_to_telemetry_conversion; target_info carries the whole resource. Per-map series
 * carry the copied owner labels (owners.copy_attributes), and the owner series
 * (ebpf_map_owner, ebpf_map_owners_omitted) follow them, as in OTLP.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Resource } from '@opentelemetry/resources';
import { DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import type { Collection } from '../collector';
import { MetricSelection } from '../metrics/selection';
import { PER_MAP_SERIES, readoutFor } from '../metrics/series';
import { ALL_METRICS, METRICS, type MetricSpec, prometheusName, prometheusUnit } from '../metrics/table';
import type { PressureReadout } from '../pressure/tracker';
import { IdentityCache } from './attributes';
import { OwnerSeriesCache, type OwnerSeriesOptions } from './owner-series';

/** Resource attributes put on every series (the Grafana dashboard's host variable uses host_name). */
export const RESOURCE_LABELS = ['host.name'] as const;

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const SPECS = new Map(ALL_METRICS.map((m) => [m.name, m]));

export function labelName(key: string): string {
  return key.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_{2,}/g, '_');
}

function escapeText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function labelValue(v: unknown): string {
  return escapeText(typeof v === 'string' ? v : JSON.stringify(v)).replace(/"/g, '\\"');
}

function sampleValue(v: number): string {
  return v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : `${v}`;
}

function labels(pairs: Iterable<readonly [string, unknown]>): string {
  let out = '';
  for (const [k, v] of pairs) {
    if (v === undefined || v === null) continue;
    out += `${out ? ',' : ''}${labelName(k)}="${labelValue(v)}"`;
  }
  return out;
}

function family(name: string, spec: MetricSpec | undefined, description: string, type: string): string {
  const unit = spec ? prometheusUnit(spec) : '';
  return `# HELP ${name} ${escapeText(description || 'description missing')}\n${unit ? `# UNIT ${name} ${unit}\n` : ''}# TYPE ${name} ${type}\n`;
}

export class PrometheusExposition {
  /** Labels on every series after its own: scope, then the resource's host labels. */
  readonly #common: string;
  readonly #targetInfo: string;
  readonly #ids: IdentityCache<string>;
  readonly #owners: OwnerSeriesCache<string>;
  readonly #selection: MetricSelection;
  /** Each per-map series' exposition name, worked out once, not every collection. */
  readonly #names = new Map(PER_MAP_SERIES.map((s) => [s, prometheusName(s.spec)]));
  readonly #ownerName = prometheusName(METRICS.owner);
  readonly #omittedName = prometheusName(METRICS.ownersOmitted);
  #body: Buffer = Buffer.from('# no collection yet\n');
  #points = 0;

  /** `metrics`: the metrics exported (metrics.<name>.enabled); default: the table's defaults. */
  constructor(o: { resource: Resource; scope: { name: string; version?: string }; owners?: OwnerSeriesOptions; metrics?: MetricSelection }) {
    this.#selection = o.metrics ?? new MetricSelection();
    const attrs = o.resource.attributes;
    this.#common = labels([
      ['otel.scope.name', o.scope.name],
      ['otel.scope.version', o.scope.version],
      ...RESOURCE_LABELS.map((k) => [k, attrs[k]] as const),
    ]);
    this.#targetInfo = `# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info{${labels(Object.entries(attrs))}} 1\n`;
    this.#ids = new IdentityCache((pairs) => `{${labels(pairs)},${this.#common}}`, o.owners?.copyAttributes ?? []);
    this.#owners = new OwnerSeriesCache((a) => `{${labels(Object.entries(a))},${this.#common}}`, o.owners?.maxPerMap ?? 10);
  }

  /** The exposition every scrape gets until the next render. */
  get body(): Buffer {
    return this.#body;
  }

  /** Samples in the body. */
  get points(): number {
    return this.#points;
  }

  /** Renders the per-map series of `c` (none when null) and the Meter's metrics. */
  render(c: Collection | null, pressure: PressureReadout | null, sdkMetrics: readonly MetricData[]): void {
    let out = this.#targetInfo;
    let points = 0;
    for (const m of sdkMetrics) {
      const s = this.#sdkMetric(m);
      out += s.text;
      points += s.points;
    }
    if (c) {
      const readout = readoutFor(c, pressure)?.maps;
      const maps = c.maps;
      const blocks = new Array<string>(maps.length);
      for (let i = 0; i < maps.length; i++) blocks[i] = this.#ids.get(maps[i]!);
      this.#ids.endCollection();
      // Only the enabled series: a disabled one is not even computed.
      for (const series of this.#selection.perMap) {
        const name = this.#names.get(series)!;
        let text = '';
        for (let i = 0; i < maps.length; i++) {
          const m = maps[i]!;
          const v = series.value(m, readout?.get(m.id));
          if (v === null) continue;
          text += `${name}${blocks[i]} ${sampleValue(v)}\n`;
          points++;
        }
        if (text) out += family(name, series.spec, series.spec.description, 'gauge') + text;
      }
      let owners = '';
      let omitted = '';
      const ownerOn = this.#selection.enabled(METRICS.owner);
      const omittedOn = this.#selection.enabled(METRICS.ownersOmitted);
      if (ownerOn || omittedOn) {
        for (const m of maps) {
          const o = this.#owners.get(m);
          if (ownerOn) {
            for (const block of o.owner) owners += `${this.#ownerName}${block} 1\n`;
            points += o.owner.length;
          }
          if (o.omitted && omittedOn) {
            omitted += `${this.#omittedName}${o.omitted.attributes} ${o.omitted.value}\n`;
            points++;
          }
        }
        this.#owners.endCollection();
      }
      if (owners) out += family(this.#ownerName, METRICS.owner, METRICS.owner.description, 'gauge') + owners;
      if (omitted) out += family(this.#omittedName, METRICS.ownersOmitted, METRICS.ownersOmitted.description, 'gauge') + omitted;
    }
    this.#body = Buffer.from(out, 'utf8');
    this.#points = points;
  }

  #sdkMetric(m: MetricData): { text: string; points: number } {
    if (m.dataPoints.length === 0) return { text: '', points: 0 };
    const spec = SPECS.get(m.descriptor.name);
    const name = spec ? prometheusName(spec) : labelName(m.descriptor.name);
    const desc = m.descriptor.description;
    const lbl = (attrs: Record<string, unknown>, extra = '') => {
      const own = labels(Object.entries(attrs));
      return `{${own ? `${own},` : ''}${extra ? `${extra},` : ''}${this.#common}}`;
    };
    let text = '';
    let points = 0;
    if (m.dataPointType === DataPointType.HISTOGRAM) {
      text = family(name, spec, desc, 'histogram');
      for (const p of m.dataPoints) {
        const h = p.value;
        let cumulative = 0;
        h.buckets.counts.forEach((n, i) => {
          cumulative += n;
          const le = h.buckets.boundaries[i];
          text += `${name}_bucket${lbl(p.attributes, `le="${le === undefined || le === Infinity ? '+Inf' : String(le)}"`)} ${cumulative}\n`;
        });
        if (h.sum !== undefined) text += `${name}_sum${lbl(p.attributes)} ${sampleValue(h.sum)}\n`;
        text += `${name}_count${lbl(p.attributes)} ${h.count}\n`;
        points++;
      }
      return { text, points };
    }
    const counter = m.dataPointType === DataPointType.SUM && m.isMonotonic;
    const full = counter && !name.endsWith('_total') ? `${name}_total` : name;
    text = family(full, spec, desc, counter ? 'counter' : 'gauge');
    for (const p of m.dataPoints) {
      text += `${full}${lbl(p.attributes)} ${sampleValue(p.value as number)}\n`;
      points++;
    }
    return { text, points };
  }
}

export interface PrometheusServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves the exposition on host:port at /metrics; `onScrape` is told the points served. */
export async function startPrometheusServer(
  exposition: PrometheusExposition,
  o: { host: string; port: number; onScrape?: (points: number) => void },
): Promise<PrometheusServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    const body = exposition.body;
    res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': body.length });
    if (req.method === 'HEAD') return void res.end();
    res.end(body);
    o.onScrape?.(exposition.points);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
