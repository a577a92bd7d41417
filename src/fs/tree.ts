import fs from 'node:fs';
import path from 'node:path';

/** How a tree was copied. */
export type CopyMethod = 'rename' | 'hardlink' | 'copy';

/**
 * Copies a tree with sync calls (several times cheaper per file than async
 * ones on the machines measured, see benchmarks/README.md), keeping modes and
 * symlinks. `hardlink` links files instead of copying them (falling back to
 * a copy across filesystems); `copy` clones where the filesystem supports
 * it (copy-on-write) and copies otherwise.
 */
export function copyTree(from: string, to: string, method: 'hardlink' | 'copy' = 'copy', skip?: (name: string) => boolean): number {
  let files = 0;
  let linkOk = method === 'hardlink';
  const walk = (src: string, dst: string) => {
    fs.mkdirSync(dst, { recursive: true });
    for (const e of fs.readdirSync(src, { withFileTypes: true })) {
      if (skip?.(e.name)) continue;
      const s = path.join(src, e.name);
      const d = path.join(dst, e.name);
      if (e.isDirectory()) {
        walk(s, d);
        fs.chmodSync(d, fs.lstatSync(s).mode & 0o7777);
      } else if (e.isSymbolicLink()) {
        replacing(d, () => fs.symlinkSync(fs.readlinkSync(s), d));
      } else if (e.isFile()) {
        files++;
        if (linkOk) {
          try {
            replacing(d, () => fs.linkSync(s, d));
            continue;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
            linkOk = false; // another filesystem: copy from now on
          }
        }
        fs.copyFileSync(s, d, fs.constants.COPYFILE_FICLONE);
        fs.chmodSync(d, fs.lstatSync(s).mode & 0o7777);
      }
    }
  };
  walk(from, to);
  return files;
}

/** Runs `create`; when its target exists, removes it and runs `create` again (one syscall per entry in the usual, empty target). */
function replacing(target: string, create: () => void): void {
  try {
    create();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    fs.rmSync(target, { recursive: true, force: true });
    create();
  }
}

/** Bytes used by the files of a tree (symlinks and dirs not counted). */
export function treeSize(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) total += fs.lstatSync(p).size;
    }
  };
  walk(dir);
  return total;
}

/**
 * Size, mtime (ms) and mode of every regular file of a tree, by relative
 * path: enough to notice a file changed in place or chmod-ed through a hard
 * link. (Not a defence against a hostile buildpack, which runs as the same
 * user and could write the store directly; a guard against accidents.)
 */
export type TreeManifest = Record<string, [size: number, mtimeMs: number, mode?: number]>;

/** Records a {@link TreeManifest} of `dir`. */
export function treeManifest(dir: string): TreeManifest {
  const out: TreeManifest = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) {
        const st = fs.lstatSync(path.join(dir, r));
        out[r] = [st.size, Math.trunc(st.mtimeMs), st.mode & 0o7777];
      }
    }
  };
  walk('');
  return out;
}

/** The files of `dir` that differ from `manifest` (changed, missing or added), at most `limit` of them. */
export function manifestChanges(dir: string, manifest: TreeManifest, limit = 5): string[] {
  const now = treeManifest(dir);
  const changed: string[] = [];
  for (const [rel, [size, mtime, mode]] of Object.entries(manifest)) {
    const cur = now[rel];
    if (!cur || cur[0] !== size || cur[1] !== mtime || (mode !== undefined && cur[2] !== mode)) changed.push(rel);
    if (changed.length >= limit) return changed;
  }
  for (const rel of Object.keys(now)) {
    if (!(rel in manifest)) changed.push(rel);
    if (changed.length >= limit) break;
  }
  return changed;
}
