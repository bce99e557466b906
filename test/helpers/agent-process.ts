// SPDX-License-Identifier: Apache-2.0
/**
 * The CLI agent as a child process, for what needs a process boundary: signals, exit codes,
 * the process staying alive, what reaches stderr. The child runs src/cli/main.ts through tsx
 * (so it tests the source, not a possibly stale dist/), the way bin/ebpf-map-pressure.js runs
 * dist/cli/main.js. The child's env is exactly what the
 * test gives (plus PATH): the host's OTEL_* variables cannot leak in.
 *
 * Run directly (`node <loader> agent-process.ts <args>`), this file is that entry point.
 * startAgent() is the in-process form, for everything that needs no process boundary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { Agent } from '../../src/agent';
import { type AgentConfig, loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';

/** A parsed log line (src/log.ts: `time level message key=value ...`). */
export interface LogLine {
  raw: string;
  level: string;
  message: string;
  fields: Record<string, string>;
}

/** Parses one line of the agent's log; null for lines that are not log lines. */
export function parseLogLine(raw: string): LogLine | null {
  const m = /^\d{4}-\d\d-\d\dT[\d:.]+Z (debug|info|warn|error)\s+(.*)$/.exec(raw);
  if (!m) return null;
  let rest = m[2]!;
  const fields: Record<string, string> = {};
  // Fields are appended as ` key=value` or ` key="json string"`; peel them off from the right.
  const field = / ([\w.]+)=("(?:[^"\\]|\\.)*"|[\w.:/@%+-]+)$/;
  for (let f = field.exec(rest); f; f = field.exec(rest)) {
    fields[f[1]!] = f[2]!.startsWith('"') ? (JSON.parse(f[2]!) as string) : f[2]!;
    rest = rest.slice(0, f.index);
  }
  return { raw, level: m[1]!, message: rest, fields };
}

export interface AgentProcess {
  readonly child: ChildProcess;
  /** Everything written to stderr so far, line by line. */
  readonly stderr: string[];
  readonly stdout: string[];
  /** Log lines so far. */
  logs(): LogLine[];
  /** Resolves with the first log line (past or future) that matches. */
  waitForLog(predicate: (l: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** Resolves when the process has exited and its output is read. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const REPO = path.join(__dirname, '..', '..');

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/**
 * Starts `ebpf-map-pressure <args>` with exactly the given environment (plus PATH), so the
 * host's OTEL_* variables cannot leak in. Killed at test end if still running.
 */
export function startAgentProcess(t: Teardown, args: string[], env: Record<string, string> = {}): AgentProcess {
  // tsx, not the test runner's loaders: it starts in well under a second, and the child must
  // not inherit tap's coverage hooks.
  const child = spawn(process.execPath, ['--import', 'tsx', __filename, ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
  });
  const stderr: string[] = [];
  const stdout: string[] = [];
  const waiters: Array<{ predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  const lineReader = (into: string[], parse: boolean) => {
    let buf = '';
    return (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        into.push(line);
        const parsed = parse ? parseLogLine(line) : null;
        if (!parsed) continue;
        for (let i = waiters.length - 1; i >= 0; i--) {
          if (waiters[i]!.predicate(parsed)) waiters.splice(i, 1)[0]!.resolve(parsed);
        }
      }
    };
  };
  child.stderr!.on('data', lineReader(stderr, true));
  child.stdout!.on('data', lineReader(stdout, false));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close', not 'exit': by then stdout and stderr are drained.
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const logs = () => stderr.map(parseLogLine).filter((l): l is LogLine => l !== null);
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return {
    child,
    stderr,
    stdout,
    logs,
    exited,
    waitForLog(predicate, what, timeoutMs = 60_000) {
      const found = logs().find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no log line ${what} within ${timeoutMs} ms; stderr:\n${stderr.join('\n')}`)), timeoutMs);
        const done = (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        };
        waiters.push({ predicate, resolve: done });
        void exited.then(() => {
          // A line may have arrived with the exit; otherwise nothing more will come.
          setImmediate(() => {
            const late = logs().find(predicate);
            if (late) return done(late);
            clearTimeout(timer);
            reject(new Error(`agent exited before logging ${what}; stderr:\n${stderr.join('\n')}`));
          });
        });
      });
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs the CLI to completion (e.g. --print-config); resolves with its output and exit code. */
export async function runCli(t: Teardown, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = startAgentProcess(t, args, env);
  const { code } = await p.exited;
  return { code, stdout: p.stdout.join('\n'), stderr: p.stderr.join('\n') };
}

/** Variables the resource reads from process.env (src/resource.ts, the SDK's envDetector). */
const RESOURCE_ENV = ['OTEL_RESOURCE_ATTRIBUTES', 'OTEL_SERVICE_NAME'] as const;

export interface InProcessAgent {
  agent: Agent;
  config: AgentConfig;
  /** Every log line the agent wrote (at the configured level). */
  lines: string[];
}

/**
 * The agent in this process: configuration from loadConfig({file, args, env}) with exactly
 * the env given (never the host's), a logger that captures lines, started; stopped at test
 * end. resourceEnv is put in process.env only while the agent starts (that is when the
 * resource is built); OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME are otherwise unset then.
 */
export async function startAgent(
  t: Teardown,
  args: string[],
  options: { env?: Record<string, string>; file?: string; resourceEnv?: Partial<Record<(typeof RESOURCE_ENV)[number], string>> } = {},
): Promise<InProcessAgent> {
  const { config } = loadConfig({ args, env: options.env ?? {}, ...(options.file !== undefined && { file: options.file }) });
  const lines: string[] = [];
  const agent = new Agent(config, createLogger(config.logLevel, (l) => lines.push(l)));
  const saved = RESOURCE_ENV.map((k) => [k, process.env[k]] as const);
  for (const k of RESOURCE_ENV) {
    const v = options.resourceEnv?.[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    await agent.start();
  } catch (e) {
    await agent.stop(); // a failed start may have loaded the iterator already
    throw e;
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  t.teardown(() => agent.stop());
  return { agent, config, lines };
}

if (require.main === module) {
  // The entry point of the child: what bin/ebpf-map-pressure.js does, from the sources.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { main } = require('../../src/cli/main') as typeof import('../../src/cli/main');
  void main(process.argv.slice(2)).then((code) => {
    if (code >= 0) process.exitCode = code;
  });
}
