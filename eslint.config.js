// Lint for every workspace: typed rules that catch what tsc does not (a promise nobody awaits,
// a type imported as a value), and the STYLE.md boundary — only libs/bus imports @nats-io/*.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'reports/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      'no-restricted-imports': ['error', { patterns: [{ group: ['@nats-io/*'], message: 'Only libs/bus talks to NATS.' }] }],
    },
  },
  { files: ['libs/bus/**'], rules: { 'no-restricted-imports': 'off' } },
  // Plain JavaScript (the UI's browser modules, a few .mjs scripts): type-checked by tsc with
  // checkJs (services/gateway/public/tsconfig.json), linted here without type information.
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    rules: {
      ...tseslint.configs.disableTypeChecked.rules,
      'no-undef': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
