import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { packDirectory, type PackProgress } from '../../src/slug/pack.js';
import { treeSnapshot } from '../support/tree.js';

const MTIME = 1_700_000_000; // 2023-11-14 22:13:20 UTC
const temps: string[] = [];

function tempDir(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `slugc-pack-${label}-`));
  temps.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
});

/** A 150-character relative path over several directories (too long for ustar's 100-byte name, fits name + prefix). */
const LONG_PATH = `deep/${'d'.repeat(60)}/${'e'.repeat(50)}/${'f'.repeat(29)}.txt`;
/** A single 120-character component: no ustar split fits, so it needs a PAX header. */
const LONG_NAME = `${'n'.repeat(116)}.txt`;
const LONG_TARGET = `../${'t'.repeat(120)}/target`;
const UNICODE_NAME = 'héllo-wörld-日本語-🚀.txt';

/** Writes a small app exercising every kind of entry the packer handles. */
function makeApp(): { dir: string; big: Buffer } {
  const dir = tempDir('app');
  const big = crypto.randomBytes(3 * 1024 * 1024 + 123); // spans several 1 MiB chunks
  const w = (rel: string, data: string | Buffer, mode = 0o644): void => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), data);
    fs.chmodSync(path.join(dir, rel), mode);
  };
  w('package.json', '{"name":"app"}\n');
  w('bin/start.sh', '#!/bin/sh\necho started\n', 0o755);
  w('B-upper.txt', 'upper case sorts before lower case\n');
  w('a/inner.js', 'module.exports = 1;\n');
  w('a-b.txt', 'dash sorts after a/\n');
  w('a.txt', 'dot sorts after dash\n');
  w('empty', '');
  w('exact512.bin', crypto.randomBytes(512));
  w('big.bin', big);
  w(LONG_PATH, 'long path\n');
  w(LONG_NAME, 'long name\n');
  w(UNICODE_NAME, 'unicode\n');
  w('setuid-tool', 'x', 0o4755);
  fs.mkdirSync(path.join(dir, 'empty-dir/nested-empty'), { recursive: true });
  fs.symlinkSync('../a.txt', path.join(dir, 'bin/relative-link'));
  fs.symlinkSync('does/not/exist', path.join(dir, 'dangling-link'));
  fs.symlinkSync(LONG_TARGET, path.join(dir, 'long-link'));
  fs.linkSync(path.join(dir, 'a.txt'), path.join(dir, 'hardlink.txt'));
  spawnSync('mkfifo', [path.join(dir, 'a-fifo')]);
  return { dir, big };
}

function run(cmd: string, args: string[], cwd?: string): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

async function pack(dir: string, extra: Partial<Parameters<typeof packDirectory>[0]> = {}) {
  const output = path.join(tempDir('out'), 'slug.tgz');
  const result = await packDirectory({ dir, output, mtime: MTIME, ...extra });
  return { output, result };
}

