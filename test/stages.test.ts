import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { build, createLogger, detect, detectFailure, type Buildpack, type BuildEvent, SlugcError } from '../src/index.js';
import { cleanup, sha256File, tempDir, testApp, treeHash } from 'slugc/testing';

afterEach(cleanup);

/** A buildpack that detects `marker`, writes a file, exports env and offers process types. */
function fakeBuildpack(id: string, opts: { marker?: string; release?: Record<string, string>; compile?: Buildpack['compile'] } = {}): Buildpack {
  return {
    id,
    name: id.toUpperCase(),
    async detect(ctx) {
      const marker = opts.marker ?? 'marker.txt';
      return fs.existsSync(path.join(ctx.appDir, marker)) ? { pass: true, name: `${id} app`, reason: `found ${marker}` } : { pass: false, reason: `no ${marker}` };
    },
    compile:
      opts.compile ??
      (async (ctx) => {
        fs.writeFileSync(path.join(ctx.appDir, `${id}.txt`), `built by ${id}; saw FROM_A=${ctx.env.FROM_A ?? ''}\n`);
        ctx.exportEnv({ [`FROM_${id.toUpperCase()}`]: 'yes' });
        await ctx.profileD(id, `export ${id.toUpperCase()}_HOME="$HOME/.${id}"`);
        await ctx.exec('sh', ['-c', `echo "compiling ${id} with FROM_A=$FROM_A"`]);
      }),
    async release() {
      return { processTypes: opts.release ?? {} };
    },
  };
}

const slugEntries = (slug: string) =>
  spawnSync('tar', ['-tzf', slug], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean);

describe('detect', () => {
  const log = createLogger();
  const base = { stack: 'test-1', env: {}, log };

  it('picks the first built-in that passes and warns about the others', async () => {
    const app = testApp({ 'marker.txt': '' }).dir;
    const r = await detect({ ...base, appDir: app, explicit: false, buildpacks: [fakeBuildpack('x', { marker: 'nope' }), fakeBuildpack('a'), fakeBuildpack('b')] });
    expect(r.selected).toEqual(['a']);
    expect(r.answers.map((a) => [a.id, a.pass, a.reason])).toEqual([
      ['x', false, 'no nope'],
      ['a', true, 'found marker.txt'],
      ['b', true, 'found marker.txt'],
    ]);
    expect(r.warnings[0]).toMatch(/using a\. Also matched: b/);
  });

  it('reports every answer as a value when nothing applies, and detectFailure says why', async () => {
    const app = testApp({ 'README.md': '' }).dir;
    const r = await detect({ ...base, appDir: app, explicit: false, buildpacks: [fakeBuildpack('a')] });
    expect(r).toMatchObject({ source: 'auto', selected: [], answers: [{ id: 'a', pass: false, reason: 'no marker.txt' }] });
    expect(detectFailure(r)).toMatchObject({
      code: 'SLUGC_NO_BUILDPACK',
      message: expect.stringMatching(/a: no marker\.txt/),
      hint: expect.stringMatching(/--buildpack/),
    });
  });

  it('runs every chosen buildpack, and fails when one of them does not apply', async () => {
    const app = testApp({ 'marker.txt': '' }).dir;
    const r = await detect({ ...base, appDir: app, explicit: true, buildpacks: [fakeBuildpack('a'), fakeBuildpack('b')] });
    expect(r.selected).toEqual(['a', 'b']);
    const failed = await detect({ ...base, appDir: app, explicit: true, buildpacks: [fakeBuildpack('a'), fakeBuildpack('c', { marker: 'x' })] });
    expect(failed.selected).toEqual([]);
    expect(detectFailure(failed)).toMatchObject({ code: 'SLUGC_NO_BUILDPACK', message: expect.stringMatching(/c \(no x\)/) });
  });

  it('turns a detect that throws into a "no" with the reason', async () => {
    const app = testApp({}).dir;
    const broken: Buildpack = { ...fakeBuildpack('z'), detect: () => Promise.reject(new Error('boom')) };
    const r = await detect({ ...base, appDir: app, explicit: false, buildpacks: [broken, fakeBuildpack('a', { marker: '.' })] });
    expect(r.answers[0]).toMatchObject({ pass: false, reason: 'detect failed: boom' });
  });
});

