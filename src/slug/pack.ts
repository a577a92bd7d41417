/**
 * Packs a directory into a slug: a deterministic tar stream (every entry
 * under `./app/`) compressed by a pool of gzip workers.
 *
 * The main thread lists the tree, reads every file straight into the chunk
 * buffer the compressor will consume, and keeps the CRC32; the workers only
 * compress (see parallel-gzip.ts). All filesystem work is synchronous on
 * purpose: on this machine kind an uncompressed pack takes 2.0 s with sync fs
 * calls and 6.4 s with async ones (shared/reference/perf-baselines.md).
 *
 * Segments. The tar stream is cut into segments at points that depend only
 * on the listing (see {@link planSegments}): every directory at depth 1 to
 * {@link SEGMENT_MAX_DEPTH} below the packed dir whose subtree holds at least
 * {@link SEGMENT_DIR_MIN_BYTES} of file data starts a segment, and the entry
 * right after its subtree starts another; the two zero blocks that end the
 * archive are a segment of their own. So `node_modules/typescript/`, or
 * `.heroku/node/`, is a run of segments of its own, and the app's own code,
 * between the big directories, is in small segments of its own. Each
 * segment is compressed as if the stream started there (no dictionary from
 * the previous one), so its compressed bytes depend only on its tar bytes and
 * the level.
 *
 * The segment cache. With `segmentCache`, the compressed bytes of every
 * segment of at least 1 MiB are stored (segment-cache.ts), and the next pack
 * splices them instead of compressing the same bytes again. A segment whose
 * shape (names, modes, sizes...) the last pack saw is read and hashed by the
 * workers first, in parallel and ahead of the one being written (the main
 * thread only encodes its headers and describes its files); when its content
 * key is in the cache, the stored bytes are copied into the slug (verified
 * as they are copied) and its CRC32 combined into the stream's. Otherwise,
 * or when its shape is new, it is compressed as above, and stored. The slug
 * is byte-identical with or without a cache, hit or miss.
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SlugcError } from '../errors.js';
import { GZIP_CHUNK_SIZE, ParallelGzipWriter, crc32Combine, type ChunkInfo, type HashJob, type HashResult } from './parallel-gzip.js';
import { SEGMENT_CACHE_MIN_BYTES, SegmentCache, type CachedSegment, type SegmentStore, type StoreCommit } from './segment-cache.js';
import {
  TAR_BLOCK_SIZE,
  TAR_END_OF_ARCHIVE_SIZE,
  encodeHeader,
  encodeHeaderInto,
  tarHeaderSize,
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
   * A directory for the segment cache (created if missing; see
   * segment-cache.ts): the compressed segments of this pack are stored there,
   * and a later pack splices those whose bytes are unchanged instead of
   * compressing them again. It holds one slug's segments: entries this pack
   * did not use are removed. The slug's bytes are the same with or without it.
   */
  segmentCache?: string;
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
  /** Segments the tar stream was cut into, the end-of-archive one included (see the module doc). */
  segments: number;
  /** Segments whose compressed bytes were spliced from the segment cache rather than compressed. */
  segmentsSpliced: number;
  /** Uncompressed tar bytes of those segments. */
  bytesSpliced: number;
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

/** A run of entries compressed as if the stream started at its first one. */
interface Segment {
  /** Index of its first entry in the listing. */
  start: number;
  /** One past its last entry. */
  end: number;
  /** Its length in the tar stream: headers, data and padding. */
  tarBytes: number;
}

/** Directories this deep or shallower (`node_modules/` is 1, `node_modules/@types/node/` 3) can start a segment. */
export const SEGMENT_MAX_DEPTH = 3;
/** ...when their subtree holds at least this much file data. */
export const SEGMENT_DIR_MIN_BYTES = 1 << 20;

/** Progress is reported at most this often: ten times a second is enough for a progress bar. */
const PROGRESS_INTERVAL_MS = 100;

