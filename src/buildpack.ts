import type { ExecFn } from './exec.js';
import type { Logger } from './log.js';
import type { RuntimeInstaller } from './runtimes/install.js';
import type { Layer, LayerKey, LayerOptions } from './cache/layers.js';
import type { RuntimeRecord } from './runtimes/types.js';

/** What a buildpack's `detect` answers: applies or not, and why. Never thrown. */
export interface Detection {
  /** Whether the buildpack applies to the app. */
  pass: boolean;
  /** What it detected, e.g. `Node.js`. */
  name?: string;
  /** Why it applies or not, e.g. `found package.json`. */
  reason: string;
}

/** What every stage's context has. */
export interface BaseContext {
  /** The build dir: a copy of the source, which becomes the slug's `/app`. */
  appDir: string;
  /**
   * The app's own dir, where its manifest and Procfile are: `appDir` itself,
   * except for an app in a subdirectory of its repo (`--app-dir`) built by a
   * buildpack that declares `workspaces`: then `appDir` holds the whole repo
   * (install at the workspace root) and this is the app's subdirectory of it.
   */
  projectDir: string;
  /** The stack the slug will run on, e.g. `debian-12` or `heroku-24`. */
  stack: string;
  /** The build env: config vars plus what earlier buildpacks exported (and, in compile, what this one exported so far), frozen. */
  env: Readonly<Record<string, string>>;
  /** The app's config vars alone (what a classic buildpack's ENV_DIR holds). */
  configVars?: Readonly<Record<string, string>>;
  /** The build log. */
  log: Logger;
}

/** The context of `detect`. */
export type DetectContext = BaseContext;

export type { RuntimeRecord } from './runtimes/types.js';

/** The context of `compile`: everything a buildpack may use, and nothing else. */
export interface CompileContext extends BaseContext {
  /** Runs a command with the build env, streaming its output into the log. */
  exec: ExecFn;
  /** This buildpack's own free-form cache dir, kept between builds of the same app (prefer `cache.layer`). */
  cacheDir: string;
  /** The layer cache: `cache.layer(name, key, { path? })` restores a layer when its key matches, else starts it empty and says why. */
  cache: { layer(name: string, key: LayerKey, options?: LayerOptions): Layer };
  /** The whole cache dir (shared downloads live in `<cacheRoot>/downloads`). */
  cacheRoot: string;
  /** A temp dir removed after the build. */
  tmpDir: string;
  /** `fetch` to use for downloads (injected by tests). */
  fetch: typeof globalThis.fetch;
  /** Writes `.profile.d/<name>.sh`, sourced when the slug boots. Use `$HOME`, never the build dir's path. */
  profileD(name: string, script: string): Promise<void>;
  /** Env vars for later commands and later buildpacks. */
  exportEnv(vars: Record<string, string>): void;
  /** Records a runtime the buildpack installed, for `slug.json`. */
  recordRuntime(runtime: RuntimeRecord): void;
  /** Resolves and installs runtimes from inventories, the npm registry or the stack's packages (mirror and offline aware). */
  runtimes: RuntimeInstaller;
  /** Aborted when the build is cancelled. */
  signal: AbortSignal;
  /**
   * Times a step of the build and adds it to the build's step timings
   * (slug.json `timings.steps`, the `--json` result, the log's last line):
   * `install`, `build` and `prune` are the standard names (the layer cache
   * times `restore` and `save` itself, the package stage `package`); others
   * are reported after them. Resolves or rejects as `f` does.
   */
  time<T>(step: string, f: () => Promise<T> | T): Promise<T>;
}

/** The context of `release`. */
export type ReleaseContext = BaseContext;

/** What a buildpack's `release` offers; merged across buildpacks, the Procfile wins. */
export interface ReleaseInfo {
  /** Default process types, e.g. `{ web: 'npm start' }`. */
  processTypes?: Record<string, string>;
  /** Default config vars. */
  configVars?: Record<string, string>;
  /** Add-ons the app needs. */
  addons?: string[];
}

/** A buildpack: a few small functions over plain contexts. */
export interface Buildpack {
  /** A stable id, e.g. `slugc/nodejs`. */
  id: string;
  /** A display name, e.g. `Node.js`. */
  name: string;
  /** Other ids that select this buildpack, e.g. `heroku/nodejs`. */
  aliases?: string[];
  /**
   * Builds an app in a subdirectory of its repo from the repo's root (npm,
   * yarn and pnpm workspaces): with `--app-dir`, the build dir keeps the
   * whole repo and `ctx.projectDir` is the app's dir. Without it, such an
   * app is built alone (the subdirectory becomes the build dir, as with
   * Heroku's `APP_BASE`).
   */
  workspaces?: boolean;
  /** Says whether the buildpack applies, and why. Must not throw for "no". */
  detect(ctx: DetectContext): Promise<Detection>;
  /** Installs the runtime and dependencies into the app dir. */
  compile(ctx: CompileContext): Promise<void>;
  /** Offers default process types, config vars and add-ons. */
  release?(ctx: ReleaseContext): Promise<ReleaseInfo>;
}

/** True when `x` has the shape of a {@link Buildpack}. */
export function isBuildpack(x: unknown): x is Buildpack {
  if (typeof x !== 'object' || x === null) return false;
  const b = x as Record<string, unknown>;
  return typeof b.id === 'string' && typeof b.name === 'string' && typeof b.detect === 'function' && typeof b.compile === 'function';
}
