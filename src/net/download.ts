import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ChecksumMismatchError, SlugcError } from '../errors.js';
import type { Logger } from '../log.js';

/** An expected checksum: `sha256` or `sha512` with its digest. */
export interface Checksum {
  algorithm: 'sha256' | 'sha512';
  /** The digest as lowercase hex. */
  hex: string;
}

/**
 * Parses a checksum as inventories and registries write it: `sha256:<hex>`,
 * `sha512:<hex>`, or an SRI string `sha512-<base64>` (npm's `dist.integrity`).
 */
export function parseChecksum(s: string): Checksum {
  const sri = /^(sha256|sha512)-([A-Za-z0-9+/=]+)$/.exec(s.trim());
  if (sri) return { algorithm: sri[1] as Checksum['algorithm'], hex: Buffer.from(sri[2]!, 'base64').toString('hex') };
  const prefixed = /^(sha256|sha512):([0-9a-fA-F]+)$/.exec(s.trim());
  if (prefixed) {
    const algorithm = prefixed[1] as Checksum['algorithm'];
    const hex = prefixed[2]!.toLowerCase();
    if (hex.length === (algorithm === 'sha256' ? 64 : 128)) return { algorithm, hex };
  }
  throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't read the checksum ${JSON.stringify(s)}.`, {
    hint: 'Write checksums as sha256:<hex>, sha512:<hex> or sha512-<base64>.',
  });
}

/** Formats a checksum as `algorithm:hex`. */
export function formatChecksum(c: Checksum): string {
  return `${c.algorithm}:${c.hex}`;
}

/** What {@link downloadVerified} needs. */
export interface DownloadOptions {
  /** Where to get it. */
  url: string;
  /** What it must hash to; nothing is used before this matches. */
  checksum: Checksum;
  /** The cache root; the file lands in `<cacheRoot>/downloads/<algorithm>/<hex>`. */
  cacheRoot: string;
  /** The `fetch` to use. */
  fetch: typeof globalThis.fetch;
  /** For progress and messages. */
  log: Logger;
  /** A name for messages, e.g. `node 20.19.5`. */
  label: string;
  /** Cancels the download. */
  signal?: AbortSignal;
  /** Offline: only the store, `file://` URLs and URLs under `mirror` may be used. */
  offline?: boolean;
  /** The mirror base URL, which offline builds may still reach. */
  mirror?: string;
  /** A shared store in front of the origin (a fleet's remote cache): asked first, told about what came from the origin. */
  shared?: SharedDownloads;
}

/**
 * A store of verified downloads shared between machines, content-addressed
 * by checksum (the remote layer cache implements it). Its answers are
 * verified against the checksum like any download; it never throws.
 */
export interface SharedDownloads {
  /** Writes the file with this checksum to `dest` when the store has it; resolves false otherwise. */
  fetchInto(checksum: Checksum, dest: string): Promise<boolean>;
  /** Notes a file just downloaded from its origin and verified, to be shared after the build. */
  downloaded(checksum: Checksum, file: string): void;
}

/** What {@link downloadVerified} did. */
export interface DownloadResult {
  /** The verified file in the content-addressed store. */
  path: string;
  /** True when it was already in the store and nothing was downloaded. */
  cached: boolean;
  /** Bytes downloaded (0 when cached). */
  bytes: number;
}

/** Attempts per download; network errors and 5xx answers are retried, 4xx are not. */
const ATTEMPTS = 3;
const BACKOFF_MS = 500;

/**
 * Downloads a file into the cache's content-addressed store, verifying its
 * checksum while it streams. The file only appears under its final name once
 * verified (written beside, then renamed), so a killed build or a tampered
 * download never leaves a file a later build would trust.
 */
export async function downloadVerified(opts: DownloadOptions): Promise<DownloadResult> {
  const dir = path.join(opts.cacheRoot, 'downloads', opts.checksum.algorithm);
  const final = path.join(dir, opts.checksum.hex);
  if (fs.existsSync(final)) return { path: final, cached: true, bytes: 0 };
  if (opts.offline && !reachableOffline(opts.url, opts.mirror)) {
    throw new SlugcError('SLUGC_OFFLINE', `Couldn't get ${opts.label} offline: it is not in the cache and ${opts.url} is not on a mirror.`, {
      hint: 'Build once online to fill the cache, or set SLUGC_MIRROR to a mirror that holds it.',
      details: { url: opts.url, artifact: opts.label },
    });
  }
  fs.mkdirSync(dir, { recursive: true });
  if (opts.shared && !opts.offline) {
    // The fleet's store first; what it gives is verified here like anything else.
    const tmp = `${final}.tmp-shared-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
    try {
      if (await opts.shared.fetchInto(opts.checksum, tmp)) {
        const got = crypto.createHash(opts.checksum.algorithm).update(fs.readFileSync(tmp)).digest('hex');
        if (got === opts.checksum.hex) {
          const bytes = fs.statSync(tmp).size;
          fs.renameSync(tmp, final);
          opts.log.info(`${opts.label}: from the remote cache (${(bytes / 1024 / 1024).toFixed(1)} MB), ${opts.checksum.algorithm} verified`);
          return { path: final, cached: false, bytes };
        }
        opts.log.warn(`${opts.label}: the remote cache's copy does not match its ${opts.checksum.algorithm}; downloading it from ${opts.url}`);
      }
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  let lastError: unknown;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      const bytes = await downloadOnce(opts, final);
      opts.shared?.downloaded(opts.checksum, final);
      return { path: final, cached: false, bytes };
    } catch (e) {
      lastError = e;
      if (!(e instanceof RetryableError) || attempt === ATTEMPTS || opts.signal?.aborted) break;
      opts.log.warn(`Download of ${opts.label} failed (${e.message}); retrying (${attempt + 1}/${ATTEMPTS})`);
      await new Promise((r) => setTimeout(r, BACKOFF_MS * 2 ** (attempt - 1)));
    }
  }
  if (opts.signal?.aborted) throw new SlugcError('SLUGC_ABORTED', `Couldn't download ${opts.label}: the build was interrupted.`, { hint: 'Nothing was kept.' });
  if (lastError instanceof SlugcError) throw lastError;
  const why = lastError instanceof Error ? lastError.message : String(lastError);
  throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't download ${opts.label} from ${opts.url}: ${why}`, {
    hint: 'Check the network, the proxy settings (HTTPS_PROXY, NO_PROXY) and the registry or mirror URL.',
    cause: lastError,
    details: { url: opts.url },
  });
}

