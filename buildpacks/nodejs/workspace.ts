import fs from 'node:fs';
import path from 'node:path';
import ignore from 'ignore';
import { appFileExists, readConfigFile, type DependencyLayer } from 'slugc/sdk';
import { readPackageJson, type PackageJson } from './package-json.js';

/** The lockfiles that mark the dir a package manager runs in. */
const LOCKFILES = ['npm-shrinkwrap.json', 'package-lock.json', 'yarn.lock', 'pnpm-lock.yaml'];

/** Where the package manager runs for an app, and how that was decided. */
export interface InstallRoot {
  /** The dir (absolute): the app's own, or the workspace root above it. */
  dir: string;
  /** The same, relative to the build dir (`''` for the build dir itself). */
  rel: string;
  /** Its package.json (the app's own when the root is the app). */
  pkg: PackageJson;
  /** Why this dir, for the log; null for an app on its own. */
  why: string | null;
  /** The workspace patterns of the root that take in the app, or null when it declares none. */
  workspaces: string[] | null;
}

/**
 * Finds where the package manager runs for the app in `projectDir`: the
 * nearest dir from the app up to the build dir that holds a lockfile, else
 * the nearest that declares workspaces (`workspaces` in package.json,
 * `pnpm-workspace.yaml`), else the app's own dir. An app on its own (its
 * dir is the build dir) is its own root.
 */
export function findInstallRoot(appDir: string, projectDir: string, projectPkg: PackageJson): InstallRoot {
  const self: InstallRoot = { dir: projectDir, rel: rel(appDir, projectDir), pkg: projectPkg, why: null, workspaces: workspacePatterns(projectDir, projectPkg) };
  if (path.resolve(appDir) === path.resolve(projectDir)) return self;
  const chain: string[] = [];
  for (let dir = projectDir; ; dir = path.dirname(dir)) {
    chain.push(dir);
    if (path.resolve(dir) === path.resolve(appDir) || dir === path.dirname(dir)) break;
  }
  const withLockfile = chain.find((d) => LOCKFILES.some((f) => appFileExists(d, f)));
  if (withLockfile === projectDir) return { ...self, why: `its own lockfile (${LOCKFILES.find((f) => appFileExists(projectDir, f))})` };
  const root = withLockfile ?? chain.find((d) => d !== projectDir && appFileExists(d, 'package.json') && workspacePatterns(d, readPackageJson(appDir, rel(appDir, path.join(d, 'package.json')))) !== null);
  if (!root) return self;
  const pkg = readPackageJson(appDir, rel(appDir, path.join(root, 'package.json')));
  const found = LOCKFILES.find((f) => appFileExists(root, f));
  return {
    dir: root,
    rel: rel(appDir, root),
    pkg,
    why: found ? `the workspace root's ${found}` : 'the workspace root (no lockfile)',
    workspaces: workspacePatterns(root, pkg),
  };
}

/** The workspace patterns a dir declares: `workspaces` in package.json (a list, or `{ packages }`), or `packages` in pnpm-workspace.yaml. */
export function workspacePatterns(dir: string, pkg: PackageJson): string[] | null {
  const w = (pkg as Record<string, unknown>).workspaces;
  const list = Array.isArray(w) ? w : w && typeof w === 'object' && Array.isArray((w as { packages?: unknown }).packages) ? (w as { packages: unknown[] }).packages : null;
  if (list) return list.filter((p): p is string => typeof p === 'string');
  if (appFileExists(dir, 'pnpm-workspace.yaml')) {
    const doc = readConfigFile(dir, 'pnpm-workspace.yaml', 'yaml') as { packages?: unknown } | null;
    return Array.isArray(doc?.packages) ? doc.packages.filter((p): p is string => typeof p === 'string') : [];
  }
  return null;
}

/** True when `projectRel` (relative to the workspace root) is one of the projects its patterns take in (negations honoured). */
export function inWorkspace(patterns: string[], projectRel: string): boolean {
  const include = ignore().add(patterns.filter((p) => !p.startsWith('!')).map(clean));
  const exclude = ignore().add(patterns.filter((p) => p.startsWith('!')).map((p) => clean(p.slice(1))));
  return include.ignores(projectRel) && !exclude.ignores(projectRel);
}

function clean(pattern: string): string {
  return pattern.replace(/^\.\//, '').replace(/\/+$/, '');
}

function rel(appDir: string, dir: string): string {
  return path.relative(appDir, dir).split(path.sep).join('/');
}

/** Dirs never searched for workspace projects. */
const NOT_PROJECTS = new Set(['node_modules', '.git', '.heroku', '.profile.d', '.yarn']);

/**
 * The projects of a workspace (relative POSIX paths from its root, sorted):
 * the dirs below it (to depth 6) holding a package.json that its patterns
 * take in.
 */
export function workspaceProjects(rootDir: string, patterns: string[]): string[] {
  const found: string[] = [];
  const walk = (rel: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(rootDir, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory() || NOT_PROJECTS.has(e.name)) continue;
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (inWorkspace(patterns, child) && appFileExists(path.join(rootDir, child), 'package.json')) found.push(child);
      if (depth < 6) walk(child, depth + 1);
    }
  };
  walk('', 1);
  return found.sort();
}

/**
 * Every node_modules of a workspace install (the root's and each
 * project's) as one layer: `open` gives a layer without a path (a dir of
 * its own in the build's temp dir); restoring moves its dirs into place,
 * and saving moves them into the layer, saves it and moves them back:
 * renames only, nothing is copied twice.
 */
export function workspaceModulesLayer(layer: DependencyLayer, rootDir: string, projects: string[]): DependencyLayer {
  const dirs = ['', ...projects].map((rel) => ({ inApp: path.join(rootDir, rel, 'node_modules'), inLayer: path.join(layer.dir, rel, 'node_modules') }));
  const move = (from: string, to: string) => {
    if (!fs.existsSync(from)) return false;
    fs.rmSync(to, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.renameSync(from, to);
    return true;
  };
  if (layer.hit) for (const d of dirs) move(d.inLayer, d.inApp);
  return {
    ...layer,
    async save() {
      const moved = dirs.filter((d) => move(d.inApp, d.inLayer));
      try {
        await layer.save();
      } finally {
        for (const d of moved) move(d.inLayer, d.inApp);
      }
    },
  };
}
