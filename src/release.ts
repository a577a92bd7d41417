import path from 'node:path';
import { processTypesIn } from './app-base.js';
import type { Buildpack, ReleaseContext } from './buildpack.js';
import { wrapBuildpackError } from './compile.js';
import type { Logger } from './log.js';
import { readAppFile } from './fs/app-file.js';
import { parseProcfile, type ProcessTypes } from './procfile.js';
import { parseOrThrow } from './problems.js';
import { releaseInfoSchema, stageInputSchema } from './schemas.js';

/** The merged release: what the slug runs. */
export interface ReleaseOutput {
  /** Process types: buildpack defaults, overridden by the Procfile. */
  processTypes: ProcessTypes;
  /** Where each process type came from: `Procfile` or a buildpack id. */
  processTypeSources: Record<string, string>;
  /** Default config vars offered by the buildpacks (later wins). */
  configVars: Record<string, string>;
  /** Add-ons the buildpacks asked for, without duplicates. */
  addons: string[];
}

/** What {@link release} needs. */
export interface ReleaseInput {
  /** The build dir, after compile. */
  appDir: string;
  /** The app's own dir inside it with `--app-dir` (default `appDir`): its Procfile is read, and every process starts, there. */
  projectDir?: string;
  /** The buildpacks that compiled the app, in order. */
  buildpacks: Buildpack[];
  /** The stack. */
  stack: string;
  /** The build env. */
  env: Readonly<Record<string, string>>;
  /** The build log. */
  log: Logger;
  /** The app's config vars alone. */
  configVars?: Readonly<Record<string, string>>;
}

/**
 * Asks every buildpack for its release defaults and merges them: later
 * buildpacks win per key, and the app's Procfile wins over all of them.
 */
export async function release(input: ReleaseInput): Promise<ReleaseOutput> {
  const projectDir = input.projectDir ?? input.appDir;
  const ctx: ReleaseContext = { appDir: input.appDir, projectDir, stack: input.stack, env: input.env, log: input.log, configVars: input.configVars ?? {} };
  parseOrThrow(stageInputSchema, input, 'SLUGC_INVALID_INPUT', "Couldn't run release: invalid input.", 'Pass { appDir, buildpacks, stack, env, log }.');
  const out: ReleaseOutput = { processTypes: {}, processTypeSources: {}, configVars: {}, addons: [] };
  for (const bp of input.buildpacks) {
    if (!bp.release) continue;
    let info;
    try {
      info = parseOrThrow(releaseInfoSchema, (await bp.release(ctx)) ?? {}, 'SLUGC_BUILDPACK_FAILED', `Couldn't use the release of ${bp.id}:`, 'release returns { processTypes?, configVars?, addons? }.');
    } catch (e) {
      throw wrapBuildpackError(e, bp, 'release');
    }
    for (const [k, v] of Object.entries(info.processTypes ?? {})) {
      out.processTypes[k] = v;
      out.processTypeSources[k] = bp.id;
    }
    Object.assign(out.configVars, info.configVars ?? {});
    for (const a of info.addons ?? []) if (!out.addons.includes(a)) out.addons.push(a);
  }
  const procfile = readProcfile(projectDir);
  if (procfile) {
    for (const [k, v] of Object.entries(procfile)) {
      out.processTypes[k] = v;
      out.processTypeSources[k] = 'Procfile';
    }
  }
  // An app in a subdirectory of the slug's repo starts there.
  out.processTypes = processTypesIn(path.relative(input.appDir, projectDir).split(path.sep).join('/'), out.processTypes);
  return out;
}

/**
 * Reads and parses the app's Procfile; null when there is none. A Procfile
 * that is a symlink out of the app, or a directory, is refused
 * (`SLUGC_UNSAFE_APP_FILE`): a host file is never read into the slug or log.
 */
export function readProcfile(appDir: string): ProcessTypes | null {
  const text = readAppFile(appDir, 'Procfile');
  return text === null ? null : parseProcfile(text, 'Procfile');
}
