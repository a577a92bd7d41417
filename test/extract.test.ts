import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { craftTar, craftZip, tarHeader, type CraftEntry } from './support/craft.js';
import { TarReader, type TarEntryHeader } from '../src/archive/tar-reader.js';
import { SlugcError } from '../src/errors.js';
import { detectArchiveFormat, extractArchive, extractTar } from '../src/archive/extract.js';
import { cleanup, tempDir } from 'slugc/testing';

afterEach(cleanup);

function run(cmd: string, args: string[], cwd?: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
}

/**
 * A tree with what runtimes ship: executables, private and read-only files,
 * empty and nested-empty dirs, a sticky dir, relative symlinks to a file and
 * to a dir, and a hard link.
 */
function makeTree(): string {
  const root = path.join(tempDir('slugc-extract-src-'), 'pkg');
  const file = (rel: string, content: string, mode: number) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
    fs.chmodSync(path.join(root, rel), mode);
  };
  file('bin/run', '#!/bin/sh\necho hi\n', 0o755);
  file('lib/data.txt', 'data\n', 0o644);
  file('lib/deep/er/x.json', '{}', 0o644);
  file('secret', 'private', 0o600);
  file('readonly', 'ro', 0o444);
  file('big.bin', 'z'.repeat(300_000), 0o644);
  fs.mkdirSync(path.join(root, 'empty'));
  fs.mkdirSync(path.join(root, 'emptier/nested'), { recursive: true });
  fs.mkdirSync(path.join(root, 'shared'));
  fs.chmodSync(path.join(root, 'shared'), 0o1777);
  fs.symlinkSync('lib/data.txt', path.join(root, 'link'));
  fs.symlinkSync('../lib', path.join(root, 'bin/libdir'));
  fs.linkSync(path.join(root, 'lib/data.txt'), path.join(root, 'hard'));
  return root;
}

/** One line per path: type, mode (& 0o7777), and content or link target. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(dir, r);
      const st = fs.lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.push(`${r} link ${fs.readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${r} dir ${mode}`);
        walk(r);
      } else out.push(`${r} file ${mode} ${fs.readFileSync(p).length}:${fs.readFileSync(p, 'utf8').slice(0, 20)}`);
    }
  };
  walk('');
  return out;
}

/** The tree as a zip: what a zip tool run on it would store (made by "unix", modes in the external attributes). */
function zipOf(root: string): Buffer {
  const entries: CraftEntry[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(root, r));
      if (st.isSymbolicLink()) entries.push({ path: r, type: 'symlink', linkpath: fs.readlinkSync(path.join(root, r)) });
      else if (st.isDirectory()) {
        entries.push({ path: `${r}/`, type: 'dir', mode: st.mode & 0o7777 });
        walk(r);
      } else entries.push({ path: r, content: fs.readFileSync(path.join(root, r)), mode: st.mode & 0o7777 });
    }
  };
  walk('');
  return craftZip(entries, { deflate: true });
}

async function failure(p: Promise<unknown>): Promise<SlugcError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SlugcError);
  return err as SlugcError;
}

