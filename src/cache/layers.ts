import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SlugcError } from '../errors.js';
import { assertInside } from '../fs/inside.js';
import type { Logger } from '../log.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { copyTree, treeManifest, treeSize } from '../fs/tree.js';
import { SAFE_NAME_PATTERN, safeName } from '../names.js';

/** Why a layer is what it is: restored from the cache, or empty and why. */
export type LayerState = 'restored' | 'new' | 'key-changed' | 'metadata-unreadable' | 'incomplete' | 'modified' | 'disabled';

/** A plain object of what a layer's contents depend on (stack, versions, lockfile sha256...). */
export type LayerKey = Record<string, string | number | boolean | null>;

/** Options of a layer. */
export interface LayerOptions {
  /**
   * Where the layer lives during the build, relative to the app dir, e.g.
   * `node_modules`: then it is a launch layer, part of the slug. Without it
   * the layer is build-only: a dir outside the app that is only cached.
   */
  path?: string;
  /**
   * A dir of shared files that must not change, such as a runtime installed
   * in the cache's runtime store: the layer is made of hard links to it
   * (copies across filesystems) on every build, hit or miss, and the cache
   * keeps only the layer's key, never a second copy. Whatever the buildpack
   * adds to the layer is not cached: add it again on every build.
   */
  linkFrom?: string;
  /**
   * How the contents go between the cache and the build: `copy` (default)
   * gives the build its own files; `link` makes them hard links to the
   * cached copy both ways (restore and save cost one link per file, no
   * data is copied). A build that rewrites a linked file in place changes
   * the cached copy too, so a stat manifest (path, size, mtime, mode, inode
   * of every entry) is recorded when the layer is saved and checked before
   * each restore: a layer changed since it was saved is dropped and rebuilt
   * (`modified`), never restored. Use it for trees that are only read after
   * they are installed, such as `node_modules`; across filesystems the
   * files are copied.
   */
  restore?: 'copy' | 'link';
  /**
   * Key fields whose change still hands the previous contents to the build
   * (`stale` is true, `hit` false), so the buildpack can update them in
   * place instead of starting over: e.g. `['lockfile_sha256']` lets a
   * package manager add the one package a lockfile change added to the
   * tree it installed last time. A change to any other field (a runtime
   * version, the stack) starts empty as usual. Contents that fail the
   * manifest check are never handed over.
   */
  stale?: readonly string[];
  /**
   * False keeps the layer on this machine: it is not pushed to a remote
   * cache (for layers that only speed up some rebuilds and would cost every
   * push and every fresh machine a download). Default true.
   */
  share?: boolean;
}

/** A layer handed to a buildpack. */
export interface Layer {
  /** The layer's name, e.g. `node_modules`. */
  readonly name: string;
  /** Where its contents are during the build (in the app dir for launch layers). */
  readonly dir: string;
  /** True when its contents were restored from the cache. */
  readonly hit: boolean;
  /** Why it is restored or empty. */
  readonly state: LayerState;
  /** The same in words, as the log prints it (`key changed: lockfile_sha256 1a2b.. -> 3c4d..`). */
  readonly reason: string;
  /** The key it was opened with. */
  readonly key: LayerKey;
  /** True when it is part of the slug. */
  readonly launch: boolean;
  /** True when the key changed only in fields named by `stale` and the previous contents were restored to be updated. */
  readonly stale: boolean;
  /**
   * Stores the layer's current contents in the cache, atomically (written
   * beside, metadata fsynced, renamed). A layer that started empty and was
   * not saved explicitly is saved when its buildpack's compile succeeds; a
   * restored layer is saved again only when the buildpack calls this.
   */
  save(): Promise<void>;
}

/** A layer's metadata file (`<layer>.json`). */
export interface LayerMetadata {
  format: 1;
  buildpack: string;
  layer: string;
  key: LayerKey;
  /** Matches `<layer>/.slugc-layer-id`: contents and metadata belong together. */
  id: string;
  launch: boolean;
  /** Bytes of file data. */
  size: number;
  files: number;
  createdAt: string;
  lastUsed: string;
  /** True when the contents are linked from a shared dir on each build and only the key is kept. */
  linked?: boolean;
  /** For layers restored by hard link: sha256 of the stat manifest of the stored contents when saved. */
  manifest?: string;
}

/** The file inside a layer dir that ties it to its metadata. */
const ID_FILE = '.slugc-layer-id';


/** Shortens long key values for messages. */
function show(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 12 ? `${s.slice(0, 8)}..` : s;
}

/** The names of the key fields that differ. */
function changedFields(before: LayerKey, after: LayerKey): string[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  return names.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}

