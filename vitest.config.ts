import { defineConfig } from 'vitest/config';

/**
 * Slow suites, left out unless FEDMQ_SLOW=1 (`.ci/run` runs them on their own):
 * test/deploy-emulated.test.ts builds the arm64 and armv7l bundles and trains under qemu-user.
 */
const SLOW = ['test/deploy-emulated.test.ts'];

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', ...(process.env.FEDMQ_SLOW === '1' ? [] : SLOW)],
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // MNIST-sized training saturates both cores; two files at a time is the most this machine takes.
    maxWorkers: 2,
  },
});
