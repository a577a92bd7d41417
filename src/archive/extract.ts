/**
 * Safe archive extraction: tar (plain, gzip, xz, zstd) and zip, refusing any
 * entry that would put something outside the target dir (see
 * archive/safe-writer.ts for the guards). On any failure the target dir is
 * removed, so nothing half-extracted is left for a later step.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { DecompressError, MissingToolError, detectArchiveFormat, streamTar, type ExtractFormat } from './formats.js';
import { SafeWriter, UnsafeEntryError } from './safe-writer.js';
import { TarReader, type TarDataSink, type TarEntryHeader } from './tar-reader.js';
import { extractZip } from './zip.js';
import { SlugcError, errorMessage } from '../errors.js';

export { detectArchiveFormat, type ExtractFormat } from './formats.js';

/** Options of {@link extractTar}. */
export interface ExtractOptions {
  /** Leading path components to drop, e.g. 1 for npm's `package/`. Entries with no more components are skipped. */
  stripComponents?: number;
  /** Keep only entries whose path (after stripping, no leading `./` or trailing `/`) this accepts. */
  include?: (entryPath: string) => boolean;
  /** Create symlinks that point out of `dest` as they are (a slug's may point at the stack's files); nothing is ever written through one. Not for zips. */
  allowLinksOut?: boolean;
}

/** Options of {@link extractArchive}. */
export interface ExtractArchiveOptions extends ExtractOptions {
  /** The format; sniffed from the file's first bytes when absent ({@link detectArchiveFormat}). */
  format?: ExtractFormat;
}

/** What {@link extractArchive} wrote. */
export interface ExtractResult {
  /** Entries written: files, dirs, symlinks and hard links (skipped ones not counted). */
  entries: number;
  /** Bytes of file data written. */
  bytes: number;
}

/**
 * Extracts an archive into `dest` (created if missing). Tar formats are read
 * as a stream, decompressed off the main thread (zlib for gzip, the system's
 * `xz` / `zstd` for the others) while entries are written with sync calls;
 * zips are read with yauzl. Modes are kept without setuid/setgid, owners are
 * not, symlinks are, device and fifo entries are skipped.
 *
 * Fails with `SLUGC_UNSAFE_ARCHIVE_PATH` for an entry that would land outside
 * `dest` (a `..` component, an absolute path, a link escaping `dest`, a write
 * through a symlink), and with `SLUGC_DOWNLOAD_FAILED` for a damaged archive
 * or a missing `xz`/`zstd`. Either way `dest` is removed, and nothing was
 * written outside it.
 */
export async function extractArchive(file: string, dest: string, options: ExtractArchiveOptions = {}): Promise<ExtractResult> {
  const format = resolveFormat(file, options.format);
  const root = path.resolve(dest);
  fs.mkdirSync(root, { recursive: true });
  const writer = new SafeWriter(root, { ...options, zipNames: format === 'zip' });
  try {
    if (format === 'zip') {
      await extractZip(file, writer);
    } else {
      const reader = new TarReader(tarSink(writer));
      await streamTar(file, format, (chunk) => reader.write(chunk));
      reader.end();
    }
    writer.finish();
  } catch (e) {
    writer.abort();
    fs.rmSync(root, { recursive: true, force: true });
    throw toSlugcError(e, file, root, format);
  }
  return { entries: writer.entries, bytes: writer.bytes };
}

/**
 * The synchronous form for tars (plain, gzip, xz, zstd): the same guards and
 * clean-up as {@link extractArchive}, but the whole decompressed tar is held
 * in memory, so prefer `extractArchive` for large archives.
 */
export function extractTar(file: string, dest: string, options: ExtractOptions = {}): void {
  const format = resolveFormat(file, undefined);
  if (format === 'zip') {
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't extract ${path.basename(file)}: it is a zip, and extractTar reads only tars.`, {
      hint: 'Use extractArchive(), which reads zips too.',
    });
  }
  const root = path.resolve(dest);
  fs.mkdirSync(root, { recursive: true });
  const writer = new SafeWriter(root, options);
  try {
    const reader = new TarReader(tarSink(writer));
    reader.write(readTarSync(file, format));
    reader.end();
    writer.finish();
  } catch (e) {
    writer.abort();
    fs.rmSync(root, { recursive: true, force: true });
    throw toSlugcError(e, file, root, format);
  }
}

