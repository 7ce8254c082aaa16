import { defineConfig } from 'vitest/config';

// `make chaos` only (issue #12): one file of faults run in order against one private control
// plane and one set of controller and agent processes. `make test` never picks it up: the
// file is named *.chaos.ts.
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    testTimeout: 240_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
