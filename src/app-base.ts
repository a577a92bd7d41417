import fs from 'node:fs';
import path from 'node:path';
import type { Buildpack } from './buildpack.js';
import { SlugcError } from './errors.js';
import { moveToTrash } from './fs/trash.js';

/**
 * An app in a subdirectory of its repo (`--app-dir packages/web`, the
 * `APP_BASE` config var of Heroku's monorepo buildpack).
 *
 * Two ways to build it, chosen by the buildpacks that build it:
 * - buildpacks that declare `workspaces: true` (the Node.js one: npm, yarn
 *   and pnpm workspaces install at the workspace root) get the whole repo as
 *   the build dir (`ctx.appDir`, the slug's `/app`) and the app's own dir as
 *   `ctx.projectDir`; the Procfile is read there, and every process starts
 *   there (`cd <app dir> && <command>`);
 * - with any other buildpack (classic ones included) the subdirectory alone
 *   becomes the app, as with Heroku's `APP_BASE`: the rest of the repo is not
 *   in the slug.
 */

/** The error code of an app dir that is not a directory inside the source. */
export const APP_DIR_INVALID = 'SLUGC_APP_DIR_INVALID';

/**
 * The app dir as a clean relative POSIX path (`''` for the repo itself), or
 * a {@link APP_DIR_INVALID} error naming the setting it came from.
 */
export function normalizeAppBase(value: string | undefined, from: string): string {
  if (value === undefined) return '';
  const raw = value.trim().replace(/\\/g, '/');
  const bad = (why: string) =>
    new SlugcError(APP_DIR_INVALID, `Couldn't use ${JSON.stringify(value)} (${from}) as the app dir: ${why}.`, {
      hint: 'Name a directory of the repo relative to its root, e.g. --app-dir packages/web.',
      details: { appDir: value, from },
    });
  if (raw.startsWith('/')) throw bad('it is an absolute path');
  const norm = path.posix.normalize(raw).replace(/\/+$/, '');
  if (norm === '.' || norm === '') return '';
  if (norm === '..' || norm.startsWith('../')) throw bad('it leads out of the repo');
  if (norm.split('/').some((part) => part === '.git')) throw bad('.git is never part of a build');
  return norm;
}

/**
 * Checks that the app dir is a real directory of the source: every part a
 * directory, none a symlink (which could lead out of the repo).
 */
export function checkAppBase(sourceDir: string, base: string, from: string): void {
  if (!base) return;
  let dir = sourceDir;
  for (const part of base.split('/')) {
    dir = path.join(dir, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(dir);
    } catch {
      throw new SlugcError(APP_DIR_INVALID, `Couldn't use ${base} (${from}) as the app dir: ${path.relative(sourceDir, dir)} does not exist in ${sourceDir}.`, {
        hint: 'Name a directory of the repo relative to its root (check the spelling), or build from the repo root.',
        details: { appDir: base, from },
      });
    }
    if (st.isSymbolicLink() || !st.isDirectory()) {
      throw new SlugcError(APP_DIR_INVALID, `Couldn't use ${base} (${from}) as the app dir: ${path.relative(sourceDir, dir)} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}.`, {
        hint: 'Name the real directory the app lives in.',
        details: { appDir: base, from },
      });
    }
  }
}

/** The dirs a buildpack's detect sees: a `workspaces` buildpack the repo and the app's dir, any other the app's dir alone. */
export function detectDirs(bp: Buildpack, appDir: string, projectDir: string): { appDir: string; projectDir: string } {
  return bp.workspaces ? { appDir, projectDir } : { appDir: projectDir, projectDir };
}

/** True when the chosen buildpacks build the app from the repo root (each declares `workspaces`). */
export function buildsFromRoot(buildpacks: readonly Buildpack[]): boolean {
  return buildpacks.length > 0 && buildpacks.every((b) => b.workspaces === true);
}

/**
 * Makes the app dir the build dir itself (Heroku's `APP_BASE`): the
 * subdirectory takes the build dir's place and the rest of the repo goes to
 * `trash` (emptied in the background), or is removed when it cannot.
 */
export function rerootBuildDir(appDir: string, base: string, trash: string): void {
  const moved = `${appDir}.base`;
  fs.renameSync(path.join(appDir, base), moved);
  const rest = `${appDir}.rest`;
  fs.renameSync(appDir, rest);
  fs.renameSync(moved, appDir);
  if (!moveToTrash(rest, trash)) fs.rmSync(rest, { recursive: true, force: true });
}

/** `base` quoted for `sh` when it needs it. */
function shellWord(base: string): string {
  return /^[\w./-]+$/.test(base) ? base : `'${base.replace(/'/g, `'\\''`)}'`;
}

/** Process types that start in the app dir: `cd <base> && <command>`. */
export function processTypesIn(base: string, processTypes: Record<string, string>): Record<string, string> {
  if (!base) return processTypes;
  const prefix = `cd ${shellWord(base)} && `;
  return Object.fromEntries(Object.entries(processTypes).map(([k, v]) => [k, v.startsWith(prefix) ? v : `${prefix}${v}`]));
}
