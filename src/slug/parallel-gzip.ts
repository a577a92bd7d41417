/**
 * pigz-style parallel gzip: one gzip member whose deflate stream is made of
 * independently compressed 1 MiB chunks.
 *
 * Each chunk is compressed as raw deflate on a worker thread, primed with the
 * last 32 KiB of the previous chunk as its dictionary (so matches can reach
 * back across the cut, as they would in a single stream) and ended with
 * Z_SYNC_FLUSH, which closes the chunk on a byte boundary with a non-final
 * empty stored block. The stream ends with an empty final block (0x03 0x00)
 * written here, so no chunk's bytes depend on whether it is the last one.
 * Concatenated in order, after a gzip header and before a CRC32/ISIZE trailer
 * computed here on the main thread, the chunks form one valid gzip stream.
 * Each chunk's output depends only on its own bytes, the previous 32 KiB and
 * the level, so the result is byte-identical whatever the number of threads
 * or their timing.
 *
 * Segments: the producer can cut the stream into segments
 * ({@link ParallelGzipWriter.endSegment}). A segment's first chunk has no
 * dictionary and its chunks are cut at 1 MiB offsets from the segment's own
 * start, so a segment's compressed bytes depend only on its own uncompressed
 * bytes and the level: they can be stored, and spliced into another stream
 * later instead of compressing the same bytes again (see segment-cache.ts).
 * To find out whether a stored copy exists, the workers can also read and
 * hash (SHA-256 per chunk, and CRC32) a stretch of the stream described as
 * pieces of files ({@link ParallelGzipWriter.hashStretch}), in parallel,
 * without compressing it; a spliced segment's CRC32 is then combined into
 * the stream's ({@link ParallelGzipWriter.appendSpliced}).
 *
 * Memory is a fixed pool of slots in one SharedArrayBuffer, allocated up
 * front: the producer writes (or `readSync`s) data straight into a slot, a
 * worker compresses it into the same slot's output area, and the main thread
 * writes that out and recycles the slot. Nothing per chunk is allocated on the
 * main thread, and each zlib result is freed as soon as it is copied (see
 * WORKER_SOURCE), so RSS stays flat however much data goes through.
 */

import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';

/**
 * Size of the uncompressed chunks handed to workers. 1 MiB as in the
 * prototype measured in perf-baselines.md (pigz uses 128 KiB): large enough
 * that the per-chunk costs (a fresh deflate state, a 32 KiB dictionary, a
 * ~5-byte sync-flush marker, two small messages) are well under 1% of the
 * ~15–20 ms a worker spends compressing it at level 6, small enough that the
 * slots in flight stay a few MiB. A multiple of 512, so no tar block ever
 * straddles two chunks.
 */
export const GZIP_CHUNK_SIZE = 1 << 20;

/** Deflate's window: the farthest a match can reach back, hence the dictionary size. */
export const DEFLATE_WINDOW_SIZE = 32 * 1024;

/**
 * Room for one chunk's compressed output. zlib's deflateBound for 1 MiB is
 * 1 MiB + ~330 bytes (stored blocks for incompressible data), plus 5 bytes of
 * sync-flush marker; 64 KiB of slack is plenty.
 */
const OUT_SIZE = GZIP_CHUNK_SIZE + 64 * 1024;
/** One slot: [dictionary | chunk | compressed output]. */
const SLOT_SIZE = DEFLATE_WINDOW_SIZE + GZIP_CHUNK_SIZE + OUT_SIZE;

/** Options of {@link ParallelGzipWriter}. */
export interface ParallelGzipOptions {
  /**
   * Receives the gzip stream, in order. Called synchronously with a view of
   * memory that is reused afterwards: consume or copy it before returning.
   * An exception from it aborts the writer. `chunk` describes a chunk's
   * output (it is undefined for the gzip header and trailer); a chunk that was
   * only hashed comes with no bytes.
   */
  sink: (bytes: Uint8Array, chunk?: ChunkInfo) => void;
  /** gzip level 1–9; default 6. */
  level?: number;
  /** Number of worker threads; default 1. */
  threads?: number;
  /** Chunks dispatched but not yet written before the producer has to wait; default 2 × threads + 2. */
  maxInFlight?: number;
}

