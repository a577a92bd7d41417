import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CompileContext } from '../buildpack.js';
import type { Layer, LayerKey } from '../cache/layers.js';
import { SlugcError } from '../errors.js';
import { assertInside } from '../fs/inside.js';
import { resolveAppFile } from '../fs/app-file.js';

/** Options of {@link dependencyLayer}. */
export interface DependencyLayerOptions {
  /** The layer's name, e.g. `node_modules`. */
  name: string;
  /** Where it lives in the app (a launch layer), e.g. `node_modules`; omit for a build-only layer. */
  path?: string;
  /** Lockfiles whose sha256 keys the layer, relative to the app; a missing one counts as `null`. */
  lockfiles: readonly string[];
  /** More key values: tool versions, settings that change the result. The stack and arch are added. */
  key?: LayerKey;
  /** An env var that turns the cache off when `false`, as Heroku's `NODE_MODULES_CACHE=false`. */
  optOut?: string;
  /**
   * `link` restores and saves the layer as hard links to the cached copy
   * (no data copied; a layer changed through a link is noticed and rebuilt,
   * see `LayerOptions.restore`). For trees only read once installed.
   */
  restore?: 'copy' | 'link';
  /**
   * Key fields whose change still restores the previous contents for the
   * buildpack to update (`stale`), e.g. `['lockfile_sha256']`; see
   * `LayerOptions.stale`.
   */
  stale?: readonly string[];
  /** False: never pushed to a remote cache (see `LayerOptions.share`). */
  share?: boolean;
}

/** A dependency layer, or the plain dir when the cache is turned off. */
export interface DependencyLayer {
  /** Where to install dependencies. */
  dir: string;
  /** True when the contents were restored: the install can be skipped. */
  hit: boolean;
  /** True when the previous contents were restored although a `stale` key field changed: update them. */
  stale: boolean;
  /** The layer; null when the opt-out variable turned the cache off. */
  layer: Layer | null;
  /** Each lockfile's sha256 (null when missing). */
  lockfiles: Record<string, string | null>;
  /** Stores the current contents (call after installing, before changing them further); a no-op when the cache is off. */
  save(): Promise<void>;
}

/** sha256 of an app file, or null when it is missing (never followed out of the app). */
export function appFileSha256(appDir: string, rel: string): string | null {
  const real = resolveAppFile(appDir, rel);
  if (real === null) return null;
  if (!fs.statSync(real).isFile()) {
    throw new SlugcError('SLUGC_UNSAFE_APP_FILE', `Couldn't read ${rel}: it is not a regular file.`, { hint: `Make ${rel} a file (a lockfile), or remove it.` });
  }
  return crypto.createHash('sha256').update(fs.readFileSync(real)).digest('hex');
}

/**
 * Opens a dependency layer keyed on the sha256 of the named lockfiles plus
 * the given values, the stack and the arch: restored while none of them
 * changed (the log says which one did), so an install that depends only on
 * the lockfiles can be skipped. `<optOut>=false` in the build env turns it
 * off, as Heroku's `NODE_MODULES_CACHE=false` does.
 */
export function dependencyLayer(ctx: CompileContext, options: DependencyLayerOptions): DependencyLayer {
  const lockfiles = Object.fromEntries(options.lockfiles.map((f) => [f, appFileSha256(ctx.appDir, f)]));
  const key: LayerKey = { stack: ctx.stack, arch: ctx.runtimes.context.arch, ...(options.key ?? {}) };
  for (const [f, sha] of Object.entries(lockfiles)) key[options.lockfiles.length === 1 ? 'lockfile_sha256' : `${f}_sha256`] = sha;
  if (options.optOut && ctx.env[options.optOut] === 'false') {
    ctx.log.info(`${options.optOut}=false: ${options.name} is not cached`);
    const dir = options.path ? path.resolve(ctx.appDir, options.path) : path.join(ctx.tmpDir, 'layers', options.name);
    // As a cached layer would be: inside the app, never through a link the app ships, and empty.
    if (options.path) assertInside(ctx.appDir, dir, `the ${options.name} dir`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    return { dir, hit: false, stale: false, layer: null, lockfiles, save: async () => {} };
  }
  const layer = ctx.cache.layer(options.name, key, {
    ...(options.path !== undefined ? { path: options.path } : {}),
    ...(options.restore ? { restore: options.restore } : {}),
    ...(options.stale ? { stale: options.stale } : {}),
    ...(options.share === false ? { share: false } : {}),
  });
  return { dir: layer.dir, hit: layer.hit, stale: layer.stale, layer, lockfiles, save: () => layer.save() };
}
