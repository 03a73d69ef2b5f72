import { defineConfig } from 'vitest/config';

/**
 * `npm run test:cluster`: replicas + nginx + Redis on 127.0.0.1 (test/cluster/). Not part of
 * `npm test`: it runs for minutes and installs Debian packages when missing. One file at a time:
 * each starts its own cluster and they would compete for the 2 cores.
 */
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
  },
});
