// One worked example per stage: the four stages as plain functions, the way
// build() runs them. CI type-checks this file and test/docs-examples.test.ts runs it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  LayerStore,
  compile,
  createLogger,
  createRuntimeInstaller,
  detect,
  hostPlatform,
  packageSlug,
  prepareBuildDir,
  release,
  type Buildpack,
  type SlugMetadata,
} from 'slugc';

/** Builds `sourceDir` with `buildpacks` into `output`, stage by stage; returns slug.json's contents. */
export async function buildByStages(sourceDir: string, buildpacks: Buildpack[], output: string): Promise<SlugMetadata> {
  const log = createLogger({ stdout: process.stdout });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stages-'));
  const appDir = path.join(work, 'app');
  const cacheRoot = path.join(work, 'cache');
  const stack = 'debian-12';
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: appDir, STACK: stack };
  try {
    // 1. prepare: copy the source (minus .git and .slugignore matches) into a fresh build dir.
    prepareBuildDir(sourceDir, appDir);

    // 2. detect: every candidate answers, and says why.
    const report = await detect({ appDir, buildpacks, explicit: false, stack, env, log });
    const chosen = buildpacks.filter((b) => report.selected.includes(b.id));

    // 3. compile: each chosen buildpack works in the build dir, with a cache and runtimes.
    const layers = new LayerStore({ root: path.join(cacheRoot, 'apps', 'example'), appDir, workDir: work, log });
    const runtimes = createRuntimeInstaller({ cacheRoot, fetch: globalThis.fetch, log, stack, ...hostPlatform(), offline: false, tmpDir: work });
    const compiled = await compile({
      appDir,
      buildpacks: chosen,
      env,
      stack,
      cacheRoot,
      appCacheDir: path.join(cacheRoot, 'apps', 'example'),
      layers,
      tmpDir: work,
      fetch: globalThis.fetch,
      log,
      signal: new AbortController().signal,
      runtimes,
    });

    // 4. release: buildpack defaults merged, the Procfile wins.
    const released = await release({ appDir, buildpacks: chosen, stack, env: { ...env, ...compiled.exportedEnv }, log });

    // 5. package: a deterministic slug.tgz and slug.json beside it.
    const slug = await packageSlug({
      appDir,
      output,
      log,
      metadata: {
        process_types: released.processTypes,
        buildpack_provided_description: chosen.map((b) => b.name).join(', ') || null,
        stack: { name: stack },
        commit: null,
        commit_description: null,
        buildpacks: chosen.map((b) => ({ id: b.id, name: b.name })),
        runtimes: compiled.runtimes,
        config_vars: released.configVars,
        addons: released.addons,
        timings: {},
      },
    });
    return slug.metadata;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
