// SPDX-License-Identifier: Apache-2.0
/**
 * AgentConfig: the configuration as the agent reads it, derived from the schema rather than
 * written out again. Each key becomes a camelCase field (max_request_bytes: maxRequestBytes;
 * a duration gets "Ms": interval: intervalMs) holding its format's normalized value ("10s":
 * 10000). toAgentConfig builds the object by the same rules (camelCase, the suffix, the
 * format's normalize), so a key added to the schema appears in both, with no list to update.
 * Two fields keep the shape they had before the schema was split out: log.level is
 * `logLevel`, and the metrics section is a map by metric name.
 */
import type { MetricSwitches } from '../metrics/selection';
import { ALL_METRICS } from '../metrics/table';
import { FORMATS, type Format } from './formats';
import { isLeaf, SCHEMA, type SchemaLeaf, type SchemaSection } from './schema';

type Formats = typeof FORMATS;

/** snake_case -> camelCase, in types. */
type Camel<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<Camel<Tail>>}` : S;

/** What a key's format normalizes to. */
type ValueOf<F> = F extends keyof Formats
  ? ReturnType<Formats[F]['normalize']>
  : F extends readonly (infer Allowed)[]
    ? Allowed
    : F extends StringConstructor
      ? string
      : F extends BooleanConstructor
        ? boolean
        : never;

type SuffixOf<F> = F extends keyof Formats ? (Formats[F] extends { suffix: infer S extends string } ? S : '') : '';

type FieldName<K extends string, N> = N extends { readonly doc: string; readonly format: infer F } ? `${Camel<K>}${SuffixOf<F>}` : Camel<K>;

/** A section of the schema as the agent reads it. */
export type Normalized<S> = {
  -readonly [K in keyof S & string as FieldName<K, S[K]>]: S[K] extends { readonly doc: string; readonly format: infer F } ? ValueOf<F> : Normalized<S[K]>;
};

type FromSchema = Normalized<typeof SCHEMA>;

/** The loaded configuration (loadConfig), every key of the schema normalized. */
export type AgentConfig = Omit<FromSchema, 'log' | 'metrics'> & {
  logLevel: FromSchema['log']['level'];
  /** metrics.<name>.enabled by metric name, every metric of the table. */
  metrics: MetricSwitches;
};

const camel = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function normalizer(leaf: SchemaLeaf): (value: unknown) => unknown {
  if (typeof leaf.format !== 'string') return (v) => v; // String, Boolean, a list of values: as they are
  return (FORMATS[leaf.format] as Format<unknown>).normalize;
}

function fieldName(key: string, leaf: SchemaLeaf): string {
  const suffix = typeof leaf.format === 'string' ? ((FORMATS[leaf.format] as Format<unknown>).suffix ?? '') : '';
  return camel(key) + suffix;
}

/** One key or section: its field name in AgentConfig and its normalized value. */
function field(key: string, node: SchemaLeaf | SchemaSection, value: unknown): [string, unknown] {
  if (isLeaf(node)) return [fieldName(key, node), normalizer(node)(value)];
  const section = value as Record<string, unknown>;
  return [camel(key), Object.fromEntries(Object.entries(node).map(([k, n]) => field(k, n, section[k])))];
}

/** The metrics section (nested at the dots of each name) -> enabled by metric name. */
function switchesOf(section: unknown): MetricSwitches {
  const at = (name: string) => name.split('.').reduce((n, k) => (n as Record<string, unknown>)[k], section) as { enabled: boolean };
  return Object.fromEntries(ALL_METRICS.map((m) => [m.name, at(m.name).enabled]));
}

/** convict's validated properties (every key present) -> AgentConfig, by the rules of its type. */
export function toAgentConfig(values: Record<string, unknown>): AgentConfig {
  const fields = Object.entries(SCHEMA).map(([key, node]): [string, unknown] => {
    if (key === 'metrics') return ['metrics', switchesOf(values.metrics)];
    const [name, value] = field(key, node, values[key]);
    return key === 'log' ? ['logLevel', (value as { level: unknown }).level] : [name, value];
  });
  return Object.fromEntries(fields) as AgentConfig;
}
