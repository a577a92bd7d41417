import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fetchUrl, reachableOffline } from './download.js';
import { SlugcError } from '../errors.js';
import type { SourceContext } from '../runtimes/types.js';

/**
 * Rewrites an artifact URL to the mirror: `https://host/path` becomes
 * `<mirror>/host/path`, so one mirror (an HTTP server or a `file://` folder)
 * can hold artifacts from many origins. `file://` URLs, URLs already on the
 * mirror and URLs with no mirror set are returned as they are.
 */
export function mirrorUrl(url: string, mirror: string | undefined): string {
  if (!mirror || url.startsWith('file:')) return url;
  const base = mirror.endsWith('/') ? mirror : `${mirror}/`;
  if (url.startsWith(base)) return url;
  const m = /^https?:\/\/([^/?#]+)(\/[^?#]*)?/.exec(url);
  if (!m) return url;
  const host = m[1]!.replace(/:(80|443)$/, '');
  const rest = (m[2] ?? '/').replace(/^\/+/, '');
  return `${base}${host}/${rest}`;
}

/** Checks a mirror setting: an http(s) or file:// URL. */
export function validateMirror(mirror: string): string {
  if (!/^(https?|file):\/\//.test(mirror)) {
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't use the mirror ${JSON.stringify(mirror)}: not an http(s) or file:// URL.`, {
      hint: 'Set SLUGC_MIRROR to e.g. https://mirror.internal/slugc or file:///srv/slugc-mirror.',
    });
  }
  return mirror.replace(/\/+$/, '');
}

/** How {@link fetchDocument} treats the copies it keeps in `<cacheRoot>/metadata/`. */
export interface MetadataSettings {
  /** Seconds a cached document is used without asking the origin at all; 0 (the default) always revalidates. */
  ttlSeconds: number;
  /** How long to wait for the origin when a cached copy could be used instead (default 5000). */
  timeoutMs: number;
}

/** The default bound on a revalidation, in milliseconds. */
export const DEFAULT_METADATA_TIMEOUT_MS = 5000;

/**
 * Reads `SLUGC_METADATA_TTL` (seconds) and `SLUGC_METADATA_TIMEOUT_MS` from
 * an env (config vars or the host env), refusing values that are not whole
 * numbers.
 */
export function metadataSettings(env: Readonly<Record<string, string | undefined>>): MetadataSettings {
  const read = (name: string, fallback: number, min: number, max: number, hint: string): number => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return fallback;
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't use ${name}=${JSON.stringify(raw)}: not a whole number from ${min} to ${max}.`, { hint, details: { setting: name } });
    }
    return n;
  };
  return {
    ttlSeconds: read('SLUGC_METADATA_TTL', 0, 0, 10 * 365 * 24 * 3600, 'Set SLUGC_METADATA_TTL to the seconds a cached registry document or inventory is used without asking again, e.g. 300; 0 (the default) asks every build.'),
    timeoutMs: read('SLUGC_METADATA_TIMEOUT_MS', DEFAULT_METADATA_TIMEOUT_MS, 1, 3_600_000, `Set SLUGC_METADATA_TIMEOUT_MS to the milliseconds to wait for a registry or inventory before using the cached copy, e.g. ${DEFAULT_METADATA_TIMEOUT_MS} (the default).`),
  };
}

/**
 * A {@link SourceContext}, optionally carrying the metadata settings; when
 * they are absent, `SLUGC_METADATA_TTL` and `SLUGC_METADATA_TIMEOUT_MS` are
 * read from `process.env`.
 */
export type DocumentContext = SourceContext;

function settingsOf(ctx: DocumentContext): MetadataSettings {
  const fromEnv = ctx.metadataTtlSeconds === undefined || ctx.metadataTimeoutMs === undefined ? metadataSettings(process.env) : undefined;
  return { ttlSeconds: ctx.metadataTtlSeconds ?? fromEnv!.ttlSeconds, timeoutMs: ctx.metadataTimeoutMs ?? fromEnv!.timeoutMs };
}

