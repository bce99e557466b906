// SPDX-License-Identifier: Apache-2.0
/** Waiting in tests: for a time, or until a condition holds (polled, with a deadline that names what was awaited). */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves once `f()` is true, polling every 50 ms; throws naming `what` after `timeoutMs`. */
export async function until(f: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(50);
  }
}
