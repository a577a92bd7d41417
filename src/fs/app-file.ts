import fs from 'node:fs';
import path from 'node:path';
import { SlugcError } from '../errors.js';

/** Options of {@link readAppFile}. */
export interface ReadAppFileOptions {
  /** Refuse files larger than this many bytes (default 16 MiB): config files are small. */
  maxBytes?: number;
}

/** The default cap of {@link readAppFile}. */
export const APP_FILE_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Where an app file really is, or null when it does not exist. A symlink is
 * followed only while it stays inside the app dir: a `Procfile` that links
 * to `/etc/passwd` (or through a linked dir to a key file) is refused, so a
 * hostile app cannot make slugc read, print or pack a host file.
 */
export function resolveAppFile(appDir: string, rel: string): string | null {
  const root = fs.realpathSync(appDir);
  const full = path.resolve(root, rel);
  if (full !== root && !full.startsWith(root + path.sep)) {
    throw new SlugcError('SLUGC_UNSAFE_APP_FILE', `Couldn't read ${rel}: the path leaves the app dir.`, { hint: 'Name a file inside the app.' });
  }
  let real: string;
  try {
    real = fs.realpathSync(full);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      // A dangling link is not "no file": say what it points to.
      try {
        const target = fs.readlinkSync(full);
        throw new SlugcError('SLUGC_UNSAFE_APP_FILE', `Couldn't read ${rel}: it is a symlink to ${target}, which does not exist in the app.`, {
          hint: `Commit ${rel} as a regular file.`,
        });
      } catch (inner) {
        if (inner instanceof SlugcError) throw inner;
        return null;
      }
    }
    if (code === 'ENOTDIR') return null; // `Procfile/x` where Procfile is a file: no such file
    if (code === 'ELOOP') throw new SlugcError('SLUGC_UNSAFE_APP_FILE', `Couldn't read ${rel}: its symlinks loop.`, { hint: `Commit ${rel} as a regular file.` });
    throw new SlugcError('SLUGC_UNSAFE_APP_FILE', `Couldn't read ${rel}: ${code ?? 'unreadable'}.`, { hint: `Check that ${rel} is a readable file in the app.`, cause: e });
  }
  if (real !== root && !real.startsWith(root + path.sep)) {
    throw new SlugcError('SLUGC_UNSAFE_APP_FILE', `Couldn't read ${rel}: it is a symlink that leads out of the app dir.`, {
      hint: `Commit ${rel} as a regular file; slugc never reads files outside the app through links.`,
      details: { file: rel },
    });
  }
  return real;
}

/**
 * Reads a file of the app as UTF-8 text, or returns null when there is no
 * such file. Refuses links out of the app ({@link resolveAppFile}), a
 * directory or other non-file where a file belongs, and files over
 * `maxBytes`. Every file slugc and its buildpacks read from the app goes
 * through here.
 */
export function readAppFile(appDir: string, rel: string, options: ReadAppFileOptions = {}): string | null {
  const real = resolveAppFile(appDir, rel);
  if (real === null) return null;
  const st = fs.statSync(real);
  if (!st.isFile()) {
    throw new SlugcError('SLUGC_UNSAFE_APP_FILE', `Couldn't read ${rel}: it is ${st.isDirectory() ? 'a directory' : 'not a regular file'}.`, { hint: `Make ${rel} a regular file, or remove it.` });
  }
  const max = options.maxBytes ?? APP_FILE_MAX_BYTES;
  if (st.size > max) {
    throw new SlugcError('SLUGC_UNSAFE_APP_FILE', `Couldn't read ${rel}: it is ${st.size} bytes, more than the ${max} a config file may have.`, { hint: `Check that ${rel} is the file you meant.` });
  }
  return fs.readFileSync(real, 'utf8').replace(/^\uFEFF/, '');
}

/** True when the app has a regular file (or a link to one inside the app) at `rel`. */
export function appFileExists(appDir: string, rel: string): boolean {
  try {
    const real = resolveAppFile(appDir, rel);
    return real !== null && fs.statSync(real).isFile();
  } catch {
    return false;
  }
}
