// Test support (not part of the buildpack): the REAL package managers (pnpm,
// yarn 1, yarn berry, npm), fetched once from the real npm registry into the
// suite's shared cache, run hermetically (a throwaway HOME, store and cache,
// none of the caller's npm_config_*/YARN_*/PNPM_* settings) against a loopback
// registry (./npm-registry-server.ts), and lockfiles made with them.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import YAML from 'yaml';
import { sharedCacheDir } from './cli.js';

/** The real registry the tools are fetched from. */
export const NPM_TOOLS_REGISTRY = 'https://registry.npmjs.org/';

/** A package manager: which one and its version (`bundled`: the npm beside this Node). */
export interface NpmToolSpec {
  kind: 'npm' | 'pnpm' | 'yarn1' | 'berry';
  version: string;
}

/**
 * The versions the tests use: the newest of each major that runs on Node 20
 * (`engines`: pnpm 7 >=14.6, 8 >=16.14, 9 and 10 >=18.12; yarn 1 >=4;
 * @yarnpkg/cli-dist 2 and 3 >=12, 4 >=18.12.0).
 */
export const TOOLS = {
  npm: { kind: 'npm', version: 'bundled' },
  pnpm7: { kind: 'pnpm', version: '7.33.7' },
  pnpm8: { kind: 'pnpm', version: '8.15.9' },
  pnpm9: { kind: 'pnpm', version: '9.15.9' },
  pnpm10: { kind: 'pnpm', version: '10.34.9' },
  yarn1: { kind: 'yarn1', version: '1.22.22' },
  yarn2: { kind: 'berry', version: '2.4.2' },
  yarn3: { kind: 'berry', version: '3.8.7' },
  yarn4: { kind: 'berry', version: '4.18.1' },
} as const satisfies Record<string, NpmToolSpec>;

/** The npm package a tool ships in. */
export function toolPackage(tool: NpmToolSpec): string {
  return { npm: 'npm', pnpm: 'pnpm', yarn1: 'yarn', berry: '@yarnpkg/cli-dist' }[tool.kind];
}

/** The lockfile a tool writes. */
export function lockfileName(tool: NpmToolSpec): string {
  return { npm: 'package-lock.json', pnpm: 'pnpm-lock.yaml', yarn1: 'yarn.lock', berry: 'yarn.lock' }[tool.kind];
}

// --- fetching ---------------------------------------------------------------

/** Reads the entries of an npm tarball (gzip'd tar) into `dest`, dropping the first path component. */
function untgz(bytes: Buffer, dest: string): void {
  const tar = zlib.gunzipSync(bytes);
  let longName: string | null = null;
  let paxPath: string | null = null;
  for (let off = 0; off + 512 <= tar.length; ) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a: number, n: number) => h.subarray(a, a + n).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(str(124, 12).trim() || '0', 8);
    const type = String.fromCharCode(h[156]!);
    const data = tar.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = data.toString('utf8').replace(/\0.*$/s, '');
      continue;
    }
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
      paxPath = m ? m[1]! : null;
      continue;
    }
    if (type === 'g') continue;
    const prefix = str(345, 155);
    const name = longName ?? paxPath ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100));
    longName = paxPath = null;
    const rel = name.split('/').slice(1).join('/');
    if (!rel || rel.split('/').includes('..') || path.isAbsolute(rel)) continue;
    const file = path.join(dest, rel);
    if (type === '5') {
      fs.mkdirSync(file, { recursive: true });
    } else if (type === '0' || type === '\0' || type === '7') {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const mode = parseInt(str(100, 8).trim() || '644', 8) & 0o777;
      fs.writeFileSync(file, data, { mode: mode | 0o644 });
    }
    // Links and devices: npm tarballs of these tools have none.
  }
}

async function fetchOk(url: string): Promise<Response> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(120_000) });
      if (r.ok) return r;
      last = new Error(`HTTP ${r.status} for ${url}`);
      if (r.status < 500) break;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
  }
  throw new Error(`Couldn't fetch ${url}: ${last instanceof Error ? last.message : String(last)}`);
}

