import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { z } from 'zod';
import type { Buildpack, ReleaseInfo } from './buildpack.js';
import { copyTree } from './fs/tree.js';
import { SlugcError, errorMessage } from './errors.js';
import { MAX_CAPTURE, commandFailure, runCommand, type CommandOutcome } from './exec.js';
import { ENV_NAME_PATTERN, safeName } from './names.js';
import { createLogger, type Logger } from './log.js';
import { zodProblems } from './problems.js';
import { outputTail } from './text.js';

/** Options of {@link shellBuildpack}. */
export interface ShellBuildpackOptions {
  /** The id it is known by (default `classic/<dir name>`). */
  id?: string;
  /** Kill `bin/compile` after this long (default 15 minutes, Heroku's classic compile limit). */
  timeoutMs?: number;
}

/** Heroku's classic compile limit. */
export const DEFAULT_CLASSIC_TIMEOUT_MS = 15 * 60_000;
/** `bin/detect` and `bin/release` should answer at once. */
const QUICK_TIMEOUT_MS = 60_000;
/** The longest timer Node keeps (a longer one fires at once). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** The YAML `bin/release` prints. */
const releaseSchema = z
  .object({
    addons: z.array(z.string()).nullish(),
    config_vars: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).nullish(),
    default_process_types: z.record(z.string(), z.string()).nullish(),
  })
  .loose();

/**
 * Wraps a Heroku classic buildpack (`bin/detect`, `bin/compile`,
 * `bin/release`) in the buildpack interface, so existing buildpacks run
 * unchanged beside the built-in ones:
 *
 * - `bin/detect BUILD_DIR`: exit 0 and a name on stdout means it applies.
 * - `bin/compile BUILD_DIR CACHE_DIR ENV_DIR`: ENV_DIR holds one file per
 *   config var; output is streamed as the buildpack formats it; killed after
 *   `timeoutMs`. The buildpack runs from a writable copy, so the `export`
 *   file it writes into its own dir works even when that dir is read-only;
 *   the vars it exports reach later buildpacks.
 * - `bin/release BUILD_DIR`: YAML with `addons`, `config_vars` and
 *   `default_process_types`, parsed with a real YAML parser.
 */
