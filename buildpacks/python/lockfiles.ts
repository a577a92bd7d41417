/**
 * Pipfile.lock, uv.lock and poetry.lock turned into what pip installs
 * without Pipenv, uv or Poetry: a requirements file in which every package
 * the app needs in production is pinned with the hashes its lockfile
 * recorded. Nothing is run and nothing is fetched; dev dependencies, dev
 * groups and extras the app did not ask for are left out.
 *
 * A line is `name==version ; marker --hash=sha256:...`. The marker comes
 * before the options because pip stops reading the requirement at the first
 * `--option` and silently drops anything after it that is not an option.
 * The lines are meant for `pip install --require-hashes --no-deps -r`: the
 * lockfile is already the whole graph, so pip has nothing to resolve, and
 * each package's own extras are already lines of their own.
 */
import { z } from 'zod';
import { SlugcError, parseJson, parseTomlText, parseWithSchema } from 'slugc/sdk';

/** The error code of a lockfile that does not parse or does not have the shape of its format. */
export const LOCKFILE_INVALID = 'SLUGC_PYTHON_LOCKFILE_INVALID';

/** The error code of a lockfile slugc can't turn into pinned requirements: an unknown format version, or a package from git, a path or a URL. */
export const LOCKFILE_UNSUPPORTED = 'SLUGC_PYTHON_LOCKFILE_UNSUPPORTED';

/** Pinned requirements made from a lockfile. */
export interface LockedRequirements {
  /**
   * pip requirements text: one line per package, sorted by normalized name,
   * `name==version ; marker --hash=...`, ending in a newline (empty when the
   * app needs no package).
   */
  requirements: string;
  /** The normalized names of the packages, in the order of the lines (a name locked at two versions, each under its own marker, is listed once). */
  packages: string[];
  /**
   * The packages the lockfile has no sha256/384/512 hash for; their lines are
   * pinned but carry no `--hash`. pip checks hashes for the whole file as
   * soon as one line has a `--hash`, and then refuses every line without
   * one, so when this is not empty the caller must either refuse the build
   * naming these packages, or remove every `--hash` and install pinned but
   * unchecked (saying so in the log).
   */
  unhashed: string[];
}

/** A package name as PEP 503 normalizes it: lower case, each run of `-`, `_` and `.` one `-`. */
export function normalizePackageName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

// ---------------------------------------------------------------------------
// Markers: when a package is needed, as an OR of ANDs of the markers on the
// dependency edges that lead to it (a clause with no marker: always).

/** A conjunction of markers, sorted and without repeats; empty means always. */
type Clause = readonly string[];
/** A disjunction of clauses; `[]` never, `[[]]` always. */
type Condition = readonly Clause[];

const ALWAYS: Condition = [[]];

// A graph whose markers multiply past this many alternatives is treated as
// always needed: installing a package that is not needed on this platform
// beats a file pip would take minutes to evaluate, and real lockfiles stay
// far below it.
const MAX_CLAUSES = 64;

/** Drops repeated clauses and those implied by a smaller one (`a or (a and b)` is `a`). */
function absorb(clauses: Clause[]): Condition {
  const sorted = [...clauses].sort((x, y) => x.length - y.length);
  const kept: Clause[] = [];
  for (const c of sorted) if (!kept.some((k) => k.every((atom) => c.includes(atom)))) kept.push(c);
  return kept.length > MAX_CLAUSES ? ALWAYS : kept;
}

function andMarkers(cond: Condition, markers: readonly string[]): Condition {
  if (markers.length === 0) return cond;
  return absorb(cond.map((c) => [...new Set([...c, ...markers])].sort()));
}

// Never ("[]") and always ("[[]]") must differ, so each clause is bracketed.
function conditionKey(cond: Condition): string {
  return cond.map((c) => JSON.stringify(c)).sort().join(',');
}

/** The PEP 508 marker of a condition; undefined when always. */
function renderMarker(cond: Condition): string | undefined {
  if (cond.length === 0 || cond.some((c) => c.length === 0)) return undefined;
  // `and` binds tighter than `or` in PEP 508, so a marker with an `or` in it is bracketed inside an `and`.
  const conj = (c: Clause) => c.map((m) => (c.length > 1 && /\sor\s/i.test(m) ? `(${m})` : m)).join(' and ');
  if (cond.length === 1) return conj(cond[0]!);
  return cond.map((c) => `(${conj(c)})`).sort().join(' or ');
}

