/**
 * Packs a directory into a slug: a deterministic tar stream (every entry
 * under `./app/`) compressed by a pool of gzip workers.
 *
 * The main thread lists the tree, reads every file straight into the chunk
 * buffer the compressor will consume, and keeps the CRC32; the workers only
 * compress (see parallel-gzip.ts). All filesystem work is synchronous on
 * purpose: on this machine kind an uncompressed pack takes 2.0 s with sync fs
 * calls and 6.4 s with async ones (shared/reference/perf-baselines.md).
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SlugcError } from '../errors.js';
import { ParallelGzipWriter } from './parallel-gzip.js';
import {
  TAR_BLOCK_SIZE,
  TAR_END_OF_ARCHIVE_SIZE,
  encodeHeader,
  encodeHeaderInto,
  tarPadding,
  type TarEntryType,
  type TarHeaderFields,
} from './tar-writer.js';

/** A progress report from {@link packDirectory}. */
export interface PackProgress {
  /** Archive entries written so far (the prefix directory included). */
  entries: number;
  /** File content bytes read so far. */
  bytesIn: number;
  /** File content bytes to read in all, as listed before packing started. */
  bytesTotal: number;
}

/** Options of {@link packDirectory}. */
export interface PackOptions {
  /** Directory whose contents become the archive (under `prefix`). */
  dir: string;
  /** Path of the .tgz to write (parent must exist; written to `<output>.tmp-<pid>` then renamed). */
  output: string;
  /** mtime in seconds for every entry (from SOURCE_DATE_EPOCH or a constant chosen by the caller). */
  mtime: number;
  /** Path prefix of every entry, default './app/'. The first entry is the prefix dir itself './app/'. */
  prefix?: string;
  /** gzip level 1-9, default 6. */
  level?: number;
  /** compression threads, default os.availableParallelism(). */
  threads?: number;
  /**
   * Called once after the tree is listed and before any file is read
   * (`entries: 0`), then at most every 100 ms while packing, and once at the
   * end. An exception from it aborts packing.
   */
  onProgress?: (p: PackProgress) => void;
}

/** What {@link packDirectory} wrote. */
export interface PackResult {
  /** Hex SHA-256 of the .tgz. */
  sha256: string;
  /** Size of the .tgz in bytes. */
  size: number;
  /** Number of tar entries, the prefix directory included. */
  entries: number;
  /** File content bytes read (the sum of the regular files' sizes). */
  bytesIn: number;
  /** Symlinks whose target is absolute or leaves the packed dir, as `path -> target`. */
  linksOut: string[];
}

/** One listed entry; the walk keeps only what the header needs. */
interface Entry {
  /** Path relative to `dir`, '/'-separated; directories end with '/'; '' for `dir` itself. */
  rel: string;
  type: TarEntryType;
  mode: number;
  size: number;
  linkpath?: string;
}

/** Progress is reported at most this often: ten times a second is enough for a progress bar. */
const PROGRESS_INTERVAL_MS = 100;

/**
 * Flags for opening files to read. O_NOFOLLOW: a file replaced by a symlink
 * since it was listed fails (ELOOP) instead of archiving the link's target.
 * O_NONBLOCK: one replaced by a fifo doesn't hang the pack waiting for a writer.
 */
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/**
 * Packs `opts.dir` into a gzip'd tarball at `opts.output`, deterministically:
 * entries depth-first in byte order of their names, every mtime `opts.mtime`,
 * owner 0:0 with no user names, permission bits kept, symlinks stored as
 * links, hard links as regular files, fifos/sockets/devices skipped. The same
 * tree gives the same bytes whatever the thread count.
 *
 * Throws a {@link SlugcError} (`SLUGC_PACKAGE_FAILED`) naming the path when a
 * file vanishes or can't be read; the temporary output is removed and the
 * worker threads are stopped in every case.
 */
