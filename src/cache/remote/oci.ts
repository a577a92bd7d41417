/**
 * A client for an OCI distribution registry (the distribution spec's `/v2/`
 * API), the store of the shared layer cache build fleets use (project issue
 * 16): blobs are pushed and pulled by digest and verified while they stream,
 * manifests are tagged, tags are listed.
 *
 * Everything goes over one injectable `fetch`; every request is bounded by a
 * timeout; credentials never appear in a message, a detail or the log (URLs
 * are quoted without userinfo or query, the Authorization header is never
 * quoted, and the client's logger redacts the secrets it was given).
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SlugcError } from '../../errors.js';
import type { Logger } from '../../log.js';

/** The media type of an OCI image manifest, the kind {@link OciClient.putManifest} writes. */
export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
/** The media type of a Docker image manifest (schema 2), also read by {@link OciClient.getManifest}. */
export const DOCKER_MANIFEST_MEDIA_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';
/** The media type of the empty config (`{}`) of an artifact that is not an image. */
export const OCI_EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';
/** The media type of a gzipped tar layer. */
export const OCI_LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
/** The bytes of the empty config: `{}`. */
export const OCI_EMPTY_CONFIG_BYTES: Uint8Array = Buffer.from('{}');
/** The digest of `{}`. */
export const OCI_EMPTY_CONFIG_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

/** The environment variables credentials are read from first. */
export const REMOTE_CACHE_ENV = {
  username: 'SLUGC_CACHE_REMOTE_USERNAME',
  password: 'SLUGC_CACHE_REMOTE_PASSWORD',
  token: 'SLUGC_CACHE_REMOTE_TOKEN',
} as const;

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;
/** The largest manifest read (distribution's own limit is 4 MiB). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** The most of any other answer's body read (errors, tokens, tag lists). */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const MAX_REDIRECTS = 5;
const MAX_TAG_PAGES = 10_000;
/** Waits before retrying a manifest the registry found a blob of missing (see putManifest). */
const MANIFEST_RETRY_DELAYS_MS = [50, 150, 400];
/** Waits before retrying a read the registry answered with a 5xx (see exchange). */
const TRANSIENT_RETRY_DELAYS_MS = [50, 150, 400];

const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** A repository name as the distribution spec defines it. */
const REPOSITORY_PATTERN = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

const URL_HINT = 'Write the remote cache URL as oci://host[:port]/repository (plain HTTP, an internal registry) or https://host[:port]/repository, with a lowercase repository path such as slugc-cache or team/slugc-cache.';
const REACH_HINT = 'Check that the registry runs and is reachable from this machine (proxy settings: HTTPS_PROXY, NO_PROXY), and the host and port of the remote cache URL.';
const AUTH_HINT = `Check ${REMOTE_CACHE_ENV.username} and ${REMOTE_CACHE_ENV.password} (or ${REMOTE_CACHE_ENV.token}, or the registry's entry in the docker config.json), and that the account may pull from and push to the repository.`;

// ---------------------------------------------------------------------------
// The remote cache URL

/** Where the remote cache is: a registry and a repository on it. */
export interface RemoteCacheLocation {
  /** The URL, normalized, as it may be shown (`oci://host:port/repo`). */
  url: string;
  /** What requests go to: `http://host[:port]` or `https://host[:port]`. */
  base: string;
  /** `host[:port]`, lowercase: the key of the registry's credentials. */
  host: string;
  /** The repository path, e.g. `slugc-cache` or `team/slugc-cache`. */
  repository: string;
  /** True for `https://`. */
  tls: boolean;
}

/**
 * Reads a remote cache URL: `oci://host[:port]/repo/path` (plain HTTP, an
 * internal registry), `https://host[:port]/repo/path` (TLS) or `http://...`.
 * The repository path is required; userinfo is refused (credentials come from
 * the environment or the docker config, never from a URL that gets logged).
 */
export function parseRemoteCacheUrl(url: string): RemoteCacheLocation {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(.*)$/s.exec(url.trim());
  const invalid = (why: string, hint = URL_HINT) =>
    new SlugcError('SLUGC_CACHE_REMOTE_INVALID', `Couldn't use the remote cache URL ${JSON.stringify(m ? withoutUserinfo(url.trim()) : url)}: ${why}.`, { hint, details: { url: m ? withoutUserinfo(url.trim()) : url } });
  if (!m) throw invalid('it is not a URL');
  const scheme = m[1]!.toLowerCase();
  const authority = m[2]!;
  const rawPath = m[3]!;
  const rest = m[4]!;
  if (scheme !== 'oci' && scheme !== 'http' && scheme !== 'https') throw invalid(`the scheme ${scheme}:// is not oci://, https:// or http://`);
  if (authority.includes('@')) {
    throw invalid(
      'it holds credentials',
      `Remove the user and password from the URL; set ${REMOTE_CACHE_ENV.username} and ${REMOTE_CACHE_ENV.password} (or ${REMOTE_CACHE_ENV.token}), or log in with docker login so the docker config.json holds them.`,
    );
  }
  const hostMatch = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?$/.exec(authority);
  if (!hostMatch) throw invalid(authority ? `${JSON.stringify(authority)} is not a host[:port]` : 'it names no host');
  const port = hostMatch[2];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw invalid(`the port ${port} is out of range`);
  if (rest) throw invalid('it has a query or a fragment');
  const repository = rawPath.replace(/^\/+/, '').replace(/\/$/, '');
  if (!repository) throw invalid('it names no repository (the path after the host)');
  if (!REPOSITORY_PATTERN.test(repository) || repository.length > 255) {
    const why = repository !== repository.toLowerCase() ? 'repository paths are lowercase' : 'a repository path is components of lowercase letters and digits, separated by ".", "_", "__" or "-", joined by "/"';
    throw invalid(`${JSON.stringify(repository)} is not a repository path (${why})`);
  }
  const host = `${hostMatch[1]!.toLowerCase()}${port !== undefined ? `:${Number(port)}` : ''}`;
  const tls = scheme === 'https';
  return { url: `${scheme}://${host}/${repository}`, base: `${tls ? 'https' : 'http'}://${host}`, host, repository, tls };
}

/** `url` without `user:password@`. */
function withoutUserinfo(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#]*@/, '$1');
}