// ---------------------------------------------------------------------------
// The dependency graph walk shared by uv.lock and poetry.lock (2.0).

/** A dependency edge: the package it leads to, the extras it asks of it, the markers that guard it. */
interface Edge {
  target: number;
  extras: readonly string[];
  markers: readonly string[];
}

/**
 * When each package is needed, walking from `roots`: a node is a package,
 * or one of its extras (which needs the package and activates the edges of
 * that extra). Runs to a fixed point, so cycles and packages reached along
 * several paths get the OR of every path's markers.
 */
function reachable(roots: readonly Edge[], edgesOf: (pkg: number, extra: string | null) => readonly Edge[]): Map<number, Condition> {
  const conditions = new Map<string, Condition>();
  const queue: [number, string | null][] = [];
  const reach = (pkg: number, extra: string | null, cond: Condition) => {
    const key = `${pkg}\0${extra ?? ''}`;
    const old = conditions.get(key) ?? [];
    const next = absorb([...old, ...cond]);
    if (conditionKey(next) === conditionKey(old)) return;
    conditions.set(key, next);
    queue.push([pkg, extra]);
  };
  const follow = (edge: Edge, cond: Condition) => {
    const c = andMarkers(cond, edge.markers);
    reach(edge.target, null, c);
    for (const extra of edge.extras) reach(edge.target, normalizePackageName(extra), c);
  };
  for (const edge of roots) follow(edge, ALWAYS);
  for (let next = queue.shift(); next; next = queue.shift()) {
    const [pkg, extra] = next;
    const cond = conditions.get(`${pkg}\0${extra ?? ''}`)!;
    if (extra !== null) reach(pkg, null, cond);
    for (const edge of edgesOf(pkg, extra)) follow(edge, cond);
  }
  const out = new Map<number, Condition>();
  for (const [key, cond] of conditions) if (key.endsWith('\0')) out.set(Number(key.slice(0, -1)), cond);
  return out;
}

// ---------------------------------------------------------------------------
// Pins and the requirements text.

/** One package to install. */
interface Pin {
  name: string;
  version: string;
  /** `==`, or `===` for a Pipfile.lock arbitrary-equality pin. */
  op?: '==' | '===';
  hashes: readonly string[];
  when: Condition;
}

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
// What pip may find in a locked version (PEP 440 with local labels), and nothing a requirements file would read as syntax.
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.!+_-]*$/;
const HEX_LENGTHS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

function invalid(file: string, reason: string, details: Record<string, unknown> = {}): SlugcError {
  return new SlugcError(LOCKFILE_INVALID, `Couldn't read ${file}: ${reason}.`, {
    hint: `Lock again with the tool that wrote ${file} (it is not meant to be edited by hand), and commit the result.`,
    details: { file, ...details },
  });
}

/**
 * The hashes pip accepts (sha256, sha384, sha512), normalized and sorted;
 * others (md5) are left out, as pip would refuse them. A hash that is not
 * `algorithm:hex` is an invalid lockfile.
 */
function pipHashes(hashes: readonly string[], pkg: string, file: string): string[] {
  const out = new Set<string>();
  for (const h of hashes) {
    const m = /^([A-Za-z0-9]+):([0-9A-Fa-f]+)$/.exec(h.trim());
    if (!m) throw invalid(file, `the hash ${JSON.stringify(h)} of ${pkg} is not "algorithm:hex"`, { package: pkg });
    const algorithm = m[1]!.toLowerCase();
    const length = HEX_LENGTHS[algorithm];
    if (length === undefined) continue;
    if (m[2]!.length !== length) throw invalid(file, `the ${algorithm} hash of ${pkg} has ${m[2]!.length} hex digits, not ${length}`, { package: pkg });
    out.add(`${algorithm}:${m[2]!.toLowerCase()}`);
  }
  return [...out].sort();
}

