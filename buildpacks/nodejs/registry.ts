import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { SlugcError, VersionUnsatisfiableError } from '../../src/errors.js';

/** The public npm registry, used when nothing else is configured. */
export const DEFAULT_NPM_REGISTRY = 'https://registry.npmjs.org/';

/** The npm registry to use and how to authenticate to it. */
export interface RegistryConfig {
  /** Base URL, ending with `/`. */
  url: string;
  /** Where the URL came from, for the log. */
  from: string;
  /** A bearer token for the registry host, from `//host/:_authToken=`. */
  authToken?: string;
}

/** Reads `key=value` lines of an .npmrc into a map (no sections, `${VAR}` expanded from env). */
export function parseNpmrc(text: string, env: Readonly<Record<string, string>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => env[name] ?? '');
    out.set(key, value);
  }
  return out;
}

/**
 * The npm registry the user configured, as npm itself would pick it: the
 * `npm_config_registry` env var, then the app's `.npmrc`, then the user's
 * npmrc (`NPM_CONFIG_USERCONFIG`), then the public registry.
 */
export function registryConfig(appDir: string, env: Readonly<Record<string, string>>): RegistryConfig {
  const files: { from: string; map: Map<string, string> }[] = [];
  for (const [from, file] of [
    ['the app .npmrc', path.join(appDir, '.npmrc')],
    ['the user npmrc', env.NPM_CONFIG_USERCONFIG ?? env.npm_config_userconfig],
  ] as const) {
    if (!file) continue;
    try {
      files.push({ from, map: parseNpmrc(fs.readFileSync(file, 'utf8'), env) });
    } catch {
      /* no such file */
    }
  }
  const envUrl = env.npm_config_registry ?? env.NPM_CONFIG_REGISTRY;
  let url = DEFAULT_NPM_REGISTRY;
  let from = 'the default';
  if (envUrl) {
    url = envUrl;
    from = 'npm_config_registry';
  } else {
    const f = files.find((x) => x.map.has('registry'));
    if (f) {
      url = f.map.get('registry')!;
      from = f.from;
    }
  }
  if (!/^https?:\/\//.test(url)) {
    throw new SlugcError('SLUGC_REGISTRY', `Couldn't use the npm registry ${JSON.stringify(url)} (from ${from}): not an http(s) URL.`, {
      hint: 'Set registry=https://... in .npmrc or npm_config_registry.',
    });
  }
  if (!url.endsWith('/')) url += '/';
  const hostPath = url.replace(/^https?:/, '');
  let authToken: string | undefined;
  for (const f of files) {
    for (const [k, v] of f.map) if (k.endsWith(':_authToken') && hostPath.startsWith(k.slice(0, -':_authToken'.length))) authToken ??= v;
  }
  return { url, from, ...(authToken ? { authToken } : {}) };
}

/** The parts of a registry package document slugc reads. */
export interface Packument {
  name: string;
  'dist-tags'?: Record<string, string>;
  versions: Record<string, { version: string; engines?: Record<string, string>; dist?: { tarball?: string; integrity?: string; shasum?: string } }>;
}

/** One installable version: its tarball and integrity. */
export interface RegistryArtifact {
  name: string;
  version: string;
  tarball: string;
  integrity: string;
  engines: Record<string, string>;
}

