/**
 * slugc: compile an app's source into a Heroku-style slug. This file is the
 * library's public API; anything not exported here is private.
 */
export { build, buildEnv, defaultCacheDir, resolveBuildpacks, validateBuildOptions, type BuildOptions, type BuildResult } from './build.js';
export { prepareBuildDir, readSlugignore, type PrepareResult } from './build-dir.js';
export { isBuildpack, type Buildpack, type BaseContext, type CompileContext, type DetectContext, type Detection, type ReleaseContext, type ReleaseInfo, type RuntimeRecord } from './buildpack.js';
export { compile, type CompileInput, type CompileOutput } from './compile.js';
export { detect, type DetectAnswer, type DetectInput, type DetectReport } from './detect.js';
export { downloadVerified, defaultFetch, parseChecksum, formatChecksum, type Checksum, type DownloadOptions, type DownloadResult } from './net/download.js';
export { parseEnvText, readEnvFile, parseEnvAssignment } from './env-file.js';
export { CommandFailedError, ChecksumMismatchError, SlugcError, VersionUnsatisfiableError, isSlugcError, type ErrorCode, type SlugcErrorOptions, type Stage } from './errors.js';
export { type ExecFn, type ExecOptions, type ExecResult } from './exec.js';
export { detectArchiveFormat, extractArchive, extractTar, type ExtractArchiveOptions, type ExtractFormat, type ExtractOptions, type ExtractResult } from './archive/extract.js';
export { createLogger, formatBytes, type BuildEvent, type Logger, type LoggerOptions } from './log.js';
export { DEFAULT_SIZE_LIMITS, DEFAULT_SOURCE_DATE_EPOCH, metadataPathFor, packageSlug, type PackageInput, type PackageOutput, type SizeLimits, type SlugMetadata } from './package.js';
export { PROCESS_TYPE_PATTERN, parseProcfile, type ProcessTypes } from './procfile.js';
export { readProcfile, release, type ReleaseInput, type ReleaseOutput } from './release.js';
export { packDirectory, type PackOptions, type PackProgress, type PackResult } from './slug/pack.js';
export { hostStack, sourceCommit } from './stack.js';
export { spawnDyno, unpackSlug, slugProcessTypes, type DynoOptions } from './dyno.js';
export { inspectSlug, type SlugReport } from './inspect.js';
export { LayerStore, describeKeyChange, type Layer, type LayerKey, type LayerOptions, type LayerState } from './cache/layers.js';
export { acquireLock, type Lock, type LockOptions } from './cache/lock.js';
export { appNamespace, clearCache, listCache, pruneCache, parseSize, type CacheEntry, type CacheListing, type PruneResult } from './cache/manage.js';
export { DEFAULT_CACHE_MAX_BYTES, type BuildCacheReport } from './build.js';
export { createRuntimeInstaller, hostPlatform, runtimeEnv, type InstalledRuntimeResult, type RuntimeInstaller, type RuntimeRequest } from './runtimes/install.js';
export { INVENTORY_SCHEMA_VERSION, inventorySchema, parseInventory, type Inventory } from './runtimes/inventory.js';
export { fetchDocument, mirrorUrl, validateMirror } from './net/mirror.js';
export { nearestVersions, requestToRange, resolveRuntime, type ResolveOptions, type ResolvedRuntime } from './runtimes/resolve.js';
export { createInventorySource } from './runtimes/sources/inventory.js';
export { createNpmSource, registryConfig, type RegistryConfig } from './runtimes/sources/npm.js';
export { createDebianSource, type DebianSourceOptions } from './runtimes/sources/debian.js';
export type { ArchiveFormat, InstalledRuntime, RuntimeArtifact, RuntimeSource, SourceContext } from './runtimes/types.js';