/** A URL as errors quote it: no userinfo, no query (a presigned URL's query is a credential). */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return withoutUserinfo(url).replace(/[?#].*$/s, '');
  }
}

// ---------------------------------------------------------------------------
// Credentials

/** How the client authenticates, and where that came from (for messages). */
export type RegistryCredentials =
  | { kind: 'basic'; username: string; password: string; source: string }
  /** Sent as it is: `Authorization: Bearer <token>`. */
  | { kind: 'token'; token: string; source: string }
  /** Docker's `identitytoken`: an OAuth2 refresh token exchanged at the token service. */
  | { kind: 'identity'; identityToken: string; username?: string; source: string };

/**
 * The credentials for the registry `host` (`host[:port]`): from
 * `SLUGC_CACHE_REMOTE_USERNAME`/`SLUGC_CACHE_REMOTE_PASSWORD`, else
 * `SLUGC_CACHE_REMOTE_TOKEN` (a bearer token), else the docker config
 * (`$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`):
 * `auths[host]` with `auth` (base64 `user:password`), `username`/`password`
 * or `identitytoken`. Credential helpers (`credHelpers`, `credsStore`) are
 * not supported: a warning says so when one would have been asked.
 * Undefined when there are none: requests go out anonymously.
 */
export function registryCredentials(host: string, env: NodeJS.ProcessEnv = process.env, log?: Logger): RegistryCredentials | undefined {
  const invalid = (why: string, hint: string) => new SlugcError('SLUGC_CACHE_REMOTE_INVALID', `Couldn't read the remote cache credentials: ${why}.`, { hint });
  const username = env[REMOTE_CACHE_ENV.username];
  const password = env[REMOTE_CACHE_ENV.password];
  if (username || password) {
    if (!username || !password) {
      throw invalid(`${username ? REMOTE_CACHE_ENV.username : REMOTE_CACHE_ENV.password} is set but ${username ? REMOTE_CACHE_ENV.password : REMOTE_CACHE_ENV.username} is not`, `Set both ${REMOTE_CACHE_ENV.username} and ${REMOTE_CACHE_ENV.password}, or neither.`);
    }
    return { kind: 'basic', username, password, source: `${REMOTE_CACHE_ENV.username}/${REMOTE_CACHE_ENV.password}` };
  }
  const token = env[REMOTE_CACHE_ENV.token];
  if (token) return { kind: 'token', token, source: REMOTE_CACHE_ENV.token };

  const dir = env.DOCKER_CONFIG || (env.HOME ? path.join(env.HOME, '.docker') : undefined);
  if (!dir) return undefined;
  const file = path.join(dir, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw invalid(`${file} cannot be read (${code ?? (e as Error).message})`, 'Make the file readable by the user slugc runs as, or set the credentials in the environment.');
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw invalid(`${file} is not valid JSON (${(e as Error).message})`, 'Fix the file (docker login rewrites it), or set the credentials in the environment.');
  }
  if (!isRecord(config)) throw invalid(`${file} does not hold a JSON object`, 'Fix the file (docker login rewrites it), or set the credentials in the environment.');
  const wanted = host.toLowerCase();
  const auths = isRecord(config.auths) ? config.auths : {};
  for (const [key, entry] of Object.entries(auths)) {
    if (dockerConfigHost(key) !== wanted || !isRecord(entry)) continue;
    const source = `${file} (auths["${key}"])`;
    if (typeof entry.identitytoken === 'string' && entry.identitytoken) {
      return { kind: 'identity', identityToken: entry.identitytoken, ...(typeof entry.username === 'string' ? { username: entry.username } : {}), source };
    }
    if (typeof entry.auth === 'string' && entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) throw invalid(`${source}: "auth" is not base64 of user:password`, 'Log in again with docker login, or set the credentials in the environment.');
      return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source };
    }
    if (typeof entry.username === 'string' && entry.username && typeof entry.password === 'string' && entry.password) {
      return { kind: 'basic', username: entry.username, password: entry.password, source };
    }
  }
  const helpers = isRecord(config.credHelpers) ? config.credHelpers : {};
  const helper = Object.entries(helpers).find(([key]) => dockerConfigHost(key) === wanted)?.[1];
  const store = typeof config.credsStore === 'string' && config.credsStore ? config.credsStore : undefined;
  if (typeof helper === 'string' || store) {
    log?.warn(
      `${file} keeps the credentials of ${host} in a credential helper (docker-credential-${typeof helper === 'string' ? helper : store}); slugc does not run credential helpers, so the remote cache is used anonymously. ` +
        `Set ${REMOTE_CACHE_ENV.username} and ${REMOTE_CACHE_ENV.password} (or ${REMOTE_CACHE_ENV.token}) instead.`,
    );
  }
  return undefined;
}

/** The `host[:port]` of a docker config `auths` key (`host`, `https://host/v1/`...). */
function dockerConfigHost(key: string): string {
  return key
    .trim()
    .replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//, '')
    .replace(/\/.*$/s, '')
    .toLowerCase();
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------
// Manifests

/** A content descriptor. */
export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  urls?: string[];
}

/** An image manifest (OCI, or Docker schema 2 which has the same shape). */
export interface OciManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: OciDescriptor;
  layers: OciDescriptor[];
  annotations?: Record<string, string>;
}

/** The descriptor of the empty config `{}`. */
export const OCI_EMPTY_CONFIG: OciDescriptor = Object.freeze({ mediaType: OCI_EMPTY_MEDIA_TYPE, digest: OCI_EMPTY_CONFIG_DIGEST, size: 2 });

/**
 * An OCI image manifest of one gzipped tar layer, with the empty config (its
 * 2-byte blob must be in the repository: {@link OciClient.putManifest} pushes
 * it) and `annotations` on the manifest (string values only).
 */