describe('build with custom buildpacks', () => {
  const opts = () => ({ cacheDir: tempDir('slugc-cache-'), stack: 'test-1', hostEnv: { PATH: process.env.PATH } });

  it('compiles in order, passes exported env on, merges releases and lets the Procfile win', async () => {
    const app = testApp({ 'marker.txt': '', Procfile: 'worker: from-procfile\n' }).dir;
    const out = path.join(tempDir(), 'nested', 'dir', 'slug.tgz');
    const events: BuildEvent[] = [];
    const r = await build({
      ...opts(),
      sourceDir: app,
      output: out,
      onEvent: (e) => events.push(e),
      buildpacks: [fakeBuildpack('a', { release: { web: 'a-web', worker: 'a-worker' } }), fakeBuildpack('b', { release: { web: 'b-web', clock: 'b-clock' } })],
    });
    expect(r.release.processTypes).toEqual({ web: 'b-web', worker: 'from-procfile', clock: 'b-clock' });
    expect(r.release.processTypeSources).toEqual({ web: 'b', worker: 'Procfile', clock: 'b' });
    expect(r.log).toMatch(/^ {7}compiling b with FROM_A=yes$/m);
    expect(events.some((e) => e.type === 'output' && e.message === 'compiling b with FROM_A=yes')).toBe(true);
    expect(events.filter((e) => e.type === 'stage' && e.status === 'end').map((e) => (e as { stage: string }).stage)).toEqual([
      'prepare',
      'detect',
      'compile:a',
      'compile:b',
      'compile',
      'release',
      'package',
    ]);

    const entries = slugEntries(out);
    expect(entries.every((e) => e.startsWith('./app/'))).toBe(true);
    expect(fs.readFileSync(path.join(r.slug.path, '..', 'slug.json'), 'utf8')).toContain('SHA256:');
    expect(entries).toEqual(expect.arrayContaining(['./app/', './app/a.txt', './app/b.txt', './app/.profile.d/a.sh', './app/.profile.d/b.sh', './app/Procfile']));

    const meta = JSON.parse(fs.readFileSync(path.join(path.dirname(out), 'slug.json'), 'utf8'));
    expect(meta).toMatchObject({
      process_types: { web: 'b-web', worker: 'from-procfile', clock: 'b-clock' },
      buildpack_provided_description: 'a app, b app',
      checksum: `SHA256:${sha256File(out)}`,
      size: fs.statSync(out).size,
      stack: { name: 'test-1' },
      commit: null,
      buildpacks: [
        { id: 'a', name: 'A', detected: 'a app' },
        { id: 'b', name: 'B', detected: 'b app' },
      ],
    });
    expect(Object.keys(meta.timings)).toEqual(expect.arrayContaining(['prepare', 'detect', 'compile', 'release', 'package', 'compile_by_buildpack']));
  });

  it('gives a byte-identical slug for the same input, and another one for another SOURCE_DATE_EPOCH', async () => {
    const app = testApp({ 'marker.txt': 'x', 'lib/a.js': 'a', 'bin/x': { content: '#!/bin/sh', mode: 0o755 }, l: { link: 'lib/a.js' } }).dir;
    const dir = tempDir();
    const one = await build({ ...opts(), sourceDir: app, output: path.join(dir, 'one.tgz'), buildpacks: [fakeBuildpack('a')] });
    const two = await build({ ...opts(), sourceDir: app, output: path.join(dir, 'two.tgz'), buildpacks: [fakeBuildpack('a')] });
    expect(one.slug.metadata.checksum).toBe(two.slug.metadata.checksum);
    expect(sha256File(path.join(dir, 'one.tgz'))).toBe(sha256File(path.join(dir, 'two.tgz')));
    const three = await build({ ...opts(), sourceDir: app, output: path.join(dir, 'three.tgz'), buildpacks: [fakeBuildpack('a')], hostEnv: { PATH: process.env.PATH, SOURCE_DATE_EPOCH: '1700000000' } });
    expect(three.slug.metadata.checksum).not.toBe(one.slug.metadata.checksum);
    const listing = spawnSync('tar', ['--numeric-owner', '--full-time', '-tvzf', path.join(dir, 'three.tgz')], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } }).stdout;
    expect(listing).toMatch(/0\/0 .*2023-11-14 22:13:20 \.\/app\/lib\/a\.js/);
    expect(listing).toMatch(/^lrwxrwxrwx 0\/0 .* \.\/app\/l -> lib\/a\.js$/m);
  });

  it('says how to add process types without assuming a language when none are found', async () => {
    const app = testApp({ 'marker.txt': 'x' }).dir;
    const quiet: Buildpack = { ...fakeBuildpack('q'), release: undefined as never };
    delete (quiet as { release?: unknown }).release;
    const r = await build({ ...opts(), sourceDir: app, output: path.join(tempDir(), 'slug.tgz'), buildpacks: [quiet] });
    expect(r.release.processTypes).toEqual({});
    const line = r.log.split('\n').find((l) => l.includes('No process types'));
    expect(line).toMatch(/add a Procfile naming the command that starts each process/);
    expect(line).not.toMatch(/node|npm/i);
  });

  it('takes the commit from SOURCE_VERSION, then from git', async () => {
    const app = testApp({ 'marker.txt': '' }).dir;
    const withEnv = await build({ ...opts(), sourceDir: app, output: path.join(tempDir(), 's.tgz'), buildpacks: [fakeBuildpack('a')], env: { SOURCE_VERSION: 'abc123' } });
    expect(withEnv.slug.metadata.commit).toBe('abc123');
    spawnSync('git', ['init', '-q', app]);
    spawnSync('git', ['-C', app, '-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-q', '--allow-empty', '-m', 'x']);
    const head = spawnSync('git', ['-C', app, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
    const withGit = await build({ ...opts(), sourceDir: app, output: path.join(tempDir(), 's.tgz'), buildpacks: [fakeBuildpack('a')] });
    expect(withGit.slug.metadata.commit).toBe(head);
    expect(slugEntries(withGit.slug.path).some((e) => e.includes('.git/'))).toBe(false);
  });

  describe('failures', () => {
    it('names the stage and buildpack, shows the output tail, and leaves the source dir untouched', async () => {
      const app = testApp({ 'marker.txt': '', 'a/b.txt': 'x' }).dir;
      const before = treeHash(app);
      const failing = fakeBuildpack('f', {
        compile: async (ctx) => {
          fs.writeFileSync(path.join(ctx.appDir, 'a/b.txt'), 'changed in the build dir only');
          await ctx.exec('sh', ['-c', 'for i in 1 2 3 4 5; do echo "line $i"; done; echo "fatal: it broke" >&2; exit 3']);
        },
      });
      const out = path.join(tempDir(), 'slug.tgz');
      const err = await build({ ...opts(), sourceDir: app, output: out, buildpacks: [failing] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SlugcError);
      expect(err).toMatchObject({ code: 'SLUGC_COMMAND_FAILED', stage: 'compile', buildpack: 'f', exitCode: 3 });
      expect((err as SlugcError).message).toMatch(/exited with code 3[\s\S]*line 5[\s\S]*fatal: it broke/);
      expect(fs.existsSync(out)).toBe(false);
      expect(treeHash(app)).toBe(before);
    });

    it('wraps a plain error thrown by a buildpack with its id', async () => {
      const app = testApp({ 'marker.txt': '' }).dir;
      const bp = fakeBuildpack('g', { compile: async () => Promise.reject(new TypeError('undefined is not a function')) });
      await expect(build({ ...opts(), sourceDir: app, output: path.join(tempDir(), 's.tgz'), buildpacks: [bp] })).rejects.toMatchObject({
        code: 'SLUGC_BUILDPACK_FAILED',
        stage: 'compile',
        buildpack: 'g',
        message: expect.stringMatching(/Couldn't compile with G: undefined is not a function/),
      });
    });

    it('refuses a broken Procfile before compiling, naming the line', async () => {
      let compiled = false;
      const app = testApp({ 'marker.txt': '', Procfile: 'web: ok\nnot a line\n' }).dir;
      const bp = fakeBuildpack('a', { compile: async () => void (compiled = true) });
      await expect(build({ ...opts(), sourceDir: app, output: path.join(tempDir(), 's.tgz'), buildpacks: [bp] })).rejects.toMatchObject({
        code: 'SLUGC_PROCFILE_INVALID',
        stage: 'prepare',
        message: expect.stringMatching(/line 2/),
      });
      expect(compiled).toBe(false);
    });

    it('validates options, reporting every bad field', async () => {
      await expect(build({ sourceDir: '', stack: 'bad stack', env: { '1X': 'y' } } as never)).rejects.toMatchObject({
        code: 'SLUGC_INVALID_INPUT',
        details: { problems: expect.arrayContaining([expect.stringMatching(/^sourceDir:/), expect.stringMatching(/^stack:/), expect.stringMatching(/^env\.1X:/)]) },
      });
    });

    it('fails when the slug is over the size limit, and warns above the warning limit', async () => {
      const app = testApp({ 'marker.txt': '', 'big.bin': 'x' }).dir;
      fs.writeFileSync(path.join(app, 'big.bin'), Buffer.from(Array.from({ length: 20000 }, (_, i) => (i * 7919) % 251)));
      const out = path.join(tempDir(), 's.tgz');
      const warned = await build({ ...opts(), sourceDir: app, output: out, buildpacks: [fakeBuildpack('a')], limits: { warnBytes: 100, maxBytes: 10_000_000 } });
      expect(warned.log).toMatch(/ !     The slug is .* above the .* warning limit/);
      await expect(build({ ...opts(), sourceDir: app, output: out, buildpacks: [fakeBuildpack('a')], limits: { warnBytes: 10, maxBytes: 100 } })).rejects.toMatchObject({
        code: 'SLUGC_SLUG_TOO_LARGE',
        stage: 'package',
      });
      expect(fs.existsSync(out)).toBe(false);
    });

    it('keeps secret-looking config vars out of the log', async () => {
      const app = testApp({ 'marker.txt': '' }).dir;
      const bp = fakeBuildpack('s', { compile: async (ctx) => void (await ctx.exec('sh', ['-c', 'echo "token is $API_TOKEN"'])) });
      const r = await build({ ...opts(), sourceDir: app, output: path.join(tempDir(), 's.tgz'), buildpacks: [bp], env: { API_TOKEN: 'sekrit-value-123' } });
      expect(r.log).toMatch(/token is \[secret\]/);
      expect(r.log).not.toMatch(/sekrit-value-123/);
    });
  });
});

describe('a slug and a cache dir inside the app dir itself', () => {
  it('are not packed into the next slug', async () => {
    const app = testApp({ 'marker.txt': '' }).dir;
    const bp = fakeBuildpack('a');
    const opts = { cacheDir: path.join(app, '.slugc-cache'), stack: 'test-1', hostEnv: { PATH: process.env.PATH }, buildpacks: [bp], sourceDir: app, output: path.join(app, 'slug.tgz') };
    await build(opts);
    const second = await build(opts);
    const entries = slugEntries(second.slug.path);
    expect(entries).not.toContain('./app/slug.tgz');
    expect(entries).not.toContain('./app/slug.json');
    expect(entries.filter((e) => e.startsWith('./app/.slugc-cache'))).toEqual([]);
    expect(entries).toContain('./app/marker.txt');
  });
});

describe('the stage boundaries', () => {
  it('refuse a release with a process type the platform would reject, naming it', async () => {
    const bp = { ...fakeBuildpack('r'), release: async () => ({ processTypes: { 'web server': 'x' } }) };
    await expect(build({ cacheDir: tempDir(), stack: 't', hostEnv: { PATH: process.env.PATH }, sourceDir: testApp({ 'marker.txt': '' }).dir, output: path.join(tempDir(), 's.tgz'), buildpacks: [bp] })).rejects.toMatchObject({
      code: 'SLUGC_BUILDPACK_FAILED',
      stage: 'release',
      buildpack: 'r',
      message: expect.stringMatching(/processTypes\.web server: process type names match/),
    });
  });

  it('turn a detect that returns nonsense into a "no" that says so', async () => {
    const bp = { ...fakeBuildpack('d'), detect: async () => ({ pass: 'yes' }) as never };
    const r = await detect({ appDir: testApp({}).dir, buildpacks: [bp], explicit: false, stack: 't', env: {}, log: createLogger() }).catch((e: { details: { answers: unknown[] } }) => e.details.answers);
    expect(JSON.stringify(r)).toMatch(/detect failed: Couldn't use what d's detect returned:.*pass:/);
  });

  it('validate their input, listing every problem', async () => {
    await expect(detect({ appDir: '', buildpacks: [{} as Buildpack], explicit: false, stack: 't', env: {}, log: createLogger() })).rejects.toMatchObject({
      code: 'SLUGC_INVALID_INPUT',
      details: { problems: [expect.stringMatching(/^appDir:/), expect.stringMatching(/^buildpacks\.0:/)] },
    });
  });
});
