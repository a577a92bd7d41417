import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { build } from '../index.js';
import { buildEnv, type BuildResult } from '../build.js';
import { prepareBuildDir } from '../build-dir.js';
import { checkAppBase, normalizeAppBase, rerootBuildDir } from '../app-base.js';
import type { Buildpack, RuntimeRecord } from '../buildpack.js';
import { LayerStore } from '../cache/layers.js';
import { acquireLock } from '../cache/lock.js';
import { appNamespace } from '../cache/manage.js';
import { compile } from '../compile.js';
import { detect, type DetectAnswer } from '../detect.js';
import { defaultFetch } from '../net/download.js';
import { metadataSettings, validateMirror } from '../net/mirror.js';
import { createRuntimeInstaller, hostPlatform } from '../runtimes/install.js';
import { spawnDyno, unpackSlug } from '../dyno.js';
import { SlugcError } from '../errors.js';
import type { ExecFn, ExecOptions } from '../exec.js';
import { createLogger, type BuildEvent } from '../log.js';
import { hostStack } from '../stack.js';
import { indentLines, outputTail } from '../text.js';
import { trackDir, trackProcessGroup, untrackProcessGroup } from './cleanup.js';

/** A file in an inline app: its contents, or a mode with contents, or a symlink. */
export type AppFile = string | Buffer | { content: string | Buffer; mode?: number } | { link: string };

/** An app written for a test; removed by `cleanup()`. */
export interface TestApp {
  /** The app's dir. */
  dir: string;
  /** Writes, replaces or (with `null`) removes files. */
  write(files: Record<string, AppFile | null>): void;
}

/** A fresh temp dir, removed by {@link cleanup}. */
export function tempDir(prefix = 'slugc-test-'): string {
  return trackDir(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
}

function writeFiles(dir: string, files: Record<string, AppFile | null>): void {
  for (const [rel, v] of Object.entries(files)) {
    const p = path.join(dir, rel);
    if (!p.startsWith(dir + path.sep)) throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't write ${rel}: it leaves the app dir.`, { hint: 'Use paths inside the app.' });
    fs.rmSync(p, { recursive: true, force: true });
    if (v === null) continue;
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof v === 'string' || Buffer.isBuffer(v)) fs.writeFileSync(p, v);
    else if ('link' in v) fs.symlinkSync(v.link, p);
    else fs.writeFileSync(p, v.content, { mode: v.mode ?? 0o644 });
  }
}

/** Writes an app from an inline file tree into a temp dir. */
export function testApp(files: Record<string, AppFile>): TestApp {
  const dir = path.join(tempDir('slugc-app-'), 'app');
  fs.mkdirSync(dir);
  writeFiles(dir, files);
  return { dir, write: (f) => writeFiles(dir, f) };
}

/** Copies an app from disk (a fixture) into a temp dir, so the test can change it freely. */
export function fixtureApp(source: string): TestApp {
  const dir = path.join(tempDir('slugc-app-'), path.basename(path.resolve(source)));
  fs.cpSync(source, dir, { recursive: true, verbatimSymlinks: true });
  return { dir, write: (f) => writeFiles(dir, f) };
}

/** Asks one buildpack whether it applies to an app. */
export async function runDetect(buildpack: Buildpack, app: TestApp | string, options: { stack?: string; env?: Record<string, string>; appBase?: string } = {}): Promise<DetectAnswer> {
  const dir = typeof app === 'string' ? app : app.dir;
  const base = normalizeAppBase(options.appBase, 'appBase');
  checkAppBase(dir, base, 'appBase');
  const report = await detect({ appDir: dir, projectDir: path.join(dir, base), buildpacks: [buildpack], explicit: false, stack: options.stack ?? hostStack(), env: options.env ?? {}, log: createLogger() });
  return report.answers[0]!;
}

