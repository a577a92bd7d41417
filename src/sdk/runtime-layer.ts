import path from 'node:path';
import type { CompileContext } from '../buildpack.js';
import type { Layer, LayerKey } from '../cache/layers.js';
import { runtimeEnv, type InstalledRuntimeResult, type RuntimeRequest } from '../runtimes/install.js';

/** Options of {@link installRuntimeLayer}: a runtime request plus where it goes in the app. */
export interface RuntimeLayerOptions extends RuntimeRequest {
  /** Where the runtime goes in the app, e.g. `.heroku/node`: a launch layer, part of the slug. */
  path: string;
  /** The layer's name (default `runtime`). */
  layer?: string;
  /** More key values, e.g. a tool version installed beside the runtime. */
  key?: LayerKey;
  /**
   * More env for later commands and `.profile.d`, on top of the runtime's
   * own; values may use `${RUNTIME_DIR}` and `${APP_DIR}` (the app: the
   * build dir, `$HOME` at boot). A function gets the installed runtime (and
   * its dir in the app), for env that depends on the version chosen.
   */
  env?: Record<string, string> | ((runtime: InstalledRuntimeResult, dir: string) => Record<string, string>);
  /** App dirs (relative to the app) to put on PATH after the runtime's own bin dirs, e.g. `node_modules/.bin`; a function gets the installed runtime. */
  extraPath?: string[] | ((runtime: InstalledRuntimeResult) => string[]);
  /** Env vars with defaults: set unless the build env (or, at boot, the dyno's config) already has them, e.g. `{ NODE_ENV: 'production' }`. */
  defaults?: Record<string, string>;
  /** The `.profile.d` script's name (default `<name>.sh`), or false for none. */
  profileD?: string | false;
  /** Runs after the runtime is in place, on every build, to add to it (e.g. another npm). What it adds is not cached. */
  populate?(dir: string, runtime: InstalledRuntimeResult): Promise<void> | void;
}

/** A runtime in its launch layer. */
export interface RuntimeLayer {
  /** The runtime's dir in the build (inside the app). */
  dir: string;
  /** The same, relative to the app, e.g. `.heroku/node`. */
  path: string;
  /** What was installed: version, checksum, source, trace. */
  runtime: InstalledRuntimeResult;
  /** The layer (hit when the same runtime was in place last build). */
  layer: Layer;
  /** The env exported for later commands and buildpacks (PATH included), with build paths. */
  env: Record<string, string>;
}

/**
 * Installs a runtime into a launch layer in one call: resolves and installs
 * it through `ctx.runtimes` (verified download, cached, mirror and offline
 * aware) and prints why that version won; places it at `options.path` in
 * the app as a layer keyed on name, version, checksum, stack and arch, made
 * of hard links to the cache's runtime store (no 100 MB copy per build, and
 * no second copy in the cache); records it for `slug.json`; exports its bin
 * dirs and env for later commands; and writes a `.profile.d` script from the
 * same data in terms of `$HOME`, so no build path reaches the slug.
 */
export async function installRuntimeLayer(ctx: CompileContext, options: RuntimeLayerOptions): Promise<RuntimeLayer> {
  const { path: rel, layer: layerName, key: extraKey, env: envOption, profileD, populate, extraPath: extraPathOption, defaults, ...request } = options;
  const runtime = await ctx.runtimes.install(request);
  for (const line of runtime.trace) ctx.log.info(line);
  const key: LayerKey = {
    name: request.name,
    version: runtime.artifact.version,
    checksum: runtime.artifact.checksum,
    stack: ctx.stack,
    arch: ctx.runtimes.context.arch,
    ...(extraKey ?? {}),
  };
  const layer = ctx.cache.layer(layerName ?? 'runtime', key, { path: rel, linkFrom: runtime.dir });
  await populate?.(layer.dir, runtime);
  ctx.recordRuntime(runtime.record);
  const extraEnv = typeof envOption === 'function' ? envOption(runtime, layer.dir) : envOption;
  const extraPath = typeof extraPathOption === 'function' ? extraPathOption(runtime) : extraPathOption;

  const vars = { ...runtime.env, ...(extraEnv ?? {}) };
  const env: Record<string, string> = {
    PATH: [...runtime.binDirs.map((b) => path.join(layer.dir, b)), ...(extraPath ?? []).map((p) => path.join(ctx.appDir, p)), ctx.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'].join(':'),
    ...appEnv(runtimeEnv(vars, layer.dir), ctx.appDir),
  };
  for (const [k, v] of Object.entries(defaults ?? {})) env[k] = ctx.env[k] ?? v;
  ctx.exportEnv(env);
  if (profileD !== false) {
    await ctx.profileD(
      profileD ?? `${request.name}.sh`,
      runtimeProfileScript({ path: rel, binDirs: runtime.binDirs, env: vars, extraPath: extraPath ?? [], defaults: defaults ?? {}, comment: `${request.displayName ?? request.name} ${runtime.artifact.version}` }),
    );
  }
  return { dir: layer.dir, path: rel, runtime, layer, env };
}

/**
 * The `.profile.d` script of a runtime at `path` in the app: its bin dirs
 * first on PATH and its env, with `${RUNTIME_DIR}` as `$HOME/<path>`, so it
 * works wherever the slug is unpacked.
 */
export function runtimeProfileScript(options: {
  path: string;
  binDirs: readonly string[];
  env?: Record<string, string>;
  extraPath?: readonly string[];
  defaults?: Record<string, string>;
  comment?: string;
}): string {
  const under = (base: string, p: string) => (p === '.' || p === '' ? base : `${base}/${p.replace(/^\.\//, '').replace(/\/+$/, '')}`);
  const home = under('$HOME', options.path);
  const lines = [`# Written by slugc: ${options.comment ?? 'a runtime'} at ${home}, wherever the slug is unpacked.`];
  const bins = [...options.binDirs.map((b) => under(home, b)), ...(options.extraPath ?? []).map((p) => under('$HOME', p))];
  if (bins.length) lines.push(`export PATH="${bins.map(quote).join(':')}:$PATH"`);
  for (const [k, v] of Object.entries(appEnv(runtimeEnv(options.env ?? {}, home), '$HOME'))) lines.push(`export ${k}="${quote(v)}"`);
  for (const [k, v] of Object.entries(options.defaults ?? {})) lines.push(`export ${k}="\${${k}:-${quote(v)}}"`);
  return lines.join('\n') + '\n';
}

/** Escapes a value for double quotes in sh, keeping `$VAR` references live. */
function quote(v: string): string {
  return v.replace(/[\\"`]/g, (c) => `\\${c}`);
}

/** Env values with `${APP_DIR}` replaced by `dir`. */
function appEnv(env: Record<string, string>, dir: string): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.split('${APP_DIR}').join(dir)]));
}