describe('extractArchive round trips', () => {
  it.each([
    ['tar', ['-cf']],
    ['tar.gz', ['-czf']],
    ['tar.xz', ['-cJf']],
    ['tar.zst', ['--zstd', '-cf']],
    ['tar.gz', ['--format=posix', '-czf']],
  ])('extracts a %s made by GNU tar (%j) with contents, modes, symlinks, hard links and empty dirs', async (format, flags) => {
    const src = makeTree();
    const file = path.join(path.dirname(src), `pkg.${format}`);
    run('tar', [...flags, file, '-C', path.dirname(src), 'pkg']);
    expect(detectArchiveFormat(file)).toBe(format);
    const dest = path.join(tempDir(), 'out');
    const r = await extractArchive(file, dest, { stripComponents: 1 });
    expect(snapshot(dest)).toEqual(snapshot(src));
    expect(fs.statSync(path.join(dest, 'hard')).ino).toBe(fs.statSync(path.join(dest, 'lib/data.txt')).ino);
    expect(r.bytes).toBe(fs.statSync(path.join(src, 'big.bin')).size + 'data\n'.length + '#!/bin/sh\necho hi\n'.length + 2 + 'private'.length + 'ro'.length);
  });

  it('extracts a zip with unix modes, symlinks and empty dirs', async () => {
    const src = makeTree();
    fs.unlinkSync(path.join(src, 'hard')); // zips have no hard links
    const file = path.join(tempDir(), 'pkg.zip');
    fs.writeFileSync(file, zipOf(src));
    expect(detectArchiveFormat(file)).toBe('zip');
    const dest = path.join(tempDir(), 'out');
    await extractArchive(file, dest);
    expect(snapshot(dest)).toEqual(snapshot(src));
  });

  it('reads a crafted zip the same way unzip does (the zip helper writes real zips)', async () => {
    const src = makeTree();
    fs.unlinkSync(path.join(src, 'hard'));
    fs.chmodSync(path.join(src, 'shared'), 0o777); // unzip drops the sticky bit (without -K); we keep it
    const file = path.join(tempDir(), 'pkg.zip');
    fs.writeFileSync(file, zipOf(src));
    const byUnzip = tempDir();
    run('unzip', ['-q', file, '-d', byUnzip]);
    const ours = path.join(tempDir(), 'out');
    await extractArchive(file, ours);
    expect(snapshot(ours)).toEqual(snapshot(byUnzip));
  });

  it('extracts names over 100 bytes from GNU long-name records and PAX headers', async () => {
    const src = path.join(tempDir(), 'pkg');
    const long = `${'d'.repeat(120)}/${'f'.repeat(150)}.txt`;
    fs.mkdirSync(path.join(src, path.dirname(long)), { recursive: true });
    fs.writeFileSync(path.join(src, long), 'long');
    fs.symlinkSync(long, path.join(src, 'to-long'));
    for (const fmt of ['gnu', 'posix']) {
      const file = path.join(path.dirname(src), `${fmt}.tar`);
      run('tar', [`--format=${fmt}`, '-cf', file, '-C', src, '.']);
      const dest = path.join(tempDir(), 'out');
      await extractArchive(file, dest);
      expect(fs.readFileSync(path.join(dest, long), 'utf8')).toBe('long');
      expect(fs.readlinkSync(path.join(dest, 'to-long'))).toBe(long);
    }
  });

  it('reports how many entries and file bytes it wrote', async () => {
    const file = path.join(tempDir(), 'a.tar');
    fs.writeFileSync(file, craftTar([{ path: 'd/', type: 'dir' }, { path: 'd/a', content: 'abc' }, { path: 'd/b', content: '' }, { path: 'l', type: 'symlink', linkpath: 'd/a' }]));
    expect(await extractArchive(file, path.join(tempDir(), 'out'))).toEqual({ entries: 4, bytes: 3 });
  });

  it('extracts into a dest dir that already exists, keeping what is there', async () => {
    const dest = tempDir();
    fs.writeFileSync(path.join(dest, 'before'), 'x');
    const file = path.join(tempDir(), 'a.tar');
    fs.writeFileSync(file, craftTar([{ path: 'after', content: 'y' }]));
    await extractArchive(file, dest);
    expect(fs.readdirSync(dest).sort()).toEqual(['after', 'before']);
  });
});