describe('packDirectory', () => {
  const app = makeApp();

  it('lists every entry under ./app/ in byte order, owned by 0/0, with the fixed mtime, and GNU tar reads it without a warning', async () => {
    const { output } = await pack(app.dir);
    const r = run('tar', ['--numeric-owner', '--full-time', '--quoting-style=literal', '-tvzf', output]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    const names = lines.map((l) => l.replace(/^\S+ \S+ +\d+ \S+ \S+ /, '').replace(/ -> .*$/, ''));
    expect(names).toEqual([
      './app/',
      './app/B-upper.txt',
      './app/a/',
      './app/a/inner.js',
      './app/a-b.txt',
      './app/a.txt',
      './app/big.bin',
      './app/bin/',
      './app/bin/relative-link',
      './app/bin/start.sh',
      './app/dangling-link',
      './app/deep/',
      `./app/deep/${'d'.repeat(60)}/`,
      `./app/deep/${'d'.repeat(60)}/${'e'.repeat(50)}/`,
      `./app/${LONG_PATH}`,
      './app/empty',
      './app/empty-dir/',
      './app/empty-dir/nested-empty/',
      './app/exact512.bin',
      './app/hardlink.txt',
      `./app/${UNICODE_NAME}`,
      './app/long-link',
      `./app/${LONG_NAME}`,
      './app/package.json',
      './app/setuid-tool',
    ]);
    for (const line of lines) {
      expect(line).toMatch(/^\S+ 0\/0 +\d+ 2023-11-14 22:13:20 /);
    }
    expect(lines.find((l) => l.endsWith('./app/setuid-tool'))).toMatch(/^-rwsr-xr-x /);
    expect(lines.find((l) => l.includes('./app/bin/start.sh'))).toMatch(/^-rwxr-xr-x /);
    expect(lines.find((l) => l.includes('./app/long-link'))).toMatch(/^lrwxrwxrwx .* -> \.\.\/t{120}\/target$/);
    expect(lines.find((l) => l.includes('./app/hardlink.txt'))).toMatch(/^-rw-r--r-- 0\/0 +21 /); // a regular file, not a link
  });

  it('writes a gzip stream that passes gzip -t and gunzips to whole tar blocks ending in two zero blocks', async () => {
    const { output } = await pack(app.dir);
    const r = run('gzip', ['-t', output]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const tar = zlib.gunzipSync(fs.readFileSync(output));
    expect(tar.length % 512).toBe(0);
    expect(tar.subarray(tar.length - 1024).every((b) => b === 0)).toBe(true);
  });

  it('extracts with tar -xzf to the same contents, modes, symlinks and empty dirs, without the fifo', async () => {
    const { output } = await pack(app.dir);
    const dest = tempDir('extract');
    const r = run('tar', ['-xzf', output, '-C', dest]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const want = treeSnapshot(app.dir);
    want.delete('a-fifo');
    expect(treeSnapshot(path.join(dest, 'app'))).toEqual(want);
    // Spot checks of what the snapshot compares.
    expect(fs.readFileSync(path.join(dest, 'app/big.bin')).equals(app.big)).toBe(true);
    expect(fs.statSync(path.join(dest, 'app/bin/start.sh')).mode & 0o7777).toBe(0o755);
    expect(fs.readlinkSync(path.join(dest, 'app/dangling-link'))).toBe('does/not/exist');
    expect(fs.readFileSync(path.join(dest, 'app/bin/relative-link'), 'utf8')).toBe('dot sorts after dash\n');
    expect(fs.readdirSync(path.join(dest, 'app/empty-dir/nested-empty'))).toEqual([]);
    expect(fs.statSync(path.join(dest, 'app/empty')).size).toBe(0);
    expect(fs.statSync(path.join(dest, 'app/exact512.bin')).size).toBe(512);
    expect(fs.readFileSync(path.join(dest, 'app', LONG_PATH), 'utf8')).toBe('long path\n');
    expect(fs.readFileSync(path.join(dest, 'app', UNICODE_NAME), 'utf8')).toBe('unicode\n');
  });

  it('reports the sha256 and size of the file it wrote, and counts entries and bytes read', async () => {
    const { output, result } = await pack(app.dir);
    expect(result.sha256).toBe(sha256(output));
    expect(result.size).toBe(fs.statSync(output).size);
    expect(result.entries).toBe(25);
    const files = [...treeSnapshot(app.dir).entries()].filter(([, v]) => v.startsWith('file'));
    expect(result.bytesIn).toBe(files.reduce((n, [k]) => n + fs.statSync(path.join(app.dir, k)).size, 0));
    expect(Object.keys(result).sort()).toEqual(['bytesIn', 'bytesSpliced', 'entries', 'linksOut', 'segments', 'segmentsSpliced', 'sha256', 'size']);
    expect(result).toMatchObject({ segmentsSpliced: 0, bytesSpliced: 0 });
    expect(result.linksOut.map((l) => l.split(' -> ')[0])).toEqual(['long-link']); // it points out of the packed dir
    expect(fs.readdirSync(path.dirname(output))).toEqual(['slug.tgz']);
  });

  it('gives the same bytes for two packs of the same tree', async () => {
    const a = await pack(app.dir);
    const b = await pack(app.dir);
    expect(b.result.sha256).toBe(a.result.sha256);
  });

  it('gives identical bytes with 1, 2 and 3 compression threads', async () => {
    const shas = new Set<string>();
    for (const threads of [1, 2, 3]) shas.add((await pack(app.dir, { threads })).result.sha256);
    expect(shas.size).toBe(1);
  });

  it('gives a different sha256 for a different mtime, and a smaller file at level 9 than at level 1', async () => {
    const a = await pack(app.dir);
    const b = await pack(app.dir, { mtime: MTIME + 1 });
    expect(b.result.sha256).not.toBe(a.result.sha256);
    const text = tempDir('text');
    fs.writeFileSync(path.join(text, 'a.js'), 'const x = require("y");\n'.repeat(20_000) + crypto.randomBytes(20_000).toString('hex'));
    const l1 = await pack(text, { level: 1 });
    const l9 = await pack(text, { level: 9 });
    expect(l9.result.size).toBeLessThan(l1.result.size);
    expect(zlib.gunzipSync(fs.readFileSync(l9.output)).equals(zlib.gunzipSync(fs.readFileSync(l1.output)))).toBe(true);
  });

  it('reports progress first with nothing read and last with the totals', async () => {
    const seen: PackProgress[] = [];
    const { result } = await pack(app.dir, { onProgress: (p) => seen.push({ ...p }) });
    expect(seen[0]).toEqual({ entries: 0, bytesIn: 0, bytesTotal: result.bytesIn });
    expect(seen[seen.length - 1]).toEqual({ entries: result.entries, bytesIn: result.bytesIn, bytesTotal: result.bytesIn });
  });

  it('uses another prefix when asked, and packs an empty dir as just the prefix entry', async () => {
    const empty = tempDir('empty');
    const { output, result } = await pack(empty, { prefix: 'slug' });
    expect(result.entries).toBe(1);
    expect(run('tar', ['-tzf', output]).stdout).toBe('slug/\n');
  });

  it('rejects a missing directory with a message naming it', async () => {
    const missing = path.join(tempDir('missing'), 'nope');
    await expect(pack(missing)).rejects.toThrow(`Couldn't package ${missing}: the directory does not exist.`);
  });

  it('rejects an output whose parent does not exist, naming the file it could not create', async () => {
    const output = path.join(tempDir('out'), 'missing-dir', 'slug.tgz');
    await expect(packDirectory({ dir: app.dir, output, mtime: MTIME })).rejects.toThrow(`Couldn't create ${output}.tmp-${process.pid}`);
  });

  it('leaves its own temporary file out when the output is inside the packed dir', async () => {
    const dir = tempDir('self');
    fs.writeFileSync(path.join(dir, 'index.js'), '1');
    const output = path.join(dir, 'slug.tgz');
    await packDirectory({ dir, output, mtime: MTIME });
    expect(run('tar', ['-tzf', output]).stdout).toBe('./app/\n./app/index.js\n');
  });

  describe('when the tree changes during packing', () => {
    /** A fresh copy of a small app whose file `victim.txt` gets `change`d once the tree is listed. */
    async function packWhileChanging(change: (victim: string) => void) {
      const dir = tempDir('changing');
      fs.writeFileSync(path.join(dir, 'a.txt'), 'a');
      fs.writeFileSync(path.join(dir, 'victim.txt'), 'x'.repeat(5000));
      fs.writeFileSync(path.join(dir, 'z.txt'), 'z');
      const outDir = tempDir('out');
      const output = path.join(outDir, 'slug.tgz');
      const portsBefore = process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
      const error = await packDirectory({
        dir,
        output,
        mtime: MTIME,
        threads: 2,
        // The first report comes after listing and before any file is read.
        onProgress: (p) => {
          if (p.entries === 0) change(path.join(dir, 'victim.txt'));
        },
      }).then(
        () => undefined,
        (e: unknown) => e as Error & { code?: string },
      );
      const portsAfter = process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
      return { error, victim: path.join(dir, 'victim.txt'), outDir, portsBefore, portsAfter };
    }

    it('fails naming a file that vanished, leaves no output or temporary file, and stops its workers', async () => {
      const r = await packWhileChanging((victim) => fs.rmSync(victim));
      expect(r.error?.message).toBe(`Couldn't package ${r.victim}: it vanished while the app was being packed.`);
      expect(r.error?.code).toBe('SLUGC_PACKAGE_FAILED');
      expect(fs.readdirSync(r.outDir)).toEqual([]);
      expect(r.portsAfter).toBe(r.portsBefore);
    });

    it('fails naming a file that was replaced by a directory', async () => {
      const r = await packWhileChanging((victim) => {
        fs.rmSync(victim);
        fs.mkdirSync(victim);
      });
      expect(r.error?.message).toContain(`Couldn't package ${r.victim}: it was replaced by a directory`);
      expect(fs.readdirSync(r.outDir)).toEqual([]);
    });

    it('fails naming a file that shrank', async () => {
      const r = await packWhileChanging((victim) => fs.truncateSync(victim, 100));
      expect(r.error?.message).toBe(`Couldn't package ${r.victim}: it shrank while being packed (listed at 5000 bytes, ended after 100).`);
      expect(fs.readdirSync(r.outDir)).toEqual([]);
    });

    it('fails naming a file that was replaced by a symlink, rather than following it', async () => {
      const r = await packWhileChanging((victim) => {
        fs.rmSync(victim);
        fs.symlinkSync('/etc/hostname', victim);
      });
      expect(r.error?.message).toContain(`Couldn't package ${r.victim}: it was replaced by a symlink`);
      expect(fs.readdirSync(r.outDir)).toEqual([]);
    });

    it('passes an exception from onProgress through, cleaning up the same way', async () => {
      const r = await packWhileChanging(() => {
        throw new Error('stop here');
      });
      expect(r.error?.message).toBe('stop here');
      expect(fs.readdirSync(r.outDir)).toEqual([]);
      expect(r.portsAfter).toBe(r.portsBefore);
    });
  });
});