/**
 * The empty final block that ends the deflate stream: BFINAL=1, BTYPE=01
 * (fixed Huffman), then the 7-bit end-of-block code, zero-padded to a byte.
 */
const FINAL_BLOCK = Uint8Array.of(0x03, 0x00);

/** What the chunks of a segment get: see {@link ParallelGzipWriter.beginSegment}. */
export interface SegmentMode {
  /** Compute each chunk's SHA-256 on the worker and pass it to the sink (default false). */
  digest?: boolean;
  /** An opaque number handed back with each of the segment's chunks (default 0). */
  tag?: number;
}

/** What the sink learns about a chunk along with its compressed bytes. */
export interface ChunkInfo {
  /** The tag of the chunk's segment. */
  tag: number;
  /** The chunk's uncompressed length. */
  length: number;
  /** Hex SHA-256 of the chunk's uncompressed bytes, when the segment asked for digests. */
  digest: string | undefined;
}

/**
 * A stretch of the uncompressed stream for a worker to read and hash, as a
 * list of pieces. It starts at a chunk boundary of its segment, so the
 * digests are those of the segment's chunks.
 */
export interface HashJob {
  /** Literal bytes (e.g. tar headers) the pieces take from, in order. Transferred to the worker: unusable afterwards. */
  literal: Uint8Array;
  /** The directory `files` are relative to. */
  root: string;
  /** Paths of the files the pieces read from, relative to `root`, joined with NUL (one string clones much faster than an array). */
  files: string;
  /**
   * The pieces, flat: `0, n`: the next n literal bytes; `1, f, position, n`:
   * n bytes of file number f from `position`; `2, n`: n zero bytes.
   * Transferred to the worker: unusable afterwards.
   */
  pieces: Float64Array;
  /** Total bytes. */
  length: number;
}

/** What a worker found hashing a {@link HashJob}. */
export interface HashResult {
  /** Hex SHA-256 of each chunk (of {@link GZIP_CHUNK_SIZE} bytes, the last one possibly shorter). */
  digests: string[];
  /** CRC32 of the stretch, as if it started a stream. */
  crc: number;
  length: number;
}

/** A chunk to compress (and maybe hash): it lives in slot `slot` of the shared memory. */
interface Job {
  kind: 'deflate';
  id: number;
  slot: number;
  length: number;
  hasDict: boolean;
  digest: boolean;
}

/** A worker's reply to a chunk: the compressed length, in the slot's output area, and the digest if asked for. */
type Reply =
  | { kind: 'deflate'; id: number; slot: number; length: number; digest?: string }
  | { kind: 'hash'; id: number; result?: HashResult; error?: string }
  | { kind: 'deflate'; id: number; error: string };

/** What the main thread keeps of a dispatched chunk until it is written out. */
interface Pending {
  tag: number;
  length: number;
  worker: number;
}

/** How much a job costs a worker, to balance them: reading and hashing is ~8× cheaper per byte than deflate at level 6. */
const HASH_COST_DIVISOR = 8;

