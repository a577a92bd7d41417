import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SlugcError, readAppFile, resolveAppFile } from 'slugc/sdk';

/** What a requirements file depends on besides itself: the files it includes and the app dirs it finds wheels in. */
export interface RequirementsInputs {
  /** Requirement and constraint files, the given one first, relative to the app. */
  files: string[];
  /** `--find-links` dirs inside the app, relative to the app. */
  findLinks: string[];
  /** Index URLs named in the files (`--index-url`, `--extra-index-url`), for redaction of their credentials. */
  indexUrls: string[];
}

/**
 * Follows a requirements file's `-r`/`-c` includes (relative to the including
 * file, as pip does) and collects its `--find-links` dirs and index URLs.
 * Files are read with `readAppFile`: an include that leaves the app is refused.
 */
export function requirementsInputs(appDir: string, file: string): RequirementsInputs {
  const out: RequirementsInputs = { files: [], findLinks: [], indexUrls: [] };
  const visit = (rel: string, from: string | null) => {
    const norm = path.posix.normalize(rel);
    if (out.files.includes(norm)) return;
    if (norm.startsWith('../') || path.isAbsolute(norm)) {
      throw new SlugcError('SLUGC_PYTHON_REQUIREMENTS_INVALID', `Couldn't read ${norm}${from ? ` (included by ${from})` : ''}: it is outside the app.`, { hint: 'Keep every requirements file the build needs inside the app.' });
    }
    const text = readAppFile(appDir, norm);
    if (text === null) {
      throw new SlugcError('SLUGC_PYTHON_REQUIREMENTS_INVALID', `Couldn't read ${norm}${from ? `, included by ${from}` : ''}: no such file.`, { hint: 'Commit the file, or fix the -r/-c line that names it.' });
    }
    out.files.push(norm);
    const dir = path.posix.dirname(norm);
    for (const raw of joinContinuations(text)) {
      const line = raw.replace(/(^|\s)#.*$/, '').trim();
      const opt = /^(-r|--requirement|-c|--constraint|-f|--find-links|-i|--index-url|--extra-index-url)(?:\s*=\s*|\s+)(\S+)/.exec(line);
      if (!opt) continue;
      const [, flag, value] = opt as unknown as [string, string, string];
      const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
      // An absolute path is taken as it is (and, for -r/-c, refused as outside the app), never joined to the file's dir.
      const local = path.posix.isAbsolute(value) ? value : path.posix.join(dir, value);
      if (flag === '-r' || flag === '--requirement' || flag === '-c' || flag === '--constraint') visit(local, norm);
      else if (flag === '-f' || flag === '--find-links') {
        if (!isUrl && !path.posix.isAbsolute(value)) out.findLinks.push(path.posix.normalize(local));
      } else out.indexUrls.push(value);
    }
  };
  visit(file, null);
  return out;
}

/** pip's line continuations (`\` at the end) joined. */
function joinContinuations(text: string): string[] {
  return text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
}

/** A sha256 over the names, sizes and contents of the files in app dirs (find-links folders of wheels). */
export function dirsSha256(appDir: string, dirs: readonly string[]): string | null {
  if (dirs.length === 0) return null;
  const h = crypto.createHash('sha256');
  for (const rel of [...dirs].sort()) {
    const real = resolveAppFile(appDir, rel);
    h.update(`${rel}\0`);
    if (real === null || !fs.statSync(real).isDirectory()) continue;
    for (const name of fs.readdirSync(real).sort()) {
      // Each entry through resolveAppFile: a wheel that links out of the app is never read.
      let p: string | null;
      try {
        p = resolveAppFile(appDir, `${rel}/${name}`);
      } catch {
        continue;
      }
      if (p === null) continue;
      const st = fs.statSync(p);
      if (!st.isFile()) continue;
      h.update(`${name}\0${st.size}\0`);
      h.update(fs.readFileSync(p));
    }
  }
  return h.digest('hex');
}
