/**
 * `slugc/sdk`: what a buildpack is written with, ours and a third party's.
 * The contract (a buildpack is a few functions over plain contexts), the
 * errors, and the helpers every language buildpack needs: a runtime in a
 * launch layer, a lockfile-keyed dependency layer, runtime sources from
 * `SLUGC_<LANG>_*`, the version request from the first file that has one,
 * config readers that name the line and column, app files never read
 * through a link out of the app, conflicting lockfiles refused, shebangs
 * made relocatable. The built-in buildpacks import only this (and
 * `slugc/testing` in their tests). Everything here is also exported by
 * `slugc`.
 */

// The contract.
export { isBuildpack, type BaseContext, type Buildpack, type CompileContext, type DetectContext, type Detection, type ReleaseContext, type ReleaseInfo, type RuntimeRecord } from '../buildpack.js';
export type { Layer, LayerKey, LayerOptions, LayerState } from '../cache/layers.js';
export type { ExecFn, ExecOptions, ExecResult } from '../exec.js';
export type { BuildEvent, Logger } from '../log.js';

// Errors.
export {
  ChecksumMismatchError,
  CommandFailedError,
  ERROR_CODE_PATTERN,
  SlugcError,
  VersionUnsatisfiableError,
  isSlugcError,
  type CoreErrorCode,
  type ErrorCode,
  type SlugcErrorOptions,
  type Stage,
} from '../errors.js';
export { parseOrThrow as parseWithSchema, zodProblems } from '../problems.js';

// Helpers for language buildpacks.
export { installRuntimeLayer, runtimeProfileScript, type RuntimeLayer, type RuntimeLayerOptions } from './runtime-layer.js';
export { appFileSha256, dependencyLayer, type DependencyLayer, type DependencyLayerOptions } from './dependency-layer.js';
export { runtimeSources, type RuntimeSourcesOptions } from './sources.js';
export { firstLine, requestFrom, type VersionRequest, type VersionRequestFile } from './request.js';
export { APP_FILE_MAX_BYTES, appFileExists, readAppFile, resolveAppFile, type ReadAppFileOptions } from '../fs/app-file.js';
export {
  ConfigFileError,
  parseIni,
  parseJson,
  parseProperties,
  parseYaml,
  parseTomlText,
  positionAt,
  readConfigFile,
  type ConfigFileOptions,
  type ConfigFormat,
  type ConfigPosition,
  type IniData,
} from './config-file.js';
export { refuseConflictingLockfiles, type LockfileConflictOptions } from './lockfiles.js';
export { rewriteShebangs, type RewriteShebangsOptions } from '../fs/shebangs.js';
export { urlCredentials } from './secrets.js';

// Runtimes: requests, sources, inventories.
export { hostPlatform, runtimeEnv, type InstalledRuntimeResult, type RuntimeInstaller, type RuntimeRequest } from '../runtimes/install.js';
export { nearestVersions, requestToRange, resolveRuntime, type ResolveOptions, type ResolvedRuntime } from '../runtimes/resolve.js';
export { INVENTORY_SCHEMA_VERSION, inventorySchema, parseInventory, type Inventory } from '../runtimes/inventory.js';
export { createInventorySource } from '../runtimes/sources/inventory.js';
export { createNpmSource, fetchPackument, packumentArtifacts, registryConfig, type NpmSourceOptions, type Packument, type RegistryConfig } from '../runtimes/sources/npm.js';
export { createDebianSource, type DebianSourceOptions } from '../runtimes/sources/debian.js';
export type { ArchiveFormat, InstalledRuntime, RuntimeArtifact, RuntimeSource, SourceContext } from '../runtimes/types.js';
export { downloadVerified, formatChecksum, parseChecksum, type Checksum, type DownloadOptions, type DownloadResult } from '../net/download.js';
export { fetchDocument, mirrorUrl } from '../net/mirror.js';

// Files and text.
export { copyTree, manifestChanges, treeManifest, treeSize, type TreeManifest } from '../fs/tree.js';
export { writeFileAtomic } from '../fs/atomic.js';
export { assertInside } from '../fs/inside.js';
export { ENV_NAME_PATTERN, SAFE_NAME_PATTERN, safeName } from '../names.js';
export { TAIL_BYTES, TAIL_LINES, indentLines, outputTail } from '../text.js';
export { formatBytes } from '../log.js';
