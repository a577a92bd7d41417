/**
 * The segment cache: the compressed bytes of large segments of earlier slugs,
 * so that a rebuild never compresses the same bytes twice (see pack.ts for
 * what a segment is).
 *
 * Layout of the cache dir (flat, every name ours):
 *
 * - `<key>.seg`: a segment's compressed bytes (raw deflate, ending on a
 *   byte boundary with a sync flush), as the packer would produce them;
 * - `<key>.ok`: its commit record, JSON `{v, in, out, sha256}`: uncompressed
 *   and compressed lengths and the SHA-256 of the `.seg` file's bytes;
 * - `hints.json`: what the last pack saw, structure key -> content key (see
 *   {@link SegmentCache.structureKey});
 * - `.tmp-<pid>-<random>.*`: files being written.
 *
 * `<key>` (the content key) is the SHA-256 of the segment's uncompressed tar
 * bytes (as the list of its 1 MiB chunks' SHA-256s, which the workers compute
 * in parallel) together with everything else that changes the deflate
 * output: the format version, level, chunk size, zlib version, CPU
 * architecture and a probe (the hash of a fixed sample compressed at that
 * level, which catches a zlib whose output depends on the CPU it runs on).
 *
 * Writing is crash-safe: the data file is written under a temporary name,
 * fsync'd and renamed, then the commit record is written the same way, last.
 * Reading trusts nothing: a segment is spliced only when its commit record
 * exists, the data file has the recorded length, and the bytes copied into
 * the slug hash to the recorded SHA-256 (pack.ts undoes the splice
 * otherwise). A bad entry is deleted and the segment compressed instead.
 *
 * Everything here is best effort: an error while reading or writing the
 * cache makes a miss or a segment not stored, never a failed pack. Two packs
 * may share the dir: a file that vanishes under a reader is a miss.
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

/** Bump when the segment rule or the chunk format changes: entries of another version never match. */
export const SEGMENT_FORMAT_VERSION = 1;

/** Segments with fewer tar bytes than this are not cached (compressing them costs less than a few file operations). */
export const SEGMENT_CACHE_MIN_BYTES = 1 << 20;

const DATA_EXT = '.seg';
const RECORD_EXT = '.ok';
const HINTS_FILE = 'hints.json';
const TMP_PREFIX = '.tmp-';
/** A temporary file of a live process older than this is left over from a pack that was killed and whose pid was reused. */
const STALE_TEMP_MS = 60 * 60 * 1000;
const KEY_RE = /^[0-9a-f]{64}$/;

/** A committed entry found for a content key, open for reading. */
export interface CachedSegment {
  key: string;
  /** Open on the `.seg` file; the caller closes it. */
  fd: number;
  /** Compressed length, checked against the file's size. */
  outLength: number;
  /** Hex SHA-256 the compressed bytes must have. */
  sha256: string;
}

interface CommitRecord {
  v: number;
  in: number;
  out: number;
  sha256: string;
}

/** One segment being stored while it is compressed: the packer feeds it each chunk's output in order. */
export class SegmentStore {
  /** Chunk digests, in order: with the length, they make the content key. */
  readonly digests: string[] = [];
  inLength = 0;
  outLength = 0;
  failed = false;
  private readonly hash = crypto.createHash('sha256');
  private synced: Promise<void> | undefined;
  private closed = false;

  constructor(
    readonly tmpPath: string,
    private readonly fd: number,
    /** Uncompressed length the segment will have (from the listing). */
    readonly expected: number,
  ) {}

  /** Appends one chunk's output; starts the fsync in the background once the segment is complete. */
  add(bytes: Uint8Array, length: number, digest: string | undefined): void {
    if (this.failed) return;
    try {
      if (digest === undefined) throw new Error('chunk without a digest');
      let off = 0;
      while (off < bytes.length) off += fs.writeSync(this.fd, bytes, off, bytes.length - off, this.outLength + off);
      this.hash.update(bytes);
      this.outLength += bytes.length;
      this.inLength += length;
      this.digests.push(digest);
      if (this.inLength > this.expected) throw new Error('segment longer than listed');
      if (this.inLength === this.expected) this.sync();
    } catch {
      this.abort();
    }
  }

