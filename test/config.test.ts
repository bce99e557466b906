// SPDX-License-Identifier: Apache-2.0
// The configuration: every error path (what is wrong, where it came from, with which value),
// the precedence of sources, the OpenTelemetry environment rules, redaction, and the same
// errors through the built CLI (exit code 2, no stack trace).
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { type AgentConfig, configFlags, loadConfig, type LoadOptions, schemaLeaves, TOOLING_ENV } from '../src/config';
import { AgentError, ERRORS } from '../src/errors';
import { ALL_METRICS, METRICS } from '../src/metrics/table';
import { ROOT, runBuiltCli, STACK_TRACE } from './helpers/cli';

/** loadConfig with exactly this env (never the host's). */
const load = (o: LoadOptions = {}) => loadConfig({ env: {}, ...o });

/** The AgentError loadConfig throws; fails the test if it does not throw one. */
function errorOf(o: LoadOptions): AgentError {
  try {
    load(o);
  } catch (e) {
    if (e instanceof AgentError) return e;
    throw e;
  }
  throw new Error(`expected loadConfig(${JSON.stringify(o)}) to fail`);
}

const dir = t.testdir({});
function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

// ---- every invalid value, one source at a time -------------------------------------------

interface BadCase {
  what: string;
  options: LoadOptions;
  /** The key the message must name. */
  key: string;
  /** The value as the message must show it (omitted: a secret, which must not be shown). */
  value?: string;
  /** The source as the message must name it. */
  source: string;
  /** Text that must not appear (secrets). */
  secret?: string;
}

const unreadableCert = '/nonexistent/emp-ca.pem';
const fileCase = (what: string, name: string, data: unknown, key: string, value: string): BadCase => {
  const p = file(name, JSON.stringify(data));
  return { what, options: { file: p }, key, value, source: `file ${p}` };
};

