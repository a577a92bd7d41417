/**
 * Absolute paths: entries, and link targets, that name a place on the machine
 * instead of a place in the target dir. Each hostile archive aims at a file
 * in the test's own temp dir, which must be left untouched.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { craftTar, craftZip, paxHeader, tarHeader } from '../support/craft.js';
import { extractArchive } from '../../src/archive/extract.js';
import { cleanup, tempDir } from 'slugc/testing';
import { archive, refusal } from '../support/security.js';

afterEach(cleanup);

function sandbox() {
  const base = tempDir('slugc-abs-path-');
  const dest = path.join(base, 'dest');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(outside);
  return { base, dest, outside };
}

describe('absolute paths', () => {
  it('stops a tar entry with an absolute path from writing there', async () => {
    const { base, dest, outside } = sandbox();
    const target = path.join(outside, 'evil');
    const file = archive(base, 'a.tar', craftTar([{ path: 'ok.txt', content: 'fine' }, { path: target, content: 'pwned' }]));
    const e = await refusal(extractArchive(file, dest));
    expect(e.message).toContain(`${JSON.stringify(target)} is an absolute path`);
    expect(e.details.entry).toBe(target);
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('stops an absolute path that overwrites an existing file, which keeps its content', async () => {
    const { base, dest, outside } = sandbox();
    const victim = path.join(outside, 'passwd');
    fs.writeFileSync(victim, 'root:x:0:0\n');
    const file = archive(base, 'a.tar.gz', zlib.gzipSync(craftTar([{ path: victim, content: 'pwned' }])));
    await refusal(extractArchive(file, dest));
    expect(fs.readFileSync(victim, 'utf8')).toBe('root:x:0:0\n');
  });

  it('stops an absolute directory entry', async () => {
    const { base, dest, outside } = sandbox();
    const file = archive(base, 'a.tar', craftTar([{ path: `${outside}/made/`, type: 'dir' }]));
    await refusal(extractArchive(file, dest));
    expect(fs.existsSync(path.join(outside, 'made'))).toBe(false);
  });

  it('stops an absolute path hidden in a PAX "path" record', async () => {
    const { base, dest, outside } = sandbox();
    const target = path.join(outside, 'evil');
    const tar = Buffer.concat([paxHeader({ path: target }), tarHeader({ path: 'harmless', typeflag: '0', size: 5 }), Buffer.from('pwned'), Buffer.alloc(507), Buffer.alloc(1024)]);
    await refusal(extractArchive(archive(base, 'a.tar', tar), dest));
    expect(fs.existsSync(target)).toBe(false);
  });

  it('stops a zip entry with an absolute path', async () => {
    const { base, dest, outside } = sandbox();
    const target = path.join(outside, 'evil');
    const file = archive(base, 'a.zip', craftZip([{ path: target, content: 'pwned' }]));
    const e = await refusal(extractArchive(file, dest));
    expect(e.details.entry).toBe(target);
    expect(fs.existsSync(target)).toBe(false);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it.each([
    ['a drive letter with a backslash', 'C:\\Windows\\evil.dll', /drive letter/],
    ['a drive letter with a slash', 'C:/evil', /drive letter/],
    ['a UNC path', '\\\\server\\share\\evil', /backslash/],
    ['a leading backslash', '\\evil', /backslash/],
  ])('stops a zip entry named with %s', async (_what, name, reason) => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.zip', craftZip([{ path: 'ok.txt', content: 'fine' }, { path: name, content: 'pwned' }]));
    const e = await refusal(extractArchive(file, dest));
    expect(e.message).toMatch(reason);
    expect(e.details.entry).toBe(name);
    expect(fs.readdirSync(base).sort()).toEqual(['a.zip', 'outside']);
  });

  it('stops a symlink with an absolute target, even one that exists', async () => {
    const { base, dest, outside } = sandbox();
    const file = archive(base, 'a.tar', craftTar([{ path: 'etc', type: 'symlink', linkpath: outside }]));
    const e = await refusal(extractArchive(file, dest));
    expect(e.message).toMatch(/symlink to an absolute path/);
    expect(e.details.entry).toBe(`etc -> ${outside}`);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('stops a symlink with an absolute target that points back inside the target dir (absolute targets are outside by rule)', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.tar', craftTar([{ path: 'self', type: 'symlink', linkpath: path.join(dest, 'x') }]));
    await refusal(extractArchive(file, dest));
  });

  it('stops a zip symlink with an absolute target', async () => {
    const { base, dest, outside } = sandbox();
    const file = archive(base, 'a.zip', craftZip([{ path: 'l', type: 'symlink', linkpath: outside }]));
    await refusal(extractArchive(file, dest));
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('stops a hard link to an absolute path (an /etc/passwd stand-in), which is neither linked nor changed', async () => {
    const { base, dest, outside } = sandbox();
    const passwd = path.join(outside, 'passwd');
    fs.writeFileSync(passwd, 'root:x:0:0\n');
    // The classic attack: link to the victim, then write "through" the link with a second entry of the same name.
    const file = archive(base, 'a.tar', craftTar([{ path: 'passwd', type: 'hardlink', linkpath: passwd }, { path: 'passwd', content: 'pwned::0:0\n' }]));
    const e = await refusal(extractArchive(file, dest));
    expect(e.message).toMatch(/links to an absolute path/);
    expect(fs.readFileSync(passwd, 'utf8')).toBe('root:x:0:0\n');
    expect(fs.statSync(passwd).nlink).toBe(1);
    expect(fs.existsSync(dest)).toBe(false);
  });
});