/**
 * Flags for opening files to read. O_NOFOLLOW: a file replaced by a symlink
 * since it was listed fails (ELOOP) instead of archiving the link's target.
 * O_NONBLOCK: one replaced by a fifo doesn't hang the pack waiting for a writer.
 */
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/** TypedArray's own fill: Buffer's override validates its arguments on every call (once per file here). */
const fillZero = Uint8Array.prototype.fill;

/** Cached segments are copied into the slug through a buffer this size. */
const SPLICE_BUFFER_SIZE = 1 << 20;

/** The workers read and hash cached-looking segments in jobs of at most this many bytes... */
const HASH_JOB_BYTES = 8 * GZIP_CHUNK_SIZE;
/** ...up to this many bytes of segments ahead of the one being written. */
const HASH_LOOKAHEAD_BYTES = 32 * GZIP_CHUNK_SIZE;

/** A segment as the pack loop sees it. */
interface Planned {
  seg: Segment;
  /** Its structure key, when it is big enough to be cached (and there is a cache). */
  structure?: string;
  /** The last pack saw this structure and its entry is committed: hash first, splice on a match. */
  hinted: boolean;
  /** The workers' hashing of it, once dispatched. */
  hashing?: Promise<Array<HashResult | undefined>>;
}

/**
 * Packs `opts.dir` into a gzip'd tarball at `opts.output`, deterministically:
 * entries depth-first in byte order of their names, every mtime `opts.mtime`,
 * owner 0:0 with no user names, permission bits kept, symlinks stored as
 * links, hard links as regular files, fifos/sockets/devices skipped. The same
 * tree gives the same bytes whatever the thread count, and whether or not a
 * segment cache is used.
 *
 * Throws a {@link SlugcError} (`SLUGC_PACKAGE_FAILED`) naming the path when a
 * file vanishes or can't be read; the temporary output is removed and the
 * worker threads are stopped in every case. Problems with the segment cache
 * never fail a pack: the segment is compressed instead.
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
  removeStaleOutputs(output);
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
  let hash = crypto.createHash('sha256');
  let size = 0;
  // Positional writes, so a splice that fails verification can be undone (truncate, rewind).
  const writeOut = (bytes: Uint8Array): void => {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd as number, bytes, off, bytes.length - off, size + off);
    hash.update(bytes);
    size += bytes.length;
  };

  let cache: SegmentCache | undefined;
  /** Segments being stored, by tag. */
  const stores = new Map<number, SegmentStore>();
  const sink = (bytes: Uint8Array, chunk?: ChunkInfo): void => {
    if (bytes.length > 0) writeOut(bytes);
    if (chunk !== undefined) stores.get(chunk.tag)?.add(bytes, chunk.length, chunk.digest);
  };

  let gz: ParallelGzipWriter | undefined;
  let written = 0;
  let bytesIn = 0;
  let segmentCount = 0;
  let segmentsSpliced = 0;
  let bytesSpliced = 0;
  const linksOut: string[] = [];
  /** Segments stored by this pack, with their structure keys. */
  const storing: { store: SegmentStore; structure: string }[] = [];
  /** Structure key -> content key of every cacheable segment of this pack (the next pack's hints). */
  const hints = new Map<string, string>();
  try {
    // Workers first: they boot (~45 ms) while this thread lists the tree.
    gz = new ParallelGzipWriter({ sink, level, threads });
    const writer = gz;
    if (opts.segmentCache !== undefined) cache = SegmentCache.open(opts.segmentCache, level, GZIP_CHUNK_SIZE);
    const entries = listTree(dir, [path.resolve(tmp), ...(cache !== undefined ? [cache.dir] : [])]);
    for (const e of entries) {
      if (e.type !== 'symlink' || e.linkpath === undefined) continue;
      const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(e.rel), e.linkpath));
      if (e.linkpath.startsWith('/') || resolved === '..' || resolved.startsWith('../')) linksOut.push(`${e.rel} -> ${e.linkpath}`);
    }
    // Segment sizes (and header sizes) matter only to the cache: without one, they aren't worked out.
    const { segments, headerSizes } = planSegments(entries, prefix === '' ? 1 : 0, prefix, mtime, cache !== undefined);
    segmentCount = segments.length + 1; // and the end of the archive
    let bytesTotal = 0;
    for (const e of entries) bytesTotal += e.size;
    const progress = opts.onProgress;
    let lastProgress = performance.now();
    progress?.({ entries: 0, bytesIn: 0, bytesTotal });
    const tick = (): void => {
      if (progress === undefined) return;
      const now = performance.now();
      if (now - lastProgress >= PROGRESS_INTERVAL_MS) {
        lastProgress = now;
        progress({ entries: written, bytesIn, bytesTotal });
      }
    };
    const fieldsOf = (e: Entry): TarHeaderFields => {
      const fields: TarHeaderFields = { path: prefix + e.rel, type: e.type, mode: e.mode, size: e.size, mtime };
      if (e.linkpath !== undefined) fields.linkpath = e.linkpath;
      return fields;
    };

    /** Writes the segment's entries into the writer, reading the files straight into its chunks. */
    const writeEntries = async (seg: Segment): Promise<void> => {
      for (let i = seg.start; i < seg.end; i++) {
        const e = entries[i] as Entry;
        if (writer.room === 0) await writer.next();
        const fields = fieldsOf(e);
        // Headers go straight into the chunk (room is a non-zero multiple of 512
        // here); only PAX entries, rare, take the allocating path.
        if (encodeHeaderInto(writer.buf, writer.pos, fields)) writer.pos += TAR_BLOCK_SIZE;
        else {
          const wrote = writer.write(encodeHeader(fields));
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
              if (writer.room === 0) await writer.next();
              const n = readChunk(file, writer, Math.min(remaining, writer.room), abs);
              if (n === 0) throw shrankError(abs, e.size, e.size - remaining);
              writer.pos += n;
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
          if (pad > 0) fillZero.call(writer.buf, 0, writer.pos, writer.pos + pad);
          writer.pos += pad;
        }
        written++;
        tick();
      }
      const ended = writer.endSegment();
      if (ended !== undefined) await ended;
    };

    /**
     * Copies a cached segment into the slug, hashing what it copies; when
     * the bytes aren't the recorded ones, undoes the copy and returns false.
     */
    let spliceBuf: Buffer | undefined;
    const splice = (found: CachedSegment): boolean => {
      spliceBuf ??= Buffer.allocUnsafe(SPLICE_BUFFER_SIZE);
      const before = { size, hash: hash.copy() };
      const check = crypto.createHash('sha256');
      let pos = 0;
      while (pos < found.outLength) {
        let n: number;
        try {
          n = fs.readSync(found.fd, spliceBuf, 0, Math.min(SPLICE_BUFFER_SIZE, found.outLength - pos), pos);
        } catch {
          break;
        }
        if (n === 0) break;
        const piece = spliceBuf.subarray(0, n);
        check.update(piece);
        writeOut(piece);
        pos += n;
      }
      if (pos === found.outLength && check.digest('hex') === found.sha256) return true;
      fs.ftruncateSync(fd as number, before.size);
      size = before.size;
      hash = before.hash;
      return false;
    };

    /**
     * With the segment read and hashed by the workers (`results`), splices
     * its cached compressed bytes when its content key is in the cache and
     * the bytes check out. False on a miss: nothing was written.
     */
    const spliceIfCached = async (p: Planned, results: ReadonlyArray<HashResult | undefined>): Promise<boolean> => {
      if (cache === undefined || p.structure === undefined) return false;
      const digests: string[] = [];
      let crc = 0;
      let length = 0;
      for (const r of results) {
        if (r === undefined) return false; // a file changed under us: the usual path says what happened
        digests.push(...r.digests);
        crc = crc32Combine(crc, r.crc, r.length);
        length += r.length;
      }
      if (length !== p.seg.tarBytes) return false;
      await writer.drain(); // the compressed bytes go after everything before them
      const key = cache.contentKey(digests, length);
      const found = cache.lookup(key, length);
      if (found === undefined) return false;
      let ok: boolean;
      try {
        ok = splice(found);
      } finally {
        fs.closeSync(found.fd);
      }
      if (!ok) {
        cache.remove(key); // corrupt: compressed again by the caller, and stored anew
        return false;
      }
      writer.appendSpliced(crc, length);
      hints.set(p.structure, key);
      segmentsSpliced++;
      bytesSpliced += length;
      for (let i = p.seg.start; i < p.seg.end; i++) bytesIn += (entries[i] as Entry).size;
      written += p.seg.end - p.seg.start;
      tick();
      return true;
    };

    // Which segments to look up: those of at least 1 MiB whose shape the last pack saw.
    // Worked out as the lookahead reaches them, so that compressing starts at once.
    const planned: Planned[] = segments.map((seg) => ({ seg, hinted: false }));
    const classify = (p: Planned): void => {
      if (cache === undefined || p.seg.tarBytes < SEGMENT_CACHE_MIN_BYTES) return;
      p.structure = cache.structureKey(segmentShape(entries, p.seg, prefix, mtime));
      p.hinted = cache.hinted(p.structure) !== undefined;
    };
    // Segments [current, ahead) are classified, and the hinted ones being hashed by the
    // workers, ahead of the one being written: HASH_LOOKAHEAD_BYTES of them.
    let ahead = 0;
    let aheadBytes = 0;
    const pump = (current: number): void => {
      for (; ahead < planned.length && (ahead <= current || aheadBytes < HASH_LOOKAHEAD_BYTES); ahead++) {
        const p = planned[ahead] as Planned;
        classify(p);
        aheadBytes += p.seg.tarBytes;
        if (!p.hinted) continue;
        const jobs = hashJobs(entries, p.seg, headerSizes, fieldsOf);
        p.hashing = Promise.all(jobs.map((job) => writer.hashStretch({ ...job, root: dir })));
        p.hashing.catch(() => undefined); // a pack that fails leaves these unread
      }
    };

    let nextTag = 1;
    for (let i = 0; i < planned.length; i++) {
      if (i > 0) aheadBytes -= (planned[i - 1] as Planned).seg.tarBytes;
      pump(i);
      const p = planned[i] as Planned;
      if (p.hashing !== undefined) {
        const results = await p.hashing;
        p.hashing = undefined;
        if (await spliceIfCached(p, results)) continue;
      }
      const tag = nextTag++;
      const store = p.structure !== undefined ? cache?.startStore(p.seg.tarBytes) : undefined;
      if (store !== undefined) {
        stores.set(tag, store);
        storing.push({ store, structure: p.structure as string });
      }
      writer.beginSegment({ digest: store !== undefined, tag });
      await writeEntries(p.seg);
    }
    // The end of the archive is a segment of its own, so the last directory's
    // segment is the same whether or not it comes last.
    writer.beginSegment();
    const ended = writer.zeros(TAR_END_OF_ARCHIVE_SIZE);
    if (ended !== undefined) await ended;
    await writer.end();
    progress?.({ entries: written, bytesIn, bytesTotal });
    fs.closeSync(fd);
    fd = undefined;
    if (cache !== undefined) {
      const commits: StoreCommit[] = [];
      for (const { store, structure } of storing) {
        if (!store.complete) {
          store.abort();
          continue;
        }
        const key = cache.contentKey(store.digests, store.inLength);
        commits.push({ store, key });
        hints.set(structure, key);
      }
      storing.length = 0;
      await cache.commit(commits);
    }
    fs.renameSync(tmp, output);
    cache?.finish(new Set(hints.values()), hints);
  } catch (e) {
    await gz?.close();
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    for (const { store } of storing) store.abort();
    throw e;
  } finally {
    await gz?.close();
  }
  return { sha256: hash.digest('hex'), size, entries: written, bytesIn, linksOut, segments: segmentCount, segmentsSpliced, bytesSpliced };
}

