/**
 * Zip-slip: entries whose names climb out of the target dir with `..`.
 * Each test crafts the hostile archive itself, extracts it, and checks that
 * the place the entry aimed at is untouched and that the target dir is gone.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { craftTar, craftZip, paxHeader, tarHeader } from '../support/craft.js';
import { extractArchive, extractTar } from '../../src/archive/extract.js';
import { cleanup, tempDir } from 'slugc/testing';
import { archive, refusal } from '../support/security.js';

afterEach(cleanup);

/** A sandbox: `dest` is two levels down, so `../` and `../../` both stay inside `base`, where we can look. */
function sandbox() {
  const base = tempDir('slugc-zip-slip-');
  const dest = path.join(base, 'work', 'dest');
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  return { base, dest };
}

/** Every file under `dir`, relative. */
function listAll(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

describe('zip-slip: entries with ".." components', () => {
  it('stops a tar entry "../evil" from writing beside the target dir, and removes the target dir', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.tar', craftTar([{ path: 'ok.txt', content: 'fine' }, { path: '../evil', content: 'pwned' }]));
    const e = await refusal(extractArchive(file, dest));
    expect(e.message).toContain('"../evil"');
    expect(e.details.entry).toBe('../evil');
    expect(fs.existsSync(path.join(base, 'work', 'evil'))).toBe(false);
    expect(fs.existsSync(dest)).toBe(false);
    expect(listAll(base)).toEqual(['a.tar', 'work']);
  });

  it('stops a tar entry that climbs out from the middle of its path ("a/../../../evil")', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.tar', craftTar([{ path: 'a/', type: 'dir' }, { path: 'a/../../../evil', content: 'pwned' }]));
    const e = await refusal(extractArchive(file, dest));
    expect(e.details.entry).toBe('a/../../../evil');
    expect(fs.existsSync(path.join(base, 'evil'))).toBe(false);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('stops "../" even where stripComponents would have dropped the ".." component ("package/../../evil")', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.tar', craftTar([{ path: 'package/../../evil', content: 'pwned' }]));
    await refusal(extractArchive(file, dest, { stripComponents: 1 }));
    expect(fs.existsSync(path.join(base, 'evil'))).toBe(false);
    expect(fs.existsSync(path.join(base, 'work', 'evil'))).toBe(false);
  });

  it('stops "../" even when the include filter would have skipped the entry', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.tar', craftTar([{ path: 'keep.txt', content: 'x' }, { path: '../evil', content: 'pwned' }]));
    await refusal(extractArchive(file, dest, { include: (p) => p === 'keep.txt' }));
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('stops a PAX "path" record that swaps a harmless ustar name for "../evil"', async () => {
    const { base, dest } = sandbox();
    const tar = Buffer.concat([paxHeader({ path: '../evil' }), tarHeader({ path: 'harmless.txt', typeflag: '0', size: 5 }), Buffer.from('pwned'), Buffer.alloc(507), Buffer.alloc(1024)]);
    const e = await refusal(extractArchive(archive(base, 'a.tar', tar), dest));
    expect(e.details.entry).toBe('../evil');
    expect(fs.existsSync(path.join(base, 'work', 'evil'))).toBe(false);
    expect(fs.existsSync(path.join(base, 'work', 'harmless.txt'))).toBe(false);
  });

  it('stops a GNU long name ("L" record) of "../evil"', async () => {
    const { base, dest } = sandbox();
    const name = Buffer.from('../evil\0');
    const tar = Buffer.concat([
      tarHeader({ path: '././@LongLink', typeflag: 'L', size: name.length }),
      name,
      Buffer.alloc(512 - name.length),
      tarHeader({ path: 'harmless.txt', typeflag: '0', size: 5 }),
      Buffer.from('pwned'),
      Buffer.alloc(507),
      Buffer.alloc(1024),
    ]);
    await refusal(extractArchive(archive(base, 'a.tar', tar), dest));
    expect(fs.existsSync(path.join(base, 'work', 'evil'))).toBe(false);
  });

  it('stops "../" inside a gzip\'d tar, read as a stream', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.tar.gz', zlib.gzipSync(craftTar([{ path: 'ok/', type: 'dir' }, { path: '../evil', content: 'pwned' }])));
    await refusal(extractArchive(file, dest));
    expect(fs.existsSync(path.join(base, 'work', 'evil'))).toBe(false);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('stops "../" in the synchronous extractTar too', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.tgz', zlib.gzipSync(craftTar([{ path: '../evil', content: 'pwned' }])));
    await refusal(Promise.resolve().then(() => extractTar(file, dest)));
    expect(fs.existsSync(path.join(base, 'work', 'evil'))).toBe(false);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('stops a zip entry "../evil" from writing beside the target dir', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.zip', craftZip([{ path: 'ok.txt', content: 'fine' }, { path: '../evil', content: 'pwned' }], { deflate: true }));
    const e = await refusal(extractArchive(file, dest));
    expect(e.details.entry).toBe('../evil');
    expect(fs.existsSync(path.join(base, 'work', 'evil'))).toBe(false);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('stops a zip entry that climbs with Windows separators ("..\\..\\evil")', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.zip', craftZip([{ path: '..\\..\\evil', content: 'pwned' }]));
    const e = await refusal(extractArchive(file, dest));
    expect(e.message).toMatch(/backslash/);
    expect(fs.readdirSync(base).sort()).toEqual(['a.zip', 'work']);
    expect(fs.readdirSync(path.join(base, 'work'))).toEqual([]);
  });

  it('stops a zip directory entry "../../escaped/"', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.zip', craftZip([{ path: '../../escaped/', type: 'dir' }]));
    await refusal(extractArchive(file, dest));
    expect(fs.existsSync(path.join(base, 'escaped'))).toBe(false);
  });

  it('stops a hard link whose target climbs out ("link" -> "../../secret")', async () => {
    const { base, dest } = sandbox();
    fs.writeFileSync(path.join(base, 'secret'), 'do not touch');
    const file = archive(base, 'a.tar', craftTar([{ path: 'link', type: 'hardlink', linkpath: '../../secret' }, { path: 'link', content: 'overwritten' }]));
    const e = await refusal(extractArchive(file, dest));
    expect(e.message).toMatch(/links to a path with a "\.\." component/);
    expect(fs.readFileSync(path.join(base, 'secret'), 'utf8')).toBe('do not touch');
    expect(fs.statSync(path.join(base, 'secret')).nlink).toBe(1);
  });
});
