import fs from 'node:fs';
import path from 'node:path';
import { appFileExists, readAppFile } from 'slugc/sdk';

/** What {@link pruneDevDependencies} removed. */
export interface PruneResult {
  /** Package paths removed (`node_modules/is-number`). */
  packages: string[];
  /** `.bin` links removed because their package went. */
  links: number;
}

interface Lockfile {
  lockfileVersion?: number;
  packages?: Record<string, { dev?: boolean; link?: boolean }>;
}

/**
 * Removes devDependencies from `node_modules` the way `npm prune --omit=dev`
 * does, from package-lock.json alone, without running npm: every package the
 * lockfile marks `"dev": true` goes, with the `.bin` links into it and its
 * entry in npm's hidden lockfile (`node_modules/.package-lock.json`). Returns
 * null when the lockfile is too old to say (lockfileVersion 1), so the
 * caller can fall back to npm.
 */
export function pruneDevDependencies(appDir: string): PruneResult | null {
  let lock: Lockfile;
  try {
    // npm-shrinkwrap.json wins over package-lock.json, as for npm ci.
    const name = appFileExists(appDir, 'npm-shrinkwrap.json') ? 'npm-shrinkwrap.json' : 'package-lock.json';
    lock = JSON.parse(readAppFile(appDir, name) ?? '') as Lockfile;
  } catch {
    return null;
  }
  if (!lock.packages || (lock.lockfileVersion ?? 1) < 2) return null;
  // The root's node_modules, and in a workspace each project's (`packages/web/node_modules/x`).
  const dev = Object.entries(lock.packages)
    .filter(([key, entry]) => entry?.dev === true && moduleRoot(key) !== null)
    .map(([key]) => key)
    .sort();
  const packages: string[] = [];
  const roots = new Set([path.join(appDir, 'node_modules')]);
  for (const key of dev) {
    const p = path.join(appDir, key);
    const root = path.join(appDir, moduleRoot(key)!);
    if (!p.startsWith(root + path.sep) || !root.startsWith(appDir + path.sep)) continue; // never outside a node_modules of the app
    if (fs.existsSync(p) || isLink(p)) {
      fs.rmSync(p, { recursive: true, force: true });
      packages.push(key);
      roots.add(root);
    }
  }
  let links = 0;
  for (const binDir of [...roots].flatMap(binDirs)) {
    for (const name of fs.readdirSync(binDir)) {
      const p = path.join(binDir, name);
      if (isLink(p) && !fs.existsSync(p)) {
        fs.rmSync(p, { force: true });
        links++;
      }
    }
  }
  const hidden = path.join(appDir, 'node_modules', '.package-lock.json');
  if (packages.length && fs.existsSync(hidden)) {
    const h = JSON.parse(fs.readFileSync(hidden, 'utf8')) as Lockfile;
    for (const key of packages) delete h.packages?.[key];
    // Written beside and renamed: a file is never rewritten in place (it may be shared with a cached copy).
    fs.writeFileSync(`${hidden}.tmp`, JSON.stringify(h, null, 2) + '\n');
    fs.renameSync(`${hidden}.tmp`, hidden);
  }
  return { packages, links };
}

/** The node_modules dir a lockfile key is in (`node_modules`, `packages/web/node_modules`), or null for a key that is no installed package. */
function moduleRoot(key: string): string | null {
  const parts = key.split('/');
  const i = parts.indexOf('node_modules');
  if (i < 0 || i === parts.length - 1 || parts.some((p) => p === '..' || p === '.' || p === '')) return null;
  if (parts.slice(0, i).includes('node_modules')) return null;
  return parts.slice(0, i + 1).join('/');
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Every `.bin` dir in a node_modules tree (top level and nested). */
function binDirs(nodeModules: string): string[] {
  const out: string[] = [];
  const visit = (nm: string) => {
    let names: string[];
    try {
      names = fs.readdirSync(nm);
    } catch {
      return;
    }
    for (const n of names) {
      const p = path.join(nm, n);
      if (n === '.bin') out.push(p);
      else if (n.startsWith('@')) {
        for (const s of safeReaddir(p)) visit(path.join(p, s, 'node_modules'));
      } else visit(path.join(p, 'node_modules'));
    }
  };
  visit(nodeModules);
  return out;
}

function safeReaddir(d: string): string[] {
  try {
    return fs.readdirSync(d);
  } catch {
    return [];
  }
}