/**
 * The workers' read-and-hash jobs for a segment: its tar stream as pieces
 * (headers as literal bytes, file data as file ranges, padding as zeros), in
 * stretches of {@link HASH_JOB_BYTES} so that a large segment is spread over
 * the workers and never holds one up for long.
 */
function hashJobs(entries: readonly Entry[], seg: Segment, headerSizes: Int32Array, fieldsOf: (e: Entry) => TarHeaderFields): HashJob[] {
  // First the pieces, and how many header bytes each job takes...
  const jobs: Array<{ pieces: number[]; files: string[]; length: number; literal: number }> = [];
  let job = { pieces: [] as number[], files: [] as string[], length: 0, literal: 0 };
  jobs.push(job);
  /** Adds `n` bytes of a piece, cutting it where a job is full; file pieces read from `position` on. */
  const add = (type: 0 | 1 | 2, n: number, file = ''): void => {
    // An empty file is opened all the same: one that vanished fails here as it does when packed.
    if (type === 1 && n === 0) job.pieces.push(1, job.files.push(file) - 1, 0, 0);
    let position = 0;
    while (n > 0) {
      if (job.length === HASH_JOB_BYTES) {
        job = { pieces: [], files: [], length: 0, literal: 0 };
        jobs.push(job);
      }
      const k = Math.min(n, HASH_JOB_BYTES - job.length);
      if (type === 1) job.pieces.push(1, job.files.push(file) - 1, position, k);
      else job.pieces.push(type, k);
      if (type === 0) job.literal += k;
      job.length += k;
      position += k;
      n -= k;
    }
  };
  for (let i = seg.start; i < seg.end; i++) {
    const e = entries[i] as Entry;
    add(0, headerSizes[i] as number);
    if (e.type === 'file') {
      add(1, e.size, e.rel);
      add(2, tarPadding(e.size));
    }
  }
  // ...then the headers, encoded straight into each job's own literal bytes.
  const literals = jobs.map((j) => new Uint8Array(j.literal));
  let k = 0;
  let off = 0;
  for (let i = seg.start; i < seg.end; i++) {
    const e = entries[i] as Entry;
    const fields = fieldsOf(e);
    const size = headerSizes[i] as number;
    let target = literals[k] as Uint8Array;
    if (off + size <= target.length && encodeHeaderInto(target, off, fields)) {
      off += size;
    } else {
      // A PAX header, possibly cut between two jobs.
      const bytes = encodeHeader(fields);
      for (let done = 0; done < bytes.length; ) {
        if (off === target.length) {
          target = literals[++k] as Uint8Array;
          off = 0;
        }
        const n = Math.min(bytes.length - done, target.length - off);
        target.set(bytes.subarray(done, done + n), off);
        off += n;
        done += n;
      }
    }
    // Jobs whose literal bytes are used up (a big file spans several) move on.
    while (off === target.length && k + 1 < literals.length && i + 1 < seg.end) {
      target = literals[++k] as Uint8Array;
      off = 0;
    }
  }
  return jobs.map((j, n) => ({ literal: literals[n] as Uint8Array, root: '', files: j.files.join('\0'), pieces: Float64Array.from(j.pieces), length: j.length }));
}

