// SPDX-License-Identifier: Apache-2.0
/**
 * The value formats the schema names (`format: 'interval'`): for each, how convict validates
 * a value and coerces an env or flag string, and what the agent makes of a valid value
 * (`normalize`: "10s" -> 10000). convict keeps formats in one process-wide table, so they are
 * registered by registerFormats(), called where a schema is built, not when this file is
 * imported. The parsers of the pressure and webhook values live in src/pressure/settings.ts.
 */
import { readFileSync } from 'node:fs';
import convict from 'convict';
import { LOG_LEVELS, type LogLevel, normalizeLogLevel } from '../log';
import { MAP_TYPES } from '../map-types';
import { OWNER_ATTR } from '../owners/model';
import { checkWebhookUrl, parseRules, parseThreshold } from '../pressure/settings';

/** A format of the schema. */
export interface Format<T> {
  /** Throws a message saying what is allowed; convict puts the key in front of it. */
  validate(value: unknown): void;
  /** An env or flag string -> the value validate() sees (absent: the string as it is). */
  coerce?(value: string): unknown;
  /** A valid value -> the value AgentConfig holds. */
  normalize(value: unknown): T;
  /** Appended to the key's name in AgentConfig: durations are milliseconds (interval -> intervalMs). */
  suffix?: 'Ms';
}

/** The value as it is: for formats whose valid values are already what the agent uses. */
const as = <T>() => (value: unknown) => value as T;

const listOf = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);

// ---- parsers ------------------------------------------------------------------------------

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

// ---- the allowed values of list formats -----------------------------------------------------

export const EXPORTERS = ['otlp', 'prometheus', 'console', 'none'] as const;
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

// ---- kinds of format --------------------------------------------------------------------------

function duration(minMs: number, maxMs: number): Format<number> & { suffix: 'Ms' } {
  return {
    validate(value: unknown) {
      const ms = parseDuration(value);
      if (!(ms >= minMs && ms <= maxMs))
        throw new Error(`must be a duration from ${minMs} ms to ${maxMs / 1000} s, like "10s", "500ms" or a number of milliseconds`);
    },
    coerce: (v: string) => v,
    normalize: parseDuration,
    suffix: 'Ms',
  };
}

function size(min: number, max: number): Format<number> {
  const show = (b: number) => (b >= 1024 ** 2 ? `${b / 1024 ** 2} MiB` : b >= 1024 ? `${b / 1024} KiB` : `${b} bytes`);
  return {
    validate(value: unknown) {
      const b = parseSize(value);
      if (!(b >= min && b <= max)) throw new Error(`must be a size from ${show(min)} to ${show(max)}, like "64MiB", "512KiB" or a number of bytes`);
    },
    coerce: (v: string) => v,
    normalize: parseSize,
  };
}

/** A comma-separated list (from env or flags) or an array (from a file); `allowed` restricts its items. */
function list<T extends string = string>(allowed?: readonly T[], what = 'value'): Format<T[]> {
  return {
    validate(value: unknown) {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0))
        throw new Error(`must be a list of strings (an array in a file, comma-separated in env or flags)`);
      if (allowed) {
        const bad = value.filter((v) => !allowed.includes(v));
        if (bad.length) throw new Error(`unknown ${what} ${bad.map((b) => JSON.stringify(b)).join(', ')}; allowed: ${allowed.join(', ')}`);
      }
    },
    coerce: listOf,
    normalize: as<T[]>(),
  };
}

/** A whole number from min to max. */
function intRange(min: number, max: number): Format<number> {
  return {
    validate(value: unknown) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
        throw new Error(`must be a whole number from ${min} to ${max}`);
    },
    coerce: (v: string) => Number(v),
    normalize: as<number>(),
  };
}

/** A number in a range, from a file or as the text of one. */
function ratio(inRange: (v: number) => boolean, message: string): Format<number> {
  return {
    validate(v: unknown) {
      if (typeof v !== 'number' || !inRange(v)) throw new Error(message);
    },
    coerce: (v: string) => Number(v),
    normalize: as<number>(),
  };
}

// convict's own coercion of env and flag strings is lenient: parseInt makes "80abc" 80 and
// "abc" NaN (reported without its value), and every string but "false" is true, so
// OTEL_SDK_DISABLED=0 would disable export. These take only what is meant and hand anything
// else on unchanged, so validation reports it with its value.
const strictWhole = (v: string) => (/^\s*\d+\s*$/.test(v) ? Number(v) : v);

// ---- the formats --------------------------------------------------------------------------

/**
 * Every format by the name the schema gives it. "port", "nat" and "boolean" replace convict's
 * own formats of those names ("boolean" is also the converter convict picks for a key with
 * `format: Boolean`).
 */