function render(pins: Pin[], file: string): LockedRequirements {
  const sorted = [...pins].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  const lines: string[] = [];
  for (const p of sorted) {
    if (!NAME.test(p.name)) throw invalid(file, `${JSON.stringify(p.name)} is not a package name`);
    if (!VERSION.test(p.version)) throw invalid(file, `the version ${JSON.stringify(p.version)} of ${p.name} is not a version`, { package: p.name });
    for (const clause of p.when) {
      for (const m of clause) {
        // A requirements line ends at a newline, a ` #` comment or the first `-option`; a marker may hold none of them.
        if (/[\r\n\\]|(^|\s)[#-]/.test(m)) throw invalid(file, `the marker ${JSON.stringify(m)} of ${p.name} can't be written to a requirements file`, { package: p.name });
      }
    }
    const marker = renderMarker(p.when);
    lines.push(`${p.name}${p.op ?? '=='}${p.version}${marker ? ` ; ${marker}` : ''}${p.hashes.map((h) => ` --hash=${h}`).join('')}`);
  }
  return {
    requirements: lines.length ? `${lines.join('\n')}\n` : '',
    packages: [...new Set(sorted.map((p) => p.name))],
    unhashed: [...new Set(sorted.filter((p) => p.hashes.length === 0).map((p) => p.name))],
  };
}

/** A package from somewhere other than a package index. */
interface Unsupported {
  name: string;
  /** Where it comes from, e.g. `a git repository`. */
  from: string;
}

// URLs are not quoted: a git URL may carry a token.
function refuseSources(file: string, bad: Unsupported[]): never {
  const list = bad
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((b) => `${b.name} (from ${b.from})`)
    .join(', ');
  throw new SlugcError(LOCKFILE_UNSUPPORTED, `Couldn't pin ${list} from ${file}: a hash-checked pip install takes packages from a package index only.`, {
    hint: 'Publish it to a package index (a private one works) and lock it from there, or build a wheel of it, commit the wheel to the app (e.g. in vendor/) and point pip at it with --find-links; then lock again.',
    details: { file, packages: bad.map((b) => b.name) },
  });
}

// ---------------------------------------------------------------------------
// Pipfile.lock

const pipfileEntrySchema = z
  .object({
    version: z.string().optional(),
    hashes: z.array(z.string()).optional(),
    markers: z.string().optional(),
    extras: z.array(z.string()).optional(),
    index: z.string().optional(),
    editable: z.boolean().optional(),
  })
  .loose();

const pipfileLockSchema = z
  .object({
    _meta: z.object({ 'pipfile-spec': z.number().optional() }).loose().optional(),
    default: z.record(z.string(), pipfileEntrySchema),
  })
  .loose();

/** What a Pipfile.lock entry that is not from an index comes from, by its key. */
const PIPFILE_SOURCES: [string, string][] = [
  ['git', 'a git repository'],
  ['hg', 'a Mercurial repository'],
  ['svn', 'a Subversion repository'],
  ['bzr', 'a Bazaar repository'],
  ['path', 'a local path'],
  ['file', 'a URL'],
];

/**
 * Turns a Pipfile.lock into pinned, hash-checked requirements: the `default`
 * section only (`develop` holds the dev packages), each entry's `==version`,
 * `hashes` and `markers`. Entries from git, a path, a URL or `editable`
 * throw `SLUGC_PYTHON_LOCKFILE_UNSUPPORTED` naming them; an entry without
 * hashes is pinned and listed in `unhashed`. An entry's `index` is not
 * written: the caller points pip at the app's index (e.g. `PIP_INDEX_URL`).
 */
export function pipfileLockToRequirements(text: string, file = 'Pipfile.lock'): LockedRequirements {
  const data = parseJson(text, file, { code: LOCKFILE_INVALID, hint: `Lock again with \`pipenv lock\` and commit ${file}.` });
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw invalid(file, 'it must hold a JSON object');
  const spec = (data as { _meta?: { 'pipfile-spec'?: unknown } })._meta?.['pipfile-spec'];
  // Pipenv has written pipfile-spec 6 since 2018; another number is a format slugc has not seen.
  if (spec !== undefined && spec !== 6) {
    throw new SlugcError(LOCKFILE_UNSUPPORTED, `Couldn't read ${file}: its format (pipfile-spec ${JSON.stringify(spec)}) is not the one slugc reads (6).`, {
      hint: `Lock again with a current Pipenv (\`pipenv lock\`) and commit ${file}.`,
      details: { file, format: spec },
    });
  }
  const lock = parseWithSchema(pipfileLockSchema, data, LOCKFILE_INVALID, `Couldn't read ${file}:`, `Lock again with \`pipenv lock\` and commit ${file}.`);
  const pins: Pin[] = [];
  const bad: Unsupported[] = [];
  for (const [rawName, entry] of Object.entries(lock.default)) {
    const name = normalizePackageName(rawName);
    const source = PIPFILE_SOURCES.find(([key]) => key in entry);
    if (source || entry.editable === true) {
      bad.push({ name, from: source ? source[1] : 'an editable install' });
      continue;
    }
    const m = /^(===?)\s*(\S+)$/.exec(entry.version?.trim() ?? '');
    if (!m) throw invalid(file, `${rawName} in "default" has no exact version ("version": "==1.2.3")`, { package: name });
    pins.push({
      name,
      op: m[1] as '==' | '===',
      version: m[2]!,
      hashes: pipHashes(entry.hashes ?? [], name, file),
      when: entry.markers?.trim() ? [[entry.markers.trim()]] : ALWAYS,
    });
  }
  if (bad.length) refuseSources(file, bad);
  return render(pins, file);
}

// ---------------------------------------------------------------------------
// uv.lock

const uvDependencySchema = z
  .object({
    name: z.string(),
    version: z.string().optional(),
    source: z.record(z.string(), z.unknown()).optional(),
    marker: z.string().optional(),
    extra: z.array(z.string()).optional(),
  })
  .loose();

const uvArtifactSchema = z.object({ hash: z.string().optional() }).loose();

const uvPackageSchema = z
  .object({
    name: z.string(),
    version: z.string().optional(),
    source: z.record(z.string(), z.unknown()).optional(),
    dependencies: z.array(uvDependencySchema).optional(),
    'optional-dependencies': z.record(z.string(), z.array(uvDependencySchema)).optional(),
    sdist: uvArtifactSchema.optional(),
    wheels: z.array(uvArtifactSchema).optional(),
  })
  .loose();

const uvLockSchema = z.object({ version: z.literal(1), package: z.array(uvPackageSchema).optional() }).loose();

type UvDependency = z.infer<typeof uvDependencySchema>;

/** What a uv.lock `source` that is not a registry is, in words. */
const UV_SOURCES: Record<string, string> = {
  git: 'a git repository',
  path: 'a local path',
  directory: 'a local directory',
  editable: 'an editable local directory',
  virtual: 'a workspace member that is not a package',
  url: 'a URL',
};

/** A source table with its keys sorted, to compare two. */
function sourceKey(source: Record<string, unknown> | undefined): string {
  return JSON.stringify(Object.entries(source ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * Turns a uv.lock (lock format `version = 1`) into pinned, hash-checked
 * requirements: the dependencies of the app's own project (the package whose
 * source is `{ virtual = "." }` or `{ editable = "." }`, itself not listed),
 * walked transitively through `dependencies` and the `optional-dependencies`
 * an edge asks for with `extra`, never through dev groups. The markers of
 * the edges that lead to a package guard its line (several paths: their OR;
 * any unguarded path: no marker). A package's hashes are those of its sdist
 * and every wheel. A package from git, a path or a URL, or another lock
 * format version, throws `SLUGC_PYTHON_LOCKFILE_UNSUPPORTED`; a TOML syntax
 * error names the line and column (`SLUGC_PYTHON_LOCKFILE_INVALID`).
 */
export function uvLockToRequirements(text: string, file = 'uv.lock'): LockedRequirements {
  const data = parseTomlText(text, file, { code: LOCKFILE_INVALID, hint: `Lock again with \`uv lock\` and commit ${file}.` });
  if (data.version !== 1) {
    const what = data.version === undefined ? 'it has no lock format `version`' : `its lock format version ${JSON.stringify(data.version)} is not the one slugc reads (1)`;
    throw new SlugcError(LOCKFILE_UNSUPPORTED, `Couldn't read ${file}: ${what}.`, {
      hint: `slugc reads the lock format uv has written since 0.3 (version 1): lock with such a uv (\`uv lock\`) and commit ${file}, or use a slugc that reads the newer format.`,
      details: { file, format: data.version },
    });
  }
  const lock = parseWithSchema(uvLockSchema, data, LOCKFILE_INVALID, `Couldn't read ${file}:`, `Lock again with \`uv lock\` and commit ${file}.`);
  const packages = lock.package ?? [];
  const byName = new Map<string, number[]>();
  packages.forEach((p, i) => byName.set(normalizePackageName(p.name), [...(byName.get(normalizePackageName(p.name)) ?? []), i]));

  const roots = packages.flatMap((p, i) => (p.source?.virtual === '.' || p.source?.editable === '.' ? [i] : []));
  if (roots.length !== 1) {
    throw new SlugcError(LOCKFILE_INVALID, `Couldn't find the app's own project in ${file}: ${roots.length === 0 ? 'no package has' : `${roots.length} packages have`} source { virtual = "." } or { editable = "." }.`, {
      hint: `Run \`uv lock\` in the app's root, next to the pyproject.toml with its [project] table, and commit ${file}.`,
      details: { file },
    });
  }
  const root = roots[0]!;

  const resolve = (dep: UvDependency, from: string): number => {
    let found = byName.get(normalizePackageName(dep.name)) ?? [];
    if (dep.version !== undefined) found = found.filter((i) => packages[i]!.version === dep.version);
    if (found.length > 1 && dep.source !== undefined) found = found.filter((i) => sourceKey(packages[i]!.source) === sourceKey(dep.source));
    if (found.length === 1) return found[0]!;
    const which = `${dep.name}${dep.version === undefined ? '' : ` ${dep.version}`}`;
    throw invalid(file, found.length === 0 ? `${from} depends on ${which}, which has no [[package]] entry` : `${from} depends on ${which}, which ${found.length} [[package]] entries match`, { package: dep.name });
  };
  const edgesOf = (pkg: number, extra: string | null): Edge[] => {
    const p = packages[pkg]!;
    const optional = Object.entries(p['optional-dependencies'] ?? {});
    const deps = extra === null ? (p.dependencies ?? []) : (optional.find(([name]) => normalizePackageName(name) === extra)?.[1] ?? []);
    return deps.map((d) => ({ target: resolve(d, p.name), extras: d.extra ?? [], markers: d.marker?.trim() ? [d.marker.trim()] : [] }));
  };

  const needed = reachable(edgesOf(root, null), edgesOf);
  needed.delete(root);
  const pins: Pin[] = [];
  const bad: Unsupported[] = [];
  for (const [i, when] of needed) {
    const p = packages[i]!;
    const name = normalizePackageName(p.name);
    if (p.source?.registry === undefined) {
      const kind = Object.keys(p.source ?? {}).find((k) => k in UV_SOURCES);
      bad.push({ name, from: kind ? UV_SOURCES[kind]! : 'a source other than a package index' });
      continue;
    }
    if (p.version === undefined) throw invalid(file, `${p.name} has no version`, { package: name });
    const hashes = [p.sdist?.hash, ...(p.wheels ?? []).map((w) => w.hash)].filter((h): h is string => h !== undefined);
    pins.push({ name, version: p.version, hashes: pipHashes(hashes, name, file), when });
  }
  if (bad.length) refuseSources(file, bad);
  return render(pins, file);
}

// ---------------------------------------------------------------------------
// poetry.lock

const poetryDependencyTableSchema = z
  .object({
    version: z.string().optional(),
    markers: z.string().optional(),
    python: z.string().optional(),
    optional: z.boolean().optional(),
    extras: z.array(z.string()).optional(),
  })
  .loose();

const poetryDependencySchema = z.union([z.string(), poetryDependencyTableSchema, z.array(z.union([z.string(), poetryDependencyTableSchema]))]);

type PoetryDependency = z.infer<typeof poetryDependencySchema>;

const poetryPackageSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    optional: z.boolean().optional(),
    files: z.array(z.object({ hash: z.string() }).loose()).optional(),
    source: z.object({ type: z.string().optional() }).loose().optional(),
    dependencies: z.record(z.string(), poetryDependencySchema).optional(),
    extras: z.record(z.string(), z.array(z.string())).optional(),
    groups: z.array(z.string()).optional(),
    markers: z.union([z.string(), z.record(z.string(), z.string())]).optional(),
  })
  .loose();

const poetryLockSchema = z.object({ package: z.array(poetryPackageSchema).optional() }).loose();

/** The parts of pyproject.toml that name the main dependencies. */
const pyprojectSchema = z
  .object({
    project: z.object({ dependencies: z.array(z.string()).optional(), dynamic: z.array(z.string()).optional() }).loose().optional(),
    tool: z
      .object({ poetry: z.object({ dependencies: z.record(z.string(), poetryDependencySchema).optional() }).loose().optional() })
      .loose()
      .optional(),
  })
  .loose();

/** What a poetry.lock `[package.source] type` that is not an index is, in words. */
const POETRY_SOURCES: Record<string, string> = {
  git: 'a git repository',
  directory: 'a local directory',
  file: 'a local file',
  url: 'a URL',
};

/** One constraint of a Poetry dependency, as an edge needs it. */
interface PoetryConstraint {
  optional: boolean;
  extras: string[];
  markers: string[];
}

/** A Poetry dependency value (`"^2.0"`, a table, or a list of them) as its constraints. */
function poetryConstraints(value: PoetryDependency, what: string, file: string): PoetryConstraint[] {
  return (Array.isArray(value) ? value : [value]).map((v) => {
    if (typeof v === 'string') return { optional: false, extras: [], markers: [] };
    const markers = [v.markers?.trim(), v.python === undefined ? undefined : poetryPythonMarker(v.python, what, file)].filter((m): m is string => !!m);
    return { optional: v.optional === true, extras: v.extras ?? [], markers };
  });
}

/**
 * A Poetry `python = "..."` restriction as a PEP 508 marker (undefined for
 * any Python): Poetry's `^`, `~`, `*`, `X.Y.*`, comparators, `,` or spaces
 * for "and", `||` for "or". Without it a dependency meant for old Pythons
 * (`backports.zoneinfo`, python = "<3.9") would be installed, and fail to
 * build, on a new one.
 */
function poetryPythonMarker(constraint: string, what: string, file: string): string | undefined {
  const fail = (): never => {
    throw new SlugcError(LOCKFILE_UNSUPPORTED, `Couldn't read the python restriction ${JSON.stringify(constraint)} of ${what} in ${file}.`, {
      hint: 'Write it as comparators, e.g. python = ">=3.8,<3.11", or use markers = "python_version < \'3.11\'".',
      details: { file, constraint },
    });
  };
  const alternatives: string[] = [];
  for (const alt of constraint.split('||')) {
    const atoms: string[] = [];
    const tokens = alt.trim().replace(/(\^|~=|~|===|==|!=|<=|>=|<|>|=)\s+/g, '$1').split(/[\s,]+/).filter(Boolean);
    for (const token of tokens) {
      const m = /^(\^|~=|~|==|!=|<=|>=|<|>|=)?(\*|\d+(?:\.\d+)*)(\.\*)?$/.exec(token);
      if (!m) return fail();
      const op = m[1] ?? '==';
      if (m[2] === '*') {
        if (op !== '==') fail();
        continue;
      }
      const release = m[2]!.split('.').map(Number);
      const v = release.join('.');
      const bump = (i: number) => [...release.slice(0, i), release[i]! + 1].join('.');
      const range = (lo: string, hi: string) => atoms.push(`python_full_version >= '${lo}'`, `python_full_version < '${hi}'`);
      const wildcard = m[3] !== undefined || ((op === '==' || op === '=') && release.length < 3);
      if (op === '^') range(v, bump(Math.max(0, release.findIndex((n) => n !== 0))));
      else if (op === '~') range(v, bump(release.length >= 2 ? 1 : 0));
      else if (op === '~=') {
        if (release.length < 2) fail();
        range(v, bump(release.length - 2));
      } else if (wildcard && (op === '==' || op === '=')) range(v, bump(release.length - 1));
      else if (wildcard && op === '!=') atoms.push(`(python_full_version < '${v}' or python_full_version >= '${bump(release.length - 1)}')`);
      else if (wildcard) fail();
      else atoms.push(`python_full_version ${op === '=' ? '==' : op} '${v}'`);
    }
    if (atoms.length === 0) return undefined;
    alternatives.push(atoms.join(' and '));
  }
  return alternatives.length === 1 ? alternatives[0] : alternatives.map((a) => `(${a})`).join(' or ');
}

/** The name, extras and marker of a PEP 508 requirement (`requests[socks]>=2 ; python_version < "3.12"`). */
function pep508(requirement: string, file: string): { name: string; extras: string[]; markers: string[] } {
  const m = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[([^\]]*)\])?[^;]*(?:;(.*))?$/.exec(requirement);
  if (!m) throw invalid(file, `${JSON.stringify(requirement)} is not a PEP 508 requirement`);
  return {
    name: m[1]!,
    extras: (m[2] ?? '').split(',').map((e) => e.trim()).filter(Boolean),
    markers: m[3]?.trim() ? [m[3].trim()] : [],
  };
}

