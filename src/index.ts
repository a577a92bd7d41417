/**
 * slugc: compile an app's source into a Heroku-style slug. This file is the
 * library's public API (`slugc`); anything not exported here is private.
 * It is an entry point: the one module of the library that knows the
 * built-in buildpacks, so `build()` auto-detects over them by default.
 * What buildpack authors need is also at `slugc/sdk`, which knows none.
 */
import { builtinBuildpacks } from '../buildpacks/index.js';
import { build as buildWithBuiltins, type BuildOptions, type BuildResult } from './build.js';

export * from './sdk/index.js';

/**
 * Builds a slug: copies the source to a fresh build dir (applying
 * `.slugignore`), detects buildpacks (slugc's built-ins unless
 * `options.builtins` says otherwise), compiles, merges the release, and
 * packages `slug.tgz` plus `slug.json`. The source dir is never modified.
 */
export function build(options: BuildOptions): Promise<BuildResult> {
  return buildWithBuiltins({ builtins: builtinBuildpacks, ...options });
}

export { buildEnv, defaultCacheDir, resolveBuildpacks, validateBuildOptions, DEFAULT_CACHE_MAX_BYTES, type BuildCacheReport, type BuildOptions, type BuildResult } from './build.js';
export { findBuildpack } from './buildpack-ref.js';
export { prepareBuildDir, readSlugignore, type PrepareResult } from './build-dir.js';
export { APP_DIR_INVALID, normalizeAppBase, checkAppBase, processTypesIn } from './app-base.js';
export { compile, type CompileInput, type CompileOutput } from './compile.js';
export { detect, detectFailure, type DetectAnswer, type DetectInput, type DetectReport } from './detect.js';
export { defaultFetch } from './net/download.js';
export { validateMirror } from './net/mirror.js';
export { parseEnvText, readEnvFile, parseEnvAssignment } from './env-file.js';
export { detectArchiveFormat, extractArchive, extractTar, type ExtractArchiveOptions, type ExtractFormat, type ExtractOptions, type ExtractResult } from './archive/extract.js';
export { createLogger, type LoggerOptions } from './log.js';
export { DEFAULT_SIZE_LIMITS, DEFAULT_SOURCE_DATE_EPOCH, metadataPathFor, packageSlug, type PackageInput, type PackageOutput, type SizeLimits, type SlugMetadata } from './package.js';
export { PROCESS_TYPE_PATTERN, parseProcfile, type ProcessTypes } from './procfile.js';
export { readProcfile, release, type ReleaseInput, type ReleaseOutput } from './release.js';
export { packDirectory, type PackOptions, type PackProgress, type PackResult } from './slug/pack.js';
export { hostStack, sourceCommit } from './stack.js';
export { spawnDyno, unpackSlug, slugProcessTypes, type DynoOptions } from './dyno.js';
export { inspectSlug, type SlugReport } from './inspect.js';
export { LayerStore, describeKeyChange } from './cache/layers.js';
export { acquireLock, type Lock, type LockOptions } from './cache/lock.js';
export { appNamespace, clearCache, listCache, pruneCache, parseSize, type CacheEntry, type CacheListing, type PruneResult } from './cache/manage.js';
export { createRuntimeInstaller } from './runtimes/install.js';
export { shellBuildpack, type ShellBuildpackOptions } from './classic.js';
