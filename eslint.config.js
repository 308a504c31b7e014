// Lint for every workspace: typed rules that catch what tsc does not (a promise nobody awaits,
// a type imported as a value), and the STYLE.md boundary — only libs/bus imports @nats-io/*.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'reports/**', '**/public/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { patterns: [{ group: ['@nats-io/*'], message: 'Only libs/bus talks to NATS.' }] }],
    },
  },
  { files: ['libs/bus/**'], rules: { 'no-restricted-imports': 'off' } },
);
