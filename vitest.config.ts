import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['test/bench/**', 'test/e2e/**', 'node_modules/**', 'dist/**'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Integration suites start real servers; two cores cannot run many at once.
    fileParallelism: true,
    maxWorkers: 2,
    // One real kube-apiserver + etcd for the whole run (test/controlplane/shared.ts reads it).
    globalSetup: ['test/controlplane/global-setup.ts'],
  },
});
