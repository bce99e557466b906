// SPDX-License-Identifier: Apache-2.0
/**
 * Where configuration values come from, besides the schema's defaults: the environment (with
 * the OpenTelemetry rules for its variables), flags, and a JSON or YAML file. Each source's
 * own mistakes (an unknown EMP_* variable, an unknown flag, a file that cannot be read) are
 * found here; the values themselves are validated by convict (load.ts).
 */
import { readFileSync } from 'node:fs';
import { AgentError } from '../errors';
import { nearest } from '../suggest';
import { empVariable, schemaLeaves } from './schema';

// ---- the environment ------------------------------------------------------------------------

/** Environment variables of the OTLP exporter: the METRICS_ form wins over the generic one. */
const OTLP_ENV = ['ENDPOINT', 'HEADERS', 'PROTOCOL', 'COMPRESSION', 'CERTIFICATE', 'CLIENT_KEY', 'CLIENT_CERTIFICATE', 'TIMEOUT', 'INSECURE'] as const;

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
  'EMP_VICTORIA_METRICS_BIN',
  'EMP_VICTORIA_METRICS_CACHE',
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
export function unknownEnvProblems(env: Record<string, string>, leaves: ReturnType<typeof schemaLeaves>): string[] {
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

// ---- flags ----------------------------------------------------------------------------------

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

/** Flag values by the key each sets, in the spelling given, and the flags that set no key. */
export interface FlagValues {
  /** key -> value; a flag given twice: the last wins. */
  values: Map<string, string>;
  /** key -> the flag as spelled, for messages. */
  given: Map<string, string>;
  problems: string[];
}

/**
 * The configuration flags of an argument list (--key=value or --key value). Flags that set no
 * key are mistakes, not something to ignore. Flags are applied by loadConfig, not by convict's
 * argument parser, which turns "0x10" or "1e3" into numbers and a repeated flag into "a,b".
 */
export function parseFlags(args: readonly string[]): FlagValues {
  const flags = configFlags();
  const out: FlagValues = { values: new Map(), given: new Map(), problems: [] };
  for (let i = 0; i < args.length; i++) {
    const m = /^--([^=]+)(?:=([\s\S]*))?$/.exec(args[i]!);
    if (!m) continue;
    const value = m[2] ?? args[++i];
    if (!flags.has(m[1]!)) out.problems.push(`--${m[1]}: unknown flag; did you mean --${nearestFlag(m[1]!)}?`);
    else if (value === undefined) out.problems.push(`--${m[1]}: needs a value`);
    else {
      out.values.set(flags.get(m[1]!)!, value);
      out.given.set(flags.get(m[1]!)!, m[1]!);
    }
  }
  return out;
}

// ---- the file -------------------------------------------------------------------------------

/** The YAML parser, loaded when a YAML file is read: 72 modules that no command without a file needs. */
function yaml(): typeof import('yaml') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, synchronously (loadConfig is sync)
  return require('yaml') as typeof import('yaml');
}

/** The file given to --config, parsed: an object of settings (an empty file: none). */
export function readConfigFile(file: string): Record<string, unknown> {
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

/**
 * A file's metrics section with each metric name written as one key (`ebpf.map.entries:
 * {enabled: false}`, as the Collector's receivers write them) nested the way the schema has it
 * (`ebpf: {map: {entries: …}}`). Nested sections are taken as they are; both forms merge.
 */
export function nestMetricNames(data: Record<string, unknown>): Record<string, unknown> {
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

/** Whether `obj` has the dotted key (a section or a value). */
export function hasPath(obj: Record<string, unknown>, key: string): boolean {
  let node: unknown = obj;
  for (const part of key.split('.')) {
    if (!node || typeof node !== 'object' || !(part in node)) return false;
    node = (node as Record<string, unknown>)[part];
  }
  return true;
}