/** Options of {@link runCompile}. */
export interface RunCompileOptions {
  /** The app (copied into a build dir first, as a build does: `.slugignore` applied, the source untouched). */
  app: TestApp | string;
  /** Config vars. */
  env?: Record<string, string>;
  /** The stack; default the host's. */
  stack?: string;
  /** A fake `exec` (see `execRecorder`): commands are recorded, not run. */
  exec?: ExecFn;
  /** A fake `fetch` (see `fakeFetch`). */
  fetch?: typeof globalThis.fetch;
  /** A runtime mirror. */
  mirror?: string;
  /** Only the cache and the mirror. */
  offline?: boolean;
  /**
   * A cache dir (default: a fresh one). Pass a shared one so runtimes are
   * downloaded once per test run; layers live under `appName`.
   */
  cacheDir?: string;
  /** The app's cache namespace (default: a fresh one per call, so runs never share layers unless asked). */
  appName?: string;
  /** Env of the host: proxies and TLS trust reach the build. Default `process.env`. */
  hostEnv?: Record<string, string | undefined>;
  /**
   * The app's subdirectory of the source (a repo), as `--app-dir`: a buildpack
   * that declares `workspaces` gets the whole repo and `ctx.projectDir`, any
   * other the subdirectory alone.
   */
  appBase?: string;
}

/** What one buildpack's compile did, for assertions; nothing is packaged. */
export interface CompileRun {
  /** The build dir after compile: look at what the buildpack wrote. Removed by `cleanup()`. */
  appDir: string;
  /** The app's own dir in it (`appDir`, unless `appBase` was given to a `workspaces` buildpack). */
  projectDir: string;
  /** The build log. */
  log: string;
  /** Every event. */
  events: BuildEvent[];
  /** What the buildpack exported for later buildpacks. */
  exportedEnv: Record<string, string>;
  /** Runtimes it recorded for slug.json. */
  runtimes: RuntimeRecord[];
  /** Every layer it opened: hit or not, and why. */
  layers: { layer: string; hit: boolean; state: string; reason: string }[];
  /** A `.profile.d` script it wrote, or null. */
  profileD(name: string): string | null;
}

/**
 * Runs one buildpack's `compile` on an app, in-process and without
 * packaging a slug: the fast unit test of a buildpack. The app is copied
 * into a build dir, the build env is made as `build()` makes it, the layer
 * cache and runtime installer are real (share `cacheDir` to download once),
 * and `exec` can record commands instead of running them. A failure
 * rejects with the `SlugcError` (carrying `log` and `events`).
 */
