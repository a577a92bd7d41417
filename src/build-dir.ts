import fs from 'node:fs';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { readAppFile } from './fs/app-file.js';
import { SlugcError } from './errors.js';

/** What {@link prepareBuildDir} did. */
export interface PrepareResult {
  /** Files, dirs and links copied. */
  copied: number;
  /** Paths left out by `.slugignore` (relative, dirs end in `/`); `options.exclude` paths are left out silently. */
  ignored: string[];
  /** `.slugignore` lines that were dropped (negations, which Heroku does not support). */
  droppedPatterns: string[];
}

/** Names never copied into the build dir. */
const ALWAYS_EXCLUDED = new Set(['.git']);

/**
 * Reads `.slugignore` from `sourceDir`: gitignore syntax as Heroku documents
 * it, without `!` negation (such lines are dropped and reported).
 */
export function readSlugignore(sourceDir: string): { matcher: Ignore | null; dropped: string[] } {
  const text = readAppFile(sourceDir, '.slugignore');
  if (text === null) return { matcher: null, dropped: [] };
  const dropped: string[] = [];
  const kept: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trimStart().startsWith('!')) dropped.push(line);
    else kept.push(line);
  }
  return { matcher: ignore().add(kept), dropped };
}

/**
 * Copies the source dir into a fresh build dir, leaving out `.git` and what
 * `.slugignore` names. The source is only read: modes are kept, symlinks are
 * copied as symlinks (never followed), and files are cloned where the
 * filesystem can (copy-on-write), copied otherwise.
 */
export function prepareBuildDir(sourceDir: string, buildDir: string, options: { exclude?: string[] } = {}): PrepareResult {
  const exclude = new Set((options.exclude ?? []).map((p) => path.resolve(p)));
  let st: fs.Stats;
  try {
    st = fs.statSync(sourceDir);
  } catch {
    throw new SlugcError('SLUGC_SOURCE_NOT_FOUND', `Couldn't read the source dir ${sourceDir}: it does not exist.`, {
      hint: 'Pass the path of your app, e.g. `slugc build ./my-app`.',
    });
  }
  if (!st.isDirectory()) {
    throw new SlugcError('SLUGC_SOURCE_NOT_FOUND', `Couldn't use ${sourceDir} as the source: it is not a directory.`, {
      hint: 'Pass the directory that holds your app.',
    });
  }
  const { matcher, dropped } = readSlugignore(sourceDir);
  const result: PrepareResult = { copied: 0, ignored: [], droppedPatterns: dropped };
  fs.mkdirSync(buildDir, { recursive: true });

  // Sync calls on purpose: on this machine kind async fs calls cost several
  // times more per file (see shared/reference/perf-baselines.md). Names are
  // read as bytes: a name that is not UTF-8 would otherwise be decoded with
  // U+FFFD and then not be found ("bug"); such a name is refused by name.
  const walk = (rel: string) => {
    const from = path.join(sourceDir, rel);
    const entries = copyStep(from, rel || '.', () => fs.readdirSync(from, { withFileTypes: true, encoding: 'buffer' }));
    for (const e of entries) {
      const name = decodeName(e.name);
      const shown = name ?? e.name.toString('utf8');
      const childRel = rel ? `${rel}/${shown}` : shown;
      if (!rel && ALWAYS_EXCLUDED.has(shown)) continue;
      const isDir = e.isDirectory();
      if (matcher && matcher.ignores(isDir ? `${childRel}/` : childRel)) {
        result.ignored.push(isDir ? `${childRel}/` : childRel);
        continue;
      }
      if (name === null) {
        throw new SlugcError('SLUGC_SOURCE_NAME_INVALID', `Couldn't copy ${JSON.stringify(rel ? `${rel}/` : '')}${escapeName(e.name)}: its name is not valid UTF-8.`, {
          hint: 'Rename the file (file names in a slug are UTF-8), or leave it out with .slugignore (a pattern such as `dir/*` matches it).',
          details: { dir: rel || '.', nameHex: e.name.toString('hex') },
        });
      }
      const src = path.join(sourceDir, childRel);
      const dst = path.join(buildDir, childRel);
      if (exclude.has(path.resolve(src))) continue; // e.g. the slug being written, when -o points into the app
      copyStep(src, childRel, () => {
        if (isDir) {
          fs.mkdirSync(dst, { mode: fs.lstatSync(src).mode & 0o7777 });
          walk(childRel);
          fs.chmodSync(dst, fs.lstatSync(src).mode & 0o7777);
        } else if (e.isSymbolicLink()) {
          fs.symlinkSync(fs.readlinkSync(src), dst);
        } else if (e.isFile()) {
          fs.copyFileSync(src, dst, fs.constants.COPYFILE_FICLONE);
          fs.chmodSync(dst, fs.lstatSync(src).mode & 0o7777);
        } else {
          return; // sockets, fifos and devices have no place in a slug
        }
        result.copied++;
      });
    }
  };
  walk('');
  return result;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A file name as a string, or null when its bytes are not UTF-8. */
function decodeName(name: Buffer): string | null {
  try {
    return utf8.decode(name);
  } catch {
    return null;
  }
}

/** A name with its non-UTF-8 bytes shown as `\xNN`. */
function escapeName(name: Buffer): string {
  let out = '';
  for (const b of name) out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return out;
}

/**
 * Runs one step of the copy; turns what the file system says about the
 * source into an error that names the path and says what to do, instead of
 * "a bug in slugc".
 */
export function copyStep<T>(where: string, rel: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    if (e instanceof SlugcError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new SlugcError('SLUGC_SOURCE_UNREADABLE', `Couldn't read ${rel} in the source dir: permission denied.`, {
        hint: `Make it readable by the user slugc runs as (chmod a+r, or a+rx for a directory), or leave it out with .slugignore.`,
        cause: e,
        details: { path: rel },
      });
    }
    if (code === 'ENOENT') {
      throw new SlugcError('SLUGC_SOURCE_CHANGED', `Couldn't copy ${rel}: it disappeared while the source dir was being copied.`, {
        hint: 'Something is changing the app dir during the build (a dev server, a watcher, another build): stop it, or build from a clean checkout.',
        cause: e,
        details: { path: rel },
      });
    }
    if (code === 'ENAMETOOLONG') {
      throw new SlugcError('SLUGC_SOURCE_PATH_TOO_LONG', `Couldn't copy ${rel.length > 120 ? `…${rel.slice(-120)}` : rel}: the path is too long for the file system (${where.length} bytes).`, {
        hint: 'Shorten the directory nesting or names, or leave that tree out with .slugignore.',
        cause: e,
        details: { path: rel },
      });
    }
    throw e;
  }
}
