/**
 * `slugc/testing`: unit-test a buildpack in-process, no Docker. Build an app
 * inline, run detect and the whole build, rebuild on the same cache, start
 * the slug's web process and talk to it, with fakes passed in as parameters.
 * Call `cleanup()` after each test (`afterEach(cleanup)`).
 */
export { cleanup } from './cleanup.js';
export {
  assertLogContains,
  assertProcessType,
  assertSlugContains,
  execRecorder,
  fakeFetch,
  fixtureApp,
  freePort,
  listSlug,
  runBuild,
  runCompile,
  runDetect,
  sandboxPath,
  sha256File,
  startProcess,
  tempDir,
  testApp,
  treeHash,
  unpackSlugToTemp,
  type AppFile,
  type BuildFailure,
  type BuildRun,
  type CompileRun,
  type RunCompileOptions,
  type FakeFetch,
  type RecordedCommand,
  type RunBuildOptions,
  type StartProcessOptions,
  type StartedProcess,
  type TestApp,
} from './kit.js';
export { serveMirror, type MirrorFault, type MirrorServer, type MirrorServerOptions } from './mirror-server.js';
export { buildMirror, writeInventory, type BuildMirrorOptions, type BuildMirrorResult } from './build-mirror.js';
