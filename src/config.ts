// SPDX-License-Identifier: Apache-2.0
/**
 * The configuration: one convict schema, defaults in it, sources merged over them in the
 * order defaults < config file (--config, JSON or YAML) < environment < flags. Unknown keys
 * are rejected and every invalid value is reported at once, naming the key, the value, where
 * it came from and what is allowed. docs/configuration.md is generated from this schema.
 */
import { readFileSync } from 'node:fs';
import convict from 'convict';
import { AgentError } from './errors';
import { LOG_LEVELS, type LogLevel, normalizeLogLevel } from './log';
import { MAP_TYPES } from './map-types';
import type { MetricSwitches } from './metrics/selection';
import { ALL_METRICS } from './metrics/table';
import { nearest } from './suggest';
import { OWNER_ATTR } from './owners/model';
import {
  intRangeFormat,
  parseRules,
  parseThreshold,
  checkWebhookUrl,
  type PressureConfig,
  pressureProblems,
  redactWebhookUrl,
  type WebhookConfig,
} from './pressure/settings';

// ---- formats ---------------------------------------------------------------------------

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "10s", "500ms", "2m", "1h", "7d" or a number of milliseconds -> milliseconds; NaN if neither. */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value : NaN;
  if (typeof value !== 'string') return NaN;
  const m = DURATION_RE.exec(value.trim());
  if (!m) return NaN;
  return Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
}

function durationFormat(name: string, minMs: number, maxMs: number) {
  return {
    name,
    validate(value: unknown) {
      const ms = parseDuration(value);
      if (!(ms >= minMs && ms <= maxMs))
        throw new Error(`must be a duration from ${minMs} ms to ${maxMs / 1000} s, like "10s", "500ms" or a number of milliseconds`);
    },
    coerce: (v: string) => v,
  };
}

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB|k|K|M|G)?$/;
const UNIT_BYTES: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, KB: 1e3, MB: 1e6, GB: 1e9, k: 1024, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** "64MiB", "512KiB", "1GB" or a number of bytes -> bytes (whole); NaN if neither. */
export function parseSize(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.floor(value) : NaN;
  if (typeof value !== 'string') return NaN;
  const m = SIZE_RE.exec(value.trim());
  if (!m) return NaN;
  return Math.floor(Number(m[1]) * UNIT_BYTES[m[2] ?? 'B']!);
}

function sizeFormat(name: string, min: number, max: number) {
  const show = (b: number) => (b >= 1024 ** 2 ? `${b / 1024 ** 2} MiB` : b >= 1024 ? `${b / 1024} KiB` : `${b} bytes`);
  return {
    name,
    validate(value: unknown) {
      const b = parseSize(value);
      if (!(b >= min && b <= max)) throw new Error(`must be a size from ${show(min)} to ${show(max)}, like "64MiB", "512KiB" or a number of bytes`);
    },
    coerce: (v: string) => v,
  };
}

const EXPORTERS = ['otlp', 'prometheus', 'console', 'none'] as const;
/** Owner attributes that may be copied onto every per-map series: the stable ones (no pid). */
export const COPYABLE_OWNER_ATTRIBUTES = [
  OWNER_ATTR.executable,
  OWNER_ATTR.command,
  OWNER_ATTR.containerId,
  OWNER_ATTR.podUid,
  OWNER_ATTR.pod,
  OWNER_ATTR.namespace,
  OWNER_ATTR.container,
] as const;
const TYPE_NAMES = MAP_TYPES.map((t) => t.name);

/** A comma-separated list (from env or flags) or an array (from a file). */
function listFormat(name: string, allowed?: readonly string[], what = 'value') {
  return {
    name,
    validate(value: unknown) {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0))
        throw new Error(`must be a list of strings (an array in a file, comma-separated in env or flags)`);
      if (allowed) {
        const bad = value.filter((v) => !allowed.includes(v));
        if (bad.length) throw new Error(`unknown ${what} ${bad.map((b) => JSON.stringify(b)).join(', ')}; allowed: ${allowed.join(', ')}`);
      }
    },
    coerce: (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean),
  };
}

/** OTLP headers: "k1=v1,k2=v2" (URL-encoded, per the OpenTelemetry spec) or a map. */
export function parseHeaders(value: unknown): Record<string, string> {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') throw new Error(`header ${JSON.stringify(k)} must have a string value`);
      out[k.toLowerCase()] = v;
    }
    return out;
  }
  if (typeof value !== 'string') throw new Error('must be "key=value,key2=value2" or a map of strings');
  const out: Record<string, string> = {};
  for (const part of value.split(',')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error('must be "key=value,key2=value2" (a pair lacks "=")');
    out[decodeURIComponent(part.slice(0, eq).trim()).toLowerCase()] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}

