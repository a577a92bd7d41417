import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CommandFailedError,
  SlugcError,
  VersionUnsatisfiableError,
  urlCredentials,
  assertInside,
  appFileExists,
  createDebianSource,
  dependencyLayer,
  installRuntimeLayer,
  readAppFile,
  requestFrom,
  resolveAppFile,
  rewriteShebangs,
  runtimeSources,
  type CompileContext,
  type InstalledRuntimeResult,
} from 'slugc/sdk';
import { lockedRubyVersion, parseGemfileLock, type GemfileLock } from './gemfile-lock.js';
import { BUNDLE_DIR, RUBY_HOME, RUBY_LIB } from './layout.js';
import { gemfileRubyRequest, parseRubyVersionFile } from './version.js';

/** Options of the Ruby buildpack. */
export interface RubyBuildpackOptions {
  /** The version request when the app names none (default: the newest the sources offer). */
  defaultVersion?: string;
}

/** Reads and parses Gemfile.lock; a missing one says how to make it. */
export function readGemfileLock(appDir: string): { text: string; lock: GemfileLock } {
  const text = readAppFile(appDir, 'Gemfile.lock');
  if (text === null) {
    throw new SlugcError('SLUGC_RUBY_LOCKFILE_MISSING', "Couldn't install the app's gems: there is no Gemfile.lock.", {
      hint: 'Run `bundle lock` (or `bundle install`) and commit Gemfile.lock: a build installs exactly what the lock pins.',
    });
  }
  return { text, lock: parseGemfileLock(text, 'Gemfile.lock') };
}

/** The version request: RUBY VERSION in Gemfile.lock, the Gemfile's ruby directive, .ruby-version, in that order. */
export function rubyRequest(appDir: string, lock: GemfileLock): { request?: string; requestFrom?: string } {
  const r = requestFrom(appDir, [
    { file: 'Gemfile.lock', label: 'RUBY VERSION in Gemfile.lock', read: (_t, f) => (lock.rubyVersion ? lockedRubyVersion(lock.rubyVersion, f) : undefined) },
    { file: 'Gemfile', label: 'the ruby directive in Gemfile', read: (t, f) => gemfileRubyRequest(t, f) },
    { file: '.ruby-version', read: (t, f) => parseRubyVersionFile(t, f) },
  ]);
  return r.request ? { request: r.request, requestFrom: r.from! } : {};
}

/** The Ruby API dir name of a version, e.g. `3.1.0` for 3.1.2 (where gems of that Ruby live). */
export function rubyApi(version: string): string {
  const [major, minor] = version.split('.');
  return `${major}.${minor}.0`;
}

