// SPDX-License-Identifier: Apache-2.0
/**
 * bpftool's map list with names kept byte for byte, and the escaping rule stated on its own
 * (not imported from src/records.ts), so a test compares the agent's names with the kernel's
 * through the rule rather than through the code under test.
 */
import { execFileSync } from 'node:child_process';

export interface RawBpftoolMap {
  id: number;
  /** bpftool's spelling; a number for a type newer than its libbpf. */
  type: string | number;
  /** The kernel's bytes, one char per byte (bpftool writes them into its JSON unescaped). */
  name?: string;
  max_entries: number;
  bytes_memlock: number;
}

/** `bpftool -j map show`, read as Latin-1 so that every byte of a name is one char. */
export function bpftoolRaw(): Map<number, RawBpftoolMap> {
  const out = execFileSync('bpftool', ['-j', 'map', 'show'], { maxBuffer: 256 << 20 });
  const list = JSON.parse(out.toString('latin1')) as RawBpftoolMap[];
  return new Map(list.map((m) => [m.id, m]));
}

/** The rule: printable ASCII other than "\" stays; every other byte becomes \xHH. */
export function escaped(raw: string): string {
  let out = '';
  for (const b of Buffer.from(raw, 'latin1'))
    out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return out;
}
