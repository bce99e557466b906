// SPDX-License-Identifier: Apache-2.0
/**
 * Loading: the schema's defaults, then the config file (--config, JSON or YAML), the
 * environment and flags, each over the one before. Unknown keys are rejected and every invalid
 * value is reported at once in one EMP_CONFIG_INVALID, each problem naming the key, the value,
 * where it came from and what is allowed.
 */
import convict from 'convict';
import { AgentError } from '../errors';
import { pressureProblems } from '../pressure/settings';
import { nearest } from '../suggest';
import { parseDuration, registerFormats } from './formats';
import { printableConfig } from './redact';
import { SCHEMA, schemaLeaves } from './schema';
import { effectiveEnv, hasPath, nestMetricNames, parseFlags, readConfigFile, unknownEnvProblems } from './sources';
import { type AgentConfig, toAgentConfig } from './types';

export interface LoadOptions {
  /** --config FILE */
  file?: string;
  /** Configuration flags, e.g. ["--interval", "5s", "--otlp.endpoint=http://x:4317"]. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

/** What a problem line needs to know of the sources: for convictProblems. */
interface Sources {
  leaves: ReturnType<typeof schemaLeaves>;
  fileData: Record<string, unknown>;
  /** "flag --x", "env X", "file F" or "default". */
  originOf(key: string): string;
  /** The value as its source gave it. */
  rawValueOf(key: string): unknown;
}

const valueAt = (data: Record<string, unknown>, key: string): unknown => key.split('.').reduce<unknown>((n, k) => (n as Record<string, unknown>)[k], data);

/**
 * convict's validation message (one line per problem, in its words) -> ours: an unknown key
 * with the nearest one, a bad value with the value and its source, and a section given as a
 * scalar as one problem rather than one per key it hides.
 */
function convictProblems(message: string, { leaves, fileData, originOf, rawValueOf }: Sources): string[] {
  const problems: string[] = [];
  const sections = new Set<string>();
  const sectionReplaced = (key: string) => {
    const parts = key.split('.');
    for (let i = 1; i < parts.length; i++) {
      const section = parts.slice(0, i).join('.');
      if (sections.has(section)) return true;
      if (!hasPath(fileData, section)) return false;
      const value = valueAt(fileData, section);
      if (!value || typeof value !== 'object' || Array.isArray(value)) {
        sections.add(section);
        problems.push(`${section}: must be a section of keys (an object), not ${JSON.stringify(value)} (${originOf(section)})`);
        return true;
      }
    }
    return false;
  };
  for (const line of message.split('\n')) {
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
  return problems;
}

/** Loads, validates and normalizes; every problem is reported in one EMP_CONFIG_INVALID. */
export function loadConfig(options: LoadOptions = {}): { config: AgentConfig; printable: string } {
  const { env, origin: envOrigin } = effectiveEnv(options.env ?? process.env);
  const leaves = schemaLeaves();
  const problems: string[] = unknownEnvProblems(env, leaves);
  const flags = parseFlags(options.args ?? []);
  problems.push(...flags.problems);

  const fileData = nestMetricNames(options.file ? readConfigFile(options.file) : {});
  registerFormats();
  const conf = convict(SCHEMA as unknown as convict.Schema<Record<string, unknown>>, { env, args: [] });
  try {
    conf.load(fileData);
    for (const [key, value] of flags.values) conf.set(key, value);
  } catch (e) {
    problems.push((e as Error).message);
  }

  const originOf = (key: string): string => {
    const leaf = leaves.find((l) => l.key === key);
    if (flags.given.has(key)) return `flag --${flags.given.get(key)}`;
    if (leaf?.env && env[leaf.env] !== undefined) return `env ${envOrigin[leaf.env] ?? leaf.env}`;
    if (options.file && hasPath(fileData, key)) return `file ${options.file}`;
    return 'default';
  };
  // The value as its source gave it: convict leaves out values that coerce to something
  // falsy (NaN, "", 0), and the text the user wrote is what they can find and fix.
  const rawValueOf = (key: string): unknown => {
    const leaf = leaves.find((l) => l.key === key);
    if (!leaf) return undefined;
    if (flags.values.has(key)) return flags.values.get(key);
    if (leaf.env && env[leaf.env] !== undefined) return env[leaf.env];
    if (options.file && hasPath(fileData, key)) return valueAt(fileData, key);
    return leaf.default;
  };

  try {
    conf.validate({ allowed: 'strict' });
  } catch (e) {
    problems.push(...convictProblems((e as Error).message, { leaves, fileData, originOf, rawValueOf }));
  }
  // Checks across keys, once every key is valid.
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
  const config = toAgentConfig(raw);
  // An empty endpoint is the protocol's default. OTEL_EXPORTER_OTLP_ENDPOINT is a base URL:
  // for HTTP the signal path is appended, whatever chose the protocol (env, file or flag).
  config.otlp.endpoint ||= config.otlp.protocol === 'grpc' ? 'http://localhost:4317' : 'http://localhost:4318/v1/metrics';
  if (config.otlp.protocol === 'http/protobuf' && originOf('otlp.endpoint') === 'env OTEL_EXPORTER_OTLP_ENDPOINT')
    raw.otlp.endpoint = config.otlp.endpoint = config.otlp.endpoint.replace(/\/?$/, '/v1/metrics');
  return { config, printable: printableConfig(raw) };
}
