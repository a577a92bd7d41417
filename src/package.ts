import fs from 'node:fs';
import path from 'node:path';
import type { RuntimeRecord } from './buildpack.js';
import { SlugcError, errorMessage } from './errors.js';
import { formatBytes, type Logger } from './log.js';
import { packDirectory } from './slug/pack.js';
import { parseOrThrow } from './problems.js';
import { releaseInfoSchema } from './schemas.js';
import { z } from 'zod';

const packageInputSchema = z.object({
  appDir: z.string().min(1),
  output: z.string().min(1),
  sourceDateEpoch: z.number().int().nonnegative().optional(),
  limits: z.object({ warnBytes: z.number().positive(), maxBytes: z.number().positive() }).optional(),
  segmentCache: z.string().min(1).optional(),
  metadata: z.object({ process_types: releaseInfoSchema.shape.processTypes.unwrap(), stack: z.object({ name: z.string().min(1) }) }).loose(),
});

/**
 * The mtime every slug entry gets when `SOURCE_DATE_EPOCH` is unset:
 * 1980-01-01T00:00:01Z, the constant the CNB lifecycle uses (zip's epoch,
 * which some tools cannot go below).
 */
export const DEFAULT_SOURCE_DATE_EPOCH = 315532801;

/** Heroku's slug size limits, as defaults: a warning, then a failure. */
export const DEFAULT_SIZE_LIMITS = {
  /** Above this compressed size the build warns (Heroku's long-standing soft limit). */
  warnBytes: 500 * 1024 * 1024,
  /** Above this the build fails (Heroku's current hard limit, 1 GB compressed). */
  maxBytes: 1024 * 1024 * 1024,
};

/** Size limits of a slug, in compressed bytes. */
export interface SizeLimits {
  warnBytes: number;
  maxBytes: number;
}

/**
 * `slug.json`: shaped like the Heroku Platform API slug object, plus slugc's
 * own `buildpacks`, `runtimes` and `timings`.
 */
export interface SlugMetadata {
  process_types: Record<string, string>;
  buildpack_provided_description: string | null;
  /** `SHA256:<hex>` of slug.tgz. */
  checksum: string;
  /** Bytes of slug.tgz. */
  size: number;
  stack: { name: string };
  commit: string | null;
  commit_description: string | null;
  buildpacks: { id: string; name: string; detected?: string }[];
  runtimes: RuntimeRecord[];
  config_vars: Record<string, string>;
  addons: string[];
  /** Milliseconds per stage (and per buildpack under `compile_by_buildpack`). */
  timings: Record<string, number | Record<string, number>>;
  /** Entries in the tarball and uncompressed bytes. */
  contents: { entries: number; bytes: number };
  /** What the layer cache did: each layer restored or not, and why. */
  cache?: { app: string; enabled: boolean; layers: { buildpack: string; layer: string; hit: boolean; reason: string }[] };
  slugc: { version: string };
}

/** What {@link packageSlug} needs. */
export interface PackageInput {
  /** The build dir after compile. */
  appDir: string;
  /** Where slug.tgz goes; parent dirs are created. `<name>.json` is written beside it. */
  output: string;
  /** Everything for slug.json except what packaging measures. */
  metadata: Omit<SlugMetadata, 'checksum' | 'size' | 'contents' | 'slugc'>;
  /** Seconds since the epoch for every entry's mtime. */
  sourceDateEpoch?: number;
  /** Size limits. */
  limits?: SizeLimits;
  /**
   * The segment cache dir (see `packDirectory`): compressed segments of the
   * previous slug, spliced instead of compressed again when their bytes are
   * unchanged. The slug is the same with or without it.
   */
  segmentCache?: string;
  /** The build log. */
  log: Logger;
}

/** What the package stage produced. */
export interface PackageOutput {
  /** Path of slug.tgz. */
  path: string;
  /** Path of slug.json. */
  metadataPath: string;
  /** The metadata written to slug.json. */
  metadata: SlugMetadata;
}

/** The timings with the package stage's own milliseconds, also as `steps.package` when steps are reported. */
function withPackageTime(t: SlugMetadata['timings'], ms: number): SlugMetadata['timings'] {
  const steps = t.steps;
  return { ...t, package: ms, ...(steps && typeof steps === 'object' ? { steps: { ...steps, package: ms } } : {}) };
}

