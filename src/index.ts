/**
 * slugc: compile an app's source into a Heroku-style slug. This file is the
 * library's public API; anything not exported here is private.
 */
export { build, buildEnv, defaultCacheDir, resolveBuildpacks, validateBuildOptions, type BuildOptions, type BuildResult } from './build.js';
export { prepareBuildDir, readSlugignore, type PrepareResult } from './build-dir.js';
export { isBuildpack, type Buildpack, type BaseContext, type CompileContext, type DetectContext, type Detection, type ReleaseContext, type ReleaseInfo, type RuntimeRecord } from './buildpack.js';
export { compile, type CompileInput, type CompileOutput } from './compile.js';
export { detect, type DetectAnswer, type DetectInput, type DetectReport } from './detect.js';
export { downloadVerified, defaultFetch, parseChecksum, formatChecksum, type Checksum, type DownloadOptions, type DownloadResult } from './download.js';
export { parseEnvText, readEnvFile, parseEnvAssignment } from './env-file.js';
export { CommandFailedError, ChecksumMismatchError, SlugcError, VersionUnsatisfiableError, isSlugcError, type ErrorCode, type SlugcErrorOptions, type Stage } from './errors.js';
export { type ExecFn, type ExecOptions, type ExecResult } from './exec.js';
export { extractTar, type ExtractOptions } from './extract.js';
export { createLogger, formatBytes, type BuildEvent, type Logger, type LoggerOptions } from './log.js';
export { DEFAULT_SIZE_LIMITS, DEFAULT_SOURCE_DATE_EPOCH, metadataPathFor, packageSlug, type PackageInput, type PackageOutput, type SizeLimits, type SlugMetadata } from './package.js';
export { PROCESS_TYPE_PATTERN, parseProcfile, type ProcessTypes } from './procfile.js';
export { readProcfile, release, type ReleaseInput, type ReleaseOutput } from './release.js';
export { packDirectory, type PackOptions, type PackProgress, type PackResult } from './slug/pack.js';
export { hostStack, sourceCommit } from './stack.js';