/**
 * Cuts the listing into segments, from entry `first` on (1 when the root
 * entry is not written). A segment starts at `first`; at every directory at
 * depth 1 to {@link SEGMENT_MAX_DEPTH} whose subtree holds at least
 * {@link SEGMENT_DIR_MIN_BYTES} of file data; and at the entry right after
 * such a directory's subtree. A pure function of the listing: the cache
 * plays no part in it. With `measure`, also works out each segment's length
 * in the tar stream and each entry's header size (left 0 otherwise: only the
 * cache needs them).
 */
function planSegments(entries: readonly Entry[], first: number, prefix: string, mtime: number, measure: boolean): { segments: Segment[]; headerSizes: Int32Array } {
  const n = entries.length;
  const starts = new Uint8Array(n + 1);
  if (first < n) starts[first] = 1;
  /** The directories (depth ≤ SEGMENT_MAX_DEPTH) whose subtree the walk is in, and their file data so far. */
  const open: { index: number; rel: string; bytes: number }[] = [];
  const close = (end: number): void => {
    const d = open.pop() as { index: number; bytes: number };
    if (d.bytes >= SEGMENT_DIR_MIN_BYTES) {
      starts[d.index] = 1;
      starts[end] = 1;
    }
  };
  const sizes = new Float64Array(n);
  const headerSizes = new Int32Array(n);
  for (let i = first; i < n; i++) {
    const e = entries[i] as Entry;
    while (open.length > 0 && !e.rel.startsWith((open[open.length - 1] as { rel: string }).rel)) close(i);
    if (measure) {
      const fields: TarHeaderFields = { path: prefix + e.rel, type: e.type, mode: e.mode, size: e.size, mtime };
      if (e.linkpath !== undefined) fields.linkpath = e.linkpath;
      const header = tarHeaderSize(fields);
      headerSizes[i] = header;
      sizes[i] = header + e.size + tarPadding(e.size);
    }
    if (e.type === 'file') {
      for (const d of open) d.bytes += e.size;
    } else if (e.type === 'directory' && e.rel !== '' && depthOf(e.rel) <= SEGMENT_MAX_DEPTH) {
      open.push({ index: i, rel: e.rel, bytes: 0 });
    }
  }
  while (open.length > 0) close(n);
  const segments: Segment[] = [];
  let cur: Segment | undefined;
  for (let i = first; i < n; i++) {
    if (starts[i] === 1 || cur === undefined) {
      cur = { start: i, end: i, tarBytes: 0 };
      segments.push(cur);
    }
    cur.end = i + 1;
    cur.tarBytes += sizes[i] as number;
  }
  return { segments, headerSizes };
}