convict.addFormats({
  interval: durationFormat('interval', 100, 86_400_000),
  timeout: durationFormat('timeout', 1, 600_000),
  exporters: listFormat('exporters', EXPORTERS, 'exporter'),
  'name-globs': listFormat('name-globs'),
  'map-types': listFormat('map-types', TYPE_NAMES, 'map type'),
  headers: {
    name: 'headers',
    validate(value: unknown) {
      parseHeaders(value);
    },
    coerce: (v: string) => v,
  },
  'optional-url': {
    name: 'optional-url',
    validate(value: unknown) {
      if (value === '') return;
      if (typeof value !== 'string') throw new Error('must be a URL string');
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        throw new Error('must be a URL like "http://localhost:4317" or "https://otlp.example.com:4318/v1/metrics"');
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('must use http:// or https://');
    },
  },
  'optional-file': {
    name: 'optional-file',
    validate(value: unknown) {
      if (typeof value !== 'string') throw new Error('must be a file path');
      if (value === '') return;
      try {
        readFileSync(value);
      } catch (e) {
        throw new Error(`cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      }
    },
  },
  'log-level': {
    name: 'log-level',
    validate(value: unknown) {
      if (typeof value !== 'string' || !(normalizeLogLevel(value) in LOG_LEVELS))
        throw new Error(`must be one of ${Object.keys(LOG_LEVELS).join(', ')} (OpenTelemetry's NONE, ERROR, WARN, INFO, DEBUG, VERBOSE, ALL are accepted too)`);
    },
    coerce: (v: string) => v,
  },
  path: {
    name: 'path',
    validate(value: unknown) {
      if (typeof value !== 'string' || !value.startsWith('/')) throw new Error('must be an absolute path');
    },
  },
});

// convict's own coercion of env and flag strings is lenient: parseInt makes "80abc" 80 and
// "abc" NaN (reported without its value), and every string but "false" is true, so
// OTEL_SDK_DISABLED=0 would disable export. These take only what is meant and hand anything
// else on unchanged, so validation reports it with its value. Registered under convict's own
// names: "boolean" is also the converter convict picks for `format: Boolean` keys.
const strictWhole = (v: string) => (/^\s*\d+\s*$/.test(v) ? Number(v) : v);
convict.addFormats({
  port: {
    name: 'port',
    validate(value: unknown) {
      if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 65535)
        throw new Error('must be a port number from 0 to 65535');
    },
    coerce: strictWhole,
  },
  nat: {
    name: 'nat',
    validate(value: unknown) {
      if (!Number.isInteger(value) || (value as number) < 0) throw new Error('must be a whole number (0 or more)');
    },
    coerce: strictWhole,
  },
  boolean: {
    name: 'boolean',
    validate(value: unknown) {
      if (typeof value !== 'boolean') throw new Error('must be true or false');
    },
    coerce(v: string) {
      const word = v.trim().toLowerCase();
      return word === 'true' ? true : word === 'false' ? false : v;
    },
  },
});

// Formats of the pressure, webhook, top and demo sections (parsers in src/pressure/settings.ts).
const listOf = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
convict.addFormats({
  threshold: { name: 'threshold', validate: (v: unknown) => void parseThreshold(v), coerce: (v: string) => v },
  'type-thresholds': { name: 'type-thresholds', validate: (v: unknown) => void parseRules(v, TYPE_NAMES), coerce: listOf },
  'name-thresholds': { name: 'name-thresholds', validate: (v: unknown) => void parseRules(v), coerce: listOf },
  margin: {
    name: 'margin',
    validate(v: unknown) {
      if (typeof v !== 'number' || !(v >= 0 && v < 0.5)) throw new Error('must be a fill ratio from 0 to below 0.5, like 0.05');
    },
    coerce: (v: string) => Number(v),
  },
  'clear-after': intRangeFormat('clear-after', 1, 1000),
  retries: intRangeFormat('retries', 0, 10),
  'queue-size': intRangeFormat('queue-size', 1, 100_000),
  'forecast-window': durationFormat('forecast-window', 1000, 86_400_000),
  'peak-window': durationFormat('peak-window', 60_000, 90 * 86_400_000),
  'transition-lines': intRangeFormat('transition-lines', 0, 10_000),
  'max-maps': intRangeFormat('max-maps', 1, 1000),
  headroom: {
    name: 'headroom',
    validate(v: unknown) {
      if (typeof v !== 'number' || !(v >= 0 && v <= 10)) throw new Error('must be a share of the peak from 0 to 10, like 0.5 (the peak at two thirds of the suggested size)');
    },
    coerce: (v: string) => Number(v),
  },
  'off-duration': durationFormat('off-duration', 0, 86_400_000),
  'demo-duration': durationFormat('demo-duration', 2000, 3_600_000),
  'walk-budget': durationFormat('walk-budget', 0, 60_000),
  'request-size': sizeFormat('request-size', 64 * 1024, 3 * 1024 ** 2),
  'queue-bytes': sizeFormat('queue-bytes', 1024 ** 2, 16 * 1024 ** 3),
  'queue-age': durationFormat('queue-age', 1000, 7 * 86_400_000),
  backoff: durationFormat('backoff', 10, 600_000),
  'in-flight': intRangeFormat('in-flight', 1, 64),
  'queue-dir': {
    name: 'queue-dir',
    validate(value: unknown) {
      if (typeof value !== 'string' || (value !== '' && !value.startsWith('/'))) throw new Error('must be an absolute path, or empty for no disk queue');
    },
  },
  'owners-budget': durationFormat('owners-budget', 1, 60_000),
  'owners-per-map': intRangeFormat('owners-per-map', 1, 1000),
  'owner-attributes': listFormat('owner-attributes', COPYABLE_OWNER_ATTRIBUTES, 'owner attribute'),
  'optional-path': {
    name: 'optional-path',
    validate(value: unknown) {
      if (value !== '' && (typeof value !== 'string' || !value.startsWith('/'))) throw new Error('must be an absolute path, or "" for none');
    },
  },
  'webhook-urls': {
    name: 'webhook-urls',
    validate(v: unknown) {
      if (!Array.isArray(v)) throw new Error('must be a list of URLs (an array in a file, comma-separated in env or flags)');
      v.forEach((u, i) => checkWebhookUrl(u, i));
    },
    coerce: listOf,
  },
});

// ---- the schema ------------------------------------------------------------------------

/** The environment variable of a key without an OpenTelemetry one: EMP_ and the key, "." as "_". */
const empVariable = (key: string) => `EMP_${key.replace(/\./g, '_').toUpperCase()}`;

/**
 * metrics.<metric name>.enabled for every metric of the table (src/metrics/table.ts), its
 * default the table's: generated, never listed by hand. The metric's dotted name nests like any
 * key (metrics.ebpf.map.entries.enabled); a file may also write the name as one key, as the
 * Collector's receivers do (nestMetricNames).
 */
function metricSwitchesSchema(): Record<string, unknown> {
  const root: Record<string, Record<string, unknown>> = {};
  for (const m of ALL_METRICS) {
    let node = root;
    for (const part of m.name.split('.')) node = (node[part] ??= {}) as Record<string, Record<string, unknown>>;
    const key = `metrics.${m.name}.enabled`;
    node.enabled = {
      doc: `Export ${m.name} (docs/metrics.md)${m.enabled ? '.' : `; off by default: ${m.offBecause}`}`,
      format: 'boolean',
      default: m.enabled,
      env: empVariable(key),
      arg: key.replace(/_/g, '-'),
    };
  }
  return root;
}

/** Environment variables of the OTLP exporter: the METRICS_ form wins over the generic one. */
const OTLP_ENV = ['ENDPOINT', 'HEADERS', 'PROTOCOL', 'COMPRESSION', 'CERTIFICATE', 'CLIENT_KEY', 'CLIENT_CERTIFICATE', 'TIMEOUT', 'INSECURE'] as const;

export const SCHEMA = {
  interval: {
    doc: 'How often to collect (and export). A duration: "10s", "500ms", or milliseconds.',
    format: 'interval',
    default: '10s',
    env: 'OTEL_METRIC_EXPORT_INTERVAL',
    arg: 'interval',
  },
  exporters: {
    doc: 'Where metrics go: any of otlp, prometheus, console, or none.',
    format: 'exporters',
    default: ['otlp'],
    env: 'OTEL_METRICS_EXPORTER',
    arg: 'exporters',
  },
  sdk_disabled: {
    doc: 'Disable every metrics exporter (the OpenTelemetry kill switch).',
    format: 'boolean',
    default: false,
    env: 'OTEL_SDK_DISABLED',
    arg: 'sdk-disabled',
  },
  export_timeout: {
    doc: 'At stop, how long the final delivery of queued requests may take (at most 5 s, within the stop deadline); what is left stays on disk with export.queue.dir, else it is dropped and counted.',
    format: 'timeout',
    default: '30s',
    env: 'OTEL_METRIC_EXPORT_TIMEOUT',
    arg: 'export-timeout',
  },
  log: {
    level: {
      doc: 'Least severe log level written: debug, info, warn, error or none.',
      format: 'log-level',
      default: 'info',
      env: 'OTEL_LOG_LEVEL',
      arg: 'log.level',
    },
  },
  otlp: {
    protocol: {
      doc: 'OTLP transport: grpc or http/protobuf.',
      format: ['grpc', 'http/protobuf'],
      default: 'grpc',
      env: 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL',
      arg: 'otlp.protocol',
    },
    endpoint: {
      doc: 'OTLP endpoint URL. Empty: http://localhost:4317 (grpc) or http://localhost:4318/v1/metrics (http/protobuf).',
      format: 'optional-url',
      default: '',
      env: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
      arg: 'otlp.endpoint',
    },
    headers: {
      doc: 'Headers sent with every export, "key=value,key2=value2" (a map in a file). Never logged.',
      format: 'headers',
      default: {} as Record<string, string>,
      sensitive: true,
      env: 'OTEL_EXPORTER_OTLP_METRICS_HEADERS',
      arg: 'otlp.headers',
    },
    compression: {
      doc: 'Compression of export requests: none or gzip.',
      format: ['none', 'gzip'],
      default: 'none',
      env: 'OTEL_EXPORTER_OTLP_METRICS_COMPRESSION',
      arg: 'otlp.compression',
    },
    certificate: {
      doc: 'PEM file of the CA that signs the endpoint\'s certificate (TLS). Empty: the system\'s CAs.',
      format: 'optional-file',
      default: '',
      env: 'OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE',
      arg: 'otlp.certificate',
    },
    client_key: {
      doc: 'PEM file of the client\'s private key, for mutual TLS.',
      format: 'optional-file',
      default: '',
      env: 'OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY',
      arg: 'otlp.client-key',
    },
    client_certificate: {
      doc: 'PEM file of the client\'s certificate, for mutual TLS.',
      format: 'optional-file',
      default: '',
      env: 'OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE',
      arg: 'otlp.client-certificate',
    },
    timeout: {
      doc: 'Timeout of one export request.',
      format: 'timeout',
      default: '10s',
      env: 'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT',
      arg: 'otlp.timeout',
    },
    insecure: {
      doc: 'gRPC without TLS even for an endpoint that does not start with http:// (the scheme decides otherwise).',
      format: 'boolean',
      default: false,
      env: 'OTEL_EXPORTER_OTLP_METRICS_INSECURE',
      arg: 'otlp.insecure',
    },
    temporality: {
      doc: 'Aggregation temporality preference: cumulative, delta or lowmemory (gauges are unaffected).',
      format: ['cumulative', 'delta', 'lowmemory'],
      default: 'cumulative',
      env: 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE',
      arg: 'otlp.temporality',
    },
    max_request_bytes: {
      doc: 'Split an export into OTLP requests of at most this many bytes (uncompressed): a gRPC server refuses messages over 4 MiB by default, and fewer, larger requests cost less CPU than many small ones. See BENCHMARKS.md.',
      format: 'request-size',
      default: '1MiB',
      env: 'EMP_OTLP_MAX_REQUEST_BYTES',
      arg: 'otlp.max-request-bytes',
    },
    max_points_per_request: {
      doc: 'Also close a request at this many data points; 0: no bound but otlp.max_request_bytes.',
      format: 'nat',
      default: 0,
      arg: 'otlp.max-points-per-request',
    },
  },
  export: {
    queue: {
      max_bytes: {
        doc: 'Encoded requests waiting in memory for delivery, at most this many bytes; when a collection does not fit, the oldest requests are dropped (and counted). With export.queue.dir, memory holds only what is in flight.',
        format: 'queue-bytes',
        default: '32MiB',
        env: 'EMP_EXPORT_QUEUE_MAX_BYTES',
        arg: 'export.queue.max-bytes',
      },
      max_age: {
        doc: 'Queued requests older than this (since their collection) are dropped instead of sent.',
        format: 'queue-age',
        default: '1h',
        env: 'EMP_EXPORT_QUEUE_MAX_AGE',
        arg: 'export.queue.max-age',
      },
      dir: {
        doc: 'Keep the queue on disk in this directory (created if missing), so a restart, SIGKILL or OOM kill of the agent loses nothing collected. Empty: memory only.',
        format: 'queue-dir',
        default: '',
        env: 'EMP_EXPORT_QUEUE_DIR',
        arg: 'export.queue.dir',
      },
      dir_max_bytes: {
        doc: 'Bytes the disk queue may take; the oldest requests are dropped (and counted) beyond it.',
        format: 'queue-bytes',
        default: '256MiB',
        env: 'EMP_EXPORT_QUEUE_DIR_MAX_BYTES',
        arg: 'export.queue.dir-max-bytes',
      },
    },
    retry: {
      initial_backoff: {
        doc: 'Wait before retrying after a retryable failure; doubled for each failure in a row (with jitter, 0.5x to 1.5x), at most export.retry.max_backoff. A server-given delay (gRPC RetryInfo, HTTP Retry-After) wins.',
        format: 'backoff',
        default: '1s',
        env: 'EMP_EXPORT_RETRY_INITIAL_BACKOFF',
        arg: 'export.retry.initial-backoff',
      },
      max_backoff: {
        doc: 'The longest wait between retries.',
        format: 'backoff',
        default: '30s',
        env: 'EMP_EXPORT_RETRY_MAX_BACKOFF',
        arg: 'export.retry.max-backoff',
      },
    },
    max_in_flight: {
      doc: 'OTLP requests in flight at once (of one collection: a later collection never overtakes an earlier one).',
      format: 'in-flight',
      default: 4,
      env: 'EMP_EXPORT_MAX_IN_FLIGHT',
      arg: 'export.max-in-flight',
    },
  },
  prometheus: {
    host: {
      doc: 'Address the Prometheus endpoint listens on (loopback unless you open it).',
      format: String,
      default: '127.0.0.1',
      env: 'OTEL_EXPORTER_PROMETHEUS_HOST',
      arg: 'prometheus.host',
    },
    port: {
      doc: 'Port of the Prometheus endpoint (/metrics).',
      format: 'port',
      default: 9464,
      env: 'OTEL_EXPORTER_PROMETHEUS_PORT',
      arg: 'prometheus.port',
    },
  },
  health: {
    enabled: {
      doc: '`run`: serve /healthz (process up) and /readyz (last collection succeeded and is recent) over HTTP.',
      format: 'boolean',
      default: false,
      env: 'EMP_HEALTH_ENABLED',
      arg: 'health.enabled',
    },
    host: {
      doc: 'Address the health endpoint listens on (loopback unless you open it, e.g. 0.0.0.0 for Kubernetes probes).',
      format: String,
      default: '127.0.0.1',
      env: 'EMP_HEALTH_HOST',
      arg: 'health.host',
    },
    port: {
      doc: 'Port of the health endpoint.',
      format: 'port',
      default: 9465,
      env: 'EMP_HEALTH_PORT',
      arg: 'health.port',
    },
  },
  filter: {
    include_names: {
      doc: 'Report only maps whose name matches one of these globs (* and ?). Empty: all. A map filtered out is not walked or opened.',
      format: 'name-globs',
      default: [] as string[],
      env: 'EMP_FILTER_INCLUDE_NAMES',
      arg: 'filter.include-names',
    },
    exclude_names: {
      doc: 'Do not report maps whose name matches one of these globs.',
      format: 'name-globs',
      default: [] as string[],
      env: 'EMP_FILTER_EXCLUDE_NAMES',
      arg: 'filter.exclude-names',
    },
    include_types: {
      doc: 'Report only maps of these types (bpftool names: hash, lru_hash, ringbuf, ...). Empty: all.',
      format: 'map-types',
      default: [] as string[],
      env: 'EMP_FILTER_INCLUDE_TYPES',
      arg: 'filter.include-types',
    },
    exclude_types: {
      doc: 'Do not report maps of these types.',
      format: 'map-types',
      default: [] as string[],
      env: 'EMP_FILTER_EXCLUDE_TYPES',
      arg: 'filter.exclude-types',
    },
  },
  counting: {
    kfunc: {
      doc: 'Count hash maps with bpf_map_sum_elem_count where the kernel has it (false forces the fallbacks).',
      format: 'boolean',
      default: true,
      env: 'EMP_COUNTING_KFUNC',
      arg: 'counting.kfunc',
    },
    kernel_state: {
      doc: 'Count queues, stacks, LPM tries, ring buffers and others from their kernel state.',
      format: 'boolean',
      default: true,
      env: 'EMP_COUNTING_KERNEL_STATE',
      arg: 'counting.kernel-state',
    },
    memory: {
      doc: 'Read each map\'s kernel-accounted memory (needs CAP_SYS_ADMIN).',
      format: 'boolean',
      default: true,
      env: 'EMP_COUNTING_MEMORY',
      arg: 'counting.memory',
    },
  },
  walk: {
    enabled: {
      doc: 'Count by an in-kernel element walk (needs CAP_SYS_ADMIN) the maps the kernel keeps no count of: on kernels without bpf_map_sum_elem_count (< 6.6) the hash maps with no counter of their own (preallocated, LRU, per-CPU-counted; iter/bpf_map_elem), and sockmap on every kernel (iter/sockmap). Off: those maps report no entries.',
      format: 'boolean',
      default: true,
      env: 'EMP_WALK_ENABLED',
      arg: 'walk.enabled',
    },
    max_entries: {
      doc: "A collection stops walking once the walked maps' max_entries add up to this (a walk costs about 0.1-0.2 us per entry); maps left over keep their last count, flagged stale, and go first next time. One map is walked per collection even if larger.",
      format: 'nat',
      default: 1_000_000,
      env: 'EMP_WALK_MAX_ENTRIES',
      arg: 'walk.max-entries',
    },
    budget: {
      doc: 'No walk starts after this much walking in one collection (a walk under way finishes); the rest wait for the next collection like those over walk.max_entries.',
      format: 'walk-budget',
      default: '200ms',
      env: 'EMP_WALK_BUDGET',
      arg: 'walk.budget',
    },
  },
  paths: {
    btf: {
      doc: "The kernel's BTF. In a container, mount the host's /sys/kernel/btf and point here.",
      format: 'path',
      default: '/sys/kernel/btf/vmlinux',
      env: 'EMP_PATHS_BTF',
      arg: 'paths.btf',
    },
    procfs: {
      doc: 'Where procfs is mounted (fdinfo is read under it).',
      format: 'path',
      default: '/proc',
      env: 'EMP_PATHS_PROCFS',
      arg: 'paths.procfs',
    },
    bpffs: {
      doc: 'Where bpffs is mounted: the root of the pin walk that finds where each map, program and link is pinned (owners.pins).',
      format: 'path',
      default: '/sys/fs/bpf',
      env: 'EMP_PATHS_BPFFS',
      arg: 'paths.bpffs',
    },
    pod_logs: {
      doc: "Kubernetes: the kubelet's pod log directory (<namespace>_<pod>_<uid>/): pod names for the pod uids of owners' cgroups. Only directory names are read. \"\": not read.",
      format: 'optional-path',
      default: '/var/log/pods',
      env: 'EMP_PATHS_POD_LOGS',
      arg: 'paths.pod-logs',
    },
    container_logs: {
      doc: "Kubernetes: the kubelet's container log links (<pod>_<namespace>_<container>-<id>.log): container names for the container ids of owners' cgroups. \"\": not read.",
      format: 'optional-path',
      default: '/var/log/containers',
      env: 'EMP_PATHS_CONTAINER_LOGS',
      arg: 'paths.container-logs',
    },
    machine_id: {
      doc: "The host's machine id file, for host.id and a stable service.instance.id.",
      format: 'path',
      default: '/etc/machine-id',
      env: 'EMP_PATHS_MACHINE_ID',
      arg: 'paths.machine-id',
    },
  },
  owners: {
    enabled: {
      doc: 'Find who owns each map: the processes holding it (iter/task_file), the programs using it (iter/bpf_prog), its pins, and each process\'s container and Kubernetes pod. Runs beside the collections; a collection never waits for it.',
      format: 'boolean',
      default: true,
      env: 'EMP_OWNERS_ENABLED',
      arg: 'owners.enabled',
    },
    interval: {
      doc: 'Time between owner passes; 0: one per collection. A map no pass has covered yet gets one at once, so a new map has its owners by the next collection.',
      format: 'off-duration',
      default: '0',
      env: 'EMP_OWNERS_INTERVAL',
      arg: 'owners.interval',
    },
    budget: {
      doc: 'Time one owner pass may take: the pin walk stops at half of it (and goes on from its cache next pass), and a pass over budget spaces the next ones out in proportion.',
      format: 'owners-budget',
      default: '50ms',
      env: 'EMP_OWNERS_BUDGET',
      arg: 'owners.budget',
    },
    max_per_map: {
      doc: 'Owners of each kind (processes, programs, pins) exported as ebpf.map.owner series per map, and owning processes listed by snapshot; the rest are counted (ebpf.map.owners.omitted: all kinds; owners_omitted in snapshot: processes).',
      format: 'owners-per-map',
      default: 10,
      env: 'EMP_OWNERS_MAX_PER_MAP',
      arg: 'owners.max-per-map',
    },
    pins: {
      doc: 'Walk bpffs (paths.bpffs) for the pins of maps, programs and links.',
      format: 'boolean',
      default: true,
      env: 'EMP_OWNERS_PINS',
      arg: 'owners.pins',
    },
    max_pins: {
      doc: 'Pins visited at most per walk (deeper than 16 directories is not walked).',
      format: 'nat',
      default: 10_000,
      env: 'EMP_OWNERS_MAX_PINS',
      arg: 'owners.max-pins',
    },
    copy_attributes: {
      doc: 'Attributes of each map\'s first owner copied onto every per-map series, so a backend can group by them without a join (absent where unknown, e.g. k8s.* outside Kubernetes). Any of: process.executable.name, process.command, container.id, k8s.pod.uid, k8s.pod.name, k8s.namespace.name, k8s.container.name.',
      format: 'owner-attributes',
      default: [OWNER_ATTR.executable, OWNER_ATTR.namespace, OWNER_ATTR.pod] as string[],
      env: 'EMP_OWNERS_COPY_ATTRIBUTES',
      arg: 'owners.copy-attributes',
    },
    kubelet: {
      url: {
        doc: 'Kubernetes: a kubelet pod list (JSON PodList) for pod, namespace and container names, e.g. http://127.0.0.1:10255/pods (the read-only port) or https://127.0.0.1:10250/pods with token_file (needs nodes/proxy get). "": not asked (the log directories still are).',
        format: 'optional-url',
        default: '',
        env: 'EMP_OWNERS_KUBELET_URL',
        arg: 'owners.kubelet.url',
      },
      token_file: {
        doc: 'Bearer token file sent to the kubelet (e.g. a projected service-account token). Never logged.',
        format: 'optional-file',
        default: '',
        env: 'EMP_OWNERS_KUBELET_TOKEN_FILE',
        arg: 'owners.kubelet.token-file',
      },
      refresh: {
        doc: 'How often the kubelet pod list and the log directories are read again (early, rate-limited, when an owner\'s pod is not found).',
        format: 'interval',
        default: '30s',
        env: 'EMP_OWNERS_KUBELET_REFRESH',
        arg: 'owners.kubelet.refresh',
      },
      timeout: {
        doc: 'Timeout of one kubelet request; a slow kubelet costs only the names it would have given.',
        format: 'timeout',
        default: '2s',
        env: 'EMP_OWNERS_KUBELET_TIMEOUT',
        arg: 'owners.kubelet.timeout',
      },
    },
  },
  pressure: {
    warning: {
      doc: 'Fill ratio (entries / max_entries) at which a map is at level warning: 0 < x <= 1, "80%", or "off".',
      format: 'threshold',
      default: 0.7 as number | string,
      env: 'EMP_PRESSURE_WARNING',
      arg: 'pressure.warning',
    },
    critical: {
      doc: 'Fill ratio at which a map is at level critical (above warning), or "off".',
      format: 'threshold',
      default: 0.8 as number | string,
      env: 'EMP_PRESSURE_CRITICAL',
      arg: 'pressure.critical',
    },
    types: {
      doc: 'Thresholds by map type, "TYPE=WARNING/CRITICAL" each ("off" for none); replaces the default list. LRU hashes are off by default: they evict the least recently used entry instead of failing an insert, so sitting near full is how a busy one works, and a level would be critical for good and mean nothing.',
      format: 'type-thresholds',
      default: ['lru_hash=off/off', 'lru_percpu_hash=off/off'] as string[],
      env: 'EMP_PRESSURE_TYPES',
      arg: 'pressure.types',
    },
    names: {
      doc: 'Thresholds by map name glob (* and ?), "GLOB=WARNING/CRITICAL" each; the first match wins, over the type\'s.',
      format: 'name-thresholds',
      default: [] as string[],
      env: 'EMP_PRESSURE_NAMES',
      arg: 'pressure.names',
    },
    hysteresis_margin: {
      doc: 'A map leaves a level only when its fill is below the level\'s threshold minus this margin (a ratio) for pressure.clear_after collections in a row; levels are raised at once.',
      format: 'margin',
      default: 0.05,
      env: 'EMP_PRESSURE_HYSTERESIS_MARGIN',
      arg: 'pressure.hysteresis-margin',
    },
    clear_after: {
      doc: 'Collections in a row a map must stay below a threshold minus the margin before its level is lowered.',
      format: 'clear-after',
      default: 2,
      env: 'EMP_PRESSURE_CLEAR_AFTER',
      arg: 'pressure.clear-after',
    },
    forecast_window: {
      doc: 'Growth rate and time to full are fitted over this much recent history (restarted when a map is emptied).',
      format: 'forecast-window',
      default: '2m',
      env: 'EMP_PRESSURE_FORECAST_WINDOW',
      arg: 'pressure.forecast-window',
    },
    max_transition_lines: {
      doc: 'Level transitions logged one line each per collection (the most severe first); the rest of that collection go in one line with their counts, so a host full of maps past a threshold cannot flood the log. 0: only that line.',
      format: 'transition-lines',
      default: 10,
      env: 'EMP_PRESSURE_MAX_TRANSITION_LINES',
      arg: 'pressure.max-transition-lines',
    },
    peak_window: {
      doc: 'Right-sizing: each map\'s peak fill is kept over this much history (in memory, a few bytes a map whatever its length). A week holds the busiest hour of daily and weekly cycles; a map sized on a quiet day overflows on a busy one.',
      format: 'peak-window',
      default: '7d',
      env: 'EMP_PRESSURE_PEAK_WINDOW',
      arg: 'pressure.peak-window',
    },
    headroom: {
      doc: 'Right-sizing: the suggested max_entries holds the peak fill with this share of it to spare, ceil(peak x (1 + headroom)). 0.5 puts the peak at two thirds of the size, under the default warning threshold (70 %), so the busiest moment seen would not warn.',
      format: 'headroom',
      default: 0.5,
      env: 'EMP_PRESSURE_HEADROOM',
      arg: 'pressure.headroom',
    },
    summary_interval: {
      doc: 'Log a summary line (maps by level, the three fullest) this often; 0: never. Off by default for the daemon: transitions are logged as they happen and metrics carry the rest, so a routine line every 30 s would only bury them.',
      format: 'off-duration',
      default: '0',
      env: 'EMP_PRESSURE_SUMMARY_INTERVAL',
      arg: 'pressure.summary-interval',
    },
    snapshot_interval: {
      doc: '`snapshot` and a piped `top` collect twice this far apart to measure growth; 0: once, without growth.',
      format: 'off-duration',
      default: '1s',
      env: 'EMP_PRESSURE_SNAPSHOT_INTERVAL',
      arg: 'pressure.snapshot-interval',
    },
  },
  webhook: {
    urls: {
      doc: 'Send level transitions to these URLs (POST, JSON): one notification per collection listing the maps that changed level, and one when the agent has started listing the maps already past a threshold. Secret: only scheme://host is ever logged.',
      format: 'webhook-urls',
      default: [] as string[],
      sensitive: true,
      env: 'EMP_WEBHOOK_URLS',
      arg: 'webhook.urls',
    },
    format: {
      doc: 'Payload: generic (a JSON object listing the transitions of a collection) or slack (Slack-compatible {"text": ...}, a line per map).',
      format: ['generic', 'slack'],
      default: 'generic',
      env: 'EMP_WEBHOOK_FORMAT',
      arg: 'webhook.format',
    },
    cooldown: {
      doc: 'A map reaching the same level again within this is left out of the notifications (it is still logged); 0: send every transition.',
      format: 'off-duration',
      default: '10m',
      env: 'EMP_WEBHOOK_COOLDOWN',
      arg: 'webhook.cooldown',
    },
    timeout: {
      doc: 'Timeout of one webhook request.',
      format: 'timeout',
      default: '5s',
      env: 'EMP_WEBHOOK_TIMEOUT',
      arg: 'webhook.timeout',
    },
    retries: {
      doc: 'Retries of a failed request (network error, timeout, 408, 429, 5xx), 0 to 10.',
      format: 'retries',
      default: 3,
      env: 'EMP_WEBHOOK_RETRIES',
      arg: 'webhook.retries',
    },
    backoff: {
      doc: 'Wait before the first retry; doubled for each next one (at most 30 s), with jitter.',
      format: 'timeout',
      default: '1s',
      env: 'EMP_WEBHOOK_BACKOFF',
      arg: 'webhook.backoff',
    },
    queue_size: {
      doc: 'Notifications waiting per URL; when full the oldest is dropped (and that is logged once).',
      format: 'queue-size',
      default: 100,
      env: 'EMP_WEBHOOK_QUEUE_SIZE',
      arg: 'webhook.queue-size',
    },
    max_maps: {
      doc: 'Maps listed in one notification (a notification covers one collection: every map that changed level, the most severe first); beyond this only their count is given.',
      format: 'max-maps',
      default: 20,
      env: 'EMP_WEBHOOK_MAX_MAPS',
      arg: 'webhook.max-maps',
    },
  },
  metrics: metricSwitchesSchema(),
  top: {
    refresh: {
      doc: '`top`: how often the view collects and redraws.',
      format: 'interval',
      default: '1s',
      env: 'EMP_TOP_REFRESH',
      arg: 'top.refresh',
    },
  },
  demo: {
    duration: {
      doc: '`demo`: how long the demo fills its maps before it frees them and exits.',
      format: 'demo-duration',
      default: '2m',
      env: 'EMP_DEMO_DURATION',
      arg: 'demo.duration',
    },
    interval: {
      doc: '`demo`: collection interval while the demo runs (the agent\'s `interval` is for the daemon).',
      format: 'interval',
      default: '1s',
      env: 'EMP_DEMO_INTERVAL',
      arg: 'demo.interval',
    },
    export: {
      doc: '`demo`: also export metrics with the configured exporters (off: the demo only logs, notifies and shows).',
      format: Boolean,
      default: false,
      env: 'EMP_DEMO_EXPORT',
      arg: 'demo.export',
    },
  },
};

// ---- the result ------------------------------------------------------------------------

export interface AgentConfig {
  intervalMs: number;
  exporters: Array<(typeof EXPORTERS)[number]>;
  sdkDisabled: boolean;
  exportTimeoutMs: number;
  logLevel: LogLevel;
  otlp: {
    protocol: 'grpc' | 'http/protobuf';
    endpoint: string;
    headers: Record<string, string>;
    compression: 'none' | 'gzip';
    certificate: string;
    clientKey: string;
    clientCertificate: string;
    timeoutMs: number;
    insecure: boolean;
    temporality: 'cumulative' | 'delta' | 'lowmemory';
    maxRequestBytes: number;
    maxPointsPerRequest: number;
  };
  export: {
    queue: { maxBytes: number; maxAgeMs: number; dir: string; dirMaxBytes: number };
    retry: { initialBackoffMs: number; maxBackoffMs: number };
    maxInFlight: number;
  };
  prometheus: { host: string; port: number };
  health: { enabled: boolean; host: string; port: number };
  filter: { includeNames: string[]; excludeNames: string[]; includeTypes: string[]; excludeTypes: string[] };
  counting: { kfunc: boolean; kernelState: boolean; memory: boolean };
  walk: { enabled: boolean; maxEntries: number; budgetMs: number };
  paths: { btf: string; procfs: string; bpffs: string; podLogs: string; containerLogs: string; machineId: string };
  owners: {
    enabled: boolean;
    intervalMs: number;
    budgetMs: number;
    maxPerMap: number;
    pins: boolean;
    maxPins: number;
    copyAttributes: Array<(typeof COPYABLE_OWNER_ATTRIBUTES)[number]>;
    kubelet: { url: string; tokenFile: string; refreshMs: number; timeoutMs: number };
  };
  pressure: PressureConfig;
  webhook: WebhookConfig;
  /** metrics.<name>.enabled by metric name, every metric of the table. */
  metrics: MetricSwitches;
  top: { refreshMs: number };
  demo: { durationMs: number; intervalMs: number; export: boolean };
}

export interface LoadOptions {
  /** --config FILE */
  file?: string;
  /** Configuration flags, e.g. ["--interval", "5s", "--otlp.endpoint=http://x:4317"]. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

interface SchemaLeaf {
  doc: string;
  format: unknown;
  default: unknown;
  env?: string;
  arg?: string;
  sensitive?: boolean;
}

/** A key's default as the help and docs show it. */
export function describeDefault(v: unknown): string {
  if (Array.isArray(v)) return v.length ? v.join(',') : '(empty)';
  if (v && typeof v === 'object') return Object.keys(v).length ? JSON.stringify(v) : '(empty)';
  if (v === '') return '(empty)';
  return String(v);
}

/** Every leaf of the schema with its dotted key. */
export function schemaLeaves(): Array<{ key: string } & SchemaLeaf> {
  const out: Array<{ key: string } & SchemaLeaf> = [];
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(node)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (v && typeof v === 'object' && 'doc' in v) out.push({ key, ...(v as SchemaLeaf) });
      else walk(v as Record<string, unknown>, key);
    }
  };
  walk(SCHEMA as unknown as Record<string, unknown>, '');
  return out;
}

/**
 * The environment convict sees: empty variables count as unset (as the OpenTelemetry spec
 * says), and each generic OTEL_EXPORTER_OTLP_* stands in for its METRICS_ form when that is
 * unset (origin says so; loadConfig appends /v1/metrics to a generic endpoint for HTTP).
 */
export function effectiveEnv(env: NodeJS.ProcessEnv): { env: Record<string, string>; origin: Record<string, string> } {
  const out: Record<string, string> = {};
  const origin: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== '') out[k] = v;
  for (const suffix of OTLP_ENV) {
    const specific = `OTEL_EXPORTER_OTLP_METRICS_${suffix}`;
    const generic = `OTEL_EXPORTER_OTLP_${suffix}`;
    if (out[specific] === undefined && out[generic] !== undefined) {
      out[specific] = out[generic]!;
      origin[specific] = generic;
    }
  }
  return { env: out, origin };
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new AgentError('EMP_CONFIG_FILE', `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
      hint: 'check the path given to --config',
    });
  }
  let parsed: unknown;
  try {
    parsed = /\.ya?ml$/i.test(file) ? yaml().parse(text) : JSON.parse(text);
  } catch (e) {
    throw new AgentError('EMP_CONFIG_FILE', `cannot parse config file ${file}: ${(e as Error).message.split('\n')[0]}`, {
      hint: 'a config file is JSON (.json) or YAML (.yaml, .yml)',
    });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new AgentError('EMP_CONFIG_FILE', `config file ${file} must hold an object of settings`);
  return parsed as Record<string, unknown>;
}

function hasPath(obj: Record<string, unknown>, key: string): boolean {
  let node: unknown = obj;
  for (const part of key.split('.')) {
    if (!node || typeof node !== 'object' || !(part in node)) return false;
    node = (node as Record<string, unknown>)[part];
  }
  return true;
}

/**
 * The flags that set configuration keys, and which key each sets: every key is a flag both as
 * the docs and config files spell it (--pressure.snapshot_interval) and in kebab case
 * (--pressure.snapshot-interval, its `arg`).
 */
export function configFlags(): Map<string, string> {
  const flags = new Map<string, string>();
  for (const l of schemaLeaves()) {
    flags.set(l.key, l.key);
    if (l.arg) flags.set(l.arg, l.key);
  }
  return flags;
}

/** The configuration flag nearest to an unknown one, in the spelling (snake or kebab) it has. */
export function nearestFlag(flag: string): string {
  const names = [...configFlags().keys()];
  return nearest(flag, flag.includes('_') ? names : names.reverse())!;
}

/**
 * EMP_* variables that are not configuration: the project's own scripts and tests read them
 * (scripts/vmrun.sh hands every EMP_* to its guests, so the agent under test sees them all).
 * Any other EMP_* variable is taken for a mistyped key and rejected, like a mistyped flag or
 * file key: a list, not a looser rule (say, only names near a key), so that EMP_INTERVAL is
 * caught and a new script variable must be declared here (test/config.test.ts checks that
 * every EMP_* the repository mentions is a key's variable, an error code or in this list).
 */
export const TOOLING_ENV: readonly string[] = [
  'EMP_BUSYBOX',
  'EMP_DEBIAN_MIRROR',
  'EMP_DEBIAN_SECURITY_MIRROR',
  'EMP_KERNEL_CACHE',
  'EMP_KERNEL_UNDER_TEST',
  'EMP_MATRIX_JOBS',
  'EMP_PROMETHEUS_BIN',
  'EMP_SUPPORT_OUT',
  'EMP_TEST_KERNELS',
  'EMP_VIRTIOFSD',
  'EMP_VMRUN_CACHE',
  'EMP_VM_CPUS',
  'EMP_VM_HOLD_SYS_ENTER',
  'EMP_VM_MEM',
  'EMP_VM_TCG_THREAD',
  'EMP_VM_TIMEOUT',
];

/**
 * The unknown EMP_* variables, each with the key it most likely meant: matched by the name the
 * key would have as an EMP_ variable (EMP_INTERVAL: interval), then named by its real
 * variable (OTEL_METRIC_EXPORT_INTERVAL) or, for a key without one, its flag.
 */
function unknownEnvProblems(env: Record<string, string>, leaves: ReturnType<typeof schemaLeaves>): string[] {
  const known = new Set([...leaves.map((l) => l.env), ...TOOLING_ENV]);
  const byName = new Map(leaves.map((l) => [empVariable(l.key), l]));
  return Object.keys(env)
    .filter((name) => name.startsWith('EMP_') && !known.has(name))
    .map((name) => {
      const leaf = byName.get(nearest(name, byName.keys())!)!;
      const meant = leaf.env ? `${leaf.env} (key ${leaf.key})` : `--${leaf.arg} (key ${leaf.key}, which has no variable)`;
      return `${name}: unknown environment variable; did you mean ${meant}?`;
    });
}

/**
 * A file's metrics section with each metric name written as one key (`ebpf.map.entries:
 * {enabled: false}`, as the Collector's receivers write them) nested the way the schema has it
 * (`ebpf: {map: {entries: …}}`). Nested sections are taken as they are; both forms merge.
 */
function nestMetricNames(data: Record<string, unknown>): Record<string, unknown> {
  const section = data.metrics;
  if (!isSection(section)) return data;
  const nested: Record<string, unknown> = {};
  const put = (node: Record<string, unknown>, parts: string[], value: unknown) => {
    const [head, ...rest] = parts as [string, ...string[]];
    if (rest.length === 0) {
      node[head] = isSection(node[head]) && isSection(value) ? merge(node[head], value) : value;
      return;
    }
    if (!isSection(node[head])) node[head] = {};
    put(node[head] as Record<string, unknown>, rest, value);
  };
  const merge = (a: Record<string, unknown>, b: Record<string, unknown>) => {
    const out = { ...a };
    for (const [k, v] of Object.entries(b)) put(out, [k], v);
    return out;
  };
  for (const [name, value] of Object.entries(structuredClone(section))) put(nested, name.split('.'), value);
  return { ...data, metrics: nested };
}

const isSection = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** The YAML parser, loaded when a YAML file is read: 72 modules that no command without a file needs. */
function yaml(): typeof import('yaml') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, synchronously (loadConfig is sync)
  return require('yaml') as typeof import('yaml');
}

/** Loads, validates and normalizes; every problem is reported in one EMP_CONFIG_INVALID. */
export function loadConfig(options: LoadOptions = {}): { config: AgentConfig; printable: string } {
  const { env, origin: envOrigin } = effectiveEnv(options.env ?? process.env);
  const args = options.args ?? [];
  const flags = configFlags();
  const leaves = schemaLeaves();
  const problems: string[] = unknownEnvProblems(env, leaves);

  // Flags that set no key are mistakes, not something to ignore. A flag given twice: the last
  // wins. Flags are applied here, not by convict's argument parser, which turns "0x10" or
  // "1e3" into numbers and a repeated flag into "a,b".
  const flagValues = new Map<string, string>(); // key -> value
  const flagGiven = new Map<string, string>(); // key -> the flag as spelled
  for (let i = 0; i < args.length; i++) {
    const m = /^--([^=]+)(?:=([\s\S]*))?$/.exec(args[i]!);
    if (!m) continue;
    const value = m[2] ?? args[++i];
    if (!flags.has(m[1]!)) problems.push(`--${m[1]}: unknown flag; did you mean --${nearestFlag(m[1]!)}?`);
    else if (value === undefined) problems.push(`--${m[1]}: needs a value`);
    else {
      flagValues.set(flags.get(m[1]!)!, value);
      flagGiven.set(flags.get(m[1]!)!, m[1]!);
    }
  }

  const fileData = nestMetricNames(options.file ? readConfigFile(options.file) : {});
  const conf = convict(SCHEMA as unknown as convict.Schema<Record<string, unknown>>, { env, args: [] });
  try {
    conf.load(fileData);
    for (const [key, value] of flagValues) conf.set(key, value);
  } catch (e) {
    problems.push((e as Error).message);
  }

  const originOf = (key: string): string => {
    const leaf = leaves.find((l) => l.key === key);
    if (flagGiven.has(key)) return `flag --${flagGiven.get(key)}`;
    if (leaf?.env && env[leaf.env] !== undefined) return `env ${envOrigin[leaf.env] ?? leaf.env}`;
    if (options.file && hasPath(fileData, key)) return `file ${options.file}`;
    return 'default';
  };
  // The value as its source gave it: convict leaves out values that coerce to something
  // falsy (NaN, "", 0), and the text the user wrote is what they can find and fix.
  const rawValueOf = (key: string): unknown => {
    const leaf = leaves.find((l) => l.key === key);
    if (!leaf) return undefined;
    if (flagValues.has(key)) return flagValues.get(key);
    if (leaf.env && env[leaf.env] !== undefined) return env[leaf.env];
    if (options.file && hasPath(fileData, key)) return key.split('.').reduce<unknown>((n, k) => (n as Record<string, unknown>)[k], fileData);
    return leaf.default;
  };

  try {
    conf.validate({ allowed: 'strict' });
  } catch (e) {
    // A section (e.g. otlp) given as a scalar: one problem, not one per key it hides.
    const sections = new Set<string>();
    const sectionReplaced = (key: string) => {
      const parts = key.split('.');
      for (let i = 1; i < parts.length; i++) {
        const section = parts.slice(0, i).join('.');
        if (sections.has(section)) return true;
        if (!hasPath(fileData, section)) return false;
        const value = section.split('.').reduce<unknown>((n, k) => (n as Record<string, unknown>)[k], fileData);
        if (!value || typeof value !== 'object' || Array.isArray(value)) {
          sections.add(section);
          problems.push(`${section}: must be a section of keys (an object), not ${JSON.stringify(value)} (${originOf(section)})`);
          return true;
        }
      }
      return false;
    };
    for (const line of (e as Error).message.split('\n')) {
      const missing = /^configuration param '(.+)' missing from config, did you override its parent\?$/.exec(line);
      if (missing && sectionReplaced(missing[1]!)) continue;
      const undeclared = /^configuration param '(.+)' not declared in the schema$/.exec(line);
      if (undeclared && sections.has(undeclared[1]!)) continue;
      if (undeclared) {
        const meant = nearest(undeclared[1]!, leaves.map((l) => l.key));
        problems.push(`${undeclared[1]}: unknown key (${originOf(undeclared[1]!)}); did you mean ${meant}?`);
        continue;
      }
      const m = /^([\w.]+): (.*)$/.exec(line);
      if (!m) {
        problems.push(line);
        continue;
      }
      const leaf = leaves.find((l) => l.key === m[1]);
      const value = leaf && !leaf.sensitive && !m[2]!.includes(': value was ') ? JSON.stringify(rawValueOf(m[1]!)) : undefined;
      problems.push(`${m[1]}: ${m[2]}${value !== undefined ? `: value was ${value}` : ''} (${originOf(m[1]!)})`);
    }
  }
  if (!problems.length) problems.push(...pressureProblems(conf.get('pressure') as { warning: unknown; critical: unknown }));
  if (!problems.length) {
    const initial = parseDuration(conf.get('export.retry.initial_backoff' as never));
    const max = parseDuration(conf.get('export.retry.max_backoff' as never));
    if (initial > max)
      problems.push(`export.retry.initial_backoff: must not exceed export.retry.max_backoff (${max} ms): value was ${JSON.stringify(rawValueOf('export.retry.initial_backoff'))} (${originOf('export.retry.initial_backoff')})`);
  }
  if (problems.length) {
    throw new AgentError('EMP_CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, {
      hint: 'fix the keys above; `ebpf-map-pressure COMMAND --help` lists its keys, defaults and variables, docs/configuration.md every key',
    });
  }

  const raw = conf.getProperties() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const config: AgentConfig = {
    intervalMs: parseDuration(raw.interval),
    exporters: raw.exporters,
    sdkDisabled: raw.sdk_disabled,
    exportTimeoutMs: parseDuration(raw.export_timeout),
    logLevel: normalizeLogLevel(raw.log.level) as LogLevel,
    otlp: {
      protocol: raw.otlp.protocol,
      endpoint: raw.otlp.endpoint || (raw.otlp.protocol === 'grpc' ? 'http://localhost:4317' : 'http://localhost:4318/v1/metrics'),
      headers: parseHeaders(raw.otlp.headers),
      compression: raw.otlp.compression,
      certificate: raw.otlp.certificate,
      clientKey: raw.otlp.client_key,
      clientCertificate: raw.otlp.client_certificate,
      timeoutMs: parseDuration(raw.otlp.timeout),
      insecure: raw.otlp.insecure,
      temporality: raw.otlp.temporality,
      maxRequestBytes: parseSize(raw.otlp.max_request_bytes),
      maxPointsPerRequest: raw.otlp.max_points_per_request,
    },
    export: {
      queue: {
        maxBytes: parseSize(raw.export.queue.max_bytes),
        maxAgeMs: parseDuration(raw.export.queue.max_age),
        dir: raw.export.queue.dir,
        dirMaxBytes: parseSize(raw.export.queue.dir_max_bytes),
      },
      retry: { initialBackoffMs: parseDuration(raw.export.retry.initial_backoff), maxBackoffMs: parseDuration(raw.export.retry.max_backoff) },
      maxInFlight: raw.export.max_in_flight,
    },
    prometheus: { host: raw.prometheus.host, port: raw.prometheus.port },
    health: { enabled: raw.health.enabled, host: raw.health.host, port: raw.health.port },
    filter: {
      includeNames: raw.filter.include_names,
      excludeNames: raw.filter.exclude_names,
      includeTypes: raw.filter.include_types,
      excludeTypes: raw.filter.exclude_types,
    },
    counting: { kfunc: raw.counting.kfunc, kernelState: raw.counting.kernel_state, memory: raw.counting.memory },
    walk: { enabled: raw.walk.enabled, maxEntries: raw.walk.max_entries, budgetMs: parseDuration(raw.walk.budget) },
    paths: {
      btf: raw.paths.btf,
      procfs: raw.paths.procfs,
      bpffs: raw.paths.bpffs,
      podLogs: raw.paths.pod_logs,
      containerLogs: raw.paths.container_logs,
      machineId: raw.paths.machine_id,
    },
    owners: {
      enabled: raw.owners.enabled,
      intervalMs: parseDuration(raw.owners.interval),
      budgetMs: parseDuration(raw.owners.budget),
      maxPerMap: raw.owners.max_per_map,
      pins: raw.owners.pins,
      maxPins: raw.owners.max_pins,
      copyAttributes: raw.owners.copy_attributes,
      kubelet: {
        url: raw.owners.kubelet.url,
        tokenFile: raw.owners.kubelet.token_file,
        refreshMs: parseDuration(raw.owners.kubelet.refresh),
        timeoutMs: parseDuration(raw.owners.kubelet.timeout),
      },
    },
    pressure: {
      warning: parseThreshold(raw.pressure.warning),
      critical: parseThreshold(raw.pressure.critical),
      types: parseRules(raw.pressure.types, TYPE_NAMES),
      names: parseRules(raw.pressure.names),
      hysteresisMargin: raw.pressure.hysteresis_margin,
      clearAfter: raw.pressure.clear_after,
      forecastWindowMs: parseDuration(raw.pressure.forecast_window),
      maxTransitionLines: raw.pressure.max_transition_lines,
      peakWindowMs: parseDuration(raw.pressure.peak_window),
      headroom: raw.pressure.headroom,
      summaryIntervalMs: parseDuration(raw.pressure.summary_interval),
      snapshotIntervalMs: parseDuration(raw.pressure.snapshot_interval),
    },
    webhook: {
      urls: raw.webhook.urls,
      format: raw.webhook.format,
      cooldownMs: parseDuration(raw.webhook.cooldown),
      timeoutMs: parseDuration(raw.webhook.timeout),
      retries: raw.webhook.retries,
      backoffMs: parseDuration(raw.webhook.backoff),
      queueSize: raw.webhook.queue_size,
      maxMaps: raw.webhook.max_maps,
    },
    metrics: Object.fromEntries(ALL_METRICS.map((m) => [m.name, m.name.split('.').reduce((n, k) => n[k], raw.metrics).enabled as boolean])),
    top: { refreshMs: parseDuration(raw.top.refresh) },
    demo: { durationMs: parseDuration(raw.demo.duration), intervalMs: parseDuration(raw.demo.interval), export: raw.demo.export },
  };
  // OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: for HTTP the signal path is appended, whatever
  // chose the protocol (env, file or flag).
  if (config.otlp.protocol === 'http/protobuf' && originOf('otlp.endpoint') === 'env OTEL_EXPORTER_OTLP_ENDPOINT')
    raw.otlp.endpoint = config.otlp.endpoint = config.otlp.endpoint.replace(/\/?$/, '/v1/metrics');
  return { config, printable: printableConfig(raw) };
}

/** The effective configuration as JSON, secrets redacted. */
function printableConfig(raw: Record<string, any>): string { // eslint-disable-line @typescript-eslint/no-explicit-any
  const copy = JSON.parse(JSON.stringify(raw));
  const names = Object.keys(parseHeaders(copy.otlp.headers));
  copy.otlp.headers = Object.fromEntries(names.map((n) => [n, '[redacted]']));
  if (copy.otlp.endpoint) copy.otlp.endpoint = redactUrl(copy.otlp.endpoint);
  copy.webhook.urls = copy.webhook.urls.map(redactWebhookUrl);
  if (copy.owners.kubelet.url) copy.owners.kubelet.url = redactUrl(copy.owners.kubelet.url);
  return JSON.stringify(copy, null, 2);
}

/** A URL without its password and query values, for logs. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = 'redacted';
    for (const k of [...url.searchParams.keys()]) url.searchParams.set(k, 'redacted');
    return url.toString();
  } catch {
    return value;
  }
}
