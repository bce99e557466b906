// SPDX-License-Identifier: Apache-2.0
/**
 * One line per event on stderr: `time level message key=value ...`. Values are quoted when
 * they need it; strings from the kernel arrive already escaped (records.ts).
 */
import type { AgentError } from './errors';

/** The levels, least severe first: a logger writes its own level and those above it. */
export const LOG_LEVELS = { debug: 0, info: 1, warn: 2, error: 3, none: 4 } as const;
export type LogLevel = keyof typeof LOG_LEVELS;

/** A level as written (any case, OpenTelemetry's VERBOSE and ALL, "warning") -> its name here; unknown words pass unchanged. */
export function normalizeLogLevel(value: string): string {
  const v = value.trim().toLowerCase();
  if (v === 'verbose' || v === 'all') return 'debug';
  if (v === 'warning') return 'warn';
  return v;
}

export type Fields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  readonly level: LogLevel;
}

function formatValue(v: string | number | boolean | null): string {
  const s = String(v);
  return /^[\w.:/@%+-]+$/.test(s) ? s : JSON.stringify(s);
}

export function formatLine(level: string, message: string, fields: Fields = {}, now = new Date()): string {
  let line = `${now.toISOString()} ${level.padEnd(5)} ${message}`;
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${formatValue(v)}`;
  return line;
}

/** A logger whose level can change while it runs (a configuration reload). */
export interface LevelledLogger extends Logger {
  setLevel(level: LogLevel): void;
}

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): LevelledLogger {
  let current = level;
  let min = LOG_LEVELS[level];
  const at = (l: Exclude<LogLevel, 'none'>) => (message: string, fields?: Fields) => {
    if (LOG_LEVELS[l] >= min) write(formatLine(l, message, fields));
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    get level() {
      return current;
    },
    setLevel(l: LogLevel) {
      current = l;
      min = LOG_LEVELS[l];
    },
  };
}

/** An error's libbpf lines (AgentError.detail), one debug line each, tagged with its code. */
export function logDetail(log: Logger, e: AgentError): void {
  for (const line of e.detail?.split('\n') ?? []) log.debug(line, { code: e.code });
}
