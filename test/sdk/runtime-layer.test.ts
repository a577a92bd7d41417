import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tar from 'tar';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnDyno } from 'slugc';
import { dependencyLayer, installRuntimeLayer, runtimeSources, type Buildpack, type DependencyLayer, type RuntimeLayer } from 'slugc/sdk';
import { assertLogContains, assertProcessType, assertSlugContains, cleanup, fakeFetch, runBuild, runCompile, sha256File, tempDir, testApp, unpackSlugToTemp } from 'slugc/testing';

afterEach(cleanup);

const HELLO_SCRIPT = '#!/bin/sh\necho "Hello from the hello runtime; HELLO_HOME=$HELLO_HOME"\n';

/** A tiny runtime: `bin/hello` in a .tar.gz, listed in an inventory (format v1) under three versions, served over file://. */
function fakeRuntime() {
  const dir = tempDir('slugc-hello-runtime-');
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'hello-1.2.3', 'bin'), { recursive: true });
  fs.writeFileSync(path.join(src, 'hello-1.2.3', 'bin', 'hello'), HELLO_SCRIPT, { mode: 0o755 });
  fs.chmodSync(path.join(src, 'hello-1.2.3', 'bin', 'hello'), 0o755);
  const tarball = path.join(dir, 'hello-1.2.3-linux.tar.gz');
  tar.c({ gzip: true, file: tarball, cwd: src, sync: true, portable: true }, ['hello-1.2.3']);
  const sha256 = sha256File(tarball);
  const url = pathToFileURL(tarball).href;
  const artifact = (version: string) => ({ version, os: 'linux', arch: process.arch, url, checksum: `sha256:${sha256}`, stripComponents: 1 });
  const inventory = path.join(dir, 'hello.json');
  fs.writeFileSync(inventory, JSON.stringify({ schema: 1, name: 'hello', artifacts: [artifact('1.0.0'), artifact('1.2.3'), artifact('2.0.0')] }, null, 2));
  const inventoryUrl = pathToFileURL(inventory).href;
  return { url, sha256, inventoryUrl, env: { SLUGC_HELLO_INVENTORY: inventoryUrl } };
}

/** What the buildpack saw during its last compile. */
interface Seen {
  appDir?: string;
  runtime?: RuntimeLayer;
  deps?: DependencyLayer;
}

/** A buildpack written against slugc/sdk: the hello runtime in a launch layer, and a dependency layer keyed on hello.lock. */
function helloBuildpack(seen: Seen): Buildpack {
  return {
    id: 'test/hello',
    name: 'Hello',
    async detect() {
      return { pass: true, name: 'Hello', reason: 'always' };
    },
    async compile(ctx) {
      seen.appDir = ctx.appDir;
      ctx.log.step('Installing hello');
      seen.runtime = await installRuntimeLayer(ctx, {
        name: 'hello',
        request: '1.x',
        defaultRequest: '1',
        sources: runtimeSources(ctx.env, { lang: 'HELLO', defaults: [], sources: {} }),
        path: '.hello/runtime',
        env: { HELLO_HOME: '${RUNTIME_DIR}' },
      });
      // The exported PATH reaches later commands of the build.
      await ctx.exec('hello', []);
      const deps = dependencyLayer(ctx, {
        name: 'hello_deps',
        path: '.hello/deps',
        lockfiles: ['hello.lock'],
        key: { hello: seen.runtime.runtime.artifact.version },
        optOut: 'HELLO_DEPS_CACHE',
      });
      seen.deps = deps;
      if (!deps.hit) {
        ctx.log.info('installing hello dependencies');
        fs.writeFileSync(path.join(deps.dir, 'installed.txt'), fs.readFileSync(path.join(ctx.appDir, 'hello.lock')));
        await deps.save();
      }
    },
  };
}

const app = () => testApp({ 'Procfile': 'web: hello\n', 'hello.lock': 'greeting 1.0\n' });

/** Every regular file and symlink under `dir`, relative. */
function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walk(dir, r));
    else out.push(r);
  }
  return out;
}

/** The stored copy of the runtime, in the cache's runtime store. */
function storeDir(cacheDir: string, sha256: string): string {
  return path.join(cacheDir, 'runtimes', 'hello', `1.2.3-${sha256.slice(0, 16)}`);
}

const sha8 = (text: string) => crypto.createHash('sha256').update(text).digest('hex').slice(0, 8);

