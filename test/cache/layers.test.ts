import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LayerStore, describeKeyChange } from '../../src/cache/layers.js';
import { listCache, pruneCache } from '../../src/cache/manage.js';
import { createLogger } from '../../src/index.js';
import { cleanup, tempDir } from 'slugc/testing';

afterEach(cleanup);

function store(root: string, opts: { disabled?: boolean } = {}) {
  const appDir = path.join(tempDir(), 'app');
  fs.mkdirSync(appDir);
  const log = createLogger();
  return { s: new LayerStore({ root, appDir, workDir: tempDir(), log, ...opts }), appDir, log };
}
const key = { stack: 'debian-12', node: '22.1.0', lockfile_sha256: '1a2b3c4d5e6f7a8b9c' };

/** Saves a layer `deps` with two files under `root`. */
async function saved(root: string, k = key) {
  const { s } = store(root);
  const l = s.open('slugc/nodejs', 'deps', k, { path: 'node_modules' });
  fs.rmSync(l.dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(l.dir, 'pkg'), { recursive: true });
  fs.writeFileSync(path.join(l.dir, 'pkg', 'index.js'), 'module.exports = 1;\n');
  fs.writeFileSync(path.join(l.dir, 'run'), '#!/bin/sh\n', { mode: 0o755 });
  fs.symlinkSync('pkg/index.js', path.join(l.dir, 'link'));
  await l.save();
}
const bpDir = (root: string) => path.join(root, 'layers', 'slugc_nodejs');

