// ESLint flat config: typescript-eslint's type-checked rules with the NestJS starter's
// adjustments, plain recommended rules for the JavaScript scripts, and Prettier owning layout
// (eslint-config-prettier turns off every rule that would fight it; `prettier --check` runs
// beside ESLint in `npm run lint`).
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'coverage/**', 'data/**', 'test-results/**'] },
  eslint.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // The same projects `npm run typecheck` checks, so every file is linted with its own types.
        project: [
          './tsconfig.json',
          './client/test/tsconfig.json',
          './client/test/tsconfig.e2e.json',
          './resource-server/test/tsconfig.json',
        ],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // As in the NestJS starter: decorators and framework types hand us `any` in places we do
      // not control, and DI-heavy code reads worse with casts everywhere.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // An `async` implementation of a Promise-returning interface turns a throw into a rejection,
      // which is what callers of the interface handle; it need not await anything itself.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.e2e-spec.ts', '**/*.multi-spec.ts', 'test/**/*.ts', 'resource-server/test/**/*.ts'],
    rules: {
      // Tests assert on HTTP bodies, which are untyped JSON by nature; typing each one would test the types, not the server.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // `expect(mock.method).toHaveBeenCalled()` passes methods unbound on purpose.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  // The Nest example imports the kit's declarations from resource-server/dist, which exist only
  // after the build (lint runs before it in CI); the build's `tsc` type-checks it strictly instead.
  { files: ['examples/**/*.ts'], extends: [tseslint.configs.disableTypeChecked] },
  {
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: { globals: { ...globals.node } },
    rules: { 'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }] },
  },
  // The demo page runs in the browser; browser tests pass callbacks to page.evaluate() that do too.
  { files: ['public/**/*.js', 'test/browser/**/*.mjs'], languageOptions: { globals: { ...globals.browser } } },
  prettier,
);
