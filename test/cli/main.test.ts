// SPDX-License-Identifier: Apache-2.0
// The command line: help, version, usage errors (exit 2, EMP_USAGE, no stack trace), both in
// process (parseArgs) and through the built CLI.
import { closeSync, openSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { COMMAND_KEYS, commandHelp, firstSentence } from '../../src/cli/help';
import { COMMANDS, parseArgs } from '../../src/cli/main';
import { describeDefault, schemaLeaves } from '../../src/config';
import { AgentError } from '../../src/errors';
import { ROOT, runBuiltCli, STACK_TRACE } from '../helpers/cli';

const PACKAGE_VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function usageError(argv: string[]): AgentError {
  try {
    parseArgs(argv);
  } catch (e) {
    if (e instanceof AgentError) return e;
    throw e;
  }
  throw new Error(`expected parseArgs(${JSON.stringify(argv)}) to fail`);
}

t.test('parseArgs: command, own flags, configuration flags', async (t) => {
  const d = parseArgs([]);
  t.equal(d.command, 'run', 'run is the default command');
  t.equal(d.output, 'table');
  const a = parseArgs(['snapshot', '-o', 'json', '--config', '/etc/x.yaml', '--interval', '5s', '--otlp.endpoint=http://c:4317', '--print-config']);
  t.equal(a.command, 'snapshot');
  t.equal(a.output, 'json');
  t.equal(a.configFile, '/etc/x.yaml');
  t.equal(a.printConfig, true);
  t.same(a.configArgs, ['--interval=5s', '--otlp.endpoint=http://c:4317'], 'configuration flags passed on as --key=value');
  t.equal(parseArgs(['--output=json', 'snapshot']).output, 'json', 'flags before the command, inline value');
  t.equal(parseArgs(['-h']).help, true);
  t.equal(parseArgs(['snapshot', '--help']).help, true);
  t.equal(parseArgs(['--version']).version, true);
  t.equal(parseArgs(['--help']).commandGiven, false, '--help alone: the global help');
  t.equal(parseArgs(['run', '--help']).commandGiven, true, 'run --help: the help of run');
  t.same(parseArgs(['--pressure.snapshot_interval', '2s', '--pressure.snapshot-interval=3s']).configArgs, ['--pressure.snapshot_interval=2s', '--pressure.snapshot-interval=3s'], 'a key as the docs spell it, and in kebab case');
});

t.test('parseArgs: an unknown flag names the nearest one, in its spelling', async (t) => {
  const cases: Array<[string[], RegExp, RegExp]> = [
    [['--pressure.snapshot-intervall=1s'], /^unknown flag --pressure\.snapshot-intervall; did you mean --pressure\.snapshot-interval\?$/, /COMMAND --help/],
    [['snapshot', '--pressure.snapshot_intervall', '1s'], /did you mean --pressure\.snapshot_interval\?$/, /`ebpf-map-pressure snapshot --help`/],
    [['top', '--top.refrsh=2s'], /did you mean --top\.refresh\?$/, /`ebpf-map-pressure top --help`/],
  ];
  for (const [argv, message, hint] of cases) {
    const e = usageError(argv);
    t.equal(e.code, 'EMP_USAGE', argv.join(' '));
    t.match(e.message, message, `${argv.join(' ')}: the message`);
    t.match(e.hint, hint, `${argv.join(' ')}: the hint points at the command's help`);
  }
});

t.test('parseArgs: every usage mistake is EMP_USAGE (exit 2)', async (t) => {
  const cases: Array<[string, string[]]> = [
    ['unknown command', ['snapsot']],
    ['second command', ['snapshot', 'run']],
    ['unknown flag', ['--nope']],
    ['unknown flag with a value', ['--interval-ms=5']],
    ['single-dash flag', ['-x']],
    ['--output invalid', ['snapshot', '--output', 'yaml']],
    ['--output invalid inline', ['snapshot', '--output=csv']],
    ['--output without a value', ['snapshot', '--output']],
    ['--config without a value', ['--config']],
    ['--config with an empty value', ['--config=']],
    ['a configuration flag without a value', ['--interval']],
    ['a configuration flag followed by a flag', ['--interval', '--print-config']],
  ];
  for (const [what, argv] of cases) {
    const e = usageError(argv);
    t.equal(e.code, 'EMP_USAGE', what);
    t.equal(e.exitCode, 2, `${what}: exit code`);
  }
});

t.test('--help: usage, every command, exit 0', async (t) => {
  for (const flag of ['--help', '-h']) {
    const r = await runBuiltCli([flag]);
    t.equal(r.code, 0, `${flag}: exit code`);
    t.match(r.stdout, /^Usage: ebpf-map-pressure/, `${flag}: usage first`);
    for (const c of Object.keys(COMMANDS)) t.match(r.stdout, new RegExp(`^ {2}${c}\\s`, 'm'), `${flag}: lists ${c}`);
    for (const f of ['--config', '--print-config', '--output', '--version']) t.ok(r.stdout.includes(f), `${flag}: lists ${f}`);
    t.equal(r.stderr, '', `${flag}: nothing on stderr`);
  }
});

t.test('COMMAND --help: the command\'s own keys, each with its flag, default and variable, from the schema', async (t) => {
  const leaves = schemaLeaves();
  const readBy = (c: string) => leaves.filter((l) => COMMAND_KEYS[c]!.some((s) => l.key === s || l.key.startsWith(`${s}.`)));
  for (const c of Object.keys(COMMANDS)) {
    const r = await runBuiltCli([c, '--help']);
    t.equal(r.code, 0, `${c} --help: exit 0`);
    t.equal(r.stderr, '', `${c} --help: nothing on stderr`);
    t.match(r.stdout, new RegExp(`^Usage: ebpf-map-pressure ${c} `), `${c} --help: its usage, not the global one`);
    const mine = readBy(c);
    t.ok(mine.length > 0, `${c}: reads some keys`);
    const missing = mine.filter((l) => {
      const line = r.stdout.split('\n').find((x) => x.startsWith(`  --${l.arg}  (`));
      return !line?.includes(`default ${describeDefault(l.default)}`) || (l.env !== undefined && !line.includes(`env ${l.env}`));
    });
    t.same(missing.map((l) => l.key), [], `${c} --help: every key it reads, with its default and variable`);
    const foreign = leaves.filter((l) => !mine.includes(l) && r.stdout.includes(`  --${l.arg}  (`));
    t.same(foreign.map((l) => l.key), [], `${c} --help: no key it does not read`);
  }
  const snapshotHelp = (await runBuiltCli(['snapshot', '--help'])).stdout;
  t.match(snapshotHelp, /^ {2}--pressure\.snapshot-interval {2}\(default 1s, env EMP_PRESSURE_SNAPSHOT_INTERVAL\)$/m, 'the key the user looked for');
  t.match(snapshotHelp, /-o, --output FORMAT/, 'and the command\'s own flag');
  t.notMatch(snapshotHelp, /--otlp\./, 'snapshot exports nothing: no otlp keys');
  const unread = leaves.filter((l) => !Object.keys(COMMANDS).some((c) => readBy(c).includes(l)));
  t.same(unread.map((l) => l.key), [], 'every key is read by some command');
  t.match((await runBuiltCli(['--help'])).stdout, /`ebpf-map-pressure COMMAND --help` lists the keys/, 'the global help points at the commands\' help');
});

t.test('commandHelp in process: the same text the CLI prints; a key\'s first sentence', async (t) => {
  const r = await runBuiltCli(['top', '--help']);
  t.equal(`${commandHelp('top', COMMANDS.top!)}\n`, r.stdout, 'top');
  t.equal(firstSentence('Fill ratio, e.g. 0.7. More words.'), 'Fill ratio, e.g. 0.7.', 'ends at a sentence, not at "e.g."');
  t.equal(firstSentence('`top`: how often the view redraws'), '`top`: how often the view redraws', 'a doc without a full stop: all of it');
});

t.test('--version: the package version, exit 0', async (t) => {
  const r = await runBuiltCli(['--version']);
  t.equal(r.code, 0);
  t.equal(r.stdout, `${PACKAGE_VERSION}\n`);
  t.equal(r.stderr, '');
});

t.test('usage errors through the built CLI: exit 2, EMP_USAGE and a hint, no stack trace', async (t) => {
  const cases: Array<[string, string[], RegExp]> = [
    ['unknown command', ['frobnicate'], /unknown command "frobnicate"/],
    ['unknown flag', ['snapshot', '--frobnicate', '1'], /unknown flag --frobnicate/],
    ['mistyped flag', ['snapshot', '--pressure.snapshot-intervall', '1s'], /unknown flag --pressure\.snapshot-intervall; did you mean --pressure\.snapshot-interval\?/],
    ['--output invalid', ['snapshot', '--output', 'yaml'], /--output must be table or json, got "yaml"/],
    ['--output without a value', ['snapshot', '--output'], /--output needs a value/],
    ['--config empty', ['--config='], /--config needs a file path/],
  ];
  for (const [what, argv, message] of cases) {
    const r = await runBuiltCli(argv);
    t.equal(r.code, 2, `${what}: exit code 2`);
    t.match(r.stderr, /^error EMP_USAGE: /m, `${what}: the code`);
    t.match(r.stderr, message, `${what}: the message`);
    t.match(r.stderr, /^ {2}hint: \S/m, `${what}: a hint`);
    t.notMatch(r.stderr, STACK_TRACE, `${what}: no stack trace`);
    t.equal(r.stdout, '', `${what}: nothing on stdout`);
  }
});

t.test('output errors: a reader gone is a quiet end, a full device a coded error', async (t) => {
  const gone = await runBuiltCli(['snapshot', '--output', 'json', '--pressure.snapshot-interval=0'], { stdout: 'closed' });
  t.equal(gone.code, 0, '`snapshot | head`: exit 0');
  t.equal(gone.stderr, '', 'and nothing on stderr (no EPIPE stack trace)');

  const full = openSync('/dev/full', 'w');
  t.teardown(() => closeSync(full));
  const r = await runBuiltCli(['snapshot', '--pressure.snapshot-interval=0'], { stdout: full });
  t.equal(r.code, 1, 'no room: exit 1');
  t.match(r.stderr, /^error EMP_OUTPUT_FAILED: cannot write to stdout: ENOSPC/m);
  t.notMatch(r.stderr, STACK_TRACE, 'no stack trace');
});