export function shellBuildpack(dir: string, options: ShellBuildpackOptions = {}): Buildpack {
  const root = path.resolve(dir);
  const id = options.id ?? `classic/${path.basename(root)}`;
  const bin = (name: string) => path.join(root, 'bin', name);
  const has = (name: string) => fs.existsSync(bin(name));
  let displayName = path.basename(root);
  return {
    id,
    get name() {
      return displayName;
    },
    async detect(ctx) {
      if (!has('compile')) return { pass: false, reason: `${root} has no bin/compile: not a classic buildpack` };
      if (!has('detect')) return { pass: true, name: displayName, reason: 'no bin/detect: always applies' };
      let r: CommandOutcome;
      try {
        r = await runCommand({ log: ctx.log, cwd: ctx.appDir, env: { ...ctx.env } }, bin('detect'), [ctx.appDir], { quiet: true, timeoutMs: QUICK_TIMEOUT_MS });
      } catch (e) {
        return { pass: false, reason: ctx.log.scrub(`bin/detect could not run: ${errorMessage(e)}`) };
      }
      if (r.code === 0 && !r.killedBy) {
        // A name cut at the capture limit would be taken as the whole answer.
        if (r.stdoutTruncated) throw tooMuchOutput('detect', id);
        const name = r.stdout.trim().split('\n')[0]?.trim();
        if (name) displayName = name;
        return { pass: true, name: name || displayName, reason: `bin/detect said "${name || 'yes'}"` };
      }
      // The reason quotes its output: bounded (it may have printed megabytes) and scrubbed (it may have echoed a secret).
      const text = r.truncated ? r.tail : r.stderr.trim() ? r.stderr : r.stdout;
      const why = outputTail(text, { lines: 3, bytes: 1024 }).split('\n').map((l) => l.trim()).join(' ');
      const how = r.killedBy === 'timeout' ? `ran longer than ${QUICK_TIMEOUT_MS} ms and was killed` : `exited ${r.code ?? r.signal}`;
      return { pass: false, reason: ctx.log.scrub(`bin/detect ${how}${why ? `: ${why}` : ''}`) };
    },
    async compile(ctx) {
      // A writable copy: classic buildpacks write `export` (and sometimes more) into their own dir.
      const work = path.join(ctx.tmpDir, 'buildpacks', safeName(id));
      fs.rmSync(work, { recursive: true, force: true });
      copyTree(root, work, 'copy');
      const envDir = path.join(ctx.tmpDir, 'env', safeName(id));
      fs.rmSync(envDir, { recursive: true, force: true });
      fs.mkdirSync(envDir, { recursive: true, mode: 0o700 });
      for (const [k, v] of Object.entries(ctx.configVars ?? {})) {
        if (ENV_NAME_PATTERN.test(k)) fs.writeFileSync(path.join(envDir, k), v, { mode: 0o600 });
      }
      const logFile = path.join(ctx.tmpDir, `buildpack-log-${safeName(id)}`);
      const timeoutMs = compileTimeout(ctx.configVars?.SLUGC_BUILDPACK_TIMEOUT_MS ?? ctx.env.SLUGC_BUILDPACK_TIMEOUT_MS, options.timeoutMs);
      try {
        await ctx.exec(path.join(work, 'bin', 'compile'), [ctx.appDir, ctx.cacheDir, envDir], {
          raw: true,
          timeoutMs,
          env: { BUILDPACK_LOG_FILE: logFile, BUILDPACK_DIR: work, REQUEST_ID: ctx.env.REQUEST_ID ?? `slugc-${process.pid}` },
          hint: `bin/compile of ${id} failed; its output is above.`,
        });
      } finally {
        fs.rmSync(envDir, { recursive: true, force: true }); // config vars never outlive the step
      }
      const exportFile = path.join(work, 'export');
      if (fs.existsSync(exportFile)) {
        const exported = await sourceExport(exportFile, ctx.env, ctx.appDir, ctx.log);
        if (Object.keys(exported).length) ctx.exportEnv(exported);
      }
    },
    async release(ctx) {
      if (!has('release')) return {};
      // The context's logger, quiet: its output stays out of the log, but secrets stay out of its errors.
      const options = { quiet: true, timeoutMs: QUICK_TIMEOUT_MS, hint: `bin/release of ${id} failed.` };
      const r = await runCommand({ log: ctx.log, cwd: ctx.appDir, env: { ...ctx.env } }, bin('release'), [ctx.appDir], options);
      if (r.code !== 0 || r.killedBy) throw commandFailure(ctx.log, bin('release'), [ctx.appDir], r, options);
      // YAML cut at the capture limit may still parse, as something else.
      if (r.stdoutTruncated) throw tooMuchOutput('release', id);
      return parseReleaseYaml(r.stdout, id, (t) => ctx.log.scrub(t));
    },
  };
}

/**
 * The `bin/compile` limit: a `SLUGC_BUILDPACK_TIMEOUT_MS` setting (the
 * config var, else slugc's own env, which the build env carries), else the
 * option, else Heroku's 15 minutes. A setting that is not a whole number of
 * milliseconds is refused, not ignored.
 */
function compileTimeout(setting: string | undefined, option: number | undefined): number {
  if (setting === undefined || setting.trim() === '') return option ?? DEFAULT_CLASSIC_TIMEOUT_MS;
  const ms = /^\d+$/.test(setting.trim()) ? Number(setting) : NaN;
  if (!(ms > 0 && ms <= MAX_TIMEOUT_MS)) {
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't use SLUGC_BUILDPACK_TIMEOUT_MS=${JSON.stringify(setting)}: not a whole number of milliseconds between 1 and ${MAX_TIMEOUT_MS}.`, {
      hint: 'Set SLUGC_BUILDPACK_TIMEOUT_MS to milliseconds (900000 is 15 minutes), or unset it.',
    });
  }
  return ms;
}

/** The error for a `bin/detect` or `bin/release` whose stdout went past what slugc keeps. */
function tooMuchOutput(step: 'detect' | 'release', id: string): SlugcError {
  return new SlugcError('SLUGC_BUILDPACK_FAILED', `Couldn't read the output of bin/${step} of ${id}: it printed more than ${MAX_CAPTURE / 1024 / 1024} MiB, and cut output is never used.`, {
    hint:
      step === 'detect'
        ? 'bin/detect prints one line on stdout, the name of what it detected; send anything else to stderr.'
        : 'bin/release prints a short YAML document on stdout (addons, config_vars, default_process_types); send anything else to stderr.',
  });
}