/** A root dependency of the project, before it is found in the lock. */
interface RootDependency {
  name: string;
  extras: string[];
  markers: string[];
}

/**
 * The project's main dependencies: PEP 621 `[project] dependencies` (unless
 * `dynamic`), else `[tool.poetry.dependencies]` without `python` and without
 * the optional ones (extras). Dev groups (`[tool.poetry.group.*]`,
 * `[tool.poetry.dev-dependencies]`) are never read.
 */
function poetryRoots(pyproject: Record<string, unknown>): RootDependency[] {
  const py = parseWithSchema(pyprojectSchema, pyproject, LOCKFILE_INVALID, "Couldn't read pyproject.toml:", 'Dependencies are a list of PEP 508 strings ([project]) or a table of versions ([tool.poetry.dependencies]).');
  const project = py.project;
  if (project?.dependencies !== undefined && !project.dynamic?.includes('dependencies')) return project.dependencies.map((r) => pep508(r, 'pyproject.toml'));
  return Object.entries(py.tool?.poetry?.dependencies ?? {})
    .filter(([name]) => name.toLowerCase() !== 'python')
    .flatMap(([name, value]) => poetryConstraints(value, name, 'pyproject.toml').filter((c) => !c.optional).map((c) => ({ name, extras: c.extras, markers: c.markers })));
}

