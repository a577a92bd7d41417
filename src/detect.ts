import { detectDirs } from './app-base.js';
import type { Buildpack, DetectContext } from './buildpack.js';
import { SlugcError, errorMessage } from './errors.js';
import type { Logger } from './log.js';
import { parseOrThrow } from './problems.js';
import { detectionSchema, stageInputSchema } from './schemas.js';

/** One buildpack's answer to detect. */
export interface DetectAnswer {
  /** The buildpack's id. */
  id: string;
  /** The buildpack's display name. */
  buildpack: string;
  /** Whether it applies. */
  pass: boolean;
  /** What it detected (e.g. `Node.js`) when it applies. */
  detected?: string;
  /** Why, or why not. */
  reason: string;
}

/** The detect stage's result: every answer, and which buildpacks build the app. */
export interface DetectReport {
  /** How the order was chosen: `--buildpack`, app.json, .buildpacks, or auto-detection over the built-ins. */
  source: 'explicit' | 'app.json' | '.buildpacks' | 'auto';
  /** Every candidate's answer, in the order asked. */
  answers: DetectAnswer[];
  /** Ids of the buildpacks that will compile the app, in order; empty when none applies (or a chosen one does not): see {@link detectFailure}. */
  selected: string[];
  /** Things the user should know, e.g. other buildpacks that also matched. */
  warnings: string[];
}

/** What {@link detect} needs. */
export interface DetectInput {
  /** The build dir. */
  appDir: string;
  /** The app's own dir with `--app-dir` (default `appDir`); buildpacks without `workspaces` see it as their `appDir`. */
  projectDir?: string;
  /** The candidates, in order. */
  buildpacks: Buildpack[];
  /** True when the user chose these buildpacks: then each must apply and all of them run. */
  explicit: boolean;
  /** Where an explicit order came from, for the report (default `explicit`). */
  source?: 'explicit' | 'app.json' | '.buildpacks';
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
 * Asks every candidate buildpack whether it applies, and why. With explicit
 * buildpacks all of them run and each must pass; with auto-detection the
 * first that passes wins, and a warning names the others that matched. The
 * report is a value even when nothing applies (`selected` is then empty).
 */
export async function detect(input: DetectInput): Promise<DetectReport> {
  const projectDir = input.projectDir ?? input.appDir;
  const answers: DetectAnswer[] = [];
  parseOrThrow(stageInputSchema, input, 'SLUGC_INVALID_INPUT', "Couldn't run detect: invalid input.", 'Pass { appDir, buildpacks, stack, env, log }.');
  for (const bp of input.buildpacks) {
    const ctx: DetectContext = { ...detectDirs(bp, input.appDir, projectDir), stack: input.stack, env: input.env, log: input.log, configVars: input.configVars ?? {} };
    try {
      const d = parseOrThrow(detectionSchema, await bp.detect(ctx), 'SLUGC_BUILDPACK_FAILED', `Couldn't use what ${bp.id}'s detect returned:`, 'detect returns { pass: boolean, name?: string, reason: string }.');
      answers.push({ id: bp.id, buildpack: bp.name, pass: d.pass, ...(d.name ? { detected: input.log.scrub(d.name) } : {}), reason: input.log.scrub(d.reason) });
    } catch (e) {
      answers.push({ id: bp.id, buildpack: bp.name, pass: false, reason: input.log.scrub(`detect failed: ${errorMessage(e)}`) });
    }
  }
  const warnings: string[] = [];
  if (input.explicit) {
    const failed = answers.filter((a) => !a.pass);
    return { source: input.source ?? 'explicit', answers, selected: failed.length ? [] : answers.map((a) => a.id), warnings };
  }
  const passing = answers.filter((a) => a.pass);
  const first = passing[0];
  if (first && passing.length > 1) {
    warnings.push(`Several buildpacks matched; using ${first.id}. Also matched: ${passing.slice(1).map((a) => a.id).join(', ')}. Choose with --buildpack.`);
  }
  return { source: 'auto', answers, selected: first ? [first.id] : [], warnings };
}

/**
 * The error a build fails with when detect chose nothing: no buildpack
 * applies (auto-detection), or a chosen one does not. Null when the report
 * selected buildpacks. The report itself is always a value.
 */
export function detectFailure(report: DetectReport): SlugcError | null {
  if (report.selected.length) return null;
  const { answers } = report;
  if (report.source !== 'auto') {
    const failed = answers.filter((a) => !a.pass);
    return new SlugcError('SLUGC_NO_BUILDPACK', `Couldn't use the chosen buildpack${failed.length > 1 ? 's' : ''}: ${failed.map((a) => `${a.id} (${a.reason})`).join('; ')}.`, {
      hint: 'Check that the app dir is the one the buildpack expects, or choose another buildpack.',
      details: { answers },
    });
  }
  return new SlugcError('SLUGC_NO_BUILDPACK', `Couldn't detect a buildpack for this app:\n${answers.map((a) => `  ${a.id}: ${a.reason}`).join('\n') || '  (no buildpacks to ask)'}`, {
    hint: 'Add the file a buildpack looks for (e.g. package.json for Node.js), or choose one with --buildpack.',
    details: { answers },
  });
}
