import fs from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';
import { SlugcError, errorMessage } from './errors.js';

/** Options of {@link extractTar}. */
export interface ExtractOptions {
  /** Leading path components to drop, e.g. 1 for npm's `package/`. */
  stripComponents?: number;
  /** Keep only entries whose path (after stripping) this accepts. */
  include?: (entryPath: string) => boolean;
}

/**
 * Extracts a (gzip'd) tarball into `dest`, refusing entries that would land
 * outside it: `..` components, absolute paths, and links whose target leaves
 * `dest`. An unsafe archive fails with `SLUGC_UNSAFE_ARCHIVE_PATH` and
 * `dest` is removed, so nothing half-extracted is left for a later step.
 */
export function extractTar(file: string, dest: string, options: ExtractOptions = {}): void {
  const strip = options.stripComponents ?? 0;
  fs.mkdirSync(dest, { recursive: true });
  const root = path.resolve(dest);
  let unsafe: string | null = null;
  const inside = (p: string) => p === root || p.startsWith(root + path.sep);
  try {
    tar.x({
      file,
      cwd: root,
      strip,
      sync: true,
      preserveOwner: false,
      filter: (entryPath, entry) => {
        const parts = entryPath.split('/').filter((p) => p !== '' && p !== '.');
        if (path.isAbsolute(entryPath) || parts.includes('..')) {
          unsafe ??= entryPath;
          return false;
        }
        const rel = parts.slice(strip).join('/');
        if (!rel) return false;
        const target = path.resolve(root, rel);
        if (!inside(target)) {
          unsafe ??= entryPath;
          return false;
        }
        const stat = entry as unknown as { type?: string; linkpath?: string };
        if ((stat.type === 'SymbolicLink' || stat.type === 'Link') && stat.linkpath) {
          const to = stat.type === 'Link' ? path.resolve(root, stat.linkpath.split('/').slice(strip).join('/')) : path.resolve(path.dirname(target), stat.linkpath);
          if (path.isAbsolute(stat.linkpath) || !inside(to)) {
            unsafe ??= `${entryPath} -> ${stat.linkpath}`;
            return false;
          }
        }
        return options.include ? options.include(rel) : true;
      },
    });
  } catch (e) {
    fs.rmSync(root, { recursive: true, force: true });
    throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't extract ${path.basename(file)}: ${errorMessage(e)}`, {
      hint: 'The archive is damaged; delete it from the cache dir and retry.',
      cause: e,
    });
  }
  if (unsafe !== null) {
    fs.rmSync(root, { recursive: true, force: true });
    throw new SlugcError('SLUGC_UNSAFE_ARCHIVE_PATH', `Couldn't extract ${path.basename(file)}: the entry ${JSON.stringify(unsafe)} would be written outside the target dir.`, {
      hint: 'The archive is malicious or broken; nothing from it was kept.',
      details: { entry: unsafe },
    });
  }
}
