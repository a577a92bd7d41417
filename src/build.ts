import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StepTimer, formatSteps } from './timings.js';
import { boundTrash, moveToTrash } from './fs/trash.js';
import { RemoteLayerCache, parseRemoteCacheUrl, type RemoteLayerReport } from './cache/remote/index.js';
import { z } from 'zod';
import { prepareBuildDir } from './build-dir.js';
import { APP_DIR_INVALID, buildsFromRoot, checkAppBase, normalizeAppBase, rerootBuildDir } from './app-base.js';
import { isBuildpack, type Buildpack } from './buildpack.js';
import { compile, type CompileOutput } from './compile.js';
import { detect, detectFailure, type DetectReport } from './detect.js';
import { defaultFetch } from './net/download.js';
import { SECRET_NAME_PATTERN } from './env-file.js';
import { parseOrThrow } from './problems.js';
import { ENV_NAME_PATTERN, SAFE_NAME_PATTERN } from './names.js';
import { SlugcError, errorMessage, redactError, type Stage } from './errors.js';
import { createLogger, type BuildEvent, type Logger } from './log.js';
import type { ExecFn } from './exec.js';
import { metadataPathFor, packageSlug, type PackageOutput, type SizeLimits } from './package.js';
import { readProcfile, release, type ReleaseOutput } from './release.js';
import { createRuntimeInstaller, hostPlatform } from './runtimes/install.js';
import { metadataSettings, validateMirror } from './net/mirror.js';
import { hostStack, sourceCommit } from './stack.js';
import { buildpackIds, findBuildpack, planBuildpacks } from './buildpack-ref.js';
import { LayerStore } from './cache/layers.js';
import { BUILD_ID_VAR, acquireLock, type Lock } from './cache/lock.js';
import { SEGMENTS_DIR, SEGMENTS_OWNER, appNamespace, parseSize, pruneCache } from './cache/manage.js';

/** Options of {@link build}. */
export interface BuildOptions {
  /** The app's source dir; only read, never modified. */
  sourceDir: string;
  /**
   * The app's subdirectory of `sourceDir` (a repo), for an app in a monorepo:
   * `packages/web`. Buildpacks that declare `workspaces` (Node.js) build it
   * from the repo root, the whole repo in the slug and every process starting
   * in the app's dir; with others the subdirectory alone is the app (as
   * Heroku's `APP_BASE`). Default: the `APP_BASE` config var, else the source
   * dir itself.
   */
  appBase?: string;
  /** Where slug.tgz goes (parent dirs created); slug.json is written beside it. Default `./slug.tgz`. */
  output?: string;
  /** Buildpacks to run, in order: objects, or ids of `builtins` (`heroku/nodejs`), dirs and URLs of classic buildpacks. Default: auto-detect over `builtins`. */
  buildpacks?: (Buildpack | string)[];
  /**
   * The buildpacks ids resolve to and auto-detection asks, in order. The
   * `build` of `slugc` defaults to slugc's built-in buildpacks; this stage
   * function knows none of its own (default: none).
   */
  builtins?: readonly Buildpack[];
  /** Config vars, as on the platform. */
  env?: Record<string, string>;
  /** The cache dir, shared between builds of the same app. Default `$XDG_CACHE_HOME/slugc` or `~/.cache/slugc`. */
  cacheDir?: string;
  /** The stack the slug will run on. Default: the host's (`debian-12`). */
  stack?: string;
  /** Seconds since the epoch for every slug entry's mtime. Default: `SOURCE_DATE_EPOCH`, else a constant. */
  sourceDateEpoch?: number;
  /** Slug size limits. */
  limits?: SizeLimits;
  /** The logger to write to. Default: one that only records. */
  logger?: Logger;
  /** Receives every build event (ignored when `logger` is given). */
  onEvent?: (e: BuildEvent) => void;
  /** `fetch` for downloads. Default: Node's, through a proxy when `HTTPS_PROXY` is set. */
  fetch?: typeof globalThis.fetch;
  /** Cancels the build. */
  signal?: AbortSignal;
  /** The app's cache namespace: layers are never shared between apps. Default: `SLUGC_APP`, else the source dir's name and a hash of its path. */
  app?: string;
  /**
   * A shared layer cache on an OCI registry (`oci://host:port/repo`, `https://host/repo`), in front of
   * which the local cache stays. Default: the `SLUGC_CACHE_REMOTE` config var or env var.
   */
  cacheRemote?: string;
  /** Build without reading or writing the cache (a throwaway cache is used and removed). */
  noCache?: boolean;
  /** Cap on the bytes of cached layers; least recently used layers are evicted after the build. Default `SLUGC_CACHE_MAX_SIZE`, else 10 GiB. */
  cacheMaxBytes?: number;
  /** Replaces every buildpack's `ctx.exec`: tests record commands instead of running them. */
  exec?: ExecFn;
  /** Keep the build dir after the build (its path is in the result). */
  keepBuildDir?: boolean;
  /** A mirror (http(s) or file:// URL) that runtime downloads are rewritten to. Default: the `SLUGC_MIRROR` config var or env var. */
  mirror?: string;
  /** Use only the cache and the mirror; fail at once, naming the artifact, when something is missing. Default: `SLUGC_OFFLINE=1`. */
  offline?: boolean;
  /** The environment slugc itself runs in (proxy and npm settings are taken from it). Default `process.env`. */
  hostEnv?: Record<string, string | undefined>;
}

