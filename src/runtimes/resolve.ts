import semver from 'semver';
import { SlugcError, VersionUnsatisfiableError } from '../errors.js';
import type { RuntimeArtifact } from './types.js';

/** What a version request is resolved against. */
export interface ResolveOptions {
  /** e.g. `linux`. */
  os: string;
  /** e.g. `x64`. */
  arch: string;
  /** The stack; artifacts that list stacks must include it. */
  stack: string;
  /** Named versions, e.g. `{ lts: '24' }`; `latest` always means the newest. */
  aliases?: Record<string, string>;
  /** What the request came from, for the trace (`engines.node in package.json`). */
  requestFrom?: string;
  /** The runtime's display name for messages (`Node.js`). */
  displayName?: string;
  /** Where the artifacts came from, for the trace. */
  sourceName?: string;
}

/** The chosen artifact, and why. */
export interface ResolvedRuntime {
  artifact: RuntimeArtifact;
  /** The semver range the request became. */
  range: string;
  /** One line per step of the decision. */
  trace: string[];
  /** Every version there was for this platform, newest first. */
  available: string[];
}

/**
 * Turns a version request into a semver range: aliases first (`lts`,
 * `latest`), then a bare partial version means "that line" (`17` → `17.x`,
 * `3.11` → `3.11.x`), anything else must be a semver range.
 */
export function requestToRange(request: string, aliases: Record<string, string> = {}): { range: string; note?: string } {
  const r = request.trim();
  if (r === 'latest' || r === '*' || r === '') return { range: '*', ...(r === 'latest' ? { note: '"latest" means the newest version' } : {}) };
  const alias = aliases[r];
  if (alias !== undefined) {
    const inner = requestToRange(alias, {});
    return { range: inner.range, note: `alias "${r}" means ${JSON.stringify(alias)}` };
  }
  if (/^v?\d+(\.\d+)?$/.test(r)) return { range: `${r.replace(/^v/, '')}.x` };
  const valid = semver.validRange(r);
  if (!valid) {
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't read the version request ${JSON.stringify(request)}: not a version, range or alias.`, {
      hint: `Use a version (3.11.2), a line (3.11), a semver range (^22.11.0)${Object.keys(aliases).length ? ` or an alias (${Object.keys(aliases).join(', ')})` : ''}.`,
    });
  }
  return { range: r };
}

/**
 * Picks the newest artifact satisfying `request` among those for this os,
 * arch and stack. A request nothing satisfies throws a
 * {@link VersionUnsatisfiableError} listing the nearest versions there are.
 */
export function resolveRuntime(artifacts: RuntimeArtifact[], request: string, options: ResolveOptions): ResolvedRuntime {
  const trace: string[] = [];
  const fits = artifacts.filter((a) => a.os === options.os && a.arch === options.arch && (!a.stacks || a.stacks.includes(options.stack)));
  const skipped = artifacts.length - fits.length;
  const valid = fits.filter((a) => semver.valid(a.version));
  const sorted = valid.sort((a, b) => semver.rcompare(a.version, b.version));
  const available = [...new Set(sorted.map((a) => a.version))];
  trace.push(`${available.length} version${available.length === 1 ? '' : 's'} for ${options.os}/${options.arch} on ${options.stack}${options.sourceName ? ` from ${options.sourceName}` : ''}${skipped ? ` (${skipped} artifact${skipped === 1 ? '' : 's'} for other platforms skipped)` : ''}`);
  const { range, note } = requestToRange(request, options.aliases);
  trace.push(`${options.requestFrom ? `${options.requestFrom} requests` : 'requested'} ${JSON.stringify(request)}${note ? ` (${note})` : ''}${range !== request ? ` → ${range}` : ''}`);
  const wantsPre = semver.validRange(range) !== null && /-/.test(range);
  const pick = sorted.find((a) => semver.satisfies(a.version, range, { includePrerelease: wantsPre }) && (wantsPre || !semver.prerelease(a.version)));
  if (!pick) {
    throw new VersionUnsatisfiableError(options.displayName ?? artifacts[0]?.name ?? 'runtime', request, nearestVersions(available, range));
  }
  const matching = sorted.filter((a) => semver.satisfies(a.version, range, { includePrerelease: wantsPre })).length;
  trace.push(`newest of ${matching} matching: ${pick.version}`);
  return { artifact: pick, range, trace, available };
}

/**
 * The versions nearest a range nothing satisfies: those just below and just
 * above its lowest version, then the newest of each major; at most `max`.
 */
export function nearestVersions(allVersions: string[], range: string, max = 10): string[] {
  const stable = allVersions.filter((v) => semver.valid(v) && !semver.prerelease(v));
  const available = stable.length ? stable : allVersions.filter((v) => semver.valid(v));
  const out: string[] = [];
  const add = (v: string | undefined) => {
    if (v && !out.includes(v) && out.length < max) out.push(v);
  };
  let min: semver.SemVer | null = null;
  try {
    min = semver.minVersion(range);
  } catch {
    min = null;
  }
  if (min) {
    const asc = [...available].sort(semver.compare);
    const i = asc.findIndex((v) => semver.gte(v, min!));
    const at = i === -1 ? asc.length : i;
    for (const v of [asc[at - 1], asc[at], asc[at + 1], asc[at - 2]]) add(v);
  }
  const majors = new Set<number>();
  for (const v of available) {
    const m = semver.major(v);
    if (!majors.has(m)) {
      majors.add(m);
      add(v);
    }
  }
  return out.sort(semver.rcompare);
}