export const FORMATS = {
  interval: duration(100, 86_400_000),
  timeout: duration(1, 600_000),
  exporters: list(EXPORTERS, 'exporter'),
  'name-globs': list(),
  'map-types': list(TYPE_NAMES, 'map type'),
  headers: {
    validate(value: unknown) {
      parseHeaders(value);
    },
    coerce: (v: string) => v,
    normalize: parseHeaders,
  },
  'optional-url': {
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
    normalize: as<string>(),
  },
  'optional-file': {
    validate(value: unknown) {
      if (typeof value !== 'string') throw new Error('must be a file path');
      if (value === '') return;
      try {
        readFileSync(value);
      } catch (e) {
        throw new Error(`cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      }
    },
    normalize: as<string>(),
  },
  'log-level': {
    validate(value: unknown) {
      if (typeof value !== 'string' || !(normalizeLogLevel(value) in LOG_LEVELS))
        throw new Error(`must be one of ${Object.keys(LOG_LEVELS).join(', ')} (OpenTelemetry's NONE, ERROR, WARN, INFO, DEBUG, VERBOSE, ALL are accepted too)`);
    },
    coerce: (v: string) => v,
    normalize: (v: unknown) => normalizeLogLevel(v as string) as LogLevel,
  },
  path: {
    validate(value: unknown) {
      if (typeof value !== 'string' || !value.startsWith('/')) throw new Error('must be an absolute path');
    },
    normalize: as<string>(),
  },
  port: {
    validate(value: unknown) {
      if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 65535) throw new Error('must be a port number from 0 to 65535');
    },
    coerce: strictWhole,
    normalize: as<number>(),
  },
  nat: {
    validate(value: unknown) {
      if (!Number.isInteger(value) || (value as number) < 0) throw new Error('must be a whole number (0 or more)');
    },
    coerce: strictWhole,
    normalize: as<number>(),
  },
  boolean: {
    validate(value: unknown) {
      if (typeof value !== 'boolean') throw new Error('must be true or false');
    },
    coerce(v: string) {
      const word = v.trim().toLowerCase();
      return word === 'true' ? true : word === 'false' ? false : v;
    },
    normalize: as<boolean>(),
  },
  // The pressure, webhook, top and demo sections.
  threshold: { validate: (v: unknown) => void parseThreshold(v), coerce: (v: string) => v, normalize: parseThreshold },
  'type-thresholds': { validate: (v: unknown) => void parseRules(v, TYPE_NAMES), coerce: listOf, normalize: (v: unknown) => parseRules(v, TYPE_NAMES) },
  'name-thresholds': { validate: (v: unknown) => void parseRules(v), coerce: listOf, normalize: (v: unknown) => parseRules(v) },
  margin: ratio((v) => v >= 0 && v < 0.5, 'must be a fill ratio from 0 to below 0.5, like 0.05'),
  'clear-after': intRange(1, 1000),
  retries: intRange(0, 10),
  'queue-size': intRange(1, 100_000),
  'forecast-window': duration(1000, 86_400_000),
  'peak-window': duration(60_000, 90 * 86_400_000),
  'transition-lines': intRange(0, 10_000),
  'max-maps': intRange(1, 1000),
  headroom: ratio((v) => v >= 0 && v <= 10, 'must be a share of the peak from 0 to 10, like 0.5 (the peak at two thirds of the suggested size)'),
  'off-duration': duration(0, 86_400_000),
  'demo-duration': duration(2000, 3_600_000),
  'walk-budget': duration(0, 60_000),
  'request-size': size(64 * 1024, 3 * 1024 ** 2),
  'queue-bytes': size(1024 ** 2, 16 * 1024 ** 3),
  'queue-age': duration(1000, 7 * 86_400_000),
  backoff: duration(10, 600_000),
  'in-flight': intRange(1, 64),
  'queue-dir': {
    validate(value: unknown) {
      if (typeof value !== 'string' || (value !== '' && !value.startsWith('/'))) throw new Error('must be an absolute path, or empty for no disk queue');
    },
    normalize: as<string>(),
  },
  'owners-budget': duration(1, 60_000),
  'owners-per-map': intRange(1, 1000),
  'owner-attributes': list(COPYABLE_OWNER_ATTRIBUTES, 'owner attribute'),
  'optional-path': {
    validate(value: unknown) {
      if (value !== '' && (typeof value !== 'string' || !value.startsWith('/'))) throw new Error('must be an absolute path, or "" for none');
    },
    normalize: as<string>(),
  },
  'webhook-urls': {
    validate(v: unknown) {
      if (!Array.isArray(v)) throw new Error('must be a list of URLs (an array in a file, comma-separated in env or flags)');
      v.forEach((u, i) => checkWebhookUrl(u, i));
    },
    coerce: listOf,
    normalize: as<string[]>(),
  },
} satisfies Record<string, Format<unknown>>;

export type FormatName = keyof typeof FORMATS;

let registered = false;

/** Registers FORMATS with convict (once per process): before a schema naming them is built. */
export function registerFormats(): void {
  if (registered) return;
  for (const [name, f] of Object.entries(FORMATS) as Array<[string, Format<unknown>]>) convict.addFormat({ name, validate: f.validate, coerce: f.coerce });
  registered = true;
}
