import fs from 'node:fs';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
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
  const file = path.join(sourceDir, '.slugignore');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { matcher: null, dropped: [] };
  }
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
  // times more per file (see shared/reference/perf-baselines.md).
  const walk = (rel: string) => {
    const from = path.join(sourceDir, rel);
    const entries = fs.readdirSync(from, { withFileTypes: true });
    for (const e of entries) {
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      if (!rel && ALWAYS_EXCLUDED.has(e.name)) continue;
      const isDir = e.isDirectory();
      if (matcher && matcher.ignores(isDir ? `${childRel}/` : childRel)) {
        result.ignored.push(isDir ? `${childRel}/` : childRel);
        continue;
      }
      const src = path.join(sourceDir, childRel);
      const dst = path.join(buildDir, childRel);
      if (exclude.has(path.resolve(src))) continue; // e.g. the slug being written, when -o points into the app
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
        continue; // sockets, fifos and devices have no place in a slug
      }
      result.copied++;
    }
  };
  walk('');
  return result;
}
