/**
 * pigz-style parallel gzip: one gzip member whose deflate stream is made of
 * independently compressed 1 MiB chunks.
 *
 * Each chunk is compressed as raw deflate on a worker thread, primed with the
 * last 32 KiB of the previous chunk as its dictionary (so matches can reach
 * back across the cut, as they would in a single stream) and ended with
 * Z_SYNC_FLUSH, which closes the chunk on a byte boundary with a non-final
 * empty stored block; the last chunk ends with Z_FINISH. Concatenated in
 * order, after a gzip header and before a CRC32/ISIZE trailer computed here on
 * the main thread, the chunks form one valid gzip stream. Each chunk's output
 * depends only on its own bytes, the previous 32 KiB and the level, so the
 * result is byte-identical whatever the number of threads or their timing.
 */

import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';

/**
 * Size of the uncompressed chunks handed to workers. 1 MiB as in the
 * prototype measured in perf-baselines.md (and pigz's default 128 KiB × 8):
 * large enough that the per-chunk cost (a new deflate state, a 32 KiB
 * dictionary, a sync-flush marker of ~5 bytes, two postMessage round trips)
 * is well under 1% of the ~20 ms a worker spends compressing it at level 6,
 * small enough that 2 × threads + 2 chunks in flight stay a few MiB.
 * A multiple of 512, so tar blocks never straddle two chunks.
 */
export const GZIP_CHUNK_SIZE = 1 << 20;

/** Deflate's window: the most a match can reach back, hence the dictionary size. */
export const DEFLATE_WINDOW_SIZE = 32 * 1024;

/** Options of {@link ParallelGzipWriter}. */
export interface ParallelGzipOptions {
  /** Receives the gzip stream, in order, synchronously; an exception from it aborts the writer. */
  sink: (bytes: Uint8Array) => void;
  /** gzip level 1–9; default 6. */
  level?: number;
  /** Number of worker threads; default 1. */
  threads?: number;
  /** Chunks dispatched but not yet written before the producer has to wait; default 2 × threads + 2. */
  maxInFlight?: number;
}

/** A chunk sent to a worker. `data` is transferred, and sent back for reuse. */
interface Job {
  id: number;
  data: ArrayBuffer;
  length: number;
  dict: ArrayBuffer | null;
  last: boolean;
  level: number;
}

/** A worker's reply: the compressed bytes, and the input buffer returned. */
type Reply = { id: number; out: ArrayBuffer; data: ArrayBuffer } | { id: number; error: string };

/**
 * The worker, as CommonJS source run with `eval: true`: it has to work both
 * from compiled dist/*.js and when vitest loads this module as TypeScript,
 * and a file path next to this module exists in only one of those.
 * A zlib result may be a slice of a larger or pooled ArrayBuffer, which must
 * not be transferred (that would detach memory other Buffers use), so those
 * are copied; the usual case, a Buffer.concat of several output pieces, owns
 * its whole ArrayBuffer and is transferred without a copy.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const zlib = require('node:zlib');
const { Z_SYNC_FLUSH, Z_FINISH } = zlib.constants;
parentPort.on('message', (job) => {
  let out;
  try {
    const options = { level: job.level, finishFlush: job.last ? Z_FINISH : Z_SYNC_FLUSH };
    if (job.dict !== null) options.dictionary = new Uint8Array(job.dict);
    out = zlib.deflateRawSync(new Uint8Array(job.data, 0, job.length), options);
  } catch (e) {
    parentPort.postMessage({ id: job.id, error: String((e && e.stack) || e) });
    return;
  }
  let ab = out.buffer;
  if (out.byteOffset !== 0 || out.byteLength !== ab.byteLength) ab = new Uint8Array(out).buffer;
  parentPort.postMessage({ id: job.id, out: ab, data: job.data }, [ab, job.data]);
});
`;

/**
 * Streams bytes into a single-member gzip, compressed on a pool of worker
 * threads. The producer fills {@link ParallelGzipWriter.buf} directly (e.g.
 * with `fs.readSync`) or through {@link ParallelGzipWriter.write}, calls
 * {@link ParallelGzipWriter.next} when it is full, and finally
 * {@link ParallelGzipWriter.end}. At most `maxInFlight` chunks are held, so
 * memory stays flat however much goes through.
 */
export class ParallelGzipWriter {
  /** The chunk being filled: bytes `[0, pos)` are data, the rest is free. */
  buf: Buffer;
  /** How many bytes of {@link ParallelGzipWriter.buf} are filled. */
  pos = 0;

