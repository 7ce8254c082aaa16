import { defineConfig } from 'vitest/config';

// `make e2e` only: these files need the real two-node cluster of `make cluster` and run
// inside its network namespace (the Makefile enters it). `make test` never picks them up:
// they are named *.e2e.ts and test/e2e is excluded there as well.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    testTimeout: 240_000,
    hookTimeout: 600_000,
    // One cluster, one release: the files share it and must not run side by side.
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
