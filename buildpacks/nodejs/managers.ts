import path from 'node:path';
import semver from 'semver';
import fs from 'node:fs';
import { readConfigFile, resolveAppFile, type CompileContext } from 'slugc/sdk';
import type { PackageManagerChoice } from './package-manager.js';
import { pruneDevDependencies } from './prune.js';

/**
 * Where a package manager works: `install` is the workspace root (where the
 * lockfile is: installs, updates and prunes run there), `project` the app's
 * own dir (its scripts run there). The same dir for an app on its own.
 */
export interface ToolDirs {
  install: string;
  project: string;
}

/** What the build does with a package manager: install, run scripts, prune. */
export interface PackageManagerOps {
  /** `npm 10.9.0`, `yarn 4.5.0`, `pnpm 9.12.0`. */
  label: string;
  /** The install command, for the log (`npm ci`, `yarn install --immutable`). */
  installCommand: string;
  /** Installs every dependency, devDependencies included. */
  install(): Promise<void>;
  /**
   * Brings the previous install (restored in place) up to the new lockfile,
   * when the tool can do that and give what a fresh install gives; resolves
   * false when it cannot (the caller empties the tree and installs).
   */
  update?(): Promise<boolean>;
  /** Runs a package.json script, in the app's dir (or `cwd`). */
  run(script: string, cwd?: string): Promise<void>;
  /** Removes devDependencies from what the slug ships; returns why it did not, or null. */
  prune(): Promise<string | null>;
  /**
   * Where the installed tree lives when it can be cached and restored
   * whole (`node_modules`), or null when an install must run on every build
   * (Plug'n'Play, workspaces whose projects each get a node_modules).
   */
  layerPath: string | null;
  /** Restoring by hard link is safe only when nothing rewrites installed files in place after the save. */
  linkSafeAfterInstall: boolean;
}

/** npm: `npm ci` where it exists (5.7 and later) and a lockfile is committed, `npm install` otherwise or with `USE_NPM_INSTALL=true`. */
export function npmOps(ctx: CompileContext, dirs: ToolDirs, version: string, lockfile: string | null, workspaces = false): PackageManagerOps {
  const cwd = dirs.install;
  const ci = lockfile !== null && semver.gte(version, '5.7.0') && ctx.env.USE_NPM_INSTALL !== 'true';
  const modern = semver.gte(version, '7.0.0');
  const installArgs = ci ? ['ci'] : ['install'];
  // npm 7+ knows --include=dev; older ones install devDependencies unless told --production.
  const devFlags = modern ? ['--include=dev'] : ['--production=false'];
  return {
    label: `npm ${version}`,
    installCommand: `npm ${installArgs[0]}`,
    async install() {
      if (ctx.env.USE_NPM_INSTALL === 'true' && lockfile) ctx.log.info('USE_NPM_INSTALL=true: npm install instead of npm ci');
      else if (!lockfile) ctx.log.info('No package-lock.json: npm install (commit one for repeatable builds)');
      else if (!ci) ctx.log.info(`npm ${version} has no npm ci (it came with npm 5.7): npm install`);
      await ctx.exec('npm', [...installArgs, ...devFlags, '--no-audit', '--no-fund'], {
        cwd,
        hint: ci ? 'If package-lock.json is out of sync with package.json, run `npm install` locally and commit the lockfile.' : 'npm install failed; its output is above.',
      });
    },
    ...(ci && modern
      ? {
          async update() {
            // npm install reifies only what differs from the tree on disk (one added package: ~1 s
            // against ~12 s for npm ci of 579 packages). It may rewrite the lockfile (key order,
            // `resolved`), so the committed bytes are put back; and when it resolved anything
            // differently, package.json and the lockfile disagree: redo with npm ci, which says so.
            const file = path.join(cwd, lockfile);
            const committed = fs.readFileSync(file);
            ctx.log.info(`Running npm install on the previous node_modules (${lockfile} changed; npm ci would start from nothing)`);
            await ctx.exec('npm', ['install', ...devFlags, '--no-audit', '--no-fund', '--prefer-offline'], { cwd, hint: 'npm install failed; its output is above.' });
            const same = sameResolution(committed.toString('utf8'), fs.readFileSync(file, 'utf8'));
            fs.writeFileSync(file, committed);
            if (!same) ctx.log.info(`npm install resolved differently from ${lockfile}: installing again with npm ci`);
            return same;
          },
        }
      : {}),
    run: (script, at) => runScript(ctx, at ?? dirs.project, 'npm', script),
    async prune() {
      // From the lockfile, without npm: the same result as `npm prune --omit=dev`,
      // and a restored node_modules needs no package manager at all.
      const pruned = lockfile ? pruneDevDependencies(cwd) : null;
      if (pruned) ctx.log.info(`Removed ${pruned.packages.length} devDependenc${pruned.packages.length === 1 ? 'y' : 'ies'}`);
      else await ctx.exec('npm', ['prune', modern ? '--omit=dev' : '--production', '--no-audit', '--no-fund'], { cwd });
      return null;
    },
    // Workspace projects may get node_modules of their own: install on every build.
    layerPath: workspaces ? null : 'node_modules',
    // Our own prune writes node_modules/.package-lock.json beside and renames it; npm prune (the fallback) is not trusted.
    linkSafeAfterInstall: lockfile !== null,
  };
}