  /** True when every byte of the segment went in and nothing failed. */
  get complete(): boolean {
    return !this.failed && this.inLength === this.expected;
  }

  /** The hex SHA-256 of the compressed bytes (once complete). */
  digest(): string {
    return this.hash.copy().digest('hex');
  }

  /** fsyncs the data (on libuv's thread pool, so packing goes on meanwhile). */
  sync(): Promise<void> {
    this.synced ??= new Promise((resolve, reject) => fs.fsync(this.fd, (err) => (err ? reject(err) : resolve())));
    return this.synced;
  }

  /** Closes the file; the temporary file stays for the caller to rename. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already gone */
    }
  }

  /** Gives up on this segment: closes and removes the temporary file. */
  abort(): void {
    this.failed = true;
    // An fsync may still be running on the fd: close only after it.
    const done = (): void => {
      this.close();
      fs.rmSync(this.tmpPath, { force: true });
    };
    if (this.synced) this.synced.then(done, done);
    else done();
  }
}

/** What {@link SegmentCache.commit} needs for a segment to store. */
export interface StoreCommit {
  store: SegmentStore;
  key: string;
}

/** The segment cache in one directory, for packs at one gzip level. See the module doc. */
export class SegmentCache {
  private committed = new Set<string>();
  private hints = new Map<string, string>();
  private tmpCount = 0;

  private constructor(
    readonly dir: string,
    /** Everything besides the bytes that decides what deflate produces. */
    private readonly compressor: string,
  ) {}

  /**
   * Opens (creating it if needed) the cache in `dir`: lists the committed
   * entries, removes temporary files left by killed packs and reads the
   * hints. Returns undefined when the dir can't be created or read: the pack
   * then runs without a cache.
   */
  static open(dir: string, level: number, chunkSize: number): SegmentCache | undefined {
    const cache = new SegmentCache(path.resolve(dir), compressorId(level, chunkSize));
    try {
      fs.mkdirSync(cache.dir, { recursive: true });
      cache.scan();
    } catch {
      return undefined;
    }
    return cache;
  }

  /**
   * The key of a segment's shape: its entries' paths, types, modes, sizes
   * and link targets (`shape`, built by the packer) under this compressor.
   * It says which content key the same shape had last time, so that the
   * packer knows whether hashing the segment first (and splicing) is likely
   * to pay off. File mtimes are deliberately not part of it: slugc's builds
   * copy the app and restore layers by copy, which gives every file a new
   * mtime on every build (see benchmarks/README.md).
   */
  structureKey(shape: string): string {
    return crypto.createHash('sha256').update(this.compressor).update('\0').update(shape).digest('hex');
  }

  /** The content key of a segment of `length` uncompressed bytes whose chunks hash to `digests`. */
  contentKey(digests: readonly string[], length: number): string {
    const h = crypto.createHash('sha256').update(this.compressor).update(`\0${length}\0`);
    for (const d of digests) h.update(d);
    return h.digest('hex');
  }

  /** The content key the last pack saw for this structure key, if that entry is committed. */
  hinted(structureKey: string): string | undefined {
    const key = this.hints.get(structureKey);
    return key !== undefined && this.committed.has(key) ? key : undefined;
  }