const BAD: BadCase[] = [
  // interval
  { what: 'interval not a duration (flag)', options: { args: ['--interval=abc'] }, key: 'interval', value: '"abc"', source: 'flag --interval' },
  { what: 'interval below 100 ms (env)', options: { env: { OTEL_METRIC_EXPORT_INTERVAL: '50ms' } }, key: 'interval', value: '"50ms"', source: 'env OTEL_METRIC_EXPORT_INTERVAL' },
  { what: 'interval with an unknown unit (flag, space form)', options: { args: ['--interval', '5 parsecs'] }, key: 'interval', value: '"5 parsecs"', source: 'flag --interval' },
  fileCase('interval of 0 ms (file)', 'interval.json', { interval: 0 }, 'interval', '0'),
  // exporters
  { what: 'unknown exporter (env)', options: { env: { OTEL_METRICS_EXPORTER: 'zipkin' } }, key: 'exporters', value: 'zipkin', source: 'env OTEL_METRICS_EXPORTER' },
  { what: 'unknown exporter among good ones (flag)', options: { args: ['--exporters=otlp,jaeger'] }, key: 'exporters', value: 'jaeger', source: 'flag --exporters' },
  fileCase('exporters not a list of strings (file)', 'exporters.json', { exporters: [1] }, 'exporters', '[1]'),
  // protocol
  { what: 'protocol http/json (generic env)', options: { env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' } }, key: 'otlp.protocol', value: '"http/json"', source: 'env OTEL_EXPORTER_OTLP_PROTOCOL' },
  { what: 'protocol (metrics env)', options: { env: { OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'udp' } }, key: 'otlp.protocol', value: '"udp"', source: 'env OTEL_EXPORTER_OTLP_METRICS_PROTOCOL' },
  // endpoint
  { what: 'endpoint not a URL (flag)', options: { args: ['--otlp.endpoint=collector:4317'] }, key: 'otlp.endpoint', value: '"collector:4317"', source: 'flag --otlp.endpoint' },
  fileCase('endpoint with another scheme (file)', 'endpoint.json', { otlp: { endpoint: 'ftp://collector' } }, 'otlp.endpoint', '"ftp://collector"'),
  // headers: a secret, named but never shown
  { what: 'headers without "=" (env)', options: { env: { OTEL_EXPORTER_OTLP_HEADERS: 'Authorization Bearer s3cr3t-token' } }, key: 'otlp.headers', source: 'env OTEL_EXPORTER_OTLP_HEADERS', secret: 's3cr3t-token' },
  fileCase('header with a non-string value (file)', 'headers.json', { otlp: { headers: { 'api-key': 42 } } }, 'otlp.headers', ''),
  // certificate
  { what: 'certificate path unreadable (env)', options: { env: { OTEL_EXPORTER_OTLP_CERTIFICATE: unreadableCert } }, key: 'otlp.certificate', value: `"${unreadableCert}"`, source: 'env OTEL_EXPORTER_OTLP_CERTIFICATE' },
  { what: 'certificate path is a directory (flag)', options: { args: [`--otlp.certificate=${dir}`] }, key: 'otlp.certificate', value: JSON.stringify(dir), source: 'flag --otlp.certificate' },
  { what: 'client key unreadable (flag)', options: { args: [`--otlp.client-key=${unreadableCert}`] }, key: 'otlp.client_key', value: `"${unreadableCert}"`, source: 'flag --otlp.client-key' },
  // port
  { what: 'port not a number (env)', options: { env: { OTEL_EXPORTER_PROMETHEUS_PORT: 'abc' } }, key: 'prometheus.port', value: '"abc"', source: 'env OTEL_EXPORTER_PROMETHEUS_PORT' },
  { what: 'port with trailing junk (flag)', options: { args: ['--prometheus.port=80abc'] }, key: 'prometheus.port', value: '"80abc"', source: 'flag --prometheus.port' },
  { what: 'port above 65535 (flag)', options: { args: ['--prometheus.port=70000'] }, key: 'prometheus.port', value: '70000', source: 'flag --prometheus.port' },
  { what: 'empty port (flag)', options: { args: ['--prometheus.port='] }, key: 'prometheus.port', value: '""', source: 'flag --prometheus.port' },
  fileCase('fractional port (file)', 'port.json', { prometheus: { port: 0.5 } }, 'prometheus.port', '0.5'),
  { what: 'negative points per request (flag)', options: { args: ['--otlp.max-points-per-request=-5'] }, key: 'otlp.max_points_per_request', value: '"-5"', source: 'flag --otlp.max-points-per-request' },
  // log level
  { what: 'unknown log level (env)', options: { env: { OTEL_LOG_LEVEL: 'loud' } }, key: 'log.level', value: '"loud"', source: 'env OTEL_LOG_LEVEL' },
  // map types and names
  { what: 'unknown map type (flag)', options: { args: ['--filter.include-types=hash,hashh'] }, key: 'filter.include_types', value: 'hashh', source: 'flag --filter.include-types' },
  { what: 'unknown map type (env)', options: { env: { EMP_FILTER_EXCLUDE_TYPES: 'ring_buffer' } }, key: 'filter.exclude_types', value: 'ring_buffer', source: 'env EMP_FILTER_EXCLUDE_TYPES' },
  fileCase('name globs not strings (file)', 'globs.json', { filter: { include_names: [''] } }, 'filter.include_names', '[""]'),
  // paths
  { what: 'relative BTF path (flag)', options: { args: ['--paths.btf=vmlinux'] }, key: 'paths.btf', value: '"vmlinux"', source: 'flag --paths.btf' },
  { what: 'relative procfs path (env)', options: { env: { EMP_PATHS_PROCFS: 'proc' } }, key: 'paths.procfs', value: '"proc"', source: 'env EMP_PATHS_PROCFS' },
  // booleans: only true or false (convict alone takes any string but "false" as true)
  { what: 'OTEL_SDK_DISABLED=maybe', options: { env: { OTEL_SDK_DISABLED: 'maybe' } }, key: 'sdk_disabled', value: '"maybe"', source: 'env OTEL_SDK_DISABLED' },
  { what: 'OTEL_EXPORTER_OTLP_INSECURE=1', options: { env: { OTEL_EXPORTER_OTLP_INSECURE: '1' } }, key: 'otlp.insecure', value: '"1"', source: 'env OTEL_EXPORTER_OTLP_INSECURE' },
  { what: 'counting.memory=yes (flag)', options: { args: ['--counting.memory=yes'] }, key: 'counting.memory', value: '"yes"', source: 'flag --counting.memory' },
  // enumerations and durations
  { what: 'compression br (env)', options: { env: { OTEL_EXPORTER_OTLP_COMPRESSION: 'br' } }, key: 'otlp.compression', value: '"br"', source: 'env OTEL_EXPORTER_OTLP_COMPRESSION' },
  { what: 'timeout of 0 (env)', options: { env: { OTEL_EXPORTER_OTLP_TIMEOUT: '0' } }, key: 'otlp.timeout', value: '"0"', source: 'env OTEL_EXPORTER_OTLP_TIMEOUT' },
  // export: the delivery queue and retries
  { what: 'queue size not a size (env)', options: { env: { EMP_EXPORT_QUEUE_MAX_BYTES: 'lots' } }, key: 'export.queue.max_bytes', value: '"lots"', source: 'env EMP_EXPORT_QUEUE_MAX_BYTES' },
  { what: 'queue size below 1 MiB (flag)', options: { args: ['--export.queue.max-bytes=100KiB'] }, key: 'export.queue.max_bytes', value: '"100KiB"', source: 'flag --export.queue.max-bytes' },
  { what: 'queue dir relative (flag)', options: { args: ['--export.queue.dir=var/queue'] }, key: 'export.queue.dir', value: '"var/queue"', source: 'flag --export.queue.dir' },
  { what: 'queue age not a duration (env)', options: { env: { EMP_EXPORT_QUEUE_MAX_AGE: 'forever' } }, key: 'export.queue.max_age', value: '"forever"', source: 'env EMP_EXPORT_QUEUE_MAX_AGE' },
  { what: 'no requests in flight (flag)', options: { args: ['--export.max-in-flight=0'] }, key: 'export.max_in_flight', value: '0', source: 'flag --export.max-in-flight' },
  { what: 'backoff not a duration (flag)', options: { args: ['--export.retry.initial-backoff=soon'] }, key: 'export.retry.initial_backoff', value: '"soon"', source: 'flag --export.retry.initial-backoff' },
  { what: 'initial backoff above the max (flag)', options: { args: ['--export.retry.initial-backoff=1m', '--export.retry.max-backoff=10s'] }, key: 'export.retry.initial_backoff', value: '"1m"', source: 'flag --export.retry.initial-backoff' },
  { what: 'request bound above 3 MiB (flag)', options: { args: ['--otlp.max-request-bytes=8MiB'] }, key: 'otlp.max_request_bytes', value: '"8MiB"', source: 'flag --otlp.max-request-bytes' },
  // metric switches
  { what: 'metric switch not a boolean (env)', options: { env: { EMP_METRICS_EBPF_MAP_MEMORY_ENABLED: 'off' } }, key: 'metrics.ebpf.map.memory.enabled', value: '"off"', source: 'env EMP_METRICS_EBPF_MAP_MEMORY_ENABLED' },
  { what: 'metric switch not a boolean (flag)', options: { args: ['--metrics.ebpf.map.max-entries.enabled=0'] }, key: 'metrics.ebpf.map.max_entries.enabled', value: '"0"', source: 'flag --metrics.ebpf.map.max-entries.enabled' },
  fileCase('metric switch not a boolean (file)', 'metric-switch.json', { metrics: { 'ebpf.map.owner': { enabled: 'no' } } }, 'metrics.ebpf.map.owner.enabled', '"no"'),
  fileCase('a metric given a boolean, not {enabled} (file)', 'metric-bool.json', { metrics: { 'ebpf.map.owner': false } }, 'metrics.ebpf.map.owner', 'false'),
  // structure
  fileCase('a section given as a string (file)', 'section.json', { otlp: 'http://collector:4317' }, 'otlp', '"http://collector:4317"'),
];

t.test('every invalid value: EMP_CONFIG_INVALID naming the key, the value and the source', async (t) => {
  for (const c of BAD) {
    const e = errorOf(c.options);
    t.equal(e.code, 'EMP_CONFIG_INVALID', `${c.what}: code`);
    t.equal(e.exitCode, 2, `${c.what}: exit code 2`);
    const line = e.message.split('\n').find((l) => l.trim().startsWith(`${c.key}:`));
    if (!line) {
      t.fail(`${c.what}: no line names ${c.key}: ${e.message}`);
      continue;
    }
    if (c.value) t.ok(line.includes(c.value), `${c.what}: the value ${c.value} is named: ${line}`);
    t.ok(line.includes(`(${c.source})`), `${c.what}: the source is named: ${line}`);
    if (c.secret) t.notOk(e.message.includes(c.secret), `${c.what}: the secret is not shown`);
    t.equal(e.message.split('\n').length, 2, `${c.what}: one problem, one line`);
  }
});

t.test('unknown keys in a file and unknown flags are rejected', async (t) => {
  const p = file('unknown.yaml', 'interval: 5s\nbogus: 1\notlp:\n  endpont: http://collector:4317\n');
  const e = errorOf({ file: p });
  t.equal(e.code, 'EMP_CONFIG_INVALID');
  t.match(e.message, new RegExp(`\\bbogus: unknown key \\(file ${p}\\)`));
  t.match(e.message, new RegExp(`\\botlp\\.endpont: unknown key \\(file ${p}\\)`));

  const f = errorOf({ args: ['--interval=5s', '--intervall=5s'] });
  t.equal(f.code, 'EMP_CONFIG_INVALID');
  t.match(f.message, /--intervall: unknown flag; did you mean --interval\?/, 'the nearest flag');
});

t.test('every key is a flag both as the docs spell it and in kebab case; the source names the spelling', async (t) => {
  const flags = configFlags();
  for (const l of schemaLeaves()) {
    t.equal(flags.get(l.key), l.key, `--${l.key}`);
    t.equal(flags.get(l.key.replace(/_/g, '-')), l.key, `--${l.key.replace(/_/g, '-')}`);
  }
  t.equal(load({ args: ['--pressure.snapshot_interval=2s'] }).config.pressure.snapshotIntervalMs, 2000, 'the docs\' spelling');
  t.equal(load({ args: ['--pressure.snapshot-interval', '3s'] }).config.pressure.snapshotIntervalMs, 3000, 'kebab case');
  t.equal(load({ args: ['--pressure.snapshot-interval=3s', '--pressure.snapshot_interval=4s'] }).config.pressure.snapshotIntervalMs, 4000, 'one key: the last wins');
  t.match(errorOf({ args: ['--pressure.snapshot_interval=soon'] }).message, /\(flag --pressure\.snapshot_interval\)/, 'the source as written');
});

t.test('unknown flags, file keys and EMP_* variables: "did you mean" the nearest key', async (t) => {
  const cases: Array<[string, LoadOptions, RegExp]> = [
    ['flag, kebab', { args: ['--pressure.snapshot-intervall=1s'] }, /--pressure\.snapshot-intervall: unknown flag; did you mean --pressure\.snapshot-interval\?/],
    ['flag, snake', { args: ['--pressure.snapshot_intervall=1s'] }, /--pressure\.snapshot_intervall: unknown flag; did you mean --pressure\.snapshot_interval\?/],
    ['file key in kebab case', { file: file('kebab.yaml', 'pressure:\n  snapshot-interval: 1s\n') }, /pressure\.snapshot-interval: unknown key \(file .*kebab\.yaml\); did you mean pressure\.snapshot_interval\?/],
    ['file section mistyped', { file: file('section.json', JSON.stringify({ presure: { warning: 0.5 } })) }, /presure\.warning: unknown key .*; did you mean pressure\.warning\?/],
    ['EMP_ name of a key with an OTEL_ variable', { env: { EMP_INTERVAL: '5s' } }, /EMP_INTERVAL: unknown environment variable; did you mean OTEL_METRIC_EXPORT_INTERVAL \(key interval\)\?/],
    ['EMP_ variable mistyped', { env: { EMP_PRESSURE_SNAPSHOT_INTERVALL: '1s' } }, /EMP_PRESSURE_SNAPSHOT_INTERVALL: unknown environment variable; did you mean EMP_PRESSURE_SNAPSHOT_INTERVAL \(key pressure\.snapshot_interval\)\?/],
    ['EMP_ name of a key without a variable', { env: { EMP_OTLP_MAX_POINTS_PER_REQUEST: '10' } }, /EMP_OTLP_MAX_POINTS_PER_REQUEST: unknown environment variable; did you mean --otlp\.max-points-per-request \(key otlp\.max_points_per_request, which has no variable\)\?/],
  ];
  for (const [what, options, message] of cases) {
    const e = errorOf(options);
    t.equal(e.code, 'EMP_CONFIG_INVALID', `${what}: the code`);
    t.equal(e.exitCode, 2, `${what}: exit code 2`);
    t.match(e.message, message, `${what}: names it and the nearest key`);
  }
  t.match(errorOf({ env: { EMP_INTERVAL: '5s', EMP_WEBHOOK_URL: 'http://x' } }).message, /EMP_INTERVAL: .*\n {2}EMP_WEBHOOK_URL: .*did you mean EMP_WEBHOOK_URLS/, 'every unknown variable at once');
});

t.test('EMP_* variables of the project\'s scripts and tests are not configuration, and not rejected', async (t) => {
  t.doesNotThrow(() => load({ env: Object.fromEntries(TOOLING_ENV.map((n) => [n, '1'])) }), 'TOOLING_ENV is tolerated');
  t.doesNotThrow(() => load({ env: { OTEL_SERVICE_NAME: 'x', NOT_OURS: '1' } }), 'only EMP_* is ours to check');
  // What the repository reads or sets (a test's own cases aside): a key's variable or declared.
  const keys = new Set(schemaLeaves().map((l) => l.env));
  const mentioned = new Set<string>();
  const scan = (p: string, reads: RegExp) => {
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p)) if (f !== 'node_modules') scan(path.join(p, f), reads);
      return;
    }
    for (const m of readFileSync(p, 'utf8').matchAll(reads)) mentioned.add(m[1]!);
  };
  const any = /\b(EMP_[A-Z0-9_]*[A-Z0-9])\b/g;
  for (const d of ['scripts', 'bench', 'deploy', '.ci', 'test/helpers', 'Dockerfile', 'docker-compose.yml']) scan(path.join(ROOT, d), any);
  scan(path.join(ROOT, 'test'), /process\.env\.(EMP_[A-Z0-9_]+)/g);
  const codes = new Set(Object.keys(ERRORS));
  const undeclared = [...mentioned].filter((n) => !keys.has(n) && !codes.has(n) && !TOOLING_ENV.includes(n));
  t.same(undeclared, [], 'every EMP_* variable the repository uses is a key\'s or in TOOLING_ENV');
  t.ok(mentioned.has('EMP_KERNEL_UNDER_TEST') && mentioned.has('EMP_PROMETHEUS_BIN'), 'the scan sees the scripts\' and tests\' variables');
});

