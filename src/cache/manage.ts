import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SlugcError } from '../errors.js';
import { readLayerMetadata, type LayerKey } from './layers.js';
import { safeName } from '../names.js';
import { tryLock, type Lock } from './lock.js';
import { treeSize } from '../fs/tree.js';

/** One cached layer, as `slugc cache ls` shows it. */
export interface CacheEntry {
  app: string;
  buildpack: string;
  layer: string;
  /** `ok`, or why it would not be restored. */
  state: 'ok' | 'incomplete' | 'metadata-unreadable';
  key: LayerKey | null;
  size: number;
  files: number;
  lastUsed: string | null;
  launch: boolean;
}

/** What the cache holds. */
export interface CacheListing {
  root: string;
  layers: CacheEntry[];
  /** Bytes in the shared stores (verified downloads, unpacked runtimes, registry documents). */
  shared: { downloads: number; runtimes: number; metadata: number };
}

/** The cache namespace of an app: its name, or the source dir's name and a hash of its real path. */
export function appNamespace(sourceDir: string, app?: string): string {
  if (app) return validAppName(app);
  let real = path.resolve(sourceDir);
  try {
    real = fs.realpathSync(real);
  } catch {
    /* keep the resolved path */
  }
  return `${safeName(path.basename(real))}-${crypto.createHash('sha256').update(real).digest('hex').slice(0, 12)}`;
}

/** An app name as a cache namespace: letters, digits, `.`, `_`, `-`, starting with a letter or digit (so never `.` or `..`). */
export function validAppName(app: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(app)) {
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't use ${JSON.stringify(app)} as an app name.`, { hint: 'Use letters, digits, ., _ and -, starting with a letter or digit (e.g. my-app).' });
  }
  return app;
}

/** Lists every layer of every app in a cache dir. */
export function listCache(root: string): CacheListing {
  const layers: CacheEntry[] = [];
  const appsDir = path.join(root, 'apps');
  for (const app of readdir(appsDir)) {
    const layersDir = path.join(appsDir, app, 'layers');
    if (!isDir(path.join(appsDir, app))) continue;
    for (const bp of readdir(layersDir)) {
      const bpDir = path.join(layersDir, bp);
      const names = new Set<string>();
      for (const f of readdir(bpDir)) {
        if (/\.(tmp|old)-/.test(f)) continue;
        names.add(f.endsWith('.json') ? f.slice(0, -5) : f);
      }
      for (const layer of [...names].sort()) {
        const metaFile = path.join(bpDir, `${layer}.json`);
        let state: CacheEntry['state'] = 'ok';
        let meta = null;
        try {
          meta = readLayerMetadata(metaFile);
          if (!meta) state = 'incomplete';
        } catch {
          state = 'metadata-unreadable';
        }
        if (meta) {
          let id = '';
          try {
            id = fs.readFileSync(path.join(bpDir, layer, '.slugc-layer-id'), 'utf8');
          } catch {
            id = '';
          }
          if (id !== meta.id && !meta.linked) state = 'incomplete';
        }
        layers.push({
          app,
          buildpack: meta?.buildpack ?? bp,
          layer,
          state,
          key: meta?.key ?? null,
          size: meta?.size ?? treeSize(path.join(bpDir, layer)),
          files: meta?.files ?? 0,
          lastUsed: meta?.lastUsed ?? null,
          launch: meta?.launch ?? false,
        });
      }
    }
  }
  return {
    root,
    layers,
    shared: { downloads: treeSize(path.join(root, 'downloads')), runtimes: treeSize(path.join(root, 'runtimes')), metadata: treeSize(path.join(root, 'metadata')) },
  };
}

/** What {@link pruneCache} removed. */
export interface PruneResult {
  removed: { app: string; buildpack: string; layer: string; size: number; why: string }[];
  freed: number;
  /** Total bytes of layers (and segment caches) left. */
  remaining: number;
}

/**
 * Removes broken layers and leftovers of interrupted saves, then, while the
 * layers take more than `maxBytes`, the least recently used ones. Apps in
 * `skipApps` (whose builds hold their locks) are left alone.
 */
export function pruneCache(root: string, options: { maxBytes?: number; skipApps?: Set<string>; keep?: Set<string>; ownApp?: string } = {}): PruneResult {
  const appsDir = path.join(root, 'apps');
  // Hold each app's lock while touching its layers: a build of that app starting now waits,
  // and an app whose build is running is left alone.
  const skip = new Set(options.skipApps ?? []);
  const held: Lock[] = [];
  for (const app of readdir(appsDir)) {
    if (app.endsWith('.lock') || app === options.ownApp || skip.has(app) || !isDir(path.join(appsDir, app))) continue;
    const lock = tryLock(path.join(appsDir, app));
    if (lock) held.push(lock);
    else skip.add(app);
  }
  try {
    return pruneLocked(root, appsDir, skip, options);
  } finally {
    for (const l of held) l.release();
  }
}