  /**
   * The committed entry for `key`, open for reading, when its record is
   * sound (`inLength` uncompressed bytes) and its data file has the recorded
   * length. A bad entry is removed; a missing one is a miss.
   */
  lookup(key: string, inLength: number): CachedSegment | undefined {
    let record: CommitRecord;
    try {
      record = JSON.parse(fs.readFileSync(this.file(key, RECORD_EXT), 'utf8')) as CommitRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.remove(key);
      return undefined;
    }
    if (
      record === null || typeof record !== 'object' || record.v !== SEGMENT_FORMAT_VERSION || record.in !== inLength ||
      !Number.isSafeInteger(record.out) || record.out <= 0 || typeof record.sha256 !== 'string' || !KEY_RE.test(record.sha256)
    ) {
      this.remove(key);
      return undefined;
    }
    let fd: number;
    try {
      fd = fs.openSync(this.file(key, DATA_EXT), 'r');
    } catch {
      this.remove(key); // a record without its data: removed by a concurrent pack, or broken
      return undefined;
    }
    let size: number;
    try {
      size = fs.fstatSync(fd).size;
    } catch {
      size = -1;
    }
    if (size !== record.out) {
      fs.closeSync(fd);
      this.remove(key);
      return undefined;
    }
    return { key, fd, outLength: record.out, sha256: record.sha256 };
  }

  /** Removes an entry: the commit record first, so a record never outlives its data. */
  remove(key: string): void {
    this.committed.delete(key);
    try {
      fs.rmSync(this.file(key, RECORD_EXT), { force: true });
      fs.rmSync(this.file(key, DATA_EXT), { force: true });
    } catch {
      /* best effort */
    }
  }

  /** Starts storing a segment of `expected` uncompressed bytes; undefined when the temporary file can't be created. */
  startStore(expected: number): SegmentStore | undefined {
    const tmp = this.tmpPath(DATA_EXT);
    try {
      return new SegmentStore(tmp, fs.openSync(tmp, 'wx', 0o644), expected);
    } catch {
      return undefined;
    }
  }

  /**
   * Commits stored segments: waits for their data to be on disk, renames
   * each into place, then writes each commit record (fsync'd, renamed), last.
   * A segment that fails is dropped; the others still commit. Returns the
   * keys committed.
   */
  async commit(items: readonly StoreCommit[]): Promise<Set<string>> {
    const renamed: StoreCommit[] = [];
    await Promise.all(
      items.map(async (it) => {
        try {
          await it.store.sync();
          it.store.close();
          fs.renameSync(it.store.tmpPath, this.file(it.key, DATA_EXT));
          renamed.push(it);
        } catch {
          it.store.abort();
        }
      }),
    );
    const done = new Set<string>();
    if (renamed.length === 0) return done;
    fsyncDir(this.dir); // the data files' names are on disk before any record that points to them
    await Promise.all(
      renamed.map(async (it) => {
        const record: CommitRecord = { v: SEGMENT_FORMAT_VERSION, in: it.store.inLength, out: it.store.outLength, sha256: it.store.digest() };
        try {
          await writeDurably(this.tmpPath(RECORD_EXT), this.file(it.key, RECORD_EXT), JSON.stringify(record) + '\n');
          this.committed.add(it.key);
          done.add(it.key);
        } catch {
          /* not committed: the data file without a record is never used, and removed by the next pack */
        }
      }),
    );
    fsyncDir(this.dir);
    return done;
  }

