import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// patchctl's own run (`npm test -w @patchflow/patchctl`): the root config's include does not
// cover tools/ (yet). Real Postgres and NATS, as every integration test; the shared global setup.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  resolve: { conditions: ['development'] },
  ssr: { resolve: { conditions: ['development'] } },
  test: {
    include: ['tools/patchctl/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    globalSetup: ['libs/testing/src/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
  },
});