/** yarn 1: `yarn install --frozen-lockfile`, pruned by a production install; `YARN_PRODUCTION=true` installs production dependencies only. */
export function yarnClassicOps(ctx: CompileContext, dirs: ToolDirs, version: string, choice: PackageManagerChoice, workspaces: boolean): PackageManagerOps {
  const cwd = dirs.install;
  const frozen = choice.lockfile ? ['--frozen-lockfile'] : [];
  const productionOnly = ctx.env.YARN_PRODUCTION === 'true';
  const cacheFolder = path.join(ctx.cacheDir, 'yarn-cache');
  const common = ['--non-interactive', '--cache-folder', cacheFolder];
  return {
    label: `yarn ${version}`,
    installCommand: `yarn install${frozen.length ? ' --frozen-lockfile' : ''}`,
    async install() {
      if (!choice.lockfile) ctx.log.info('No yarn.lock: yarn install (commit one for repeatable builds)');
      if (productionOnly) ctx.log.info('YARN_PRODUCTION=true: production dependencies only');
      await ctx.exec('yarn', ['install', ...frozen, `--production=${productionOnly}`, ...common], {
        cwd,
        hint: choice.lockfile ? 'If yarn.lock is out of date, run `yarn install` locally and commit it.' : 'yarn install failed; its output is above.',
      });
    },
    run: (script, at) => runScript(ctx, at ?? dirs.project, 'yarn', script),
    async prune() {
      if (productionOnly) return 'YARN_PRODUCTION=true installed production dependencies only';
      await ctx.exec('yarn', ['install', ...frozen, '--production=true', '--ignore-scripts', '--prefer-offline', ...common], { cwd });
      return null;
    },
    layerPath: workspaces ? null : 'node_modules',
    // yarn rewrites node_modules/.yarn-integrity in place when it prunes.
    linkSafeAfterInstall: false,
  };
}

/**
 * yarn 2+: `yarn install --immutable` with the committed release (`yarnPath`)
 * or the installed one; a committed `.yarn/cache` (zero-installs) is used as
 * it is, otherwise yarn's cache is kept in the build cache. Pruned with
 * `yarn workspaces focus --all --production` where the command exists
 * (built into yarn 4; yarn 2 and 3 need the workspace-tools plugin).
 */
export function yarnBerryOps(ctx: CompileContext, dirs: ToolDirs, version: string, choice: PackageManagerChoice, workspaces: boolean): PackageManagerOps {
  const cwd = dirs.install;
  const zeroInstall = isAppDir(cwd, '.yarn/cache');
  const env: Record<string, string> = { YARN_ENABLE_TELEMETRY: '0', YARN_ENABLE_GLOBAL_CACHE: 'false', YARN_ENABLE_PROGRESS_BARS: 'false' };
  if (!zeroInstall) env.YARN_CACHE_FOLDER = path.join(ctx.cacheDir, 'yarn-berry-cache');
  const major = semver.major(version);
  const rc = readConfigFile(cwd, '.yarnrc.yml', 'yaml') as Record<string, unknown> | null;
  const plugins = Array.isArray(rc?.plugins) ? (rc.plugins as unknown[]).map((p) => (typeof p === 'string' ? p : typeof p === 'object' && p !== null ? String((p as { path?: unknown; spec?: unknown }).spec ?? (p as { path?: unknown }).path ?? '') : '')) : [];
  const canFocus = major >= 4 || plugins.some((p) => /workspace-tools/.test(p));
  const linker = choice.nodeLinker ?? 'pnp';
  return {
    label: `yarn ${version}${choice.yarnPath ? ` (${choice.yarnPath})` : ''}`,
    installCommand: 'yarn install --immutable',
    async install() {
      if (zeroInstall) ctx.log.info('.yarn/cache is committed (zero-installs): no downloads');
      ctx.log.info(`nodeLinker: ${linker}`);
      await ctx.exec('yarn', ['install', '--immutable'], { cwd, env, hint: 'If yarn.lock is out of date, run `yarn install` locally and commit it.' });
    },
    run: (script, at) => runScript(ctx, at ?? dirs.project, 'yarn', script, env),
    async prune() {
      if (!canFocus) return `yarn ${version} has no \`yarn workspaces focus\` without the workspace-tools plugin (yarn plugin import workspace-tools)`;
      await ctx.exec('yarn', ['workspaces', 'focus', '--all', '--production'], { cwd, env });
      return null;
    },
    layerPath: linker === 'pnp' || workspaces ? null : 'node_modules',
    linkSafeAfterInstall: false,
  };
}

