import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    // *.runtimes.test.ts need the real runtimes' venvs: `npm run test:runtimes` (vitest.runtimes.config.ts);
    // *.image.test.ts build and run the container image: `npm run test:image` (vitest.image.config.ts).
    exclude: ['node_modules/**', 'dist/**', 'load-tests/**', '.image/**', '**/*.runtimes.test.ts', '**/*.image.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/support/global-setup.ts'],
  },
});
