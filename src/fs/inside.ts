import fs from 'node:fs';
import path from 'node:path';
import { SlugcError } from '../errors.js';

/**
 * Checks that `target` lies inside `root` and that no existing path
 * component between them is a symlink, so writing or deleting at `target`
 * cannot reach outside `root` (an app could ship `.heroku -> /somewhere`).
 */
export function assertInside(root: string, target: string, what: string): void {
  const base = path.resolve(root);
  const full = path.resolve(target);
  if (full !== base && !full.startsWith(base + path.sep)) {
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't use ${what}: ${full} is outside ${base}.`, { hint: 'Use a path inside the app dir.' });
  }
  let cur = base;
  for (const part of path.relative(base, full).split(path.sep).filter(Boolean)) {
    cur = path.join(cur, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(cur);
    } catch {
      return; // the rest does not exist yet: nothing to follow
    }
    if (st.isSymbolicLink()) {
      throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't use ${what}: ${path.relative(base, cur)} is a symlink, which could lead outside the app dir.`, {
        hint: `Remove the symlink ${path.relative(base, cur)} from the app (or .slugignore it).`,
      });
    }
  }
}