/** Says which key fields differ: `lockfile_sha256 1a2b.. -> 3c4d.., node 20.1.0 -> 22.1.0`. */
export function describeKeyChange(before: LayerKey, after: LayerKey): string {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const changed = names.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  return changed.map((k) => `${k} ${k in before ? show(before[k]) : '(none)'} -> ${k in after ? show(after[k]) : '(none)'}`).join(', ');
}

/** Reads a layer's metadata; null when missing, throws when unreadable. */
export function readLayerMetadata(file: string): LayerMetadata | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const m = JSON.parse(text) as LayerMetadata;
  if (m?.format !== 1 || typeof m.id !== 'string' || typeof m.key !== 'object') throw new Error('not a layer metadata file');
  return m;
}

/** What a layer store needs. */
export interface LayerStoreOptions {
  /** The namespace dir: `<cache>/apps/<app>`. */
  root: string;
  /** The app dir (launch layers live inside it). */
  appDir: string;
  /** Where build-only layers live during the build. */
  workDir: string;
  /** The build log. */
  log: Logger;
  /** Layers are neither read nor written (`--no-cache`). */
  disabled?: boolean;
  /** Receives the milliseconds spent restoring and saving layers (`restore`, `save`). */
  steps?: { add(step: string, ms: number): void };
  /** What the remote cache did per layer (`<bp>\0<layer>`), for the log and the report; absent without a remote cache. */
  remote?: Map<string, { outcome: string; why: string }>;
}

/** The layers of one build: opens, restores and saves them. */
export class LayerStore {
  private readonly opened: { bp: string; layer: Layer; saved: boolean; doSave: () => void }[] = [];
  /** Layers whose contents this build stored (`<bp>\0<name>`), for pushing to a remote cache. */
  private readonly saved = new Set<string>();

  constructor(private readonly opts: LayerStoreOptions) {}

  /** `<root>/layers/<buildpack>/`. */
  private bpDir(bp: string) {
    return path.join(this.opts.root, 'layers', safeName(bp));
  }