describe('modes', () => {
  it('drops setuid and setgid bits but keeps permissions and the sticky bit', async () => {
    const file = path.join(tempDir(), 'a.tar');
    fs.writeFileSync(
      file,
      craftTar([
        { path: 'suid', content: '#!/bin/sh\n', mode: 0o4755 },
        { path: 'sgid', content: '#!/bin/sh\n', mode: 0o2711 },
        { path: 'sgid-dir/', type: 'dir', mode: 0o2775 },
        { path: 'tmp/', type: 'dir', mode: 0o1777 },
        { path: 'odd', content: '', mode: 0o640 },
      ]),
    );
    const dest = path.join(tempDir(), 'out');
    await extractArchive(file, dest);
    const mode = (rel: string) => fs.statSync(path.join(dest, rel)).mode & 0o7777;
    expect(mode('suid')).toBe(0o755);
    expect(mode('sgid')).toBe(0o711);
    expect(mode('sgid-dir')).toBe(0o775);
    expect(mode('tmp')).toBe(0o1777);
    expect(mode('odd')).toBe(0o640);
  });

  it('fills a read-only directory before making it read-only', async () => {
    const file = path.join(tempDir(), 'a.tar');
    fs.writeFileSync(file, craftTar([{ path: 'ro/', type: 'dir', mode: 0o555 }, { path: 'ro/inner/', type: 'dir', mode: 0o500 }, { path: 'ro/inner/f', content: 'x' }]));
    const dest = path.join(tempDir(), 'out');
    await extractArchive(file, dest);
    expect(fs.statSync(path.join(dest, 'ro')).mode & 0o777).toBe(0o555);
    expect(fs.statSync(path.join(dest, 'ro/inner')).mode & 0o777).toBe(0o500);
    expect(fs.readFileSync(path.join(dest, 'ro/inner/f'), 'utf8')).toBe('x');
    fs.chmodSync(path.join(dest, 'ro/inner'), 0o755); // so the temp dir can be removed without root
    fs.chmodSync(path.join(dest, 'ro'), 0o755);
  });
});

describe('stripComponents and include', () => {
  // Not 2: that moves "pkg/bin/libdir -> ../lib" to the top, where it points outside (see the symlink-escape tests).
  it.each([1, 3])('strips %i leading components like GNU tar --strip-components, skipping entries left empty', async (n) => {
    const src = makeTree();
    const file = path.join(path.dirname(src), 'pkg.tgz');
    run('tar', ['-czf', file, '-C', path.dirname(src), 'pkg']);
    const byGnu = tempDir();
    run('tar', ['-xzf', file, '-C', byGnu, `--strip-components=${n}`]);
    const ours = path.join(tempDir(), 'out');
    await extractArchive(file, ours, { stripComponents: n });
    expect(snapshot(ours)).toEqual(snapshot(byGnu));
  });

  it.each([
    ['./', 1],
    ['./pkg/./', 2],
    ['./pkg/./', 3],
  ])('counts "." components when stripping, like GNU tar (names starting %j, strip %i)', async (prefix, n) => {
    const src = makeTree();
    const file = path.join(path.dirname(src), 'pkg.tar');
    const names = prefix === './' ? ['.'] : ['./pkg/./lib', './pkg/./bin'];
    run('tar', ['-cf', file, '-C', prefix === './' ? src : path.dirname(src), ...names]);
    const byGnu = tempDir();
    run('tar', ['-xf', file, '-C', byGnu, `--strip-components=${n}`]);
    const ours = path.join(tempDir(), 'out');
    await extractArchive(file, ours, { stripComponents: n });
    expect(snapshot(ours)).toEqual(snapshot(byGnu));
    expect(snapshot(ours).length).toBeGreaterThan(0);
  });

  it('keeps only the entries the include filter accepts, given their paths after stripping', async () => {
    const src = makeTree();
    const file = path.join(path.dirname(src), 'pkg.tgz');
    run('tar', ['-czf', file, '-C', path.dirname(src), 'pkg']);
    const seen: string[] = [];
    const dest = path.join(tempDir(), 'out');
    await extractArchive(file, dest, {
      stripComponents: 1,
      include: (p) => {
        seen.push(p);
        return p === 'bin' || p.startsWith('bin/') || p === 'lib/deep/er/x.json';
      },
    });
    expect(seen).toContain('bin/run');
    expect(seen).toContain('lib/data.txt');
    expect(seen.every((p) => !p.startsWith('pkg') && !p.startsWith('./') && !p.endsWith('/'))).toBe(true);
    expect(snapshot(dest)).toEqual(['bin dir 755', 'bin/libdir link ../lib', 'bin/run file 755 18:#!/bin/sh\necho hi\n', 'lib dir 755', 'lib/deep dir 755', 'lib/deep/er dir 755', 'lib/deep/er/x.json file 644 2:{}']);
  });

  it('skips fifo and device entries', async () => {
    const file = path.join(tempDir(), 'a.tar');
    fs.writeFileSync(file, craftTar([{ path: 'fifo', type: 'fifo' }, { path: 'null', type: 'chardev' }, { path: 'f', content: 'x' }]));
    const dest = path.join(tempDir(), 'out');
    expect(await extractArchive(file, dest)).toEqual({ entries: 1, bytes: 1 });
    expect(fs.readdirSync(dest)).toEqual(['f']);
  });

  it('lets a later entry of the same path replace an earlier one, and a dir replace a file in its way', async () => {
    const file = path.join(tempDir(), 'a.tar');
    fs.writeFileSync(file, craftTar([{ path: 'f', content: 'first' }, { path: 'f', content: 'second' }, { path: 'x', content: 'file' }, { path: 'x/y', content: 'nested' }]));
    const dest = path.join(tempDir(), 'out');
    await extractArchive(file, dest);
    expect(fs.readFileSync(path.join(dest, 'f'), 'utf8')).toBe('second');
    expect(fs.readFileSync(path.join(dest, 'x/y'), 'utf8')).toBe('nested');
  });
});

