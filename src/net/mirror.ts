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

/**
 * Fetches a JSON document (an inventory, a registry document) through the
 * mirror, keeping the last good copy in `<cacheRoot>/metadata/` so offline
 * builds, and builds whose origin is briefly down, can use it.
 */
export async function fetchDocument<T>(url: string, ctx: SourceContext, init: RequestInit = {}, what = 'document'): Promise<T> {
  const memoKey = `${url}\n${JSON.stringify(init.headers ?? {})}`;
  if (ctx.memo?.has(memoKey)) return ctx.memo.get(memoKey) as T;
  const doc = await fetchDocumentOnce<T>(url, ctx, init, what);
  ctx.memo?.set(memoKey, doc);
  return doc;
}

async function fetchDocumentOnce<T>(url: string, ctx: SourceContext, requestInit: RequestInit, what: string): Promise<T> {
  const target = mirrorUrl(url, ctx.mirror);
  // Credentials are for the origin: never send them to a mirror on another host.
  let init = requestInit;
  if (new URL(target).origin !== new URL(url).origin && init.headers) {
    const headers = Object.fromEntries(Object.entries(init.headers as Record<string, string>).filter(([k]) => k.toLowerCase() !== 'authorization'));
    init = { ...init, headers };
  }
  const cacheFile = path.join(ctx.cacheRoot, 'metadata', `${crypto.createHash('sha256').update(url).digest('hex')}.json`);
  const cached = (): T | undefined => {
    try {
      return JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as T;
    } catch {
      return undefined;
    }
  };
  if (ctx.offline && !reachableOffline(target, ctx.mirror)) {
    const c = cached();
    if (c !== undefined) return c;
    throw new SlugcError('SLUGC_OFFLINE', `Couldn't read the ${what} ${url} offline: it is not in the cache or on a mirror.`, {
      hint: 'Build once online to fill the cache, or set SLUGC_MIRROR to a mirror that holds it.',
      details: { url },
    });
  }
  let res: Response;
  try {
    res = await fetchUrl(target, ctx.fetch, { ...init, signal: ctx.signal ?? null });
  } catch (e) {
    const c = cached();
    const why = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
    if (c !== undefined) {
      ctx.log.warn(`Couldn't reach ${target} (${why}); using the copy of the ${what} cached earlier.`);
      return c;
    }
    throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't fetch the ${what} ${target}: ${why}.`, {
      hint: 'Check the network, HTTPS_PROXY/NO_PROXY, and the mirror or registry URL.',
      cause: e,
      details: { url: target },
    });
  }
  if (!res.ok) {
    throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't fetch the ${what} ${target}: HTTP ${res.status}.`, {
      hint: res.status === 404 ? 'It does not exist there; check the URL (and that the mirror holds it).' : 'Check the URL and credentials.',
      details: { url: target, status: res.status },
    });
  }
  const text = await res.text();
  let doc: T;
  try {
    doc = JSON.parse(text) as T;
  } catch (e) {
    throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't read the ${what} ${target}: not JSON.`, { hint: 'Check that the URL points at the right file.', cause: e });
  }
  fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
  const tmp = `${cacheFile}.tmp-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, cacheFile);
  return doc;
}