/** Installs Ruby, the app's gems with Bundler (cached on Gemfile.lock), and runs `assets:precompile` when the app has it. */
export async function compileRuby(ctx: CompileContext, options: RubyBuildpackOptions = {}): Promise<void> {
  if (!appFileExists(ctx.appDir, 'Gemfile')) {
    throw new SlugcError('SLUGC_RUBY_GEMFILE_MISSING', "Couldn't build a Ruby app without a Gemfile.", { hint: 'Add a Gemfile at the app root (and its Gemfile.lock), or choose another buildpack.' });
  }
  const { lock } = readGemfileLock(ctx.appDir);
  const request = rubyRequest(ctx.appDir, lock);

  ctx.log.step('Installing Ruby');
  const runtime = await installRuntimeLayer(ctx, {
    name: 'ruby',
    displayName: 'Ruby',
    ...request,
    defaultRequest: options.defaultVersion ?? '*',
    sources: runtimeSources(ctx.env, { lang: 'RUBY', defaults: ['debian'], sources: { debian: () => createDebianSource() } }),
    path: RUBY_HOME,
    defaults: { RACK_ENV: 'production', RAILS_ENV: 'production', BUNDLE_WITHOUT: 'development:test', LANG: 'C.UTF-8', MALLOC_ARENA_MAX: '2', DISABLE_SPRING: '1' },
    profileD: 'ruby.sh',
    // The gem dirs are named after the Ruby API version, known once the runtime is chosen.
    env: (rt, dir) => rubyEnv(ctx, dir, rt, rubyApi(rt.artifact.version)),
    extraPath: (rt) => ['bin', `${BUNDLE_DIR}/ruby/${rubyApi(rt.artifact.version)}/bin`],
  }).catch((e: unknown) => {
    if (e instanceof VersionUnsatisfiableError) {
      throw new VersionUnsatisfiableError(
        'Ruby',
        e.requested,
        e.available,
        'Request one of the available versions (RUBY VERSION in Gemfile.lock, the Gemfile\'s ruby directive or .ruby-version), or add a source that has it: SLUGC_RUBY_INVENTORY=<url of an inventory file> (see docs/runtimes.md), or SLUGC_RUBY_SOURCES=inventory,debian.',
      );
    }
    throw e;
  });
  const version = runtime.runtime.artifact.version;
  const api = rubyApi(version);
  const ruby = findRuby(runtime.dir, runtime.runtime);
  const bundle = findBundle(runtime.dir);
  const bundler = bundlerVersion(runtime.dir);
  ctx.log.info(`Ruby ${version} at ${RUBY_HOME} (Bundler ${bundler ?? 'of the runtime'})`);

  if (lock.bundledWith && bundler && lock.bundledWith !== bundler) {
    ctx.log.warn(`Gemfile.lock was made with Bundler ${lock.bundledWith}; this build uses the runtime's Bundler ${bundler} (nothing is downloaded to switch). If the install fails, run \`bundle update --bundler=${bundler}\` and commit Gemfile.lock.`);
  }

  // Credentials for gem sources (BUNDLE_<HOST>=user:pass) and mirrors never reach the log.
  for (const [k, v] of Object.entries(ctx.env)) {
    if (!k.startsWith('BUNDLE_') || !v) continue;
    if (/^BUNDLE_MIRROR__/.test(k) || isCredentialVar(k)) {
      ctx.log.redact(urlCredentials(v));
      if (isCredentialVar(k)) ctx.log.redact([v, ...v.split(':')]);
    }
  }

  ctx.log.step('Installing gems with Bundler');
  const without = ctx.env.BUNDLE_WITHOUT ?? 'development:test';
  const deps = dependencyLayer(ctx, {
    name: 'gems',
    path: BUNDLE_DIR,
    // The Gemfile too: groups live only there, and a change to them does not always change the lock.
    lockfiles: ['Gemfile.lock', 'Gemfile'],
    key: {
      ruby: version,
      ruby_checksum: runtime.runtime.artifact.checksum,
      bundler: bundler ?? 'runtime',
      bundle_without: without,
      // A hash, never the values: they may carry credentials, and keys are shown in logs.
      bundle_settings_sha256: settingsHash(ctx.env),
    },
    optOut: 'SLUGC_RUBY_CACHE',
  });
  const bundleEnv: Record<string, string> = {
    BUNDLE_GEMFILE: path.join(ctx.appDir, 'Gemfile'),
    BUNDLE_PATH: deps.dir,
    BUNDLE_DEPLOYMENT: 'true',
    BUNDLE_WITHOUT: without,
    BUNDLE_JOBS: String(Math.max(1, os.availableParallelism())),
    BUNDLE_RETRY: '1',
    BUNDLE_USER_HOME: path.join(ctx.tmpDir, 'bundle-home'),
    BUNDLE_SILENCE_ROOT_WARNING: '1',
    BUNDLE_DISABLE_VERSION_CHECK: 'true',
    GEM_HOME: path.join(deps.dir, 'ruby', api),
  };
  const run = (args: string[], hint: string, quiet = false) => ctx.exec(ruby, [bundle, ...args], { env: bundleEnv, hint, quiet });

  if (deps.hit) {
    ctx.log.info('Gemfile.lock unchanged: gems restored from the cache, bundle install not run');
  } else {
    const local = hasCachedGems(ctx.appDir);
    if (local) ctx.log.info('vendor/cache has gems: installing from it alone (--local)');
    try {
      await run(['install', ...(local ? ['--local'] : [])], 'Bundler could not install the gems in Gemfile.lock; its message is above. Check that every gem is in vendor/cache or on the gem source, and the source settings (BUNDLE_MIRROR__*, credentials as BUNDLE_<HOST>).');
    } catch (e) {
      throw explainInstallFailure(ctx, e, runtime.dir, version);
    }
    await run(['clean'], 'bundle clean failed; its message is above.', true);
    await tidyNativeBuilds(ctx, path.join(deps.dir, 'ruby', api));
    const scripts = rewriteShebangs([path.join(deps.dir, 'ruby', api, 'bin'), path.join(deps.dir, 'bin')], { root: ctx.appDir });
    if (scripts.length) ctx.log.info(`Made ${scripts.length} gem executable${scripts.length > 1 ? 's' : ''} relocatable`);
    await deps.save();
  }

  await precompileAssets(ctx, ruby, bundle, bundleEnv, lock);
}