// ---- metrics.<name>.enabled ---------------------------------------------------------------

t.test('metrics.<name>.enabled: one key per metric of the table, its default the table\'s, variable and flag as every key\'s', async (t) => {
  const switches = schemaLeaves().filter((l) => l.key.startsWith('metrics.'));
  t.same(switches.map((l) => l.key).sort(), ALL_METRICS.map((m) => `metrics.${m.name}.enabled`).sort(), 'generated from the table; no other metrics.* key');
  for (const l of switches) {
    const m = ALL_METRICS.find((x) => l.key === `metrics.${x.name}.enabled`)!;
    t.equal(l.default, m.enabled, `${l.key}: the table's default`);
    t.equal(l.format, 'boolean', `${l.key}: true or false`);
    t.equal(l.env, `EMP_${l.key.replace(/\./g, '_').toUpperCase()}`, `${l.key}: EMP_ and the key`);
    t.equal(l.arg, l.key.replace(/_/g, '-'), `${l.key}: the kebab-case flag`);
  }
  const envs = schemaLeaves().map((l) => l.env).filter(Boolean);
  t.equal(new Set(envs).size, envs.length, 'no two keys share a variable');
  t.same(Object.entries(load().config.metrics).filter(([, on]) => !on), [], 'by default every metric is on');
});

