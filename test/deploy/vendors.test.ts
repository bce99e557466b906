// SPDX-License-Identifier: Apache-2.0
// The README's vendor settings, end to end against loopback receivers that stand in for
// each vendor's intake: TLS with a private CA (a self-signed CA generated here, its server
// certificate signed by it, trusted through OTEL_EXPORTER_OTLP_CERTIFICATE), the vendor's
// headers arriving (and never logged), gzip, OTLP/HTTP under a base URL, and the temporality
// preference honoured in what arrives (counters as delta sums for Datadog).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { AggregationTemporality, InstrumentType } from '@opentelemetry/sdk-metrics';
import t from 'tap';
import { loadConfig } from '../../src/config';
import { otlpTemporality } from '../../src/telemetry';
import { ALL_METRICS, METRICS } from '../../src/metrics/table';
import { type InProcessAgent, startAgent } from '../helpers/agent-process';
import { createMap, fill } from '../helpers/kernel';
import { type Receiver, startGrpcReceiver, startHttpReceiver, type TlsIdentity } from '../helpers/otlp-receiver';

// The OpenTelemetry project's generated protobuf code (as the receiver helper uses), read here
// for what the flattened points leave out: each metric's aggregation temporality.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const root = require('otlp-proto-decoders/build/src/generated/root') as {
  opentelemetry: { proto: { collector: { metrics: { v1: { ExportMetricsServiceRequest: { decode(b: Uint8Array): object; toObject(m: object, o: object): Record<string, unknown> } } } } } };
};
const REQUEST = root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;

/** A private CA and a server certificate for 127.0.0.1/localhost signed by it. */
function privateCa(dir: string): TlsIdentity & { caFile: string } {
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=emp test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost', '-keyout', f('server.key'), '-out', f('server.csr'));
  const ext = f('server.ext');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', f('server.pem'));
  return { cert: readFileSync(f('server.pem')), key: readFileSync(f('server.key')), caFile: f('ca.pem') };
}

/** The agent collects (and exports) once at start; a long interval means only collectNow() does again. */
const QUIET = ['--interval=1h'];

async function exportNow(a: InProcessAgent, rx: Receiver) {
  await a.agent.telemetry!.flush(); // the start's export is through
  const before = rx.requests.length;
  await a.agent.collectNow();
  const parts = rx.requests.slice(before);
  if (parts.length === 0) throw new Error('the export reached no receiver');
  return parts;
}

/** metric name -> aggregation temporality of its sums, from the raw request bodies. */
function sumTemporalities(bodies: Buffer[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const body of bodies) {
    const o = REQUEST.toObject(REQUEST.decode(body), { enums: Number, longs: Number, arrays: true, defaults: true }) as {
      resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: Array<{ name: string; sum?: { aggregationTemporality: number } }> }> }>;
    };
    for (const rm of o.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) if (m.sum) out.set(m.name, m.sum.aggregationTemporality);
  }
  return out;
}

const COUNTERS = ALL_METRICS.filter((m) => m.instrument === 'counter').map((m) => m.name);
// OTLP's AggregationTemporality enum on the wire.
const WIRE_DELTA = 1;
const WIRE_CUMULATIVE = 2;

t.test('Honeycomb: OTLP/gRPC over TLS (private CA), team and dataset headers arrive, never logged', async (t) => {
  const ca = privateCa(t.testdir());
  const rx = await startGrpcReceiver(t, { tls: ca });
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 32, name: 'vendor_hc' });
  fill(m, 4, 8, 8);
  const key = 'hcaik_01secret0honeycomb0key';
  const a = await startAgent(t, QUIET, {
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint.replace('127.0.0.1', 'localhost'),
      OTEL_EXPORTER_OTLP_HEADERS: `x-honeycomb-team=${key},x-honeycomb-dataset=ebpf-map-pressure`,
      OTEL_EXPORTER_OTLP_CERTIFICATE: ca.caFile,
    },
  });
  // Other tests' maps may make the export large enough to be split: look in every part.
  const parts = await exportNow(a, rx);
  const got = parts[0];
  t.equal(got!.headers['x-honeycomb-team'], key, 'x-honeycomb-team arrives');
  t.equal(got!.headers['x-honeycomb-dataset'], 'ebpf-map-pressure', 'x-honeycomb-dataset arrives');
  t.ok(parts.flatMap((p) => p.points).some((p) => p.metric === METRICS.entries.name && p.attributes['ebpf.map.id'] === m.id && p.value === 8), 'the map arrives over TLS');
  t.notOk(a.lines.some((l) => l.includes(key)), 'the key is in no log line');
});