/**
 * Turns a poetry.lock (lock-version 2.x) into pinned, hash-checked
 * requirements of the main group, leaving out `optional` packages (the
 * project's extras). From lock-version 2.1 on, each package says its
 * `groups` and `markers`; in 2.0 it does not, so the main dependencies are
 * read from `pyproject` (the parsed pyproject.toml; required then) and
 * walked through `[package.dependencies]`, with the extras an edge asks
 * for. A package from git, a path or a URL, lock-version 1.x, or a 2.0 lock
 * that locks two versions of one package throws
 * `SLUGC_PYTHON_LOCKFILE_UNSUPPORTED`.
 */
export function poetryLockToRequirements(text: string, file = 'poetry.lock', pyproject?: Record<string, unknown>): LockedRequirements {
  const data = parseTomlText(text, file, { code: LOCKFILE_INVALID, hint: `Lock again with \`poetry lock\` and commit ${file}.` });
  const metadata = data.metadata as Record<string, unknown> | undefined;
  const lockVersion = typeof metadata === 'object' && metadata !== null ? metadata['lock-version'] : undefined;
  const m = typeof lockVersion === 'string' ? /^(\d+)\.(\d+)$/.exec(lockVersion) : null;
  if (!m || m[1] !== '2') {
    // Poetry reads a lock without lock-version as 1.0.
    const old = lockVersion === undefined || (typeof lockVersion === 'string' && /^[01](\.|$)/.test(lockVersion));
    throw new SlugcError(LOCKFILE_UNSUPPORTED, `Couldn't read ${file}: its lock-version ${lockVersion === undefined ? '(none, so 1.0)' : JSON.stringify(lockVersion)} is not one slugc reads (2.0 and 2.1).`, {
      hint: old
        ? `Lock again with Poetry 1.8 (\`poetry lock --no-update\`) or Poetry 2 (\`poetry lock\`), which write lock-version 2.x without changing the versions, and commit ${file}.`
        : `Lock with a Poetry that writes lock-version 2.0 or 2.1 (Poetry 1.3 to 2.x), and commit ${file}.`,
      details: { file, format: lockVersion },
    });
  }
  const lock = parseWithSchema(poetryLockSchema, data, LOCKFILE_INVALID, `Couldn't read ${file}:`, `Lock again with \`poetry lock\` and commit ${file}.`);
  const packages = lock.package ?? [];

  let needed: Map<number, Condition>;
  if (Number(m[2]) >= 1 && packages.every((p) => p.groups !== undefined)) {
    needed = new Map();
    packages.forEach((p, i) => {
      if (!p.groups!.includes('main') || p.optional === true) return;
      // One marker for every group, or one per group; a group with none is unconditional.
      const marker = typeof p.markers === 'string' ? p.markers : p.markers?.main;
      needed.set(i, marker?.trim() ? [[marker.trim()]] : ALWAYS);
    });
  } else {
    if (pyproject === undefined) {
      throw new SlugcError(LOCKFILE_UNSUPPORTED, `Couldn't tell the main dependencies from the dev ones in ${file}: lock-version ${lockVersion} does not record groups, and there is no pyproject.toml to read them from.`, {
        hint: `Commit the pyproject.toml ${file} was locked from, or lock with Poetry 2 (lock-version 2.1 records groups).`,
        details: { file },
      });
    }
    const byName = new Map<string, number[]>();
    packages.forEach((p, i) => byName.set(normalizePackageName(p.name), [...(byName.get(normalizePackageName(p.name)) ?? []), i]));
    // Poetry leaves out of the lock a dependency whose markers exclude every Python the project allows, so a missing one is skipped.
    const find = (name: string): number | undefined => {
      const found = byName.get(normalizePackageName(name)) ?? [];
      if (found.length > 1) {
        throw new SlugcError(LOCKFILE_UNSUPPORTED, `Couldn't tell which of the ${found.length} versions of ${normalizePackageName(name)} in ${file} the app needs: lock-version ${lockVersion} does not record it.`, {
          hint: `Lock with Poetry 2 (\`poetry lock\`), whose lock-version 2.1 records each package's groups and markers, and commit ${file}.`,
          details: { file, package: normalizePackageName(name) },
        });
      }
      return found[0];
    };
    const edgesOf = (pkg: number, extra: string | null): Edge[] => {
      const p = packages[pkg]!;
      const deps = Object.entries(p.dependencies ?? {});
      const edges: Edge[] = [];
      const add = (name: string, c: { extras: readonly string[]; markers: readonly string[] }) => {
        const target = find(name);
        if (target !== undefined) edges.push({ target, extras: c.extras, markers: c.markers });
      };
      if (extra === null) {
        for (const [name, value] of deps) for (const c of poetryConstraints(value, name, file)) if (!c.optional) add(name, c);
        return edges;
      }
      // An extra lists requirements ("PySocks (>=1.5.6,!=1.5.7)"); their markers are on the optional dependency of that name.
      const listed = Object.entries(p.extras ?? {}).find(([e]) => normalizePackageName(e) === extra)?.[1] ?? [];
      for (const requirement of listed) {
        const r = pep508(requirement.replace(/\s*\(.*\)\s*$/, ''), file);
        const dep = deps.find(([name]) => normalizePackageName(name) === normalizePackageName(r.name));
        const constraints = dep ? poetryConstraints(dep[1], dep[0], file) : [{ optional: true, extras: [], markers: [] }];
        for (const c of constraints) add(r.name, { extras: [...c.extras, ...r.extras], markers: [...c.markers, ...r.markers] });
      }
      return edges;
    };
    const roots: Edge[] = [];
    for (const r of poetryRoots(pyproject)) {
      const target = find(r.name);
      if (target !== undefined) roots.push({ target, extras: r.extras, markers: r.markers });
      else if (r.markers.length === 0) {
        throw new SlugcError(LOCKFILE_INVALID, `Couldn't find ${normalizePackageName(r.name)} in ${file}, though pyproject.toml depends on it: the lock is older than pyproject.toml.`, {
          hint: `Run \`poetry lock\` and commit ${file}.`,
          details: { file, package: normalizePackageName(r.name) },
        });
      }
    }
    needed = reachable(roots, edgesOf);
  }

  const pins: Pin[] = [];
  const bad: Unsupported[] = [];
  for (const [i, when] of needed) {
    const p = packages[i]!;
    const name = normalizePackageName(p.name);
    const type = p.source?.type;
    // `legacy` is a package index other than PyPI (a [[tool.poetry.source]]); no source table is PyPI.
    if (type !== undefined && type !== 'legacy') {
      bad.push({ name, from: POETRY_SOURCES[type] ?? `a source of type ${JSON.stringify(type)}` });
      continue;
    }
    pins.push({ name, version: p.version, hashes: pipHashes((p.files ?? []).map((f) => f.hash), name, file), when });
  }
  if (bad.length) refuseSources(file, bad);
  return render(pins, file);
}