t.test('metrics.<name>.enabled from a file (the name as one key, or nested), the environment and flags', async (t) => {
  const off = (o: LoadOptions) => Object.entries(load(o).config.metrics).filter(([, on]) => !on).map(([name]) => name).sort();
  const yaml = file('switches.yaml', 'metrics:\n  ebpf.map.owner:\n    enabled: false\n  ebpf_map_pressure.collections:\n    enabled: false\n  ebpf:\n    map:\n      memory:\n        enabled: false\n');
  t.same(off({ file: yaml }), [METRICS.memory.name, METRICS.owner.name, METRICS.collections.name].sort(), 'YAML: dotted names and nested sections, together');
  const json = file('switches.json', JSON.stringify({ metrics: { ebpf: { map: { owner: { enabled: true } } }, 'ebpf.map.owner': { enabled: false } } }));
  t.same(off({ file: json }), [METRICS.owner.name], 'both spellings of one metric merge: the dotted name, written after, wins');
  t.same(off({ env: { EMP_METRICS_EBPF_MAP_COUNT_ENABLED: 'FALSE' } }), [METRICS.count.name], 'environment');
  t.same(off({ args: ['--metrics.ebpf.map.time-to-full.enabled=false', '--metrics.ebpf.map.alert_level.enabled', 'false'] }), [METRICS.alertLevel.name, METRICS.timeToFull.name].sort(), 'flags, kebab and snake');
  t.same(off({ file: yaml, env: { EMP_METRICS_EBPF_MAP_OWNER_ENABLED: 'true' }, args: ['--metrics.ebpf.map.memory.enabled=true'] }), [METRICS.collections.name], 'precedence as every key: file < env < flags');
  t.match(JSON.parse(load({ file: yaml }).printable), { metrics: { ebpf: { map: { owner: { enabled: false }, entries: { enabled: true } } } } }, '--print-config shows them nested');
});

