// SPDX-License-Identifier: Apache-2.0
// The pressure and webhook configuration: defaults, the rule syntax, errors that name the key
// and the fix (exit code 2), and webhook URLs never shown whole.
import t from 'tap';
import { loadConfig } from '../../src/config';
import { ERRORS } from '../../src/errors';
import { formatRule, parseRules, parseThreshold, redactWebhookUrl } from '../../src/pressure/settings';

const SECRET = 'T0PS3CR3T';

const problem = (args: string[]): { code: string; message: string } => {
  try {
    loadConfig({ args, env: {} });
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error(`accepted: ${args.join(' ')}`);
};

t.test('defaults', async (t) => {
  const { pressure, webhook } = loadConfig({ env: {} }).config;
  t.match(pressure, {
    warning: 0.7, critical: 0.8, hysteresisMargin: 0.05, clearAfter: 2, forecastWindowMs: 120_000, summaryIntervalMs: 0, snapshotIntervalMs: 1000, names: [],
    maxTransitionLines: 10, peakWindowMs: 7 * 86_400_000, headroom: 0.5,
  });
  t.same(pressure.types.map(formatRule), ['lru_hash=off/off', 'lru_percpu_hash=off/off']);
  t.same(webhook, { urls: [], format: 'generic', cooldownMs: 600_000, timeoutMs: 5000, retries: 3, backoffMs: 1000, queueSize: 100, maxMaps: 20 });
  const set = loadConfig({ env: { EMP_PRESSURE_PEAK_WINDOW: '36h', EMP_PRESSURE_HEADROOM: '0.25', EMP_PRESSURE_MAX_TRANSITION_LINES: '0', EMP_WEBHOOK_MAX_MAPS: '5' } }).config;
  t.match(set, { pressure: { peakWindowMs: 36 * 3_600_000, headroom: 0.25, maxTransitionLines: 0 }, webhook: { maxMaps: 5 } }, 'from the environment');
  t.equal(loadConfig({ args: ['--pressure.peak-window=2d'], env: {} }).config.pressure.peakWindowMs, 2 * 86_400_000, 'days as a unit');
});

t.test('thresholds and rules: numbers, percentages, off', async (t) => {
  t.equal(parseThreshold('80%'), 0.8);
  t.equal(parseThreshold(' off '), null);
  t.equal(parseThreshold(1), 1);
  for (const bad of [0, 1.5, -0.1, 'x', '', NaN]) t.throws(() => parseThreshold(bad), `${String(bad)} refused`);
  t.same(parseRules('a*=60%/off, b?=0.5/0.9'), [
    { match: 'a*', warning: 0.6, critical: null },
    { match: 'b?', warning: 0.5, critical: 0.9 },
  ]);
  const { config } = loadConfig({ env: { EMP_PRESSURE_NAMES: 'ct_*=0.5/0.6', EMP_PRESSURE_TYPES: 'queue=off/0.9', EMP_PRESSURE_WARNING: '65%' } });
  t.match(config.pressure, { warning: 0.65, names: [{ match: 'ct_*', warning: 0.5, critical: 0.6 }], types: [{ match: 'queue', warning: null, critical: 0.9 }] });
});

t.test('bad values: one coded error naming the key, the value and the fix', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--pressure.warning=0.9'], /pressure\.warning and pressure\.critical: warning \(0\.9\) must be below critical \(0\.8\); lower pressure\.warning/],
    [['--pressure.critical=2'], /pressure\.critical: threshold 2 must be a fill ratio above 0 and at most 1/],
    [['--pressure.types=hashh=0.5/0.6'], /pressure\.types: "hashh" is not a map type; known types: .*hash/],
    [['--pressure.names=ct_*=0.9/0.5'], /pressure\.names: "ct_\*=0\.9\/0\.5": warning \(0\.9\) must be below critical \(0\.5\)/],
    [['--pressure.names=ct_*'], /pressure\.names: "ct_\*" must look like "NAME=WARNING\/CRITICAL"/],
    [['--pressure.hysteresis-margin=0.7'], /pressure\.hysteresis_margin: must be a fill ratio from 0 to below 0\.5/],
    [['--pressure.clear-after=0'], /pressure\.clear_after: must be a whole number from 1 to 1000/],
    [['--webhook.retries=50'], /webhook\.retries: must be a whole number from 0 to 10/],
    [['--webhook.format=teams'], /webhook\.format/],
    [['--pressure.forecast-window=10ms'], /pressure\.forecast_window: must be a duration/],
    [['--pressure.peak-window=10s'], /pressure\.peak_window: must be a duration from 60000 ms .*: value was "10s"/],
    [['--pressure.headroom=-1'], /pressure\.headroom: must be a share of the peak from 0 to 10.*: value was "?-1"?/],
    [['--pressure.headroom=lots'], /pressure\.headroom: must be a share of the peak/],
    [['--pressure.max-transition-lines=1.5'], /pressure\.max_transition_lines: must be a whole number from 0 to 10000: value was "?1\.5"?/],
    [['--webhook.max-maps=0'], /webhook\.max_maps: must be a whole number from 1 to 1000: value was "?0"?/],
  ];
  for (const [args, re] of cases) {
    const e = problem(args);
    t.equal(e.code, 'EMP_CONFIG_INVALID', args.join(' '));
    t.match(e.message, re, args.join(' '));
  }
  t.equal(ERRORS.EMP_CONFIG_INVALID.exitCode, 2);
});

t.test('webhook URLs: checked without being echoed, redacted when printed', async (t) => {
  const bad = problem([`--webhook.urls=https://hooks.example.com/ok,ftp://x/${SECRET}`]);
  t.equal(bad.code, 'EMP_CONFIG_INVALID');
  t.match(bad.message, /webhook\.urls: URL #2 must use http:\/\/ or https:\/\//);
  t.notOk(bad.message.includes(SECRET), 'the refused URL is not echoed');
  const garbage = problem([`--webhook.urls=${SECRET}`]);
  t.notOk(garbage.message.includes(SECRET));
  const { config, printable } = loadConfig({ args: [`--webhook.urls=https://hooks.slack.com/services/T/B/${SECRET},http://u:${SECRET}@h:8080/?token=${SECRET}`], env: {} });
  t.equal(config.webhook.urls.length, 2, 'the real URLs are kept for use');
  t.notOk(printable.includes(SECRET), '--print-config shows no secret');
  t.same(JSON.parse(printable).webhook.urls, ['https://hooks.slack.com/***', 'http://h:8080/***']);
  t.equal(redactWebhookUrl('https://example.com/'), 'https://example.com/', 'nothing to hide');
});
