// The example buildpack's tests, written only against the public exports, as
// a third-party author would write them. CI type-checks and runs this file.
import fs from 'node:fs';
import path from 'node:path';
import { clearCache } from 'slugc';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { assertLogContains, assertProcessType, assertSlugContains, cleanup, execRecorder, runBuild, runCompile, runDetect, startProcess, testApp, treeHash } from 'slugc/testing';
import { helloBuildpack } from './buildpack.js';

afterEach(cleanup);

// Share the suite's cache dir (set by its global setup) so Node is downloaded once,
// under app names of this run's own, removed afterwards. The unit tests get a name
// apart from the build's: their recorded commands leave an empty greeting layer.
const cacheDir = process.env.SLUGC_TEST_CACHE;
const appName = `docs-hello-${process.pid}`;
const unitAppName = `${appName}-unit`;
afterAll(() => {
  if (cacheDir) for (const name of [appName, unitAppName]) clearCache(cacheDir, name);
});

describe('the hello buildpack', () => {
  it('detects hello.txt, and says why not without it', async () => {
    expect(await runDetect(helloBuildpack, testApp({ 'hello.txt': 'hi' }))).toMatchObject({ pass: true, reason: 'found hello.txt' });
    expect(await runDetect(helloBuildpack, testApp({ 'index.html': '' }))).toMatchObject({ pass: false, reason: 'no hello.txt in the app root' });
    // A hello.txt that links out of the app is not one.
    expect(await runDetect(helloBuildpack, testApp({ 'hello.txt': { link: '/etc/hostname' } }))).toMatchObject({ pass: false });
  });

  it('compiles: Node from .hello-version in a launch layer, the greeting rendered with it, .profile.d in terms of $HOME', async () => {
    const app = testApp({ 'hello.txt': 'Hello, world\n', '.hello-version': '# the Node.js line\n22\n' });
    const source = treeHash(app.dir);
    const { exec, commands } = execRecorder();
    const run = await runCompile(helloBuildpack, { app, exec, ...(cacheDir ? { cacheDir, appName: unitAppName } : {}) });
    expect(treeHash(app.dir)).toBe(source); // compile works on a copy

    assertLogContains(run, /\.hello-version/);
    expect(run.runtimes).toEqual([expect.objectContaining({ name: 'node', version: expect.stringMatching(/^22\./) })]);
    expect(run.layers.map((l) => l.layer)).toEqual(['runtime', 'greeting']);
    expect(fs.existsSync(path.join(run.appDir, '.hello/node/bin/node'))).toBe(true);
    expect(fs.existsSync(path.join(run.appDir, '.hello/server.cjs'))).toBe(true);

    // The render ran the Node just installed: its bin dir is first on PATH.
    expect(commands.map((c) => c.command)).toEqual(['node']);
    expect(commands[0]!.args).toContain('Hello, world');
    expect(commands[0]!.env.PATH?.split(':')[0]).toBe(path.join(run.appDir, '.hello/node/bin'));

    const profile = run.profileD('hello');
    expect(profile).toContain('export PATH="$HOME/.hello/node/bin:$PATH"');
    expect(profile).not.toContain(run.appDir);
  });

  it('leaves the greeting uncached with HELLO_CACHE=false', async () => {
    const { exec, commands } = execRecorder();
    const run = await runCompile(helloBuildpack, { app: testApp({ 'hello.txt': 'Hi' }), env: { HELLO_CACHE: 'false' }, exec, ...(cacheDir ? { cacheDir, appName: unitAppName } : {}) });
    assertLogContains(run, 'HELLO_CACHE=false: greeting is not cached');
    expect(run.layers.map((l) => l.layer)).toEqual(['runtime']);
    expect(commands).toHaveLength(1);
  });

  it('fails with its own error code on an empty hello.txt, before downloading anything', async () => {
    await expect(runCompile(helloBuildpack, { app: testApp({ 'hello.txt': '\n' }) })).rejects.toMatchObject({
      code: 'HELLO_GREETING_EMPTY',
      stage: 'compile',
      buildpack: 'example/hello',
      hint: expect.stringContaining('hello.txt'),
    });
  });

  it('builds a slug whose web process answers over HTTP, and rebuilds from the cache', async () => {
    const app = testApp({ 'hello.txt': 'Hello, world' });
    const first = await runBuild({ app, buildpacks: [helloBuildpack], ...(cacheDir ? { cacheDir, appName } : {}) });
    assertLogContains(first, 'Rendering hello.txt');
    assertSlugContains(first, '.hello/node/bin/node');
    assertSlugContains(first, '.hello/greeting/greeting.json');
    assertSlugContains(first, '.hello/server.cjs');
    assertSlugContains(first, '.profile.d/hello.sh');
    assertProcessType(first, 'web', 'node .hello/server.cjs');
    expect(first.slugJson.runtimes).toEqual([expect.objectContaining({ name: 'node', version: expect.stringMatching(/^22\./) })]);

    // Boots as a dyno would, with no Node from the host on PATH: the slug carries its own.
    const web = await startProcess(first, 'web');
    expect(await (await fetch(web.url)).text()).toMatch(/^Hello, world from v22\./);
    expect(JSON.parse(fs.readFileSync(path.join(web.appDir, '.hello/greeting/greeting.json'), 'utf8'))).toMatchObject({ greeting: 'Hello, world', renderedBy: expect.stringMatching(/^v22\./) });
    web.stop();

    const second = await first.rebuild();
    expect(second.cache.layers.map((l) => [l.layer, l.hit])).toEqual([
      ['runtime', true],
      ['greeting', true],
    ]);
    assertLogContains(second, 'hello.txt unchanged: the greeting was restored from the cache');
    expect(second.log).not.toMatch(/Rendering hello\.txt/);

    const changed = await second.rebuild({ 'hello.txt': 'Hi again' });
    expect(changed.cache.layers.find((l) => l.layer === 'greeting')).toMatchObject({ hit: false, reason: expect.stringMatching(/^key changed: lockfile_sha256/) });
    const again = await startProcess(changed, 'web');
    expect(await (await fetch(again.url)).text()).toMatch(/^Hi again from v22\./);
    again.stop();
  });
});
