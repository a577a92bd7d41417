// The loopback npm registry and the real package managers the Node.js
// buildpack's tests run against it (test/support/npm-*.ts): real npm, pnpm
// and yarn (1 and berry) install tiny packages from it, lockfiles made with
// them install again frozen with nothing proxied upstream.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { tempDir } from 'slugc/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNpmRegistry, type NpmRegistry } from './support/npm-registry-server.js';
import { makeLockfile, npmTool, runToolOk, toolPackage, TOOLS, writeBerryApp } from './support/npm-tools.js';

const APP_DEPS = { name: 'app', version: '1.0.0', private: true, dependencies: { right: '1.0.0', '@scope/util': '^1.0.0', 'hello-bin': '^1.0.0' }, devDependencies: { devtool: '^1.0.0' } };

function writeApp(pkg: Record<string, unknown> = APP_DEPS): string {
  const dir = path.join(tempDir('slugc-npm-app-'), 'app');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  return dir;
}

/** Runs `node -e` in `dir` (module resolution from there, through PnP when `.pnp.cjs`/`.pnp.js` exists). */
function nodeIn(dir: string, code: string): string {
  const pnp = ['.pnp.cjs', '.pnp.js'].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
  return execFileSync(process.execPath, [...(pnp ? ['--require', pnp] : []), '-e', code], { cwd: dir, encoding: 'utf8' }).trim();
}

const REQUIRE_ALL = `console.log(require('right'), require('@scope/util'))`;

let registry: NpmRegistry;

beforeAll(async () => {
  registry = await startNpmRegistry();
  // Fetch the tools up front (cached across runs in $SLUGC_TEST_CACHE/npm-tools).
  const entries = await Promise.all([TOOLS.pnpm9, TOOLS.yarn1, TOOLS.yarn4].map((t) => npmTool(toolPackage(t), t.version)));
  expect(entries.map((e) => path.relative(process.env.SLUGC_TEST_CACHE!, e))).toEqual([
    `npm-tools/pnpm@${TOOLS.pnpm9.version}/bin/pnpm.cjs`,
    `npm-tools/yarn@${TOOLS.yarn1.version}/bin/yarn.js`,
    `npm-tools/@yarnpkg/cli-dist@${TOOLS.yarn4.version}/bin/yarn.js`,
  ]);
});

afterAll(async () => {
  await registry?.close();
});