/** What {@link build} produced. */
export interface BuildResult {
  /** The slug and its metadata. */
  slug: PackageOutput;
  /** Every buildpack's detect answer. */
  detect: DetectReport;
  /** The merged release. */
  release: ReleaseOutput;
  /** What compile produced. */
  compile: CompileOutput;
  /** Milliseconds per stage. */
  timings: Record<Stage, number>;
  /** Milliseconds per step, summed over buildpacks: restore, install, build, prune, package, save (and any a buildpack named). */
  steps: Record<string, number>;
  /** The build log as text. */
  log: string;
  /** The build dir, when `keepBuildDir` was set. */
  buildDir?: string;
  /** What the layer cache did. */
  cache: BuildCacheReport;
}

/** What the layer cache did in a build. */
export interface BuildCacheReport {
  /** The app's cache namespace. */
  app: string;
  /** False with `noCache`. */
  enabled: boolean;
  /** Every layer opened, and whether it was restored. */
  layers: { buildpack: string; layer: string; hit: boolean; state: string; reason: string }[];
  /** Layers evicted to stay under the size cap. */
  evicted: { app: string; buildpack: string; layer: string; size: number }[];
  /** What the remote cache did per layer (with `cacheRemote`): imported (bytes, seconds), local, refused, failed. */
  remote?: { url: string; layers: RemoteLayerReport[] };
}

/** The default cap on cached layers. */
export const DEFAULT_CACHE_MAX_BYTES = 10 * 1024 ** 3;

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'expected a function');
const optionsSchema = z.object({
  sourceDir: z.string().min(1),
  appBase: z.string().optional(),
  output: z.string().min(1).optional(),
  buildpacks: z.array(z.union([z.string().min(1), z.custom<Buildpack>(isBuildpack, 'expected a buildpack object { id, name, detect, compile }')])).optional(),
  builtins: z.array(z.custom<Buildpack>(isBuildpack, 'expected a buildpack object { id, name, detect, compile }')).optional(),
  env: z.record(z.string().regex(ENV_NAME_PATTERN, 'not a valid variable name'), z.string()).optional(),
  cacheDir: z.string().min(1).optional(),
  stack: z.string().regex(SAFE_NAME_PATTERN, 'letters, digits, ., _ and -').optional(),
  sourceDateEpoch: z.number().int().nonnegative().optional(),
  limits: z.object({ warnBytes: z.number().positive(), maxBytes: z.number().positive() }).optional(),
  logger: z.custom<Logger>((v) => typeof v === 'object' && v !== null && typeof (v as Logger).step === 'function').optional(),
  onEvent: fn.optional(),
  fetch: fn.optional(),
  signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal).optional(),
  keepBuildDir: z.boolean().optional(),
  exec: fn.optional(),
  app: z.string().regex(SAFE_NAME_PATTERN, 'letters, digits, ., _ and -').optional(),
  noCache: z.boolean().optional(),
  cacheRemote: z.string().min(1).optional(),
  cacheMaxBytes: z.number().int().positive().optional(),
  mirror: z.string().regex(/^(https?|file):\/\//, 'expected an http(s) or file:// URL').optional(),
  offline: z.boolean().optional(),
  hostEnv: z.custom<Record<string, string | undefined>>((v) => typeof v === 'object' && v !== null, 'expected an object of env vars').optional(),
});

