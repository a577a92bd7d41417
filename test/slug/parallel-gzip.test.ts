import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GZIP_CHUNK_SIZE, ParallelGzipWriter, gzipParallel } from '../../src/slug/parallel-gzip.js';

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