/**
 * Fetches a JSON document (an inventory, a registry document) through the
 * mirror, keeping the last good copy in `<cacheRoot>/metadata/` so offline
 * builds, and builds whose origin is briefly down, can use it.
 *
 * Beside each copy (`<sha256 of url>.json`, the document as served) a
 * `<sha256 of url>.meta.json` keeps where it came from, a fingerprint of the
 * credentials it was fetched with, the origin's `ETag`/`Last-Modified` and
 * when it was last confirmed. A later fetch of the same URL, from the same
 * place with the same credentials, is conditional (a `304` reuses the copy);
 * within `SLUGC_METADATA_TTL` seconds of the last confirmation nothing is
 * asked at all. When a copy exists and the origin does not answer within
 * `SLUGC_METADATA_TIMEOUT_MS`, cannot be reached or answers 5xx, the copy is
 * used with one warning (later documents from that origin in the same build
 * go straight to their copies). A 4xx is an error.
 */
export async function fetchDocument<T>(url: string, ctx: DocumentContext, init: RequestInit = {}, what = 'document'): Promise<T> {
  const memoKey = `${url}\n${JSON.stringify(init.headers ?? {})}`;
  if (ctx.memo?.has(memoKey)) return ctx.memo.get(memoKey) as T;
  const doc = await fetchDocumentOnce<T>(url, ctx, init, what);
  ctx.memo?.set(memoKey, doc);
  return doc;
}

/** What is kept beside a cached document. */
interface CacheMeta {
  /** The URL it was fetched from (after the mirror rewrite). */
  target: string;
  /** sha256 of the target and the `authorization` sent, or null when none was sent. */
  auth: string | null;
  /** sha256 of the document's bytes, so a copy and a sidecar from different fetches never pair up. */
  sha256: string;
  etag?: string;
  lastModified?: string;
  /** When the origin last served or confirmed it (ms since the epoch). */
  checkedAt: number;
}

/** A cached copy: the document, and its sidecar when it matches. */
interface Cached<T> {
  doc: T;
  meta: CacheMeta | undefined;
  /** When it was last fetched or confirmed (the sidecar's time, else the file's mtime). */
  at: number;
}

const sha256 = (s: string | Buffer) => crypto.createHash('sha256').update(s).digest('hex');
const stamp = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
const downKey = (origin: string) => `\0origin-unreachable\n${origin}`;

