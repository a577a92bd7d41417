import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { clearCache } from '../src/index.js';
import { parseReleaseYaml } from '../src/classic.js';
import { assertLogContains, assertProcessType, assertSlugContains, type BuildFailure, cleanup, fixtureApp, runBuild, serveMirror, startProcess, tempDir, testApp, treeHash } from 'slugc/testing';
import { repoRoot, runCli, sharedCacheDir } from './support/cli.js';

afterEach(cleanup);
const bp = (name: string) => path.join(repoRoot, 'fixtures', 'buildpacks', name);

describe('classic buildpacks', () => {
  it('runs bin/compile with BUILD_DIR, CACHE_DIR and ENV_DIR, streams its own formatting, and passes export on', async () => {
    const before = treeHash(bp('tool-installer'));
    const run = await runBuild({ app: testApp({ 'index.html': 'hi' }), buildpacks: [bp('tool-installer'), bp('uses-tool')], env: { SOURCE_VERSION: 'abc123' } });
    assertLogContains(run, /^-----> Installing greet$/);
    assertLogContains(run, /^ {7}installed greet; STACK=\S+$/);
    assertLogContains(run, /^ {7}SOURCE_VERSION=abc123$/);
    assertLogContains(run, /^ {7}BUILDPACK_LOG_FILE is set$/);
    assertLogContains(run, /^ {7}HOME=\/\S+\/app$/);
    // The second buildpack found the tool on the PATH the first one exported, and its env.
    assertLogContains(run, /^ {7}hello from greet \(tool-installer\)$/);
    assertSlugContains(run, 'greeting.txt');
    assertSlugContains(run, '.tools/bin/greet');
    assertProcessType(run, 'greeter', 'greet');
    expect(run.detect.answers.map((a) => [a.id, a.pass, a.detected])).toEqual([
      ['classic/tool-installer', true, 'Greet tool'],
      ['classic/uses-tool', true, 'Uses greet'],
    ]);
    // The buildpack ran from a writable copy: its own dir, read-only or not, was never written.
    expect(treeHash(bp('tool-installer'))).toBe(before);
  });

  it('gives config vars to bin/compile in ENV_DIR, and keeps secrets out of the log and the slug', async () => {
    const secret = 'sk_live_RECOGNISABLE_4242';
    const run = await runBuild({ app: testApp({ 'config.marker': '' }), buildpacks: [bp('config-reader')], env: { MESSAGE: 'hello config', API_TOKEN: secret } });
    assertLogContains(run, /^ {7}MESSAGE is hello config$/);
    assertLogContains(run, /^ {7}the token is \[secret\]$/);
    expect(run.log).not.toContain(secret);
    expect(JSON.stringify(run.events)).not.toContain(secret);
    const slugBytes = spawnSync('sh', ['-c', `gzip -dc "${run.slugPath}"`], { maxBuffer: 1 << 28 }).stdout as Buffer;
    expect(slugBytes.includes(Buffer.from('hello config'))).toBe(true);
    expect(slugBytes.includes(Buffer.from(secret))).toBe(false);
  });

  it('merges the release of every buildpack, later ones winning per key, and the Procfile over all', async () => {
    const run = await runBuild({ app: testApp({ Procfile: 'web: echo from-procfile\n' }), buildpacks: [bp('tool-installer'), bp('release-adds'), bp('uses-tool')] });
    expect(run.release.processTypes).toEqual({ worker: "bash -c 'echo working'", web: 'echo from-procfile', greeter: 'greet' });
    expect(run.release.processTypeSources).toEqual({ worker: 'classic/release-adds', web: 'Procfile', greeter: 'classic/uses-tool' });
    expect(run.release.configVars).toEqual({ WEB_CONCURRENCY: '2' });
    expect(run.release.addons).toEqual(['heroku-postgresql']);
  });

  describe('failures', () => {
    it('a buildpack whose detect says no is reported with its reason', async () => {
      const err = (await runBuild({ app: testApp({}), buildpacks: [bp('never-detects')] }).catch((e: unknown) => e)) as BuildFailure;
      expect(err).toMatchObject({ code: 'SLUGC_NO_BUILDPACK', stage: 'detect', message: expect.stringMatching(/classic\/never-detects \(bin\/detect exited 1: no never\.marker here/) });
    });

    it('a failing bin/compile shows the tail of its output', async () => {
      const err = (await runBuild({ app: testApp({}), buildpacks: [bp('fails-compile')] }).catch((e: unknown) => e)) as BuildFailure;
      expect(err).toMatchObject({ code: 'SLUGC_COMMAND_FAILED', stage: 'compile', buildpack: 'classic/fails-compile', exitCode: 3 });
      expect(err.message).toMatch(/step 60\n\s+ !     fatal: the widget is broken/);
      expect(err.message).not.toMatch(/step 5\n/);
      expect(err.log).toMatch(/^-----> Compiling something that breaks$/m);
    });

    it('a bin/compile that hangs is killed after the timeout', async () => {
      const started = Date.now();
      const err = (await runBuild({ app: testApp({}), buildpacks: [bp('hangs')], env: { SLUGC_BUILDPACK_TIMEOUT_MS: '1500' } }).catch((e: unknown) => e)) as BuildFailure;
      expect(err).toMatchObject({ code: 'SLUGC_COMMAND_FAILED', buildpack: 'classic/hangs', hint: expect.stringMatching(/ran longer than 1500 ms/) });
      expect(Date.now() - started).toBeLessThan(15_000);
    });

    it('a bin/release that prints broken YAML is named, with the line', async () => {
      await expect(runBuild({ app: testApp({}), buildpacks: [bp('bad-release')] })).rejects.toMatchObject({
        code: 'SLUGC_BUILDPACK_FAILED',
        stage: 'release',
        message: expect.stringMatching(/Couldn't read the YAML bin\/release of classic\/bad-release printed/),
      });
      expect(() => parseReleaseYaml('default_process_types: [1, 2]\n')).toThrow(/default_process_types: /);
    });
  });
});

describe('where buildpacks come from', () => {
  function tarball() {
    const dir = tempDir();
    const file = path.join(dir, 'buildpacks.test', 'tool-installer.tgz');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    spawnSync('tar', ['-czf', file, '-C', path.join(repoRoot, 'fixtures', 'buildpacks'), 'tool-installer']);
    return { dir, file, sha: crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex') };
  }

  it('fetches a .tgz over HTTP, verifies its pinned sha256, caches it, and refuses a wrong one', async () => {
    const { dir, sha } = tarball();
    const server = await serveMirror(dir);
    const url = `${server.url}/buildpacks.test/tool-installer.tgz`;
    const cacheDir = tempDir('slugc-cache-');
    const ok = await runBuild({ app: testApp({ 'a.txt': '' }), buildpacks: [`${url}#sha256=${sha}`], cacheDir });
    assertLogContains(ok, /^-----> Installing greet$/);
    expect(ok.detect.selected).toEqual([url]);
    const again = await ok.rebuild();
    assertLogContains(again, /using the copy cached earlier/);
    expect(server.requests.filter((p) => p.endsWith('.tgz'))).toHaveLength(1);

    const wrong = 'ab'.repeat(32);
    const err = (await runBuild({ app: testApp({}), buildpacks: [`${url}#sha256=${wrong}`] }).catch((e: unknown) => e)) as BuildFailure;
    expect(err).toMatchObject({ code: 'SLUGC_CHECKSUM_MISMATCH', stage: 'detect' });
    expect(err.message).toContain(`expected sha256:${wrong}`);
    expect(err.message).toContain(`actual   sha256:${sha}`);
  });

  it('takes the order from app.json, then .buildpacks, and says so', async () => {
    const fromAppJson = await runBuild({ app: testApp({ 'app.json': JSON.stringify({ buildpacks: [{ url: bp('tool-installer') }, { url: bp('uses-tool') }] }) }) });
    expect(fromAppJson.detect.source).toBe('app.json');
    assertLogContains(fromAppJson, /Buildpacks from app\.json: classic\/tool-installer, classic\/uses-tool/);
    const fromDotfile = await runBuild({ app: testApp({ '.buildpacks': `# one per line\n${bp('tool-installer')}\n${bp('uses-tool')}\n` }) });
    expect(fromDotfile.detect.source).toBe('.buildpacks');
    expect(fromDotfile.detect.selected).toEqual(['classic/tool-installer', 'classic/uses-tool']);
    await expect(runBuild({ app: testApp({ 'app.json': '{"buildpacks": "heroku/nodejs"}' }) })).rejects.toMatchObject({ code: 'SLUGC_INVALID_INPUT', message: expect.stringMatching(/app\.json buildpacks/) });
    await expect(runBuild({ app: testApp({ '.buildpacks': 'heroku/go\n' }) })).rejects.toMatchObject({ code: 'SLUGC_BUILDPACK_LOAD', message: expect.stringMatching(/does not have it built in yet/) });
  });

  it('clones a git URL at a ref', async () => {
    const repo = path.join(tempDir(), 'bp.git');
    fs.cpSync(bp('tool-installer'), repo, { recursive: true });
    const git = (...args: string[]) => spawnSync('git', ['-C', repo, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { encoding: 'utf8' });
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-qm', 'v1');
    git('tag', 'v1');
    git('commit', '-qm', 'v2: broken', '--allow-empty');
    const run = await runBuild({ app: testApp({}), buildpacks: [`${repo}#v1`] });
    expect(run.detect.selected).toEqual([`${repo}#v1`]);
    assertLogContains(run, /^-----> Installing greet$/);
  });
});

describe('slugc detect', () => {
  it('shows each candidate, the order and why', () => {
    const app = tempDir();
    fs.writeFileSync(path.join(app, '.buildpacks'), `${bp('tool-installer')}\n${bp('never-detects')}\n`);
    const r = runCli(['detect', app]);
    expect(r.stdout).toMatch(/order: the \.buildpacks file/);
    expect(r.stdout).toMatch(/yes {2}classic\/tool-installer \(Greet tool\): bin\/detect said "Greet tool"/);
    expect(r.stdout).toMatch(/no {3}classic\/never-detects: bin\/detect exited 1: no never\.marker here/);
    expect(r.code).toBe(1);
  });
});

describe('a multi-buildpack build', () => {
  const cacheDir = sharedCacheDir();
  const appName = `multi-${process.pid}`;
  afterAll(() => clearCache(cacheDir, appName));

  it('runs a classic buildpack, then the Node.js one, and the web process answers over HTTP', async () => {
    const app = fixtureApp(path.join(repoRoot, 'fixtures', 'apps', 'node-express'));
    const run = await runBuild({ app, buildpacks: [bp('tool-installer'), 'heroku/nodejs'], cacheDir, appName });
    expect(run.detect.selected).toEqual(['classic/tool-installer', 'slugc/nodejs']);
    assertSlugContains(run, '.tools/bin/greet');
    assertSlugContains(run, '.heroku/node/bin/node');
    const web = await startProcess(run, 'web');
    const body = (await (await fetch(web.url)).json()) as { ok: boolean };
    expect(body.ok).toBe(true);
    web.stop();
  });
});
