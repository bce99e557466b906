// SPDX-License-Identifier: Apache-2.0
/** The Prometheus text format (0.0.4) read back: samples, # TYPE and # UNIT of each family. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (0.0.4): samples, and the # TYPE of each family. */
export function parseExposition(text: string): { samples: Sample[]; types: Map<string, string>; units: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const units = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const unit = /^# UNIT (\S+) (.*)$/.exec(line);
    if (unit) units.set(unit[1]!, unit[2]!);
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    const body = m[2] ?? '';
    let end = 0;
    for (let lm = re.exec(body); lm !== null; lm = re.exec(body)) {
      labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      end = re.lastIndex;
    }
    if (end !== body.length) throw new Error(`bad labels: ${line}`);
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types, units };
}

/** GET /metrics on host:port, parsed. */
export async function scrape(port: number, host = '127.0.0.1') {
  const res = await fetch(`http://${host}:${port}/metrics`);
  return { status: res.status, contentType: res.headers.get('content-type'), ...parseExposition(await res.text()) };
}

