import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packDirectory, type PackOptions, type PackResult } from '../../src/slug/pack.js';
import { treeSnapshot } from '../support/tree.js';

const MTIME = 1_700_000_000;
const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const temps: string[] = [];

function tempDir(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `slugc-segcache-${label}-`));
  temps.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
});

/** Deterministic, compressible, source-like text, different for every seed. */
function text(size: number, seed: number): Buffer {
  const words = ['const', 'require', 'module', 'exports', 'function', 'return', 'value', 'options', 'callback', 'this', '{', '}', ';\n'];
  const parts: string[] = [];
  let n = 0;
  let s = seed >>> 0;
  while (n < size) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const w = `${words[(s >>> 7) % words.length]}${(s >>> 3) % 61} `;
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

/**
 * A Node-slug-shaped tree: a runtime and a few packages big enough to be
 * segments of their own (with `scale` 1, 1–2 MiB each), small packages
 * between them, a symlink, and the app's own code.
 */
function makeTree(scale = 1): string {
  const dir = tempDir('tree');
  let seed = 1;
  const w = (rel: string, data: Buffer | string, mode = 0o644): void => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), data, { mode });
  };
  const files = (pkg: string, count: number, size: number): void => {
    for (let i = 0; i < count; i++) w(`${pkg}/lib/f${i}.js`, text(Math.round(size * scale), seed++));
    w(`${pkg}/package.json`, `{"name":"${path.basename(pkg)}"}\n`);
  };
  w('.heroku/node/bin/node', Buffer.concat([text(Math.round(1_500_000 * scale), seed++), crypto.createHash('sha512').update('x').digest()]), 0o755);
  w('.heroku/node/include/node.h', text(20_000, seed++));
  files('node_modules/@scope/delta', 3, 400_000);
  files('node_modules/alpha', 4, 400_000);
  w('node_modules/alpha/lib/empty.js', '');
  w(`node_modules/alpha/lib/${'n'.repeat(120)}.js`, 'a name too long for ustar: a PAX header\n');
  w('node_modules/alpha/lib/héllo-🚀.js', 'a name that is not ASCII: a PAX header\n');
  files('node_modules/beta', 1, 30_000);
  files('node_modules/gamma', 6, 250_000);
  files('node_modules/zeta', 2, 20_000);
  fs.mkdirSync(path.join(dir, 'node_modules/.bin'), { recursive: true });
  fs.symlinkSync('../alpha/lib/f0.js', path.join(dir, 'node_modules/.bin/alpha'));
  w('package.json', '{"name":"app","version":"1.0.0"}\n');
  w('Procfile', 'web: node src/index.js\n');
  w('src/index.js', "console.log('hello');\n");
  w('src/lib/util.js', text(5_000, seed++));
  return dir;
}