export async function runCompile(buildpack: Buildpack, options: RunCompileOptions): Promise<CompileRun> {
  const source = typeof options.app === 'string' ? options.app : options.app.dir;
  const work = tempDir('slugc-compile-');
  const appDir = path.join(work, 'app');
  const tmpDir = path.join(work, 'tmp');
  fs.mkdirSync(tmpDir);
  const events: BuildEvent[] = [];
  const log = createLogger({ onEvent: (e) => events.push(e) });
  const hostEnv = options.hostEnv ?? process.env;
  const cacheRoot = options.cacheDir ?? tempDir('slugc-cache-');
  const app = appNamespace(source, options.appName ?? `compile-${path.basename(work)}`);
  const appCacheDir = path.join(cacheRoot, 'apps', app);
  // A namespace of its own, made up here, goes with cleanup(); a named one is the caller's to keep.
  if (options.appName === undefined) trackDir(appCacheDir);
  const stack = options.stack ?? hostStack();
  const config = options.env ?? {};
  const fetchFn = options.fetch ?? defaultFetch(hostEnv);
  const mirror = options.mirror ? validateMirror(options.mirror) : undefined;
  const signal = new AbortController().signal;
  prepareBuildDir(source, appDir);
  const base = normalizeAppBase(options.appBase, 'appBase');
  checkAppBase(source, base, 'appBase');
  let projectDir = path.join(appDir, base);
  if (base && !buildpack.workspaces) {
    rerootBuildDir(appDir, base, path.join(work, 'trash'));
    projectDir = appDir;
  }
  const lock = await acquireLock(appCacheDir, { log, signal });
  try {
    const layers = new LayerStore({ root: appCacheDir, appDir, workDir: work, log });
    const env = buildEnv({ appDir, stack, commit: null, config, hostEnv, log, buildId: lock.id });
    const metadata = metadataSettings({ SLUGC_METADATA_TTL: config.SLUGC_METADATA_TTL ?? hostEnv.SLUGC_METADATA_TTL, SLUGC_METADATA_TIMEOUT_MS: config.SLUGC_METADATA_TIMEOUT_MS ?? hostEnv.SLUGC_METADATA_TIMEOUT_MS });
    const runtimes = createRuntimeInstaller({ cacheRoot, fetch: fetchFn, log, stack, ...hostPlatform(), offline: Boolean(options.offline), tmpDir, signal, metadataTtlSeconds: metadata.ttlSeconds, metadataTimeoutMs: metadata.timeoutMs, ...(mirror ? { mirror } : {}) });
    const out = await compile({ appDir, projectDir, buildpacks: [buildpack], env, stack, cacheRoot, appCacheDir, layers, tmpDir, fetch: fetchFn, log, signal, runtimes, configVars: config, ...(options.exec ? { exec: options.exec } : {}) });
    return {
      appDir,
      projectDir,
      log: log.text(),
      events,
      exportedEnv: out.exportedEnv,
      runtimes: out.runtimes,
      layers: layers.layers().map(({ layer }) => ({ layer: layer.name, hit: layer.hit, state: layer.state, reason: layer.reason })),
      profileD: (name) => {
        try {
          return fs.readFileSync(path.join(appDir, '.profile.d', name.endsWith('.sh') ? name : `${name}.sh`), 'utf8');
        } catch {
          return null;
        }
      },
    };
  } catch (e) {
    if (e instanceof SlugcError) Object.assign(e, { log: log.text(), events });
    throw e;
  } finally {
    lock.release();
  }
}

/** A hash of a whole tree (paths, modes, link targets, contents, mtimes): assert a source dir was not modified. */
export function treeHash(dir: string): string {
  const h = crypto.createHash('sha256');
  const walk = (rel: string) => {
    for (const n of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(path.join(dir, r));
      h.update(`${r}\0${st.mode}\0${st.mtimeMs}\0`);
      if (st.isSymbolicLink()) h.update(fs.readlinkSync(path.join(dir, r)));
      else if (st.isDirectory()) walk(r);
      else h.update(fs.readFileSync(path.join(dir, r)));
    }
  };
  walk('');
  return h.digest('hex');
}

/** Unpacks a slug into a fresh temp dir (removed by `cleanup()`) with slugc's safe extractor; returns its `app` dir. */
export async function unpackSlugToTemp(slug: string): Promise<string> {
  return unpackSlug(slug, tempDir('slugc-slug-'));
}

/** Options of {@link runBuild}. */
export interface RunBuildOptions {
  /** The app. */
  app: TestApp | string;
  /** Buildpacks to run (objects or built-in ids); default: auto-detect over the built-ins. */
  buildpacks?: (Buildpack | string)[];
  /** Config vars. */
  env?: Record<string, string>;
  /** A runtime mirror (e.g. `serveMirror(dir).url`). */
  mirror?: string;
  /** Only the cache and the mirror. */
  offline?: boolean;
  /** The stack; default the host's. */
  stack?: string;
  /** A fake `fetch` (see `fakeFetch`). */
  fetch?: typeof globalThis.fetch;
  /** A fake `exec` (see `execRecorder`): commands are recorded, not run. */
  exec?: ExecFn;
  /** A cache dir to use (default: a fresh one per `runBuild`, shared by its rebuilds). */
  cacheDir?: string;
  /** The app's cache namespace (default `test`); give each test its own when they share a `cacheDir`. */
  appName?: string;
  /** Build without reading or writing layers (e.g. with `execRecorder`, whose commands never fill them). */
  noCache?: boolean;
  /** Env of the host slugc runs on; only proxies, TLS trust (`NODE_EXTRA_CA_CERTS`, ...), npm settings and PATH reach the build. Default `process.env`. */
  hostEnv?: Record<string, string | undefined>;
  /** The app's subdirectory of `app` (a repo), as `--app-dir packages/web`. */
  appBase?: string;
}

