import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { writeFileAtomic } from '../fs/atomic.js';
import { manifestChanges, treeManifest, type TreeManifest } from '../fs/tree.js';
import { acquireLock } from '../cache/lock.js';
import { parseChecksum } from '../net/download.js';
import { SlugcError, VersionUnsatisfiableError, errorMessage } from '../errors.js';
import { nearestVersions, requestToRange, resolveRuntime, type ResolvedRuntime } from './resolve.js';
import type { InstalledRuntime, RuntimeArtifact, RuntimeRecord, RuntimeSource, SourceContext } from './types.js';

/** A runtime to install: what, which version, from which sources in order. */
export interface RuntimeRequest {
  /** The runtime name sources know, e.g. `node`, `python`, `jdk`. */
  name: string;
  /** For messages, e.g. `Node.js`. */
  displayName?: string;
  /** The user's request (`engines.node`, `.python-version`, ...); undefined means the default. */
  request?: string;
  /** Where the request came from, for the trace. */
  requestFrom?: string;
  /** The version request used when the user made none, e.g. `24` or `lts`. */
  defaultRequest: string;
  /** Named versions, e.g. `{ lts: '24' }`. */
  aliases?: Record<string, string>;
  /**
   * Caps a request that is open upwards (`>=18`, `*`) to this range when it
   * can, so an app does not jump majors on its own (Heroku does this for Node).
   */
  capOpenRangesTo?: string;
  /** The sources to consult, in order: the first that has a matching version wins. */
  sources: RuntimeSource[];
}

/** An installed runtime. */
export interface InstalledRuntimeResult extends InstalledRuntime {
  /** The artifact that was installed. */
  artifact: RuntimeArtifact;
  /** Which source it came from. */
  source: string;
  /** Why this version, one line per step. */
  trace: string[];
  /** True when it was already unpacked in the cache. */
  cached: boolean;
  /** The record for slug.json. */
  record: RuntimeRecord;
}

/** Resolves and installs runtimes; buildpacks get one as `ctx.runtimes`. */
export interface RuntimeInstaller {
  /** The context sources run with (cache, fetch, mirror, offline, stack, os, arch). */
  readonly context: SourceContext;
  /** Resolves a request over the sources and installs the winner into the cache (once); returns where it is. */
  install(request: RuntimeRequest): Promise<InstalledRuntimeResult>;
}

/** Written beside a runtime dir once it is complete (`<dir>.json`); a dir without it is never used. */
const completeMarker = (dir: string) => `${dir}.json`;

/** Node's names for the host's os and arch (`linux`, `x64`). */
export function hostPlatform(): { os: string; arch: string } {
  return { os: process.platform, arch: process.arch };
}

