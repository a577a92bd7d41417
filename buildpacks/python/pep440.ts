/**
 * Python version requests, read without Python: PEP 440 specifiers
 * (`requires-python = ">=3.9,<3.13"`) become node-semver ranges the SDK's
 * resolver understands, and the plain versions of `.python-version` and
 * `runtime.txt` become requests (`3.11`, `3.11.2`).
 *
 * Python releases are `X.Y.Z` (and `X.Y.ZaN`/`bN`/`rcN` before a release), so
 * a version is padded to three components, as PEP 440 compares them
 * (`3.11` == `3.11.0`), and a pre-release `3.13.0rc1` becomes `3.13.0-rc.1`.
 * The ranges never say `-0` unless the specifier names a pre-release itself:
 * `semver.satisfies` already leaves out `3.12.0-rc.1` from `<3.12.0`, and
 * the SDK's resolver turns pre-releases on for any range with a `-` in it,
 * which would let `<4.0.0-0` pick a 3.14 release candidate.
 */
import semver from 'semver';
import { SlugcError, firstLine } from 'slugc/sdk';

/** The error code of a Python version request or specifier that can't be read. */
export const PYTHON_VERSION_INVALID = 'SLUGC_PYTHON_VERSION_INVALID';

/** A parsed PEP 440 version, or why it is not one a Python release can have. */
type ParsedVersion = { release: number[]; pre: string | undefined } | { error: string };