  private readonly sink: (bytes: Uint8Array) => void;
  private readonly level: number;
  private readonly maxInFlight: number;
  private readonly workers: Worker[] = [];
  private readonly outstanding: number[] = [];
  private readonly spare: ArrayBuffer[] = [];
  private readonly done = new Map<number, ArrayBuffer>();
  private nextId = 0;
  private nextWrite = 0;
  private inFlight = 0;
  private dict: ArrayBuffer | null = null;
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
    this.level = level;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 2 * threads + 2);
    this.buf = Buffer.allocUnsafeSlow(GZIP_CHUNK_SIZE);
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, stdout: false, stderr: false });
      worker.on('message', (reply: Reply) => this.onReply(i, reply));
      worker.on('error', (e: Error) => this.fail(new Error(`gzip worker failed: ${e.message}`, { cause: e })));
      worker.on('exit', (code) => {
        if (!this.closed) this.fail(new Error(`gzip worker exited unexpectedly with code ${code}`));
      });
      this.workers.push(worker);
      this.outstanding.push(0);
    }
    this.emit(gzipHeader(level));
  }

  /** Free bytes left in the current chunk. */
  get room(): number {
    return GZIP_CHUNK_SIZE - this.pos;
  }

  /**
   * Copies `bytes` into the stream. Returns undefined when they fitted in the
   * current chunk (the common case, no await needed), else a promise to await.
   */
  write(bytes: Uint8Array): Promise<void> | undefined {
    if (bytes.length <= this.room) {
      this.buf.set(bytes, this.pos);
      this.pos += bytes.length;
      return undefined;
    }
    return this.writeSlow(bytes);
  }

  /** Appends `n` zero bytes; returns a promise only when it had to move to a new chunk. */
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
    this.dispatch(false);
    if (this.inFlight >= this.maxInFlight) await this.waitUntil(this.maxInFlight - 1);
  }

  /** Compresses what is left, writes the trailer and stops the workers. */
  async end(): Promise<void> {
    this.check();
    if (this.ended) throw new Error('ParallelGzipWriter.end() called twice');
    this.ended = true;
    this.dispatch(true);
    try {
      await this.waitUntil(0);
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(this.crc >>> 0, 0);
      trailer.writeUInt32LE(this.isize >>> 0, 4); // ISIZE: length mod 2^32 (RFC 1952)
      this.emit(trailer);
    } finally {
      await this.close();
    }
  }

  /** Terminates the workers without finishing the stream (after an error); safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waiter?.reject(this.failure ?? new Error('ParallelGzipWriter was closed'));
    this.waiter = undefined;
    await Promise.all(this.workers.map((w) => w.terminate()));
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

  private dispatch(last: boolean): void {
    const length = this.pos;
    const data = this.buf.subarray(0, length);
    // CRC32 over the uncompressed stream, incrementally; ~7 GB/s here, so the
    // main thread spends ~25 ms on it for a 184 MB tar stream.
    this.crc = zlib.crc32(data, this.crc);
    this.isize += length;
    const dict = this.dict;
    // The next chunk's dictionary: a 32 KiB copy, since this chunk's buffer is transferred away.
    this.dict = last ? null : copyToArrayBuffer(data.subarray(Math.max(0, length - DEFLATE_WINDOW_SIZE)));
    const job: Job = { id: this.nextId++, data: this.buf.buffer as ArrayBuffer, length, dict, last, level: this.level };
    const w = this.pickWorker();
    this.outstanding[w] = (this.outstanding[w] ?? 0) + 1;
    this.inFlight++;
    const transfer: ArrayBuffer[] = dict === null ? [job.data] : [job.data, dict];
    (this.workers[w] as Worker).postMessage(job, transfer);
    const reuse = this.spare.pop();
    this.buf = reuse === undefined ? Buffer.allocUnsafeSlow(GZIP_CHUNK_SIZE) : Buffer.from(reuse);
    this.pos = 0;
  }

  /**
   * The worker with the fewest chunks queued. Jobs are queued on the workers'
   * own ports right away, rather than handed out when a worker reports idle,
   * because replies are only seen when the main thread yields, and it yields
   * only when the in-flight limit is reached: a pull model would leave
   * workers idle while the main thread reads files.
   */
  private pickWorker(): number {
    let best = 0;
    for (let i = 1; i < this.outstanding.length; i++) {
      if ((this.outstanding[i] as number) < (this.outstanding[best] as number)) best = i;
    }
    // Equal counts: rotate, so ties don't always land on worker 0.
    const n = this.outstanding.length;
    const start = this.nextId % n;
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      if (this.outstanding[i] === this.outstanding[best]) return i;
    }
    return best;
  }

  private onReply(worker: number, reply: Reply): void {
    if (this.closed || this.failure !== undefined) return;
    if ('error' in reply) {
      this.fail(new Error(`gzip worker failed on chunk ${reply.id}: ${reply.error}`));
      return;
    }
    this.outstanding[worker] = (this.outstanding[worker] ?? 1) - 1;
    if (this.spare.length < this.maxInFlight) this.spare.push(reply.data);
    this.done.set(reply.id, reply.out);
    try {
      for (let out = this.done.get(this.nextWrite); out !== undefined; out = this.done.get(this.nextWrite)) {
        this.done.delete(this.nextWrite);
        this.nextWrite++;
        this.inFlight--;
        this.emit(new Uint8Array(out));
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
    if (this.inFlight <= until) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject, until };
    });
  }

  private emit(bytes: Uint8Array): void {
    this.sink(bytes);
  }

  private fail(e: Error): void {
    if (this.failure !== undefined) return;
    this.failure = e;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(e);
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new Error('ParallelGzipWriter is closed');
  }
}

/**
 * Compresses a whole buffer with {@link ParallelGzipWriter}; for tests and
 * small inputs (the packer streams instead).
 */
export async function gzipParallel(data: Uint8Array, options: { level?: number; threads?: number } = {}): Promise<Buffer> {
  const parts: Buffer[] = [];
  const writer = new ParallelGzipWriter({ ...options, sink: (b) => parts.push(Buffer.from(b)) });
  try {
    let off = 0;
    while (off < data.length) {
      if (writer.room === 0) await writer.next();
      const n = Math.min(writer.room, data.length - off);
      writer.buf.set(data.subarray(off, off + n), writer.pos);
      writer.pos += n;
      off += n;
    }
    await writer.end();
  } finally {
    await writer.close();
  }
  return Buffer.concat(parts);
}

/**
 * The 10-byte gzip header (RFC 1952): no name or timestamp (MTIME 0, so the
 * bytes don't depend on when they were made), XFL 2 for level 9 and 4 for
 * level 1 as gzip and pigz set it, OS 3 (Unix).
 */
function gzipHeader(level: number): Buffer {
  const xfl = level === 9 ? 2 : level === 1 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]);
}

function copyToArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const ab = new ArrayBuffer(bytes.length);
  new Uint8Array(ab).set(bytes);
  return ab;
}