/** Creates a {@link RuntimeInstaller} over a source context. */
export function createRuntimeInstaller(context: SourceContext): RuntimeInstaller {
  context.memo ??= new Map();
  return {
    context,
    async install(req) {
      const ctx = context;
      const display = req.displayName ?? req.name;
      const trace: string[] = [];
      const request = req.request?.trim() || req.defaultRequest;
      if (!req.request?.trim()) trace.push(`no version requested: using the default, ${JSON.stringify(req.defaultRequest)}`);
      const union = new Set<string>();
      let winner: { resolved: ResolvedRuntime; source: RuntimeSource } | undefined;
      let lastError: unknown;
      for (const [i, source] of req.sources.entries()) {
        let list: RuntimeArtifact[];
        try {
          list = await source.list(req.name, ctx);
        } catch (e) {
          if (i < req.sources.length - 1 && e instanceof SlugcError) {
            trace.push(`${source.describe()}: unavailable (${errorMessage(e).split('\n')[0]})`);
            lastError = e;
            continue;
          }
          throw e;
        }
        for (const a of list) union.add(a.version);
        const aliases = { ...((await source.aliases?.(req.name, ctx)) ?? {}), ...(req.aliases ?? {}) };
        const withAliases = { ...req, aliases };
        const effective = capRequest(request, list, withAliases, trace);
        try {
          const resolved = resolveRuntime(list, effective, {
            os: ctx.os,
            arch: ctx.arch,
            stack: ctx.stack,
            aliases,
            ...(req.request?.trim() && req.requestFrom ? { requestFrom: req.requestFrom } : {}),
            sourceName: source.describe(),
            displayName: display,
          });
          winner = { resolved, source };
          break;
        } catch (e) {
          if (!(e instanceof VersionUnsatisfiableError)) throw e;
          trace.push(`${source.describe()}: no version matches ${JSON.stringify(effective)}`);
          lastError = e;
        }
      }
      if (!winner) {
        if (union.size === 0 && lastError instanceof SlugcError) throw lastError;
        const all = [...union].filter((v) => semver.valid(v)).sort(semver.rcompare);
        let range = request;
        try {
          range = requestToRange(request, req.aliases).range;
        } catch {
          /* reported below with the raw request */
        }
        throw new VersionUnsatisfiableError(display, request, nearestVersions(all, range), `Request a version that exists (sources: ${req.sources.map((s) => s.describe()).join('; ')}).`);
      }
      const { resolved, source } = winner;
      trace.push(...resolved.trace);
      const artifact = resolved.artifact;
      const key = `${artifact.version}-${parseChecksum(artifact.checksum).hex.slice(0, 16)}${source.variant ? `-${source.variant}` : ''}`;
      const dir = path.join(ctx.cacheRoot, 'runtimes', req.name, key);
      const markerFile = completeMarker(dir);
      let installed: InstalledRuntime | undefined;
      let cached = false;
      const readMarker = (): InstalledRuntime | null => {
        try {
          const saved = JSON.parse(fs.readFileSync(markerFile, 'utf8')) as { binDirs: string[]; env: Record<string, string>; systemLibraries?: string[] };
          return { dir, binDirs: saved.binDirs, env: saved.env, ...(saved.systemLibraries ? { systemLibraries: saved.systemLibraries } : {}) };
        } catch {
          return null;
        }
      };
      let found = readMarker();
      if (found) {
        // Builds link runtimes from here into their apps: a file changed through such a
        // link (an in-place write) would reach every later build, so check before use.
        const changed = storedManifestChanges(dir, markerFile);
        if (changed.length) {
          ctx.log.warn(`The cached ${display} ${artifact.version} was changed in place (${changed.join(', ')}); unpacking it again from the verified download.`);
          fs.rmSync(markerFile, { force: true });
          found = null;
        }
      }
      if (!found) {
        // Builds of other apps share this dir: one installs, the others wait and use it.
        fs.mkdirSync(path.dirname(dir), { recursive: true });
        const lock = await acquireLock(dir, { log: ctx.log, ...(ctx.signal ? { signal: ctx.signal } : {}) });
        try {
          found = readMarker();
          if (!found) {
            const tmp = `${dir}.tmp-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
            try {
              const r = await source.install(artifact, tmp, ctx);
              fs.rmSync(dir, { recursive: true, force: true }); // an incomplete dir left by a killed build
              fs.renameSync(tmp, dir);
              const manifest = treeManifest(dir);
              writeFileAtomic(markerFile, JSON.stringify({ artifact, binDirs: r.binDirs, env: r.env, ...(r.systemLibraries ? { systemLibraries: r.systemLibraries } : {}), manifest }, null, 2));
              installed = { ...r, dir };
            } finally {
              fs.rmSync(tmp, { recursive: true, force: true });
            }
          }
        } finally {
          lock.release();
        }
      }
      if (found) {
        installed = found;
        cached = true;
        trace.push(`already unpacked in the cache (${path.relative(ctx.cacheRoot, dir)})`);
      }
      if (!installed) throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't install ${display} ${artifact.version}.`, { hint: 'Retry; if it persists, clear the cache dir.' });
      return {
        ...installed,
        artifact,
        source: source.describe(),
        trace,
        cached,
        record: { name: req.name, version: artifact.version, source: artifact.url, checksum: artifact.checksum, trace },
      };
    },
  };
}

function capRequest(request: string, list: RuntimeArtifact[], req: RuntimeRequest, trace: string[]): string {
  if (!req.capOpenRangesTo || !req.request?.trim()) return request;
  let range: string;
  try {
    range = requestToRange(request, req.aliases).range;
  } catch {
    return request;
  }
  if (!semver.satisfies('99999.0.0', range)) return request;
  const capped = `${range} ${req.capOpenRangesTo}`;
  if (!list.some((a) => semver.valid(a.version) && semver.satisfies(a.version, capped))) return request;
  trace.push(`${JSON.stringify(request)} is open upwards: capped to ${req.capOpenRangesTo} (set an upper bound to choose another line)`);
  return capped;
}

/** A runtime's env with `${RUNTIME_DIR}` replaced by `dir` (a real path, or `$HOME/...` for .profile.d). */
export function runtimeEnv(env: Record<string, string>, dir: string): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.split('${RUNTIME_DIR}').join(dir)]));
}

/** Files of an installed runtime that differ from the manifest written when it was installed (none when it has no manifest). */
function storedManifestChanges(dir: string, markerFile: string): string[] {
  let manifest: TreeManifest | undefined;
  try {
    manifest = (JSON.parse(fs.readFileSync(markerFile, 'utf8')) as { manifest?: TreeManifest }).manifest;
  } catch {
    return [];
  }
  if (!manifest) return [];
  try {
    return manifestChanges(dir, manifest);
  } catch {
    return ['(unreadable)'];
  }
}