/** What a build did, for assertions. */
export interface BuildRun {
  /** The library's full result. */
  result: BuildResult;
  /** The build log as text. */
  log: string;
  /** Every event. */
  events: BuildEvent[];
  /** Every buildpack's detect answer. */
  detect: BuildResult['detect'];
  /** The merged release. */
  release: BuildResult['release'];
  /** The slug. */
  slugPath: string;
  /** slug.json. */
  slugJson: BuildResult['slug']['metadata'];
  /** Every path in the slug, without the `./app/` prefix (dirs end with `/`), sorted. */
  files: string[];
  /** Layer states. */
  cache: BuildResult['cache'];
  /** Builds again on the same cache, after applying `changes` to the app (`null` removes a file). */
  rebuild(changes?: Record<string, AppFile | null>): Promise<BuildRun>;
}

/** A failed build's error, with the log up to the failure. */
export type BuildFailure = SlugcError & { log: string; events: BuildEvent[] };

/**
 * Builds an app into a slug in a temp dir, in-process, and returns what a
 * test asserts on. A failed build rejects with the `SlugcError`, carrying
 * `log` and `events`.
 */
export async function runBuild(options: RunBuildOptions): Promise<BuildRun> {
  const app = typeof options.app === 'string' ? { dir: options.app, write: (f: Record<string, AppFile | null>) => writeFiles(options.app as string, f) } : options.app;
  const cacheDir = options.cacheDir ?? tempDir('slugc-cache-');
  const run = async (): Promise<BuildRun> => {
    const events: BuildEvent[] = [];
    const logger = createLogger({ onEvent: (e) => events.push(e) });
    const out = path.join(tempDir('slugc-slug-'), 'slug.tgz');
    let result: BuildResult;
    try {
      result = await build({
        sourceDir: app.dir,
        output: out,
        cacheDir,
        app: options.appName ?? 'test',
        logger,
        hostEnv: options.hostEnv ?? process.env,
        ...(options.buildpacks ? { buildpacks: options.buildpacks } : {}),
        ...(options.env ? { env: options.env } : {}),
        ...(options.mirror ? { mirror: options.mirror } : {}),
        ...(options.offline ? { offline: true } : {}),
        ...(options.stack ? { stack: options.stack } : {}),
        ...(options.fetch ? { fetch: options.fetch } : {}),
        ...(options.exec ? { exec: options.exec } : {}),
        ...(options.noCache ? { noCache: true } : {}),
        ...(options.appBase !== undefined ? { appBase: options.appBase } : {}),
      });
    } catch (e) {
      if (e instanceof SlugcError) Object.assign(e, { log: logger.text(), events });
      throw e;
    }
    return {
      result,
      log: result.log,
      events,
      detect: result.detect,
      release: result.release,
      slugPath: result.slug.path,
      slugJson: result.slug.metadata,
      files: listSlug(result.slug.path),
      cache: result.cache,
      rebuild: async (changes) => {
        if (changes) app.write(changes);
        return run();
      },
    };
  };
  return run();
}

/** Every path in a slug, without the `./app/` prefix (dirs end with `/`), sorted. */
export function listSlug(slug: string): string[] {
  const files: string[] = [];
  tar.t({ file: slug, sync: true, onReadEntry: (e) => files.push(e.path) });
  return files
    .map((p) => p.replace(/^\.\/app\/?/, ''))
    .filter(Boolean)
    .sort();
}

/** A fake `fetch` and the URLs it was asked for. */
export interface FakeFetch {
  fetch: typeof globalThis.fetch;
  /** Every URL asked for, in order. */
  calls: string[];
}

