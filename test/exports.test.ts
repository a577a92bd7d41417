import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support/cli.js';

/** Runs an ES module snippet with plain Node in the repo, so "slugc" resolves through package.json "exports" to dist/. */
function node(code: string) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: repoRoot, encoding: 'utf8' });
}

describe('the package exports, resolved by Node as for a user who installed slugc', () => {
  it('exposes the library at "slugc"', () => {
    const r = node(`const lib = await import('slugc'); console.log(JSON.stringify(Object.keys(lib).sort()));`);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual(
      expect.arrayContaining(['build', 'detect', 'compile', 'release', 'packageSlug', 'prepareBuildDir', 'parseProcfile', 'SlugcError', 'createLogger', 'packDirectory']),
    );
  });

  it('exposes the built-in buildpacks at "slugc/buildpacks"', () => {
    const r = node(`const b = await import('slugc/buildpacks'); console.log(b.builtinBuildpacks.map((x) => x.id).join(','), b.findBuiltinBuildpack('heroku/nodejs').id);`);
    expect(r.stdout.trim()).toBe('slugc/ruby,slugc/nodejs,slugc/python,slugc/java slugc/nodejs');
  });

  it('keeps private files private', () => {
    const r = node(`await import('slugc/dist/src/build.js');`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });
});

/**
 * The public export list of each subpath, pinned: a change to the API is a
 * change to this file, made on purpose (and to docs/ when it matters).
 */
const PINNED = {
  'slugc/sdk': [
      'APP_FILE_MAX_BYTES', 'ChecksumMismatchError', 'CommandFailedError', 'ConfigFileError', 'ENV_NAME_PATTERN', 'ERROR_CODE_PATTERN',
      'INVENTORY_SCHEMA_VERSION', 'SAFE_NAME_PATTERN', 'SlugcError', 'TAIL_BYTES', 'TAIL_LINES', 'VersionUnsatisfiableError', 'appFileExists',
      'appFileSha256', 'assertInside', 'copyTree', 'createDebianSource', 'createInventorySource', 'createNpmSource', 'dependencyLayer',
      'downloadVerified', 'fetchDocument', 'fetchPackument', 'firstLine', 'formatBytes', 'formatChecksum', 'hostPlatform', 'indentLines',
      'installRuntimeLayer', 'inventorySchema', 'isBuildpack', 'isSlugcError', 'manifestChanges', 'mirrorUrl', 'nearestVersions', 'outputTail',
      'packumentArtifacts', 'parseChecksum', 'parseIni', 'parseInventory', 'parseJson', 'parseProperties', 'parseTomlText', 'parseWithSchema', 'parseYaml',
      'positionAt', 'readAppFile', 'readConfigFile', 'refuseConflictingLockfiles', 'registryConfig', 'requestFrom', 'requestToRange',
      'resolveAppFile', 'resolveRuntime', 'rewriteShebangs', 'runtimeEnv', 'runtimeProfileScript', 'runtimeSources', 'safeName', 'treeManifest',
      'treeSize', 'urlCredentials', 'writeFileAtomic', 'zodProblems',
  ],
  /** `slugc` is everything in `slugc/sdk` plus these. */
  'slugc (besides slugc/sdk)': [
      'APP_DIR_INVALID', 'DEFAULT_CACHE_MAX_BYTES', 'DEFAULT_SIZE_LIMITS', 'DEFAULT_SOURCE_DATE_EPOCH', 'LayerStore', 'PROCESS_TYPE_PATTERN', 'acquireLock',
      'appNamespace', 'build', 'buildEnv', 'checkAppBase', 'clearCache', 'compile', 'createLogger', 'createRuntimeInstaller', 'defaultCacheDir', 'defaultFetch',
      'describeKeyChange', 'detect', 'detectArchiveFormat', 'detectFailure', 'extractArchive', 'extractTar', 'findBuildpack', 'hostStack',
      'inspectSlug', 'listCache', 'metadataPathFor', 'normalizeAppBase', 'packDirectory', 'packageSlug', 'parseEnvAssignment', 'parseEnvText', 'parseProcfile',
      'parseSize', 'prepareBuildDir', 'processTypesIn', 'pruneCache', 'readEnvFile', 'readProcfile', 'readSlugignore', 'release', 'resolveBuildpacks',
      'shellBuildpack', 'slugProcessTypes', 'sourceCommit', 'spawnDyno', 'unpackSlug', 'validateBuildOptions', 'validateMirror',
  ],
  'slugc/testing': [
      'assertLogContains', 'assertProcessType', 'assertSlugContains', 'buildMirror', 'cleanup', 'execRecorder', 'fakeFetch', 'fixtureApp',
      'freePort', 'listSlug', 'runBuild', 'runCompile', 'runDetect', 'sandboxPath', 'serveMirror', 'sha256File', 'startProcess', 'tempDir',
      'testApp', 'treeHash', 'unpackSlugToTemp', 'writeInventory',
  ],
  'slugc/buildpacks': [
      'DEFAULT_NODE_MAJOR', 'JDK_HOME', 'NODE_HOME', 'PYTHON_HOME', 'PYTHON_PACKAGES_DIR', 'RUBY_BUNDLE_DIR', 'RUBY_HOME', 'builtinBuildpacks',
      'createJavaBuildpack', 'createNodejsBuildpack', 'createPythonBuildpack', 'createRubyBuildpack', 'findBuiltinBuildpack', 'javaBuildpack',
      'nodejsBuildpack', 'pythonBuildpack', 'rubyBuildpack',
  ],
};

describe('the public API of each subpath', () => {
  const keys = (spec: string): string[] => {
    const r = node(`const m = await import(${JSON.stringify(spec)}); console.log(JSON.stringify(Object.keys(m).sort()));`);
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout) as string[];
  };

  it('pins what slugc/sdk exports', () => {
    expect(keys('slugc/sdk')).toEqual(PINNED['slugc/sdk']);
  });

  it('pins what slugc exports: all of slugc/sdk, and the stages, cache and CLI-facing functions', () => {
    const root = keys('slugc');
    expect(root.filter((k) => !PINNED['slugc/sdk'].includes(k))).toEqual(PINNED['slugc (besides slugc/sdk)']);
    expect(PINNED['slugc/sdk'].filter((k) => !root.includes(k))).toEqual([]);
  });

  it('pins what slugc/testing exports', () => {
    expect(keys('slugc/testing')).toEqual(PINNED['slugc/testing']);
  });

  it('pins what slugc/buildpacks exports', () => {
    expect(keys('slugc/buildpacks')).toEqual(PINNED['slugc/buildpacks']);
  });

  it('gives build() of slugc the built-ins, and the sdk none of them', () => {
    const r = node(`const lib = await import('slugc'); const sdk = await import('slugc/sdk'); console.log(typeof lib.build, 'build' in sdk, 'builtinBuildpacks' in lib);`);
    expect(r.stdout.trim()).toBe('function false false');
  });
});
