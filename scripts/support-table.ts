// SPDX-License-Identifier: Apache-2.0
/**
 * Prints the support matrix (map type x kernel -> count method) from the cells the kernel
 * tests recorded (test/helpers/features.ts recordSupport) and the kernel matrix's summary;
 * with --readme FILE, also writes it into FILE between the support-matrix markers.
 * Run by scripts/support-matrix.sh.
 */
import { readFileSync, writeFileSync } from 'node:fs';

interface Cell {
  kernel: string;
  row: string;
  method: string;
  exact: boolean;
}
interface Run {
  kernel: string;
  release: string;
  result: string;
  seconds: number;
  /** kernel-matrix.sh's word on a guest run whose kernel crashed, e.g. "soft lockup, rerun: PASS". */
  note?: string;
}

const BEGIN = '<!-- support-matrix:begin (written by scripts/support-matrix.sh --readme) -->';
const END = '<!-- support-matrix:end -->';

function lines<T>(file: string): T[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
}

const [cellsFile, runsFile, ...rest] = process.argv.slice(2);
if (!cellsFile || !runsFile) {
  console.error('usage: support-table.ts CELLS.jsonl MATRIX.jsonl [--readme FILE]');
  process.exit(2);
}
const cells = lines<Cell>(cellsFile);
const runs = lines<Run>(runsFile);

// Columns in the matrix's order; rows in the order the tests recorded them.
const columns = runs.map((r) => ({ ...r, label: r.kernel === 'host' ? `host ${r.release}` : r.release }));
for (const c of cells) if (!columns.some((k) => k.release === c.kernel)) columns.push({ kernel: c.kernel, release: c.kernel, result: '?', seconds: 0, label: c.kernel });
const rows = [...new Set(cells.map((c) => c.row))];
const cell = (row: string, release: string) => {
  const found = cells.filter((c) => c.row === row && c.kernel === release);
  if (!found.length) return '';
  const methods = [...new Set(found.map((c) => `${c.method === 'n/a' ? 'n/a' : `\`${c.method}\``}${c.exact ? '' : ' !'}`))];
  return methods.join(', ');
};

const header = `| map type | ${columns.map((k) => k.label).join(' | ')} |`;
const rule = `|---|${columns.map(() => '---').join('|')}|`;
const body = rows.map((row) => `| ${row} | ${columns.map((k) => cell(row, k.release)).join(' | ')} |`);
const result = `| suite | ${columns.map((k) => `${k.result.toUpperCase()} (${Math.round(k.seconds)} s${k.note ? `; ${k.note}` : ''})`).join(' | ')} |`;
const table = [header, rule, ...body, result].join('\n');
console.log(table);

const at = rest.indexOf('--readme');
if (at >= 0) {
  const file = rest[at + 1]!;
  const readme = readFileSync(file, 'utf8');
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) {
    console.error(`${file}: no support-matrix markers (${BEGIN} ... ${END})`);
    process.exit(1);
  }
  writeFileSync(file, `${readme.slice(0, a + BEGIN.length)}\n${table}\n${readme.slice(b)}`);
  console.error(`wrote the support matrix into ${file}`);
}