t.test('Datadog direct: OTLP/HTTP, gzip, dd-api-key, delta temporality in what arrives', async (t) => {
  const ca = privateCa(t.testdir());
  const rx = await startHttpReceiver(t, { tls: ca });
  const env = {
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: rx.endpoint,
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'dd-api-key=0123456789abcdef0123456789abcdef',
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
    OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
    OTEL_EXPORTER_OTLP_CERTIFICATE: ca.caFile,
  };
  const { config } = loadConfig({ env });
  t.equal(config.otlp.temporality, 'delta');
  const select = otlpTemporality(config);
  t.equal(select(InstrumentType.COUNTER), AggregationTemporality.DELTA, "the OTLP reader's selector: counters delta");
  t.equal(select(InstrumentType.HISTOGRAM), AggregationTemporality.DELTA, 'histograms delta');
  t.equal(select(InstrumentType.UP_DOWN_COUNTER), AggregationTemporality.CUMULATIVE, 'up-down counters stay cumulative (the spec\'s delta preference)');

  const a = await startAgent(t, QUIET, { env });
  const parts = await exportNow(a, rx);
  t.equal(parts[0]!.path, '/v1/metrics');
  t.equal(parts[0]!.headers['dd-api-key'], '0123456789abcdef0123456789abcdef', 'dd-api-key arrives');
  t.ok(parts.every((p) => p.contentEncoding === 'gzip'), 'gzip bodies');
  const temporality = sumTemporalities(parts.map((p) => zlib.gunzipSync(p.wireBody!)));
  const arrived = COUNTERS.filter((c) => temporality.has(c));
  t.ok(arrived.length > 0, `counters arrived: ${arrived.join(', ')}`);
  for (const c of arrived) t.equal(temporality.get(c), WIRE_DELTA, `${c}: a delta sum`);

  // The same agent without the preference: cumulative, so the variable is what changed it.
  const cumulative = await startAgent(t, QUIET, { env: { ...env, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: '' } });
  const again = sumTemporalities((await exportNow(cumulative, rx)).map((p) => zlib.gunzipSync(p.wireBody!)));
  for (const c of arrived) t.equal(again.get(c), WIRE_CUMULATIVE, `${c}: cumulative by default`);
});

t.test('Grafana Cloud: OTLP/HTTP under a base URL with Basic auth from OTEL_EXPORTER_OTLP_HEADERS', async (t) => {
  const ca = privateCa(t.testdir());
  const rx = await startHttpReceiver(t, { tls: ca });
  const token = Buffer.from('123456:glc_secret0token').toString('base64');
  const base = `https://localhost:${rx.port}/otlp`;
  const a = await startAgent(t, QUIET, {
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: base,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      // The spec's format: values URL-encoded, so the space after Basic is %20.
      OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Basic%20${token}`,
      OTEL_EXPORTER_OTLP_CERTIFICATE: ca.caFile,
    },
  });
  const [got] = await exportNow(a, rx);
  t.equal(got!.path, '/otlp/v1/metrics', 'the signal path is appended to the base URL');
  t.equal(got!.headers.authorization, `Basic ${token}`, 'Authorization arrives decoded');
  t.notOk(a.lines.some((l) => l.includes(token)), 'the token is in no log line');
});

t.test('Datadog Agent OTLP intake: plain gRPC to localhost:4317 is the default', async (t) => {
  const { config } = loadConfig({ env: {} });
  t.equal(config.otlp.protocol, 'grpc');
  t.equal(config.otlp.endpoint, 'http://localhost:4317', "the Datadog Agent's OTLP gRPC receiver address, with no setting at all");
});
