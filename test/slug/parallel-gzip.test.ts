import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GZIP_CHUNK_SIZE, ParallelGzipWriter, crc32Combine, gzipParallel, writeAll, type ChunkInfo, type SegmentMode } from '../../src/slug/parallel-gzip.js';

/** Compressible, non-repeating text: what slugs are mostly made of. */
function text(size: number): Buffer {
  const words = ['const', 'require', 'module', 'exports', 'function', 'return', 'value', 'options', 'callback', 'this'];
  const parts: string[] = [];
  let n = 0;
  let seed = 7;
  while (n < size) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const w = `${words[seed % words.length]}${seed % 97} `;
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

function activePorts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
}

describe('gzipParallel', () => {
  const sizes = [0, 1, 1000, GZIP_CHUNK_SIZE - 1, GZIP_CHUNK_SIZE, GZIP_CHUNK_SIZE + 1, 3 * GZIP_CHUNK_SIZE + 12_345];

  it.each(sizes)('round-trips %i bytes of text and of random data through zlib.gunzipSync', async (size) => {
    for (const data of [text(size), crypto.randomBytes(size)]) {
      const gz = await gzipParallel(data, { threads: 2 });
      expect(zlib.gunzipSync(gz).equals(data)).toBe(true);
    }
  });

  it('writes one gzip member: MTIME 0, XFL by level, OS 3, and a CRC32/ISIZE trailer', async () => {
    const data = text(2 * GZIP_CHUNK_SIZE + 100);
    for (const [level, xfl] of [[1, 4], [6, 0], [9, 2]] as const) {
      const gz = await gzipParallel(data, { level, threads: 2 });
      expect([...gz.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]);
      expect(gz.readUInt32LE(gz.length - 8)).toBe(zlib.crc32(data));
      expect(gz.readUInt32LE(gz.length - 4)).toBe(data.length);
      // A single member: raw inflate of the body consumes it all and ends exactly at the trailer.
      expect(zlib.inflateRawSync(gz.subarray(10, gz.length - 8)).equals(data)).toBe(true);
    }
  });

  it('gives identical bytes whatever the thread count', async () => {
    const data = Buffer.concat([text(2_500_000), crypto.randomBytes(1_500_000), text(1_000_000)]);
    const outs = await Promise.all([1, 2, 4].map((threads) => gzipParallel(data, { threads })));
    expect(outs[1]?.equals(outs[0] as Buffer)).toBe(true);
    expect(outs[2]?.equals(outs[0] as Buffer)).toBe(true);
  });

  it('compresses text about as well as a single zlib stream, thanks to the 32 KiB dictionaries', async () => {
    const data = text(4 * GZIP_CHUNK_SIZE);
    const parallel = await gzipParallel(data, { level: 6, threads: 2 });
    const single = zlib.gzipSync(data, { level: 6 });
    expect(parallel.length / single.length).toBeLessThan(1.005);
  });

  it('passes gzip -t', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-pgz-')), 'x.gz');
    try {
      fs.writeFileSync(file, await gzipParallel(text(3 * GZIP_CHUNK_SIZE + 7), { threads: 2 }));
      const r = spawnSync('gzip', ['-t', file], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });

  it('rejects a level outside 1-9 and a thread count below 1', () => {
    expect(() => new ParallelGzipWriter({ sink: () => {}, level: 0 })).toThrow(RangeError);
    expect(() => new ParallelGzipWriter({ sink: () => {}, level: 10 })).toThrow(RangeError);
    expect(() => new ParallelGzipWriter({ sink: () => {}, threads: 0 })).toThrow(RangeError);
  });
});

describe('ParallelGzipWriter', () => {
  it('rejects with the sink\'s error and stops its workers', async () => {
    const before = activePorts();
    let calls = 0;
    const writer = new ParallelGzipWriter({
      threads: 2,
      sink: () => {
        if (++calls === 2) throw new Error('disk full');
      },
    });
    const data = text(GZIP_CHUNK_SIZE);
    const run = async (): Promise<void> => {
      for (let i = 0; i < 20; i++) {
        writer.buf.set(data);
        writer.pos = GZIP_CHUNK_SIZE;
        await writer.next();
      }
      await writer.end();
    };
    await expect(run()).rejects.toThrow('disk full');
    await writer.close();
    expect(activePorts()).toBe(before);
  });

  it('keeps at most maxInFlight chunks pending', async () => {
    let written = 0;
    const writer = new ParallelGzipWriter({ threads: 1, maxInFlight: 2, sink: (b) => void (written += b.length) });
    const data = text(GZIP_CHUNK_SIZE);
    try {
      for (let i = 0; i < 6; i++) {
        writer.buf.set(data);
        writer.pos = GZIP_CHUNK_SIZE;
        await writer.next();
        // After next() resolves, fewer than maxInFlight chunks are pending,
        // so all but the last one or two dispatched have been written.
        expect((writer as unknown as { inFlight: number }).inFlight).toBeLessThan(2);
      }
      await writer.end();
    } finally {
      await writer.close();
    }
    expect(written).toBeGreaterThan(18);
  });
});

/** Writes `segments` through a writer, each as a segment with the given mode; returns the gzip bytes and what the sink saw per chunk. */
async function writeSegments(segments: Array<{ data: Buffer; mode?: SegmentMode }>, threads = 2): Promise<{ gz: Buffer; parts: Array<{ bytes: Buffer; chunk?: ChunkInfo }> }> {
  const parts: Array<{ bytes: Buffer; chunk?: ChunkInfo }> = [];
  const writer = new ParallelGzipWriter({ threads, sink: (b, chunk) => parts.push({ bytes: Buffer.from(b), ...(chunk ? { chunk } : {}) }) });
  try {
    for (const { data, mode } of segments) {
      writer.beginSegment(mode);
      await writeAll(writer, data);
      await writer.endSegment();
    }
    await writer.end();
  } finally {
    await writer.close();
  }
  return { gz: Buffer.concat(parts.map((p) => p.bytes)), parts };
}

describe('ParallelGzipWriter segments', () => {
  const a = text(1_300_000);
  const b = Buffer.concat([text(2 * GZIP_CHUNK_SIZE + 5000).reverse(), crypto.randomBytes(70_000)]);
  const c = crypto.randomBytes(40_000);

  it('compresses each segment as if the stream started there: its bytes do not depend on what came before', async () => {
    const ab = await writeSegments([{ data: a, mode: { tag: 1 } }, { data: b, mode: { tag: 2 } }]);
    const cb = await writeSegments([{ data: c, mode: { tag: 1 } }, { data: b, mode: { tag: 2 } }]);
    const only = (r: typeof ab, tag: number) => Buffer.concat(r.parts.filter((p) => p.chunk?.tag === tag).map((p) => p.bytes));
    expect(only(ab, 2).equals(only(cb, 2))).toBe(true);
    expect(only(ab, 2).length).toBeGreaterThan(0);
    // Still one valid gzip member of the whole stream.
    expect(zlib.gunzipSync(ab.gz).equals(Buffer.concat([a, b]))).toBe(true);
    expect(zlib.gunzipSync(cb.gz).equals(Buffer.concat([c, b]))).toBe(true);
    // A segment's bytes are a raw deflate stream of their own (ending with a sync flush): add a final block and they inflate alone.
    expect(zlib.inflateRawSync(Buffer.concat([only(ab, 2), Buffer.from([3, 0])])).equals(b)).toBe(true);
  });

  it('gives identical bytes whatever the thread count, and ends with the empty final block before the trailer', async () => {
    const outs = await Promise.all([1, 2, 3].map((t) => writeSegments([{ data: a }, { data: c }, { data: b }], t)));
    expect(outs[1]?.gz.equals(outs[0]?.gz as Buffer)).toBe(true);
    expect(outs[2]?.gz.equals(outs[0]?.gz as Buffer)).toBe(true);
    const gz = outs[0]?.gz as Buffer;
    expect([...gz.subarray(gz.length - 10, gz.length - 8)]).toEqual([0x03, 0x00]);
  });

  it('splices a segment compressed by another writer in place of compressing it, with appendSpliced() keeping the CRC right', async () => {
    const stored = await writeSegments([{ data: c, mode: { tag: 1 } }, { data: b, mode: { tag: 2 } }]);
    const bBytes = Buffer.concat(stored.parts.filter((p) => p.chunk?.tag === 2).map((p) => p.bytes));
    const parts: Buffer[] = [];
    const writer = new ParallelGzipWriter({ threads: 2, sink: (bytes) => parts.push(Buffer.from(bytes)) });
    try {
      writer.beginSegment();
      writer.buf.set(a.subarray(0, 1000));
      writer.pos = 1000;
      await writer.endSegment();
      await writer.drain();
      parts.push(bBytes); // what the packer writes through its own sink
      writer.appendSpliced(zlib.crc32(b), b.length);
      writer.beginSegment();
      writer.buf.set(c);
      writer.pos = c.length;
      await writer.end();
    } finally {
      await writer.close();
    }
    const plain = await writeSegments([{ data: a.subarray(0, 1000) }, { data: b }, { data: c }]);
    expect(Buffer.concat(parts).equals(plain.gz)).toBe(true);
    expect(zlib.gunzipSync(Buffer.concat(parts)).equals(Buffer.concat([a.subarray(0, 1000), b, c]))).toBe(true);
  });

  it('hashes a stretch of literal bytes, file ranges and zeros on a worker: SHA-256 per 1 MiB chunk and the CRC32', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-pgz-hash-'));
    const writer = new ParallelGzipWriter({ threads: 2, sink: () => {} });
    try {
      const file = path.join(dir, 'f');
      const data = text(3 * GZIP_CHUNK_SIZE);
      fs.writeFileSync(file, data);
      const literal = Buffer.from('x'.repeat(1500));
      const pieces = [0, 1000, 1, 0, 5, 2 * GZIP_CHUNK_SIZE + 77, 2, 300, 0, 500, 1, 1, 0, 10];
      const job = () => ({ literal: new Uint8Array(literal), root: dir, files: 'f\0f', pieces: Float64Array.from(pieces), length: 1000 + 2 * GZIP_CHUNK_SIZE + 77 + 300 + 500 + 10 });
      const want = Buffer.concat([literal.subarray(0, 1000), data.subarray(5, 5 + 2 * GZIP_CHUNK_SIZE + 77), Buffer.alloc(300), literal.subarray(1000), data.subarray(0, 10)]);
      const r = await writer.hashStretch(job());
      const chunks = [0, 1, 2].map((k) => want.subarray(k * GZIP_CHUNK_SIZE, (k + 1) * GZIP_CHUNK_SIZE));
      expect(r).toEqual({ digests: chunks.map((ch) => crypto.createHash('sha256').update(ch).digest('hex')), crc: zlib.crc32(want), length: want.length });
      // A pooled Buffer's bytes are copied, not transferred (which would detach the pool).
      const pooled = Buffer.from('x'.repeat(1500));
      expect(await writer.hashStretch({ ...job(), literal: pooled })).toEqual(r);
      expect(pooled.length).toBe(1500);
      // A file that is missing, or shorter than the range: undefined, and the writer goes on.
      expect(await writer.hashStretch({ ...job(), files: 'missing\0f' })).toBeUndefined();
      expect(await writer.hashStretch({ literal: new Uint8Array(0), root: dir, files: 'f', pieces: Float64Array.of(1, 0, data.length - 10, 20), length: 20 })).toBeUndefined();
      writer.beginSegment();
      writer.buf.set(literal);
      writer.pos = literal.length;
      await writer.end();
    } finally {
      await writer.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('combines CRC32s as zlib computes them over the concatenation', () => {
    for (const [la, lb] of [[0, 0], [5, 0], [0, 9], [1000, 3], [77_777, 1 << 20]] as const) {
      const x = crypto.randomBytes(la);
      const y = crypto.randomBytes(lb);
      expect(crc32Combine(zlib.crc32(x), zlib.crc32(y), lb)).toBe(zlib.crc32(Buffer.concat([x, y])));
    }
  });

  it('refuses beginSegment() and appendSpliced() in the middle of a segment', async () => {
    const writer = new ParallelGzipWriter({ threads: 1, sink: () => {} });
    try {
      writer.beginSegment();
      writer.buf.set(a.subarray(0, 100));
      writer.pos = 100;
      expect(() => writer.beginSegment()).toThrow(/inside a segment/);
      expect(() => writer.appendSpliced(0, 0)).toThrow(/pending/);
      await writer.end();
    } finally {
      await writer.close();
    }
  });
});
