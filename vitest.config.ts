import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Finds the local Redis (127.0.0.1:6379) when REDIS_URL is unset, and says so.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Two cores: run files in parallel but not more than the machine has.
    pool: 'forks',
    maxWorkers: 2,
  },
});