/** Connects the tar reader to the writer. */
function tarSink(writer: SafeWriter): { entry(h: TarEntryHeader): TarDataSink | null } {
  return {
    entry(h) {
      switch (h.kind) {
        case 'file':
          return writer.file(h.path, h.mode);
        case 'directory':
          writer.directory(h.path, h.mode);
          return null;
        case 'symlink':
          writer.symlink(h.path, h.linkpath);
          return null;
        case 'hardlink':
          writer.hardlink(h.path, h.linkpath);
          return null;
        default:
          writer.target(h.path); // devices, fifos, labels: skipped, but an unsafe name still refuses the archive
          return null;
      }
    },
  };
}

function resolveFormat(file: string, given: ExtractFormat | undefined): ExtractFormat {
  if (given) return given;
  let format: ExtractFormat | null;
  try {
    format = detectArchiveFormat(file);
  } catch (e) {
    throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't extract ${path.basename(file)}: ${errorMessage(e)}`, {
      hint: 'The archive is missing or unreadable; download it again.',
      cause: e,
    });
  }
  if (format === null) {
    throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't extract ${path.basename(file)}: it is not a tar, tar.gz, tar.xz, tar.zst or zip archive (unknown magic bytes).`, {
      hint: 'The download is damaged or is not an archive (an HTML error page?); delete it from the cache dir and retry, or pass the format explicitly.',
      details: { file },
    });
  }
  return format;
}

/** The whole decompressed tar, for the sync path. */
function readTarSync(file: string, format: Exclude<ExtractFormat, 'zip'>): Uint8Array {
  if (format === 'tar') return fs.readFileSync(file);
  if (format === 'tar.gz') return zlib.gunzipSync(fs.readFileSync(file), { chunkSize: 1 << 20 });
  const [command, pkg] = format === 'tar.xz' ? ['xz', 'xz-utils'] : ['zstd', 'zstd'];
  const r = spawnSync(command, ['-dc', '--', file], { maxBuffer: 16 * 1024 ** 3, stdio: ['ignore', 'pipe', 'pipe'] });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw new MissingToolError(command, pkg);
  if (r.error) throw r.error;
  if (r.status !== 0) throw new DecompressError(`\`${command} -dc\` exited with code ${r.status ?? r.signal}: ${r.stderr.toString().trim()}`);
  return r.stdout;
}

function toSlugcError(e: unknown, file: string, root: string, format: ExtractFormat): SlugcError {
  if (e instanceof SlugcError) return e;
  const name = path.basename(file);
  if (e instanceof UnsafeEntryError) {
    return new SlugcError('SLUGC_UNSAFE_ARCHIVE_PATH', `Couldn't extract ${name}: ${e.message}, so it could put files outside ${root}.`, {
      hint: 'The archive is malicious or broken; nothing from it was kept. Get it from a source you trust.',
      details: { file, entry: e.entry, dest: root },
    });
  }
  if (e instanceof MissingToolError) {
    return new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't extract ${name}: it is a ${format} archive and ${e.message}.`, {
      hint: `Install ${e.command} on the build machine (Debian/Ubuntu: apt-get install -y ${e.pkg}).`,
      details: { file, tool: e.command },
      cause: e,
    });
  }
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.syscall === 'string' && err.code !== 'ENOENT') {
    // The file system said no (disk full, permissions, a name too long), not the archive.
    return new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't extract ${name} into ${root}: ${errorMessage(e)}`, {
      hint: 'Check that the target dir is writable and the disk has space, then retry.',
      details: { file, dest: root },
      cause: e,
    });
  }
  return new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't extract ${name}: ${errorMessage(e)}`, {
    hint: 'The archive is damaged (a truncated or corrupted download?); delete it from the cache dir and retry.',
    details: { file },
    cause: e,
  });
}