t.test('an unknown metric under metrics.: an unknown key, with the nearest metric\'s key', async (t) => {
  const cases: Array<[string, LoadOptions, RegExp]> = [
    ['file, the name as one key', { file: file('unknown-metric.yaml', 'metrics:\n  ebpf.map.entriez:\n    enabled: false\n') }, /metrics\.ebpf\.map\.entriez\.enabled: unknown key \(file .*unknown-metric\.yaml\); did you mean metrics\.ebpf\.map\.entries\.enabled\?/],
    ['file, nested', { file: file('unknown-nested.json', JSON.stringify({ metrics: { ebpf: { map: { ownr: { enabled: false } } } } })) }, /metrics\.ebpf\.map\.ownr\.enabled: unknown key .*; did you mean metrics\.ebpf\.map\.owner\.enabled\?/],
    ['file, a misspelt enabled', { file: file('unknown-enabled.json', JSON.stringify({ metrics: { 'ebpf.map.memory': { enable: false } } })) }, /metrics\.ebpf\.map\.memory\.enable: unknown key .*; did you mean metrics\.ebpf\.map\.memory\.enabled\?/],
    ['flag', { args: ['--metrics.ebpf.map.utilisation.enabled=false'] }, /--metrics\.ebpf\.map\.utilisation\.enabled: unknown flag; did you mean --metrics\.ebpf\.map\.utilization\.enabled\?/],
    ['environment', { env: { EMP_METRICS_EBPF_MAP_MEMORI_ENABLED: 'false' } }, /EMP_METRICS_EBPF_MAP_MEMORI_ENABLED: unknown environment variable; did you mean EMP_METRICS_EBPF_MAP_MEMORY_ENABLED \(key metrics\.ebpf\.map\.memory\.enabled\)\?/],
  ];
  for (const [what, options, message] of cases) {
    const e = errorOf(options);
    t.equal(e.code, 'EMP_CONFIG_INVALID', `${what}: the code`);
    t.equal(e.exitCode, 2, `${what}: exit code 2`);
    t.match(e.message, message, `${what}: names the key and the nearest`);
    t.equal(e.message.split('\n').length, 2, `${what}: one problem`);
  }
});