/**
 * The worker, as CommonJS source run with `eval: true`: it has to work both
 * from compiled dist/*.js and when vitest loads this module as TypeScript,
 * and a worker file next to this module exists in only one of those.
 *
 * `chunkSize: OUT_SIZE` makes zlib produce the whole result in a single
 * buffer (the default 16 KiB pieces plus a concat would be ~2× the output in
 * garbage per chunk). That buffer is copied into the slot, then transferred
 * to a port whose other end is closed, which detaches it and frees its memory
 * at once. Left to the garbage collector, such buffers pile up to V8's
 * external-memory soft limit (64 MiB per isolate) before a collection:
 * measured here, peak RSS 150 MiB instead of 86 MiB over 1,200 chunks.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const zlib = require('node:zlib');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { Z_SYNC_FLUSH } = zlib.constants;
const { memory, level, dictSize, chunkSize, outSize, slotSize, openFlags } = workerData;
const mem = new Uint8Array(memory);
const { port1: drop, port2 } = new MessageChannel();
port2.close();
let scratch;
// Reads and hashes the pieces of a HashJob, chunk by chunk, in a buffer of this worker's own.
function hash(job) {
  scratch = scratch || Buffer.allocUnsafe(chunkSize);
  const buf = scratch;
  const digests = [];
  let pos = 0, crc = 0, length = 0, lit = 0;
  const flush = () => {
    const data = buf.subarray(0, pos);
    digests.push(crypto.createHash('sha256').update(data).digest('hex'));
    crc = zlib.crc32(data, crc);
    length += pos;
    pos = 0;
  };
  const p = job.pieces;
  const files = job.files.split('\\0');
  for (let i = 0; i < p.length; ) {
    const type = p[i];
    if (type === 1) {
      const fd = fs.openSync(job.root + '/' + files[p[i + 1]], openFlags);
      try {
        let position = p[i + 2], left = p[i + 3];
        while (left > 0) {
          if (pos === chunkSize) flush();
          const n = fs.readSync(fd, buf, pos, Math.min(left, chunkSize - pos), position);
          if (n === 0) throw new Error('shrank');
          pos += n; position += n; left -= n;
        }
      } finally {
        fs.closeSync(fd);
      }
      i += 4;
    } else {
      let left = p[i + 1];
      while (left > 0) {
        if (pos === chunkSize) flush();
        const n = Math.min(left, chunkSize - pos);
        if (type === 0) buf.set(job.literal.subarray(lit, lit + n), pos), lit += n;
        else buf.fill(0, pos, pos + n);
        pos += n; left -= n;
      }
      i += 2;
    }
  }
  if (pos > 0) flush();
  return { digests, crc, length };
}
// Chunks to compress go before stretches to hash: the main thread waits for
// the chunks in order, while hashing runs ahead of need. Jobs are queued
// here and run one per macrotask, so that messages arriving meanwhile are
// queued (and sorted) before the next one starts.
const chunks = [];
const stretches = [];
let scheduled = false;
parentPort.on('message', (job) => {
  (job.kind === 'hash' ? stretches : chunks).push(job);
  if (!scheduled) { scheduled = true; setImmediate(runNext); }
});
function runNext() {
  scheduled = false;
  const job = chunks.length > 0 ? chunks.shift() : stretches.shift();
  if (job === undefined) return;
  if (chunks.length > 0 || stretches.length > 0) { scheduled = true; setImmediate(runNext); }
  if (job.kind === 'hash') {
    let result, error;
    try { result = hash(job); } catch (e) { error = String((e && e.message) || e); }
    parentPort.postMessage({ kind: 'hash', id: job.id, result, error });
    return;
  }
  try {
    const base = job.slot * slotSize;
    const input = mem.subarray(base + dictSize, base + dictSize + job.length);
    const digest = job.digest ? crypto.createHash('sha256').update(input).digest('hex') : undefined;
    const options = { level, chunkSize: outSize, finishFlush: Z_SYNC_FLUSH };
    if (job.hasDict) options.dictionary = mem.subarray(base, base + dictSize);
    const out = zlib.deflateRawSync(input, options);
    if (out.length > outSize) throw new Error('compressed chunk of ' + out.length + ' bytes exceeds ' + outSize);
    const length = out.length;
    mem.set(out, base + dictSize + chunkSize);
    // Only buffers that are surely zlib's own (pooled Buffers are at most 4 KiB) are detached.
    if (out.buffer.byteLength >= 65536) drop.postMessage(null, [out.buffer]);
    parentPort.postMessage({ kind: 'deflate', id: job.id, slot: job.slot, length, digest });
  } catch (e) {
    parentPort.postMessage({ kind: 'deflate', id: job.id, error: String((e && e.stack) || e) });
  }
}
`;

/**
 * Flags the workers open files with for {@link ParallelGzipWriter.hashStretch}:
 * as the packer's (a file replaced by a symlink or a fifo since it was listed
 * fails instead of being followed or blocking).
 */
const HASH_OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/**
 * Streams bytes into a single-member gzip, compressed on a pool of worker
 * threads. The producer fills {@link ParallelGzipWriter.buf} from
 * {@link ParallelGzipWriter.pos} on, directly (e.g. with `fs.readSync`) or
 * through {@link ParallelGzipWriter.write}; calls
 * {@link ParallelGzipWriter.next} when it is full; and finally
 * {@link ParallelGzipWriter.end}. At most `maxInFlight` chunks are pending,
 * in a fixed pool of shared memory, so memory stays flat.
 */