/** The env Ruby and Bundler need, in `${RUNTIME_DIR}`/`${APP_DIR}` terms (for the build and `.profile.d`). */
function rubyEnv(ctx: CompileContext, dir: string, rt: InstalledRuntimeResult, api: string): Record<string, string> {
  const libs = writeRubygemsShim(ctx.appDir, dir, rt);
  const runtimeGemPath = rt.env.GEM_PATH ?? '';
  const bundled = `\${APP_DIR}/${BUNDLE_DIR}/ruby/${api}`;
  return {
    ...(libs ? { RUBYLIB: libs } : {}),
    GEM_HOME: bundled,
    GEM_PATH: [bundled, ...(runtimeGemPath ? [runtimeGemPath] : [])].join(':'),
    BUNDLE_PATH: `\${APP_DIR}/${BUNDLE_DIR}`,
    BUNDLE_GEMFILE: '${APP_DIR}/Gemfile',
    BUNDLE_DEPLOYMENT: 'true',
    BUNDLE_DISABLE_VERSION_CHECK: 'true',
    ...(bundlerVersion(dir) ? { BUNDLER_VERSION: bundlerVersion(dir)! } : {}),
  };
}

/**
 * Debian's Ruby finds its standard library through `RUBYLIB`, and RubyGems
 * puts gem dirs after every `RUBYLIB` dir: a default gem the app bundles in
 * another version (`json`, `ostruct`, `net-http`, ...) would lose to the
 * runtime's copy under `bundle exec`. So `.heroku/ruby-lib/rubygems.rb` goes
 * first on `RUBYLIB`: it loads the runtime's RubyGems, then has gems inserted
 * just before the runtime's own dirs (after `-I` and the app's `RUBYLIB`),
 * as they are in a Ruby built for its own prefix. Returns the new `RUBYLIB`,
 * or null when the runtime sets none (an inventory's Ruby that knows its
 * own prefix).
 */
function writeRubygemsShim(appDir: string, dir: string, rt: InstalledRuntimeResult): string | null {
  const rubylib = rt.env.RUBYLIB;
  if (!rubylib) return null;
  const real = rubylib
    .split(':')
    .map((e) => e.replace('${RUNTIME_DIR}/', ''))
    .find((e) => !e.startsWith('/') && fs.existsSync(path.join(dir, e, 'rubygems.rb')));
  if (!real) return rubylib;
  const libDir = path.join(appDir, RUBY_LIB);
  const runtimeFromLib = path.relative(libDir, dir);
  fs.rmSync(libDir, { recursive: true, force: true });
  fs.mkdirSync(libDir, { recursive: true });
  fs.writeFileSync(
    path.join(libDir, 'rubygems.rb'),
    `# Written by slugc: the runtime's RubyGems, with gem dirs put before the runtime's
# standard library on $LOAD_PATH (which RUBYLIB carries), so a gem the app
# bundles wins over the runtime's copy, as in a Ruby built for its own prefix.
require File.expand_path(${JSON.stringify(`${runtimeFromLib}/${real}/rubygems.rb`)}, __dir__)
module Gem
  SLUGC_RUNTIME_DIR = File.expand_path(${JSON.stringify(runtimeFromLib)}, __dir__) + "/"
  def self.load_path_insert_index
    $LOAD_PATH.index { |p| p.to_s.start_with?(SLUGC_RUNTIME_DIR) } || $LOAD_PATH.index { |p| p.instance_variable_defined?(:@gem_prelude_index) } || 0
  end
end
`,
  );
  return [`\${APP_DIR}/${RUBY_LIB}`, rubylib].join(':');
}

/** The interpreter in the runtime: `ruby` in one of its bin dirs. */
function findRuby(dir: string, runtime: InstalledRuntimeResult): string {
  for (const b of runtime.binDirs) {
    const p = path.join(dir, b, 'ruby');
    if (fs.existsSync(p)) return p;
  }
  throw new SlugcError('SLUGC_RUBY_RUNTIME_INVALID', `Couldn't find ruby in the Ruby ${runtime.artifact.version} runtime from ${runtime.source}.`, { hint: 'The runtime must have bin/ruby (or usr/bin/ruby) in one of its binDirs.' });
}