  /**
   * After a successful pack: removes every entry this pack did not use, and
   * keeps as hints only this pack's segments (`hints`: structure key ->
   * content key), so the cache holds one slug's worth of segments.
   */
  finish(used: ReadonlySet<string>, hints: ReadonlyMap<string, string>): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      const ext = name.endsWith(RECORD_EXT) ? RECORD_EXT : name.endsWith(DATA_EXT) ? DATA_EXT : undefined;
      if (ext === undefined || name.startsWith(TMP_PREFIX)) continue;
      const key = name.slice(0, -ext.length);
      if (KEY_RE.test(key) && !used.has(key)) this.remove(key);
    }
    const rows: Record<string, string> = {};
    for (const [k, v] of hints) rows[k] = v;
    const tmp = this.tmpPath('.json');
    try {
      fs.writeFileSync(tmp, JSON.stringify({ v: SEGMENT_FORMAT_VERSION, rows }) + '\n');
      fs.renameSync(tmp, path.join(this.dir, HINTS_FILE));
    } catch {
      fs.rmSync(tmp, { force: true });
    }
  }

  private scan(): void {
    const now = Date.now();
    for (const name of fs.readdirSync(this.dir)) {
      if (name.startsWith(TMP_PREFIX)) {
        const pid = Number(/^\.tmp-(\d+)-/.exec(name)?.[1]);
        if (pid === process.pid) continue;
        let stale = !Number.isInteger(pid) || !isAlive(pid);
        if (!stale) {
          try {
            stale = now - fs.statSync(path.join(this.dir, name)).mtimeMs > STALE_TEMP_MS;
          } catch {
            continue;
          }
        }
        if (stale) fs.rmSync(path.join(this.dir, name), { force: true });
      } else if (name.endsWith(RECORD_EXT)) {
        const key = name.slice(0, -RECORD_EXT.length);
        if (KEY_RE.test(key)) this.committed.add(key);
      }
    }
    try {
      const parsed = JSON.parse(fs.readFileSync(path.join(this.dir, HINTS_FILE), 'utf8')) as { v?: unknown; rows?: unknown };
      if (parsed.v === SEGMENT_FORMAT_VERSION && parsed.rows !== null && typeof parsed.rows === 'object') {
        for (const [k, v] of Object.entries(parsed.rows as Record<string, unknown>)) {
          if (typeof v === 'string' && KEY_RE.test(v)) this.hints.set(k, v);
        }
      }
    } catch {
      /* no hints yet, or unreadable: every segment is compressed (and stored) */
    }
  }

  private file(key: string, ext: string): string {
    return path.join(this.dir, key + ext);
  }

  private tmpPath(ext: string): string {
    return path.join(this.dir, `${TMP_PREFIX}${process.pid}-${crypto.randomBytes(6).toString('hex')}-${this.tmpCount++}${ext}`);
  }
}

/** Writes `data` to `tmp`, fsyncs it (off the main thread) and renames it to `dest`. */
async function writeDurably(tmp: string, dest: string, data: string): Promise<void> {
  const fd = fs.openSync(tmp, 'wx', 0o644);
  try {
    fs.writeSync(fd, data);
    await new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, dest);
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* some filesystems refuse fsync on a directory */
  }
}

/** True when a process with this pid exists (EPERM: it exists, but isn't ours). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const compressorIds = new Map<string, string>();

/**
 * Identifies the compressor: format version, level, chunk size, zlib
 * version, CPU architecture, and the hash of a fixed sample compressed the
 * way the workers compress (level, sync flush, with and without a
 * dictionary). Memoised: the probe costs a few ms.
 */
function compressorId(level: number, chunkSize: number): string {
  const memo = `${level}/${chunkSize}`;
  const known = compressorIds.get(memo);
  if (known !== undefined) return known;
  const sample = probeSample();
  const opts = { level, finishFlush: zlib.constants.Z_SYNC_FLUSH };
  const probe = crypto
    .createHash('sha256')
    .update(zlib.deflateRawSync(sample, opts))
    .update(zlib.deflateRawSync(sample.subarray(32 * 1024), { ...opts, dictionary: sample.subarray(0, 32 * 1024) }))
    .digest('hex')
    .slice(0, 16);
  const id = `slugc-segment v${SEGMENT_FORMAT_VERSION} level ${level} chunk ${chunkSize} zlib ${process.versions.zlib} ${process.arch} probe ${probe}`;
  compressorIds.set(memo, id);
  return id;
}

/** 96 KiB of deterministic source-like text (a seeded LCG picking words and numbers). */
function probeSample(): Buffer {
  const words = ['const', 'function', 'return', 'require', 'exports', 'value', 'options', 'callback', 'if', 'else', '{', '}', '(', ')', ';', '\n'];
  const parts: string[] = [];
  let n = 0;
  let seed = 20240611;
  while (n < 96 * 1024) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const w = (seed >>> 8) % 5 === 0 ? String(seed % 9973) : (words[(seed >>> 4) % words.length] as string);
    parts.push(w, ' ');
    n += w.length + 1;
  }
  return Buffer.from(parts.join('')).subarray(0, 96 * 1024);
}