export class ParallelGzipWriter {
  /** The chunk being filled ({@link GZIP_CHUNK_SIZE} bytes): bytes `[0, pos)` are data, the rest is free. */
  buf: Buffer;
  /** How many bytes of {@link ParallelGzipWriter.buf} are filled. */
  pos = 0;

  private readonly sink: (bytes: Uint8Array, chunk?: ChunkInfo) => void;
  private readonly maxInFlight: number;
  private readonly memory: SharedArrayBuffer;
  private readonly workers: Worker[] = [];
  /** Per worker, the cost of the jobs it has not answered yet (see {@link HASH_COST_DIVISOR}). */
  private readonly outstanding: number[] = [];
  private readonly hashes = new Map<number, { resolve: (r: HashResult | undefined) => void; reject: (e: Error) => void; worker: number; cost: number }>();
  private nextHashId = 0;
  private readonly freeSlots: number[] = [];
  private readonly done = new Map<number, { slot: number; length: number; digest: string | undefined }>();
  private readonly pending = new Map<number, Pending>();
  private slot: number;
  private hasDict = false;
  private mode: Required<SegmentMode> = { digest: false, tag: 0 };
  private nextId = 0;
  private nextWrite = 0;
  private inFlight = 0;
  private crc = 0;
  private isize = 0;
  private failure: Error | undefined;
  private waiter: { resolve: () => void; reject: (e: Error) => void; until: number } | undefined;
  private closed = false;
  private ended = false;

