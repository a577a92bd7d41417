// The example buildpack's tests, written only against the public exports, as
// a third-party author would write them. CI type-checks and runs this file.
import { clearCache } from 'slugc';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { assertLogContains, assertProcessType, assertSlugContains, cleanup, runBuild, runDetect, startProcess, testApp } from 'slugc/testing';
import { helloBuildpack } from './buildpack.js';

afterEach(cleanup);

// Share the suite's cache dir (set by its global setup) so Node is downloaded once,
// under an app name of this run's own, removed afterwards.
const cacheDir = process.env.SLUGC_TEST_CACHE;
const appName = `docs-hello-${process.pid}`;
afterAll(() => {
  if (cacheDir) clearCache(cacheDir, appName);
});

describe('the hello buildpack', () => {
  it('detects hello.txt, and says why not without it', async () => {
    expect(await runDetect(helloBuildpack, testApp({ 'hello.txt': 'hi' }))).toMatchObject({ pass: true, reason: 'found hello.txt' });
    expect(await runDetect(helloBuildpack, testApp({ 'index.html': '' }))).toMatchObject({ pass: false, reason: 'no hello.txt in the app root' });
  });

  it('builds a slug whose web process answers over HTTP, and rebuilds from the cache', async () => {
    const app = testApp({ 'hello.txt': 'Hello, world' });
    const first = await runBuild({ app, buildpacks: [helloBuildpack], ...(cacheDir ? { cacheDir, appName } : {}) });
    assertLogContains(first, 'compiling the greeting');
    assertSlugContains(first, 'hello-server.js');
    assertSlugContains(first, '.hello/node/bin/node');
    assertSlugContains(first, '.profile.d/hello.sh');
    assertProcessType(first, 'web', 'node hello-server.js');

    const web = await startProcess(first, 'web');
    expect(await (await fetch(web.url)).text()).toMatch(/^Hello, world from v22\./);
    web.stop();

    const second = await first.rebuild();
    expect(second.cache.layers.map((l) => [l.layer, l.hit])).toEqual([
      ['node', true],
      ['greeting', true],
    ]);
    expect(second.log).not.toMatch(/compiling the greeting/);

    const changed = await second.rebuild({ 'hello.txt': 'Hi again' });
    expect(changed.cache.layers.find((l) => l.layer === 'greeting')).toMatchObject({ hit: false, reason: expect.stringMatching(/^key changed: hello_sha256/) });
  });
});