class RetryableError extends Error {}

async function downloadOnce(opts: DownloadOptions, final: string): Promise<number> {
  let res: Response;
  try {
    res = await fetchUrl(opts.url, opts.fetch, { signal: opts.signal ?? null, redirect: 'follow' });
  } catch (e) {
    throw new RetryableError(e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e));
  }
  if (!res.ok || !res.body) {
    const msg = `HTTP ${res.status} ${res.statusText}`.trim();
    if (res.status >= 500) throw new RetryableError(msg);
    throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't download ${opts.label} from ${opts.url}: ${msg}.`, {
      hint: res.status === 404 ? 'The file does not exist there; check the version and the registry or mirror URL.' : 'Check the URL and your credentials.',
      details: { url: opts.url, status: res.status },
    });
  }
  const total = Number(res.headers.get('content-length')) || null;
  const tmp = `${final}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const hash = crypto.createHash(opts.checksum.algorithm);
  const fd = fs.openSync(tmp, 'w');
  let done = 0;
  try {
    const reader = res.body.getReader();
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw new RetryableError(e instanceof Error ? e.message : String(e));
      }
      if (chunk.done) break;
      hash.update(chunk.value);
      fs.writeSync(fd, chunk.value);
      done += chunk.value.byteLength;
      opts.log.progress(opts.url, `Downloading ${opts.label}`, done, total);
    }
    opts.log.progressDone(opts.url);
    if (total !== null && done !== total) throw new RetryableError(`truncated: got ${done} of ${total} bytes`);
    const actual = hash.digest('hex');
    if (actual !== opts.checksum.hex) {
      throw new ChecksumMismatchError(`${opts.label} (${opts.url})`, formatChecksum(opts.checksum), `${opts.checksum.algorithm}:${actual}`);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, final);
    return done;
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      /* already closed */
    }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * The default `fetch`: Node's own, or undici's with an `EnvHttpProxyAgent`
 * when `HTTPS_PROXY`/`HTTP_PROXY` are set (honouring `NO_PROXY`), as
 * corporate networks need.
 */
export function defaultFetch(env: NodeJS.ProcessEnv = process.env): typeof globalThis.fetch {
  const proxied = env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy;
  if (!proxied) return globalThis.fetch;
  // From `env`, not process.env: a library caller's hostEnv decides. undici is loaded on the
  // first request (start-up time counts for every command, and most runs need no proxy).
  let proxied$: Promise<typeof globalThis.fetch> | undefined;
  const load = async (): Promise<typeof globalThis.fetch> => {
    const { EnvHttpProxyAgent, fetch: undiciFetch } = await import('undici');
    const dispatcher = new EnvHttpProxyAgent({
      ...(env.HTTP_PROXY || env.http_proxy ? { httpProxy: (env.HTTP_PROXY || env.http_proxy)! } : {}),
      ...(env.HTTPS_PROXY || env.https_proxy ? { httpsProxy: (env.HTTPS_PROXY || env.https_proxy)! } : {}),
      ...(env.NO_PROXY !== undefined || env.no_proxy !== undefined ? { noProxy: env.NO_PROXY ?? env.no_proxy ?? '' } : {}),
    });
    return ((input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit) =>
      undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as object), dispatcher } as Parameters<typeof undiciFetch>[1])) as unknown as typeof globalThis.fetch;
  };
  return (async (input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit) => (await (proxied$ ??= load()))(input, init)) as typeof globalThis.fetch;
}

/** True when an offline build may still read `url`: a local file, or something on the mirror. */
export function reachableOffline(url: string, mirror: string | undefined): boolean {
  return url.startsWith('file:') || (mirror !== undefined && url.startsWith(mirror.endsWith('/') ? mirror : `${mirror}/`));
}

/**
 * `fetch` that also reads `file://` URLs (a directory answers with its
 * `index.json`, so a mirror folder can hold both a registry document and the
 * tarballs below it); other URLs go to the given `fetch`.
 */
export async function fetchUrl(url: string, fetchFn: typeof globalThis.fetch, init: RequestInit = {}): Promise<Response> {
  if (!url.startsWith('file:')) return fetchFn(url, init);
  let file = fileURLToPath(url);
  try {
    if (fs.statSync(file).isDirectory()) file = path.join(file, 'index.json');
    const size = fs.statSync(file).size;
    const stream = Readable.toWeb(fs.createReadStream(file)) as unknown as ReadableStream<Uint8Array>;
    return new Response(stream, { status: 200, headers: { 'content-length': String(size) } });
  } catch {
    return new Response(`no such file: ${file}`, { status: 404, statusText: 'Not Found' });
  }
}
