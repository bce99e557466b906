// SPDX-License-Identifier: Apache-2.0
/**
 * Two forecasters over the same fill traces, and how right each is.
 *
 * - **ours**: what the agent runs — every sample through a SampleWindow of the trace's window,
 *   then forecast() (src/pressure/forecast.ts).
 * - **predict_linear**: Prometheus's, over the same window: least squares over the samples of
 *   the range (t - window, t], slope per second and the fitted value at the evaluation time t
 *   (what `deriv(x[2m])` and `predict_linear(x[2m], 0)` return; see Prometheus's
 *   promql/functions.go, linearRegression). Time to full is where that line meets the capacity,
 *   `(max - predict_linear(x[2m], 0)) / deriv(x[2m])`, when the slope is positive (0 when the
 *   line is past the capacity already); no forecast otherwise.
 *
 * The score of a trace: of the steps where the map is growing, the share with a forecast; of
 * the steps where it is not, the share without one; and over the growing steps with a forecast,
 * the error of the predicted time to full against the truth, |predicted - true| / true, median
 * and worst. Steps where the map is full (as seen, or by the truth) are not scored, and steps
 * whose true time to full is under one collection interval are left out of the error: that
 * close to full is the level's business.
 */
import { forecast, SampleWindow } from '../../src/pressure/forecast';
import type { Trace } from './forecast-traces';
import { median } from './stats';

export type Method = 'ours' | 'predict_linear';
export const METHODS: readonly Method[] = ['ours', 'predict_linear'];

/** A forecaster: the predicted seconds to full at every step of a trace (null: none). */
export function predictions(trace: Trace, method: Method): Array<number | null> {
  return method === 'ours' ? ours(trace) : predictLinear(trace);
}

function ours(trace: Trace): Array<number | null> {
  const w = new SampleWindow(trace.windowMs);
  return trace.steps.map((s) => {
    w.add(s.t, s.v, trace.capacity);
    return forecast(w, trace.capacity).timeToFullS;
  });
}

/** Least squares (Prometheus's linearRegression): slope per second, value at `at`. */
export function leastSquares(points: ReadonlyArray<{ t: number; v: number }>, at: number): { slope: number; intercept: number } {
  const n = points.length;
  if (points.every((p) => p.v === points[0]!.v)) return { slope: 0, intercept: points[0]!.v };
  let sx = 0;
  let sy = 0;
  let sxy = 0;
  let sx2 = 0;
  for (const p of points) {
    const x = (p.t - at) / 1000;
    sx += x;
    sy += p.v;
    sxy += x * p.v;
    sx2 += x * x;
  }
  const slope = (sxy - (sx * sy) / n) / (sx2 - (sx * sx) / n);
  return { slope, intercept: sy / n - (slope * sx) / n };
}

function predictLinear(trace: Trace): Array<number | null> {
  return trace.steps.map((s, i) => {
    const range = [];
    for (let j = i; j >= 0 && trace.steps[j]!.t > s.t - trace.windowMs; j--) range.unshift(trace.steps[j]!);
    if (range.length < 2) return null;
    const { slope, intercept } = leastSquares(range, s.t);
    if (!(slope > 0)) return null;
    return Math.max(0, (trace.capacity - intercept) / slope);
  });
}

/** Counts and errors of one method over one or more traces (pooled: seeds of the same kind). */
export interface Score {
  growing: number;
  forecastWhenGrowing: number;
  notGrowing: number;
  quietWhenNot: number;
  /** Relative errors of the time to full (see the file's comment). */
  errors: number[];
}

export function emptyScore(): Score {
  return { growing: 0, forecastWhenGrowing: 0, notGrowing: 0, quietWhenNot: 0, errors: [] };
}

/** Adds a trace's steps, forecast by `predicted`, to `into`. */
export function score(trace: Trace, predicted: ReadonlyArray<number | null>, into: Score = emptyScore()): Score {
  trace.steps.forEach((s, i) => {
    const p = predicted[i]!;
    // A full map is the level's business; there is nothing left to forecast. Full by the
    // truth too: a synthetic fill capped at the capacity, which its noise shows below it.
    if (s.v >= trace.capacity || s.ttfS === 0) return;
    if (s.expect === 'grow') {
      into.growing++;
      if (p !== null) {
        into.forecastWhenGrowing++;
        if (s.ttfS !== null && s.ttfS * 1000 >= trace.intervalMs) into.errors.push(Math.abs(p - s.ttfS) / s.ttfS);
      }
    } else if (s.expect === 'flat') {
      into.notGrowing++;
      if (p === null) into.quietWhenNot++;
    }
  });
  return into;
}

/** The figures of a score for the table: shares and error quantiles (null where nothing was scored). */
export interface Figures {
  growing: number;
  notGrowing: number;
  /** Share of growing steps with a forecast. */
  hit: number | null;
  /** Share of non-growing steps without one. */
  quiet: number | null;
  medianError: number | null;
  worstError: number | null;
  scoredErrors: number;
}

export function figures(s: Score): Figures {
  return {
    growing: s.growing,
    notGrowing: s.notGrowing,
    hit: s.growing ? s.forecastWhenGrowing / s.growing : null,
    quiet: s.notGrowing ? s.quietWhenNot / s.notGrowing : null,
    medianError: s.errors.length ? median(s.errors) : null,
    worstError: s.errors.length ? Math.max(...s.errors) : null,
    scoredErrors: s.errors.length,
  };
}

/**
 * Whether `a` is better than `b`: at least as good on every figure both have (higher shares,
 * lower errors) and strictly better on one. A figure only one of them has (no forecast at all
 * gives no error) counts against the one without it only if that one forecast nothing while
 * the map grew.
 */
export function better(a: Figures, b: Figures): { better: boolean; worseOn: string[] } {
  const worseOn: string[] = [];
  let strictly = false;
  const cmp = (name: string, x: number | null, y: number | null, higherIsBetter: boolean) => {
    if (x === null || y === null) return;
    const d = higherIsBetter ? x - y : y - x;
    if (d < -1e-12) worseOn.push(name);
    else if (d > 1e-12) strictly = true;
  };
  cmp('forecast when growing', a.hit, b.hit, true);
  cmp('no forecast when not', a.quiet, b.quiet, true);
  cmp('median error', a.medianError, b.medianError, false);
  cmp('worst error', a.worstError, b.worstError, false);
  return { better: worseOn.length === 0 && strictly, worseOn };
}
