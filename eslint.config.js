// Lint rules for the daemon, its tests and benchmark, and the client package.
// Formatting is prettier's (npm run format); these rules catch what a reader would miss.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      'dist-bench/**',
      'bench-results/**',
      'coverage/**',
      '**/vitest.config.ts',
      'eslint.config.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.test.json', './packages/janus-nats-client/tsconfig.check.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // A promise nobody awaits or handles loses its error: handle it, or say `void` on purpose.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false, attributes: false } },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Empty catch blocks and callbacks must say why (a comment inside counts).
      'no-empty': ['error', { allowEmptyCatch: false }],
      '@typescript-eslint/no-empty-function': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      eqeqeq: ['error', 'always'],
      // Prettier wraps code at 120 but leaves long strings and comments alone; this catches those.
      // (Deprecated in ESLint core as a formatting rule, yet still there: not worth a plugin.)
      'max-len': ['error', { code: 120, tabWidth: 2 }],
      // The bridge matches control characters on purpose (header values, subjects, Janus's parser).
      'no-control-regex': 'off',
    },
  },
  {
    // The quick start is the documented program byte for byte (its test compares them).
    files: ['packages/janus-nats-client/examples/quick-start.ts'],
    rules: { 'max-len': 'off' },
  },
  {
    // Tests and the benchmark read JSON and YAML documents of any shape.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'packages/*/test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