t.test('several invalid values from several sources: all reported at once', async (t) => {
  const p = file('several.json', JSON.stringify({ interval: 'soon', prometheus: { port: 'x' }, nope: true }));
  const e = errorOf({
    file: p,
    env: { OTEL_METRICS_EXPORTER: 'otlp,zipkin', OTEL_LOG_LEVEL: 'chatty' },
    args: ['--otlp.protocol=http', '--paths.bpffs=sys/fs/bpf'],
  });
  t.equal(e.code, 'EMP_CONFIG_INVALID');
  const lines = e.message.split('\n').slice(1).map((l) => l.trim());
  for (const [key, source] of [
    ['interval', `file ${p}`],
    ['prometheus.port', `file ${p}`],
    ['nope', `file ${p}`],
    ['exporters', 'env OTEL_METRICS_EXPORTER'],
    ['log.level', 'env OTEL_LOG_LEVEL'],
    ['otlp.protocol', 'flag --otlp.protocol'],
    ['paths.bpffs', 'flag --paths.bpffs'],
  ]) {
    t.ok(lines.some((l) => l.startsWith(`${key}:`) && l.includes(`(${source})`)), `${key} from ${source} is reported`);
  }
  t.equal(lines.length, 7, 'one line per problem, nothing else');
});

t.test('config files that cannot be read or parsed: EMP_CONFIG_FILE naming the file', async (t) => {
  const cases: Array<[string, string]> = [
    ['missing file', path.join(dir, 'does-not-exist.yaml')],
    ['a directory', dir],
    ['bad JSON', file('bad.json', '{"interval": "5s",}')],
    ['bad YAML', file('bad.yaml', 'interval: [5s\notlp: {\n')],
    ['YAML that is not a map', file('scalar.yml', 'just a string\n')],
    ['JSON array', file('array.json', '[1, 2]')],
  ];
  for (const [what, p] of cases) {
    const e = errorOf({ file: p });
    t.equal(e.code, 'EMP_CONFIG_FILE', `${what}: code`);
    t.equal(e.exitCode, ERRORS.EMP_CONFIG_FILE.exitCode, `${what}: exit code`);
    t.ok(e.message.includes(p), `${what}: names the file`);
    t.ok(e.hint.length > 0, `${what}: has a hint`);
  }
});

t.test('YAML (.yaml, .yml) and JSON files load to the same configuration', async (t) => {
  const data = { interval: '5s', exporters: ['prometheus', 'console'], otlp: { protocol: 'http/protobuf', headers: { 'X-Tenant': 'a' } }, prometheus: { port: 9999 } };
  const yaml = 'interval: 5s\nexporters: [prometheus, console]\notlp:\n  protocol: http/protobuf\n  headers:\n    X-Tenant: a\nprometheus:\n  port: 9999\n';
  const fromJson = load({ file: file('same.json', JSON.stringify(data)) }).config;
  const fromYaml = load({ file: file('same.yaml', yaml) }).config;
  const fromYml = load({ file: file('same.yml', yaml) }).config;
  t.same(fromYaml, fromJson);
  t.same(fromYml, fromJson);
  t.equal(fromJson.intervalMs, 5000);
  t.same(fromJson.exporters, ['prometheus', 'console']);
  t.equal(fromJson.otlp.endpoint, 'http://localhost:4318/v1/metrics', 'HTTP default endpoint');
  t.same(fromJson.otlp.headers, { 'x-tenant': 'a' }, 'header names are lower-cased');
  t.equal(fromJson.prometheus.port, 9999);
  t.same(load({ file: file('empty.yaml', '') }).config, load().config, 'an empty YAML file is the defaults');
});

t.test('precedence: defaults < file < environment < flags', async (t) => {
  const p = file('prec.yaml', 'interval: 5s\nprometheus:\n  port: 9001\n  host: 127.0.0.2\nlog:\n  level: warn\n');
  const env = { OTEL_METRIC_EXPORT_INTERVAL: '7s', OTEL_EXPORTER_PROMETHEUS_PORT: '9002' };
  const args = ['--interval=9s'];
  const pick = (c: AgentConfig) => [c.intervalMs, c.prometheus.port, c.prometheus.host, c.logLevel, c.exportTimeoutMs];
  t.same(pick(load().config), [10_000, 9464, '127.0.0.1', 'info', 30_000], 'defaults');
  t.same(pick(load({ file: p }).config), [5000, 9001, '127.0.0.2', 'warn', 30_000], 'file over defaults');
  t.same(pick(load({ file: p, env }).config), [7000, 9002, '127.0.0.2', 'warn', 30_000], 'env over file');
  t.same(pick(load({ file: p, env, args }).config), [9000, 9002, '127.0.0.2', 'warn', 30_000], 'flags over env');
  t.equal(load({ args: ['--interval=5s', '--interval=6s'] }).config.intervalMs, 6000, 'a repeated flag: the last wins');
  t.same(load({ args: ['--filter.include-names=1e3,0x10'] }).config.filter.includeNames, ['1e3', '0x10'], 'flag values stay text');
});