describe('the layer store', () => {
  it('restores a layer whose key matches, with modes and links, and says so', async () => {
    const root = tempDir();
    await saved(root);
    const { s, appDir, log } = store(root);
    const l = s.open('slugc/nodejs', 'deps', { ...key }, { path: 'node_modules' });
    expect(l).toMatchObject({ hit: true, state: 'restored', reason: 'restored', launch: true, dir: path.join(appDir, 'node_modules') });
    expect(fs.readFileSync(path.join(l.dir, 'pkg', 'index.js'), 'utf8')).toBe('module.exports = 1;\n');
    expect(fs.statSync(path.join(l.dir, 'run')).mode & 0o777).toBe(0o755);
    expect(fs.readlinkSync(path.join(l.dir, 'link'))).toBe('pkg/index.js');
    expect(fs.existsSync(path.join(l.dir, '.slugc-layer-id'))).toBe(false);
    expect(log.text()).toMatch(/cache hit: deps restored/);
  });

  it('keeps key order out of the comparison', async () => {
    const root = tempDir();
    await saved(root);
    const reordered = { lockfile_sha256: key.lockfile_sha256, node: key.node, stack: key.stack };
    expect(store(root).s.open('slugc/nodejs', 'deps', reordered).hit).toBe(true);
  });

  describe('starts empty and says why', () => {
    it('when there is no layer yet', () => {
      const { s, log } = store(tempDir());
      expect(s.open('slugc/nodejs', 'deps', key)).toMatchObject({ hit: false, state: 'new', reason: 'new' });
      expect(log.text()).toMatch(/cache miss: deps \(new\)/);
    });

    it('when the lockfile changed, showing both hashes', async () => {
      const root = tempDir();
      await saved(root);
      const l = store(root).s.open('slugc/nodejs', 'deps', { ...key, lockfile_sha256: '3c4d5e6f7a8b9c0d1e' });
      expect(l).toMatchObject({ hit: false, state: 'key-changed', reason: 'key changed: lockfile_sha256 1a2b3c4d.. -> 3c4d5e6f..' });
      expect(fs.readdirSync(l.dir)).toEqual([]);
    });

    it('when the stack changed', async () => {
      const root = tempDir();
      await saved(root);
      expect(store(root).s.open('slugc/nodejs', 'deps', { ...key, stack: 'heroku-24' }).reason).toBe('key changed: stack debian-12 -> heroku-24');
    });

    it('when the metadata is unreadable', async () => {
      const root = tempDir();
      await saved(root);
      fs.writeFileSync(path.join(bpDir(root), 'deps.json'), '{"format":1,"key":');
      expect(store(root).s.open('slugc/nodejs', 'deps', key)).toMatchObject({ hit: false, state: 'metadata-unreadable', reason: 'metadata unreadable' });
    });

    it('when contents exist without metadata (a crash before the metadata was written)', async () => {
      const root = tempDir();
      await saved(root);
      fs.rmSync(path.join(bpDir(root), 'deps.json'));
      expect(store(root).s.open('slugc/nodejs', 'deps', key)).toMatchObject({ hit: false, state: 'incomplete' });
    });

    it('when contents and metadata belong to different saves (a crash between write and rename)', async () => {
      const root = tempDir();
      await saved(root);
      // A later save renamed its new contents into place, then died before writing its metadata;
      // the metadata still on disk describes the old contents.
      const meta = fs.readFileSync(path.join(bpDir(root), 'deps.json'), 'utf8');
      await saved(root);
      fs.writeFileSync(path.join(bpDir(root), 'deps.json'), meta);
      expect(store(root).s.open('slugc/nodejs', 'deps', key)).toMatchObject({ hit: false, state: 'incomplete', reason: expect.stringMatching(/interrupted/) });
    });

    it('when the cache is disabled, and then writes nothing', async () => {
      const root = tempDir();
      const { s } = store(root, { disabled: true });
      const l = s.open('slugc/nodejs', 'deps', key);
      expect(l).toMatchObject({ hit: false, state: 'disabled' });
      fs.writeFileSync(path.join(l.dir, 'x'), 'y');
      await l.save();
      s.saveUnsaved('slugc/nodejs');
      expect(fs.readdirSync(root)).toEqual([]);
    });
  });

  it('never trusts a half-written save left by a killed build, and prune removes it', async () => {
    const root = tempDir();
    await saved(root);
    const half = path.join(bpDir(root), 'deps.tmp-99999-abcdef');
    fs.mkdirSync(half);
    fs.writeFileSync(path.join(half, 'partial'), 'x');
    expect(store(root).s.open('slugc/nodejs', 'deps', key).hit).toBe(true);
    const appsRoot = tempDir();
    fs.mkdirSync(path.join(appsRoot, 'apps'));
    fs.renameSync(root, path.join(appsRoot, 'apps', 'myapp'));
    pruneCache(appsRoot);
    expect(fs.readdirSync(path.join(appsRoot, 'apps', 'myapp', 'layers', 'slugc_nodejs')).sort()).toEqual(['deps', 'deps.json']);
  });

  it('saves new layers that the buildpack did not save itself, but not restored ones', async () => {
    const root = tempDir();
    const first = store(root).s;
    const l = first.open('bp', 'tools', { v: 1 });
    fs.writeFileSync(path.join(l.dir, 'tool'), 'x');
    first.saveUnsaved('bp');
    const second = store(root).s;
    const again = second.open('bp', 'tools', { v: 1 });
    expect(again.hit).toBe(true);
    fs.writeFileSync(path.join(again.dir, 'changed'), 'y');
    second.saveUnsaved('bp');
    expect(fs.existsSync(path.join(root, 'layers', 'bp', 'tools', 'changed'))).toBe(false);
  });

  it('refuses a layer path outside the app dir and a name used twice', () => {
    const { s } = store(tempDir());
    expect(() => s.open('bp', 'x', key, { path: '../escape' })).toThrow(expect.objectContaining({ code: 'SLUGC_INVALID_INPUT' }));
    s.open('bp', 'y', key);
    expect(() => s.open('bp', 'y', key)).toThrow(/twice/);
  });

  it('describes every changed key field', () => {
    expect(describeKeyChange({ a: 1, b: 'x', c: true }, { a: 2, b: 'x', d: null })).toBe('a 1 -> 2, c true -> (none), d (none) -> null');
  });
});