/** Fetches a package's document from the registry. */
export async function fetchPackument(name: string, registry: RegistryConfig, fetchFn: typeof globalThis.fetch, signal?: AbortSignal): Promise<Packument> {
  const url = registry.url + name.replace('/', '%2f');
  const headers: Record<string, string> = { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8' };
  if (registry.authToken) headers.authorization = `Bearer ${registry.authToken}`;
  let res: Response;
  try {
    res = await fetchFn(url, { headers, signal: signal ?? null });
  } catch (e) {
    throw new SlugcError('SLUGC_REGISTRY', `Couldn't reach the npm registry at ${registry.url} (${registry.from}) for ${name}: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)}.`, {
      hint: 'Check the network, HTTPS_PROXY/NO_PROXY, and the registry setting in .npmrc or npm_config_registry.',
      cause: e,
    });
  }
  if (!res.ok) {
    throw new SlugcError('SLUGC_REGISTRY', `Couldn't read ${name} from the npm registry at ${registry.url}: HTTP ${res.status}.`, {
      hint: res.status === 401 || res.status === 403 ? 'Check the registry credentials (_authToken in .npmrc).' : 'Check the registry URL; a mirror must serve the package.',
      details: { status: res.status, url },
    });
  }
  const doc = (await res.json()) as Packument;
  if (!doc || typeof doc.versions !== 'object') {
    throw new SlugcError('SLUGC_REGISTRY', `Couldn't read ${name} from the npm registry at ${registry.url}: the answer has no versions.`, {
      hint: 'Check that the registry URL points at an npm registry.',
    });
  }
  return doc;
}

/** Installable, non-prerelease versions of a package, newest first. */
export function artifacts(doc: Packument): RegistryArtifact[] {
  const list: RegistryArtifact[] = [];
  for (const v of Object.values(doc.versions)) {
    if (!v?.dist?.tarball || !v.dist.integrity || !semver.valid(v.version) || semver.prerelease(v.version)) continue;
    list.push({ name: doc.name, version: v.version, tarball: v.dist.tarball, integrity: v.dist.integrity, engines: v.engines ?? {} });
  }
  return list.sort((a, b) => semver.rcompare(a.version, b.version));
}

/** The chosen version and why. */
export interface Resolution {
  artifact: RegistryArtifact;
  trace: string[];
}

/**
 * Picks the newest version satisfying `request`. A range open upwards (`>=18`,
 * `*`) is capped to `defaultMajor` when that major satisfies it, as Heroku
 * does, so an app does not jump to a new major on its own.
 */
export function resolveNodeVersion(list: RegistryArtifact[], request: string | undefined, defaultMajor: number, requestFrom: string): Resolution {
  const trace: string[] = [];
  let range: string;
  if (!request) {
    range = `${defaultMajor}.x`;
    trace.push(`no engines.node in package.json: using the default, Node ${range} (LTS)`);
  } else {
    const valid = semver.validRange(request.trim());
    if (!valid) {
      throw new SlugcError('SLUGC_PACKAGE_JSON_INVALID', `Couldn't read engines.node ${JSON.stringify(request)}: not a semver range.`, {
        hint: 'Use a range such as "20.x", "^22.11.0" or ">=20 <23".',
      });
    }
    range = request.trim();
    trace.push(`${requestFrom} requests ${JSON.stringify(range)}`);
    const openUpwards = semver.satisfies('99999.0.0', range);
    const capped = `${range} ${defaultMajor}.x`;
    if (openUpwards && list.some((a) => semver.satisfies(a.version, capped))) {
      trace.push(`the range is open upwards: capped to the LTS major, Node ${defaultMajor}.x (set an upper bound to choose another major)`);
      range = capped;
    }
  }
  const pick = list.find((a) => semver.satisfies(a.version, range));
  if (!pick) {
    throw new VersionUnsatisfiableError('Node.js', request ?? range, nearest(list.map((a) => a.version)), 'Change engines.node in package.json to a version that exists on the registry.');
  }
  trace.push(`newest of ${list.filter((a) => semver.satisfies(a.version, range)).length} matching versions: ${pick.version}`);
  return { artifact: pick, trace };
}

/** The newest version of each major, newest first: a short list for errors. */
export function nearest(versions: string[]): string[] {
  const seen = new Set<number>();
  const out: string[] = [];
  for (const v of versions) {
    const m = semver.major(v);
    if (seen.has(m)) continue;
    seen.add(m);
    out.push(v);
  }
  return out;
}
