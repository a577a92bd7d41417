import fs from 'node:fs';
import path from 'node:path';
import type { Buildpack, CompileContext, RuntimeRecord } from './buildpack.js';
import { SlugcError, errorMessage } from './errors.js';
import { assertInside } from './fs/inside.js';
import { parseOrThrow } from './problems.js';
import { stageInputSchema } from './schemas.js';
import { createExec, type ExecFn } from './exec.js';
import { ENV_NAME_PATTERN, safeName } from './names.js';
import type { Logger } from './log.js';
import type { RuntimeInstaller } from './runtimes/install.js';
import type { LayerStore } from './cache/layers.js';
import { StepTimer } from './timings.js';

/** What {@link compile} needs. */
export interface CompileInput {
  /** The build dir. */
  appDir: string;
  /** The app's own dir inside it with `--app-dir` (default `appDir`). */
  projectDir?: string;
  /** The buildpacks to run, in order. */
  buildpacks: Buildpack[];
  /** The build env every buildpack starts from. */
  env: Record<string, string>;
  /** The stack. */
  stack: string;
  /** The cache root (shared stores: downloads, runtimes). */
  cacheRoot: string;
  /** The app's cache namespace dir; each buildpack gets `<appCacheDir>/buildpacks/<id>`. */
  appCacheDir: string;
  /** The app's layers. */
  layers: LayerStore;
  /** A temp dir for the build, removed afterwards. */
  tmpDir: string;
  /** The `fetch` buildpacks use. */
  fetch: typeof globalThis.fetch;
  /** The build log. */
  log: Logger;
  /** Cancels the build. */
  signal: AbortSignal;
  /** The runtime installer buildpacks get as `ctx.runtimes`. */
  runtimes: RuntimeInstaller;
  /** Replaces `ctx.exec` (tests record commands instead of running them). */
  exec?: ExecFn;
  /** The app's config vars alone. */
  configVars?: Readonly<Record<string, string>>;
  /** Where `ctx.time` adds the buildpacks' step timings (the build's own timer). */
  steps?: StepTimer;
}

/** What the compile stage produced. */
export interface CompileOutput {
  /** Runtimes the buildpacks installed. */
  runtimes: RuntimeRecord[];
  /** Env vars the buildpacks exported (visible to later buildpacks). */
  exportedEnv: Record<string, string>;
  /** Milliseconds each buildpack took. */
  timings: { id: string; ms: number }[];
}


/**
 * Runs each buildpack's `compile` in order in the build dir. Env that one
 * buildpack exports reaches the next ones. Anything a buildpack throws is
 * wrapped with the buildpack's id and the stage.
 */
export async function compile(input: CompileInput): Promise<CompileOutput> {
  parseOrThrow(stageInputSchema, input, 'SLUGC_INVALID_INPUT', "Couldn't run compile: invalid input.", 'Pass { appDir, buildpacks, env, stack, cacheRoot, appCacheDir, layers, tmpDir, fetch, log, signal, runtimes }.');
  const runtimes: RuntimeRecord[] = [];
  const exportedEnv: Record<string, string> = {};
  const timings: CompileOutput['timings'] = [];
  const steps = input.steps ?? new StepTimer();
  for (const bp of input.buildpacks) {
    const started = performance.now();
    const env: Record<string, string> = { ...input.env, ...exportedEnv };
    const cacheDir = path.join(input.appCacheDir, 'buildpacks', safeName(bp.id));
    fs.mkdirSync(cacheDir, { recursive: true });
    const ctx: CompileContext = {
      appDir: input.appDir,
      projectDir: input.projectDir ?? input.appDir,
      stack: input.stack,
      // Live: what this buildpack exported so far is in it (a second runtime's PATH builds on the first's).
      get env() {
        return Object.freeze({ ...env });
      },
      configVars: Object.freeze({ ...(input.configVars ?? {}) }),
      log: input.log,
      // exec always sees the latest exports, including this buildpack's own.
      exec: (cmd, args, options) =>
        input.exec
          ? input.exec(cmd, args, { cwd: input.appDir, ...options, env: { ...env, ...(options?.env ?? {}) } })
          : createExec({ log: input.log, cwd: input.appDir, env: { ...env }, signal: input.signal })(cmd, args, options),
      cacheDir,
      cacheRoot: input.cacheRoot,
      tmpDir: input.tmpDir,
      fetch: input.fetch,
      signal: input.signal,
      async profileD(name, script) {
        if (!/^\w[\w.-]*$/.test(name)) throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't write .profile.d/${name}: bad name.`, { hint: 'Use letters, digits, ., _ and -.' });
        const dir = path.join(input.appDir, '.profile.d');
        const file = path.join(dir, name.endsWith('.sh') ? name : `${name}.sh`);
        assertInside(input.appDir, file, `.profile.d/${name}`);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(file, script.endsWith('\n') ? script : `${script}\n`, { mode: 0o644 });
      },
      exportEnv(vars) {
        for (const [k, v] of Object.entries(vars)) {
          if (!ENV_NAME_PATTERN.test(k)) throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't export ${JSON.stringify(k)}: not a valid variable name.`);
          exportedEnv[k] = v;
          env[k] = v;
        }
      },
      recordRuntime(r) {
        runtimes.push({ ...r });
      },
      runtimes: input.runtimes,
      cache: { layer: (name, key, options) => input.layers.open(bp.id, name, key, options) },
      time: (step, f) => steps.time(step, f),
    };
    input.log.event({ type: 'stage', stage: `compile:${bp.id}`, status: 'start' });
    try {
      await bp.compile(ctx);
    } catch (e) {
      throw wrapBuildpackError(e, bp, 'compile');
    }
    input.layers.saveUnsaved(bp.id);
    const ms = Math.round(performance.now() - started);
    timings.push({ id: bp.id, ms });
    input.log.event({ type: 'stage', stage: `compile:${bp.id}`, status: 'end', ms });
  }
  return { runtimes, exportedEnv, timings };
}

/** Wraps anything a buildpack threw with its id and the stage. */
export function wrapBuildpackError(e: unknown, bp: Buildpack, stage: 'detect' | 'compile' | 'release'): SlugcError {
  const err =
    e instanceof SlugcError
      ? e
      : new SlugcError('SLUGC_BUILDPACK_FAILED', `Couldn't ${stage} with ${bp.name}: ${errorMessage(e)}`, {
          hint: `This is an error inside the ${bp.id} buildpack; its output above says more.`,
          cause: e,
        });
  err.stage = stage;
  err.buildpack = bp.id;
  return err;
}