/** The `<name>.json` path beside a `<name>.tgz` (or `.tar.gz`). */
export function metadataPathFor(output: string): string {
  const m = /^(.*?)(\.tgz|\.tar\.gz)$/.exec(output);
  return m ? `${m[1]}.json` : `${output}.json`;
}

/** slugc's own version, from package.json. */
export function slugcVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    if (pkg.version) return pkg.version;
  } catch {
    /* running from source: one level up */
  }
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * Packs the build dir into a deterministic slug.tgz (every entry under
 * `./app/`) and writes slug.json beside it.
 */
export async function packageSlug(input: PackageInput): Promise<PackageOutput> {
  parseOrThrow(packageInputSchema, input, 'SLUGC_INVALID_INPUT', "Couldn't package the slug: invalid input.", 'Pass { appDir, output, metadata, log }.');
  const output = path.resolve(input.output);
  fs.mkdirSync(path.dirname(output), { recursive: true });
  const limits = input.limits ?? DEFAULT_SIZE_LIMITS;
  const started = performance.now();
  let packed;
  try {
    packed = await packDirectory({
      dir: input.appDir,
      output,
      mtime: input.sourceDateEpoch ?? DEFAULT_SOURCE_DATE_EPOCH,
      ...(input.segmentCache !== undefined ? { segmentCache: input.segmentCache } : {}),
      onProgress: (p) => input.log.progress('package', 'Compressing', p.bytesIn, p.bytesTotal || null),
    });
  } catch (e) {
    if (e instanceof SlugcError) throw e;
    throw new SlugcError('SLUGC_PACKAGE_FAILED', `Couldn't package the slug: ${errorMessage(e)}`, {
      hint: 'Check free disk space and that nothing else changes the build dir.',
      cause: e,
    });
  } finally {
    input.log.progressDone('package');
  }
  const reused = packed.segmentsSpliced > 0 ? ` (${formatBytes(packed.bytesSpliced)} reused from ${packed.segmentsSpliced} cached segment${packed.segmentsSpliced > 1 ? 's' : ''})` : '';
  input.log.info(`Compressed ${packed.entries} entries (${formatBytes(packed.bytesIn)}) to ${formatBytes(packed.size)} in ${((performance.now() - started) / 1000).toFixed(1)}s${reused}`);
  if (packed.size > limits.maxBytes) {
    fs.rmSync(output, { force: true });
    throw new SlugcError('SLUGC_SLUG_TOO_LARGE', `Couldn't keep the slug: ${formatBytes(packed.size)} is too large (max is ${formatBytes(limits.maxBytes)}).`, {
      hint: 'Leave out what the app does not need at run time with .slugignore, or prune dev dependencies.',
      details: { size: packed.size, maxBytes: limits.maxBytes },
    });
  }
  if (packed.linksOut.length) {
    // One rule for build and run: such links are packed and warned about here, and
    // `slugc run` (unpackSlug) creates them as they are, never writing through one.
    const shown = packed.linksOut.slice(0, 5).join(', ') + (packed.linksOut.length > 5 ? `, and ${packed.linksOut.length - 5} more` : '');
    input.log.warn(`${packed.linksOut.length} symlink${packed.linksOut.length > 1 ? 's' : ''} in the slug point${packed.linksOut.length > 1 ? '' : 's'} outside the app: ${shown}. They resolve on the machine that runs the slug; remove them if they were not meant to ship.`);
  }
  if (packed.size > limits.warnBytes) {
    input.log.warn(`The slug is ${formatBytes(packed.size)}, above the ${formatBytes(limits.warnBytes)} warning limit; large slugs boot slowly.`);
  }
  const metadata: SlugMetadata = {
    ...input.metadata,
    timings: withPackageTime(input.metadata.timings, Math.round(performance.now() - started)),
    checksum: `SHA256:${packed.sha256}`,
    size: packed.size,
    contents: { entries: packed.entries, bytes: packed.bytesIn },
    slugc: { version: slugcVersion() },
  };
  const metadataPath = metadataPathFor(output);
  const tmp = `${metadataPath}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(metadata, null, 2) + '\n');
  fs.renameSync(tmp, metadataPath);
  return { path: output, metadataPath, metadata };
}
