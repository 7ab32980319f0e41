// Lint config: typescript-eslint's recommended rules; formatting is prettier's job.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'crds/', 'charts/', '.weir/'] },
  js.configs.recommended,
  {
    files: ['bin/**/*.js'],
    languageOptions: { globals: { process: 'readonly', URL: 'readonly', console: 'readonly' } },
  },
  {
    files: ['scripts/shims/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', globalThis: 'readonly' } },
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(fs|path|os|child_process|http|https|net|crypto|url|util|events|stream|timers)(/.*)?$',
              message: 'use the node: prefix',
            },
          ],
        },
      ],
    },
  },
);
