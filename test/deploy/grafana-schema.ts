// SPDX-License-Identifier: Apache-2.0
/**
 * The dashboard JSON checked against Grafana's own types (npm @grafana/schema, types only) by
 * the TypeScript compiler: the JSON's text becomes an object literal typed as the schema's
 * Dashboard, so a wrong enum value, a wrong type or an unknown key is a compile error.
 */
import * as path from 'node:path';
import * as ts from 'typescript';

/**
 * A schema type as JSON can spell it: string enums (ThresholdsMode, FieldColorModeId, ...) as
 * the union of their values (JSON has "absolute", not ThresholdsMode.Absolute); numeric enums
 * accept their members' numbers as they are.
 */
export type Literal<T> = T extends string
  ? `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends ReadonlyArray<infer U>
      ? Array<Literal<U>>
      : T extends object
        ? { [K in keyof T]: Literal<T[K]> }
        : T;

export interface Finding {
  /** TypeScript's diagnostic code (2322: not assignable, 2353: unknown property, ...). */
  code: number;
  /** 1-based line in the checked text. */
  line: number;
  /** The source text the diagnostic points at (a property name, quoted). */
  at: string;
}

const ROOT = path.join(__dirname, '..', '..');

/**
 * Type-checks each JSON text as a Literal<Dashboard> in one compiler program (the project's
 * tsconfig.test.json options); returns the findings per name, [] for a dashboard that conforms.
 */
export function checkDashboards(texts: Record<string, string>): Record<string, Finding[]> {
  const parsed = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, 'tsconfig.test.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
  if (!parsed) throw new Error('tsconfig.test.json could not be read');
  const literal = path.join(__dirname, 'grafana-schema').replace(/\\/g, '/');
  // Virtual files beside this one, so '@grafana/schema' resolves from the project's node_modules.
  const files = new Map(
    Object.entries(texts).map(([name, json]) => [
      path.join(__dirname, `.dashboard-check-${name}.ts`),
      `import type { Dashboard } from '@grafana/schema';\nimport type { Literal } from '${literal}';\nexport const dashboard: Literal<Dashboard> = ${json};\n`,
    ]),
  );
  const host = ts.createCompilerHost(parsed.options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.fileExists = (f) => files.has(f) || ts.sys.fileExists(f);
  host.readFile = (f) => files.get(f) ?? readFile(f);
  host.getSourceFile = (f, lang, onError) => {
    const text = files.get(f);
    return text !== undefined ? ts.createSourceFile(f, text, lang, true) : getSourceFile(f, lang, onError);
  };
  const program = ts.createProgram({ rootNames: [...files.keys()], options: { ...parsed.options, noEmit: true }, host });
  const out: Record<string, Finding[]> = {};
  const prefixLines = 2; // the two import lines before the JSON
  for (const [name] of Object.entries(texts)) {
    const file = program.getSourceFile(path.join(__dirname, `.dashboard-check-${name}.ts`))!;
    const diagnostics = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
    out[name] = diagnostics.map((d) => {
      const start = d.start ?? 0;
      return { code: d.code, line: file.getLineAndCharacterOfPosition(start).line + 1 - prefixLines, at: file.text.slice(start, start + (d.length ?? 0)) };
    });
  }
  const global = program.getGlobalDiagnostics();
  if (global.length > 0) throw new Error(`the compiler failed: ${ts.formatDiagnostics(global, host)}`);
  return out;
}
