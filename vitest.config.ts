import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/cluster/ is `npm run test:cluster` (vitest.cluster.config.ts): minutes, nginx and Redis.
    exclude: ['**/node_modules/**', 'test/cluster/**'],
    // ORT sessions and the HTTP server are heavy; CI machines have 2 cores.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
