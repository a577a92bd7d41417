/**
 * Archive formats: sniffing them from magic bytes, and turning a compressed
 * tar into a stream of tar bytes (Node's zlib for gzip, the system's `xz` and
 * `zstd` for the others, since Node 20 has neither).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { TarFormatError } from './tar-reader.js';

/** The archive formats {@link extractArchive} reads. */
export type ExtractFormat = 'tar' | 'tar.gz' | 'tar.xz' | 'tar.zst' | 'zip';

/** The formats, for validation. */
export const EXTRACT_FORMATS: readonly ExtractFormat[] = ['tar', 'tar.gz', 'tar.xz', 'tar.zst', 'zip'];

/**
 * Tells an archive's format from its first bytes: gzip `1f 8b`, xz
 * `fd 37 7a 58 5a 00`, zstd `28 b5 2f fd`, zip `50 4b 03 04` (an empty zip,
 * `50 4b 05 06`, too), plain tar when `ustar` is at offset 257. Null when
 * none matches (e.g. a pre-POSIX tar: pass `format: 'tar'` for those).
 */
export function detectArchiveFormat(file: string): ExtractFormat | null {
  const head = Buffer.alloc(512);
  const fd = fs.openSync(file, 'r');
  let n: number;
  try {
    n = fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  return sniff(head.subarray(0, n));
}

/** {@link detectArchiveFormat} on bytes already read. */
export function sniff(head: Uint8Array): ExtractFormat | null {
  const starts = (...bytes: number[]) => head.length >= bytes.length && bytes.every((b, i) => head[i] === b);
  if (starts(0x1f, 0x8b)) return 'tar.gz';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'tar.xz';
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'tar.zst';
  if (starts(0x50, 0x4b, 0x03, 0x04) || starts(0x50, 0x4b, 0x05, 0x06)) return 'zip';
  if (head.length >= 262 && String.fromCharCode(...head.subarray(257, 262)) === 'ustar') return 'tar';
  return null;
}

/** The system tool a format needs, with the Debian package that has it. */
const TOOLS = {
  'tar.xz': { command: 'xz', args: ['-dc', '-T0', '--'], pkg: 'xz-utils' },
  'tar.zst': { command: 'zstd', args: ['-dc', '-q', '--'], pkg: 'zstd' },
} as const;

/** A decompression tool is not installed. */
export class MissingToolError extends Error {
  readonly command: string;
  readonly pkg: string;
  constructor(command: string, pkg: string) {
    super(`the \`${command}\` command is not installed`);
    this.name = 'MissingToolError';
    this.command = command;
    this.pkg = pkg;
  }
}

/** A decompressor exited non-zero: the data is damaged. */
export class DecompressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecompressError';
  }
}

/** Chunk sizes: large chunks cut per-chunk overhead (measured: 64 KiB chunks gunzip 1.7x slower than 256 KiB+). */
const READ_CHUNK = 1 << 20;
const INFLATE_CHUNK = 1 << 18;
/** How far gunzip may run ahead of the writes (its readable side's high-water mark; the default, 16 KiB, stalls it). */
const INFLATE_AHEAD = 1 << 22;
/** zlib passes stream options on to its Transform, though its typings omit them. */
const GUNZIP_OPTIONS = { chunkSize: INFLATE_CHUNK, highWaterMark: INFLATE_AHEAD } as zlib.ZlibOptions;

/**
 * Streams the tar bytes of `file` (a tar format) to `consume`, which is called
 * synchronously with each chunk. Decompression runs off the main thread (in
 * zlib's thread pool, or in the child process), so it overlaps the sync file
 * writes `consume` does. Rejects with {@link MissingToolError},
 * {@link DecompressError}, a zlib error, or whatever `consume` throws; the
 * streams and the child are torn down either way.
 *
 * When `consume` finds the tar malformed ({@link TarFormatError}), the rest
 * is still decompressed (and dropped): a corrupt .xz or .gz yields garbage
 * before its decompressor notices, and the decompressor's own error is the
 * one to report.
 */
export async function streamTar(file: string, format: Exclude<ExtractFormat, 'zip'>, consume: (chunk: Uint8Array) => void): Promise<void> {
  let failure: { error: unknown } | null = null;
  let draining = false;
  const sink = async (source: AsyncIterable<Uint8Array>) => {
    for await (const chunk of source) {
      if (draining) continue;
      try {
        consume(chunk);
      } catch (e) {
        failure = { error: e };
        if (e instanceof TarFormatError && format !== 'tar') draining = true;
        else throw e;
      }
    }
  };
  /** Runs the pipeline; what `consume` threw wins over the teardown's AbortError, a decompressor's error over a drained format error. */
  const run = async (streams: () => Promise<void>) => {
    try {
      await streams();
    } catch (e) {
      throw failure && !draining ? failure.error : e;
    }
  };
  if (format === 'tar' || format === 'tar.gz') {
    const input = fs.createReadStream(file, { highWaterMark: READ_CHUNK });
    await run(() => (format === 'tar' ? pipeline(input, sink) : pipeline(input, zlib.createGunzip(GUNZIP_OPTIONS), sink)));
    if (failure) throw (failure as { error: unknown }).error;
    return;
  }
  const tool = TOOLS[format];
  const child = spawn(tool.command, [...tool.args, file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new MissingToolError(tool.command, tool.pkg) : e));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  exited.catch(() => {}); // observed below; this only stops an unhandled rejection while the pipeline runs
  try {
    await run(() => pipeline(child.stdout, sink));
  } catch (e) {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    await exited; // rejects with MissingToolError when the spawn failed: report the cause, not the symptom
    throw e;
  }
  const { code, signal } = await exited; // may reject with MissingToolError (stdout of a failed spawn just ends)
  if (code !== 0) {
    const why = code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with code ${code}`;
    throw new DecompressError(`\`${tool.command} -dc\` ${why}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
  }
  if (failure) throw (failure as { error: unknown }).error;
}