/**
 * Parses what a classic `bin/release` prints; errors name the line. `scrub`
 * (the log's) is applied to everything an error quotes of the output.
 */
export function parseReleaseYaml(text: string, id = 'the buildpack', scrub: (text: string) => string = (t) => t): ReleaseInfo {
  if (!text.trim()) return {};
  // yaml is loaded when a classic buildpack's release is first read: start-up time counts.
  const { parseDocument } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  const doc = parseDocument(text);
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new SlugcError('SLUGC_BUILDPACK_FAILED', scrub(`Couldn't read the YAML bin/release of ${id} printed${line ? ` (line ${line})` : ''}: ${e.message.split('\n')[0]}`), {
      hint: 'bin/release must print YAML with addons, config_vars and default_process_types.',
      details: { output: scrub(excerpt(text, line ?? 1)), ...(line ? { line } : {}) },
    });
  }
  const parsed = releaseSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    const problems = zodProblems(parsed.error).map(scrub);
    throw new SlugcError('SLUGC_BUILDPACK_FAILED', `Couldn't use the release of ${id}:\n${problems.map((p) => `  ${p}`).join('\n')}`, {
      hint: 'default_process_types and config_vars map names to strings; addons is a list.',
      details: { problems },
    });
  }
  const r = parsed.data;
  return {
    ...(r.default_process_types ? { processTypes: r.default_process_types } : {}),
    ...(r.config_vars ? { configVars: r.config_vars as Record<string, string> } : {}),
    ...(r.addons ? { addons: r.addons } : {}),
  };
}

/** The lines of `text` around `line` (1-based), each cut short: what an error quotes of output that may be megabytes. */
function excerpt(text: string, line: number): string {
  return text
    .split('\n', line + 2)
    .slice(Math.max(0, line - 3))
    .map((l) => (l.length > 200 ? `${l.slice(0, 200)}…` : l))
    .join('\n');
}

/**
 * Sources a classic buildpack's `export` file in bash, in the build env, and
 * returns the vars it set or changed. An export file bash reports an error
 * in (a syntax error, a command it cannot run) fails, naming the line, even
 * where bash itself would go on: the vars it did not get to would be
 * silently missing. Quoted output passes through the log's `scrub`.
 */
export async function sourceExport(file: string, env: Readonly<Record<string, string>>, cwd: string, log: Logger = createLogger()): Promise<Record<string, string>> {
  // --norc: with its stdin a socket, bash would read the host's ~/.bashrc.
  const r = await runCommand({ log, cwd, env: { ...env } }, '/bin/bash', ['--norc', '--noprofile', '-c', 'set -a; . "$1" >/dev/null; env -0', 'export', file], { quiet: true, timeoutMs: QUICK_TIMEOUT_MS });
  // Bash names errors in a sourced file `<file>: line <n>: <what>`.
  const prefix = `${file}: `;
  const stderr = r.stderrTruncated ? `${r.stderr}\n${r.tail}` : r.stderr;
  const bashError = stderr.split('\n').find((l) => l.startsWith(prefix) && /^line \d+: /.test(l.slice(prefix.length)))?.slice(prefix.length);
  const why = r.killedBy === 'timeout'
    ? `it ran longer than ${QUICK_TIMEOUT_MS} ms`
    : bashError
      ? bashError.trim()
      : r.code !== 0
        ? outputTail(r.stderr, { lines: 1, bytes: 512 }) || `exit ${r.code ?? r.signal}`
        : r.stdoutTruncated
          ? `the environment it leaves is larger than ${MAX_CAPTURE / 1024 / 1024} MiB`
          : null;
  if (why) {
    throw new SlugcError('SLUGC_BUILDPACK_FAILED', log.scrub(`Couldn't source the export file ${file}: ${why.replace(/\.$/, '')}.`), {
      hint: 'The export file must be bash that only sets variables (export NAME=value); fix the line named.',
    });
  }
  const out: Record<string, string> = {};
  for (const pair of r.stdout.split('\0')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const k = pair.slice(0, eq);
    const v = pair.slice(eq + 1);
    if (!ENV_NAME_PATTERN.test(k) || k === '_' || k === 'SHLVL' || k === 'PWD' || k === 'OLDPWD') continue;
    if (env[k] !== v) out[k] = v;
  }
  return out;
}
