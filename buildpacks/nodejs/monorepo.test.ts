// An app in a subdirectory of a monorepo (`--app-dir`), built by the Node.js buildpack
// with the real npm and pnpm against the loopback registry (test/support/npm-registry-server.ts):
// the package manager runs at the workspace root (its lockfile), the app's own package.json
// gives engines and scripts, and every process starts in the app's dir.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, runBuild, runCompile, startProcess, tempDir, unpackSlugToTemp } from 'slugc/testing';
import { build as slugcBuild } from 'slugc';
import { nodejsBuildpack } from './index.js';
import { useNpmRegistry } from '../../test/support/npm-registry-server.js';
import { makeLockfile, TOOLS, type NpmToolSpec } from '../../test/support/npm-tools.js';

const loopback = useNpmRegistry();
afterEach(cleanup);

const cacheDir = process.env.SLUGC_TEST_CACHE!;
const env = () => ({ npm_config_registry: loopback().url });

const SERVER = `const http = require('http');
http.createServer((req, res) => res.end(require('lib') + ' ' + require('fs').readFileSync('built.txt', 'utf8').trim())).listen(process.env.PORT, '127.0.0.1');
`;

/** A repo: files written, then the lockfile made by `tool` in `lockDir` (relative) against the loopback registry. */
async function repo(files: Record<string, unknown>, tool: NpmToolSpec | null, lockDir = ''): Promise<string> {
  const dir = path.join(tempDir('slugc-monorepo-'), 'repo');
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  if (tool) await makeLockfile(tool, path.join(dir, lockDir), loopback().url);
  return dir;
}

/** node in `dir` of the build, with its module resolution. */
const nodeIn = (dir: string, code: string) => {
  const r = spawnSync(process.execPath, ['-e', code], { cwd: dir, encoding: 'utf8' });
  return r.stdout.trim() + r.stderr.trim();
};

const workspaceRepo = (root: Record<string, unknown>, web: Record<string, unknown> = {}) => ({
  'package.json': { name: 'monorepo', private: true, ...root },
  'packages/lib/package.json': { name: 'lib', version: '1.0.0', main: 'index.js', dependencies: { right: '1.0.0' } },
  'packages/lib/index.js': "module.exports = 'lib+' + require('right');\n",
  'packages/web/package.json': {
    name: 'web',
    version: '1.0.0',
    engines: { node: '22.x' },
    scripts: { start: 'node server.js', build: 'devtool built > built.txt' },
    dependencies: { lib: '1.0.0' },
    devDependencies: { devtool: '^1.0.0' },
    ...web,
  },
  'packages/web/server.js': SERVER,
  'packages/admin/package.json': { name: 'admin', version: '1.0.0', dependencies: { left: '1.0.0' } },
});

