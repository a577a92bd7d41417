import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

const here = import.meta.dirname;

export default defineConfig({
  resolve: {
    // Tests run the TypeScript sources: `slugc` and its subpaths resolve to
    // them, as tsconfig's `paths` do for the type checker (Node resolves the
    // same names to dist/ through package.json "exports").
    alias: [
      { find: /^slugc$/, replacement: path.join(here, 'src/index.ts') },
      { find: /^slugc\/sdk$/, replacement: path.join(here, 'src/sdk/index.ts') },
      { find: /^slugc\/testing$/, replacement: path.join(here, 'src/testing/index.ts') },
      { find: /^slugc\/buildpacks$/, replacement: path.join(here, 'buildpacks/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'buildpacks/**/*.test.ts', 'src/**/*.test.ts', 'docs/examples/**/*.test.ts'],
    // End-to-end builds download a Node runtime and run npm; they share one
    // cache dir (see test/global-setup.ts) and take tens of seconds on 2 cores.
    testTimeout: 240_000,
    hookTimeout: 240_000,
    pool: 'forks',
    // Files in parallel even on 2 cores: most of a test's time is child processes (npm, pnpm,
    // yarn, tar, a registry) and their I/O, so two files overlap well; vitest's default is one
    // fork per core less one, a single fork on 2 cores.
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    globalSetup: ['test/global-setup.ts'],
  },
});
