import { describe, expect, it } from 'vitest';
import {
  TAR_BLOCK_SIZE,
  encodeHeader,
  encodeHeaderInto,
  encodePaxRecords,
  headerChecksum,
  tarHeaderSize,
  tarPadding,
  type TarHeaderFields,
} from '../../src/slug/tar-writer.js';

const MTIME = 1_700_000_000;

/** A NUL-terminated string field. */
function str(block: Buffer, off: number, len: number): string {
  const field = block.subarray(off, off + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

function octal(block: Buffer, off: number, len: number): number {
  return parseInt(str(block, off, len), 8);
}

/** The PAX records of an 'x' entry, checking each record's self-including length. */
function paxRecords(entry: Buffer): Record<string, string> {
  expect(String.fromCharCode(entry[156] as number)).toBe('x');
  const size = octal(entry, 124, 12);
  let data = entry.subarray(TAR_BLOCK_SIZE, TAR_BLOCK_SIZE + size);
  const out: Record<string, string> = {};
  while (data.length > 0) {
    const space = data.indexOf(0x20);
    const len = Number(data.subarray(0, space).toString('latin1'));
    const record = data.subarray(0, len).toString('utf8');
    expect(record.endsWith('\n')).toBe(true);
    const [key, ...value] = record.slice(space + 1, -1).split('=');
    out[key as string] = value.join('=');
    data = data.subarray(len);
  }
  return out;
}

const file = (path: string, extra: Partial<TarHeaderFields> = {}): TarHeaderFields => ({ path, type: 'file', mode: 0o644, size: 1234, mtime: MTIME, ...extra });

describe('encodeHeader', () => {
  it('writes a ustar header with the fields GNU tar reads and a valid checksum', () => {
    const h = encodeHeader(file('./app/index.js', { mode: 0o100755 }));
    expect(h.length).toBe(512);
    expect(str(h, 0, 100)).toBe('./app/index.js');
    expect(h.subarray(100, 108).toString('latin1')).toBe('0000755\0'); // type bits dropped, permission bits kept
    expect(h.subarray(108, 116).toString('latin1')).toBe('0000000\0');
    expect(h.subarray(116, 124).toString('latin1')).toBe('0000000\0');
    expect(octal(h, 124, 12)).toBe(1234);
    expect(octal(h, 136, 12)).toBe(MTIME);
    expect(String.fromCharCode(h[156] as number)).toBe('0');
    expect(h.subarray(257, 265).toString('latin1')).toBe('ustar\u000000');
    expect(h.subarray(265, 329).every((b) => b === 0)).toBe(true); // uname, gname empty
    expect(h.subarray(154, 156).toString('latin1')).toBe('\0 ');
    expect(octal(h, 148, 7)).toBe(headerChecksum(h));
  });

  it('marks directories and symlinks with their type flags and keeps a link target as is', () => {
    const d = encodeHeader({ path: './app/lib/', type: 'directory', mode: 0o755, size: 0, mtime: MTIME });
    expect(String.fromCharCode(d[156] as number)).toBe('5');
    const l = encodeHeader({ path: './app/link', type: 'symlink', mode: 0o777, size: 0, mtime: MTIME, linkpath: '../x/./y' });
    expect(String.fromCharCode(l[156] as number)).toBe('2');
    expect(str(l, 157, 100)).toBe('../x/./y');
  });

  it('splits a 150-byte path into prefix and name without a PAX header', () => {
    const path = `./app/${'a'.repeat(70)}/${'b'.repeat(73)}`;
    expect(path.length).toBe(150);
    const h = encodeHeader(file(path));
    expect(h.length).toBe(512);
    expect(str(h, 345, 155)).toBe(`./app/${'a'.repeat(70)}`);
    expect(str(h, 0, 100)).toBe('b'.repeat(73));
  });

  it('never splits at a directory path\'s trailing slash', () => {
    const dir = (path: string): TarHeaderFields => ({ path, type: 'directory', mode: 0o755, size: 0, mtime: MTIME });
    const fits = encodeHeader(dir(`./app/${'c'.repeat(99)}/`));
    expect(fits.length).toBe(512);
    expect(str(fits, 345, 155)).toBe('./app');
    expect(str(fits, 0, 100)).toBe(`${'c'.repeat(99)}/`);
    // One more byte and the name part is 101 bytes: PAX.
    expect(paxRecords(encodeHeader(dir(`./app/${'c'.repeat(100)}/`)))).toEqual({ path: `./app/${'c'.repeat(100)}/` });
    // The only '/' is the trailing one: splitting there would leave an empty name.
    expect(paxRecords(encodeHeader(dir(`${'x'.repeat(150)}/`)))).toEqual({ path: `${'x'.repeat(150)}/` });
  });

  it('puts a path no split fits into a PAX path record before the ustar header', () => {
    const path = `./app/${'n'.repeat(120)}.js`;
    const h = encodeHeader(file(path));
    expect(h.length).toBe(3 * 512);
    expect(paxRecords(h)).toEqual({ path });
    expect(octal(h, 148, 7)).toBe(headerChecksum(h));
    const main = h.subarray(h.length - 512);
    expect(String.fromCharCode(main[156] as number)).toBe('0');
    expect(octal(main, 148, 7)).toBe(headerChecksum(main));
  });

  it('puts a non-ASCII path into a PAX record as UTF-8', () => {
    const path = './app/日本語/héllo.txt';
    const h = encodeHeader(file(path));
    expect(paxRecords(h)).toEqual({ path });
    expect(str(h.subarray(h.length - 512), 0, 100)).toMatch(/^[\x20-\x7e]+$/); // the fallback name is ASCII
  });

  it('puts a long symlink target into a PAX linkpath record', () => {
    const linkpath = `../${'t'.repeat(150)}`;
    const h = encodeHeader({ path: './app/l', type: 'symlink', mode: 0o777, size: 0, mtime: MTIME, linkpath });
    expect(paxRecords(h)).toEqual({ linkpath });
  });

  it('puts a size of 8 GiB or more into a PAX size record', () => {
    expect(encodeHeader(file('./app/f', { size: 0o77777777777 })).length).toBe(512);
    const size = 8 * 1024 ** 3 + 5;
    const h = encodeHeader(file('./app/f', { size }));
    expect(paxRecords(h)).toEqual({ size: String(size) });
    expect(octal(h.subarray(h.length - 512), 124, 12)).toBe(0);
  });

  it('rejects an mtime outside the 11-digit octal range and a negative size', () => {
    expect(() => encodeHeader(file('./app/f', { mtime: -1 }))).toThrow(RangeError);
    expect(() => encodeHeader(file('./app/f', { mtime: 0o100000000000 }))).toThrow(RangeError);
    expect(() => encodeHeader(file('./app/f', { size: -1 }))).toThrow(RangeError);
  });
});

describe('encodeHeaderInto', () => {
  it('writes the same block as encodeHeader at an offset, and declines what needs PAX without writing', () => {
    const target = Buffer.alloc(2048, 0xaa);
    expect(encodeHeaderInto(target, 1024, file('./app/a.js'))).toBe(true);
    expect(target.subarray(1024, 1536).equals(encodeHeader(file('./app/a.js')))).toBe(true);
    expect(target.subarray(0, 1024).every((b) => b === 0xaa)).toBe(true);
    const before = Buffer.from(target);
    expect(encodeHeaderInto(target, 0, file('./app/ü'))).toBe(false);
    expect(target.equals(before)).toBe(true);
  });
});

describe('tarHeaderSize', () => {
  it('is the length encodeHeader gives: 512 for plain ustar, more with a PAX header', () => {
    const cases: TarHeaderFields[] = [
      file('./app/a.js'),
      file(`./app/${'d'.repeat(60)}/${'e'.repeat(50)}/f.txt`),
      file(`./app/${'n'.repeat(120)}.txt`),
      file('./app/héllo-🚀.txt'),
      file('./app/l', { type: 'symlink', size: 0, linkpath: `../${'t'.repeat(120)}` }),
      file('./app/l', { type: 'symlink', size: 0, linkpath: '../a.txt' }),
      file('./app/huge', { size: 2 ** 33 }),
      file('./app/dir/', { type: 'directory', size: 0 }),
    ];
    for (const f of cases) expect(tarHeaderSize(f)).toBe(encodeHeader(f).length);
    expect(tarHeaderSize(cases[0] as TarHeaderFields)).toBe(512);
    expect(tarHeaderSize(cases[2] as TarHeaderFields)).toBeGreaterThan(512);
  });
});

describe('encodePaxRecords', () => {
  it('gives every record a length that counts its own digits, across digit-count boundaries', () => {
    for (let n = 0; n < 1100; n++) {
      const rec = encodePaxRecords([['path', 'x'.repeat(n)]]);
      const len = Number(rec.toString('latin1').split(' ')[0]);
      expect(len).toBe(rec.length);
    }
    // A 98-byte body needs 3 digits: "101 ".
    expect(encodePaxRecords([['k', 'v'.repeat(94)]]).toString('latin1').startsWith('101 k=')).toBe(true);
  });
});

describe('tarPadding', () => {
  it('pads data to whole 512-byte blocks', () => {
    expect([0, 1, 511, 512, 513, 1024].map(tarPadding)).toEqual([0, 511, 1, 0, 511, 0]);
  });
});