export function ociLayerManifest(options: { layerDigest: string; layerSize: number; annotations?: Record<string, string> }): OciManifest {
  assertDigest(options.layerDigest, 'describe the layer');
  if (!Number.isSafeInteger(options.layerSize) || options.layerSize < 0) {
    throw new SlugcError('SLUGC_CACHE_REMOTE_INVALID', `Couldn't describe the layer ${options.layerDigest}: its size ${String(options.layerSize)} is not a byte count.`, { hint: 'Pass the size of the layer file in bytes.' });
  }
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.annotations ?? {})) {
    if (typeof v !== 'string') {
      throw new SlugcError('SLUGC_CACHE_REMOTE_INVALID', `Couldn't describe the layer ${options.layerDigest}: the annotation ${JSON.stringify(k)} is a ${typeof v}, not a string.`, { hint: 'OCI annotations are strings: convert numbers and booleans with String(), objects with JSON.stringify().' });
    }
    annotations[k] = v;
  }
  return {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    config: { ...OCI_EMPTY_CONFIG },
    layers: [{ mediaType: OCI_LAYER_MEDIA_TYPE, digest: options.layerDigest, size: options.layerSize }],
    ...(Object.keys(annotations).length ? { annotations } : {}),
  };
}

/** What {@link OciClient.getManifest} found. */
export interface FetchedManifest {
  manifest: OciManifest;
  /** The sha256 of the manifest's bytes. */
  digest: string;
  mediaType: string;
}

function assertDigest(digest: string, what: string): void {
  if (!DIGEST_PATTERN.test(digest)) {
    throw new SlugcError('SLUGC_CACHE_REMOTE_INVALID', `Couldn't ${what}: ${JSON.stringify(digest)} is not a sha256 digest.`, { hint: 'Digests are written sha256:<64 lowercase hex digits>.' });
  }
}

function assertRepository(repository: string, what: string): void {
  if (!REPOSITORY_PATTERN.test(repository) || repository.length > 255) {
    throw new SlugcError('SLUGC_CACHE_REMOTE_INVALID', `Couldn't ${what}: ${JSON.stringify(repository)} is not a repository path.`, { hint: URL_HINT });
  }
}

// ---------------------------------------------------------------------------
// The client

/** Options of {@link OciClient}. */
export interface OciClientOptions {
  /** `http://host[:port]` or `https://host[:port]` ({@link RemoteCacheLocation.base}). */
  base: string;
  /** The repository, e.g. `slugc-cache`. */
  repository: string;
  /** None: anonymous only. */
  credentials?: RegistryCredentials;
  /** Default: the global `fetch`. */
  fetch?: typeof globalThis.fetch;
  /** The longest any request may wait for an answer (and a blob download may stall); default 30 s. */
  timeoutMs?: number;
  /** Blobs larger than this are uploaded in chunks of this size; default 8 MiB. */
  chunkSize?: number;
  /** Gets the credentials' secrets to redact; the client logs nothing else. */
  log?: Logger;
}

/** How {@link OciClient.pushBlob} got the blob into the repository. */
export type PushResult = 'exists' | 'mounted' | 'uploaded';

/** A registry's `WWW-Authenticate` challenge. */
export type Challenge = { scheme: 'basic' } | { scheme: 'bearer'; realm: string; service: string | undefined; scope: string | undefined };

/** A request's answer with its body read (all but blob downloads). */
interface Answer {
  status: number;
  statusText: string;
  headers: Headers;
  body: Buffer;
  /** The URL that answered (after redirects). */
  url: string;
}

interface RequestOptions {
  /** What is being done, for messages: `push blob sha256:… to host/repo`. */
  what: string;
  method: string;
  url: string;
  /** The token scopes the request needs. */
  scopes: string[];
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Follow redirects (GET and HEAD only); Authorization is dropped on leaving the registry's origin. */
  follow?: boolean;
}

/** Times a request out; re-armed as a download makes progress. */
class Deadline {
  readonly controller = new AbortController();
  timedOut = false;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly ms: number) {
    this.arm();
  }
  arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error(`timed out after ${this.ms} ms`));
    }, this.ms);
  }
  clear(): void {
    clearTimeout(this.timer);
  }
}

/**
 * A registry client for one repository. Anonymous first; on a 401 it follows
 * the `WWW-Authenticate` challenge (`Basic`, or `Bearer` with a token from
 * the realm, cached per scope for the client's life).
 */
export class OciClient {
  readonly base: string;
  readonly repository: string;
  private readonly origin: string;
  private readonly host: string;
  private readonly credentials: RegistryCredentials | undefined;
  private readonly fetchFn: typeof globalThis.fetch;
  private readonly timeoutMs: number;
  private readonly chunkSize: number;
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, Promise<string>>();
  private emptyConfig: Promise<unknown> | undefined;

