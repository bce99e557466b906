// SPDX-License-Identifier: Apache-2.0
/**
 * Every error the agent reports on purpose, with a stable code. docs/errors.md documents
 * each code (a test keeps the two in step); logs, exit paths and tests use the codes.
 */

export interface ErrorSpec {
  /** What went wrong, for the docs. */
  readonly summary: string;
  /** How to fix it, for the docs and, when no better hint is known, the log line. */
  readonly fix: string;
  /** Process exit code when this error stops a command. */
  readonly exitCode: number;
}

export const ERRORS = {
  EMP_CONFIG_INVALID: {
    summary: 'A configuration value is invalid or unknown.',
    fix: 'Correct the key named in the message (see docs/configuration.md), or remove it.',
    exitCode: 2,
  },
  EMP_CONFIG_FILE: {
    summary: 'The configuration file cannot be read or parsed.',
    fix: 'Check the path given to --config and that the file is valid JSON or YAML.',
    exitCode: 2,
  },
  EMP_USAGE: {
    summary: 'The command line is not understood.',
    fix: 'Run `ebpf-map-pressure --help` for commands and flags.',
    exitCode: 2,
  },
  EMP_NATIVE_MISSING: {
    summary: 'The native addon is not built.',
    fix: 'Run `npm run build` (needs clang, bpftool, libbpf-dev, pkg-config).',
    exitCode: 1,
  },
  EMP_PERMISSION: {
    summary: 'The kernel refused to load or read the iterator.',
    fix: 'Run as root, or grant CAP_SYS_ADMIN alone (the smallest set with full function). CAP_BPF + CAP_PERFMON load the iterator too, but read no map memory (set counting.memory: false) and, before Linux 6.6, count no map that needs an element walk; see the README, Least privilege.',
    exitCode: 1,
  },
  EMP_NO_BTF: {
    summary: "The kernel's BTF (type information) was not found.",
    fix: 'Use a kernel built with CONFIG_DEBUG_INFO_BTF=y, or point paths.btf at its BTF file.',
    exitCode: 1,
  },
  EMP_LOAD_FAILED: {
    summary: 'The kernel rejected the iterator program.',
    fix: 'Needs Linux >= 5.8 with BTF; run with --log.level debug for the verifier log, which says what it refused.',
    exitCode: 1,
  },
  EMP_COLLECT_FAILED: {
    summary: 'A collection could not read the iterator.',
    fix: 'Transient errors are retried next interval; see the errno in the message.',
    exitCode: 1,
  },
  EMP_RECORD_MISMATCH: {
    summary: 'The iterator wrote records of an unexpected size or version.',
    fix: 'Rebuild the addon (`npm run build`): the BPF object and the reader are out of step.',
    exitCode: 1,
  },
  EMP_READER_CLOSED: {
    summary: 'A collection was asked of a closed reader.',
    fix: 'A bug in the caller: collect only between open and close.',
    exitCode: 1,
  },
  EMP_MEMORY_UNREADABLE: {
    summary: 'Map memory cannot be read (fdinfo memlock needs BPF_MAP_GET_FD_BY_ID).',
    fix: 'Grant CAP_SYS_ADMIN, or accept that ebpf.map.memory is not exported.',
    exitCode: 1,
  },
  EMP_WALK_FAILED: {
    summary: 'Hash maps the kernel keeps no counter for could not be counted by an element walk (kernels without bpf_map_sum_elem_count, < 6.6).',
    fix: 'Grant CAP_SYS_ADMIN (a walk opens the map by id); on kernels < 5.9 there is no element iterator. Those maps report no entries meanwhile.',
    exitCode: 1,
  },
  EMP_WALK_UNSUPPORTED: {
    summary:
      'The kernel refuses (EPERM at load) or lacks an element-walk iterator program (iter/bpf_map_elem, iter/sockmap): maps only a walk can count (sockmap always; before 6.6 preallocated and LRU hash maps) are reported without entries. Logged once at start.',
    fix: 'Nothing to change in the agent: the kernel decides which BPF program types it runs (hardened kernels and security policies refuse some). Those maps keep their limit and memory, with count_method none and not_counted saying why; a kernel that allows these iterators (stock kernels do) counts them.',
    exitCode: 1,
  },
  EMP_OWNERS_UNSUPPORTED: {
    summary:
      'The kernel lacks or refuses an owner iterator (iter/task_file: the processes holding maps; iter/bpf_prog, Linux >= 5.9, without which listing programs needs CAP_SYS_ADMIN): that part of every map\'s owners is unknown, and each map says so (owners_unknown), never "no owner". Logged once.',
    fix: 'Nothing to change in the agent where the kernel refuses the program type; on kernels without iter/bpf_prog grant CAP_SYS_ADMIN for the programs.',
    exitCode: 1,
  },
  EMP_OWNERS_FAILED: {
    summary: 'An owner pass could not read the processes or programs; the previous owners are kept and the pass is retried on its cadence.',
    fix: 'Transient errors pass by themselves; see the errno in the message.',
    exitCode: 1,
  },
  EMP_PINS_UNREADABLE: {
    summary: 'The bpffs root (paths.bpffs) or some pins under it cannot be opened: the objects pinned there are not attributed to their pins, and each map says its pins may be incomplete.',
    fix: 'Mount the host\'s bpffs at paths.bpffs (read-only is enough) and run as the user that owns the pins, or with CAP_DAC_OVERRIDE.',
    exitCode: 1,
  },
  EMP_OWNER_SOURCE: {
    summary: 'The source of Kubernetes names (the kubelet pod list, or its log directories) is unreachable, slow or answers garbage: owners keep their pod uid and container id, without names. Warned once; retried with backoff.',
    fix: 'Check owners.kubelet.url (the read-only port, or 10250 with owners.kubelet.token_file) and that paths.pod_logs / paths.container_logs are mounted.',
    exitCode: 1,
  },
  EMP_EXPORT_FAILED: {
    summary: 'The OTLP endpoint could not be reached or answered a retryable error (gRPC UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED with RetryInfo; HTTP 429, 502, 503, 504; a timeout or a network error).',
    fix: 'Check that the endpoint in the message is reachable. Meanwhile the agent keeps collecting; requests wait in the export queue and are retried with backoff, in collection order, until delivered or dropped by export.queue.max_bytes / max_age.',
    exitCode: 1,
  },
  EMP_EXPORT_REJECTED: {
    summary: 'The OTLP endpoint rejected a request for good (gRPC INVALID_ARGUMENT and other non-retryable codes, HTTP 400 and other 4xx), or some of its data points (partial_success).',
    fix: 'The request is dropped and counted (ebpf_map_pressure.export.dropped reason=rejected, export.rejected_points), never retried; the message says what the endpoint objected to.',
    exitCode: 1,
  },
  EMP_EXPORT_DROPPED: {
    summary: 'Queued requests were dropped: the queue was full (the oldest go first) or they were older than export.queue.max_age.',
    fix: 'Raise export.queue.max_bytes or export.queue.dir_max_bytes (or set export.queue.dir) to ride out longer outages; drops are counted in ebpf_map_pressure.export.dropped.',
    exitCode: 1,
  },
  EMP_QUEUE_DIR: {
    summary: 'export.queue.dir cannot be used: missing permission, a read-only file system, or not a directory.',
    fix: 'Point export.queue.dir at a writable directory of the agent (systemd: StateDirectory; Kubernetes: a hostPath volume), or leave it empty for a memory queue.',
    exitCode: 2,
  },
  EMP_QUEUE_CORRUPT: {
    summary: 'A disk queue file ends in a torn or corrupt record (a crash in mid-write, or damage).',
    fix: 'Nothing to do: the records before it are delivered, the rest of that file is set aside (renamed .corrupt) and reported once.',
    exitCode: 1,
  },
  EMP_QUEUE_DISK: {
    summary: 'The disk queue cannot be written (disk full, I/O error) while the agent runs.',
    fix: 'Free space where export.queue.dir is; meanwhile new requests queue in memory (export.queue.max_bytes) and nothing crashes.',
    exitCode: 1,
  },
  EMP_BAD_HOST: {
    summary: 'prometheus.host or health.host is no address of this host: a name that does not resolve, or an address no interface has.',
    fix: 'Set the key named in the message to an address of this host: 127.0.0.1 (loopback, the default), 0.0.0.0 (every interface), or one that `ip -brief address` lists.',
    exitCode: 2,
  },
  EMP_PORT_IN_USE: {
    summary: 'The Prometheus endpoint cannot listen on its port (another process holds it, or it is privileged).',
    fix: 'Port taken: stop what holds it (`ss -ltnp` names it) or choose another prometheus.port. Privileged (below 1024): choose 1024 or above, or grant CAP_NET_BIND_SERVICE.',
    exitCode: 1,
  },
  EMP_HEALTH_LISTEN: {
    summary: 'The health endpoint (/healthz, /readyz) cannot listen on its port (another process holds it, or it is privileged).',
    fix: 'Port taken: stop what holds it (`ss -ltnp` names it) or choose another health.port. Privileged (below 1024): choose 1024 or above, or grant CAP_NET_BIND_SERVICE.',
    exitCode: 1,
  },
  EMP_OUTPUT_FAILED: {
    summary: 'The output could not be written (stdout full or gone). A reader that stops early, as head does, is not an error.',
    fix: 'Check where stdout goes (a full disk, a closed file); the errno in the message says why.',
    exitCode: 1,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** An error we raise on purpose: a code from ERRORS, a message, maybe a hint. */
export class AgentError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;
  readonly exitCode: number;
  /** The system error behind it, when there is one (errno, syscall). */
  readonly errno?: number;
  readonly syscall?: string;
  /** libbpf's own lines (the verifier log's tail among them): for debug logs, not the message. */
  readonly detail?: string;

  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; cause?: unknown; errno?: number; syscall?: string; detail?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AgentError';
    this.code = code;
    this.hint = options.hint ?? ERRORS[code].fix;
    this.exitCode = ERRORS[code].exitCode;
    if (options.errno !== undefined) this.errno = options.errno;
    if (options.syscall !== undefined) this.syscall = options.syscall;
    if (options.detail !== undefined) this.detail = options.detail;
  }
}

export function isAgentError(e: unknown): e is AgentError {
  return e instanceof AgentError;
}