describe('installRuntimeLayer with runCompile', () => {
  it('installs the runtime from the inventory, traces why, and writes a relocatable .profile.d script', async () => {
    const rt = fakeRuntime();
    const seen: Seen = {};
    const fetch = fakeFetch(tempDir());
    const run = await runCompile(helloBuildpack(seen), { app: app(), env: rt.env, fetch: fetch.fetch });
    const runtimeDir = path.join(run.appDir, '.hello', 'runtime');

    // Why 1.2.3: each trace line is in the log, and the slug.json record carries them.
    expect(run.runtimes).toHaveLength(1);
    const record = run.runtimes[0]!;
    expect(record).toMatchObject({ name: 'hello', version: '1.2.3', source: rt.url, checksum: `sha256:${rt.sha256}` });
    expect(record.trace!.length).toBeGreaterThanOrEqual(3);
    for (const line of record.trace!) assertLogContains(run, line);
    assertLogContains(run, `3 versions for linux/${process.arch} on`);
    assertLogContains(run, `from inventory ${rt.inventoryUrl}`);
    assertLogContains(run, 'requested "1.x"');
    assertLogContains(run, 'newest of 2 matching: 1.2.3');
    assertLogContains(run, 'Downloaded hello 1.2.3');
    // file:// URLs are read from disk, never through fetch.
    expect(fetch.calls).toEqual([]);

    // .profile.d in terms of $HOME, with no build path.
    const profile = run.profileD('hello');
    expect(profile).not.toBeNull();
    expect(profile).toContain('export PATH="$HOME/.hello/runtime/bin:$PATH"');
    expect(profile).toContain('export HELLO_HOME="$HOME/.hello/runtime"');
    expect(profile).toContain('hello 1.2.3');
    expect(profile).not.toContain(run.appDir);
    expect(profile).not.toContain(path.dirname(run.appDir));

    // Later commands and buildpacks get the build paths.
    expect(seen.appDir).toBe(run.appDir);
    expect(run.exportedEnv.PATH!.startsWith(`${path.join(runtimeDir, 'bin')}:`)).toBe(true);
    expect(run.exportedEnv.HELLO_HOME).toBe(runtimeDir);
    assertLogContains(run, `Hello from the hello runtime; HELLO_HOME=${runtimeDir}`);
    expect(seen.runtime).toMatchObject({ dir: runtimeDir, path: '.hello/runtime' });
    expect(fs.readFileSync(path.join(runtimeDir, 'bin', 'hello'), 'utf8')).toBe(HELLO_SCRIPT);
    expect(fs.statSync(path.join(runtimeDir, 'bin', 'hello')).mode & 0o111).not.toBe(0);
  });

  it('makes the runtime of hard links to the store, new on the first build and restored on the next', async () => {
    const rt = fakeRuntime();
    const cacheDir = tempDir('slugc-cache-');
    const a = app();
    const first = await runCompile(helloBuildpack({}), { app: a, env: rt.env, cacheDir, appName: 'hello-layer' });
    expect(first.layers.find((l) => l.layer === 'runtime')).toMatchObject({ hit: false, state: 'new', reason: 'new' });

    const inApp = fs.statSync(path.join(first.appDir, '.hello', 'runtime', 'bin', 'hello'));
    const inStore = fs.statSync(path.join(storeDir(cacheDir, rt.sha256), 'bin', 'hello'));
    expect(inApp.nlink).toBeGreaterThan(1);
    expect(inApp.ino).toBe(inStore.ino);
    expect(inApp.dev).toBe(inStore.dev);
    // The layer keeps only its key: no second copy of the runtime in the app's cache.
    const layerMeta = JSON.parse(fs.readFileSync(path.join(cacheDir, 'apps', 'hello-layer', 'layers', 'test_hello', 'runtime.json'), 'utf8')) as { linked?: boolean; key: Record<string, unknown> };
    expect(layerMeta.linked).toBe(true);
    expect(layerMeta.key).toMatchObject({ name: 'hello', version: '1.2.3', checksum: `sha256:${rt.sha256}`, arch: process.arch });
    expect(fs.existsSync(path.join(cacheDir, 'apps', 'hello-layer', 'layers', 'test_hello', 'runtime'))).toBe(false);

    const second = await runCompile(helloBuildpack({}), { app: a, env: rt.env, cacheDir, appName: 'hello-layer' });
    expect(second.layers.find((l) => l.layer === 'runtime')).toMatchObject({ hit: true, state: 'restored', reason: 'restored' });
    expect(second.layers.find((l) => l.layer === 'hello_deps')).toMatchObject({ hit: true, state: 'restored' });
    assertLogContains(second, 'already unpacked in the cache');
    expect(second.log).not.toContain('Downloaded hello');
    expect(second.log).not.toContain('installing hello dependencies');
    expect(fs.statSync(path.join(second.appDir, '.hello', 'runtime', 'bin', 'hello')).ino).toBe(inStore.ino);
    expect(second.runtimes).toEqual([expect.objectContaining({ name: 'hello', version: '1.2.3' })]);
  });

  it('notices a stored runtime changed in place through a link, and unpacks it again', async () => {
    const rt = fakeRuntime();
    const cacheDir = tempDir('slugc-cache-');
    const a = app();
    await runCompile(helloBuildpack({}), { app: a, env: rt.env, cacheDir, appName: 'hello-tamper' });
    const stored = path.join(storeDir(cacheDir, rt.sha256), 'bin', 'hello');
    fs.appendFileSync(stored, 'echo tampered\n');

    const again = await runCompile(helloBuildpack({}), { app: a, env: rt.env, cacheDir, appName: 'hello-tamper' });
    assertLogContains(again, 'The cached hello 1.2.3 was changed in place (bin/hello); unpacking it again from the verified download.');
    assertLogContains(again, 'hello 1.2.3: verified download found in the cache');
    expect(again.log).not.toContain('already unpacked in the cache');
    expect(fs.readFileSync(path.join(again.appDir, '.hello', 'runtime', 'bin', 'hello'), 'utf8')).toBe(HELLO_SCRIPT);
    expect(fs.readFileSync(stored, 'utf8')).toBe(HELLO_SCRIPT);
    expect(again.log).not.toContain('tampered');

    // Once repaired, the next build trusts it again.
    const third = await runCompile(helloBuildpack({}), { app: a, env: rt.env, cacheDir, appName: 'hello-tamper' });
    expect(third.log).not.toContain('changed in place');
    assertLogContains(third, 'already unpacked in the cache');
  });

  it('turns the dependency cache off with <OPT_OUT>=false, and says so', async () => {
    const rt = fakeRuntime();
    const seen: Seen = {};
    const run = await runCompile(helloBuildpack(seen), { app: app(), env: { ...rt.env, HELLO_DEPS_CACHE: 'false' } });
    expect(seen.deps).toMatchObject({ layer: null, hit: false, dir: path.join(run.appDir, '.hello', 'deps') });
    expect(seen.deps!.lockfiles).toEqual({ 'hello.lock': crypto.createHash('sha256').update('greeting 1.0\n').digest('hex') });
    assertLogContains(run, 'HELLO_DEPS_CACHE=false: hello_deps is not cached');
    expect(run.layers.map((l) => l.layer)).toEqual(['runtime']);
    expect(fs.readFileSync(path.join(run.appDir, '.hello', 'deps', 'installed.txt'), 'utf8')).toBe('greeting 1.0\n');
  });
});