/**
 * A `fetch` that serves files from a folder laid out like a mirror
 * (`<dir>/<host>/<path>`; a directory answers with its `index.json`) and
 * 404s anything else, recording every URL. Routes can override answers.
 */
export function fakeFetch(dir: string, routes: Record<string, () => Response | Promise<Response>> = {}): FakeFetch {
  const calls: string[] = [];
  const f = (async (input: string | URL | Request) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.push(url);
    const route = routes[url];
    if (route) return route();
    const u = new URL(url);
    let file = path.join(dir, u.host, decodeURIComponent(u.pathname));
    if (!file.startsWith(path.resolve(dir))) return new Response('bad path', { status: 400 });
    try {
      if (fs.statSync(file).isDirectory()) file = path.join(file, 'index.json');
      const body = fs.readFileSync(file);
      return new Response(new Uint8Array(body), { status: 200, headers: { 'content-length': String(body.length) } });
    } catch {
      return new Response('not found', { status: 404 });
    }
  }) as typeof globalThis.fetch;
  return { fetch: f, calls };
}

/** One command an {@link execRecorder} saw. */
export interface RecordedCommand {
  command: string;
  args: string[];
  cwd: string | undefined;
  env: Record<string, string | undefined>;
  /** `command args...` as one string. */
  line: string;
}

/**
 * An `exec` that records commands instead of running them, for buildpack
 * unit tests that assert what would run. `respond` may return output or a
 * non-zero exit code per command.
 */
export function execRecorder(respond?: (cmd: RecordedCommand) => { stdout?: string; stderr?: string; code?: number } | void): { exec: ExecFn; commands: RecordedCommand[] } {
  const commands: RecordedCommand[] = [];
  const exec: ExecFn = async (command, args, options: ExecOptions = {}) => {
    const rec: RecordedCommand = { command, args, cwd: options.cwd, env: options.env ?? {}, line: [command, ...args].join(' ') };
    commands.push(rec);
    const r = respond?.(rec) ?? {};
    if (r.code) {
      const { CommandFailedError } = await import('../errors.js');
      throw new CommandFailedError(rec.line, r.code, null, `${r.stdout ?? ''}${r.stderr ?? ''}`, options.hint);
    }
    return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', truncated: false };
  };
  return { exec, commands };
}

/** A started process of a slug. */
export interface StartedProcess {
  /** `http://127.0.0.1:<port>/`. */
  url: string;
  port: number;
  /** The unpacked app dir (its HOME). */
  appDir: string;
  /** What it printed so far (stdout and stderr). */
  output(): string;
  /** Kills its whole process group. */
  stop(): void;
}

/** Options of {@link startProcess}. */
export interface StartProcessOptions {
  /** Config vars. */
  env?: Record<string, string>;
  /** Keep the host's PATH (default: only basic shell tools, no language runtimes, so the slug must carry its own). */
  keepHostPath?: boolean;
  /** How long to wait for the port (default 30 s). */
  timeoutMs?: number;
}

/** Shell tools a process may need that are not language runtimes. */
const SANDBOX_TOOLS = ['sh', 'bash', 'env', 'cat', 'ls', 'mkdir', 'rm', 'cp', 'mv', 'ln', 'dirname', 'basename', 'uname', 'sed', 'grep', 'tr', 'head', 'tail', 'sleep', 'date', 'id', 'true', 'false'];