describe('startNpmRegistry', () => {
  it('serves full and abbreviated packuments, scoped names and real tarballs', async () => {
    const full = (await (await fetch(`${registry.url}right`)).json()) as { 'dist-tags': { latest: string }; versions: Record<string, { dist: { tarball: string; integrity: string; shasum: string }; dependencies: Record<string, string> }> };
    expect(full['dist-tags'].latest).toBe('1.0.0');
    expect(full.versions['1.0.0']!.dependencies).toEqual({ left: '^1.0.0' });
    const dist = full.versions['1.0.0']!.dist;
    expect(dist.tarball).toBe(`${registry.url}right/-/right-1.0.0.tgz`);
    expect(dist.integrity).toMatch(/^sha512-/);
    expect(dist.shasum).toMatch(/^[0-9a-f]{40}$/);

    const short = await fetch(`${registry.url}@scope%2futil`, { headers: { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8' } });
    expect(short.headers.get('content-type')).toBe('application/vnd.npm.install-v1+json');
    const shortDoc = (await short.json()) as { name: string; versions: Record<string, { dist: { tarball: string } }> };
    expect(shortDoc.name).toBe('@scope/util');
    const tgz = Buffer.from(await (await fetch(shortDoc.versions['1.0.0']!.dist.tarball)).arrayBuffer());
    const dir = tempDir('slugc-npm-tgz-');
    fs.writeFileSync(path.join(dir, 'p.tgz'), tgz);
    expect(execFileSync('tar', ['-tzf', path.join(dir, 'p.tgz')], { encoding: 'utf8' }).split('\n').filter(Boolean)).toEqual(['package/package.json', 'package/index.js']);

    const left = (await (await fetch(`${registry.url}left`, { headers: { accept: 'application/vnd.npm.install-v1+json' } })).json()) as { 'dist-tags': { latest: string }; versions: Record<string, unknown> };
    expect(left['dist-tags'].latest).toBe('1.1.0');
    expect(Object.keys(left.versions).sort()).toEqual(['1.0.0', '1.1.0']);
    const post = (await (await fetch(`${registry.url}with-postinstall`, { headers: { accept: 'application/vnd.npm.install-v1+json' } })).json()) as { versions: Record<string, { hasInstallScript?: boolean }> };
    expect(post.versions['1.0.0']!.hasInstallScript).toBe(true);
  });

  it('proxies everything else to the real registry, tarball URLs unchanged', async () => {
    const r = await fetch(`${registry.url}@yarnpkg%2fcli-dist`, { headers: { accept: 'application/vnd.npm.install-v1+json' } });
    expect(r.status).toBe(200);
    const doc = (await r.json()) as { versions: Record<string, { dist: { tarball: string } }> };
    expect(doc.versions[TOOLS.yarn4.version]!.dist.tarball).toBe(`https://registry.npmjs.org/@yarnpkg/cli-dist/-/cli-dist-${TOOLS.yarn4.version}.tgz`);
    expect(registry.proxied).toContain('/@yarnpkg%2fcli-dist');
  });

  it('closes every socket, keep-alive ones too, and listens on 127.0.0.1 only', async () => {
    const r = await startNpmRegistry({ upstream: false });
    expect(r.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const agent = new http.Agent({ keepAlive: true });
    const get = (p: string) =>
      new Promise<number>((resolve, reject) => {
        http.get(r.url + p, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', reject);
      });
    expect(await get('left')).toBe(200);
    expect(await get('no-such-package')).toBe(404);
    expect(r.requests).toEqual(['GET /left', 'GET /no-such-package']);
    expect(r.proxied).toEqual(['/no-such-package']);
    await r.close();
    await expect(get('left')).rejects.toThrow(/ECONNREFUSED|socket hang up|ECONNRESET/);
    agent.destroy();
  });

  it('installs with the real npm', async () => {
    const app = writeApp();
    const run = await runToolOk(TOOLS.npm, ['install', '--registry', registry.url, '--no-audit', '--no-fund'], { cwd: app });
    expect(run.code).toBe(0);
    expect(nodeIn(app, REQUIRE_ALL)).toBe('right+left@1.1.0 @scope/util@1.0.0');
    expect(execFileSync(path.join(app, 'node_modules/.bin/hello'), { encoding: 'utf8' })).toBe('hello from hello-bin\n');
    const lock = JSON.parse(fs.readFileSync(path.join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string }> };
    expect(lock.packages['node_modules/left']!.resolved).toBe(registry.tarballUrl('left', '1.1.0'));
  });
});

describe('lockfiles made with the real tools install frozen, offline', () => {
  // Lockfiles are made against `registry` (proxying allowed); installs run
  // against a second server on the same port with no upstream at all.
  let offline: NpmRegistry;
  const apps: Record<string, string> = {};

  beforeAll(async () => {
    for (const [key, tool] of Object.entries({ pnpm9: TOOLS.pnpm9, yarn1: TOOLS.yarn1 })) {
      const app = writeApp();
      const made = await makeLockfile(tool, app, registry.url);
      expect(fs.existsSync(made.lockfile)).toBe(true);
      apps[key] = app;
    }
    // yarn 4 the way users set it up: a committed release and yarnPath.
    const berry = path.join(tempDir('slugc-npm-app-'), 'app');
    await writeBerryApp(berry, { version: TOOLS.yarn4.version, packageJson: APP_DEPS });
    await makeLockfile(TOOLS.yarn4, berry, registry.url);
    apps.yarn4 = berry;
    const port = registry.port;
    await registry.close();
    offline = await startNpmRegistry({ upstream: false, port });
  });

  afterAll(async () => {
    await offline?.close();
  });

  it('pnpm 9: --lockfile-only, then install --frozen-lockfile', async () => {
    const app = apps.pnpm9!;
    expect(fs.readdirSync(app).sort()).toEqual(['package.json', 'pnpm-lock.yaml']);
    await runToolOk(TOOLS.pnpm9, ['install', '--frozen-lockfile'], { cwd: app, registryUrl: offline.url });
    expect(nodeIn(app, REQUIRE_ALL)).toBe('right+left@1.1.0 @scope/util@1.0.0');
    expect(execFileSync(path.join(app, 'node_modules/.bin/hello'), { encoding: 'utf8' })).toBe('hello from hello-bin\n');
    expect(offline.proxied).toEqual([]);
  });

  it('yarn 1: install --frozen-lockfile', async () => {
    const app = apps.yarn1!;
    expect(fs.readdirSync(app).sort()).toEqual(['package.json', 'yarn.lock']);
    expect(fs.readFileSync(path.join(app, 'yarn.lock'), 'utf8')).toContain(`resolved "${offline.url}left/-/left-1.1.0.tgz#`);
    await runToolOk(TOOLS.yarn1, ['install', '--frozen-lockfile', '--no-default-rc', '--non-interactive'], { cwd: app, registryUrl: offline.url });
    expect(nodeIn(app, REQUIRE_ALL)).toBe('right+left@1.1.0 @scope/util@1.0.0');
    expect(offline.proxied).toEqual([]);
  });

  it('yarn 4 (committed release): install --immutable (PnP)', async () => {
    const app = apps.yarn4!;
    expect(fs.readdirSync(app).sort()).toEqual(['.yarn', '.yarnrc.yml', 'package.json', 'yarn.lock']);
    expect(fs.readdirSync(path.join(app, '.yarn'))).toEqual(['releases']);
    expect(fs.readFileSync(path.join(app, '.yarnrc.yml'), 'utf8')).toContain(`npmRegistryServer: http://127.0.0.1:${offline.port}`);
    // The app's .yarnrc.yml names the registry; YARN_IGNORE_PATH=0 runs the committed release.
    const run = await runToolOk(TOOLS.yarn4, ['install', '--immutable'], { cwd: app, env: { YARN_IGNORE_PATH: '0' } });
    expect(run.stdout).toContain(`Yarn ${TOOLS.yarn4.version}`);
    expect(nodeIn(app, REQUIRE_ALL)).toBe('right+left@1.1.0 @scope/util@1.0.0');
    expect(offline.proxied).toEqual([]);
  });
});
