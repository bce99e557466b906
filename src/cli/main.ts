// SPDX-License-Identifier: Apache-2.0
/**
 * The `ebpf-map-pressure` command line: a command, its own flags, and configuration flags
 * (any key of the schema). Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration.
 * A user mistake prints its code, message and hint; only a bug prints a stack.
 */
import { type AgentConfig, configFlags, loadConfig, type LoadOptions, nearestFlag } from '../config';
import { AgentError, isAgentError } from '../errors';
import { createLogger, type Logger, logDetail } from '../log';
import { VERSION } from '../version';
import { commandHelp } from './help';

/**
 * A command's module, loaded when that command runs: `snapshot` and `top` never load the export
 * stack (OpenTelemetry SDK, gRPC), `run` never loads the views; start-up is most of a one-shot
 * command's time. require, not import(): the module stays CommonJS however the process was
 * started (an ESM import() of it under a loader such as tsx can lose its named exports).
 */
function command<T>(module: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
  return require(module) as T;
}

export interface ParsedArgs {
  command: string;
  /** The command was named (`snapshot --help` is the snapshot's help; `--help` the global one). */
  commandGiven: boolean;
  configFile?: string;
  printConfig: boolean;
  help: boolean;
  version: boolean;
  output: 'table' | 'json';
  /** Configuration flags, passed on to the schema. */
  configArgs: string[];
}

export const COMMANDS: Record<string, string> = {
  run: 'the agent: collect every interval and export (default)',
  snapshot: 'read every map once and print them, fullest first (--output table|json)',
  top: 'a live view of every map: fill bars by level, owner, growth, time to full (keys: q s r / o t)',
  demo: 'create a few real maps and fill them for 2 minutes while the agent watches (alerts, forecast, webhooks)',
};

export const USAGE = `Usage: ebpf-map-pressure [command] [flags]

How full is every eBPF map on this host? Counts entries in the kernel with a BPF
iterator and exports them as OpenTelemetry metrics.

Commands:
${Object.entries(COMMANDS)
  .map(([c, d]) => `  ${c.padEnd(10)} ${d}`)
  .join('\n')}

Flags:
  --config FILE        configuration file, JSON or YAML
  --print-config       print the effective configuration (secrets redacted) and exit
  --output FORMAT      snapshot output: table (default) or json
  --<key> VALUE        any configuration key, e.g. --interval 5s --exporters otlp,prometheus
  -h, --help           this help
  --version            the version

Configuration comes from defaults < --config file < environment (OTEL_*, EMP_*) < flags.
\`ebpf-map-pressure COMMAND --help\` lists the keys a command reads, with defaults and
variables; docs/configuration.md has every key.`;

/** Splits argv into the command, our own flags and configuration flags. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { command: 'run', commandGiven: false, printConfig: false, help: false, version: false, output: 'table', configArgs: [] };
  const flags = configFlags();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[++i];
      if (next === undefined || next.startsWith('--')) throw new AgentError('EMP_USAGE', `${flag} needs a value`);
      return next;
    };
    if (flag === '-h' || flag === '--help') out.help = true;
    else if (flag === '--version') out.version = true;
    else if (flag === '--print-config') out.printConfig = true;
    else if (flag === '--config') {
      // An empty path would silently mean "no file": say so instead.
      out.configFile = value();
      if (!out.configFile) throw new AgentError('EMP_USAGE', '--config needs a file path', { hint: 'give a JSON or YAML file: --config /etc/ebpf-map-pressure.yaml' });
    } else if (flag === '--output' || flag === '-o') {
      const v = value();
      if (v !== 'table' && v !== 'json') throw new AgentError('EMP_USAGE', `--output must be table or json, got ${JSON.stringify(v)}`);
      out.output = v;
    } else if (flag.startsWith('--')) {
      const name = flag.slice(2);
      if (!flags.has(name)) {
        const command = out.commandGiven ? out.command : 'COMMAND';
        throw new AgentError('EMP_USAGE', `unknown flag ${flag}; did you mean --${nearestFlag(name)}?`, { hint: `\`ebpf-map-pressure ${command} --help\` lists its flags` });
      }
      out.configArgs.push(`--${name}=${value()}`);
    } else if (!out.commandGiven && !a.startsWith('-')) {
      if (!(a in COMMANDS)) throw new AgentError('EMP_USAGE', `unknown command ${JSON.stringify(a)}`, { hint: `commands: ${Object.keys(COMMANDS).join(', ')}` });
      out.command = a;
      out.commandGiven = true;
    } else {
      throw new AgentError('EMP_USAGE', `unexpected argument ${JSON.stringify(a)}`);
    }
  }
  return out;
}

/** The error and its hint; libbpf's lines behind it at debug level (EMP_LOAD_FAILED's hint says so). */
function reportError(e: unknown, log?: Logger): number {
  if (isAgentError(e)) {
    process.stderr.write(`error ${e.code}: ${e.message}\n  hint: ${e.hint}\n`);
    if (log) logDetail(log, e);
    return e.exitCode;
  }
  process.stderr.write(`internal error (a bug; please report it): ${(e as Error)?.stack ?? String(e)}\n`);
  return 1;
}

/**
 * Output errors without a stack trace: a reader that stops early (`snapshot | head`, EPIPE)
 * ends a one-shot command quietly; anything else, or losing stdout while the agent runs, is
 * EMP_OUTPUT_FAILED.
 */
function guardStdout(command: string): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' && command !== 'run') process.exit(0);
    const err = new AgentError('EMP_OUTPUT_FAILED', `cannot write to stdout: ${e.message}`, {
      ...(typeof e.errno === 'number' && { errno: e.errno }),
      ...(e.syscall !== undefined && { syscall: e.syscall }),
    });
    process.exit(reportError(err));
  });
}

export async function main(argv: readonly string[]): Promise<number> {
  let args: ParsedArgs;
  let config: AgentConfig;
  let printable = '';
  let loadOptions: LoadOptions = {};
  try {
    args = parseArgs(argv);
    guardStdout(args.command);
    if (args.help) {
      process.stdout.write(`${args.commandGiven ? commandHelp(args.command, COMMANDS[args.command]!) : USAGE}\n`);
      return 0;
    }
    if (args.version) {
      process.stdout.write(`${VERSION}\n`);
      return 0;
    }
    loadOptions = { ...(args.configFile !== undefined && { file: args.configFile }), args: args.configArgs };
    const loaded = loadConfig(loadOptions);
    config = loaded.config;
    printable = loaded.printable;
    if (args.printConfig) {
      process.stdout.write(`${loaded.printable}\n`);
      return 0;
    }
  } catch (e) {
    return reportError(e);
  }

  const log = createLogger(config.logLevel);
  try {
    if (args.command === 'top') return await command<typeof import('./top')>('./top').top(config);
    if (args.command === 'demo') {
      await command<typeof import('./demo')>('./demo').demo(config, log);
      return 0;
    }
    if (args.command === 'snapshot') {
      process.stdout.write(`${await command<typeof import('./snapshot')>('./snapshot').snapshot(config, args.output)}\n`);
      return 0;
    }
    await command<typeof import('./run')>('./run').run(config, log, () => loadConfig(loadOptions), printable);
    return -1; // keeps running; exits on a signal
  } catch (e) {
    return reportError(e, log);
  }
}