function pruneLocked(root: string, appsDir: string, skip: Set<string>, options: { maxBytes?: number; keep?: Set<string> }): PruneResult {
  const removed: PruneResult['removed'] = [];
  // Leftovers of interrupted saves.
  for (const app of readdir(appsDir)) {
    if (skip.has(app)) continue;
    for (const bp of readdir(path.join(appsDir, app, 'layers'))) {
      const bpDir = path.join(appsDir, app, 'layers', bp);
      for (const f of readdir(bpDir)) if (/\.(tmp|old)-/.test(f)) fs.rmSync(path.join(bpDir, f), { recursive: true, force: true });
    }
  }
  const listing = listCache(root).layers.filter((l) => !skip.has(l.app));
  const layerPath = (l: CacheEntry) => path.join(appsDir, l.app, 'layers', safeName(l.buildpack), l.layer);
  const drop = (l: CacheEntry, why: string) => {
    const p = layerPath(l);
    fs.rmSync(`${p}.json`, { force: true });
    fs.rmSync(p, { recursive: true, force: true });
    removed.push({ app: l.app, buildpack: l.buildpack, layer: l.layer, size: l.size, why });
  };
  const healthy: CacheEntry[] = [];
  for (const l of listing) {
    if (l.state !== 'ok') drop(l, l.state);
    else healthy.push(l);
  }
  // Each app's segment cache (the compressed parts of its last slug) counts too, and goes as a whole.
  const segments = readdir(appsDir)
    .filter((app) => !skip.has(app))
    .map((app) => ({ app, dir: path.join(appsDir, app, SEGMENTS_DIR), ...treeUsage(path.join(appsDir, app, SEGMENTS_DIR)) }))
    .filter((x) => x.size > 0);
  type Candidate = { app: string; buildpack: string; layer: string; size: number; lastUsed: string | null; drop(why: string): void };
  const candidates: Candidate[] = [
    ...healthy.map((l) => ({ app: l.app, buildpack: l.buildpack, layer: l.layer, size: l.size, lastUsed: l.lastUsed, drop: (why: string) => drop(l, why) })),
    ...segments.map((x) => ({
      app: x.app,
      buildpack: SEGMENTS_OWNER,
      layer: SEGMENTS_DIR,
      size: x.size,
      lastUsed: new Date(x.mtimeMs).toISOString(),
      drop(why: string) {
        fs.rmSync(x.dir, { recursive: true, force: true });
        removed.push({ app: x.app, buildpack: SEGMENTS_OWNER, layer: SEGMENTS_DIR, size: x.size, why });
      },
    })),
  ];
  let total = candidates.reduce((n, l) => n + l.size, 0);
  if (options.maxBytes !== undefined) {
    const byAge = [...candidates].sort((a, b) => (a.lastUsed ?? '').localeCompare(b.lastUsed ?? ''));
    for (const l of byAge) {
      if (total <= options.maxBytes) break;
      if (options.keep?.has(`${l.app}/${l.buildpack}/${l.layer}`)) continue;
      l.drop(`least recently used (last ${l.lastUsed ?? 'never'})`);
      total -= l.size;
    }
  }
  return { removed, freed: removed.reduce((n, r) => n + r.size, 0), remaining: total };
}

/** The dir under an app's cache that holds its segment cache (see slug/segment-cache.ts). */
export const SEGMENTS_DIR = 'segments';
/** What a segment cache is listed under in {@link PruneResult} and in `keep`: `<app>/slugc/segments`. */
export const SEGMENTS_OWNER = 'slugc';

/** Bytes of the files under `dir` and the newest mtime among them and it; zeros when it is missing. */
function treeUsage(dir: string): { size: number; mtimeMs: number } {
  let size = 0;
  let mtimeMs = 0;
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
      mtimeMs = Math.max(mtimeMs, fs.statSync(d).mtimeMs);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        try {
          const st = fs.lstatSync(p);
          size += st.size;
          mtimeMs = Math.max(mtimeMs, st.mtimeMs);
        } catch {
          /* gone meanwhile */
        }
      }
    }
  };
  walk(dir);
  return { size, mtimeMs };
}

/** Removes the whole cache, or one app's layers. */
export function clearCache(root: string, app?: string): ClearResult {
  const appsDir = path.join(root, 'apps');
  const names = app ? [validAppName(app)] : readdir(appsDir).filter((n) => !n.endsWith('.lock') && !n.includes('.stale-') && isDir(path.join(appsDir, n)));
  const result: ClearResult = { cleared: [], busy: [], shared: false };
  for (const name of names) {
    const dir = path.join(appsDir, name);
    // A build of this app holds its lock: its layers are in use, leave them (and the lock) alone.
    const lock = tryLock(dir);
    if (!lock) {
      result.busy.push(name);
      continue;
    }
    try {
      fs.rmSync(dir, { recursive: true, force: true });
      result.cleared.push(name);
    } finally {
      lock.release();
    }
  }
  if (!app && result.busy.length === 0) {
    for (const d of SHARED_STORES) fs.rmSync(path.join(root, d), { recursive: true, force: true });
    result.shared = true;
  }
  return result;
}

/** The stores every app shares: downloads, installed runtimes, registry documents, apt state, fetched buildpacks. */
const SHARED_STORES = ['downloads', 'runtimes', 'metadata', 'apt', 'buildpacks'];

/** What {@link clearCache} did. */
export interface ClearResult {
  /** Apps whose layers were removed. */
  cleared: string[];
  /** Apps left alone because a build of them is running (it holds the lock). */
  busy: string[];
  /** True when the shared stores were removed too (only when clearing all and no build runs). */
  shared: boolean;
}

/** Parses a size such as `500M`, `2G`, `1.5GiB` or a byte count. */
export function parseSize(s: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(s);
  if (!m) return null;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * mult);
}

function readdir(d: string): string[] {
  try {
    return fs.readdirSync(d).sort();
  } catch {
    return [];
  }
}
function isDir(d: string): boolean {
  try {
    return fs.statSync(d).isDirectory();
  } catch {
    return false;
  }
}