  /**
   * Opens a layer for a buildpack: restores its contents when the stored key
   * equals `key` and the stored layer is complete, else starts it empty and
   * says why in the log.
   */
  open(bp: string, name: string, key: LayerKey, options: LayerOptions = {}): Layer {
    if (!SAFE_NAME_PATTERN.test(name)) {
      throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't open the layer ${JSON.stringify(name)}: bad name.`, { hint: 'Use letters, digits, ., _ and -.' });
    }
    if (this.opened.some((o) => o.bp === bp && o.layer.name === name)) {
      throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't open the layer ${name} twice in one build.`, { hint: 'Keep the Layer object from the first call.' });
    }
    const launch = options.path !== undefined;
    const dir = launch ? path.resolve(this.opts.appDir, options.path!) : path.join(this.opts.workDir, 'layers', safeName(bp), name);
    if (launch && !dir.startsWith(this.opts.appDir + path.sep)) {
      throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't open the layer ${name}: its path ${options.path} leaves the app dir.`, { hint: 'Give a path inside the app, e.g. node_modules.' });
    }
    if (launch) assertInside(this.opts.appDir, dir, `the layer ${name}`);
    const stored = path.join(this.bpDir(bp), name);
    const metaFile = `${stored}.json`;
    let state: LayerState;
    let reason: string;
    let meta: LayerMetadata | null = null;
    if (this.opts.disabled) {
      state = 'disabled';
      reason = 'cache disabled (--no-cache)';
    } else {
      let unreadable = false;
      try {
        meta = readLayerMetadata(metaFile);
      } catch {
        unreadable = true;
      }
      if (unreadable) {
        state = 'metadata-unreadable';
        reason = 'metadata unreadable';
      } else if (!meta) {
        state = 'new';
        reason = fs.existsSync(stored) ? 'incomplete: contents without metadata' : 'new';
        if (fs.existsSync(stored)) state = 'incomplete';
      } else if (!meta.linked && !sameId(stored, meta.id)) {
        state = 'incomplete';
        reason = 'incomplete: contents do not match the metadata (a save was interrupted)';
      } else if (JSON.stringify(sortKeys(meta.key)) !== JSON.stringify(sortKeys(key))) {
        state = 'key-changed';
        reason = `key changed: ${describeKeyChange(meta.key, key)}`;
      } else if (meta.manifest !== undefined && statManifestHash(stored) !== meta.manifest) {
        // Written through a hard link by an earlier build (or edited in the cache): never restored.
        state = 'modified';
        reason = 'modified: the cached copy changed after it was saved (a file rewritten in place through a hard link); rebuilding it';
        fs.rmSync(metaFile, { force: true });
      } else {
        state = 'restored';
        reason = 'restored';
      }
    }
    // The previous contents of a layer whose key changed only where the buildpack can update them.
    let stale = false;
    if (state === 'key-changed' && meta && options.stale?.length) {
      const changed = changedFields(meta.key, key);
      if (changed.every((k) => options.stale!.includes(k)) && (meta.manifest === undefined || statManifestHash(stored) === meta.manifest)) {
        stale = true;
        reason += '; the previous contents restored, to be updated';
      }
    }
    const started = performance.now();
    // Only a layer saved with a manifest is linked: without one a write through a link would go unnoticed.
    const linkRestore = options.restore === 'link' && meta?.manifest !== undefined;
    fs.rmSync(dir, { recursive: true, force: true });
    if (options.linkFrom !== undefined) {
      copyTree(options.linkFrom, dir, 'hardlink');
      if (state === 'restored') touch(metaFile);
    } else if (state === 'restored' || stale) {
      copyTree(stored, dir, linkRestore ? 'hardlink' : 'copy', (n) => n === ID_FILE);
      touch(metaFile);
    } else {
      fs.mkdirSync(dir, { recursive: true });
    }
    this.opts.steps?.add('restore', performance.now() - started);
    const hit = state === 'restored';
    if (this.opts.remote && !this.opts.disabled && options.linkFrom === undefined) {
      const r = this.opts.remote.get(`${bp}\0${name}`);
      if (hit && r?.outcome === 'imported') reason = `restored from the remote cache (${r.why})`;
      else if (hit) reason = 'restored (local)';
      else reason += r ? `; remote: ${r.outcome === 'local' ? 'no newer copy' : `${r.outcome}, ${r.why}`}` : '; remote: none';
    }
    this.opts.log.info(`cache ${hit ? 'hit' : 'miss'}: ${name} ${hit ? reason : `(${reason})`}`);
    const self = this;
    const entry = {
      bp,
      saved: false,
      layer: undefined as unknown as Layer,
      doSave() {
        if (self.opts.disabled) return;
        const t = performance.now();
        if (options.linkFrom !== undefined) self.saveLinkedLayer(bp, name, key, dir, launch);
        else self.saveLayer(bp, name, key, dir, launch, options.restore === 'link', options.share !== false);
        self.opts.steps?.add('save', performance.now() - t);
        entry.saved = true;
      },
    };
    entry.layer = {
      name,
      dir,
      hit,
      state,
      reason,
      key,
      launch,
      stale,
      async save() {
        entry.doSave();
      },
    };
    this.opened.push(entry);
    return entry.layer;
  }

  /** Saves the new layers of `bp` that it did not save itself (called when its compile succeeds). */
  saveUnsaved(bp: string): void {
    for (const o of this.opened) if (o.bp === bp && !o.saved && !o.layer.hit) o.doSave();
  }

  /** The layers whose contents this build stored and may share (not linked ones: they keep only a key; not `share: false` ones). */
  savedLayers(): { buildpack: string; layer: string }[] {
    return [...this.saved].map((k) => {
      const [buildpack, layer] = k.split('\0') as [string, string];
      return { buildpack, layer };
    });
  }

  /** The layers opened in this build. */
  layers(): { buildpack: string; layer: Layer }[] {
    return this.opened.map((o) => ({ buildpack: o.bp, layer: o.layer }));
  }

  /** A linked layer keeps only its key: the metadata, and no contents. */
  private saveLinkedLayer(bp: string, name: string, key: LayerKey, dir: string, launch: boolean): void {
    const bpDir = this.bpDir(bp);
    fs.mkdirSync(bpDir, { recursive: true });
    const stored = path.join(bpDir, name);
    const now = new Date().toISOString();
    const files = Object.keys(treeManifest(dir)).length;
    const meta: LayerMetadata = { format: 1, buildpack: bp, layer: name, key, id: 'linked', launch, size: 0, files, createdAt: now, lastUsed: now, linked: true };
    writeFileAtomic(`${stored}.json`, JSON.stringify(meta, null, 2) + '\n');
    fs.rmSync(stored, { recursive: true, force: true }); // contents of an earlier, copied layer
    this.opts.log.info(`cache: saved ${name} (key only: linked from the runtime store)`);
  }