/** Validates build options, reporting every problem as `path: message`. */
export function validateBuildOptions(options: unknown): BuildOptions {
  parseOrThrow(optionsSchema, options, 'SLUGC_INVALID_INPUT', "Couldn't start the build: invalid options.", 'Fix the options named above.', '(options)');
  return options as BuildOptions;
}

/** The default cache dir: `$XDG_CACHE_HOME/slugc` or `~/.cache/slugc`. */
export function defaultCacheDir(env: Record<string, string | undefined> = process.env): string {
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'slugc');
}

/** Host env vars passed into the build env: proxies, TLS trust and npm settings. */
const PASSTHROUGH = /^(HTTPS?_PROXY|NO_PROXY|https?_proxy|no_proxy|SSL_CERT_FILE|SSL_CERT_DIR|NODE_EXTRA_CA_CERTS|NPM_CONFIG_\w+|npm_config_\w+|TZ|SLUGC_BUILDPACK_TIMEOUT_MS)$/;
/** Config vars that may not replace what the platform sets. */
const RESERVED = new Set(['PATH', 'HOME', 'STACK', 'SOURCE_VERSION']);

/**
 * The build env every buildpack starts from: the host's PATH, `HOME` set to
 * the build dir (as Heroku's `/app`), `STACK`, `SOURCE_VERSION`, proxy and npm
 * settings from the host, and the app's config vars.
 */
export function buildEnv(opts: {
  appDir: string;
  stack: string;
  commit: string | null;
  config: Record<string, string>;
  hostEnv: Record<string, string | undefined>;
  log: Logger;
  /** Marks every process of this build (`SLUGC_BUILD_ID`), so a later build can stop orphans of a killed one. */
  buildId?: string;
}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.hostEnv)) if (v !== undefined && PASSTHROUGH.test(k)) env[k] = v;
  const hostHome = opts.hostEnv.HOME;
  // HOME moves to the build dir, so keep the user's own npm config (registry, auth) in reach.
  if (!env.NPM_CONFIG_USERCONFIG && !env.npm_config_userconfig && hostHome && fs.existsSync(path.join(hostHome, '.npmrc'))) {
    env.NPM_CONFIG_USERCONFIG = path.join(hostHome, '.npmrc');
  }
  for (const [k, v] of Object.entries(opts.config)) {
    if (RESERVED.has(k)) {
      opts.log.warn(`Config var ${k} is set by the platform during builds; the app's value is ignored.`);
      continue;
    }
    env[k] = v;
  }
  env.PATH = opts.hostEnv.PATH || '/usr/local/bin:/usr/bin:/bin';
  env.HOME = opts.appDir;
  env.STACK = opts.stack;
  env.SOURCE_VERSION = opts.commit ?? '';
  env.LANG ??= 'C.UTF-8';
  if (opts.buildId) env[BUILD_ID_VAR] = opts.buildId;
  return env;
}

