// SPDX-License-Identifier: Apache-2.0
/**
 * Scenario 5: the real CLI agent over a window, at each interval and with each tuning side
 * by side (they share the host's maps and, being mostly idle, barely each other's
 * CPU), exporting OTLP to a local sink. CPU is per process, so running them together does not
 * mix their figures.
 */
import { measureRunning, startRunningAgent, type Tuning, waitForRequests } from '../lib/agent-process';
import type { RunningResult } from '../lib/results';

export async function measureRunningAgents(
  intervalsS: number[],
  tunings: readonly Tuning[],
  windowS: number,
  benchMaps: number,
  countMaps: () => Promise<number>,
): Promise<RunningResult[]> {
  const agents = [];
  try {
    for (const tuning of tunings) for (const s of intervalsS) agents.push(await startRunningAgent(s, tuning));
    // Warm: every agent has exported at least once.
    for (const a of agents) await waitForRequests(a, 1, a.intervalS * 1000 + 60_000);
    const figures = await measureRunning(agents, windowS, countMaps);
    return figures.map((f) => ({ ...f, benchMaps }));
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
  }
}
