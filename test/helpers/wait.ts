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

/**
 * Resolves with the first value `fn()` gives that is not undefined (a throw counts as none),
 * polling every `everyMs`; after `timeoutMs` throws naming `what`, the last error, and what
 * `context()` says (a server's stderr, say).
 */
export async function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, context: () => string = () => '', everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      const more = context();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${String(last ?? 'no result')})${more ? `\n${more}` : ''}`);
    }
    await sleep(everyMs);
  }
}
