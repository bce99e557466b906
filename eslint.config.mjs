// SPDX-License-Identifier: Apache-2.0
// ESLint for the TypeScript (npm run lint; scripts/test.sh runs it, a finding fails the run):
// the recommended JavaScript and typescript-eslint rules, Node's globals.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', 'test/fixtures/build/', 'bench/results/', 'coverage/', '.tap/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: globals.node } },
  {
    // The plain JavaScript (the CLI's entry point, helpers run as child processes) is CommonJS.
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Tests match what terminals and the kernel print: escape sequences and control bytes.
    files: ['test/**/*.ts'],
    rules: { 'no-control-regex': 'off' },
  },
);
