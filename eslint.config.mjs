// ESLint: eslint:recommended plus typescript-eslint's recommended type-checked rules over the
// library, the sample, the tests, the benchmarks and the scripts (`npm run lint`, run by `npm test`).
// Formatting is Prettier's job (`npm run format:check`), so no stylistic rules here.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: ['dist/**', 'coverage/**', 'node_modules/**'],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: globals.node,
      parserOptions: {
        // Each file is checked by the tsconfig.json that includes it (the root one, or
        // sample/public's for the page); the few files no tsconfig includes (configs, scripts,
        // .mjs test helpers) get a default project with the root tsconfig's options.
        projectService: {
          allowDefaultProject: ['*.mjs', '*.ts', 'scripts/*.mjs', 'test/fixtures/*.mjs', 'test/jest/*.mjs'],
          defaultProject: 'tsconfig.json',
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 16,
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // Off: an `async` method without `await` is how this code implements a Promise-returning
      // interface (the in-memory hub and presence store, test doubles): a synchronous throw in it
      // becomes a rejection, which callers rely on. Dropping `async` to satisfy the rule would
      // change that.
      '@typescript-eslint/require-await': 'off',
      // Parameters named `_x` are there for their position or their decorator
      // (`@StreamParams() _params`), not read.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'all', caughtErrorsIgnorePattern: '^_' }],
      // A `let` that a closure reads before its one assignment stays `let`: as a `const` it would
      // throw in the temporal dead zone when the closure runs first.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // As only-throw-error's default: an error of type `unknown` (a callback's or a catch's)
      // is passed on to `reject` unchanged.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    // The page runs in the browser.
    files: ['sample/public/**/*.js'],
    languageOptions: { globals: globals.browser },
  },
  {
    // Jest's globals (the rest of the suite is vitest, which imports them).
    files: ['test/jest/**/*.mjs'],
    languageOptions: { globals: globals.jest },
  },
  {
    // Untyped JavaScript that works on values no type can describe here: the package test
    // drives the packed tarball and the clients installed in a temporary app (loaded with that
    // app's require at run time), and the jest spec imports the built package (dist/, not there
    // yet when lint runs before the build). Their values are `any`, so the rules about using
    // `any` are off for these two files only; every other type-checked rule stays on.
    files: ['scripts/test-package.mjs', 'test/jest/**/*.mjs'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
