import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { build, createLogger, type Buildpack, type SlugcError } from '../../src/index.js';
import { appNamespace, clearCache } from '../../src/cache/manage.js';
import { fetchDocument } from '../../src/net/mirror.js';
import { nodejsBuildpack } from '../../buildpacks/index.js';
import { FAKE_REGISTRY, fakeRegistry } from '../fake-npm-registry.js';
import { cliBin } from '../support/cli.js';
import { cleanup, tempDir, testApp, treeHash } from 'slugc/testing';

afterEach(cleanup);

const opts = () => ({ cacheDir: tempDir('slugc-cache-'), stack: 'test-1', hostEnv: { PATH: process.env.PATH }, output: path.join(tempDir(), 's.tgz') });

describe('an app symlink that leads outside the build dir', () => {
  it('cannot make a layer delete or write outside (a .heroku symlink and the Node runtime layer)', async () => {
    const victim = tempDir('slugc-victim-');
    fs.mkdirSync(path.join(victim, 'node'));
    fs.writeFileSync(path.join(victim, 'node', 'keep.txt'), 'precious');
    const before = treeHash(victim);
    const app = testApp({ 'package.json': '{"name":"x"}', '.heroku': { link: victim } }).dir;
    const registry = fakeRegistry();
    const err = (await build({ ...opts(), sourceDir: app, buildpacks: [nodejsBuildpack], fetch: registry.fetch, env: { npm_config_registry: FAKE_REGISTRY } }).catch((e: unknown) => e)) as SlugcError;
    expect(err).toMatchObject({ code: 'SLUGC_INVALID_INPUT', buildpack: 'slugc/nodejs', message: expect.stringMatching(/\.heroku is a symlink/) });
    expect(treeHash(victim)).toBe(before);
  });

  it('cannot make .profile.d scripts land outside', async () => {
    const victim = tempDir('slugc-victim-');
    const app = testApp({ '.profile.d': { link: victim } }).dir;
    const bp: Buildpack = { id: 'p', name: 'P', detect: async () => ({ pass: true, reason: 'y' }), compile: (ctx) => ctx.profileD('x', 'export A=1') };
    await expect(build({ ...opts(), sourceDir: app, buildpacks: [bp] })).rejects.toMatchObject({ code: 'SLUGC_INVALID_INPUT', message: expect.stringMatching(/\.profile\.d is a symlink/) });
    expect(fs.readdirSync(victim)).toEqual([]);
  });
});

describe('secrets', () => {
  it('stay out of the error a failing command raises (and so out of --json output)', async () => {
    const bp: Buildpack = { id: 's', name: 'S', detect: async () => ({ pass: true, reason: 'y' }), compile: async (ctx) => void (await ctx.exec('sh', ['-c', 'echo "token is $API_TOKEN"; exit 1'])) };
    const err = (await build({ ...opts(), sourceDir: testApp({}).dir, buildpacks: [bp], env: { API_TOKEN: 'supersecret123' } }).catch((e: unknown) => e)) as SlugcError;
    expect(err.code).toBe('SLUGC_COMMAND_FAILED');
    expect(err.message).toMatch(/token is \[secret\]/);
    expect(JSON.stringify(err.toJSON())).not.toContain('supersecret123');
  });

  it('never send registry credentials to a mirror on another host', async () => {
    const seen: { url: string; auth: string | null }[] = [];
    const recording = (async (input: string | URL | Request, init?: RequestInit) => {
      seen.push({ url: String(input), auth: new Headers(init?.headers).get('authorization') });
      return new Response('{"name":"x","versions":{}}', { status: 200 });
    }) as typeof fetch;
    const ctx = { cacheRoot: tempDir(), fetch: recording, log: createLogger(), stack: 's', os: 'linux', arch: 'x64', offline: false, tmpDir: tempDir() };
    const init = { headers: { authorization: 'Bearer npm_SECRET' } };
    await fetchDocument('https://npm.corp.example/pkg', { ...ctx, mirror: 'http://mirror.lan' }, init);
    await fetchDocument('https://npm.corp.example/pkg2', ctx, init);
    expect(seen).toEqual([
      { url: 'http://mirror.lan/npm.corp.example/pkg', auth: null },
      { url: 'https://npm.corp.example/pkg2', auth: 'Bearer npm_SECRET' },
    ]);
  });
});

describe('app names', () => {
  it('refuse . and .. and anything that could leave the cache dir', () => {
    for (const bad of ['.', '..', '../x', 'a/b', '-x']) expect(() => appNamespace('/tmp/x', bad), bad).toThrow(/as an app name/);
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'apps', 'keep'), { recursive: true });
    expect(() => clearCache(root, '..')).toThrow(/as an app name/);
    expect(fs.existsSync(path.join(root, 'apps', 'keep'))).toBe(true);
  });
});

describe('an interrupted build', () => {
  it('stops the running command, removes its temp dirs and lock, and exits 130', async () => {
    const dir = tempDir();
    const marker = `slugc-sleep-${process.pid}-${Date.now()}`;
    const bp = path.join(dir, 'slow.mjs');
    fs.writeFileSync(bp, `export default { id: 'test/slow', name: 'Slow', async detect() { return { pass: true, reason: 'y' }; },
      async compile(ctx) { ctx.log.info('compiling'); await ctx.exec('bash', ['-c', 'exec -a ${marker} sleep 60']); } };`);
    const cache = tempDir('slugc-cache-');
    const tmpBefore = new Set(fs.readdirSync('/tmp').filter((f) => f.startsWith('slugc-') && !f.startsWith('slugc-test') && !f.startsWith('slugc-app') && !f.startsWith('slugc-cache')));
    const child = spawn(process.execPath, [cliBin, 'build', testApp({ 'a.txt': '' }).dir, '-b', bp, '--cache-dir', cache, '--app', 'slow', '-o', path.join(dir, 's.tgz')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    for (let i = 0; i < 200 && !out.includes('compiling'); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(130);
    expect(out).toMatch(/SLUGC_ABORTED/);
    expect(spawnSync('pgrep', ['-f', marker]).status).not.toBe(0); // the sleep is gone
    expect(fs.existsSync(path.join(cache, 'apps', 'slow.lock'))).toBe(false);
    const leftovers = fs.readdirSync('/tmp').filter((f) => /^slugc-[A-Za-z0-9]{6}$/.test(f) && !tmpBefore.has(f) && fs.existsSync(path.join('/tmp', f, 'app', 'a.txt')));
    expect(leftovers).toEqual([]);
  });
});