  constructor(options: ParallelGzipOptions) {
    const level = options.level ?? 6;
    const threads = options.threads ?? 1;
    if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`gzip level must be an integer 1-9, got ${level}`);
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
    this.sink = options.sink;
    this.sink(gzipHeader(level)); // first, so a throwing sink leaves no workers behind
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 2 * threads + 2);
    // One slot per chunk in flight, plus the one being filled.
    const slots = this.maxInFlight + 1;
    this.memory = new SharedArrayBuffer(slots * SLOT_SIZE);
    for (let i = slots - 1; i >= 0; i--) this.freeSlots.push(i);
    this.slot = this.freeSlots.pop() as number;
    this.buf = this.dataView(this.slot);
    const workerData = {
      memory: this.memory,
      level,
      dictSize: DEFLATE_WINDOW_SIZE,
      chunkSize: GZIP_CHUNK_SIZE,
      outSize: OUT_SIZE,
      slotSize: SLOT_SIZE,
      openFlags: HASH_OPEN_FLAGS,
    };
    for (let i = 0; i < threads; i++) {
      // execArgv: [] so the CommonJS source runs as CommonJS even when the parent
      // was started with --input-type=module (workers inherit the parent's flags).
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData, stdout: false, stderr: false, execArgv: [] });
      worker.on('message', (reply: Reply) => this.onReply(i, reply));
      worker.on('error', (e: Error) => this.fail(new Error(`gzip worker failed: ${e.message}`, { cause: e })));
      worker.on('exit', (code) => {
        if (!this.closed) this.fail(new Error(`gzip worker exited unexpectedly with code ${code}`));
      });
      this.workers.push(worker);
      this.outstanding.push(0);
    }
  }

  /** Free bytes left in the current chunk. */
  get room(): number {
    return GZIP_CHUNK_SIZE - this.pos;
  }

  /**
   * Copies `bytes` into the stream. Returns undefined when they fitted in the
   * current chunk (the common case: no await needed), else a promise to await.
   */
  write(bytes: Uint8Array): Promise<void> | undefined {
    if (bytes.length <= this.room) {
      this.buf.set(bytes, this.pos);
      this.pos += bytes.length;
      return undefined;
    }
    return this.writeSlow(bytes);
  }

  /** Appends `n` zero bytes; returns a promise only when it had to move on to a new chunk. */
  zeros(n: number): Promise<void> | undefined {
    if (n <= this.room) {
      this.buf.fill(0, this.pos, this.pos + n);
      this.pos += n;
      return undefined;
    }
    return this.zerosSlow(n);
  }

  /**
   * Hands the full current chunk to a worker and starts a fresh one; resolves
   * once fewer than `maxInFlight` chunks are pending, and rejects if
   * compression or the sink failed.
   */
  async next(): Promise<void> {
    this.check();
    if (this.pos !== GZIP_CHUNK_SIZE) throw new Error('ParallelGzipWriter.next() called on a chunk that is not full');
    this.dispatch(true);
    if (this.inFlight >= this.maxInFlight) await this.waitUntil(this.maxInFlight - 1);
  }

  /**
   * Ends the current segment: hands its last, possibly partial, chunk to a
   * worker, and makes the next chunk start without a dictionary, as if the
   * stream began there. Returns a promise only when the in-flight limit was
   * reached. Nothing happens to a segment with no bytes.
   */
  endSegment(): Promise<void> | undefined {
    this.check();
    this.hasDict = false;
    if (this.pos === 0) return undefined;
    this.dispatch(false);
    return this.inFlight >= this.maxInFlight ? this.waitUntil(this.maxInFlight - 1) : undefined;
  }

  /**
   * Sets how the chunks of the segment that starts here are handled (see
   * {@link SegmentMode}). Only at a segment's start: right after
   * {@link ParallelGzipWriter.endSegment}, or before anything was written.
   */
  beginSegment(mode: SegmentMode = {}): void {
    this.check();
    if (this.pos !== 0 || this.hasDict) throw new Error('ParallelGzipWriter.beginSegment() called inside a segment');
    this.mode = { digest: mode.digest ?? false, tag: mode.tag ?? 0 };
  }

  /** Resolves once every chunk dispatched so far has been through the sink. */
  async drain(): Promise<void> {
    this.check();
    await this.waitUntil(0);
  }

  /**
   * Has a worker read and hash a stretch of the stream (see
   * {@link HashJob}); nothing is compressed or written. Resolves to
   * undefined when a file could not be read as described (it vanished,
   * shrank, was replaced...): the caller then writes the stretch the usual
   * way, which reports the problem. Jobs are queued at once, on the least
   * loaded worker, ahead of the chunks dispatched later.
   */
  hashStretch(job: HashJob): Promise<HashResult | undefined> {
    this.check();
    const id = this.nextHashId++;
    const w = this.pickWorker();
    const cost = Math.ceil(job.length / HASH_COST_DIVISOR);
    this.outstanding[w] = (this.outstanding[w] ?? 0) + cost;
    const { literal, root, files, pieces } = job;
    // Only arrays that own their whole buffer are transferred (never a slice of Buffer's shared pool).
    const transfer = [literal, pieces]
      .filter((a) => a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength)
      .map((a) => a.buffer as ArrayBuffer);
    (this.workers[w] as Worker).postMessage({ kind: 'hash', id, literal, root, files, pieces }, transfer);
    return new Promise((resolve, reject) => this.hashes.set(id, { resolve, reject, worker: w, cost }));
  }

  /**
   * Accounts for a segment of `length` uncompressed bytes whose CRC32 (as if
   * it started a stream) is `crc`, and whose compressed bytes the caller
   * writes through its own sink, in place of compressing it: call it with
   * nothing in flight ({@link ParallelGzipWriter.drain}), between segments.
   */
  appendSpliced(crc: number, length: number): void {
    this.check();
    if (this.pos !== 0 || this.hasDict || this.inFlight !== 0) throw new Error('ParallelGzipWriter.appendSpliced() called with data pending');
    this.crc = crc32Combine(this.crc, crc, length);
    this.isize += length;
  }

  /** Compresses what is left, ends the deflate stream, writes the trailer and stops the workers. */
  async end(): Promise<void> {
    this.check();
    if (this.ended) throw new Error('ParallelGzipWriter.end() called twice');
    this.ended = true;
    if (this.pos > 0) this.dispatch(false);
    try {
      await this.waitUntil(0);
      this.sink(FINAL_BLOCK);
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(this.crc >>> 0, 0);
      trailer.writeUInt32LE(this.isize % 2 ** 32, 4); // ISIZE: input length mod 2^32 (RFC 1952)
      this.sink(trailer);
    } finally {
      await this.close();
    }
  }

  /** Terminates the workers without finishing the stream (after an error); safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure ?? new Error('ParallelGzipWriter was closed'));
    this.rejectHashes(this.failure ?? new Error('ParallelGzipWriter was closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private dataView(slot: number): Buffer {
    return Buffer.from(this.memory, slot * SLOT_SIZE + DEFLATE_WINDOW_SIZE, GZIP_CHUNK_SIZE);
  }

  private async writeSlow(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) {
      if (this.room === 0) await this.next();
      const n = Math.min(this.room, bytes.length - off);
      this.buf.set(bytes.subarray(off, off + n), this.pos);
      this.pos += n;
      off += n;
    }
  }

  private async zerosSlow(n: number): Promise<void> {
    while (n > 0) {
      if (this.room === 0) await this.next();
      const k = Math.min(this.room, n);
      this.buf.fill(0, this.pos, this.pos + k);
      this.pos += k;
      n -= k;
    }
  }

  /**
   * Hands the current chunk to a worker and moves on to a fresh slot.
   * `continues`: the segment goes on, so the next chunk's dictionary is this
   * (full) chunk's last 32 KiB; otherwise the next chunk has none.
   */
  private dispatch(continues: boolean): void {
    const length = this.pos;
    const data = this.buf.subarray(0, length);
    // CRC32 over the uncompressed stream, incrementally: ~2.5-7 GB/s here, so
    // 25-70 ms of main-thread time for a 184 MB tar stream.
    this.crc = zlib.crc32(data, this.crc);
    this.isize += length;
    const { digest, tag } = this.mode;
    const job: Job = { kind: 'deflate', id: this.nextId++, slot: this.slot, length, hasDict: this.hasDict, digest };
    const w = this.pickWorker();
    this.pending.set(job.id, { tag, length, worker: w });
    this.outstanding[w] = (this.outstanding[w] ?? 0) + length;
    this.inFlight++;
    const next = this.freeSlots.pop();
    if (next === undefined) throw new Error('ParallelGzipWriter: no free slot (in-flight accounting is broken)');
    if (continues) {
      // The next chunk's dictionary is this chunk's last 32 KiB, copied
      // into the next slot now, before this slot can be recycled.
      new Uint8Array(this.memory, next * SLOT_SIZE, DEFLATE_WINDOW_SIZE).set(data.subarray(length - DEFLATE_WINDOW_SIZE));
    }
    this.slot = next;
    this.buf = this.dataView(next);
    this.pos = 0;
    this.hasDict = continues;
    (this.workers[w] as Worker).postMessage(job);
  }

  /**
   * The worker with the least work queued. Jobs are queued on the workers'
   * own ports right away, rather than handed out when a worker reports idle,
   * because replies are only seen when the main thread yields, and it yields
   * only when the in-flight limit is reached: a pull model would leave
   * workers idle while the main thread reads files.
   */
  private pickWorker(): number {
    const n = this.outstanding.length;
    let best = this.nextId % n; // ties rotate, so they don't always land on worker 0
    for (let k = 1; k < n; k++) {
      const i = (best + k) % n;
      if ((this.outstanding[i] as number) < (this.outstanding[best] as number)) best = i;
    }
    return best;
  }

  private onReply(worker: number, reply: Reply): void {
    if (this.closed || this.failure !== undefined) return;
    if (reply.kind === 'hash') {
      const h = this.hashes.get(reply.id);
      if (h === undefined) return;
      this.hashes.delete(reply.id);
      this.outstanding[worker] = (this.outstanding[worker] ?? h.cost) - h.cost;
      h.resolve(reply.result);
      return;
    }
    if ('error' in reply) {
      this.fail(new Error(`gzip worker failed on chunk ${reply.id}: ${reply.error}`));
      return;
    }
    const pending = this.pending.get(reply.id) as Pending;
    this.outstanding[worker] = (this.outstanding[worker] ?? pending.length) - pending.length;
    this.done.set(reply.id, { slot: reply.slot, length: reply.length, digest: reply.digest });
    try {
      for (let d = this.done.get(this.nextWrite); d !== undefined; d = this.done.get(this.nextWrite)) {
        const p = this.pending.get(this.nextWrite) as Pending;
        this.done.delete(this.nextWrite);
        this.pending.delete(this.nextWrite);
        this.nextWrite++;
        const outStart = d.slot * SLOT_SIZE + DEFLATE_WINDOW_SIZE + GZIP_CHUNK_SIZE;
        this.sink(new Uint8Array(this.memory, outStart, d.length), { tag: p.tag, length: p.length, digest: d.digest });
        this.freeSlots.push(d.slot);
        this.inFlight--;
      }
    } catch (e) {
      this.fail(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    if (this.waiter !== undefined && this.inFlight <= this.waiter.until) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve();
    }
  }

  private waitUntil(until: number): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.inFlight <= until) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject, until };
    });
  }

  private fail(e: Error): void {
    if (this.failure !== undefined) return;
    this.failure = e;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(e);
    this.rejectHashes(e);
  }

  private rejectHashes(e: Error): void {
    const hashes = [...this.hashes.values()];
    this.hashes.clear();
    for (const h of hashes) h.reject(e);
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new Error('ParallelGzipWriter is closed');
  }
}