describe('damaged archives', () => {
  function tgz(): string {
    const src = makeTree();
    const file = path.join(path.dirname(src), 'pkg.tgz');
    run('tar', ['-czf', file, '-C', path.dirname(src), 'pkg']);
    return file;
  }

  it('fails on a truncated .tar.gz with a clear error, and leaves no dest dir', async () => {
    const file = tgz();
    const data = fs.readFileSync(file);
    fs.writeFileSync(file, data.subarray(0, Math.floor(data.length / 2)));
    const dest = path.join(tempDir(), 'out');
    const e = await failure(extractArchive(file, dest));
    expect(e.code).toBe('SLUGC_DOWNLOAD_FAILED');
    expect(e.message).toMatch(/^Couldn't extract pkg\.tgz: unexpected end of file/);
    expect(e.hint).toMatch(/damaged/);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('fails on a truncated .tar.gz in the synchronous extractTar too', () => {
    const file = tgz();
    const data = fs.readFileSync(file);
    fs.writeFileSync(file, data.subarray(0, data.length - 100));
    const dest = path.join(tempDir(), 'out');
    expect(() => extractTar(file, dest)).toThrow(/^Couldn't extract pkg\.tgz: unexpected end of file/);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('fails on a plain tar cut in the middle of a file', async () => {
    const file = path.join(tempDir(), 'a.tar');
    fs.writeFileSync(file, craftTar([{ path: 'a', content: 'x'.repeat(2000) }]).subarray(0, 1024));
    const dest = path.join(tempDir(), 'out');
    const e = await failure(extractArchive(file, dest));
    expect(e.code).toBe('SLUGC_DOWNLOAD_FAILED');
    expect(e.message).toMatch(/ends in the middle of an entry .* truncated/);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('fails on a plain tar without its end-of-archive marker', async () => {
    const file = path.join(tempDir(), 'a.tar');
    fs.writeFileSync(file, craftTar([{ path: 'a', content: 'x' }], { end: false }));
    const e = await failure(extractArchive(file, path.join(tempDir(), 'out')));
    expect(e.message).toMatch(/before the end-of-archive marker/);
  });

  it('fails on a tar header with a bad checksum', async () => {
    const file = path.join(tempDir(), 'a.tar');
    const tar = craftTar([{ path: 'a', content: 'x' }]);
    tar[0] = 0x62; // "b": the checksum no longer matches
    fs.writeFileSync(file, tar);
    const e = await failure(extractArchive(file, path.join(tempDir(), 'out'), { format: 'tar' }));
    expect(e.message).toMatch(/bad checksum/);
  });

  it('fails on a corrupted .tar.xz with what xz said', async () => {
    const src = makeTree();
    const file = path.join(path.dirname(src), 'pkg.tar.xz');
    run('tar', ['-cJf', file, '-C', path.dirname(src), 'pkg']);
    const data = fs.readFileSync(file);
    data.fill(0x55, 200, 400);
    fs.writeFileSync(file, data);
    const dest = path.join(tempDir(), 'out');
    const e = await failure(extractArchive(file, dest));
    expect(e.code).toBe('SLUGC_DOWNLOAD_FAILED');
    expect(e.message).toMatch(/`xz -dc` exited with code 1: .*(corrupt|data)/i);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('fails on a truncated .tar.zst', async () => {
    const src = makeTree();
    const file = path.join(path.dirname(src), 'pkg.tar.zst');
    run('tar', ['--zstd', '-cf', file, '-C', path.dirname(src), 'pkg']);
    const data = fs.readFileSync(file);
    fs.writeFileSync(file, data.subarray(0, data.length - 50));
    const dest = path.join(tempDir(), 'out');
    const e = await failure(extractArchive(file, dest));
    expect(e.message).toMatch(/zstd -dc/);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('fails naming xz, and how to install it, when xz is not installed', async () => {
    const src = makeTree();
    const file = path.join(path.dirname(src), 'pkg.tar.xz');
    run('tar', ['-cJf', file, '-C', path.dirname(src), 'pkg']);
    const dest = path.join(tempDir(), 'out');
    const saved = process.env.PATH;
    process.env.PATH = tempDir(); // an empty dir: no xz on PATH
    try {
      const e = await failure(extractArchive(file, dest));
      expect(e.message).toBe(`Couldn't extract pkg.tar.xz: it is a tar.xz archive and the \`xz\` command is not installed.`);
      expect(e.hint).toMatch(/apt-get install -y xz-utils/);
    } finally {
      process.env.PATH = saved;
    }
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('fails on a zip whose data does not match its sizes', async () => {
    const zip = craftZip([{ path: 'a', content: 'hello' }]);
    zip.writeUInt32LE(3, zip.length - 22 - (46 + 1) + 20); // the central record's compressed size: 3, for a 5-byte stored file
    const file = path.join(tempDir(), 'a.zip');
    fs.writeFileSync(file, zip);
    const dest = path.join(tempDir(), 'out');
    const e = await failure(extractArchive(file, dest));
    expect(e.code).toBe('SLUGC_DOWNLOAD_FAILED');
    expect(e.message).toMatch(/size mismatch/);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('fails on a file that is not an archive, without creating dest', async () => {
    const file = path.join(tempDir(), 'index.html');
    fs.writeFileSync(file, '<html>Not Found</html>');
    const dest = path.join(tempDir(), 'out');
    const e = await failure(extractArchive(file, dest));
    expect(e.code).toBe('SLUGC_DOWNLOAD_FAILED');
    expect(e.message).toMatch(/not a tar, tar\.gz, tar\.xz, tar\.zst or zip archive/);
    expect(fs.existsSync(dest)).toBe(false);
  });
});

describe('format sniffing', () => {
  it('tells each format from its magic bytes, whatever the file is called', () => {
    const dir = tempDir();
    const tar = craftTar([{ path: 'a', content: 'x' }]);
    const cases: [string, Buffer, string | null][] = [
      ['plain', tar, 'tar'],
      ['gzip', zlib.gzipSync(tar), 'tar.gz'],
      ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]), 'tar.xz'],
      ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0]), 'tar.zst'],
      ['zip', craftZip([{ path: 'a', content: 'x' }]), 'zip'],
      ['text', Buffer.from('hello'), null],
      ['empty', Buffer.alloc(0), null],
      ['v7 tar (no ustar magic)', Buffer.concat([tarHeader({ path: 'a', typeflag: '0' }).fill(0, 257, 265), Buffer.alloc(1024)]), null],
    ];
    for (const [name, data, expected] of cases) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, data);
      expect(detectArchiveFormat(file), name).toBe(expected);
    }
  });

  it('uses an explicit format over sniffing, e.g. for a pre-POSIX tar', async () => {
    const h = tarHeader({ path: 'old.txt', typeflag: '0', size: 2 });
    h.fill(0, 257, 265); // no "ustar" magic...
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1'); // ...and a checksum to match
    const file = path.join(tempDir(), 'old');
    fs.writeFileSync(file, Buffer.concat([h, Buffer.from('hi'), Buffer.alloc(510), Buffer.alloc(1024)]));
    const dest = path.join(tempDir(), 'out');
    await extractArchive(file, dest, { format: 'tar' });
    expect(fs.readFileSync(path.join(dest, 'old.txt'), 'utf8')).toBe('hi');
  });
});

describe('extractTar (synchronous)', () => {
  it('extracts a tar.gz like extractArchive does, with stripComponents and include', async () => {
    const src = makeTree();
    const file = path.join(path.dirname(src), 'pkg.tgz');
    run('tar', ['-czf', file, '-C', path.dirname(src), 'pkg']);
    const include = (p: string) => !p.startsWith('lib/deep');
    const sync = path.join(tempDir(), 'sync');
    extractTar(file, sync, { stripComponents: 1, include });
    const async = path.join(tempDir(), 'async');
    await extractArchive(file, async, { stripComponents: 1, include });
    expect(snapshot(sync)).toEqual(snapshot(async));
    expect(snapshot(sync)).not.toContain('lib/deep dir 755');
  });
});

describe('TarReader', () => {
  /** Every entry and a digest of its data, feeding `tar` in chunks of `size` bytes. */
  function read(tar: Uint8Array, size: number): string[] {
    const out: string[] = [];
    const reader = new TarReader({
      entry(h: TarEntryHeader) {
        const line = `${h.kind} ${h.path} ${h.mode.toString(8)} ${h.size} ${h.linkpath}`;
        if (h.kind !== 'file') {
          out.push(line);
          return null;
        }
        const parts: Buffer[] = [];
        return { write: (d) => void parts.push(Buffer.from(d)), end: () => void out.push(`${line} ${Buffer.concat(parts).toString('latin1').length}:${Buffer.concat(parts).subarray(0, 12).toString('latin1')}`) };
      },
    });
    for (let i = 0; i < tar.length; i += size) reader.write(tar.subarray(i, i + size));
    reader.end();
    return out;
  }

  it('reads the same entries whatever the chunk boundaries (headers, PAX records and data split anywhere)', () => {
    const src = makeTree();
    fs.writeFileSync(path.join(src, `${'n'.repeat(130)}.txt`), 'long name');
    const file = path.join(path.dirname(src), 'pkg.tar');
    run('tar', ['--format=posix', '-cf', file, '-C', path.dirname(src), 'pkg']);
    const tar = fs.readFileSync(file);
    const whole = read(tar, tar.length);
    expect(whole.length).toBeGreaterThan(15);
    expect(whole.some((l) => l.includes('n'.repeat(130)))).toBe(true);
    for (const size of [1, 7, 100, 511, 512, 513, 4096 + 3]) expect(read(tar, size), `chunks of ${size}`).toEqual(whole);
  });

  it('reads a GNU base-256 size field', () => {
    const h = tarHeader({ path: 'f', typeflag: '0', size: 0 });
    h.fill(0, 124, 136);
    h[124] = 0x80;
    h[135] = 3; // size 3, in base-256
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    expect(read(Buffer.concat([h, Buffer.from('abc'), Buffer.alloc(509), Buffer.alloc(1024)]), 512)).toEqual(['file f 644 3  3:abc']);
  });

  it('refuses GNU sparse files rather than writing them wrong', () => {
    const tar = Buffer.concat([tarHeader({ path: 's', typeflag: 'S' }), Buffer.alloc(1024)]);
    expect(() => read(tar, tar.length)).toThrow(/sparse/);
  });
});
