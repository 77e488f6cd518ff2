import { defineConfig } from 'vitest/config';

// Tests import the TypeScript sources directly; system tests spawn the built server (dist/).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