export async function packDirectory(opts: PackOptions): Promise<PackResult> {
  const { output, mtime } = opts;
  const dir = path.resolve(opts.dir); // error messages name absolute paths
  const level = opts.level ?? 6;
  const threads = opts.threads ?? os.availableParallelism();
  let prefix = opts.prefix ?? './app/';
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  if (!Number.isInteger(mtime) || mtime < 0 || mtime > 0o77777777777) {
    throw new RangeError(`mtime must be whole seconds from 0 to ${0o77777777777}, got ${mtime}`);
  }

  const tmp = `${output}.tmp-${process.pid}`;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'w', 0o644);
  } catch (err) {
    throw new SlugcError('SLUGC_PACKAGE_FAILED', `Couldn't create ${tmp}: ${(err as Error).message}.`, {
      hint: "The output's parent directory must exist and be writable.",
      cause: err,
      details: { path: tmp },
    });
  }
  const hash = crypto.createHash('sha256');
  let size = 0;
  const sink = (bytes: Uint8Array): void => {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd as number, bytes, off, bytes.length - off);
    hash.update(bytes);
    size += bytes.length;
  };

  let gz: ParallelGzipWriter | undefined;
  let written = 0;
  let bytesIn = 0;
  const linksOut: string[] = [];
  try {
    // Workers first: they boot (~45 ms) while this thread lists the tree.
    gz = new ParallelGzipWriter({ sink, level, threads });
    const entries = listTree(dir, path.resolve(tmp));
    for (const e of entries) {
      if (e.type !== 'symlink' || e.linkpath === undefined) continue;
      const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(e.rel), e.linkpath));
      if (e.linkpath.startsWith('/') || resolved === '..' || resolved.startsWith('../')) linksOut.push(`${e.rel} -> ${e.linkpath}`);
    }
    let bytesTotal = 0;
    for (const e of entries) bytesTotal += e.size;
    const progress = opts.onProgress;
    let lastProgress = performance.now();
    progress?.({ entries: 0, bytesIn: 0, bytesTotal });

    for (const e of entries) {
      if (e.rel === '' && prefix === '') continue; // no name for the root itself
      if (gz.room === 0) await gz.next();
      const fields: TarHeaderFields = { path: prefix + e.rel, type: e.type, mode: e.mode, size: e.size, mtime };
      if (e.linkpath !== undefined) fields.linkpath = e.linkpath;
      // Headers go straight into the chunk (room is a non-zero multiple of 512
      // here); only PAX entries, rare, take the allocating path.
      if (encodeHeaderInto(gz.buf, gz.pos, fields)) gz.pos += TAR_BLOCK_SIZE;
      else {
        const wrote = gz.write(encodeHeader(fields));
        if (wrote !== undefined) await wrote;
      }
      if (e.type === 'file') {
        const abs = `${dir}/${e.rel}`;
        let file: number;
        try {
          file = fs.openSync(abs, OPEN_FLAGS);
        } catch (err) {
          throw readError(abs, err);
        }
        try {
          let remaining = e.size;
          while (remaining > 0) {
            if (gz.room === 0) await gz.next();
            const n = readChunk(file, gz, Math.min(remaining, gz.room), abs);
            if (n === 0) throw shrankError(abs, e.size, e.size - remaining);
            gz.pos += n;
            remaining -= n;
            bytesIn += n;
          }
        } finally {
          fs.closeSync(file);
        }
        // A file that grew since it was listed is cut at its listed size, as
        // its header says, so the archive stays consistent. The padding always
        // fits: data started on a block boundary of a chunk whose size is a
        // multiple of 512.
        const pad = tarPadding(e.size);
        gz.buf.fill(0, gz.pos, gz.pos + pad);
        gz.pos += pad;
      }
      written++;
      if (progress !== undefined) {
        const now = performance.now();
        if (now - lastProgress >= PROGRESS_INTERVAL_MS) {
          lastProgress = now;
          progress({ entries: written, bytesIn, bytesTotal });
        }
      }
    }
    const ended = gz.zeros(TAR_END_OF_ARCHIVE_SIZE);
    if (ended !== undefined) await ended;
    await gz.end();
    progress?.({ entries: written, bytesIn, bytesTotal });
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, output);
  } catch (e) {
    await gz?.close();
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  } finally {
    await gz?.close();
  }
  return { sha256: hash.digest('hex'), size, entries: written, bytesIn, linksOut };
}