/** Resolves `--buildpack` values (objects, or ids of `builtins`) to buildpack objects. */
export function resolveBuildpacks(list: (Buildpack | string)[], builtins: readonly Buildpack[]): Buildpack[] {
  return list.map((b) => {
    if (typeof b !== 'string') return b;
    const found = findBuildpack(builtins, b);
    if (!found) {
      throw new SlugcError('SLUGC_BUILDPACK_LOAD', `Couldn't find the buildpack ${JSON.stringify(b)}.`, {
        hint: `Built-in buildpacks: ${buildpackIds(builtins)}. The CLI also takes a path to a JS module.`,
      });
    }
    return found;
  });
}

/**
 * Builds a slug: copies the source to a fresh build dir (applying
 * `.slugignore`), detects buildpacks, compiles, merges the release, and
 * packages `slug.tgz` plus `slug.json`. The source dir is never modified.
 */
export async function build(options: BuildOptions): Promise<BuildResult> {
  const opts = validateBuildOptions(options);
  const log = opts.logger ?? createLogger(opts.onEvent ? { onEvent: opts.onEvent } : {});
  const hostEnv = opts.hostEnv ?? process.env;
  const sourceDir = path.resolve(opts.sourceDir);
  const output = path.resolve(opts.output ?? 'slug.tgz');
  const stack = opts.stack ?? hostStack();
  const noCache = Boolean(opts.noCache);
  const sde = opts.sourceDateEpoch ?? parseSourceDateEpoch(hostEnv.SOURCE_DATE_EPOCH);
  const config = opts.env ?? {};
  const baseFrom = opts.appBase !== undefined ? '--app-dir' : 'the APP_BASE config var';
  const base = normalizeAppBase(opts.appBase ?? config.APP_BASE, baseFrom);
  log.redact(Object.entries(config).filter(([k]) => SECRET_NAME_PATTERN.test(k)).map(([, v]) => v));

  checkOutput(output, sourceDir);
  const remoteSetting = opts.noCache ? undefined : (opts.cacheRemote ?? config.SLUGC_CACHE_REMOTE ?? hostEnv.SLUGC_CACHE_REMOTE);
  if (remoteSetting) parseRemoteCacheUrl(remoteSetting); // a bad URL fails before any work
  const buildStarted = performance.now();
  // With the cache, the build dir lives in the app's cache dir, made once the app's lock is
  // held: on the cache's filesystem (runtimes and layers are hard links, never copies), and
  // whatever a killed build left there is known to be stale. Without it (or to keep the
  // build dir for the caller), a fresh temp dir.
  const scratch = noCache || opts.keepBuildDir ? fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-')) : undefined;
  const cacheRoot = noCache ? path.join(scratch!, 'cache') : path.resolve(opts.cacheDir ?? defaultCacheDir(hostEnv));
  // Each app of a monorepo has a cache namespace of its own.
  const app = appNamespace(path.join(sourceDir, base), opts.app ?? config.SLUGC_APP ?? hostEnv.SLUGC_APP);
  const appCacheDir = path.join(cacheRoot, 'apps', app);
  const maxSetting = config.SLUGC_CACHE_MAX_SIZE ?? hostEnv.SLUGC_CACHE_MAX_SIZE;
  const cacheMaxBytes = opts.cacheMaxBytes ?? (maxSetting ? parseSize(maxSetting) : null) ?? DEFAULT_CACHE_MAX_BYTES;
  let work = scratch ?? '';
  let appDir = '';
  let projectDir = '';
  let tmpDir = '';
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) controller.abort();

  const timings = { prepare: 0, detect: 0, compile: 0, release: 0, package: 0 } satisfies Record<Stage, number>;
  const steps = new StepTimer();
  let stage: Stage = 'prepare';
  const timed = async <T>(s: Stage, f: () => Promise<T> | T): Promise<T> => {
    stage = s;
    log.event({ type: 'stage', stage: s, status: 'start' });
    const t = performance.now();
    const r = await f();
    if (controller.signal.aborted) throw new SlugcError('SLUGC_ABORTED', `Couldn't finish the ${s} stage: the build was interrupted.`, { hint: 'Nothing was kept.' });
    timings[s] = Math.round(performance.now() - t);
    log.event({ type: 'stage', stage: s, status: 'end', ms: timings[s] });
    return r;
  };

  const remoteUrl = remoteSetting;
  const remoteTimeout = hostEnv.SLUGC_CACHE_REMOTE_TIMEOUT_MS ? Number(hostEnv.SLUGC_CACHE_REMOTE_TIMEOUT_MS) : undefined;
  const remote = remoteUrl ? new RemoteLayerCache({ url: remoteUrl, app, log, env: hostEnv, fetch: defaultFetch(hostEnv), ...(remoteTimeout && remoteTimeout > 0 ? { timeoutMs: remoteTimeout } : {}) }) : undefined;
  if (remote) log.info(`Remote cache: ${remote.location.url}`);

  let keep = false;
  let lock: Lock | undefined;
  try {
    if (!noCache) lock = await acquireLock(appCacheDir, { log, signal: controller.signal });
    work ||= openWorkDir(appCacheDir);
    // The remote tier first: layers another machine pushed are imported into the local store.
    if (remote) {
      const t = performance.now();
      await remote.prefetch(appCacheDir);
      steps.add('restore', performance.now() - t);
    }
    appDir = path.join(work, 'app');
    tmpDir = path.join(work, 'tmp');
    fs.mkdirSync(tmpDir);
    const layers = new LayerStore({ root: appCacheDir, appDir, workDir: work, log, disabled: noCache, steps, ...(remote ? { remote: remote.reports } : {}) });
    const commit = sourceCommit(sourceDir, { SOURCE_VERSION: config.SOURCE_VERSION ?? hostEnv.SOURCE_VERSION });
    await timed('prepare', () => {
      log.step(`Preparing build dir from ${sourceDir}`);
      // A slug or cache dir inside the app itself (`slugc build . -o slug.tgz`) must not end up in the slug.
      const prep = prepareBuildDir(sourceDir, appDir, { exclude: [output, metadataPathFor(output), cacheRoot] });
      if (prep.droppedPatterns.length) log.warn(`.slugignore: negation is not supported, ignored: ${prep.droppedPatterns.join(', ')}`);
      if (prep.ignored.length) log.info(`.slugignore left out ${prep.ignored.length} path${prep.ignored.length > 1 ? 's' : ''}`);
      checkAppBase(sourceDir, base, baseFrom);
      projectDir = path.join(appDir, base);
      if (base && !fs.existsSync(projectDir)) {
        throw new SlugcError(APP_DIR_INVALID, `Couldn't use ${base} (${baseFrom}) as the app dir: .slugignore leaves it out.`, { hint: 'Remove the .slugignore line that matches it.', details: { appDir: base, from: baseFrom } });
      }
      if (base) log.info(`App dir: ${base} (${baseFrom})`);
      // Fail fast on a broken Procfile, before a long compile.
      readProcfile(projectDir);
    });
    const env = buildEnv({ appDir, stack, commit, config, hostEnv, log, buildId: lock?.id ?? crypto.randomBytes(8).toString('hex') });
    const fetchFn = opts.fetch ?? defaultFetch(hostEnv);
    const mirrorSetting = opts.mirror ?? config.SLUGC_MIRROR ?? hostEnv.SLUGC_MIRROR;
    const mirror = mirrorSetting ? validateMirror(mirrorSetting) : undefined;
    const offline = opts.offline ?? ['1', 'true'].includes((config.SLUGC_OFFLINE ?? hostEnv.SLUGC_OFFLINE ?? '').toLowerCase());
    const metadata = metadataSettings({ SLUGC_METADATA_TTL: config.SLUGC_METADATA_TTL ?? hostEnv.SLUGC_METADATA_TTL, SLUGC_METADATA_TIMEOUT_MS: config.SLUGC_METADATA_TIMEOUT_MS ?? hostEnv.SLUGC_METADATA_TIMEOUT_MS });
    let candidates: Buildpack[] = [];
    const report = await timed('detect', async () => {
      const plan = await planBuildpacks(projectDir, opts.buildpacks, { cacheRoot, fetch: fetchFn, log, offline, ...(mirror ? { mirror } : {}), cwd: process.cwd(), builtins: opts.builtins ?? [] });
      candidates = plan.buildpacks;
      if (plan.source === 'app.json' || plan.source === '.buildpacks') log.info(`Buildpacks from ${plan.source}: ${candidates.map((b) => b.id).join(', ')}`);
      const r = await detect({ appDir, projectDir, buildpacks: candidates, explicit: plan.explicit, ...(plan.source !== 'auto' ? { source: plan.source } : {}), stack, env, log, configVars: config });
      for (const w of r.warnings) log.warn(w);
      const failure = detectFailure(r);
      if (failure) throw failure;
      return r;
    });
    const chosen = report.selected.map((id) => candidates.find((b) => b.id === id)!);
    for (const bp of chosen) {
      const a = report.answers.find((x) => x.id === bp.id);
      log.step(`${a?.detected ?? bp.name} app detected (${bp.id}: ${a?.reason ?? 'chosen'})`);
    }
    if (base && buildsFromRoot(chosen)) {
      log.info(`App dir ${base}: built from the repo root (${chosen.map((b) => b.id).join(', ')}: workspaces); the whole repo is in the slug and every process starts in ${base}`);
    } else if (base) {
      // As Heroku's APP_BASE: the subdirectory alone is the app.
      rerootBuildDir(appDir, base, path.join(appCacheDir, 'trash'));
      projectDir = appDir;
      const alone = chosen.filter((b) => !b.workspaces).map((b) => b.id);
      log.info(`App dir ${base}: built on its own (${alone.join(', ')} build${alone.length > 1 ? '' : 's'} an app alone); the rest of the repo is not in the slug`);
    }
    if (mirror) log.info(`Runtime mirror: ${mirror}`);
    if (offline) log.info('Offline: only the cache and the mirror are used');
    const runtimes = createRuntimeInstaller({
      cacheRoot,
      fetch: fetchFn,
      log,
      stack,
      ...hostPlatform(),
      offline,
      tmpDir,
      signal: controller.signal,
      metadataTtlSeconds: metadata.ttlSeconds,
      metadataTimeoutMs: metadata.timeoutMs,
      ...(remote ? { sharedDownloads: remote.downloads } : {}),
      ...(mirror ? { mirror } : {}),
    });
    const compiled = await timed('compile', () =>
      compile({ appDir, projectDir, buildpacks: chosen, env, stack, cacheRoot, appCacheDir, layers, tmpDir, fetch: fetchFn, log, signal: controller.signal, runtimes, configVars: config, steps, ...(opts.exec ? { exec: opts.exec } : {}) }),
    );
    const releaseEnv = { ...env, ...compiled.exportedEnv };
    const released = await timed('release', async () => {
      log.step('Discovering process types');
      const r = await release({ appDir, projectDir, buildpacks: chosen, stack, env: releaseEnv, log, configVars: config });
      const names = Object.keys(r.processTypes);
      log.info(names.length ? `Process types: ${names.map((n) => `${n} (${r.processTypeSources[n]})`).join(', ')}` : 'No process types: add a Procfile naming the command that starts each process (e.g. `web: <command> --port $PORT`), or use a buildpack that offers defaults.');
      return r;
    });
    const slug = await timed('package', async () => {
      log.step('Compressing slug');
      return packageSlug({
        appDir,
        output,
        log,
        ...(sde !== undefined ? { sourceDateEpoch: sde } : {}),
        ...(opts.limits ? { limits: opts.limits } : {}),
        // Compressed segments of the app's last slug: unchanged parts are spliced, not compressed again.
        ...(noCache ? {} : { segmentCache: path.join(appCacheDir, SEGMENTS_DIR) }),
        metadata: {
          process_types: released.processTypes,
          buildpack_provided_description: chosen.map((b) => report.answers.find((a) => a.id === b.id)?.detected ?? b.name).join(', ') || null,
          stack: { name: stack },
          commit,
          commit_description: null,
          buildpacks: chosen.map((b) => {
            const detected = report.answers.find((a) => a.id === b.id)?.detected;
            return { id: b.id, name: b.name, ...(detected ? { detected } : {}) };
          }),
          runtimes: compiled.runtimes,
          config_vars: released.configVars,
          addons: released.addons,
          timings: { ...timings, compile_by_buildpack: Object.fromEntries(compiled.timings.map((t) => [t.id, t.ms])), steps: steps.record() },
          cache: { app, enabled: !noCache, layers: layers.layers().map(({ buildpack, layer }) => ({ buildpack, layer: layer.name, hit: layer.hit, reason: layer.reason })) },
        },
      });
    });
    const cache: BuildCacheReport = {
      app,
      enabled: !noCache,
      layers: layers.layers().map(({ buildpack, layer }) => ({ buildpack, layer: layer.name, hit: layer.hit, state: layer.state, reason: layer.reason })),
      evicted: [],
      ...(remote ? { remote: { url: remote.location.url, layers: [...remote.reports.values()] } } : {}),
    };
    if (!noCache) {
      // This build's layers and its segment cache stay; other apps' go first when over the cap.
      const pruned = pruneCache(cacheRoot, { maxBytes: cacheMaxBytes, ownApp: app, keep: new Set([...cache.layers.map((l) => `${app}/${l.buildpack}/${l.layer}`), `${app}/${SEGMENTS_OWNER}/${SEGMENTS_DIR}`]) });
      cache.evicted = pruned.removed.map(({ app: a, buildpack, layer, size }) => ({ app: a, buildpack, layer, size }));
      for (const r of pruned.removed) log.info(`cache: evicted ${r.app}/${r.buildpack}/${r.layer} (${r.why})`);
    }
    steps.add('package', slug.metadata.timings.package as number);
    if (remote) {
      await steps.time('push', async () => {
        await remote.push(appCacheDir, layers.savedLayers());
        await remote.pushDownloads();
      });
    }
    const stepTimings = steps.record();
    log.step(`Done: ${slug.path} (${slug.metadata.checksum})`);
    log.info(`Timings: ${formatSteps(stepTimings, Math.round(performance.now() - buildStarted))}`);
    keep = Boolean(opts.keepBuildDir);
    return { slug, detect: report, release: released, compile: compiled, timings, steps: stepTimings, log: log.text(), cache, ...(keep ? { buildDir: appDir } : {}) };
  } catch (e) {
    if (controller.signal.aborted && !(e instanceof SlugcError && e.code === 'SLUGC_ABORTED')) {
      e = new SlugcError('SLUGC_ABORTED', `Couldn't finish the ${stage} stage: the build was interrupted.`, { hint: 'Nothing was kept: the build dir is removed and no layer was saved half-way.', cause: e });
    }
    const err =
      e instanceof SlugcError
        ? e
        : new SlugcError('SLUGC_BUILDPACK_FAILED', `Couldn't finish the ${stage} stage: ${errorMessage(e)}`, { cause: e, hint: 'This looks like a bug in slugc; please report it with the log.' });
    err.stage ??= stage;
    // Whatever a buildpack echoed into an error (a secret config var) is redacted as in the log.
    throw redactError(err, (t) => log.scrub(t));
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    lock?.release();
    // Never let cleanup replace the real error: a process the build could not stop may still
    // be writing here (ENOTEMPTY); retry briefly, then say so and leave it.
    if (!work) {
      /* stopped before the build dir was made */
    } else if (keep) {
      for (const entry of fs.readdirSync(work)) if (entry !== 'app') removeBestEffort(path.join(work, entry), log);
    } else if (scratch || !moveToTrash(work, path.join(appCacheDir, 'trash'))) removeBestEffort(work, log);
  }
}