  constructor(options: OciClientOptions) {
    let base: URL;
    try {
      base = new URL(options.base);
    } catch {
      base = new URL('invalid:');
    }
    if ((base.protocol !== 'http:' && base.protocol !== 'https:') || base.username || base.password || (base.pathname !== '/' && base.pathname !== '')) {
      throw new SlugcError('SLUGC_CACHE_REMOTE_INVALID', `Couldn't use the registry ${JSON.stringify(shownUrl(options.base))}: the base is not http(s)://host[:port] without credentials or a path.`, { hint: URL_HINT });
    }
    assertRepository(options.repository, 'use the remote cache');
    this.origin = base.origin;
    this.base = base.origin;
    this.host = base.host;
    this.repository = options.repository;
    this.credentials = options.credentials;
    this.fetchFn = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!(this.timeoutMs > 0) || !Number.isSafeInteger(this.chunkSize) || this.chunkSize < 1) {
      throw new SlugcError('SLUGC_CACHE_REMOTE_INVALID', `Couldn't use the registry ${this.host}: the timeout and the chunk size must be positive.`, { hint: 'Pass timeoutMs and chunkSize above zero, or leave them out.' });
    }
    const c = options.credentials;
    if (c && options.log) options.log.redact(c.kind === 'basic' ? [c.password, Buffer.from(`${c.username}:${c.password}`).toString('base64')] : c.kind === 'token' ? c.token : c.identityToken);
  }

  /** `host[:port]/repository`, as messages name it. */
  get name(): string {
    return `${this.host}/${this.repository}`;
  }

  /** True when the repository has the blob. */
  async hasBlob(digest: string): Promise<boolean> {
    const what = `check for blob ${digest} in ${this.name}`;
    assertDigest(digest, what);
    const a = await this.request({ what, method: 'HEAD', url: this.blobUrl(digest), scopes: [this.scope('pull')], follow: true });
    if (a.status === 404) return false;
    if (a.status === 200) return true;
    throw this.httpError(what, 'HEAD', a);
  }

  /**
   * Downloads a blob into `destFile`: streamed into a temp file beside it
   * while its sha256 is computed, renamed into place only when it matches
   * `digest` (else `SLUGC_CACHE_REMOTE_DIGEST`, and the temp file is
   * removed). Redirects to a storage backend are followed without the
   * Authorization header. False when the repository does not have the blob.
   */
  async getBlob(digest: string, destFile: string): Promise<boolean> {
    const what = `download blob ${digest} from ${this.name}`;
    assertDigest(digest, what);
    const { res, deadline, url } = await this.exchange({ what, method: 'GET', url: this.blobUrl(digest), scopes: [this.scope('pull')], follow: true });
    try {
      if (res.status === 404) return false;
      if (res.status !== 200 || !res.body) throw this.httpError(what, 'GET', await readAnswer(res, url, MAX_BODY_BYTES).catch(() => emptyAnswer(res, url)));
      fs.mkdirSync(path.dirname(destFile), { recursive: true });
      const tmp = `${destFile}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
      const fd = fs.openSync(tmp, 'wx');
      let open = true;
      try {
        const hash = crypto.createHash('sha256');
        const reader = res.body.getReader();
        let bytes = 0;
        for (;;) {
          let chunk: Awaited<ReturnType<typeof reader.read>>;
          try {
            chunk = await reader.read();
          } catch (e) {
            throw this.networkError(what, 'GET', url, e, deadline, 'stalled');
          }
          if (chunk.done) break;
          deadline.arm();
          hash.update(chunk.value);
          fs.writeSync(fd, chunk.value);
          bytes += chunk.value.byteLength;
        }
        const actual = `sha256:${hash.digest('hex')}`;
        if (actual !== digest) {
          throw new SlugcError('SLUGC_CACHE_REMOTE_DIGEST', `Couldn't verify blob ${digest} from ${this.name}: its ${bytes} bytes hash to ${actual}.`, {
            hint: 'The blob was damaged in the registry or in transit; nothing was kept. Delete the tag that refers to it (or the repository) so the next build pushes it again.',
            details: { expected: digest, actual, bytes, url: shownUrl(url) },
          });
        }
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        open = false;
        fs.renameSync(tmp, destFile);
        return true;
      } catch (e) {
        if (open) fs.closeSync(fd);
        fs.rmSync(tmp, { force: true });
        throw e;
      }
    } finally {
      deadline.clear();
      if (res.body && !res.bodyUsed) await res.body.cancel().catch(() => undefined);
    }
  }

  /**
   * Puts a blob (a file, or bytes) into the repository unless it is there:
   * a HEAD first; a cross-repository mount from `mountFrom` when given; else
   * an upload, in one PUT up to the chunk size, in PATCH chunks above it.
   */
  async pushBlob(source: string | Uint8Array, blob: { digest: string; size: number; mountFrom?: string }): Promise<PushResult> {
    const what = `push blob ${blob.digest} to ${this.name}`;
    assertDigest(blob.digest, what);
    if (blob.mountFrom !== undefined) assertRepository(blob.mountFrom, what);
    const actualSize = typeof source === 'string' ? fs.statSync(source).size : source.byteLength;
    if (actualSize !== blob.size) {
      throw new SlugcError('SLUGC_CACHE_REMOTE_DIGEST', `Couldn't ${what}: ${typeof source === 'string' ? source : 'the data'} is ${actualSize} bytes, not the ${blob.size} its descriptor says.`, {
        hint: 'The file changed after it was described; describe it again (digest and size) before pushing.',
        details: { expected: blob.size, actual: actualSize },
      });
    }
    if (await this.hasBlob(blob.digest)) return 'exists';
    try {
      return await this.upload(source, blob, what);
    } catch (e) {
      // Another client may have committed the same blob meanwhile, and the registry tripped on it.
      if (e instanceof SlugcError && e.code === 'SLUGC_CACHE_REMOTE' && typeof e.details.status === 'number' && (await this.hasBlob(blob.digest).catch(() => false))) return 'exists';
      throw e;
    }
  }

  private async upload(source: string | Uint8Array, blob: { digest: string; size: number; mountFrom?: string }, what: string): Promise<PushResult> {
    const push = this.scope('pull,push');
    let location: string;
    if (blob.mountFrom !== undefined && blob.mountFrom !== this.repository) {
      const url = `${this.repoUrl()}/blobs/uploads/?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(blob.mountFrom)}`;
      const a = await this.request({ what, method: 'POST', url, scopes: [push, `repository:${blob.mountFrom}:pull`] });
      if (a.status === 201) return 'mounted';
      if (a.status !== 202) throw this.httpError(what, 'POST', a);
      location = this.location(what, a);
    } else {
      const a = await this.request({ what, method: 'POST', url: `${this.repoUrl()}/blobs/uploads/`, scopes: [push] });
      if (a.status !== 202) throw this.httpError(what, 'POST', a);
      location = this.location(what, a);
    }
    const octets = { 'content-type': 'application/octet-stream' };
    let final: Answer;
    if (blob.size <= this.chunkSize) {
      const body = typeof source === 'string' ? fs.readFileSync(source) : source;
      final = await this.request({ what, method: 'PUT', url: withQuery(location, 'digest', blob.digest), scopes: [push], headers: octets, body });
    } else {
      const fd = typeof source === 'string' ? fs.openSync(source, 'r') : undefined;
      try {
        const buf = Buffer.allocUnsafe(this.chunkSize);
        for (let offset = 0; offset < blob.size; ) {
          const n = Math.min(this.chunkSize, blob.size - offset);
          let chunk: Uint8Array;
          if (fd === undefined) chunk = (source as Uint8Array).subarray(offset, offset + n);
          else {
            for (let got = 0; got < n; ) {
              const r = fs.readSync(fd, buf, got, n - got, offset + got);
              if (r === 0) throw new SlugcError('SLUGC_CACHE_REMOTE_DIGEST', `Couldn't ${what}: ${source as string} got shorter while it was read.`, { hint: 'Something changed the file during the push; push it again.' });
              got += r;
            }
            chunk = buf.subarray(0, n);
          }
          const a = await this.request({ what, method: 'PATCH', url: location, scopes: [push], headers: { ...octets, 'content-range': `${offset}-${offset + n - 1}` }, body: chunk });
          if (a.status !== 202) throw this.httpError(what, 'PATCH', a);
          location = this.location(what, a);
          offset += n;
        }
      } finally {
        if (fd !== undefined) fs.closeSync(fd);
      }
      final = await this.request({ what, method: 'PUT', url: withQuery(location, 'digest', blob.digest), scopes: [push] });
    }
    if (final.status === 201) return 'uploaded';
    if (final.status === 400 && registryErrorCodes(final.body).some((c) => c === 'DIGEST_INVALID' || c === 'SIZE_INVALID')) {
      throw new SlugcError('SLUGC_CACHE_REMOTE_DIGEST', `Couldn't ${what}: the registry found that the uploaded bytes do not hash to ${blob.digest}.`, {
        hint: 'The file changed while it was pushed, or its digest was computed from other bytes; compute it again and push again.',
        details: { digest: blob.digest, url: shownUrl(final.url) },
      });
    }
    throw this.httpError(what, 'PUT', final);
  }

  /**
   * The manifest `ref` (a tag or a digest) points at, or null when there is
   * none. Its digest is the sha256 of its bytes, checked against
   * `Docker-Content-Digest` and, when `ref` is a digest, against `ref`.
   */
  async getManifest(ref: string): Promise<FetchedManifest | null> {
    const what = `read manifest ${ref} of ${this.name}`;
    this.assertRef(ref, what);
    const a = await this.request({
      what,
      method: 'GET',
      url: `${this.repoUrl()}/manifests/${encodeURIComponent(ref)}`,
      scopes: [this.scope('pull')],
      headers: { accept: `${OCI_MANIFEST_MEDIA_TYPE}, ${DOCKER_MANIFEST_MEDIA_TYPE}` },
      follow: true,
      // Manifests are small; the limit is the registry's own.
    }, MAX_MANIFEST_BYTES);
    if (a.status === 404) return null;
    if (a.status !== 200) throw this.httpError(what, 'GET', a);
    const digest = sha256(a.body);
    const claimed = a.headers.get('docker-content-digest');
    const expected = DIGEST_PATTERN.test(ref) ? ref : claimed && claimed.startsWith('sha256:') ? claimed : undefined;
    if ((expected !== undefined && expected !== digest) || (claimed && claimed.startsWith('sha256:') && claimed !== digest)) {
      throw new SlugcError('SLUGC_CACHE_REMOTE_DIGEST', `Couldn't verify manifest ${ref} of ${this.name}: its bytes hash to ${digest}, not ${expected !== undefined && expected !== digest ? expected : claimed}.`, {
        hint: 'The manifest was damaged in the registry or in transit; nothing was used. Push it again (the next build that misses does).',
        details: { expected: expected ?? claimed, actual: digest, url: shownUrl(a.url) },
      });
    }
    let manifest: unknown;
    try {
      manifest = JSON.parse(a.body.toString('utf8'));
    } catch {
      manifest = undefined;
    }
    if (!isRecord(manifest) || manifest.schemaVersion !== 2 || !isRecord(manifest.config) || !Array.isArray(manifest.layers)) {
      throw new SlugcError('SLUGC_CACHE_REMOTE', `Couldn't ${what}: the registry's answer is not an image manifest.`, {
        hint: 'Something other than slugc tagged this in the repository; give the remote cache a repository of its own.',
        details: { url: shownUrl(a.url) },
      });
    }
    const mediaType = (a.headers.get('content-type') ?? '').split(';')[0]!.trim() || (typeof manifest.mediaType === 'string' ? manifest.mediaType : OCI_MANIFEST_MEDIA_TYPE);
    return { manifest: manifest as unknown as OciManifest, digest, mediaType };
  }

  /**
   * Tags `manifest` (an OCI image manifest) as `tag` and returns its digest.
   * Its empty config blob is pushed first when it uses one. Concurrent puts
   * of the same tag are last-writer-wins.
   */
  async putManifest(tag: string, manifest: OciManifest): Promise<string> {
    const what = `tag manifest ${tag} in ${this.name}`;
    if (!TAG_PATTERN.test(tag)) {
      throw new SlugcError('SLUGC_CACHE_REMOTE_INVALID', `Couldn't ${what}: ${JSON.stringify(tag)} is not a tag.`, { hint: 'A tag is up to 128 letters, digits, "_", "." and "-", not starting with "." or "-".' });
    }
    if (manifest.config.digest === OCI_EMPTY_CONFIG_DIGEST) await this.pushEmptyConfig();
    const body = Buffer.from(JSON.stringify(manifest));
    const digest = sha256(body);
    let a: Answer;
    for (let attempt = 0; ; attempt++) {
      a = await this.request({
        what,
        method: 'PUT',
        url: `${this.repoUrl()}/manifests/${encodeURIComponent(tag)}`,
        scopes: [this.scope('pull,push')],
        headers: { 'content-type': manifest.mediaType ?? OCI_MANIFEST_MEDIA_TYPE },
        body,
      });
      if (a.status === 201) break;
      const blobUnknown = a.status === 400 && registryErrorCodes(a.body).includes('MANIFEST_BLOB_UNKNOWN');
      // distribution's filesystem driver rewrites a blob's link file in place (truncate, then
      // write) when another client commits the same blob: a manifest checked meanwhile reads an
      // empty link and is refused as naming an unknown blob. It passes a moment later.
      if (blobUnknown && attempt < MANIFEST_RETRY_DELAYS_MS.length) {
        await new Promise((r) => setTimeout(r, MANIFEST_RETRY_DELAYS_MS[attempt]));
        continue;
      }
      if (blobUnknown) {
        throw new SlugcError('SLUGC_CACHE_REMOTE', `Couldn't ${what}: the registry does not have every blob it names (${registryErrorText(a.body)}).`, {
          hint: 'Push the layer (and config) blobs to the same repository before the manifest that names them.',
          details: { url: shownUrl(a.url), method: 'PUT', status: a.status },
        });
      }
      throw this.httpError(what, 'PUT', a);
    }
    const claimed = a.headers.get('docker-content-digest');
    if (claimed && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new SlugcError('SLUGC_CACHE_REMOTE_DIGEST', `Couldn't verify manifest ${tag} pushed to ${this.name}: the registry says its digest is ${claimed}, its bytes hash to ${digest}.`, {
        hint: 'The registry (or a proxy in front of it) changed the manifest; push it again, and check what sits between slugc and the registry.',
        details: { expected: digest, actual: claimed },
      });
    }
    return digest;
  }

  /** Every tag of the repository (following `Link` pagination); empty when the repository does not exist yet. */
  async listTags(): Promise<string[]> {
    const what = `list the tags of ${this.name}`;
    const tags: string[] = [];
    let url: string | undefined = `${this.repoUrl()}/tags/list`;
    for (let page = 0; url !== undefined; page++) {
      if (page >= MAX_TAG_PAGES) throw new SlugcError('SLUGC_CACHE_REMOTE', `Couldn't ${what}: the registry's answers link more than ${MAX_TAG_PAGES} pages.`, { hint: 'The registry paginates in a loop; check it (or a proxy in front of it).' });
      const a = await this.request({ what, method: 'GET', url, scopes: [this.scope('pull')], headers: { accept: 'application/json' }, follow: true });
      if (a.status === 404 && page === 0) return [];
      if (a.status !== 200) throw this.httpError(what, 'GET', a);
      let doc: unknown;
      try {
        doc = JSON.parse(a.body.toString('utf8'));
      } catch {
        doc = undefined;
      }
      if (!isRecord(doc) || (doc.tags !== null && doc.tags !== undefined && !(Array.isArray(doc.tags) && doc.tags.every((t) => typeof t === 'string')))) {
        throw new SlugcError('SLUGC_CACHE_REMOTE', `Couldn't ${what}: the registry's answer is not a tag list.`, { hint: 'Check that the remote cache URL points at an OCI distribution registry.', details: { url: shownUrl(a.url) } });
      }
      tags.push(...((doc.tags as string[] | null | undefined) ?? []));
      const next = nextLink(a.headers.get('link'));
      url = next === undefined ? undefined : new URL(next, a.url).href;
      if (url !== undefined && new URL(url).origin !== this.origin) url = undefined; // never send credentials elsewhere
    }
    return tags;
  }

  // -------------------------------------------------------------------------

  private scope(actions: 'pull' | 'pull,push'): string {
    return `repository:${this.repository}:${actions}`;
  }

  private repoUrl(): string {
    return `${this.origin}/v2/${this.repository}`;
  }

  private blobUrl(digest: string): string {
    return `${this.repoUrl()}/blobs/${digest}`;
  }

  private assertRef(ref: string, what: string): void {
    if (!TAG_PATTERN.test(ref) && !DIGEST_PATTERN.test(ref)) {
      throw new SlugcError('SLUGC_CACHE_REMOTE_INVALID', `Couldn't ${what}: ${JSON.stringify(ref)} is neither a tag nor a sha256 digest.`, { hint: 'Pass a tag (letters, digits, "_", "." and "-") or sha256:<hex>.' });
    }
  }

  private pushEmptyConfig(): Promise<unknown> {
    this.emptyConfig ??= this.pushBlob(OCI_EMPTY_CONFIG_BYTES, { digest: OCI_EMPTY_CONFIG_DIGEST, size: 2 }).catch((e: unknown) => {
      this.emptyConfig = undefined;
      throw e;
    });
    return this.emptyConfig;
  }

  /** The upload session's next URL, from the answer's `Location` (relative or absolute). */
  private location(what: string, a: Answer): string {
    const loc = a.headers.get('location');
    if (!loc) throw new SlugcError('SLUGC_CACHE_REMOTE', `Couldn't ${what}: the registry answered ${a.status} without a Location for the upload.`, { hint: 'Check that the remote cache URL points at an OCI distribution registry.', details: { url: shownUrl(a.url), status: a.status } });
    return new URL(loc, a.url).href;
  }

  /** Sends a request (authenticating as the registry asks) and reads the whole answer. */
  private async request(opts: RequestOptions, maxBytes = MAX_BODY_BYTES): Promise<Answer> {
    const { res, deadline, url } = await this.exchange(opts);
    try {
      return await readAnswer(res, url, maxBytes, opts.method === 'HEAD');
    } catch (e) {
      if (e instanceof SlugcError) throw e;
      throw this.networkError(opts.what, opts.method, url, e, deadline, 'answer');
    } finally {
      deadline.clear();
    }
  }

  /**
   * Sends a request: anonymous until the registry has challenged, then with
   * Basic credentials or a Bearer token for `scopes`. Returns the response
   * with its body unread and its deadline running (the caller clears it).
   */
  private async exchange(opts: RequestOptions): Promise<{ res: Response; deadline: Deadline; url: string }> {
    // distribution's filesystem driver rewrites a blob's link file in place when another client
    // commits the same blob; a read meanwhile fails with a 500. Reads are retried a few times.
    const idempotent = opts.method === 'GET' || opts.method === 'HEAD';
    for (let attempt = 0; ; attempt++) {
      const r = await this.exchangeOnce(opts);
      if (!idempotent || r.res.status < 500 || r.res.status > 504 || attempt >= TRANSIENT_RETRY_DELAYS_MS.length) return r;
      r.deadline.clear();
      await r.res.body?.cancel().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, TRANSIENT_RETRY_DELAYS_MS[attempt]));
    }
  }

  private async exchangeOnce(opts: RequestOptions): Promise<{ res: Response; deadline: Deadline; url: string }> {
    let scopes = [...opts.scopes];
    for (let attempt = 0; ; attempt++) {
      const auth = await this.authorization(opts.what, scopes);
      const deadline = new Deadline(this.timeoutMs);
      let res: Response;
      let url: string;
      try {
        ({ res, url } = await this.send(opts, auth.header, deadline));
      } catch (e) {
        deadline.clear();
        if (e instanceof SlugcError) throw e;
        throw this.networkError(opts.what, opts.method, opts.url, e, deadline, 'answer');
      }
      if ((res.status !== 401 && res.status !== 403) || new URL(url).origin !== this.origin) return { res, deadline, url };
      const answer = await readAnswer(res, url, 64 * 1024, opts.method === 'HEAD').catch(() => emptyAnswer(res, url));
      deadline.clear();
      if (res.status === 403) throw this.authError(opts.what, opts.method, answer, 'the registry denied access');
      const challenge = parseChallenge(res.headers.get('www-authenticate'));
      if (!challenge) throw this.authError(opts.what, opts.method, answer, 'the registry asks for credentials without saying how (no usable WWW-Authenticate)');
      if (challenge.scheme === 'basic') {
        if (!this.credentials) throw this.authError(opts.what, opts.method, answer, 'the registry needs credentials and none are set');
        if (this.credentials.kind !== 'basic') throw this.authError(opts.what, opts.method, answer, `the registry asks for a user and password, and the credentials from ${this.credentials.source} are a token`);
        if (auth.kind === 'basic') throw this.authError(opts.what, opts.method, answer, `the registry refused the credentials from ${this.credentials.source}`);
        this.challenge = challenge;
        continue;
      }
      const before = scopes.length;
      if (challenge.scope) for (const s of challenge.scope.split(' ')) if (s && !scopes.includes(s)) scopes = [...scopes, s];
      if (auth.kind === 'token') throw this.authError(opts.what, opts.method, answer, `the registry refused the token from ${this.credentials!.source}`);
      if (auth.kind === 'bearer') {
        // A cached token may have expired, or a wider scope may be needed: get a fresh one, once.
        this.tokens.delete(this.tokenKey(opts.scopes));
        this.tokens.delete(this.tokenKey(scopes));
        if ((auth.fresh && scopes.length === before) || attempt >= 2) {
          throw this.authError(opts.what, opts.method, answer, this.credentials ? `the registry refused the token the token service gave for the credentials from ${this.credentials.source}` : 'the registry needs credentials and none are set');
        }
      }
      this.challenge = challenge;
    }
  }

  /** The Authorization header for `scopes`, as far as the registry's challenge is known. */
  private async authorization(what: string, scopes: string[]): Promise<{ kind: 'none' | 'basic' | 'token'; header?: string } | { kind: 'bearer'; header: string; fresh: boolean }> {
    const c = this.challenge;
    const creds = this.credentials;
    if (!c) return { kind: 'none' };
    if (c.scheme === 'basic') {
      if (creds?.kind !== 'basic') return { kind: 'none' };
      return { kind: 'basic', header: `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` };
    }
    if (creds?.kind === 'token') return { kind: 'token', header: `Bearer ${creds.token}` };
    const key = this.tokenKey(scopes);
    let fresh = false;
    let pending = this.tokens.get(key);
    if (!pending) {
      fresh = true;
      pending = this.fetchToken(what, c, scopes);
      this.tokens.set(key, pending);
      pending.catch(() => this.tokens.delete(key));
    }
    return { kind: 'bearer', header: `Bearer ${await pending}`, fresh };
  }

  private tokenKey(scopes: string[]): string {
    return [...new Set(scopes)].sort().join(' ');
  }

  /** Gets a token for `scopes` from the challenge's realm. */
  private async fetchToken(what: string, c: Extract<Challenge, { scheme: 'bearer' }>, scopes: string[]): Promise<string> {
    let realm: URL;
    try {
      realm = new URL(c.realm);
    } catch {
      realm = new URL('invalid:');
    }
    if (realm.protocol !== 'http:' && realm.protocol !== 'https:') {
      throw new SlugcError('SLUGC_CACHE_REMOTE_AUTH', `Couldn't ${what}: the registry's token service ${JSON.stringify(shownUrl(c.realm))} is not an http(s) URL.`, { hint: 'Check the registry\'s token auth configuration (auth.token.realm).' });
    }
    const creds = this.credentials;
    const unique = [...new Set(scopes)];
    let init: RequestInit;
    if (creds?.kind === 'identity') {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'slugc' });
      if (c.service) form.set('service', c.service);
      form.set('scope', unique.join(' '));
      init = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() };
    } else {
      if (c.service) realm.searchParams.set('service', c.service);
      for (const s of unique) realm.searchParams.append('scope', s);
      init = { method: 'GET', headers: creds?.kind === 'basic' ? { authorization: `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` } : {} };
    }
    const deadline = new Deadline(this.timeoutMs);
    let answer: Answer;
    try {
      const res = await this.fetchFn(realm.href, { ...init, redirect: 'follow', signal: deadline.controller.signal });
      answer = await readAnswer(res, realm.href, 1024 * 1024);
    } catch (e) {
      if (e instanceof SlugcError) throw e;
      throw this.networkError(what, init.method ?? 'GET', realm.href, e, deadline, 'answer', 'the token service');
    } finally {
      deadline.clear();
    }
    if (answer.status === 401 || answer.status === 403) {
      throw this.authError(what, init.method ?? 'GET', answer, creds ? `the token service refused the credentials from ${creds.source}` : 'the token service needs credentials and none are set');
    }
    if (answer.status !== 200) throw this.httpError(what, init.method ?? 'GET', answer, 'the token service');
    let doc: unknown;
    try {
      doc = JSON.parse(answer.body.toString('utf8'));
    } catch {
      doc = undefined;
    }
    const token = isRecord(doc) ? (typeof doc.token === 'string' && doc.token ? doc.token : typeof doc.access_token === 'string' && doc.access_token ? doc.access_token : undefined) : undefined;
    if (!token) throw new SlugcError('SLUGC_CACHE_REMOTE_AUTH', `Couldn't ${what}: the token service at ${shownUrl(realm.href)} answered without a token.`, { hint: 'Check the registry\'s token service; its answer must be JSON with "token" or "access_token".' });
    return token;
  }

  /** One request, following redirects for GET and HEAD; Authorization only goes to the registry's origin. */
  private async send(opts: RequestOptions, authorization: string | undefined, deadline: Deadline): Promise<{ res: Response; url: string }> {
    let url = opts.url;
    let method = opts.method;
    for (let hops = 0; ; hops++) {
      const headers: Record<string, string> = { ...opts.headers };
      if (authorization && new URL(url).origin === this.origin) headers.authorization = authorization;
      const res = await this.fetchFn(url, {
        method,
        headers,
        ...(opts.body && method === opts.method ? { body: opts.body } : {}),
        redirect: 'manual',
        signal: deadline.controller.signal,
      });
      const loc = res.headers.get('location');
      if (!opts.follow || ![301, 302, 303, 307, 308].includes(res.status) || !loc) return { res, url };
      await res.body?.cancel().catch(() => undefined);
      if (hops >= MAX_REDIRECTS) {
        throw new SlugcError('SLUGC_CACHE_REMOTE', `Couldn't ${opts.what}: more than ${MAX_REDIRECTS} redirects from ${shownUrl(opts.url)}.`, { hint: 'The registry or its storage redirects in a loop; check its configuration.', details: { url: shownUrl(opts.url) } });
      }
      const next = new URL(loc, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new SlugcError('SLUGC_CACHE_REMOTE', `Couldn't ${opts.what}: the registry redirected to a ${next.protocol} URL.`, { hint: 'Check the registry\'s storage configuration.', details: { url: shownUrl(opts.url) } });
      }
      if (res.status === 303 && method !== 'HEAD') method = 'GET';
      url = next.href;
    }
  }

  private httpError(what: string, method: string, a: Answer, who = 'the registry'): SlugcError {
    const reason = registryErrorText(a.body);
    const status = `${a.status}${a.statusText ? ` ${a.statusText}` : ''}`;
    return new SlugcError('SLUGC_CACHE_REMOTE', `Couldn't ${what}: ${who} answered ${status}${reason ? ` (${reason})` : ''} to ${method} ${shownUrl(a.url)}.`, {
      hint: a.status >= 500 ? 'The registry failed; look at its logs, and retry.' : a.status === 404 ? 'Check the repository path of the remote cache URL.' : 'Check the remote cache URL and that it points at an OCI distribution registry.',
      details: { url: shownUrl(a.url), method, status: a.status, ...(reason ? { registryError: reason } : {}) },
    });
  }

  private authError(what: string, method: string, a: Answer, why: string): SlugcError {
    const reason = registryErrorText(a.body);
    return new SlugcError('SLUGC_CACHE_REMOTE_AUTH', `Couldn't ${what}: ${why} (${a.status}${reason ? `, ${reason}` : ''} to ${method} ${shownUrl(a.url)}).`, {
      hint: AUTH_HINT,
      details: { url: shownUrl(a.url), method, status: a.status, ...(this.credentials ? { credentials: this.credentials.source } : {}) },
    });
  }

  private networkError(what: string, method: string, url: string, e: unknown, deadline: Deadline, phase: 'answer' | 'stalled', who = 'the registry'): SlugcError {
    if (deadline.timedOut) {
      const secs = `${Math.round(this.timeoutMs / 100) / 10}s`;
      return new SlugcError('SLUGC_CACHE_REMOTE', `Couldn't ${what}: ${phase === 'stalled' ? `the download stalled for ${secs}` : `${who} did not answer ${method} ${shownUrl(url)} within ${secs}`}.`, {
        hint: `${REACH_HINT} A registry that accepts connections but does not answer is overloaded or hung.`,
        details: { url: shownUrl(url), method, timeoutMs: this.timeoutMs },
      });
    }
    const why = describeNetworkError(e);
    return new SlugcError('SLUGC_CACHE_REMOTE', `Couldn't ${what}: ${who} at ${originOf(url)} cannot be reached (${why}).`, {
      hint: REACH_HINT,
      cause: e,
      details: { url: shownUrl(url), method },
    });
  }
}

