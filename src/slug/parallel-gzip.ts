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
 *
 * Memory is a fixed pool of slots in one SharedArrayBuffer, allocated up
 * front: the producer writes (or `readSync`s) data straight into a slot, a
 * worker compresses it into the same slot's output area, and the main thread
 * writes that out and recycles the slot. Nothing per chunk is allocated on the
 * main thread, and each zlib result is freed as soon as it is copied (see
 * WORKER_SOURCE), so RSS stays flat however much data goes through.
 */

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
   * An exception from it aborts the writer.
   */
  sink: (bytes: Uint8Array) => void;
  /** gzip level 1–9; default 6. */
  level?: number;
  /** Number of worker threads; default 1. */
  threads?: number;
  /** Chunks dispatched but not yet written before the producer has to wait; default 2 × threads + 2. */
  maxInFlight?: number;
}

/** A chunk to compress: it lives in slot `slot` of the shared memory. */
interface Job {
  id: number;
  slot: number;
  length: number;
  hasDict: boolean;
  last: boolean;
}

/** A worker's reply: the compressed length, in the slot's output area. */
type Reply = { id: number; slot: number; length: number } | { id: number; error: string };

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
const { Z_SYNC_FLUSH, Z_FINISH } = zlib.constants;
const { memory, level, dictSize, chunkSize, outSize, slotSize } = workerData;
const mem = new Uint8Array(memory);
const { port1: drop, port2 } = new MessageChannel();
port2.close();
parentPort.on('message', (job) => {
  try {
    const base = job.slot * slotSize;
    const input = mem.subarray(base + dictSize, base + dictSize + job.length);
    const options = { level, chunkSize: outSize, finishFlush: job.last ? Z_FINISH : Z_SYNC_FLUSH };
    if (job.hasDict) options.dictionary = mem.subarray(base, base + dictSize);
    const out = zlib.deflateRawSync(input, options);
    if (out.length > outSize) throw new Error('compressed chunk of ' + out.length + ' bytes exceeds ' + outSize);
    const length = out.length;
    mem.set(out, base + dictSize + chunkSize);
    // Only buffers that are surely zlib's own (pooled Buffers are at most 4 KiB) are detached.
    if (out.buffer.byteLength >= 65536) drop.postMessage(null, [out.buffer]);
    parentPort.postMessage({ id: job.id, slot: job.slot, length });
  } catch (e) {
    parentPort.postMessage({ id: job.id, error: String((e && e.stack) || e) });
  }
});
`;

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

  private readonly sink: (bytes: Uint8Array) => void;
  private readonly maxInFlight: number;
  private readonly memory: SharedArrayBuffer;
  private readonly workers: Worker[] = [];
  private readonly outstanding: number[] = [];
  private readonly freeSlots: number[] = [];
  private readonly done = new Map<number, { slot: number; length: number }>();
  private slot: number;
  private hasDict = false;
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

  private dispatch(last: boolean): void {
    const length = this.pos;
    const data = this.buf.subarray(0, length);
    // CRC32 over the uncompressed stream, incrementally: ~7 GB/s here, so
    // ~25 ms of main-thread time for a 184 MB tar stream.
    this.crc = zlib.crc32(data, this.crc);
    this.isize += length;
    const job: Job = { id: this.nextId++, slot: this.slot, length, hasDict: this.hasDict, last };
    const w = this.pickWorker();
    this.outstanding[w] = (this.outstanding[w] ?? 0) + 1;
    this.inFlight++;
    if (!last) {
      // The next chunk's dictionary is this chunk's last 32 KiB, copied
      // into the next slot now, before this slot can be recycled.
      const next = this.freeSlots.pop();
      if (next === undefined) throw new Error('ParallelGzipWriter: no free slot (in-flight accounting is broken)');
      const dictStart = next * SLOT_SIZE;
      new Uint8Array(this.memory, dictStart, DEFLATE_WINDOW_SIZE).set(data.subarray(length - DEFLATE_WINDOW_SIZE));
      this.slot = next;
      this.buf = this.dataView(next);
      this.pos = 0;
      this.hasDict = true;
    }
    (this.workers[w] as Worker).postMessage(job);
  }

  /**
   * The worker with the fewest chunks queued. Jobs are queued on the workers'
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
    if ('error' in reply) {
      this.fail(new Error(`gzip worker failed on chunk ${reply.id}: ${reply.error}`));
      return;
    }
    this.outstanding[worker] = (this.outstanding[worker] ?? 1) - 1;
    this.done.set(reply.id, { slot: reply.slot, length: reply.length });
    try {
      for (let d = this.done.get(this.nextWrite); d !== undefined; d = this.done.get(this.nextWrite)) {
        this.done.delete(this.nextWrite);
        this.nextWrite++;
        const outStart = d.slot * SLOT_SIZE + DEFLATE_WINDOW_SIZE + GZIP_CHUNK_SIZE;
        this.sink(new Uint8Array(this.memory, outStart, d.length));
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
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new Error('ParallelGzipWriter is closed');
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
 * The 10-byte gzip header (RFC 1952): no name and MTIME 0, so the bytes don't
 * depend on when they were made; XFL 2 for level 9 and 4 for level 1, as gzip
 * and pigz set it; OS 3 (Unix).
 */
function gzipHeader(level: number): Buffer {
  const xfl = level === 9 ? 2 : level === 1 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]);
}
