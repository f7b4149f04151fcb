import { defineConfig } from 'vitest/config';

// Conformance suite against the real model runtimes (needs `bash runtimes/setup-venv.sh`): run with
// `npm run test:runtimes`. Runtimes start one after another: the machine has two cores.
export default defineConfig({
  test: {
    include: ['test/runtimes/**/*.runtimes.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
