// SPDX-License-Identifier: Apache-2.0
/**
 * The configuration schema: one declaration of every key, defaults in it. convict validates
 * against it (load.ts), AgentConfig's type is derived from it (types.ts), and
 * docs/configuration.md and each command's --help are generated from it.
 */
import { ALL_METRICS } from '../metrics/table';
import { OWNER_ATTR } from '../owners/model';
import type { FormatName } from './formats';

/** A key of the schema. */
export interface SchemaLeaf {
  readonly doc: string;
  readonly format: FormatName | readonly string[] | StringConstructor | BooleanConstructor;
  readonly default: unknown;
  readonly env?: string;
  readonly arg?: string;
  readonly sensitive?: boolean;
}

/** A section of the schema: keys and sections by name. */
export interface SchemaSection {
  readonly [name: string]: SchemaLeaf | SchemaSection;
}

export const isLeaf = (node: SchemaLeaf | SchemaSection): node is SchemaLeaf => 'doc' in node && typeof node.doc === 'string';

/** The environment variable of a key without an OpenTelemetry one: EMP_ and the key, "." as "_". */
export const empVariable = (key: string) => `EMP_${key.replace(/\./g, '_').toUpperCase()}`;

/**
 * metrics.<metric name>.enabled for every metric of the table (src/metrics/table.ts), its
 * default the table's: generated, never listed by hand. The metric's dotted name nests like any
 * key (metrics.ebpf.map.entries.enabled); a file may also write the name as one key, as the
 * Collector's receivers do (nestMetricNames in load.ts).
 */
function metricSwitchesSchema(): SchemaSection {
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
    } satisfies SchemaLeaf;
  }
  return root as SchemaSection;
}

/**
 * Every key: its doc (the reference docs and --help are generated from it), its format (a name
 * of FORMATS, a list of allowed values, String or Boolean), its default, and the environment
 * variable and kebab-case flag that set it; `sensitive` keeps the value out of messages.
 */
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
      doc: 'Find who owns each map: the processes holding it (iter/task_file), the programs using it (iter/bpf_prog), its pins, and each process\'s container and Kubernetes pod. Runs beside the collections; a collection waits for it (at most half an interval) only when it shows a map no pass has covered and copy_attributes is not empty.',
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
      doc: 'Attributes of each map\'s first owner copied onto every per-map series, so a backend can group by them without a join (absent where unknown, e.g. k8s.* outside Kubernetes; a map whose owning processes are still unknown at its first collection gets none for its life, so its series do not change). Any of: process.executable.name, process.command, container.id, k8s.pod.uid, k8s.pod.name, k8s.namespace.name, k8s.container.name.',
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
} as const satisfies SchemaSection;

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
  const walk = (node: SchemaSection, prefix: string) => {
    for (const [k, v] of Object.entries(node)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (isLeaf(v)) out.push({ key, ...v });
      else walk(v, key);
    }
  };
  walk(SCHEMA, '');
  return out;
}