/** Bundler's `bundle` script in the runtime, run as `ruby <script>` (its `#!` may name a path that does not exist). */
function findBundle(dir: string): string {
  for (const p of ['usr/bin/bundle', 'bin/bundle']) if (fs.existsSync(path.join(dir, p))) return path.join(dir, p);
  throw new SlugcError('SLUGC_RUBY_BUNDLER_MISSING', "Couldn't find Bundler (bin/bundle) in the Ruby runtime.", { hint: 'Use a Ruby runtime that includes Bundler (the debian source does).' });
}

/** The runtime's Bundler version, from its `bundler/version.rb`; null when not found. */
export function bundlerVersion(dir: string): string | null {
  for (const p of ['usr/lib/ruby/vendor_ruby/bundler/version.rb', 'usr/share/rubygems-integration/all/gems']) {
    const full = path.join(dir, p);
    try {
      if (full.endsWith('.rb')) {
        const m = /VERSION\s*=\s*"([^"]+)"/.exec(fs.readFileSync(full, 'utf8'));
        if (m) return m[1]!;
      } else {
        const g = fs.readdirSync(full).find((n) => /^bundler-\d/.test(n));
        if (g) return g.slice('bundler-'.length);
      }
    } catch {
      /* next */
    }
  }
  return null;
}

/** True when `vendor/cache` holds `.gem` files. */
function hasCachedGems(appDir: string): boolean {
  try {
    const dir = resolveAppFile(appDir, 'vendor/cache');
    return dir !== null && fs.statSync(dir).isDirectory() && fs.readdirSync(dir).some((n) => n.endsWith('.gem'));
  } catch {
    return false;
  }
}

/** `BUNDLE_GEMS__EXAMPLE__COM` and the like: Bundler's per-host credentials. */
function isCredentialVar(k: string): boolean {
  if (/^BUNDLE_(MIRROR|PATH|WITHOUT|WITH|DEPLOYMENT|GEMFILE|JOBS|RETRY|FROZEN|BIN|APP_CONFIG|USER_HOME|CACHE_PATH|DISABLE|SILENCE|FORCE_RUBY_PLATFORM|SPECIFIC_PLATFORM|IGNORE|ONLY|BUILD__|TIMEOUT|SSL|CLEAN|NO_)/.test(k)) return false;
  return /__/.test(k);
}

/** sha256 of the Bundler settings in the build env that change what gets installed; null when none is set. */
function settingsHash(env: Readonly<Record<string, string>>): string | null {
  const settings = Object.entries(env)
    .filter(([k]) => /^BUNDLE_(MIRROR__|WITH$|ONLY$|FORCE_RUBY_PLATFORM$|BUILD__)/.test(k))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return settings.length ? crypto.createHash('sha256').update(JSON.stringify(settings)).digest('hex') : null;
}

/**
 * Turns a failed `bundle install` that was building a native extension
 * without a compiler, or against a runtime without Ruby's C headers, into an
 * error naming what is missing.
 */
function explainInstallFailure(ctx: CompileContext, e: unknown, runtimeDir: string, version: string): unknown {
  if (!(e instanceof CommandFailedError)) return e;
  const text = e.outputTail;
  if (!/native extension|build_extensions|extconf|mkmf|Gem::Ext::BuildError/i.test(text)) return e;
  const gem = /An error occurred while installing (\S+ \([^)]*\))/.exec(text)?.[1] ?? 'a gem';
  const missing = ['cc', 'make'].filter((t) => !onPath(t, ctx.env.PATH ?? ''));
  if (missing.length) {
    return new SlugcError('SLUGC_RUBY_COMPILER_MISSING', `Couldn't build the native extension of ${gem}: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not on PATH.`, {
      hint: 'Install a C compiler and make on the build host (e.g. `apt-get install -y gcc make` on Debian), or use a precompiled platform gem of it (e.g. x86_64-linux) in vendor/cache.',
      details: { gem, missing, outputTail: text },
      cause: e,
    });
  }
  if (!hasRubyHeaders(runtimeDir)) {
    return new SlugcError('SLUGC_RUBY_HEADERS_MISSING', `Couldn't build the native extension of ${gem}: the Ruby ${version} runtime has no C headers (ruby.h).`, {
      hint: 'Use a Ruby runtime that carries its headers (for the debian source, its package list needs the ruby<ver>-dev package), e.g. an inventory via SLUGC_RUBY_INVENTORY; or use a precompiled platform gem (e.g. x86_64-linux) in vendor/cache.',
      details: { gem, outputTail: text },
      cause: e,
    });
  }
  return e;
}