/**
 * Makes the build dir under `<app cache>/work/`, the app's lock held: any
 * build dir already there was left by a build that was killed, and goes to
 * the trash with whatever an earlier build left there (bounded).
 */
function openWorkDir(appCacheDir: string): string {
  const parent = path.join(appCacheDir, 'work');
  const trash = path.join(appCacheDir, 'trash');
  fs.mkdirSync(parent, { recursive: true });
  for (const stale of fs.readdirSync(parent)) if (!moveToTrash(path.join(parent, stale), trash)) fs.rmSync(path.join(parent, stale), { recursive: true, force: true });
  boundTrash(trash);
  return fs.mkdtempSync(path.join(parent, 'build-'));
}

function parseSourceDateEpoch(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't use SOURCE_DATE_EPOCH=${JSON.stringify(v)}: not a whole number of seconds.`, {
      hint: 'Set SOURCE_DATE_EPOCH to seconds since 1970, e.g. $(git log -1 --format=%ct).',
    });
  }
  return n;
}

/**
 * Fails before any work when the slug could not be written where asked, or
 * would overwrite a file of the app's source: `-o` naming a directory, a
 * path under a file, or a source file (only an earlier slug and its
 * slug.json may be replaced inside the app).
 */
export function checkOutput(output: string, sourceDir: string): void {
  const bad = (why: string, hint: string) => new SlugcError('SLUGC_INVALID_INPUT', `Couldn't write the slug to ${output}: ${why}.`, { hint, details: { output } });
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(output);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw bad('a parent of it is a file', 'Choose an output path whose parent directories are directories.');
    if (code !== 'ENOENT') throw bad(code ?? 'it cannot be checked', 'Choose another output path.');
  }
  if (st?.isDirectory()) throw bad('it is a directory', `Name a file, e.g. ${path.join(output, 'slug.tgz')}.`);
  if (st && !st.isFile()) throw bad('it is not a regular file', 'Choose another output path.');
  for (let dir = path.dirname(output); ; dir = path.dirname(dir)) {
    let d: fs.Stats | undefined;
    try {
      d = fs.statSync(dir);
    } catch {
      d = undefined;
    }
    if (d && !d.isDirectory()) throw bad(`${dir} is a file`, 'Choose an output path whose parent directories are directories.');
    if (d || dir === path.dirname(dir)) break;
  }
  const src = path.resolve(sourceDir);
  const inside = (p: string) => p.startsWith(src + path.sep);
  if (inside(output) && st && !isGzip(output)) {
    throw bad(`it is ${path.relative(src, output)} in the app's source, which slugc never modifies`, 'Write the slug outside the app, or name a new file.');
  }
  const meta = metadataPathFor(output);
  if (inside(meta) && fs.existsSync(meta) && !isSlugJson(meta)) {
    throw bad(`slug.json goes beside it, as ${path.relative(src, meta)}, a file of the app's source`, 'Write the slug outside the app, or where no file of the app would be replaced.');
  }
}

function isGzip(file: string): boolean {
  try {
    const fd = fs.openSync(file, 'r');
    const b = Buffer.alloc(2);
    fs.readSync(fd, b, 0, 2, 0);
    fs.closeSync(fd);
    return b[0] === 0x1f && b[1] === 0x8b;
  } catch {
    return false;
  }
}

function isSlugJson(file: string): boolean {
  try {
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as { checksum?: unknown; process_types?: unknown };
    return typeof m.checksum === 'string' && m.checksum.startsWith('SHA256:') && typeof m.process_types === 'object';
  } catch {
    return false;
  }
}

/** Removes a tree, retrying while something still writes into it; warns instead of throwing. */
function removeBestEffort(dir: string, log: Logger): void {
  for (let attempt = 0; ; attempt++) {
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 2, retryDelay: 50 });
      return;
    } catch (e) {
      if (attempt >= 5) {
        log.warn(`Couldn't remove the temp dir ${dir}: ${errorMessage(e)}. A process the build started may still be running; remove it by hand.`);
        return;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
}