function readChunk(fd: number, gz: ParallelGzipWriter, length: number, path: string): number {
  try {
    return fs.readSync(fd, gz.buf, gz.pos, length, null);
  } catch (err) {
    throw readError(path, err);
  }
}

function shrankError(path: string, listed: number, got: number): SlugcError {
  return new SlugcError(
    'SLUGC_PACKAGE_FAILED',
    `Couldn't package ${path}: it shrank while being packed (listed at ${listed} bytes, ended after ${got}).`,
    { hint: CHANGED_HINT, details: { path } },
  );
}

const CHANGED_HINT = 'Something changed the app directory while it was being packaged; make sure no other process writes to it, then retry.';

function readError(path: string, err: unknown): SlugcError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why =
    code === 'ENOENT' ? 'it vanished while the app was being packed'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'ELOOP' ? 'it was replaced by a symlink while the app was being packed'
    : code === 'EISDIR' ? 'it was replaced by a directory while the app was being packed'
    : (err as Error | undefined)?.message ?? String(err);
  return new SlugcError('SLUGC_PACKAGE_FAILED', `Couldn't package ${path}: ${why}.`, {
    hint: code === 'EACCES' || code === 'EPERM' ? 'Make the file readable by the user running slugc, or exclude it.' : CHANGED_HINT,
    cause: err,
    details: { path, code },
  });
}

/**
 * Lists the tree depth-first, each directory before its children, children
 * in byte order of their UTF-8 names. Sync calls only (see the module doc).
 */
function listTree(root: string, skip: string): Entry[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(root); // the root may itself be a symlink to the app: follow it
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SlugcError('SLUGC_PACKAGE_FAILED', `Couldn't package ${root}: the directory does not exist.`, { cause: err, details: { path: root } });
    }
    throw readError(root, err);
  }
  if (!st.isDirectory()) {
    throw new SlugcError('SLUGC_PACKAGE_FAILED', `Couldn't package ${root}: it is not a directory.`, { details: { path: root } });
  }
  const out: Entry[] = [{ rel: '', type: 'directory', mode: st.mode & 0o7777, size: 0 }];
  walk(root, '', out, skip);
  return out;
}

/** `skip`: our own temporary output, in case it is being written inside the tree. */
function walk(absDir: string, relDir: string, out: Entry[], skip: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(absDir);
  } catch (err) {
    throw readError(absDir, err);
  }
  sortByUtf8(names);
  for (const name of names) {
    const abs = `${absDir}/${name}`;
    if (abs === skip) continue;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch (err) {
      throw readError(abs, err);
    }
    const mode = st.mode & 0o7777;
    if (st.isDirectory()) {
      const rel = `${relDir}${name}/`;
      out.push({ rel, type: 'directory', mode, size: 0 });
      walk(abs, rel, out, skip);
    } else if (st.isFile()) {
      out.push({ rel: relDir + name, type: 'file', mode, size: st.size });
    } else if (st.isSymbolicLink()) {
      let linkpath: string;
      try {
        linkpath = fs.readlinkSync(abs);
      } catch (err) {
        throw readError(abs, err);
      }
      out.push({ rel: relDir + name, type: 'symlink', mode, size: 0, linkpath });
    }
    // Fifos, sockets and devices have no place in a slug: skipped.
  }
}

/**
 * Sorts names by the bytes of their UTF-8 encoding (what `LC_ALL=C sort`
 * and most tar listings use). JS's default sort compares UTF-16 code units,
 * which agrees with UTF-8 byte order except between astral characters
 * (surrogate pairs) and U+E000–U+FFFF; only names with such characters pay
 * for encoding.
 */
function sortByUtf8(names: string[]): void {
  if (!names.some((n) => /[\uD800-\uFFFF]/.test(n))) {
    names.sort();
    return;
  }
  const keyed = names.map((n) => ({ n, k: Buffer.from(n, 'utf8') }));
  keyed.sort((a, b) => Buffer.compare(a.k, b.k));
  for (let i = 0; i < keyed.length; i++) names[i] = (keyed[i] as { n: string }).n;
}
