/**
 * Symlink escapes: a link out of the target dir, then a file written through
 * it (the classic two-entry attack), chains of links that each look fine
 * alone, and hard links used to reach through symlinks. The places each
 * archive aims at live in the test's own temp dir and must stay untouched.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { craftTar, craftZip } from '../support/craft.js';
import { extractArchive } from '../../src/archive/extract.js';
import { cleanup, tempDir } from 'slugc/testing';
import { archive, refusal } from '../support/security.js';

afterEach(cleanup);

/** `dest` is `base/a/b/dest`, so `../..` from dest is still inside `base`; `outside` is `base/outside`. */
function sandbox() {
  const base = tempDir('slugc-symlink-');
  const dest = path.join(base, 'a', 'b', 'dest');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.mkdirSync(outside);
  return { base, dest, outside };
}

/** Every path under `dir` (not following symlinks), relative. */
function listAll(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

describe('a symlink out of the target dir, then a file written through it', () => {
  it('stops the tar pair "a -> <outside dir>", "a/evil": nothing appears in the outside dir', async () => {
    const { base, dest, outside } = sandbox();
    const file = archive(base, 'a.tar', craftTar([{ path: 'a', type: 'symlink', linkpath: outside }, { path: 'a/evil', content: 'pwned' }]));
    await refusal(extractArchive(file, dest));
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('stops the tar pair "a -> ../..", "a/evil" at the link', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.tar.gz', zlib.gzipSync(craftTar([{ path: 'a', type: 'symlink', linkpath: '../..' }, { path: 'a/evil', content: 'pwned' }])));
    const e = await refusal(extractArchive(file, dest));
    expect(e.details.entry).toBe('a -> ../..');
    expect(e.message).toMatch(/symlink that points outside the target dir/);
    expect(fs.existsSync(path.join(base, 'a', 'evil'))).toBe(false);
    expect(listAll(base)).toEqual(['a', 'a.tar.gz', 'a/b', 'outside']);
  });

  it('stops a link that climbs out from a subdir ("sub/dir/l -> ../../../x")', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.tar', craftTar([{ path: 'sub/dir/l', type: 'symlink', linkpath: '../../../x' }]));
    await refusal(extractArchive(file, dest));
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('stops a link that only points outside once stripComponents moved it up ("pkg/bin/lib -> ../lib", strip 2)', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.tar', craftTar([{ path: 'pkg/lib/x', content: 'x' }, { path: 'pkg/bin/lib', type: 'symlink', linkpath: '../lib' }]));
    expect((await extractArchive(file, path.join(base, 'strip1'), { stripComponents: 1 })).entries).toBe(2);
    const e = await refusal(extractArchive(file, dest, { stripComponents: 2 }));
    expect(e.details.entry).toBe('pkg/bin/lib -> ../lib');
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('stops writing through a symlink even when it points inside the target dir', async () => {
    const { base, dest } = sandbox();
    const file = archive(
      base,
      'a.tar',
      craftTar([
        { path: 'real/', type: 'dir' },
        { path: 'a', type: 'symlink', linkpath: 'real' },
        { path: 'a/evil', content: 'through the link' },
      ]),
    );
    const e = await refusal(extractArchive(file, dest));
    expect(e.details.entry).toBe('a/evil');
    expect(e.message).toMatch(/written through the symlink "a"/);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('stops a directory entry made through a symlink ("a -> real", "a/sub/")', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.tar', craftTar([{ path: 'real/', type: 'dir' }, { path: 'a', type: 'symlink', linkpath: 'real' }, { path: 'a/sub/', type: 'dir' }]));
    await refusal(extractArchive(file, dest));
  });

  it('stops the zip pair "a -> <outside dir>", "a/evil"', async () => {
    const { base, dest, outside } = sandbox();
    const file = archive(base, 'a.zip', craftZip([{ path: 'a', type: 'symlink', linkpath: outside }, { path: 'a/evil', content: 'pwned' }]));
    await refusal(extractArchive(file, dest));
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('stops the zip pair "a -> ../..", "a/evil"', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.zip', craftZip([{ path: 'a', type: 'symlink', linkpath: '../..' }, { path: 'a/evil', content: 'pwned' }], { deflate: true }));
    await refusal(extractArchive(file, dest));
    expect(fs.existsSync(path.join(base, 'a', 'evil'))).toBe(false);
  });

  it('stops the zip pair "a -> inside", "a/evil" (no writing through symlinks)', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.zip', craftZip([{ path: 'inside/', type: 'dir' }, { path: 'a', type: 'symlink', linkpath: 'inside' }, { path: 'a/evil', content: 'x' }]));
    await refusal(extractArchive(file, dest));
  });

  it('stops a write through a symlink that was in the target dir before extraction', async () => {
    const { base, dest, outside } = sandbox();
    fs.mkdirSync(dest);
    fs.symlinkSync(outside, path.join(dest, 'a'));
    const file = archive(base, 'a.tar', craftTar([{ path: 'a/evil', content: 'pwned' }]));
    await refusal(extractArchive(file, dest));
    expect(fs.readdirSync(outside)).toEqual([]);
  });
});

describe('symlink chains and links through links', () => {
  it('stops a chain whose links each stay inside but together leave ("x -> .", "y -> x/..")', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.tar', craftTar([{ path: 'x', type: 'symlink', linkpath: '.' }, { path: 'y', type: 'symlink', linkpath: 'x/..' }]));
    const e = await refusal(extractArchive(file, dest));
    expect(e.message).toMatch(/through other symlinks/);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('stops the same chain when the links come in the other order ("y -> x/..", then "x -> .")', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.tar', craftTar([{ path: 'y', type: 'symlink', linkpath: 'x/..' }, { path: 'x', type: 'symlink', linkpath: '.' }]));
    await refusal(extractArchive(file, dest));
  });

  it('stops a hard link to a symlink that, moved to the link\'s dir, would point outside ("d/l -> ../f", "h" => "d/l")', async () => {
    const { base, dest } = sandbox();
    const file = archive(
      base,
      'a.tar',
      craftTar([
        { path: 'f', content: 'inside' },
        { path: 'd/l', type: 'symlink', linkpath: '../f' },
        { path: 'h', type: 'hardlink', linkpath: 'd/l' },
      ]),
    );
    const e = await refusal(extractArchive(file, dest));
    expect(e.details.entry).toBe('h -> d/l');
  });

  it('stops a hard link whose target path runs through a symlink ("s -> ." , "h" => "s/f")', async () => {
    const { base, dest } = sandbox();
    const file = archive(base, 'a.tar', craftTar([{ path: 'f', content: 'x' }, { path: 's', type: 'symlink', linkpath: '.' }, { path: 'h', type: 'hardlink', linkpath: 's/f' }]));
    const e = await refusal(extractArchive(file, dest));
    expect(e.message).toMatch(/through the symlink "s"/);
  });

  it('replaces a symlink by a later file entry of the same name instead of writing through it', async () => {
    const { base, dest, outside } = sandbox();
    const victim = path.join(outside, 'victim');
    fs.writeFileSync(victim, 'untouched');
    fs.mkdirSync(dest);
    fs.symlinkSync(victim, path.join(dest, 'f')); // planted before extraction
    const file = archive(base, 'a.tar', craftTar([{ path: 'f', content: 'new' }]));
    await extractArchive(file, dest);
    expect(fs.lstatSync(path.join(dest, 'f')).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(dest, 'f'), 'utf8')).toBe('new');
    expect(fs.readFileSync(victim, 'utf8')).toBe('untouched');
  });

  it('replaces a hard link by a later file entry of the same name instead of writing through it', async () => {
    const { base, dest } = sandbox();
    const file = archive(
      base,
      'a.tar',
      craftTar([
        { path: 'original', content: 'original' },
        { path: 'h', type: 'hardlink', linkpath: 'original' },
        { path: 'h', content: 'replaced' },
      ]),
    );
    await extractArchive(file, dest);
    expect(fs.readFileSync(path.join(dest, 'original'), 'utf8')).toBe('original');
    expect(fs.readFileSync(path.join(dest, 'h'), 'utf8')).toBe('replaced');
  });
});

describe('symlinks that stay inside are kept', () => {
  it('keeps relative symlinks that resolve inside the target dir, as in node_modules/.bin', async () => {
    const { base, dest } = sandbox();
    const file = archive(
      base,
      'a.tar',
      craftTar([
        { path: 'node_modules/pkg/cli.js', content: '#!/usr/bin/env node\n', mode: 0o755 },
        { path: 'node_modules/.bin/pkg', type: 'symlink', linkpath: '../pkg/cli.js' },
        { path: 'up', type: 'symlink', linkpath: 'node_modules/pkg/../../node_modules' },
        { path: 'dangling', type: 'symlink', linkpath: 'not/there/yet' },
        { path: 'dot', type: 'symlink', linkpath: '.' },
      ]),
    );
    const r = await extractArchive(file, dest);
    expect(r.entries).toBe(5);
    expect(fs.readlinkSync(path.join(dest, 'node_modules/.bin/pkg'))).toBe('../pkg/cli.js');
    expect(fs.readFileSync(path.join(dest, 'node_modules/.bin/pkg'), 'utf8')).toBe('#!/usr/bin/env node\n');
    expect(fs.readlinkSync(path.join(dest, 'up'))).toBe('node_modules/pkg/../../node_modules');
    expect(fs.readlinkSync(path.join(dest, 'dangling'))).toBe('not/there/yet');
    expect(fs.readlinkSync(path.join(dest, 'dot'))).toBe('.');
  });
});