/** Copies `data` into the writer's buffer, handing each full buffer on (`next()`), as the tar writer does. */
export async function writeAll(writer: ParallelGzipWriter, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) {
    if (writer.room === 0) await writer.next();
    const n = Math.min(writer.room, data.length - off);
    writer.buf.set(data.subarray(off, off + n), writer.pos);
    writer.pos += n;
    off += n;
  }
}

/**
 * Compresses a whole buffer with {@link ParallelGzipWriter}: for tests and
 * small inputs (the packer streams instead).
 */
export async function gzipParallel(data: Uint8Array, options: { level?: number; threads?: number } = {}): Promise<Buffer> {
  const parts: Buffer[] = [];
  const writer = new ParallelGzipWriter({ ...options, sink: (b) => parts.push(Buffer.from(b)) });
  try {
    await writeAll(writer, data);
    await writer.end();
  } finally {
    await writer.close();
  }
  return Buffer.concat(parts);
}

/**
 * The 10-byte gzip header (RFC 1952): no name and MTIME 0, so the bytes don't
 * depend on when they were made; XFL 2 for level 9 and 4 for level 1, as gzip
 * and pigz set it; OS 3 (Unix).
 */
function gzipHeader(level: number): Buffer {
  const xfl = level === 9 ? 2 : level === 1 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]);
}