t.test('OTLP environment: METRICS_ wins over the generic form, for every variable', async (t) => {
  const generic = {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://generic:4317',
    OTEL_EXPORTER_OTLP_HEADERS: 'who=generic',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    OTEL_EXPORTER_OTLP_COMPRESSION: 'none',
    OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
    OTEL_EXPORTER_OTLP_INSECURE: 'false',
  };
  const specific = {
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://specific:4318/custom/path',
    OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'who=specific',
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: 'gzip',
    OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '2000',
    OTEL_EXPORTER_OTLP_METRICS_INSECURE: 'true',
  };
  const g = load({ env: generic }).config.otlp;
  t.same([g.endpoint, g.headers, g.protocol, g.compression, g.timeoutMs, g.insecure], ['http://generic:4317', { who: 'generic' }, 'grpc', 'none', 1000, false], 'generic alone');
  const s = load({ env: { ...generic, ...specific } }).config.otlp;
  t.same(
    [s.endpoint, s.headers, s.protocol, s.compression, s.timeoutMs, s.insecure],
    ['http://specific:4318/custom/path', { who: 'specific' }, 'http/protobuf', 'gzip', 2000, true],
    'METRICS_ wins; its endpoint is used as given',
  );
  const cert = file('ca.pem', '-----BEGIN CERTIFICATE-----\n');
  t.equal(load({ env: { OTEL_EXPORTER_OTLP_CERTIFICATE: cert } }).config.otlp.certificate, cert, 'generic certificate');
});