function writeAtomic(file: string, data: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

function readCached<T>(docFile: string, metaFile: string): Cached<T> | undefined {
  let text: string;
  let doc: T;
  try {
    text = fs.readFileSync(docFile, 'utf8');
    doc = JSON.parse(text) as T;
  } catch {
    return undefined;
  }
  let meta: CacheMeta | undefined;
  try {
    const m = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as Partial<CacheMeta>;
    if (typeof m.target === 'string' && typeof m.checkedAt === 'number' && m.sha256 === sha256(text) && (m.auth === null || typeof m.auth === 'string')) meta = m as CacheMeta;
  } catch {
    /* a copy from before sidecars, or a torn pair: usable, but not for conditional requests */
  }
  let at = meta?.checkedAt;
  if (at === undefined) {
    try {
      at = fs.statSync(docFile).mtimeMs;
    } catch {
      at = Date.now();
    }
  }
  return { doc, meta, at };
}

/** Why the origin could not be used. */
class Unreachable extends Error {}

async function fetchDocumentOnce<T>(url: string, ctx: DocumentContext, requestInit: RequestInit, what: string): Promise<T> {
  const target = mirrorUrl(url, ctx.mirror);
  const headers = new Headers(requestInit.headers);
  // Credentials are for the origin: never send them to a mirror on another host.
  if (new URL(target).origin !== new URL(url).origin) headers.delete('authorization');
  const authorization = headers.get('authorization');
  const auth = authorization === null ? null : sha256(`${target}\n${authorization}`);
  const base = path.join(ctx.cacheRoot, 'metadata', sha256(url));
  const docFile = `${base}.json`;
  const metaFile = `${base}.meta.json`;
  const cached = readCached<T>(docFile, metaFile);

  if (ctx.offline && !reachableOffline(target, ctx.mirror)) {
    if (cached) return cached.doc;
    throw new SlugcError('SLUGC_OFFLINE', `Couldn't read the ${what} ${url} offline: it is not in the cache or on a mirror.`, {
      hint: 'Build once online to fill the cache, or set SLUGC_MIRROR to a mirror that holds it.',
      details: { url },
    });
  }

  const settings = settingsOf(ctx);
  // Validators (and freshness) only hold for the same URL, fetched from the same place with the same credentials.
  const same = cached?.meta !== undefined && cached.meta.target === target && cached.meta.auth === auth && /^https?:/.test(target) ? cached.meta : undefined;
  if (cached && same && settings.ttlSeconds > 0 && Date.now() - same.checkedAt < settings.ttlSeconds * 1000 && same.checkedAt <= Date.now()) return cached.doc;

  const origin = /^https?:/.test(target) ? new URL(target).origin : target;
  if (cached && ctx.memo?.has(downKey(origin))) {
    ctx.log.info(`Using the copy of the ${what} cached earlier, at ${stamp(cached.at)} (${origin} did not answer earlier in this build).`);
    return cached.doc;
  }
  /** Uses the cached copy, with one warning; later documents from this origin in this build go straight to their copies. */
  const fallBack = (problem: string): T => {
    ctx.memo?.set(downKey(origin), true);
    ctx.log.warn(`${problem}; using the copy of the ${what} cached earlier, at ${stamp(cached!.at)}.`);
    return cached!.doc;
  };

  if (same?.etag) headers.set('if-none-match', same.etag);
  if (same?.lastModified) headers.set('if-modified-since', same.lastModified);
  const conditional = headers.has('if-none-match') || headers.has('if-modified-since');

  // Bounded only when there is a copy to fall back on: without one, waiting longer is the only way to succeed.
  const controller = new AbortController();
  const onAbort = () => controller.abort(ctx.signal?.reason);
  if (ctx.signal?.aborted) controller.abort(ctx.signal.reason);
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    if (!cached) return;
    timer = setTimeout(() => {
      reject(new Unreachable(`no answer within ${settings.timeoutMs} ms`));
      controller.abort();
    }, settings.timeoutMs);
  });
  timedOut.catch(() => {});
  const aborted = () => new SlugcError('SLUGC_ABORTED', `Couldn't fetch the ${what} ${target}: the build was interrupted.`, { hint: 'Nothing was kept.' });
  const why = (e: unknown) => (e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e));
  /** The origin did not answer: the cached copy with a warning, else the error. */
  const unreachable = (e: unknown): T => {
    if (ctx.signal?.aborted) throw aborted();
    if (cached) return fallBack(`Couldn't reach ${target} (${why(e)})`);
    throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't fetch the ${what} ${target}: ${why(e)}.`, {
      hint: 'Check the network, HTTPS_PROXY/NO_PROXY, and the mirror or registry URL.',
      cause: e,
      details: { url: target },
    });
  };

  try {
    let res: Response;
    try {
      res = await Promise.race([fetchUrl(target, ctx.fetch, { ...requestInit, headers: Object.fromEntries(headers.entries()), signal: controller.signal }), timedOut]);
    } catch (e) {
      return unreachable(e);
    }
    if (res.status === 304 && conditional && cached && same) {
      void res.body?.cancel().catch(() => {});
      const etag = res.headers.get('etag');
      const lastModified = res.headers.get('last-modified');
      writeMeta(metaFile, { ...same, ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}), checkedAt: Date.now() });
      return cached.doc;
    }
    if (res.status >= 500 && cached) {
      void res.body?.cancel().catch(() => {});
      return fallBack(`${target} answered HTTP ${res.status}`);
    }
    if (!res.ok) {
      void res.body?.cancel().catch(() => {});
      throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't fetch the ${what} ${target}: HTTP ${res.status}.`, {
        hint: res.status === 404 ? 'It does not exist there; check the URL (and that the mirror holds it).' : 'Check the URL and credentials.',
        details: { url: target, status: res.status },
      });
    }
    let text: string;
    try {
      text = await Promise.race([res.text(), timedOut]);
    } catch (e) {
      return unreachable(e);
    }
    let doc: T;
    try {
      doc = JSON.parse(text) as T;
    } catch (e) {
      throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't read the ${what} ${target}: not JSON.`, { hint: 'Check that the URL points at the right file.', cause: e });
    }
    // The document first, then its sidecar: a sidecar only pairs with the bytes it names.
    writeAtomic(docFile, text);
    const etag = res.headers.get('etag');
    const lastModified = res.headers.get('last-modified');
    writeMeta(metaFile, { target, auth, sha256: sha256(text), ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}), checkedAt: Date.now() });
    return doc;
  } finally {
    clearTimeout(timer);
    ctx.signal?.removeEventListener('abort', onAbort);
  }
}

function writeMeta(file: string, meta: CacheMeta): void {
  try {
    writeAtomic(file, `${JSON.stringify(meta)}\n`);
  } catch {
    /* only an optimisation: the next build asks unconditionally */
  }
}