// ---------------------------------------------------------------------------
// Helpers

/** `scheme://host[:port]` of a URL, as messages name a server. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return shownUrl(url);
  }
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
}

/** `url` with `key=value` added to its query. */
function withQuery(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.append(key, value);
  return u.href;
}

async function readAnswer(res: Response, url: string, maxBytes: number, head = false): Promise<Answer> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (res.body && !head) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new SlugcError('SLUGC_CACHE_REMOTE', `Couldn't read the answer of ${shownUrl(url)}: it is larger than ${maxBytes} bytes.`, { hint: 'Check that the remote cache URL points at an OCI distribution registry.', details: { url: shownUrl(url) } });
      }
      chunks.push(Buffer.from(value));
    }
  } else if (res.body) {
    await res.body.cancel().catch(() => undefined);
  }
  return { status: res.status, statusText: res.statusText, headers: res.headers, body: Buffer.concat(chunks), url };
}

function emptyAnswer(res: Response, url: string): Answer {
  return { status: res.status, statusText: res.statusText, headers: res.headers, body: Buffer.alloc(0), url };
}

/** The `code`s of a registry's `{"errors":[...]}` body. */
function registryErrorCodes(body: Buffer): string[] {
  try {
    const doc: unknown = JSON.parse(body.toString('utf8'));
    if (isRecord(doc) && Array.isArray(doc.errors)) return doc.errors.filter(isRecord).map((e) => String(e.code ?? ''));
  } catch {
    /* not JSON */
  }
  return [];
}