describe('an app in a subdirectory of a monorepo (--app-dir)', () => {
  it('npm workspaces: installs at the root from its lockfile, builds and starts in the app dir, and the slug runs', async () => {
    // web's devDependency left@^1.1.0 conflicts with the hoisted left@1.0.0 (admin pins it): npm puts it in packages/web/node_modules.
    const dir = await repo(workspaceRepo({ workspaces: ['packages/*'] }, { devDependencies: { devtool: '^1.0.0', left: '^1.1.0' } }), TOOLS.npm);
    const lock = JSON.parse(fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; dev?: boolean }> };
    expect(lock.packages['packages/web/node_modules/left']).toMatchObject({ version: '1.1.0', dev: true });
    const r = await runBuild({ app: dir, appBase: 'packages/web', cacheDir, appName: `monorepo-npm-${process.pid}`, env: env(), hostEnv: { PATH: process.env.PATH } });
    expect(r.log).toMatch(/App dir: packages\/web/);
    expect(r.log).toMatch(/found package\.json in packages\/web/);
    expect(r.log).toMatch(/built from the repo root \(slugc\/nodejs: workspaces\)/);
    expect(r.log).toMatch(/Installing in the repo root: the workspace root's package-lock\.json/);
    expect(r.log).toMatch(/engines\.node in package\.json requests "22\.x"/); // the app's own engines
    expect(r.log).toMatch(/Running npm run build in packages\/web/);
    expect(r.release.processTypes).toEqual({ web: 'cd packages/web && npm start' });
    // The whole repo ships: the app, its workspace dependency, the root's node_modules (workspace links).
    for (const f of ['packages/web/built.txt', 'packages/lib/index.js', 'packages/admin/package.json', 'node_modules/right/index.js', '.heroku/node/bin/node', '.profile.d/nodejs.sh']) expect(r.files).toContain(f);
    expect(r.files.some((f) => f.startsWith('node_modules/devtool'))).toBe(false); // pruned at the root
    expect(r.files.some((f) => f.startsWith('packages/web/node_modules/left'))).toBe(false); // and in the project
    expect(r.files).toContain('node_modules/left/index.js'); // the production copy stays
    const profile = spawnSync('tar', ['-xzOf', r.slugPath, './app/.profile.d/nodejs.sh'], { encoding: 'utf8' }).stdout;
    expect(profile).toContain('$HOME/packages/web/node_modules/.bin');
    expect(profile).toContain('$HOME/node_modules/.bin');
    // A no-change rebuild restores every node_modules of the workspace (one layer) and installs nothing.
    const again = await r.rebuild();
    expect(again.log).toMatch(/Workspace of 3 projects: the root's node_modules and each project's cached as one layer/);
    expect(again.log).toMatch(/package-lock\.json unchanged: node_modules restored from the cache/);
    expect(again.log).not.toMatch(/Running npm ci/);
    expect(again.files).toEqual(r.files);
    // Booted as a dyno would (the slug's own Node, no host runtimes on PATH).
    const proc = await startProcess(again);
    try {
      // left@1.0.0: the admin project pins it, so the root's hoisted copy is 1.0.0 and right shares it.
      expect(await (await fetch(proc.url)).text()).toBe('lib+right+left@1.0.0 devtool ran built');
    } finally {
      proc.stop();
    }
  });

  it('each app of a repo has a cache namespace of its own', async () => {
    const dir = await repo(workspaceRepo({ workspaces: ['packages/*'] }), TOOLS.npm);
    const build = (appBase: string, extra: Record<string, string> = {}) =>
      runBuild({ app: dir, ...(appBase ? { appBase } : {}), cacheDir: tempDir('slugc-cache-'), env: { ...env(), ...extra }, hostEnv: { PATH: process.env.PATH } });
    // Without --app, the namespace comes from the app's own dir: web and admin never share layers.
    const cache = tempDir('slugc-cache-');
    const ns = async (appBase: string) =>
      (await slugcBuild({ sourceDir: dir, appBase, output: path.join(tempDir('slugc-slug-'), 'slug.tgz'), cacheDir: cache, builtins: [nodejsBuildpack], env: env(), hostEnv: { PATH: process.env.PATH } })).cache.app;
    const [web, admin] = [await ns('packages/web'), await ns('packages/admin')];
    expect(web).toMatch(/^web-[0-9a-f]+$/);
    expect(admin).toMatch(/^admin-[0-9a-f]+$/);
    // The APP_BASE config var (Heroku's monorepo buildpack's) chooses the app dir too.
    const viaConfig = await build('', { APP_BASE: 'packages/web' });
    expect(viaConfig.release.processTypes).toEqual({ web: 'cd packages/web && npm start' });
    expect(viaConfig.log).toMatch(/App dir: packages\/web \(the APP_BASE config var\)/);
  });

  it('an app with its own lockfile in a repo without workspaces installs in its own dir, cached as a layer', async () => {
    const dir = await repo(
      {
        'README.md': 'two apps\n',
        'apps/api/package.json': { name: 'api', version: '1.0.0', engines: { node: '22.x' }, scripts: { start: 'node index.js' }, dependencies: { right: '1.0.0', 'hello-bin': '1.0.0' } },
        'apps/api/index.js': "console.log(require('right'))\n",
        'apps/site/package.json': { name: 'site', version: '1.0.0' },
      },
      TOOLS.npm,
      'apps/api',
    );
    const first = await runBuild({ app: dir, appBase: 'apps/api', cacheDir, appName: `monorepo-isolated-${process.pid}`, env: env(), hostEnv: { PATH: process.env.PATH } });
    expect(first.log).toMatch(/Installing in apps\/api: its own lockfile \(package-lock\.json\)/);
    expect(first.files).toContain('apps/api/node_modules/right/index.js');
    expect(first.files).not.toContain('node_modules/');
    expect(first.release.processTypes).toEqual({ web: 'cd apps/api && npm start' });
    const profile = spawnSync('tar', ['-xzOf', first.slugPath, './app/.profile.d/nodejs.sh'], { encoding: 'utf8' }).stdout;
    expect(profile).toContain('$HOME/apps/api/node_modules/.bin');
    const again = await first.rebuild();
    expect(again.log).toMatch(/package-lock\.json unchanged: node_modules restored from the cache/);
    expect(again.log).not.toMatch(/Running npm ci/);
    expect(fs.readFileSync(again.slugPath).equals(fs.readFileSync(first.slugPath))).toBe(true); // byte-identical
  });

  it('pnpm workspaces: pnpm at the root (packageManager there), the app resolves its workspace dependency', async () => {
    const files = workspaceRepo({ packageManager: `pnpm@${TOOLS.pnpm9.version}` }, { dependencies: { lib: 'workspace:*' } });
    const dir = await repo({ ...files, 'pnpm-workspace.yaml': 'packages:\n  - packages/*\n' }, TOOLS.pnpm9);
    const r = await runCompile(nodejsBuildpack, { app: dir, appBase: 'packages/web', cacheDir, env: env(), hostEnv: { PATH: process.env.PATH } });
    expect(r.projectDir).toBe(path.join(r.appDir, 'packages/web'));
    expect(r.log).toMatch(/Installing in the repo root: the workspace root's pnpm-lock\.yaml/);
    expect(r.log).toMatch(/Using pnpm 9\.15\.9/);
    expect(r.log).toMatch(/Running pnpm run build in packages\/web/);
    expect(nodeIn(r.projectDir, "console.log(require('lib'))")).toBe('lib+right+left@1.0.0'); // left deduplicated with admin's pin
    expect(fs.readFileSync(path.join(r.projectDir, 'built.txt'), 'utf8')).toBe('devtool ran built\n');
    expect(fs.existsSync(path.join(r.projectDir, 'node_modules/devtool'))).toBe(false); // pruned
    // Built twice into slugs: the rebuild restores the workspace's node_modules (moved into a new
    // build dir), runs the build script and prunes with a production install; the slug still resolves.
    const b = () => runBuild({ app: dir, appBase: 'packages/web', cacheDir, appName: `monorepo-pnpm-${process.pid}`, env: env(), hostEnv: { PATH: process.env.PATH } });
    const cold = await b();
    const warm = await b();
    expect(warm.log).toMatch(/pnpm-lock\.yaml unchanged: node_modules restored from the cache/);
    expect(warm.log).toMatch(/Running pnpm run build in packages\/web/);
    expect(warm.files).toEqual(cold.files);
    const unpacked = await unpackSlugToTemp(warm.slugPath);
    expect(nodeIn(path.join(unpacked, 'packages/web'), "console.log(require('lib'))")).toBe('lib+right+left@1.0.0');
  });

  it('yarn 1 workspaces: yarn at the root, the build script of the app, pruned, the workspace link kept', async () => {
    const dir = await repo(workspaceRepo({ workspaces: ['packages/*'] }), TOOLS.yarn1);
    const r = await runCompile(nodejsBuildpack, { app: dir, appBase: 'packages/web', cacheDir, env: env(), hostEnv: { PATH: process.env.PATH } });
    expect(r.log).toMatch(/Installing in the repo root: the workspace root's yarn\.lock/);
    expect(r.log).toMatch(/Running yarn run build in packages\/web/);
    expect(nodeIn(r.projectDir, "console.log(require('lib'))")).toMatch(/^lib\+right\+left@1\.\d\.0$/);
    expect(fs.readFileSync(path.join(r.projectDir, 'built.txt'), 'utf8')).toBe('devtool ran built\n');
    expect(fs.existsSync(path.join(r.appDir, 'node_modules/devtool'))).toBe(false);
  });

  it("a broken package.json of the app or of another workspace project is named by its path", async () => {
    const { execRecorder } = await import('slugc/testing');
    const broken = async (file: string) => {
      const dir = await repo(workspaceRepo({ workspaces: ['packages/*'] }), null);
      fs.writeFileSync(path.join(dir, 'package-lock.json'), '{}');
      fs.writeFileSync(path.join(dir, file), '{ "name": "x",\n  oops }\n');
      return runCompile(nodejsBuildpack, { app: dir, appBase: 'packages/web', cacheDir, env: env(), exec: execRecorder().exec, hostEnv: { PATH: process.env.PATH } }).catch((e: unknown) => e);
    };
    for (const file of ['packages/web/package.json', 'packages/lib/package.json']) {
      const err = (await broken(file)) as { code: string; message: string; hint: string };
      expect(err.code).toBe('SLUGC_NODEJS_PACKAGE_JSON_INVALID');
      expect(err.message).toContain(file);
      expect(err.hint).toBeTruthy();
    }
  });

  it('warns when the app is not one of the workspace projects', async () => {
    const dir = await repo(workspaceRepo({ workspaces: ['packages/lib'] }), null);
    fs.writeFileSync(path.join(dir, 'package-lock.json'), '{}');
    const { exec, commands } = (await import('slugc/testing')).execRecorder();
    const r = await runCompile(nodejsBuildpack, { app: dir, appBase: 'packages/web', cacheDir, env: env(), exec, hostEnv: { PATH: process.env.PATH } });
    expect(r.log).toMatch(/packages\/web is not one of the workspace projects of the repo root \(packages\/lib\)/);
    const install = commands.find((c) => c.args[0] === 'ci')!;
    expect(install.cwd).toBe(r.appDir);
    expect(commands.find((c) => c.args[0] === 'run')!.cwd).toBe(r.projectDir);
  });
});