t.test('a generic OTLP endpoint is a base URL: /v1/metrics is appended for http/protobuf only', async (t) => {
  const ep = (env: Record<string, string>, args: string[] = []) => load({ env, args }).config.otlp.endpoint;
  t.equal(ep({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }), 'http://c:4318/v1/metrics');
  t.equal(ep({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }), 'http://c:4318/v1/metrics', 'no double slash');
  t.equal(ep({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }), 'http://c:4318/otlp/v1/metrics', 'kept base path');
  t.equal(ep({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, ['--otlp.protocol=http/protobuf']), 'http://c:4318/v1/metrics', 'protocol from a flag');
  t.equal(ep({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' }), 'http://c:4317', 'grpc: as given');
  t.equal(ep({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, ['--otlp.protocol=http/protobuf', '--otlp.endpoint=http://flag:4318']), 'http://flag:4318', 'a flag endpoint is used as given');
  t.equal(ep({}, ['--otlp.protocol=http/protobuf']), 'http://localhost:4318/v1/metrics', 'HTTP default');
  t.equal(ep({}), 'http://localhost:4317', 'gRPC default');
});

t.test('empty environment variables count as unset', async (t) => {
  const c = load({
    env: {
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: '',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://generic:4317',
      OTEL_METRIC_EXPORT_INTERVAL: '',
      OTEL_METRICS_EXPORTER: '  ',
      OTEL_EXPORTER_PROMETHEUS_PORT: '',
      OTEL_LOG_LEVEL: '',
      OTEL_SDK_DISABLED: '',
    },
  }).config;
  t.equal(c.otlp.endpoint, 'http://generic:4317', 'an empty METRICS_ variable lets the generic one through');
  t.equal(c.intervalMs, 10_000);
  t.same(c.exporters, ['otlp']);
  t.equal(c.prometheus.port, 9464);
  t.equal(c.logLevel, 'info');
  t.equal(c.sdkDisabled, false);
});

t.test('OTEL_LOG_LEVEL: the OpenTelemetry spellings, any case', async (t) => {
  const cases: Array<[string, string]> = [
    ['NONE', 'none'], ['ERROR', 'error'], ['WARN', 'warn'], ['warning', 'warn'], ['INFO', 'info'],
    ['Info', 'info'], ['DEBUG', 'debug'], ['VERBOSE', 'debug'], ['ALL', 'debug'], [' warn ', 'warn'],
  ];
  for (const [given, level] of cases) t.equal(load({ env: { OTEL_LOG_LEVEL: given } }).config.logLevel, level, `${JSON.stringify(given)} -> ${level}`);
});

t.test('booleans: true and false in any case, from env, flags and files', async (t) => {
  t.equal(load({ env: { OTEL_SDK_DISABLED: 'TRUE' } }).config.sdkDisabled, true);
  t.equal(load({ env: { OTEL_SDK_DISABLED: 'false' } }).config.sdkDisabled, false);
  t.equal(load({ args: ['--counting.kfunc=false'] }).config.counting.kfunc, false);
  t.equal(load({ file: file('bool.json', '{"otlp": {"insecure": true}}') }).config.otlp.insecure, true);
});

t.test('OTLP headers: "k=v,k2=v2", URL-decoded, names lower-cased', async (t) => {
  const h = load({ env: { OTEL_EXPORTER_OTLP_HEADERS: 'Api-Key=a%20b%3Dc, x-scope = tenant1 ,' } }).config.otlp.headers;
  t.same(h, { 'api-key': 'a b=c', 'x-scope': 'tenant1' });
});

const SECRET = 'pa55w0rd-hidden';
const TOKEN = 'tok3n-hidden';

t.test('printable configuration: headers and URL secrets redacted', async (t) => {
  const { printable, config } = load({
    env: { OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer ${TOKEN},x-tenant=${TOKEN}` },
    args: [`--otlp.endpoint=https://user:${SECRET}@collector:4318/v1/metrics?token=${TOKEN}`],
  });
  t.equal(config.otlp.headers.authorization, `Bearer ${TOKEN}`, 'the real value is used');
  t.notOk(printable.includes(SECRET), 'no password');
  t.notOk(printable.includes(TOKEN), 'no header value or query value');
  const parsed = JSON.parse(printable) as { otlp: { headers: Record<string, string>; endpoint: string } };
  t.same(Object.keys(parsed.otlp.headers).sort(), ['authorization', 'x-tenant'], 'header names stay, to show they are set');
  t.match(parsed.otlp.endpoint, /^https:\/\/user:[^@]+@collector:4318\/v1\/metrics/, 'the endpoint stays recognisable');
});

// ---- through the built CLI ------------------------------------------------------------------

t.test('CLI: configuration errors exit 2 with the code, the key, the value, no stack trace', async (t) => {
  const badYaml = file('cli-bad.yaml', 'interval: [\n');
  const cases: Array<{ what: string; args: string[]; env?: Record<string, string>; code: string; expect: RegExp[] }> = [
    { what: 'bad flag value', args: ['snapshot', '--interval', 'abc'], code: 'EMP_CONFIG_INVALID', expect: [/interval: .*value was "abc" \(flag --interval\)/] },
    { what: 'bad env value', args: ['--print-config'], env: { OTEL_EXPORTER_PROMETHEUS_PORT: 'abc' }, code: 'EMP_CONFIG_INVALID', expect: [/prometheus\.port: .*"abc" \(env OTEL_EXPORTER_PROMETHEUS_PORT\)/] },
    { what: 'two bad values', args: ['run', '--exporters=otlp,zipkin', '--paths.btf=vmlinux'], code: 'EMP_CONFIG_INVALID', expect: [/exporters: .*zipkin/, /paths\.btf: .*"vmlinux"/] },
    { what: 'missing config file', args: ['--config', path.join(dir, 'nope.yaml')], code: 'EMP_CONFIG_FILE', expect: [/nope\.yaml/] },
    { what: 'unparsable config file', args: ['snapshot', '--config', badYaml], code: 'EMP_CONFIG_FILE', expect: [/cli-bad\.yaml/] },
    { what: 'unknown EMP_ variable', args: ['snapshot'], env: { EMP_INTERVAL: '5s' }, code: 'EMP_CONFIG_INVALID', expect: [/EMP_INTERVAL: unknown environment variable; did you mean OTEL_METRIC_EXPORT_INTERVAL/] },
    { what: 'unknown file key', args: ['--config', file('cli-kebab.json', '{"pressure": {"snapshot-interval": "1s"}}')], code: 'EMP_CONFIG_INVALID', expect: [/did you mean pressure\.snapshot_interval\?/] },
    { what: 'unknown metric', args: ['run', '--config', file('cli-metric.yaml', 'metrics:\n  ebpf.map.entriez:\n    enabled: false\n')], code: 'EMP_CONFIG_INVALID', expect: [/metrics\.ebpf\.map\.entriez\.enabled: unknown key .*did you mean metrics\.ebpf\.map\.entries\.enabled\?/] },
  ];
  for (const c of cases) {
    const r = await runBuiltCli(c.args, { env: c.env ?? {} });
    t.equal(r.code, 2, `${c.what}: exit code 2`);
    t.match(r.stderr, new RegExp(`^error ${c.code}: `, 'm'), `${c.what}: the code`);
    for (const re of c.expect) t.match(r.stderr, re, `${c.what}: ${re}`);
    t.match(r.stderr, /^ {2}hint: /m, `${c.what}: a hint`);
    t.notMatch(r.stderr, STACK_TRACE, `${c.what}: no stack trace`);
    t.equal(r.stdout, '', `${c.what}: nothing on stdout`);
  }
});

t.test('CLI: --print-config prints the effective configuration, secrets redacted', async (t) => {
  const p = file('print.yaml', `interval: 5s\notlp:\n  headers:\n    authorization: Bearer ${TOKEN}\n`);
  const r = await runBuiltCli(['--print-config', '--config', p, `--otlp.endpoint=http://u:${SECRET}@collector:4317`], {
    env: { OTEL_EXPORTER_OTLP_METRICS_HEADERS: `x-api-key=${TOKEN}`, OTEL_EXPORTER_PROMETHEUS_PORT: '9100' },
  });
  t.equal(r.code, 0, r.stderr);
  t.notOk(r.stdout.includes(SECRET), 'no URL password');
  t.notOk(r.stdout.includes(TOKEN), 'no header value');
  const printed = JSON.parse(r.stdout) as { interval: string; prometheus: { port: number }; otlp: { headers: Record<string, string> } };
  t.equal(printed.interval, '5s', 'from the file');
  t.equal(printed.prometheus.port, 9100, 'from the environment');
  t.same(Object.keys(printed.otlp.headers), ['x-api-key'], 'env headers replace the file headers');
});