/** `CODE: message` of each error in a registry's error body (never its `detail`), short. */
function registryErrorText(body: Buffer): string {
  try {
    const doc: unknown = JSON.parse(body.toString('utf8'));
    if (isRecord(doc) && Array.isArray(doc.errors)) {
      const text = doc.errors
        .filter(isRecord)
        .map((e) => [e.code, e.message].filter((x) => typeof x === 'string' && x).join(': '))
        .filter(Boolean)
        .join('; ');
      return text.length > 200 ? `${text.slice(0, 200)}…` : text;
    }
  } catch {
    /* not JSON */
  }
  return '';
}

function describeNetworkError(e: unknown): string {
  let err: unknown = e;
  for (let i = 0; i < 4 && err instanceof Error && err.cause !== undefined; i++) err = err.cause;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/** The target of a `Link: <url>; rel="next"` header. */
function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/s.exec(part);
    if (m && /;\s*rel="?([^";]*\s)?next(\s[^";]*)?"?(;|$)/i.test(m[2]!)) return m[1];
  }
  return undefined;
}

/** Reads a `WWW-Authenticate` header: `Basic realm=...` or `Bearer realm=...,service=...,scope=...`. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'basic') return { scheme: 'basic' };
  if (scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  if (!params.realm) return undefined;
  return { scheme: 'bearer', realm: params.realm, service: params.service, scope: params.scope };
}
