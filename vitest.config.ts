import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'buildpacks/**/*.test.ts', 'src/**/*.test.ts', 'docs/examples/**/*.test.ts'],
    // End-to-end builds download a Node runtime and run npm; they share one
    // cache dir (see test/helpers) and take tens of seconds on 2 cores.
    testTimeout: 240_000,
    hookTimeout: 240_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
  },
});