describe('installRuntimeLayer with runBuild', () => {
  it('builds a slug with no build path in any file, whose web command runs the runtime', async () => {
    const rt = fakeRuntime();
    const seen: Seen = {};
    const run = await runBuild({ app: app(), buildpacks: [helloBuildpack(seen)], env: rt.env });
    assertProcessType(run, 'web', 'hello');
    assertSlugContains(run, '.hello/runtime/bin/hello');
    assertSlugContains(run, '.profile.d/hello.sh');
    assertSlugContains(run, '.hello/deps/installed.txt');
    expect(run.slugJson.runtimes).toEqual([expect.objectContaining({ name: 'hello', version: '1.2.3', checksum: `sha256:${rt.sha256}` })]);

    expect(seen.appDir).toBeDefined();
    const buildDir = seen.appDir!;
    const unpacked = await unpackSlugToTemp(run.slugPath);
    const files = walk(unpacked);
    expect(files).toContain('.hello/runtime/bin/hello');
    expect(files.length).toBeGreaterThanOrEqual(5);
    const needle = Buffer.from(buildDir);
    const withBuildPath = files.filter((f) => {
      const full = path.join(unpacked, f);
      const st = fs.lstatSync(full);
      const content = st.isSymbolicLink() ? Buffer.from(fs.readlinkSync(full)) : fs.readFileSync(full);
      return content.includes(needle);
    });
    expect(withBuildPath).toEqual([]);

    // Run as a dyno would: HOME is the unpacked app, .profile.d is sourced, the host PATH has no hello.
    const child = spawnDyno({ appDir: unpacked, command: run.release.processTypes.web!, path: '/usr/bin:/bin' });
    let output = '';
    child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(output).toBe(`Hello from the hello runtime; HELLO_HOME=${path.join(unpacked, '.hello', 'runtime')}\n`);
    expect(code).toBe(0);
  });

  it('restores both layers on a rebuild, and names the lockfile when it changes', async () => {
    const rt = fakeRuntime();
    const first = await runBuild({ app: app(), buildpacks: [helloBuildpack({})], env: rt.env });
    expect(first.cache.layers.map((l) => [l.layer, l.state])).toEqual([
      ['runtime', 'new'],
      ['hello_deps', 'new'],
    ]);
    const second = await first.rebuild();
    expect(second.cache.layers.map((l) => [l.layer, l.state])).toEqual([
      ['runtime', 'restored'],
      ['hello_deps', 'restored'],
    ]);
    const third = await second.rebuild({ 'hello.lock': 'greeting 2.0\n' });
    expect(third.cache.layers.find((l) => l.layer === 'runtime')).toMatchObject({ hit: true, state: 'restored' });
    expect(third.cache.layers.find((l) => l.layer === 'hello_deps')).toMatchObject({
      hit: false,
      state: 'key-changed',
      reason: `key changed: lockfile_sha256 ${sha8('greeting 1.0\n')}.. -> ${sha8('greeting 2.0\n')}..`,
    });
    assertLogContains(third, `cache miss: hello_deps (key changed: lockfile_sha256 ${sha8('greeting 1.0\n')}..`);
    assertLogContains(third, 'installing hello dependencies');
    const unpacked = await unpackSlugToTemp(third.slugPath);
    expect(fs.readFileSync(path.join(unpacked, '.hello', 'deps', 'installed.txt'), 'utf8')).toBe('greeting 2.0\n');
  });
});