/**
 * Native extensions are built inside the build dir: their intermediate
 * files (`*.o`, `Makefile`, `mkmf.log`, `gem_make.out`) and the debug info
 * of the built `.so` name it. Those files are dropped (RubyGems needs only
 * `gem.build_complete`) and the libraries' debug info stripped when `strip`
 * is there, so no build path reaches the slug.
 */
async function tidyNativeBuilds(ctx: CompileContext, gemDir: string): Promise<void> {
  const libs: string[] = [];
  const walk = (d: string, inExt: boolean) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, inExt || e.name === 'ext');
      else if (!e.isFile()) continue;
      else if (/\.(so|bundle)$/.test(e.name)) libs.push(p);
      else if (e.name === 'gem_make.out' || e.name === 'mkmf.log' || (inExt && (e.name === 'Makefile' || /\.o$/.test(e.name)))) fs.rmSync(p);
    }
  };
  walk(path.join(gemDir, 'gems'), false);
  walk(path.join(gemDir, 'extensions'), false);
  if (libs.length === 0) return;
  if (!onPath('strip', ctx.env.PATH ?? '')) {
    ctx.log.info(`No strip on PATH: the debug info of ${libs.length} native librar${libs.length === 1 ? 'y' : 'ies'} keeps the build dir's path`);
    return;
  }
  await ctx.exec('strip', ['--strip-debug', ...libs], { quiet: true, hint: 'strip --strip-debug failed on a gem\'s native library; its message is above.' });
  ctx.log.info(`Stripped the debug info of ${libs.length} native librar${libs.length === 1 ? 'y' : 'ies'} (it names the build dir)`);
}

/** True when the runtime has `ruby.h` under `usr/include/ruby-*` or `include/ruby-*`. */
function hasRubyHeaders(dir: string): boolean {
  for (const inc of ['usr/include', 'include']) {
    try {
      if (fs.readdirSync(path.join(dir, inc)).some((n) => /^ruby-\d/.test(n) && fs.existsSync(path.join(dir, inc, n, 'ruby.h')))) return true;
    } catch {
      /* next */
    }
  }
  return false;
}

function onPath(tool: string, PATH: string): boolean {
  return PATH.split(':').some((d) => {
    try {
      fs.accessSync(path.join(d || '.', tool), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * `rake assets:precompile` when the app has the task: Rails apps (railties
 * in the lock, or config/application.rb) always do; other apps when
 * `rake -P` lists it. A failure fails the build with rake's output.
 */
async function precompileAssets(ctx: CompileContext, ruby: string, bundle: string, bundleEnv: Record<string, string>, lock: GemfileLock): Promise<void> {
  if (!appFileExists(ctx.appDir, 'Rakefile') || !lock.gems.has('rake')) return;
  const rails = isRails(ctx.appDir, lock);
  const env = { ...bundleEnv, RAILS_ENV: ctx.env.RAILS_ENV ?? 'production', RACK_ENV: ctx.env.RACK_ENV ?? 'production', SECRET_KEY_BASE_DUMMY: ctx.env.SECRET_KEY_BASE_DUMMY ?? '1' };
  if (!rails) {
    const tasks = await ctx.exec(ruby, [bundle, 'exec', 'rake', '-P'], { env, quiet: true, hint: "`rake -P` failed: the app's Rakefile does not load; its output is above." });
    if (!/^rake assets:precompile$/m.test(tasks.stdout)) return;
  }
  ctx.log.step('Running rake assets:precompile');
  await ctx.exec(ruby, [bundle, 'exec', 'rake', 'assets:precompile'], { env, hint: 'assets:precompile failed; its output is above. Fix the task (or the assets), then build again.' });
  // Sprockets' and bootsnap's build caches hold absolute build paths and change every build: not for the slug.
  for (const rel of ['tmp/cache/assets', 'tmp/cache/bootsnap']) {
    const dir = path.join(ctx.appDir, rel);
    assertInside(ctx.appDir, dir, rel);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A Rails app: `railties` (or `rails`) in the lock, or `config/application.rb`. */
export function isRails(appDir: string, lock: GemfileLock): boolean {
  return lock.gems.has('railties') || lock.gems.has('rails') || appFileExists(appDir, 'config/application.rb');
}