/** CRC-32's polynomial, bit-reversed (the x^0 coefficient in the top bit), without its x^32 term. */
const CRC32_POLY = 0xedb88320;

/**
 * Multiplies two polynomials over GF(2) modulo the CRC-32 polynomial, in the
 * bit-reversed representation CRC-32 uses (bit 31 holds x^0, bit 0 x^31).
 */
function mulModPoly(a: number, b: number): number {
  let product = 0;
  let multiple = b; // b·x^k mod P, for k = 0, 1, 2...
  for (let bit = 0x80000000; bit !== 0; bit >>>= 1) {
    if ((a & bit) !== 0) product ^= multiple;
    // Times x: one step towards the low bits; what falls off is x^32, which is P's other terms.
    multiple = (multiple & 1) !== 0 ? (multiple >>> 1) ^ CRC32_POLY : multiple >>> 1;
  }
  return product >>> 0;
}

/**
 * The CRC-32 of A followed by B, from the CRC-32s of A and B and B's length
 * in bytes: appending n bytes multiplies A's remainder by x^(8n) (mod P), and
 * the rest is B's own CRC, the pre- and post-inversions cancelling out.
 * x^(8n) is found by squaring: O(log n) multiplications.
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  let power = 0x80000000; // x^0
  let square = 0x00800000; // x^8: one byte
  for (let n = lengthB; n > 0; n = Math.floor(n / 2)) {
    if (n % 2 === 1) power = mulModPoly(power, square);
    square = mulModPoly(square, square);
  }
  return (mulModPoly(power, crcA) ^ crcB) >>> 0;
}