describe('layers restored by hard link', () => {
  /** Saves a linked layer `deps` (two files, a link) and returns the root. */
  async function savedLinked(root: string) {
    const { s } = store(root);
    const l = s.open('slugc/nodejs', 'deps', key, { path: 'node_modules', restore: 'link' });
    fs.mkdirSync(path.join(l.dir, 'pkg'), { recursive: true });
    fs.writeFileSync(path.join(l.dir, 'pkg', 'index.js'), 'module.exports = 1;\n');
    fs.writeFileSync(path.join(l.dir, 'run'), '#!/bin/sh\n', { mode: 0o755 });
    fs.symlinkSync('pkg/index.js', path.join(l.dir, 'link'));
    // As npm unpacks them: a fixed old mtime (1985), so a later write always moves it.
    for (const f of ['pkg/index.js', 'run']) fs.utimesSync(path.join(l.dir, f), 499162500, 499162500);
    await l.save();
    return l;
  }

  it('saves and restores by link: the build\'s files are the cached files, no data copied', async () => {
    const root = tempDir();
    const first = await savedLinked(root);
    const cached = path.join(bpDir(root), 'deps', 'pkg', 'index.js');
    expect(fs.statSync(cached).ino).toBe(fs.statSync(path.join(first.dir, 'pkg', 'index.js')).ino);
    const { s } = store(root);
    const l = s.open('slugc/nodejs', 'deps', key, { path: 'node_modules', restore: 'link' });
    expect(l).toMatchObject({ hit: true, state: 'restored' });
    expect(fs.statSync(path.join(l.dir, 'pkg', 'index.js')).ino).toBe(fs.statSync(cached).ino);
    expect(fs.readlinkSync(path.join(l.dir, 'link'))).toBe('pkg/index.js');
    expect(fs.statSync(path.join(l.dir, 'run')).mode & 0o777).toBe(0o755);
  });

  it.each([
    ['rewritten in place', (f: string) => fs.writeFileSync(f, 'module.exports = 2;\n')],
    ['appended to', (f: string) => fs.appendFileSync(f, '// more\n')],
    ['truncated', (f: string) => fs.truncateSync(f, 3)],
    ['chmod-ed', (f: string) => fs.chmodSync(f, 0o600)],
  ])('notices a file %s through a link by an earlier build and rebuilds the layer instead of restoring it', async (_what, change) => {
    const root = tempDir();
    await savedLinked(root);
    // A build restores the layer and then writes into one of its files in place.
    const b1 = store(root).s.open('slugc/nodejs', 'deps', key, { path: 'node_modules', restore: 'link' });
    expect(b1.hit).toBe(true);
    change(path.join(b1.dir, 'pkg', 'index.js'));
    // The next build does not restore what that build changed.
    const { s, log } = store(root);
    const b2 = s.open('slugc/nodejs', 'deps', key, { path: 'node_modules', restore: 'link' });
    expect(b2).toMatchObject({ hit: false, state: 'modified' });
    expect(fs.readdirSync(b2.dir)).toEqual([]);
    expect(log.text()).toMatch(/cache miss: deps \(modified: the cached copy changed after it was saved/);
    // Rebuilt and saved again, it is restored by the build after.
    fs.writeFileSync(path.join(b2.dir, 'fresh.js'), 'ok\n');
    await b2.save();
    const b3 = store(root).s.open('slugc/nodejs', 'deps', key, { path: 'node_modules', restore: 'link' });
    expect(b3).toMatchObject({ hit: true, state: 'restored' });
    expect(fs.readdirSync(b3.dir)).toEqual(['fresh.js']);
  });

  it('leaves the cached copy alone when a build deletes, renames or adds files', async () => {
    const root = tempDir();
    await savedLinked(root);
    const b1 = store(root).s.open('slugc/nodejs', 'deps', key, { path: 'node_modules', restore: 'link' });
    fs.rmSync(path.join(b1.dir, 'pkg'), { recursive: true });
    fs.renameSync(path.join(b1.dir, 'run'), path.join(b1.dir, 'run2'));
    fs.writeFileSync(path.join(b1.dir, 'new.js'), 'x');
    const b2 = store(root).s.open('slugc/nodejs', 'deps', key, { path: 'node_modules', restore: 'link' });
    expect(b2).toMatchObject({ hit: true, state: 'restored' });
    expect(fs.readdirSync(b2.dir).sort()).toEqual(['link', 'pkg', 'run']);
  });

  it('copies a layer saved without a manifest (by an older slugc) instead of linking it', async () => {
    const root = tempDir();
    await saved(root);
    const l = store(root).s.open('slugc/nodejs', 'deps', key, { path: 'node_modules', restore: 'link' });
    expect(l.hit).toBe(true);
    expect(fs.statSync(path.join(l.dir, 'pkg', 'index.js')).ino).not.toBe(fs.statSync(path.join(bpDir(root), 'deps', 'pkg', 'index.js')).ino);
  });
});

describe('stale contents', () => {
  it('hands over the previous contents when only a stale-able key field changed, never otherwise', async () => {
    const root = tempDir();
    await saved(root);
    const changedLock = { ...key, lockfile_sha256: 'ffff0000ffff0000' };
    const a = store(root).s.open('slugc/nodejs', 'deps', changedLock, { path: 'node_modules', stale: ['lockfile_sha256'] });
    expect(a).toMatchObject({ hit: false, stale: true, state: 'key-changed', reason: expect.stringMatching(/; the previous contents restored, to be updated$/) });
    expect(fs.readFileSync(path.join(a.dir, 'pkg', 'index.js'), 'utf8')).toBe('module.exports = 1;\n');
    const b = store(root).s.open('slugc/nodejs', 'deps', { ...changedLock, node: '24.0.0' }, { path: 'node_modules', stale: ['lockfile_sha256'] });
    expect(b).toMatchObject({ hit: false, stale: false });
    expect(fs.readdirSync(b.dir)).toEqual([]);
    const c = store(root).s.open('slugc/nodejs', 'deps', changedLock, { path: 'node_modules' });
    expect(c.stale).toBe(false);
  });
});

describe('eviction', () => {
  it('removes the least recently used layers until the cap is met, leaving locked apps alone', async () => {
    const root = tempDir();
    const layer = (app: string, name: string, bytes: number, lastUsed: string) => {
      const dir = path.join(root, 'apps', app, 'layers', 'bp', name);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'data'), Buffer.alloc(bytes));
      fs.writeFileSync(path.join(dir, '.slugc-layer-id'), `id-${name}`);
      fs.writeFileSync(`${dir}.json`, JSON.stringify({ format: 1, buildpack: 'bp', layer: name, key: {}, id: `id-${name}`, launch: false, size: bytes, files: 1, createdAt: lastUsed, lastUsed }));
    };
    layer('a', 'old', 1000, '2026-01-01T00:00:00Z');
    layer('a', 'mid', 1000, '2026-02-01T00:00:00Z');
    layer('b', 'oldest', 1000, '2025-01-01T00:00:00Z');
    layer('a', 'new', 1000, '2026-03-01T00:00:00Z');
    const r = pruneCache(root, { maxBytes: 2000, skipApps: new Set(['b']) });
    expect(r.removed.map((x) => `${x.app}/${x.layer}`)).toEqual(['a/old']);
    expect(listCache(root).layers.map((l) => `${l.app}/${l.layer}`).sort()).toEqual(['a/mid', 'a/new', 'b/oldest']);
    const r2 = pruneCache(root, { maxBytes: 1500 });
    expect(r2.removed.map((x) => `${x.app}/${x.layer}`)).toEqual(['b/oldest', 'a/mid']);
    expect(r2.remaining).toBe(1000);
  });

  it("counts each app's segment cache against the cap and evicts it whole, least recently used first, unless kept", async () => {
    const root = tempDir();
    const segments = (app: string, bytes: number, when: string) => {
      const dir = path.join(root, 'apps', app, 'segments');
      fs.mkdirSync(dir, { recursive: true });
      for (const f of ['k.seg', 'k.ok']) {
        fs.writeFileSync(path.join(dir, f), Buffer.alloc(f.endsWith('.seg') ? bytes : 10));
        fs.utimesSync(path.join(dir, f), new Date(when), new Date(when));
      }
      fs.utimesSync(dir, new Date(when), new Date(when));
    };
    segments('a', 3000, '2026-01-01T00:00:00Z');
    segments('b', 3000, '2026-06-01T00:00:00Z');
    segments('c', 3000, '2026-03-01T00:00:00Z');
    // a is kept (the app being built), so c, the older of the others, goes.
    const r = pruneCache(root, { maxBytes: 7000, keep: new Set(['a/slugc/segments']) });
    expect(r.removed).toEqual([{ app: 'c', buildpack: 'slugc', layer: 'segments', size: 3010, why: expect.stringMatching(/^least recently used \(last 2026-03-01/) }]);
    expect(fs.existsSync(path.join(root, 'apps', 'c', 'segments'))).toBe(false);
    expect(r.remaining).toBe(6020);
    const r2 = pruneCache(root, { maxBytes: 1 << 20 });
    expect(r2.removed).toEqual([]);
  });
});