// PEP 440's grammar with its normalizations (`v` prefix, `-`/`_`/`.` separators,
// alpha/beta/c/pre/preview spellings), so a valid version that no Python
// release has (post, dev, local, epoch) is told apart from a typo.
const PEP440_VERSION =
  /^v?(?:(\d+)!)?(\d+(?:\.\d+)*)(?:[-_.]?(alpha|beta|preview|pre|rc|a|b|c)[-_.]?(\d*))?((?:-\d+)|(?:[-_.]?(?:post|rev|r)[-_.]?\d*))?(?:[-_.]?(dev)[-_.]?\d*)?(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$/i;

/** PEP 440's pre-release spellings, as the semver pre-release tag. */
const PRE_TAGS: Record<string, string> = { a: 'a', alpha: 'a', b: 'b', beta: 'b', c: 'rc', rc: 'rc', pre: 'rc', preview: 'rc' };

function parseVersion(text: string): ParsedVersion {
  const m = PEP440_VERSION.exec(text);
  if (!m) return { error: `"${text}" is not a PEP 440 version` };
  if (m[1] !== undefined && Number(m[1]) !== 0) return { error: `"${text}" has an epoch (${m[1]}!), which no Python release has` };
  if (m[5] !== undefined) return { error: `"${text}" is a post-release, which no Python release is` };
  if (m[6] !== undefined) return { error: `"${text}" is a development release, which slugc can't install` };
  if (m[7] !== undefined) return { error: `"${text}" has a local version label (+${m[7]}), which no Python release has` };
  const release = m[2]!.split('.').map(Number);
  const pre = m[3] !== undefined ? `${PRE_TAGS[m[3].toLowerCase()]}.${Number(m[4] || 0)}` : undefined;
  return { release, pre };
}

/** Three components (PEP 440 zero padding), or undefined when a fourth one is not zero. */
function threeComponents(release: readonly number[]): [number, number, number] | undefined {
  if (release.slice(3).some((n) => n !== 0)) return undefined;
  return [release[0] ?? 0, release[1] ?? 0, release[2] ?? 0];
}

function semverOf(release: readonly number[], pre?: string): string | undefined {
  const r = threeComponents(release);
  return r && `${r.join('.')}${pre ? `-${pre}` : ''}`;
}

/**
 * A Python version (PEP 440: `3.12`, `3.13.0rc1`) as semver (`3.12.0`,
 * `3.13.0-rc.1`), for comparing runtime versions with the ranges of
 * {@link pep440ToSemverRange}; undefined when no Python release can have it.
 */
export function pep440VersionToSemver(version: string): string | undefined {
  const v = parseVersion(version.trim());
  return 'error' in v ? undefined : semverOf(v.release, v.pre);
}

/** One comparator of a node-semver comparator set; `=` is an exact version. */
interface Comparator {
  op: '>=' | '>' | '<=' | '<' | '=';
  v: string;
}

/** A union (`||`) of comparator sets (ANDed). */
type Alternatives = Comparator[][];

/** The first version after every version that starts with `prefix` (`3.11` → `3.12.0`). */
function afterPrefix(prefix: readonly number[]): string | undefined {
  const bumped = [...prefix];
  bumped[bumped.length - 1]! += 1;
  return bumped.length > 3 ? undefined : semverOf(bumped);
}

/**
 * Translates PEP 440 version specifiers for Python versions
 * (`>=3.9,<3.13`, `~=3.11`, `==3.11.*`, `!=3.11.1`) into a node-semver
 * range: comparators joined by spaces, and `||` where `!=` splits the range
 * in two. `file` and `line` say where the specifier is, for the error: one
 * that does not parse, names no operator (`3.11`), or that no Python version
 * satisfies is a {@link SlugcError} `SLUGC_PYTHON_VERSION_INVALID`. An empty
 * specifier set means any version (`*`), as in PEP 440.
 */
export function pep440ToSemverRange(spec: string, file: string, line?: number): string {
  const where = line === undefined ? file : `${file} at line ${line}`;
  const fail = (reason: string, hint = 'Use PEP 440 specifiers separated by commas, e.g. ">=3.10,<3.14", "~=3.12" or "==3.12.*".'): never => {
    throw new SlugcError(PYTHON_VERSION_INVALID, `Couldn't read the Python version specifier ${JSON.stringify(spec)} in ${where}: ${reason}.`, {
      hint,
      details: { file, ...(line === undefined ? {} : { line }), specifier: spec },
    });
  };
  // An empty clause is skipped, as `packaging` does (a trailing comma is common).
  const clauses = spec.split(',').map((c) => c.trim()).filter(Boolean);
  let sets: Alternatives = [[]];
  for (const clause of clauses) {
    const alternatives = clauseAlternatives(clause, fail);
    sets = sets.flatMap((set) => alternatives.map((alt) => [...set, ...alt]));
  }
  const kept = new Map<string, Comparator[]>();
  for (const set of sets) {
    const simple = simplify(set);
    if (simple) kept.set(format(simple), simple);
  }
  if (kept.size === 0) fail('no Python version satisfies all of it', 'Loosen the bounds: each clause must hold at once (the commas mean "and").');
  if (kept.has('*')) return '*';
  const range = [...kept.keys()].join(' || ');
  // Every comparator was built from numbers, so node-semver must accept it; this guards the code, not the input.
  if (semver.validRange(range) === null) fail(`it became the range "${range}", which node-semver does not accept`);
  return range;
}

/** One specifier clause (`>=3.9`, `!=3.11.*`) as a union of comparator sets. */
function clauseAlternatives(clause: string, fail: (reason: string, hint?: string) => never): Alternatives {
  const m = /^(~=|===|==|!=|<=|>=|<|>)\s*(\S+)$/.exec(clause);
  if (!m) {
    if (/^v?\d/.test(clause)) fail(`"${clause}" has no operator`, `A bare version is not a PEP 440 specifier: write "==${clause}.*" for that line, "==${clause}" for exactly it, or ">=${clause}" for it and newer.`);
    if (/^[\^~]\s*\d/.test(clause)) fail(`"${clause}" is Poetry's syntax, not PEP 440`, 'Write "~=3.11" (3.11 and newer 3.x) or ">=3.11,<3.12" instead.');
    if (/^(=|=>|=<)\s*\d/.test(clause)) fail(`"${clause}" has no PEP 440 operator`, 'The operators are ==, !=, <=, >=, <, >, ~= and ===.');
    fail(`"${clause}" is not a PEP 440 specifier`);
  }
  const op = m[1]!;
  const text = m[2]!;
  if (op === '===') {
    // Arbitrary equality compares strings, and a Python version's string has three components.
    const exact = /^(\d+)\.(\d+)\.(\d+)(?:(a|b|rc)(\d+))?$/.exec(text);
    if (!exact) fail(`"===${text}" compares strings, and no Python version is written "${text}"`, 'Write the full version, e.g. "===3.12.4", or use "==" to compare versions.');
    return [[{ op: '=', v: `${exact[1]}.${exact[2]}.${exact[3]}${exact[4] ? `-${exact[4]}.${exact[5]}` : ''}` }]];
  }
  if (text.endsWith('.*')) {
    if (op !== '==' && op !== '!=') fail(`"${clause}": a ".*" suffix is only allowed with == and !=`);
    const prefix = text.slice(0, -2).replace(/^v/i, '');
    if (!/^\d+(\.\d+)*$/.test(prefix)) fail(`"${clause}": a ".*" suffix must follow a release version such as 3.11`);
    const release = prefix.split('.').map(Number);
    const lo = release.length <= 3 ? semverOf(release) : undefined;
    const hi = afterPrefix(release);
    if (!lo || !hi) fail(`"${clause}" has more than three components, which Python versions don't`);
    return op === '==' ? [[{ op: '>=', v: lo }, { op: '<', v: hi }]] : [[{ op: '<', v: lo }], [{ op: '>=', v: hi }]];
  }
  const parsed = parseVersion(text);
  if ('error' in parsed) return fail(parsed.error);
  const v = semverOf(parsed.release, parsed.pre);
  if (!v) return fail(`"${text}" has more than three components, which Python versions don't`);
  switch (op) {
    case '==':
      return [[{ op: '=', v }]];
    case '!=':
      return [[{ op: '<', v }], [{ op: '>', v }]];
    case '>=':
    case '>':
    case '<=':
    case '<':
      return [[{ op, v }]];
    default: {
      // ~=V is >=V together with ==P.*, P being V without its last release component.
      if (parsed.release.length < 2) fail(`"${clause}": ~= needs at least two components (e.g. ~=3.11)`);
      const hi = afterPrefix(parsed.release.slice(0, -1));
      if (!hi) fail(`"${clause}" has more than three components, which Python versions don't`);
      return [[{ op: '>=', v }, { op: '<', v: hi }]];
    }
  }
}

/**
 * A comparator set reduced to its tightest bounds, or null when no stable
 * version satisfies it (the `||` alternatives that `!=` makes are often
 * empty next to the other bounds). Dropping a looser bound never changes
 * which versions satisfy the set, pre-releases included.
 */
function simplify(set: Comparator[]): Comparator[] | null {
  let lo: Comparator | undefined;
  let hi: Comparator | undefined;
  let exact: string | undefined;
  for (const c of set) {
    if (c.op === '=') {
      if (exact !== undefined && semver.neq(exact, c.v)) return null;
      exact = c.v;
    } else if (c.op === '>=' || c.op === '>') {
      const d = lo ? semver.compare(c.v, lo.v) : 1;
      if (d > 0 || (d === 0 && c.op === '>')) lo = c;
    } else {
      const d = hi ? semver.compare(c.v, hi.v) : -1;
      if (d < 0 || (d === 0 && c.op === '<')) hi = c;
    }
  }
  const bounds = [lo, hi].filter((c): c is Comparator => c !== undefined);
  if (exact !== undefined) {
    return bounds.length === 0 || semver.satisfies(exact, format(bounds), { includePrerelease: true }) ? [{ op: '=', v: exact }] : null;
  }
  if (lo && hi) {
    const d = semver.compare(lo.v, hi.v);
    if (d > 0 || (d === 0 && (lo.op === '>' || hi.op === '<'))) return null;
    if (d === 0) return [{ op: '=', v: lo.v }];
  }
  // e.g. ">3.11.1 <3.11.2": ordered bounds, but only a pre-release lies between them.
  if (bounds.length > 0 && semver.minVersion(format(bounds)) === null) return null;
  return bounds;
}

function format(set: readonly Comparator[]): string {
  return set.length === 0 ? '*' : set.map((c) => (c.op === '=' ? c.v : `${c.op}${c.v}`)).join(' ');
}

/** Implementations and builds pyenv knows that are not CPython releases. */
const NOT_CPYTHON = /^(pypy|jython|ironpython|graalpy|graalpython|stackless|pyston|micropython|cinder|nogil|miniconda|anaconda|miniforge|mambaforge|activepython)/i;

/**
 * The version request in a plain version file (`.python-version`, or
 * `runtime.txt`'s `python-3.11.2`): `3` and `3.11` stay as they are (the SDK
 * reads them as `3.x` and `3.11.x`), `3.11.2` is exact, `python-3.11.2` is
 * `3.11.2`, `3.13.0rc1` is `3.13.0-rc.1`. Anything else (`pypy3.9`,
 * `3.11-dev`, `system`) throws `SLUGC_PYTHON_VERSION_INVALID` naming `file`.
 */
export function pythonVersionRequest(text: string, file = '.python-version'): string {
  const raw = text.replace(/^\uFEFF/, '').trim();
  const version = raw.replace(/^python-/, '');
  if (/^\d+(\.\d+){0,2}$/.test(version)) return version.split('.').map(Number).join('.');
  const pre = /^(\d+)\.(\d+)\.(\d+)(a|b|rc)(\d+)$/.exec(version);
  if (pre) return `${Number(pre[1])}.${Number(pre[2])}.${Number(pre[3])}-${pre[4]}.${Number(pre[5])}`;
  const runtimeTxt = /(^|[\\/])runtime\.txt$/.test(file);
  let hint = runtimeTxt ? 'Write python-3.13.1 (or python-3.13 for the newest 3.13.x).' : 'Write a version such as 3.13 (the newest 3.13.x) or 3.13.1.';
  let reason: string;
  if (raw === '') reason = 'it is empty';
  else if (raw === 'system') {
    reason = '"system" means the Python of the machine, and a slug brings its own';
    hint = `Write the Python version the app needs in ${file}, e.g. 3.13 (the newest 3.13.x) or 3.13.1.`;
  } else if (NOT_CPYTHON.test(version)) reason = `"${raw}" is not CPython, the only Python slugc installs`;
  else if (/^\d+\.\d+(\.\d+)?(-dev|t)$/.test(version)) reason = `"${raw}" is a development or free-threaded build, which slugc can't install`;
  else if (/^\d+\.\d+\.[x*]$/i.test(version)) {
    reason = `"${raw}" is a range, and ${file} holds a version`;
    hint = runtimeTxt ? `Write python-${version.slice(0, -2)} for the newest ${version}.` : `Write ${version.slice(0, -2)} for the newest ${version}.`;
  } else reason = `"${raw}" is not a Python version`;
  throw new SlugcError(PYTHON_VERSION_INVALID, `Couldn't read the Python version in ${file}: ${reason}.`, { hint, details: { file, request: raw } });
}

/**
 * The request in a `.python-version` file: its first line that is not a
 * comment (pyenv allows several versions, one a line; the first is the one
 * it uses), read with {@link pythonVersionRequest}; undefined when the file
 * names none. Fits the SDK's `requestFrom` as a `read` function.
 */
export function parsePythonVersionFile(text: string, file = '.python-version'): string | undefined {
  const line = firstLine(text.replace(/^\uFEFF/, ''));
  return line === undefined ? undefined : pythonVersionRequest(line, file);
}

/**
 * The request in Heroku's `runtime.txt` (`python-3.11.2`, or `python-3.11`
 * for the newest 3.11.x), read with {@link pythonVersionRequest}; undefined
 * when the file is empty. Fits the SDK's `requestFrom` as a `read` function.
 */
export function parseRuntimeTxt(text: string, file = 'runtime.txt'): string | undefined {
  const line = firstLine(text.replace(/^\uFEFF/, ''));
  return line === undefined ? undefined : pythonVersionRequest(line, file);
}
