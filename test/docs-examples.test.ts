import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { build } from '../src/index.js';
import { staticBuildpack } from '../docs/examples/static-buildpack.js';
import { buildByStages } from '../docs/examples/stages.js';
import { cleanup, tempDir, testApp } from 'slugc/testing';

afterEach(cleanup);

describe('docs/examples', () => {
  it('the static buildpack builds a site into a slug', async () => {
    const app = testApp({ 'public/index.html': '<h1>hi</h1>' }).dir;
    const r = await build({ sourceDir: app, buildpacks: [staticBuildpack], output: path.join(tempDir(), 'slug.tgz'), cacheDir: tempDir(), hostEnv: { PATH: process.env.PATH } });
    expect(r.log).toMatch(/^ {7}site has 1 file\(s\)$/m);
    expect(r.release.processTypes).toEqual({ web: 'cat "$STATIC_ROOT/index.html"' });
    expect(fs.existsSync(r.slug.path)).toBe(true);
  });

  it('the stage-by-stage example builds the same slug build() does', async () => {
    const app = testApp({ 'public/index.html': '<h1>hi</h1>', Procfile: 'web: cat public/index.html\n' }).dir;
    const dir = tempDir();
    const meta = await buildByStages(app, [staticBuildpack], path.join(dir, 'stages.tgz'));
    const whole = await build({ sourceDir: app, buildpacks: [staticBuildpack], output: path.join(dir, 'build.tgz'), cacheDir: tempDir(), stack: 'debian-12', hostEnv: { PATH: process.env.PATH } });
    expect(meta.process_types).toEqual({ web: 'cat public/index.html' });
    expect(meta.checksum).toBe(whole.slug.metadata.checksum);
  });
});
