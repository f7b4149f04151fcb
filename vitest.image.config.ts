import { defineConfig } from 'vitest/config';

// The container image suite (`npm run test:image`, run by .ci/run): builds the image with podman and runs it under
// runc, as root. Slow (a build of a few minutes), so apart from `npm test`.
export default defineConfig({
  test: {
    include: ['test/image/**/*.image.test.ts'],
    exclude: ['node_modules/**', 'dist/**', '.image/**'],
    testTimeout: 120_000,
    hookTimeout: 1_200_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