/** A dir of links to basic shell tools only: a PATH with none of the host's language runtimes. */
export function sandboxPath(): string {
  const dir = tempDir('slugc-bin-');
  for (const tool of SANDBOX_TOOLS) {
    const found = ['/usr/bin', '/bin'].map((d) => path.join(d, tool)).find((p) => fs.existsSync(p));
    if (found) fs.symlinkSync(found, path.join(dir, tool));
  }
  return dir;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Runs a process type of a built slug the way a dyno would: unpacks the slug
 * into a temp dir (HOME), sources `.profile.d`, sets `PORT`, and by default
 * gives it a PATH without the host's language runtimes. Resolves once the
 * port answers; a process that exits first or never opens its port fails
 * with its output in the error.
 */
export async function startProcess(run: BuildRun | { slugPath: string; release: { processTypes: Record<string, string> } }, type = 'web', options: StartProcessOptions = {}): Promise<StartedProcess> {
  const command = run.release.processTypes[type];
  if (!command) {
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't start the ${type} process: the slug has no such process type (it has: ${Object.keys(run.release.processTypes).join(', ') || 'none'}).`, {
      hint: 'Add it to the Procfile or have a buildpack release it.',
    });
  }
  const appDir = await unpackSlug(run.slugPath, tempDir('slugc-dyno-'));
  const port = await freePort();
  const child = spawnDyno({ appDir, command, port, env: options.env ?? {}, path: options.keepHostPath ? (process.env.PATH ?? '/usr/bin:/bin') : sandboxPath() });
  trackProcessGroup(child.pid!);
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  let exited: number | string | null = null;
  child.on('exit', (code, sig) => (exited = code ?? sig ?? 'unknown'));
  const stop = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
    untrackProcessGroup(child.pid!);
  };
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== null) {
      stop();
      throw new SlugcError('SLUGC_COMMAND_FAILED', `Couldn't start the ${type} process (\`${command}\`): it exited (${exited}) before opening port ${port}.\n${indent(output)}`, {
        hint: 'Read its output above; run the slug with `slugc run` to try it by hand.',
        details: { output },
      });
    }
    if (await answers(port)) return { url: `http://127.0.0.1:${port}/`, port, appDir, output: () => output, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  stop();
  throw new SlugcError('SLUGC_COMMAND_FAILED', `Couldn't reach the ${type} process (\`${command}\`): port ${port} did not answer within ${timeoutMs} ms.\n${indent(output)}`, {
    hint: 'The process must listen on $PORT (on 127.0.0.1 or all interfaces).',
    details: { output },
  });
}

function indent(s: string): string {
  return indentLines(outputTail(s)) || '       (no output)';
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** Throws when the slug lacks a path (compared without `./app/`), naming near misses. */
export function assertSlugContains(run: Pick<BuildRun, 'files'>, file: string): void {
  const want = file.replace(/^(\.\/app\/|\/app\/|\/)/, '');
  if (run.files.includes(want) || run.files.includes(`${want}/`)) return;
  const base = path.basename(want);
  const near = run.files.filter((f) => f.includes(base)).slice(0, 5);
  throw new Error(`Expected the slug to contain ${want}, but it does not.${near.length ? ` Similar paths: ${near.join(', ')}.` : ''} It has ${run.files.length} entries.`);
}

/** Throws when a process type is missing or has another command. */
export function assertProcessType(run: Pick<BuildRun, 'release'>, type: string, command: string | RegExp): void {
  const got = run.release.processTypes[type];
  const ok = got !== undefined && (typeof command === 'string' ? got === command : command.test(got));
  if (!ok) {
    throw new Error(`Expected process type ${type} to be ${String(command)}, but it is ${got === undefined ? 'missing' : JSON.stringify(got)}. Process types: ${JSON.stringify(run.release.processTypes)}.`);
  }
}

/** Throws when no log line contains `text` (or matches the regex), showing the log. */
export function assertLogContains(run: Pick<BuildRun, 'log'>, text: string | RegExp): void {
  const lines = run.log.split('\n');
  if (lines.some((l) => (typeof text === 'string' ? l.includes(text) : text.test(l)))) return;
  throw new Error(`Expected a log line ${typeof text === 'string' ? `containing ${JSON.stringify(text)}` : `matching ${String(text)}`}, but none did. The log:\n${lines.map((l) => `  | ${l}`).join('\n')}`);
}

/** sha256 of a file, for comparing slugs. */
export function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}
