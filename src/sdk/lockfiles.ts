import { SlugcError, type ErrorCode } from '../errors.js';
import { appFileExists } from '../fs/app-file.js';

/** Options of {@link refuseConflictingLockfiles}. */
export interface LockfileConflictOptions {
  /** The error code (default `SLUGC_LOCKFILE_CONFLICT`). */
  code?: ErrorCode;
  /** What the tools are, for the message, e.g. `package managers`. */
  what?: string;
}

/**
 * Looks for each tool's lockfiles in the app and returns the one tool that
 * has any (with the files found), or null when none has. When lockfiles of
 * two or more tools are present, fails with one message that lists every
 * file and the tool it belongs to, and says to keep one.
 *
 * @example refuseConflictingLockfiles(appDir, { pip: ['requirements.txt'], pipenv: ['Pipfile.lock'], poetry: ['poetry.lock'], uv: ['uv.lock'] })
 */
export function refuseConflictingLockfiles(appDir: string, tools: Record<string, readonly string[]>, options: LockfileConflictOptions = {}): { tool: string; files: string[] } | null {
  const found = Object.entries(tools)
    .map(([tool, files]) => ({ tool, files: files.filter((f) => appFileExists(appDir, f)) }))
    .filter((t) => t.files.length > 0);
  if (found.length === 0) return null;
  if (found.length === 1) return found[0]!;
  const list = found.map((t) => `${t.files.join(', ')} (${t.tool})`).join('; ');
  throw new SlugcError(options.code ?? 'SLUGC_LOCKFILE_CONFLICT', `Couldn't choose between ${options.what ?? 'tools'}: the app has lockfiles of ${found.length}: ${list}.`, {
    hint: `Keep the lockfile of the one you use and delete the others: ${found.map((t) => t.tool).join(' or ')}.`,
    details: { lockfiles: Object.fromEntries(found.map((t) => [t.tool, t.files])) },
  });
}
