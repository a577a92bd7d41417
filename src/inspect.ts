import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { SlugcError } from './errors.js';
import { metadataPathFor, type SlugMetadata } from './package.js';

/** What `slugc inspect` shows of a slug. */
export interface SlugReport {
  path: string;
  /** Bytes of the .tgz. */
  size: number;
  /** `SHA256:<hex>` of the .tgz, computed now. */
  checksum: string;
  /** True when slug.json beside it names the same checksum (null without slug.json). */
  checksumMatches: boolean | null;
  processTypes: Record<string, string>;
  runtimes: SlugMetadata['runtimes'];
  stack: string | null;
  entries: number;
  /** Uncompressed bytes of all files. */
  bytes: number;
  /** The largest dirs (two levels below `./app/`), biggest first. */
  largestDirs: { path: string; bytes: number }[];
}

/** Reads a slug (and slug.json beside it) and reports what is in it. */
export function inspectSlug(file: string, top = 10): SlugReport {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't inspect ${file}: no such file.`, { hint: 'Pass the path of a slug.tgz.' });
  }
  if (!st.isFile()) throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't inspect ${file}: it is ${st.isDirectory() ? 'a directory' : 'not a regular file'}.`, { hint: 'Pass the path of a slug.tgz (slugc run takes an unpacked app dir).' });
  const head = Buffer.alloc(2);
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, head, 0, 2, 0);
  fs.closeSync(fd);
  if (head[0] !== 0x1f || head[1] !== 0x8b) throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't inspect ${file}: it is not gzip'd (a slug is a .tgz).`, { hint: 'Pass a slug.tgz made by slugc build.' });
  const checksum = `SHA256:${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
  let meta: Partial<SlugMetadata> = {};
  let hasMeta = false;
  try {
    meta = JSON.parse(fs.readFileSync(metadataPathFor(file), 'utf8')) as SlugMetadata;
    hasMeta = true;
  } catch {
    /* a slug without slug.json: report what the tarball says */
  }
  const dirs = new Map<string, number>();
  let entries = 0;
  let bytes = 0;
  try {
    // Loaded when a slug is first inspected: start-up time counts for every command.
    const tar = createRequire(import.meta.url)('tar') as typeof import('tar');
    tar.t({
      file,
      sync: true,
      onReadEntry: (e) => {
        entries++;
        if (e.type !== 'File' && e.type !== 'OldFile') return;
        const size = e.size ?? 0;
        bytes += size;
        const parts = e.path.replace(/^\.\/app\//, '').split('/');
        for (let depth = 1; depth <= Math.min(2, parts.length - 1); depth++) {
          const d = parts.slice(0, depth).join('/') + '/';
          dirs.set(d, (dirs.get(d) ?? 0) + size);
        }
      },
    });
  } catch (e) {
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't read ${file} as a gzip'd tarball.`, { hint: 'Pass a slug.tgz made by slugc build.', cause: e });
  }
  if (entries === 0) throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't inspect ${file}: it holds no tar entries, so it is not a slug.`, { hint: 'Pass a slug.tgz made by slugc build.' });
  let processTypes = meta.process_types ?? {};
  if (!hasMeta) {
    processTypes = {};
  }
  return {
    path: file,
    size: fs.statSync(file).size,
    checksum,
    checksumMatches: hasMeta ? meta.checksum === checksum : null,
    processTypes,
    runtimes: meta.runtimes ?? [],
    stack: meta.stack?.name ?? null,
    entries,
    bytes,
    largestDirs: [...dirs.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([p, b]) => ({ path: p, bytes: b })),
  };
}
