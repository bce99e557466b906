// SPDX-License-Identifier: Apache-2.0
/**
 * `<command> --help`: the command's own flags, then the configuration keys it reads, each
 * with its flag, default and environment variable, generated from the schema.
 */
import { describeDefault, schemaLeaves } from '../config';

/** The sections (or keys) of the schema each command reads; the rest do nothing there. */
const COLLECTION = ['log', 'filter', 'counting', 'walk', 'paths', 'owners'];
const LEVELS = ['pressure.warning', 'pressure.critical', 'pressure.types', 'pressure.names', 'pressure.forecast_window', 'pressure.peak_window', 'pressure.headroom'];
const TRACKER = [...LEVELS, 'pressure.hysteresis_margin', 'pressure.clear_after'];
const ALERTS = ['pressure.max_transition_lines', 'pressure.summary_interval', 'webhook'];
const EXPORT = ['exporters', 'sdk_disabled', 'export_timeout', 'otlp', 'export', 'prometheus', 'metrics'];
export const COMMAND_KEYS: Record<string, readonly string[]> = {
  run: ['interval', ...EXPORT, 'health', ...COLLECTION, ...TRACKER, ...ALERTS],
  // A snapshot's levels have no history: no hysteresis (src/cli/snapshot.ts).
  snapshot: [...COLLECTION, ...LEVELS, 'pressure.snapshot_interval'],
  top: [...COLLECTION, ...TRACKER, 'pressure.snapshot_interval', 'top'],
  demo: [...EXPORT, ...COLLECTION, ...TRACKER, ...ALERTS, 'demo'],
};

/** The command's own flags (not configuration), as `--help` shows them. */
const OWN_FLAGS: Record<string, string[]> = {
  snapshot: ['-o, --output FORMAT  table (default) or json'],
};
const COMMON_FLAGS = [
  '--config FILE        configuration file, JSON or YAML',
  '--print-config       print the effective configuration (secrets redacted) and exit',
  '-h, --help           this help',
];

const selected = (key: string, scopes: readonly string[]) => scopes.some((s) => key === s || key.startsWith(`${s}.`));

/** The first sentence of a key's doc: the help is a reference card, the docs have the rest. */
export function firstSentence(doc: string): string {
  return /^.*?[.!?](?=\s+[A-Z`("]|$)/s.exec(doc)?.[0] ?? doc;
}

/** Help of one command: usage, its own flags, and every configuration key it reads. */
export function commandHelp(command: string, summary: string): string {
  const keys = schemaLeaves()
    .filter((l) => selected(l.key, COMMAND_KEYS[command]!))
    .map((l) => {
      const facts = [`default ${describeDefault(l.default)}`, ...(l.env ? [`env ${l.env}`] : [])].join(', ');
      return `  --${l.arg}  (${facts})\n      ${firstSentence(l.doc)}`;
    });
  return `Usage: ebpf-map-pressure ${command} [flags]

${summary}

Flags:
${[...(OWN_FLAGS[command] ?? []), ...COMMON_FLAGS].map((f) => `  ${f}`).join('\n')}

Configuration keys read by ${command} (each flag also takes the key's own spelling, e.g.
--pressure.snapshot_interval; sources: defaults < --config file < environment < flags):
${keys.join('\n')}

docs/configuration.md has each key in full.`;
}