/** A directory's depth: the number of '/' in its relative path (`a/` is 1, `a/b/` 2). */
function depthOf(rel: string): number {
  let depth = 0;
  for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) depth++;
  return depth;
}

/** What a segment's structure key hashes: its entries' names, types, modes, sizes and link targets, and the header settings. */
function segmentShape(entries: readonly Entry[], seg: Segment, prefix: string, mtime: number): string {
  const parts = [`${prefix}\0${mtime}\0${seg.tarBytes}`];
  for (let i = seg.start; i < seg.end; i++) {
    const e = entries[i] as Entry;
    parts.push(`${e.rel}\0${e.type}\0${e.mode}\0${e.size}\0${e.linkpath ?? ''}`);
  }
  return parts.join('\n');
}

/**
 * Removes `<output>.tmp-<pid>` files left beside the output by packs that
 * were killed (their process is gone). Best effort.
 */
function removeStaleOutputs(output: string): void {
  const parent = path.dirname(path.resolve(output));
  const base = path.basename(output);
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(`${base}.tmp-`)) continue;
    const pid = Number(name.slice(base.length + 5));
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') fs.rmSync(path.join(parent, name), { force: true });
    }
  }
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
function listTree(root: string, skip: readonly string[]): Entry[] {
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

/** `skip`: our own temporary output and segment cache, in case they are inside the tree (absolute paths). */
function walk(absDir: string, relDir: string, out: Entry[], skip: readonly string[]): void {
  let names: string[];
  try {
    names = fs.readdirSync(absDir);
  } catch (err) {
    throw readError(absDir, err);
  }
  sortByUtf8(names);
  for (const name of names) {
    const abs = `${absDir}/${name}`;
    if (skip.length > 0 && skip.includes(abs)) continue;
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