/** Where {@link npmTool} keeps `<name>@<version>`. */
export function npmToolDir(name: string, version: string): string {
  return path.join(sharedCacheDir(), 'npm-tools', `${name}@${version}`);
}

function binEntry(dir: string, name: string, bin?: string): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { bin?: string | Record<string, string> };
  const bins = typeof manifest.bin === 'string' ? { [name.replace(/^@[^/]+\//, '')]: manifest.bin } : (manifest.bin ?? {});
  const rel = bin ? bins[bin] : (bins[name.replace(/^@[^/]+\//, '')] ?? Object.values(bins)[0]);
  if (!rel) throw new Error(`${name} has no bin ${bin ?? ''}`);
  return path.join(dir, rel);
}

/**
 * The absolute path of a tool's JS entry (its package.json `bin`, e.g. pnpm's
 * `bin/pnpm.cjs`, yarn's and @yarnpkg/cli-dist's `bin/yarn.js`), fetched
 * once from the real registry (sha512 checked) into
 * `$SLUGC_TEST_CACHE/npm-tools/<name>@<version>/`. Safe when several test
 * files ask at once: each unpacks into its own temp dir and renames it into
 * place; the loser drops its copy.
 */
export async function npmTool(name: string, version: string, bin?: string): Promise<string> {
  const dest = npmToolDir(name, version);
  if (fs.existsSync(path.join(dest, 'package.json'))) return binEntry(dest, name, bin);
  const doc = (await (await fetchOk(`${NPM_TOOLS_REGISTRY}${name.replace('/', '%2f')}/${version}`)).json()) as { dist?: { tarball?: string; integrity?: string } };
  const { tarball, integrity } = doc.dist ?? {};
  if (!tarball || !integrity?.startsWith('sha512-')) throw new Error(`${name}@${version}: no tarball or sha512 integrity in the registry`);
  const bytes = Buffer.from(await (await fetchOk(tarball)).arrayBuffer());
  const got = `sha512-${crypto.createHash('sha512').update(bytes).digest('base64')}`;
  if (got !== integrity) throw new Error(`${name}@${version}: integrity mismatch (${got} != ${integrity})`);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = fs.mkdtempSync(path.join(path.dirname(dest), `.tmp-${path.basename(dest)}-`));
  try {
    untgz(bytes, tmp);
    try {
      fs.renameSync(tmp, dest);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e; // someone else won the race
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return binEntry(dest, name, bin);
}

/** The JS entry of a tool (the npm beside this Node for `bundled`). */
export async function toolEntry(tool: NpmToolSpec): Promise<string> {
  if (tool.kind === 'npm' && tool.version === 'bundled') {
    const entry = path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
    if (!fs.existsSync(entry)) throw new Error(`no npm beside ${process.execPath}`);
    return entry;
  }
  return npmTool(toolPackage(tool), tool.version, tool.kind === 'npm' ? 'npm' : tool.kind === 'pnpm' ? 'pnpm' : 'yarn');
}

// --- running ----------------------------------------------------------------

/** Options of {@link runTool}. */
export interface RunToolOptions {
  cwd: string;
  /** The registry to use (npm, pnpm, yarn 1: `npm_config_registry`; berry: `YARN_NPM_REGISTRY_SERVER` + `unsafeHttpWhitelist`). */
  registryUrl?: string;
  /**
   * The tool's HOME, holding its store, caches and config (pnpm store,
   * npm cache, berry global folder): a throwaway one (removed afterwards)
   * unless given.
   */
  home?: string;
  /** More env (wins over everything). */
  env?: Record<string, string>;
  /** Default 180 s. */
  timeoutMs?: number;
}

/** The outcome of {@link runTool}. */
export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time in ms. */
  ms: number;
}

/** The caller's env without any package manager settings (npm_config_*, YARN_*, PNPM_*, COREPACK_*, npm_*). */
function cleanEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(npm_|yarn_|pnpm_|corepack_|berry_)/i.test(k) || k === 'INIT_CWD' || k === 'NODE_OPTIONS') continue;
    out[k] = v;
  }
  return out;
}

/**
 * The env a tool runs with: the caller's less its package manager settings,
 * HOME and XDG dirs in `home`, node first on PATH, update checks, telemetry
 * and corepack strictness off, and the registry.
 */
export function toolEnv(tool: NpmToolSpec, home: string, registryUrl?: string): Record<string, string> {
  const env: Record<string, string> = {
    ...cleanEnv(),
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_STATE_HOME: path.join(home, '.local', 'state'),
    PATH: [path.dirname(process.execPath), process.env.PATH ?? ''].join(path.delimiter),
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    // A package.json `packageManager` naming another manager must not stop a run.
    COREPACK_ENABLE_STRICT: '0',
    COREPACK_ENABLE_DOWNLOAD_PROMPT: '0',
    SKIP_YARN_COREPACK_CHECK: '1',
  };
  switch (tool.kind) {
    case 'npm':
    case 'pnpm':
      env.npm_config_userconfig = path.join(home, '.npmrc');
      env.npm_config_cache = path.join(home, '.npm');
      env.npm_config_update_notifier = 'false';
      env.npm_config_fund = 'false';
      env.npm_config_audit = 'false';
      if (tool.kind === 'pnpm') {
        env.npm_config_store_dir = path.join(home, 'pnpm-store');
        env.npm_config_cache_dir = path.join(home, 'pnpm-cache');
        env.npm_config_state_dir = path.join(home, 'pnpm-state');
        // pnpm 9.7+ (default on in 10) would fetch the version named by `packageManager` instead.
        env.npm_config_manage_package_manager_versions = 'false';
        env.npm_config_package_manager_strict = 'false';
        env.npm_config_package_manager_strict_version = 'false';
      }
      if (registryUrl) env.npm_config_registry = registryUrl;
      break;
    case 'yarn1':
      env.YARN_IGNORE_PATH = '1';
      env.YARN_CACHE_FOLDER = path.join(home, 'yarn-cache');
      env.YARN_DISABLE_SELF_UPDATE_CHECK = 'true';
      env.npm_config_userconfig = path.join(home, '.npmrc');
      if (registryUrl) env.YARN_REGISTRY = registryUrl;
      break;
    case 'berry':
      env.YARN_IGNORE_PATH = '1';
      env.YARN_ENABLE_TELEMETRY = '0';
      env.YARN_ENABLE_GLOBAL_CACHE = '0';
      env.YARN_GLOBAL_FOLDER = path.join(home, 'berry');
      env.YARN_ENABLE_PROGRESS_BARS = '0';
      env.YARN_ENABLE_INLINE_BUILDS = '1';
      if (registryUrl) {
        env.YARN_NPM_REGISTRY_SERVER = registryUrl.replace(/\/$/, '');
        env.YARN_UNSAFE_HTTP_WHITELIST = new URL(registryUrl).hostname;
      }
      break;
  }
  return env;
}

/** Runs a tool (`node <entry> ...args`) asynchronously (the registry may run in this process) and collects its output. */
export async function runTool(tool: NpmToolSpec, args: string[], options: RunToolOptions): Promise<ToolRun> {
  const entry = await toolEntry(tool);
  const home = options.home ?? fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-npm-tool-home-'));
  fs.mkdirSync(home, { recursive: true });
  const started = Date.now();
  try {
    return await new Promise<ToolRun>((resolve, reject) => {
      const child = spawn(process.execPath, [entry, ...args], {
        cwd: options.cwd,
        env: { ...toolEnv(tool, home, options.registryUrl), ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 180_000);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? (signal ? 128 : -1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: Date.now() - started });
      });
    });
  } finally {
    if (!options.home) fs.rmSync(home, { recursive: true, force: true });
  }
}

/** {@link runTool}, throwing with the output when the tool exits non-zero. */
export async function runToolOk(tool: NpmToolSpec, args: string[], options: RunToolOptions): Promise<ToolRun> {
  const r = await runTool(tool, args, options);
  if (r.code !== 0) {
    throw new Error(`${toolPackage(tool)}@${tool.version} ${args.join(' ')} exited ${r.code} in ${options.cwd}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`);
  }
  return r;
}

// --- lockfiles --------------------------------------------------------------

/** Merges `settings` into `<appDir>/.yarnrc.yml` (created if missing). */
export function mergeYarnrc(appDir: string, settings: Record<string, unknown>): void {
  const file = path.join(appDir, '.yarnrc.yml');
  const current = fs.existsSync(file) ? ((YAML.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown> | null) ?? {}) : {};
  fs.writeFileSync(file, YAML.stringify({ ...current, ...settings }));
}

/** Options of {@link makeLockfile}. */
export interface MakeLockfileOptions {
  /**
   * berry: a full install (builds skipped) keeping `.yarn/cache` and `.pnp.cjs`
   * (yarn 2: `.pnp.js`), as a zero-install repo commits them, with
   * `enableGlobalCache: false` in `.yarnrc.yml` (yarn 3+).
   */
  zeroInstall?: boolean;
  /** More env for the tool. */
  env?: Record<string, string>;
}

/** What {@link makeLockfile} did. */
export interface MadeLockfile {
  /** Absolute path of the lockfile written. */
  lockfile: string;
  /** The tool's run. */
  run: ToolRun;
}

/**
 * Runs the real tool in `appDir` against the registry to write its lockfile,
 * then removes what it made besides (node_modules, .pnp.*, caches, install
 * state; whatever was there before is kept), so the app dir holds only what
 * a user would commit:
 * - pnpm: `install --lockfile-only --no-frozen-lockfile --ignore-scripts`;
 * - yarn 1: `install --no-default-rc --registry <url> --cache-folder <tmp> --ignore-scripts --no-frozen-lockfile`
 *   (its lockfile records `resolved` URLs with this server's port);
 * - berry: writes `npmRegistryServer` and `unsafeHttpWhitelist: [127.0.0.1]`
 *   into `.yarnrc.yml` (kept: the app needs them to install again), then
 *   `install --mode=update-lockfile --no-immutable` (yarn 2, which lacks `--mode`:
 *   `install --skip-builds --no-immutable`; with `zeroInstall`, `install --mode=skip-build`
 *   keeping `.yarn/cache` and `.pnp.*`, and `enableGlobalCache: false` written);
 * - npm: `install --package-lock-only --no-audit --no-fund`.
 */
export async function makeLockfile(tool: NpmToolSpec, appDir: string, registryUrl: string, options: MakeLockfileOptions = {}): Promise<MadeLockfile> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-npm-lock-'));
  const candidates = leftovers(tool, options.zeroInstall ?? false);
  const before = new Set(['.yarn', ...candidates].filter((rel) => fs.existsSync(path.join(appDir, rel))));
  const opts: RunToolOptions = { cwd: appDir, registryUrl, home, ...(options.env ? { env: options.env } : {}) };
  try {
    let run: ToolRun;
    switch (tool.kind) {
      case 'pnpm':
        run = await runToolOk(tool, ['install', '--lockfile-only', '--no-frozen-lockfile', '--ignore-scripts', '--reporter=append-only'], opts);
        break;
      case 'yarn1':
        run = await runToolOk(
          tool,
          ['install', '--no-default-rc', '--registry', registryUrl, '--cache-folder', path.join(home, 'yarn-cache'), '--ignore-scripts', '--no-frozen-lockfile', '--non-interactive', '--no-progress', '--ignore-engines'],
          opts,
        );
        break;
      case 'berry': {
        mergeYarnrc(appDir, {
          npmRegistryServer: registryUrl.replace(/\/$/, ''),
          unsafeHttpWhitelist: [new URL(registryUrl).hostname],
          // A zero-install repo keeps its cache in the project (yarn 4 defaults to a global one).
          ...(options.zeroInstall && berryMajor(tool) >= 3 ? { enableGlobalCache: false } : {}),
        });
        const env = { ...(options.zeroInstall ? {} : { YARN_CACHE_FOLDER: path.join(home, 'berry-cache') }), ...options.env };
        // yarn 2 has no --mode: a full install without builds, whose cache and .pnp.* are then removed.
        // Zero-install: a full install without builds, keeping the cache and .pnp.*.
        const three = berryMajor(tool) >= 3;
        const args = ['install', '--no-immutable', options.zeroInstall ? (three ? '--mode=skip-build' : '--skip-builds') : three ? '--mode=update-lockfile' : '--skip-builds'];
        run = await runToolOk(tool, args, { ...opts, env });
        break;
      }
      case 'npm':
        run = await runToolOk(tool, ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--registry', registryUrl], opts);
        break;
    }
    const lockfile = path.join(appDir, lockfileName(tool));
    if (!fs.existsSync(lockfile)) throw new Error(`${toolPackage(tool)}@${tool.version} wrote no ${lockfileName(tool)} in ${appDir}\n${run.stdout}\n${run.stderr}`);
    removeLeftovers(appDir, candidates, before);
    return { lockfile, run };
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

function berryMajor(tool: NpmToolSpec): number {
  return Number(tool.version.split('.')[0]);
}

/** What an install may leave in the app besides the lockfile, by tool (`kept` with zero-install). */
function leftovers(tool: NpmToolSpec, zeroInstall: boolean): string[] {
  if (tool.kind !== 'berry') return ['node_modules', '.yarn-integrity'];
  const state = ['node_modules', '.yarn/install-state.gz', '.yarn/build-state.yml', '.yarn/unplugged', '.yarn/__virtual__'];
  return zeroInstall ? state : [...state, '.yarn/cache', '.pnp.cjs', '.pnp.js', '.pnp.loader.mjs', '.pnp.data.json'];
}

/** Removes the `leftovers` that were not in the app before (recorded in `before`), and an emptied `.yarn`. */
function removeLeftovers(appDir: string, candidates: string[], before: Set<string>): void {
  for (const rel of candidates) if (!before.has(rel)) fs.rmSync(path.join(appDir, rel), { recursive: true, force: true });
  const yarnDir = path.join(appDir, '.yarn');
  if (!before.has('.yarn') && fs.existsSync(yarnDir) && fs.readdirSync(yarnDir).length === 0) fs.rmdirSync(yarnDir);
}

/**
 * Commits a berry release into the app as a user does (`yarn set version`):
 * copies @yarnpkg/cli-dist's `bin/yarn.js` to `.yarn/releases/yarn-<v>.cjs`
 * and sets `yarnPath` in `.yarnrc.yml`. Returns the release's path relative to the app.
 */
export async function commitBerryRelease(appDir: string, version: string): Promise<string> {
  const entry = await npmTool('@yarnpkg/cli-dist', version, 'yarn');
  const rel = `.yarn/releases/yarn-${version}.cjs`;
  fs.mkdirSync(path.join(appDir, '.yarn', 'releases'), { recursive: true });
  fs.copyFileSync(entry, path.join(appDir, rel));
  fs.chmodSync(path.join(appDir, rel), 0o755);
  mergeYarnrc(appDir, { yarnPath: rel });
  return rel;
}

/** Options of {@link writeBerryApp}. */
export interface BerryAppOptions {
  /** @yarnpkg/cli-dist version, e.g. TOOLS.yarn4.version. */
  version: string;
  /** package.json (name, dependencies...); `packageManager: yarn@<version>` is added unless present. */
  packageJson: Record<string, unknown>;
  /** More `.yarnrc.yml` settings (e.g. `nodeLinker: node-modules`). */
  yarnrc?: Record<string, unknown>;
  /** Other files of the app, path → text. */
  files?: Record<string, string>;
}

/** Writes a berry app into `appDir`: package.json, files, `.yarnrc.yml` and a committed release with `yarnPath` pointing at it. */
export async function writeBerryApp(appDir: string, options: BerryAppOptions): Promise<void> {
  fs.mkdirSync(appDir, { recursive: true });
  fs.writeFileSync(path.join(appDir, 'package.json'), JSON.stringify({ packageManager: `yarn@${options.version}`, ...options.packageJson }, null, 2) + '\n');
  for (const [rel, text] of Object.entries(options.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(appDir, rel)), { recursive: true });
    fs.writeFileSync(path.join(appDir, rel), text);
  }
  if (options.yarnrc) mergeYarnrc(appDir, options.yarnrc);
  await commitBerryRelease(appDir, options.version);
}
