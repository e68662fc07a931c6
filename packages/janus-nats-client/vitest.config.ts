/**
 * Runs this package's tests on their own (`npx vitest run --config packages/janus-nats-client/vitest.config.ts`),
 * with the repository's global setup (the test services). The root vitest config runs them
 * too once its include covers packages/janus-nats-client/test.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['packages/janus-nats-client/test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