async function pack(dir: string, extra: Partial<PackOptions> = {}): Promise<PackResult & { output: string }> {
  const output = path.join(tempDir('out'), 'slug.tgz');
  const result = await packDirectory({ dir, output, mtime: MTIME, ...extra });
  return { ...result, output };
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * Checks every committed entry of a cache dir (its data file has the
 * recorded length and SHA-256) and returns their keys. `strict`: also no data
 * file without a record, and no temporary file.
 */
function verifyCache(dir: string, strict = true): string[] {
  const names = fs.readdirSync(dir);
  const keys = names.filter((n) => /^[0-9a-f]{64}\.ok$/.test(n)).map((n) => n.slice(0, 64));
  for (const key of keys) {
    const record = JSON.parse(fs.readFileSync(path.join(dir, `${key}.ok`), 'utf8')) as { in: number; out: number; sha256: string };
    const data = fs.readFileSync(path.join(dir, `${key}.seg`));
    expect(data.length).toBe(record.out);
    expect(crypto.createHash('sha256').update(data).digest('hex')).toBe(record.sha256);
    expect(record.in).toBeGreaterThanOrEqual(1 << 20);
  }
  if (strict) {
    expect(names.filter((n) => n.endsWith('.seg')).sort()).toEqual(keys.map((k) => `${k}.seg`).sort());
    expect(names.filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  }
  return keys;
}

function run(cmd: string, args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('packDirectory with a segment cache', () => {
  const tree = makeTree();
  let reference: PackResult & { output: string };
  beforeAll(async () => {
    reference = await pack(tree);
  });

  it('cuts the stream into segments even without a cache, and the slug passes gzip -t, tar -tzf, and unpacks to the tree', async () => {
    expect(reference.segments).toBeGreaterThan(8);
    expect(reference).toMatchObject({ segmentsSpliced: 0, bytesSpliced: 0 });
    expect(run('gzip', ['-t', reference.output])).toMatchObject({ status: 0, stderr: '' });
    const list = run('tar', ['-tzf', reference.output]);
    expect(list).toMatchObject({ status: 0, stderr: '' });
    expect(list.stdout).toContain('./app/node_modules/.bin/alpha\n');
    const dest = tempDir('unpacked');
    expect(run('tar', ['-xzf', reference.output, '-C', dest])).toMatchObject({ status: 0, stderr: '' });
    expect(treeSnapshot(path.join(dest, 'app'))).toEqual(treeSnapshot(tree));
  });

  it('gives the same bytes with no cache, a cold cache and a warm one, with 1, 2 or 3 threads, splicing every big segment when warm', async () => {
    const cache = path.join(tempDir('cache'), 'segments'); // created by the pack
    const cold = await pack(tree, { segmentCache: cache });
    expect(cold.sha256).toBe(reference.sha256);
    expect(cold).toMatchObject({ segments: reference.segments, segmentsSpliced: 0, bytesSpliced: 0 });
    const stored = verifyCache(cache);
    expect(stored.length).toBeGreaterThanOrEqual(4);
    let total = 0;
    for (const f of fs.readdirSync(tree, { recursive: true }) as string[]) {
      const st = fs.lstatSync(path.join(tree, f));
      if (st.isFile()) total += st.size;
    }
    for (const threads of [1, 2, 3]) {
      const warm = await pack(tree, { segmentCache: cache, threads });
      expect(sha256(warm.output)).toBe(reference.sha256);
      expect(warm.sha256).toBe(reference.sha256);
      expect(warm.size).toBe(reference.size);
      expect(warm.segmentsSpliced).toBe(stored.length);
      expect(warm.bytesSpliced).toBeGreaterThan(0.95 * total);
      expect(verifyCache(cache).sort()).toEqual([...stored].sort());
    }
    // Without workers' timing mattering: a cold cache with 1 thread too.
    const cold1 = await pack(tree, { segmentCache: path.join(tempDir('cache'), 's'), threads: 1 });
    expect(cold1.sha256).toBe(reference.sha256);
  });

  it('recompresses only the segment whose file changed, whether its size changed or not, and keeps the cache to the current segments', async () => {
    const dir = tempDir('changed');
    fs.cpSync(tree, dir, { recursive: true, verbatimSymlinks: true });
    const cache = path.join(tempDir('cache'), 'segments');
    await pack(dir, { segmentCache: cache });
    const stored = verifyCache(cache);
    const file = path.join(dir, 'node_modules/alpha/lib/f2.js');
    const original = fs.readFileSync(file);

    // Same size, same everything but the bytes: the hint says "hit", the content key says no.
    const same = Buffer.from(original);
    same.write('CHANGED', 1000);
    fs.writeFileSync(file, same);
    const sameSize = await pack(dir, { segmentCache: cache });
    expect(sameSize.sha256).toBe((await pack(dir)).sha256);
    expect(sameSize.segmentsSpliced).toBe(stored.length - 1);
    const afterSame = verifyCache(cache);
    expect(afterSame.length).toBe(stored.length);
    expect(afterSame.filter((k) => !stored.includes(k))).toHaveLength(1); // the old alpha entry replaced by the new one

    // Another size: the hint misses, the segment is compressed directly.
    fs.writeFileSync(file, Buffer.concat([original, Buffer.from('// one more line\n')]));
    const grown = await pack(dir, { segmentCache: cache });
    expect(grown.sha256).toBe((await pack(dir)).sha256);
    expect(grown.segmentsSpliced).toBe(stored.length - 1);
    expect(verifyCache(cache).length).toBe(stored.length);

    // The app's own code is outside the big segments: nothing is recompressed but its small segment.
    fs.writeFileSync(path.join(dir, 'src/index.js'), "console.log('hello, world');\n");
    const app = await pack(dir, { segmentCache: cache });
    expect(app.sha256).toBe((await pack(dir)).sha256);
    expect(app.segmentsSpliced).toBe(stored.length);
  });

  describe('never splices a damaged entry, compressing the segment instead and replacing the entry', () => {
    const damages: Array<[string, (cache: string, key: string) => void]> = [
      ['a flipped byte in the data file', (cache, key) => {
        const f = path.join(cache, `${key}.seg`);
        const data = fs.readFileSync(f);
        data[data.length >> 1] = (data[data.length >> 1] as number) ^ 0x20;
        fs.writeFileSync(f, data);
      }],
      ['a truncated data file', (cache, key) => fs.truncateSync(path.join(cache, `${key}.seg`), 1000)],
      ['a data file with bytes appended', (cache, key) => fs.appendFileSync(path.join(cache, `${key}.seg`), 'x')],
      ['a missing data file', (cache, key) => fs.rmSync(path.join(cache, `${key}.seg`))],
      ['a deleted commit record', (cache, key) => fs.rmSync(path.join(cache, `${key}.ok`))],
      ['a garbled commit record', (cache, key) => fs.writeFileSync(path.join(cache, `${key}.ok`), '{"v":1,"in":')],
      ['a commit record with another hash', (cache, key) => {
        const f = path.join(cache, `${key}.ok`);
        const record = JSON.parse(fs.readFileSync(f, 'utf8')) as { sha256: string };
        fs.writeFileSync(f, JSON.stringify({ ...record, sha256: 'f'.repeat(64) }));
      }],
    ];
    it.each(damages)('%s', async (_label, damage) => {
      const cache = path.join(tempDir('cache'), 'segments');
      await pack(tree, { segmentCache: cache });
      const stored = verifyCache(cache);
      // The biggest entry: the runtime's.
      const key = [...stored].sort((a, b) => fs.statSync(path.join(cache, `${b}.seg`)).size - fs.statSync(path.join(cache, `${a}.seg`)).size)[0] as string;
      const good = fs.readFileSync(path.join(cache, `${key}.seg`));
      damage(cache, key);
      const r = await pack(tree, { segmentCache: cache });
      expect(r.sha256).toBe(reference.sha256);
      expect(sha256(r.output)).toBe(reference.sha256);
      expect(r.size).toBe(fs.statSync(r.output).size);
      expect(r.segmentsSpliced).toBe(stored.length - 1);
      expect(verifyCache(cache).sort()).toEqual([...stored].sort());
      expect(fs.readFileSync(path.join(cache, `${key}.seg`)).equals(good)).toBe(true);
      const again = await pack(tree, { segmentCache: cache });
      expect(again.segmentsSpliced).toBe(stored.length);
    });
  });

  it('removes the temporary files of packs that died, and entries and hints of other trees', async () => {
    const cache = path.join(tempDir('cache'), 'segments');
    const other = makeTree(1.3);
    await pack(other, { segmentCache: cache });
    const otherKeys = verifyCache(cache);
    const dead = spawnSync('true').pid as number; // exited: its pid is free
    fs.writeFileSync(path.join(cache, `.tmp-${dead}-abc-0.seg`), 'partial');
    fs.writeFileSync(path.join(cache, `.tmp-${process.pid}-abc-0.seg`), 'ours, maybe in use: kept');
    const r = await pack(tree, { segmentCache: cache });
    expect(r.sha256).toBe(reference.sha256);
    expect(fs.existsSync(path.join(cache, `.tmp-${dead}-abc-0.seg`))).toBe(false);
    fs.rmSync(path.join(cache, `.tmp-${process.pid}-abc-0.seg`));
    const keys = verifyCache(cache);
    expect(keys.filter((k) => otherKeys.includes(k))).toEqual([]);
    const hints = JSON.parse(fs.readFileSync(path.join(cache, 'hints.json'), 'utf8')) as { rows: Record<string, string> };
    expect(Object.values(hints.rows).sort()).toEqual(keys.sort());
  });

  it('gives the right bytes to two packs sharing one cache dir at the same time', async () => {
    const cache = path.join(tempDir('cache'), 'segments');
    await pack(tree, { segmentCache: cache });
    const other = makeTree(0.9);
    const otherRef = await pack(other);
    const [a, b, c] = await Promise.all([pack(tree, { segmentCache: cache }), pack(other, { segmentCache: cache }), pack(tree, { segmentCache: cache })]);
    expect(sha256(a.output)).toBe(reference.sha256);
    expect(sha256(b.output)).toBe(otherRef.sha256);
    expect(sha256(c.output)).toBe(reference.sha256);
    verifyCache(cache);
  });

  it('reports a file that vanished or shrank after listing as without a cache, though its segment was to be spliced', async () => {
    for (const change of ['vanish', 'shrink', 'vanish-empty'] as const) {
      const dir = tempDir('changing');
      fs.cpSync(tree, dir, { recursive: true, verbatimSymlinks: true });
      const cache = path.join(tempDir('cache'), 'segments');
      await pack(dir, { segmentCache: cache });
      const victim = path.join(dir, change === 'vanish-empty' ? 'node_modules/alpha/lib/empty.js' : 'node_modules/gamma/lib/f3.js');
      const size = fs.statSync(victim).size;
      const outDir = tempDir('out');
      const error = await packDirectory({
        dir,
        output: path.join(outDir, 'slug.tgz'),
        mtime: MTIME,
        segmentCache: cache,
        // The first report comes after listing and before any file is read.
        onProgress: (p) => {
          if (p.entries !== 0) return;
          if (change === 'shrink') fs.truncateSync(victim, 10);
          else fs.rmSync(victim);
        },
      }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.message).toBe(
        change !== 'shrink'
          ? `Couldn't package ${victim}: it vanished while the app was being packed.`
          : `Couldn't package ${victim}: it shrank while being packed (listed at ${size} bytes, ended after 10).`,
      );
      expect(fs.readdirSync(outDir)).toEqual([]);
      verifyCache(cache);
    }
  });

  it('splices a segment whose PAX header is cut between two of the workers\' hash jobs (8 MiB each)', async () => {
    const dir = tempDir('straddle');
    fs.mkdirSync(path.join(dir, 'big'));
    // big/ header (512), a's header (512) and data: the next header starts 512 bytes before 8 MiB.
    fs.writeFileSync(path.join(dir, 'big/a'), Buffer.alloc(8 * 2 ** 20 - 1536, 'abcdefgh'));
    fs.writeFileSync(path.join(dir, 'big', `${'n'.repeat(120)}.txt`), 'long name\n');
    const ref = await pack(dir);
    const cache = path.join(tempDir('cache'), 'segments');
    await pack(dir, { segmentCache: cache });
    const warm = await pack(dir, { segmentCache: cache });
    expect(warm.segmentsSpliced).toBe(1);
    expect(warm.sha256).toBe(ref.sha256);
  });

  it('leaves the segment cache out of the slug when it is inside the packed dir', async () => {
    const dir = tempDir('inside');
    fs.cpSync(tree, dir, { recursive: true, verbatimSymlinks: true });
    const cache = path.join(dir, '.cache', 'segments');
    const cold = await pack(dir, { segmentCache: cache });
    const warm = await pack(dir, { segmentCache: cache });
    expect(warm.segmentsSpliced).toBeGreaterThan(0);
    expect(warm.sha256).toBe(cold.sha256);
    fs.renameSync(cache, path.join(tempDir('moved'), 'segments'));
    expect((await pack(dir)).sha256).toBe(cold.sha256); // the same tree with an empty .cache/
  });

  it('ignores a cache dir it cannot create', async () => {
    const file = path.join(tempDir('cache'), 'a-file');
    fs.writeFileSync(file, '');
    const r = await pack(tree, { segmentCache: path.join(file, 'segments') });
    expect(r.sha256).toBe(reference.sha256);
  });
});

describe('packDirectory killed with SIGKILL', () => {
  /** The packer's sources, transpiled to plain ES modules, and a script that packs with them: the child needs no build. */
  let childScript: string;
  const tree = makeTree(2);
  let reference: PackResult & { output: string };
  beforeAll(async () => {
    const out = tempDir('packer');
    for (const rel of ['src/slug/pack.ts', 'src/slug/parallel-gzip.ts', 'src/slug/segment-cache.ts', 'src/slug/tar-writer.ts', 'src/errors.ts', 'src/text.ts']) {
      const js = ts.transpileModule(fs.readFileSync(path.join(repoRoot, rel), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      fs.mkdirSync(path.dirname(path.join(out, rel)), { recursive: true });
      fs.writeFileSync(path.join(out, rel.replace(/\.ts$/, '.js')), js);
    }
    fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}\n');
    childScript = path.join(out, 'child.js');
    fs.writeFileSync(
      childScript,
      `import { packDirectory } from './src/slug/pack.js';
const [dir, output, segmentCache] = process.argv.slice(2);
process.stdout.write('ready\\n');
await packDirectory({ dir, output, mtime: ${MTIME}, segmentCache });
process.stdout.write('done\\n');
`,
    );
    reference = await pack(tree);
  });

  /** Runs the child packer and kills it `delay` ms after it is ready; true when it finished first. */
  function packAndKill(output: string, cache: string, delay: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [childScript, tree, output, cache], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        const first = out === '';
        out += d.toString();
        if (first && out.startsWith('ready')) setTimeout(() => child.kill('SIGKILL'), delay);
      });
      child.on('error', reject);
      child.on('exit', () => resolve(out.includes('done')));
    });
  }

  async function killLoop(warm: boolean): Promise<void> {
    const delays = [0, 5, 15, 30, 60, 100, 150, 250, 400];
    let killedMidway = 0;
    const outDir = tempDir('out');
    const output = path.join(outDir, 'slug.tgz');
    const warmCache = path.join(tempDir('cache'), 'segments');
    if (warm) await packDirectory({ dir: tree, output: path.join(tempDir('out'), 'x.tgz'), mtime: MTIME, segmentCache: warmCache });
    for (const delay of delays) {
      const cache = warm ? warmCache : path.join(tempDir('cache'), 'segments');
      fs.rmSync(output, { force: true });
      const finished = await packAndKill(output, cache, delay);
      // A kill leaves nothing at the output path, unless the pack had got as far as renaming the complete slug into place.
      if (fs.existsSync(output)) expect(sha256(output)).toBe(reference.sha256);
      else killedMidway++;
      if (finished) expect(fs.existsSync(output)).toBe(true);
      // Whatever was committed before the kill is sound.
      if (fs.existsSync(cache)) verifyCache(cache, false);
      // The next pack succeeds, gives the same bytes, and leaves a sound cache with no leftovers.
      const next = await packDirectory({ dir: tree, output, mtime: MTIME, segmentCache: cache });
      expect(next.sha256).toBe(reference.sha256);
      expect(sha256(output)).toBe(reference.sha256);
      expect(fs.readdirSync(outDir)).toEqual(['slug.tgz']);
      const keys = verifyCache(cache);
      expect(next.segmentsSpliced).toBeLessThanOrEqual(keys.length);
    }
    expect(killedMidway).toBeGreaterThan(2);
  }

  it('while splicing from a warm cache', async () => {
    await killLoop(true);
  });

  it('while a cold pack writes the cache', async () => {
    await killLoop(false);
  });
});
