import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { Buildpack, ReleaseInfo } from './buildpack.js';
import { copyTree } from './fs/tree.js';
import { SlugcError } from './errors.js';
import { createExec } from './exec.js';
import { ENV_NAME_PATTERN, safeName } from './names.js';
import { createLogger } from './log.js';
import { parseOrThrow } from './problems.js';

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
      const r = spawnSync(bin('detect'), [ctx.appDir], { env: { ...ctx.env }, cwd: ctx.appDir, encoding: 'utf8', timeout: QUICK_TIMEOUT_MS });
      if (r.error) return { pass: false, reason: `bin/detect could not run: ${r.error.message}` };
      const name = r.stdout.trim().split('\n')[0]?.trim();
      if (r.status === 0) {
        if (name) displayName = name;
        return { pass: true, name: name || displayName, reason: `bin/detect said "${name || 'yes'}"` };
      }
      const why = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ').trim();
      return { pass: false, reason: `bin/detect exited ${r.status ?? r.signal}${why ? `: ${why}` : ''}` };
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
      const timeoutMs = Number(ctx.env.SLUGC_BUILDPACK_TIMEOUT_MS) || options.timeoutMs || DEFAULT_CLASSIC_TIMEOUT_MS;
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
        const exported = sourceExport(exportFile, ctx.env, ctx.appDir);
        if (Object.keys(exported).length) ctx.exportEnv(exported);
      }
    },
    async release(ctx) {
      if (!has('release')) return {};
      const log = createLogger();
      const { stdout } = await createExec({ log, cwd: ctx.appDir, env: { ...ctx.env } })(bin('release'), [ctx.appDir], {
        quiet: true,
        timeoutMs: QUICK_TIMEOUT_MS,
        hint: `bin/release of ${id} failed.`,
      });
      return parseReleaseYaml(stdout, id);
    },
  };
}

/** Parses what a classic `bin/release` prints; errors name the line. */
export function parseReleaseYaml(text: string, id = 'the buildpack'): ReleaseInfo {
  if (!text.trim()) return {};
  const doc = parseDocument(text);
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new SlugcError('SLUGC_BUILDPACK_FAILED', `Couldn't read the YAML bin/release of ${id} printed${line ? ` (line ${line})` : ''}: ${e.message.split('\n')[0]}`, {
      hint: 'bin/release must print YAML with addons, config_vars and default_process_types.',
      details: { output: text },
    });
  }
  const data: unknown = doc.toJS() ?? {};
  const r = parseOrThrow(releaseSchema, data, 'SLUGC_BUILDPACK_FAILED', `Couldn't use the release of ${id}:`, 'default_process_types and config_vars map names to strings; addons is a list.');
  return {
    ...(r.default_process_types ? { processTypes: r.default_process_types } : {}),
    ...(r.config_vars ? { configVars: r.config_vars as Record<string, string> } : {}),
    ...(r.addons ? { addons: r.addons } : {}),
  };
}

/**
 * Sources a classic buildpack's `export` file in bash, in the build env, and
 * returns the vars it set or changed.
 */
export function sourceExport(file: string, env: Readonly<Record<string, string>>, cwd: string): Record<string, string> {
  const r = spawnSync('/bin/bash', ['-c', 'set -a; . "$1" >/dev/null; env -0', 'export', file], { env: { ...env }, cwd, encoding: 'utf8', timeout: QUICK_TIMEOUT_MS });
  if (r.status !== 0) {
    throw new SlugcError('SLUGC_BUILDPACK_FAILED', `Couldn't source the export file ${file}: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`}.`, {
      hint: 'The export file must be bash that sets variables.',
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
