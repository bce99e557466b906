// SPDX-License-Identifier: Apache-2.0
/**
 * The built CLI (bin/ebpf-map-pressure.js -> dist/), run to completion as a child process:
 * what a person or a script sees — stdout, stderr, exit code. It needs `npx tsc -p .` (or
 * `npm run build`) first, as scripts/test.sh does. A `wrapper` runs it under another command
 * (e.g. setpriv to drop capabilities). The environment is exactly what the caller gives
 * (plus PATH), so the host's OTEL_* variables cannot change a test's outcome.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');
export const BIN = path.join(ROOT, 'bin', 'ebpf-map-pressure.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Raw bytes, to check the encoding itself. */
  stdoutBytes: Buffer;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string>;
  /** A command the CLI runs under, e.g. ['setpriv', '--bounding-set=-all', '--']. */
  wrapper?: string[];
  /** Killed (and the result says so) after this long; a hung CLI must not hang the suite. */
  killAfterMs?: number;
  /** 'closed': the reading end is closed before the CLI writes (a reader gone, as `| head`
   *  leaves it); a number: an fd of ours to write to instead of a pipe. */
  stdout?: 'closed' | number;
}

/** Runs `ebpf-map-pressure <args>` from the built checkout and waits for it to exit. */
export function runBuiltCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')))
    throw new Error('dist/ is missing: build first (`npx tsc -p .` or `npm run build`)');
  const argv = [...(options.wrapper ?? []), process.execPath, BIN, ...args];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    stdio: ['ignore', typeof options.stdout === 'number' ? options.stdout : 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...options.env },
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  if (options.stdout === 'closed') child.stdout!.destroy();
  else child.stdout?.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 120_000);
  return new Promise((resolve, reject) => {
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // 'close', not 'exit': by then stdout and stderr are drained.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, signal, stdoutBytes, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** A stack trace in output: what a user mistake must never print. */
export const STACK_TRACE = /^\s+at .+(\(.*:\d+:\d+\)|:\d+:\d+)$/m;
