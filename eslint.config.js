import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', 'test-output/', '**/vendor/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // Plain JavaScript run by Node (the bin shim, build helpers).
    files: ['bin/**/*.js', 'scripts/**/*.mjs'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly' } },
  },
  {
    // The rooms of docs/architecture.md: policies import nothing of the project, firmware-bridge nothing either.
    files: ['policies/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/gateway/**', '**/firmware-bridge/**', '**/central/**', '**/scripts/**'], message: 'policies/ is pure: it imports nothing of the project.' }] }],
    },
  },
  {
    files: ['firmware-bridge/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/gateway/**', '**/policies/**', '**/central/**', '**/scripts/**'], message: 'firmware-bridge/ is the hardware boundary: it imports nothing of the project.' }] }],
    },
  },
  {
    files: ['kit/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/gateway/**', '**/firmware-bridge/**', '**/central/**', '**/scripts/**'], message: 'kit/ is what both services are built from: it imports policies only.' }] }],
    },
  },
  {
    files: ['central/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/gateway/**', '**/firmware-bridge/**'], message: 'central/ may import policies and kit only.' }] }],
    },
  },
  {
    files: ['gateway/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/central/**', '**/scripts/**'], message: 'gateway/ may import policies, kit and firmware-bridge only.' }] }],
    },
  },
);
