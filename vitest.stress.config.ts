import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The stress suite (`npm run test:stress`, `-- --short` for CI, `-- --full` on demand): its
 * own include pattern, so `npm test` never runs it. One file at a time (figures such as fds,
 * heap and p99 must not be disturbed by another scenario), workers with --expose-gc for heap
 * figures after collection. Only the plugins (SWC for decorator metadata) come from the main
 * config: its JSON report (.vitest-results.json) belongs to `npm test`.
 */
export default defineConfig({
  plugins: base.plugins,
  test: {
    include: ['test/stress/**/*.stress.ts'],
    pool: 'forks',
    fileParallelism: false,
    execArgv: ['--expose-gc'],
    testTimeout: 600_000,
    hookTimeout: 60_000,
    globalSetup: ['test/stress/stress.global.ts'],
    reporters: ['default'],
  },
});
