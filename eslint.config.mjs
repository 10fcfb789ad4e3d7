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
        // .mjs test helpers) get TypeScript's default project.
        projectService: {
          allowDefaultProject: ['*.mjs', '*.ts', 'scripts/*.mjs', 'test/fixtures/*.mjs', 'test/jest/*.mjs'],
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 16,
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
  },
  {
    // The page runs in the browser.
    files: ['sample/public/**/*.js'],
    languageOptions: { globals: globals.browser },
  },
);