/** pnpm: `pnpm install --frozen-lockfile` (devDependencies too, whatever NODE_ENV says), the store in the build cache, pruned with `pnpm prune --prod`. */
export function pnpmOps(ctx: CompileContext, dirs: ToolDirs, version: string, choice: PackageManagerChoice, workspaces: boolean): PackageManagerOps {
  const cwd = dirs.install;
  // The store in the build cache, for every pnpm command (prune takes no --store-dir, but checks the store's place).
  const store: string[] = [];
  const env = {
    CI: 'true',
    npm_config_update_notifier: 'false',
    npm_config_store_dir: path.join(ctx.cacheDir, 'pnpm-store'),
    // The version packageManager names is the one installed: pnpm 10 must not try to switch to it itself.
    npm_config_manage_package_manager_versions: 'false',
    npm_config_package_manager_strict: 'false',
    // pnpm's .bin shims would carry the build dir in NODE_PATH: a path that does not exist at
    // boot, in every slug (and different in each). Node finds the hoisted packages from the
    // shim's real path anyway (node_modules/.pnpm/node_modules). pnpm 7 ignores the setting.
    npm_config_extend_node_path: 'false',
  };
  const frozen = choice.lockfile ? ['--frozen-lockfile'] : ['--no-frozen-lockfile'];
  return {
    label: `pnpm ${version}`,
    installCommand: `pnpm install ${frozen[0]}`,
    async install() {
      if (!choice.lockfile) ctx.log.info('No pnpm-lock.yaml: pnpm install (commit one for repeatable builds)');
      await ctx.exec('pnpm', ['install', ...frozen, '--prod=false', ...store], { cwd, env, hint: 'If pnpm-lock.yaml is out of date, run `pnpm install` locally and commit it.' });
    },
    run: (script, at) => runScript(ctx, at ?? dirs.project, 'pnpm', script, env),
    async prune() {
      if (workspaces) {
        // pnpm prune does not work across a workspace (pnpm's docs say so: it empties the projects'
        // node_modules): a production install instead, from the store just filled, no scripts run again.
        await ctx.exec('pnpm', ['install', ...frozen, '--prod', '--ignore-scripts', '--prefer-offline', '--config.confirmModulesPurge=false', ...store], { cwd, env });
        return null;
      }
      // pnpm prune runs the package's install scripts again, without the devDependencies they may need.
      await ctx.exec('pnpm', ['prune', '--prod', ...store], { cwd, env: { ...env, npm_config_ignore_scripts: 'true' } });
      return null;
    },
    layerPath: workspaces ? null : 'node_modules',
    // pnpm rewrites node_modules/.modules.yaml in place when it prunes.
    linkSafeAfterInstall: false,
  };
}

/**
 * True when two npm lockfiles resolve every package the same way (same
 * entries, versions, integrity, links, dev and optional flags), whatever
 * their key order or whether they record `resolved` URLs.
 */
export function sameResolution(a: string, b: string): boolean {
  type Entry = { version?: string; integrity?: string; link?: boolean; dev?: boolean; optional?: boolean; devOptional?: boolean; resolved?: string };
  const norm = (text: string) => {
    let lock: { packages?: Record<string, Entry> };
    try {
      lock = JSON.parse(text) as typeof lock;
    } catch {
      return null;
    }
    if (!lock.packages) return null;
    return Object.keys(lock.packages)
      .filter((k) => k !== '')
      .sort()
      .map((k) => {
        const e = lock.packages![k]!;
        return JSON.stringify([k, e.version, e.integrity, e.link ?? false, e.dev ?? false, e.optional ?? false, e.devOptional ?? false, e.link ? e.resolved : null]);
      })
      .join('\n');
  };
  const x = norm(a);
  return x !== null && x === norm(b);
}

/** True when `rel` is a dir inside the app (never through a link out of it). */
function isAppDir(appDir: string, rel: string): boolean {
  try {
    const real = resolveAppFile(appDir, rel);
    return real !== null && fs.statSync(real).isDirectory();
  } catch {
    return false;
  }
}

async function runScript(ctx: CompileContext, cwd: string, tool: string, name: string, env?: Record<string, string>): Promise<void> {
  const where = path.relative(ctx.appDir, cwd);
  ctx.log.info(`Running ${tool} run ${name}${where ? ` in ${where}` : ''}`);
  await ctx.exec(tool, ['run', name], { cwd, ...(env ? { env } : {}), hint: `The "${name}" script in package.json failed; its output is above.` });
}
