// SPDX-License-Identifier: Apache-2.0
/**
 * Scenario 5: the real CLI agent over a window, at each interval side by side (they share
 * the host's maps and, being mostly idle, barely each other's CPU), exporting OTLP to a
 * local sink. CPU is per process, so running them together does not mix their figures.
 */
import { measureRunning, startRunningAgent, waitForRequests } from '../lib/agent-process';
import type { RunningResult } from '../lib/results';

export async function measureRunningAgents(intervalsS: number[], windowS: number, benchMaps: number, countMaps: () => Promise<number>): Promise<RunningResult[]> {
  const agents = [];
  try {
    for (const s of intervalsS) agents.push(await startRunningAgent(s));
    // Warm: every agent has exported at least once.
    for (const a of agents) await waitForRequests(a, 1, a.intervalS * 1000 + 60_000);
    const figures = await measureRunning(agents, windowS, countMaps);
    return figures.map((f) => ({ ...f, benchMaps }));
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
  }
}