  private saveLayer(bp: string, name: string, key: LayerKey, dir: string, launch: boolean, link: boolean, share: boolean): void {
    const bpDir = this.bpDir(bp);
    fs.mkdirSync(bpDir, { recursive: true });
    const stored = path.join(bpDir, name);
    const nonce = crypto.randomBytes(8).toString('hex');
    const tmp = `${stored}.tmp-${process.pid}-${nonce}`;
    try {
      const files = copyTree(dir, tmp, link ? 'hardlink' : 'copy', (n) => n === ID_FILE);
      const size = treeSize(tmp);
      fs.writeFileSync(path.join(tmp, ID_FILE), nonce);
      const now = new Date().toISOString();
      const meta: LayerMetadata = { format: 1, buildpack: bp, layer: name, key, id: nonce, launch, size, files, createdAt: now, lastUsed: now };
      // Linked contents are shared with the build: remember their stat manifest to notice a write through a link.
      if (link) meta.manifest = statManifestHash(tmp);
      commitLayerDir(stored, tmp, meta);
      if (share) this.saved.add(`${bp}\0${name}`);
      this.opts.log.info(`cache: saved ${name} (${files} files${link ? ', hard links' : ''})`);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
}

/**
 * Puts a prepared tree (`tmp`, its id file inside, naming `meta.id`) in
 * place as the layer stored at `stored`, with its metadata. Order matters
 * for crash safety: the old metadata goes first, so at every instant either
 * no metadata exists or it names the contents beside it.
 */
export function commitLayerDir(stored: string, tmp: string, meta: LayerMetadata): void {
  const metaFile = `${stored}.json`;
  fs.rmSync(metaFile, { force: true });
  const old = `${stored}.old-${meta.id}`;
  if (fs.existsSync(stored)) fs.renameSync(stored, old);
  fs.renameSync(tmp, stored);
  writeFileAtomic(metaFile, JSON.stringify(meta, null, 2) + '\n');
  fs.rmSync(old, { recursive: true, force: true });
}

/** The file inside a stored layer dir that ties it to its metadata. */
export const LAYER_ID_FILE = ID_FILE;

/** `<app cache>/layers/<buildpack>/<layer>`: where a layer is stored. */
export function storedLayerPath(appCacheDir: string, bp: string, name: string): string {
  return path.join(appCacheDir, 'layers', safeName(bp), name);
}

/**
 * The stored layer, when it is complete (metadata naming the contents
 * beside it, and for linked-restore layers an unchanged stat manifest);
 * null otherwise.
 */
export function intactLayer(appCacheDir: string, bp: string, name: string): LayerMetadata | null {
  const stored = storedLayerPath(appCacheDir, bp, name);
  let meta: LayerMetadata | null;
  try {
    meta = readLayerMetadata(`${stored}.json`);
  } catch {
    return null;
  }
  if (!meta || meta.linked) return meta;
  if (!sameId(stored, meta.id)) return null;
  if (meta.manifest !== undefined && statManifestHash(stored) !== meta.manifest) return null;
  return meta;
}

/**
 * sha256 of a tree's stat manifest: every entry's relative path, type, mode,
 * size, mtime and inode (link targets for symlinks), the layer id file
 * aside. A file rewritten in place through a hard link changes its size or
 * mtime; a chmod changes its mode; a file replaced in the cache changes its
 * inode. Renaming the tree changes none of it.
 */
export function statManifestHash(dir: string): string {
  const h = crypto.createHash('sha256');
  h.update('slugc-layer-manifest-1\n');
  const walk = (abs: string, rel: string) => {
    const names = fs.readdirSync(abs).sort();
    for (const n of names) {
      if (!rel && n === ID_FILE) continue;
      const p = path.join(abs, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) h.update(`l ${r}\0${fs.readlinkSync(p)}\n`);
      else if (st.isDirectory()) {
        h.update(`d ${r}\0${st.mode & 0o7777}\n`);
        walk(p, r);
      } else h.update(`f ${r}\0${st.mode & 0o7777} ${st.size} ${st.mtimeMs} ${st.ino}\n`);
    }
  };
  walk(dir, '');
  return h.digest('hex');
}

function sameId(stored: string, id: string): boolean {
  try {
    return fs.readFileSync(path.join(stored, ID_FILE), 'utf8') === id;
  } catch {
    return false;
  }
}

function sortKeys(k: LayerKey): LayerKey {
  return Object.fromEntries(Object.entries(k).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Updates a layer's `lastUsed`, for least-recently-used eviction. */
function touch(metaFile: string): void {
  try {
    const m = readLayerMetadata(metaFile);
    if (m) writeFileAtomic(metaFile, JSON.stringify({ ...m, lastUsed: new Date().toISOString() }, null, 2) + '\n');
  } catch {
    /* an unreadable file is dealt with when the layer is next opened */
  }
}
