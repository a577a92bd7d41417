import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, tempDir } from 'slugc/testing';
import { SlugcError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import {
  OCI_EMPTY_CONFIG_DIGEST,
  OCI_LAYER_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  OciClient,
  ociLayerManifest,
  parseChallenge,
  parseRemoteCacheUrl,
  registryCredentials,
  type OciClientOptions,
  type RegistryCredentials,
} from '../../src/cache/remote/oci.js';
import { startBearerProxy, startOciRegistry, startSilentServer, type OciRegistry } from '../support/oci-registry.js';

// Project issue 16: the registry client of the shared layer cache, against a
// REAL registry (docker-registry, distribution 2.8) on 127.0.0.1; Bearer auth
// through a loopback proxy in front of it that demands tokens from a loopback
// token service (see test/support/oci-registry.ts).

const USER = 'fleet';
const PASSWORD = 'hunter2-s3cret-Pa55';

let plain: OciRegistry;
let locked: OciRegistry;
let work: string;
let repoCount = 0;

beforeAll(async () => {
  [plain, locked] = await Promise.all([startOciRegistry(), startOciRegistry({ htpasswd: { user: USER, password: PASSWORD }, relativeUrls: true })]);
  work = tempDir('slugc-oci-');
});

afterAll(async () => {
  await Promise.all([plain?.close(), locked?.close()]);
  await cleanup();
});

/** A fresh repository name under the registry's, so tests do not see each other's blobs. */
function repo(): string {
  return `slugc-cache/t${++repoCount}-${process.pid}`;
}

function client(base: string, options: Partial<OciClientOptions> = {}): OciClient {
  return new OciClient({ base, repository: repo(), ...options });
}

/** A file of `size` random bytes, with its digest. */
function blobFile(size: number): { file: string; digest: string; size: number; bytes: Buffer } {
  const bytes = crypto.randomBytes(size);
  const digest = `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
  const file = path.join(work, `${digest.slice(7, 19)}.blob`);
  fs.writeFileSync(file, bytes);
  return { file, digest, size, bytes };
}

/** A `fetch` that records `METHOD path` and the Location of each answer. */
function recordingFetch(): { fetch: typeof globalThis.fetch; calls: { method: string; url: string; status: number; location: string | null }[] } {
  const calls: { method: string; url: string; status: number; location: string | null }[] = [];
  const f: typeof globalThis.fetch = async (input, init) => {
    const res = await globalThis.fetch(input, init);
    calls.push({ method: init?.method ?? 'GET', url: String(input), status: res.status, location: res.headers.get('location') });
    return res;
  };
  return { fetch: f, calls };
}

async function rejection(p: Promise<unknown>): Promise<SlugcError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SlugcError);
  expect((e as SlugcError).message).toMatch(/^Couldn't /);
  expect((e as SlugcError).hint).toBeTruthy();
  return e as SlugcError;
}

/** Everything an error carries, as text: message, hint, details, stack, causes. */
function everything(e: SlugcError): string {
  let text = `${e.message}\n${e.hint}\n${JSON.stringify(e.toJSON())}\n${e.stack}`;
  for (let c: unknown = e.cause; c; c = (c as Error).cause) text += `\n${String(c)}\n${(c as Error).stack ?? ''}`;
  return text;
}

describe('parseRemoteCacheUrl', () => {
  it('reads oci:// as plain HTTP, https:// as TLS, http:// too', () => {
    expect(parseRemoteCacheUrl('oci://Registry.internal:5000/team/slugc-cache')).toEqual({
      url: 'oci://registry.internal:5000/team/slugc-cache',
      base: 'http://registry.internal:5000',
      host: 'registry.internal:5000',
      repository: 'team/slugc-cache',
      tls: false,
    });
    expect(parseRemoteCacheUrl('https://ghcr.io/acme/build-cache/')).toMatchObject({ base: 'https://ghcr.io', host: 'ghcr.io', repository: 'acme/build-cache', tls: true });
    expect(parseRemoteCacheUrl('http://127.0.0.1:5000/a.b_c__d--e')).toMatchObject({ base: 'http://127.0.0.1:5000', repository: 'a.b_c__d--e', tls: false });
  });

  it('refuses a missing or malformed repository, other schemes, queries, and credentials (without echoing them)', () => {
    for (const [url, why] of [
      ['oci://host:5000', /names no repository/],
      ['oci://host:5000/', /names no repository/],
      ['oci://host/Slugc-Cache', /lowercase/],
      ['oci://host/a//b', /not a repository path/],
      ['oci://host/-a', /not a repository path/],
      ['ftp://host/a', /scheme ftp:\/\//],
      ['oci://host/a?x=1', /query/],
      ['oci://host:99999/a', /port/],
      ['registry:5000/a', /not a URL/],
    ] as const) {
      const e = (() => {
        try {
          parseRemoteCacheUrl(url);
        } catch (err) {
          return err as SlugcError;
        }
        throw new Error(`accepted ${url}`);
      })();
      expect(e.code).toBe('SLUGC_CACHE_REMOTE_INVALID');
      expect(e.message).toMatch(why);
      expect(e.hint).toMatch(/oci:\/\/host/);
    }
    try {
      parseRemoteCacheUrl('https://bob:topsecret@registry.example/cache');
      expect.unreachable();
    } catch (err) {
      const e = err as SlugcError;
      expect(e.code).toBe('SLUGC_CACHE_REMOTE_INVALID');
      expect(e.message).toMatch(/holds credentials/);
      expect(e.hint).toMatch(/SLUGC_CACHE_REMOTE_USERNAME/);
      expect(everything(e)).not.toContain('topsecret');
      expect(everything(e)).not.toContain('bob');
    }
  });
});

describe('registryCredentials', () => {
  const dockerConfig = (config: unknown): string => {
    const dir = tempDir('slugc-docker-config-');
    fs.writeFileSync(path.join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
    return dir;
  };

  it('takes the environment first: user and password, else a token', () => {
    expect(registryCredentials('r:5000', { SLUGC_CACHE_REMOTE_USERNAME: 'u', SLUGC_CACHE_REMOTE_PASSWORD: 'p', SLUGC_CACHE_REMOTE_TOKEN: 't' })).toMatchObject({ kind: 'basic', username: 'u', password: 'p' });
    expect(registryCredentials('r:5000', { SLUGC_CACHE_REMOTE_TOKEN: 'tok' })).toMatchObject({ kind: 'token', token: 'tok' });
    expect(() => registryCredentials('r:5000', { SLUGC_CACHE_REMOTE_USERNAME: 'u' })).toThrow(expect.objectContaining({ code: 'SLUGC_CACHE_REMOTE_INVALID', message: expect.stringMatching(/SLUGC_CACHE_REMOTE_PASSWORD is not/) }));
    expect(registryCredentials('r:5000', { HOME: tempDir() })).toBeUndefined();
    expect(registryCredentials('r:5000', {})).toBeUndefined();
  });

  it('reads docker config.json: auth, username/password, identitytoken; $DOCKER_CONFIG, else $HOME/.docker', () => {
    const auth = Buffer.from('alice:pa:ss').toString('base64');
    const dir = dockerConfig({ auths: { 'r:5000': { auth }, 'https://other.example/v1/': { username: 'bob', password: 'pw' }, 'id.example': { identitytoken: 'refresh-me' } } });
    expect(registryCredentials('r:5000', { DOCKER_CONFIG: dir })).toMatchObject({ kind: 'basic', username: 'alice', password: 'pa:ss' });
    expect(registryCredentials('other.example', { DOCKER_CONFIG: dir })).toMatchObject({ kind: 'basic', username: 'bob', password: 'pw' });
    expect(registryCredentials('id.example', { DOCKER_CONFIG: dir })).toMatchObject({ kind: 'identity', identityToken: 'refresh-me' });
    expect(registryCredentials('unknown:1', { DOCKER_CONFIG: dir })).toBeUndefined();
    const home = tempDir();
    fs.mkdirSync(path.join(home, '.docker'));
    fs.copyFileSync(path.join(dir, 'config.json'), path.join(home, '.docker', 'config.json'));
    expect(registryCredentials('r:5000', { HOME: home })).toMatchObject({ kind: 'basic', username: 'alice', source: expect.stringContaining(home) });
  });

  it('warns that credential helpers are not supported, and refuses a broken config.json', () => {
    const log = createLogger();
    const dir = dockerConfig({ auths: { 'r:5000': {} }, credsStore: 'desktop', credHelpers: { 'ecr.example': 'ecr-login' } });
    expect(registryCredentials('r:5000', { DOCKER_CONFIG: dir }, log)).toBeUndefined();
    expect(registryCredentials('ecr.example', { DOCKER_CONFIG: dir }, log)).toBeUndefined();
    expect(log.text()).toMatch(/docker-credential-desktop.*not run credential helpers/);
    expect(log.text()).toMatch(/docker-credential-ecr-login/);
    expect(() => registryCredentials('r:5000', { DOCKER_CONFIG: dockerConfig('{ nope') })).toThrow(expect.objectContaining({ code: 'SLUGC_CACHE_REMOTE_INVALID', hint: expect.stringMatching(/docker login/) }));
  });
});

describe('OciClient blobs', () => {
  it('pushes a small blob in one PUT, finds it with HEAD, downloads and verifies it', async () => {
    const rec = recordingFetch();
    const c = client(plain.base, { fetch: rec.fetch });
    const b = blobFile(100_000);
    expect(await c.hasBlob(b.digest)).toBe(false);
    expect(await c.pushBlob(b.file, b)).toBe('uploaded');
    expect(rec.calls.map((x) => x.method)).toEqual(['HEAD', 'HEAD', 'POST', 'PUT']);
    expect(rec.calls[2]!.location).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v2\//); // absolute Locations from this registry
    expect(await c.hasBlob(b.digest)).toBe(true);
    expect(await c.pushBlob(b.file, b)).toBe('exists');
    const dest = path.join(work, 'small', 'out.bin');
    expect(await c.getBlob(b.digest, dest)).toBe(true);
    expect(fs.readFileSync(dest).equals(b.bytes)).toBe(true);
    expect(fs.readdirSync(path.dirname(dest))).toEqual(['out.bin']);
  });

  it('pushes a blob above the chunk size in PATCH chunks, following each Location', async () => {
    const rec = recordingFetch();
    const c = client(plain.base, { fetch: rec.fetch, chunkSize: 64 * 1024 });
    const b = blobFile(5 * 64 * 1024 + 123);
    expect(await c.pushBlob(b.file, b)).toBe('uploaded');
    const methods = rec.calls.map((x) => x.method);
    expect(methods).toEqual(['HEAD', 'POST', 'PATCH', 'PATCH', 'PATCH', 'PATCH', 'PATCH', 'PATCH', 'PUT']);
    const patchUrls = rec.calls.filter((x) => x.method === 'PATCH').map((x) => x.url);
    expect(new Set(patchUrls).size).toBe(6); // each PATCH went to the Location the previous answer gave
    const dest = path.join(work, 'chunked.bin');
    expect(await c.getBlob(b.digest, dest)).toBe(true);
    expect(fs.readFileSync(dest).equals(b.bytes)).toBe(true);
  });

  it('pushes bytes as well as files, chunked too', async () => {
    const c = client(plain.base, { chunkSize: 1000 });
    const bytes = crypto.randomBytes(2500);
    const digest = `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
    expect(await c.pushBlob(bytes, { digest, size: bytes.length })).toBe('uploaded');
    expect(await c.hasBlob(digest)).toBe(true);
  });

  it('says false for a blob the repository does not have, and refuses bad digests and sizes', async () => {
    const c = client(plain.base);
    const missing = `sha256:${'0'.repeat(64)}`;
    const dest = path.join(work, 'missing.bin');
    expect(await c.getBlob(missing, dest)).toBe(false);
    expect(fs.existsSync(dest)).toBe(false);
    expect((await rejection(c.hasBlob('sha256:ABC'))).code).toBe('SLUGC_CACHE_REMOTE_INVALID');
    const b = blobFile(10);
    expect((await rejection(c.pushBlob(b.file, { digest: b.digest, size: 11 }))).code).toBe('SLUGC_CACHE_REMOTE_DIGEST');
    // A digest that is not of the bytes: the registry refuses the upload.
    const wrong = await rejection(c.pushBlob(b.file, { digest: `sha256:${'1'.repeat(64)}`, size: 10 }));
    expect(wrong.code).toBe('SLUGC_CACHE_REMOTE_DIGEST');
  });

  it('refuses a blob damaged in the registry and leaves nothing at the destination', async () => {
    const c = client(plain.base);
    const b = blobFile(70_000);
    await c.pushBlob(b.file, b);
    const stored = plain.blobDataPath(b.digest);
    const damaged = Buffer.from(b.bytes);
    damaged[1234] = damaged[1234]! ^ 0xff;
    fs.writeFileSync(stored, damaged);
    const dir = path.join(work, 'tampered');
    const dest = path.join(dir, 'layer.tgz');
    const e = await rejection(c.getBlob(b.digest, dest));
    expect(e.code).toBe('SLUGC_CACHE_REMOTE_DIGEST');
    expect(e.message).toContain(b.digest);
    expect(e.details).toMatchObject({ expected: b.digest, bytes: 70_000 });
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('mounts a blob from another repository of the same registry, and uploads when the source lacks it', async () => {
    const a = client(plain.base);
    const rec = recordingFetch();
    const b = client(plain.base, { fetch: rec.fetch });
    const blob = blobFile(4096);
    await a.pushBlob(blob.file, blob);
    expect(await b.pushBlob(blob.file, { ...blob, mountFrom: a.repository })).toBe('mounted');
    expect(rec.calls.map((x) => `${x.method} ${x.status}`)).toEqual(['HEAD 404', 'POST 201']);
    expect(await b.getBlob(blob.digest, path.join(work, 'mounted.bin'))).toBe(true);
    const other = blobFile(4097);
    expect(await b.pushBlob(other.file, { ...other, mountFrom: a.repository })).toBe('uploaded'); // 202: the mount became an upload session
    expect(await b.hasBlob(other.digest)).toBe(true);
  });
});

describe('OciClient manifests and tags', () => {
  it('tags an OCI manifest with annotations (pushing the empty config), reads it by tag and digest, lists tags', async () => {
    const c = client(plain.base);
    const layer = blobFile(2000);
    await c.pushBlob(layer.file, layer);
    const manifest = ociLayerManifest({ layerDigest: layer.digest, layerSize: layer.size, annotations: { 'dev.slugc.layer': 'node_modules', 'dev.slugc.key': '{"lock":"abc"}' } });
    expect(manifest.config).toEqual({ mediaType: 'application/vnd.oci.empty.v1+json', digest: OCI_EMPTY_CONFIG_DIGEST, size: 2 });
    expect(manifest.layers).toEqual([{ mediaType: OCI_LAYER_MEDIA_TYPE, digest: layer.digest, size: 2000 }]);
    expect(await c.listTags()).toEqual([]); // no repository yet
    expect(await c.getManifest('nothing-here')).toBeNull();
    const digest = await c.putManifest('layer-v1', manifest);
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(await c.hasBlob(OCI_EMPTY_CONFIG_DIGEST)).toBe(true);
    const byTag = await c.getManifest('layer-v1');
    expect(byTag).toEqual({ manifest, digest, mediaType: OCI_MANIFEST_MEDIA_TYPE });
    expect(await c.getManifest(digest)).toEqual(byTag);
    await c.putManifest('layer-v2', manifest);
    expect((await c.listTags()).sort()).toEqual(['layer-v1', 'layer-v2']);
    expect(() => ociLayerManifest({ layerDigest: layer.digest, layerSize: 1, annotations: { n: 1 as unknown as string } })).toThrow(expect.objectContaining({ code: 'SLUGC_CACHE_REMOTE_INVALID' }));
    expect((await rejection(c.putManifest('-bad', manifest))).code).toBe('SLUGC_CACHE_REMOTE_INVALID');
  });

  it('follows Link pagination of the tag list', async () => {
    // distribution 2.8 ignores ?n= and answers every tag at once: page its answer here.
    const pages: string[] = [];
    const paging: typeof globalThis.fetch = async (input, init) => {
      const u = new URL(String(input));
      if (!u.pathname.endsWith('/tags/list')) return globalThis.fetch(input, init);
      pages.push(u.search);
      const res = await globalThis.fetch(`${u.origin}${u.pathname}`, init);
      const all = ((await res.json()) as { name: string; tags: string[] }).tags.sort();
      const last = u.searchParams.get('last');
      const rest = last ? all.filter((t) => t > last) : all;
      const page = rest.slice(0, 2);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (rest.length > 2) headers.link = `<${u.pathname}?n=2&last=${page[1]}>; rel="next"`;
      return new Response(JSON.stringify({ name: 'x', tags: page }), { status: 200, headers });
    };
    const c = client(plain.base, { fetch: paging });
    const layer = blobFile(10);
    await c.pushBlob(layer.file, layer);
    const m = ociLayerManifest({ layerDigest: layer.digest, layerSize: 10 });
    for (const t of ['a', 'b', 'c', 'd', 'e']) await c.putManifest(t, m);
    expect(await c.listTags()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(pages).toEqual(['', '?n=2&last=b', '?n=2&last=d']);
  });

  it('refuses a manifest whose bytes do not hash to the digest asked for', async () => {
    const c0 = client(plain.base);
    const layer = blobFile(10);
    await c0.pushBlob(layer.file, layer);
    const digest = await c0.putManifest('m', ociLayerManifest({ layerDigest: layer.digest, layerSize: 10, annotations: { a: 'b' } }));
    const tampering: typeof globalThis.fetch = async (input, init) => {
      const res = await globalThis.fetch(input, init);
      if (!String(input).includes('/manifests/')) return res;
      const text = (await res.text()).replace('"a":"b"', '"a":"c"');
      const headers = new Headers(res.headers);
      headers.delete('content-length');
      headers.delete('docker-content-digest');
      return new Response(text, { status: res.status, headers });
    };
    const c = new OciClient({ base: plain.base, repository: c0.repository, fetch: tampering });
    const e = await rejection(c.getManifest(digest));
    expect(e.code).toBe('SLUGC_CACHE_REMOTE_DIGEST');
  });
});

describe('OciClient authentication', () => {
  const creds = (password = PASSWORD): RegistryCredentials => ({ kind: 'basic', username: USER, password, source: 'the test' });

  it('answers a Basic challenge with the credentials (and follows relative Locations)', async () => {
    const rec = recordingFetch();
    const c = client(locked.base, { credentials: creds(), fetch: rec.fetch, chunkSize: 1024 });
    const b = blobFile(3000);
    expect(await c.pushBlob(b.file, b)).toBe('uploaded');
    expect(rec.calls[0]).toMatchObject({ method: 'HEAD', status: 401 }); // anonymous first
    expect(rec.calls.filter((x) => x.status === 401)).toHaveLength(1); // then Basic every time
    expect(rec.calls.find((x) => x.method === 'POST')!.location).toMatch(/^\/v2\//); // relativeurls: true
    await c.putManifest('t', ociLayerManifest({ layerDigest: b.digest, layerSize: b.size }));
    expect(await c.getBlob(b.digest, path.join(work, 'basic.bin'))).toBe(true);
    expect(await c.listTags()).toEqual(['t']);
  });

  it('gives SLUGC_CACHE_REMOTE_AUTH for wrong or missing credentials, and never shows the password', async () => {
    const log = createLogger();
    const wrong = 'not-the-Right-pw-987';
    const c = client(locked.base, { credentials: creds(wrong), log });
    const e = await rejection(c.hasBlob(`sha256:${'a'.repeat(64)}`));
    expect(e.code).toBe('SLUGC_CACHE_REMOTE_AUTH');
    expect(e.message).toMatch(/refused the credentials from the test/);
    expect(e.hint).toMatch(/SLUGC_CACHE_REMOTE_USERNAME/);
    for (const secret of [wrong, PASSWORD, Buffer.from(`${USER}:${wrong}`).toString('base64')]) expect(everything(e)).not.toContain(secret);
    expect(log.scrub(`x ${wrong} y`)).toBe('x [secret] y');
    const anon = await rejection(client(locked.base).listTags());
    expect(anon.code).toBe('SLUGC_CACHE_REMOTE_AUTH');
    expect(anon.message).toMatch(/needs credentials and none are set/);
  });

  it('uses credentials from a docker config.json', async () => {
    const dir = tempDir('slugc-docker-config-');
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ auths: { [locked.host]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } }));
    const credentials = registryCredentials(locked.host, { DOCKER_CONFIG: dir });
    expect(credentials).toMatchObject({ kind: 'basic', username: USER });
    const c = client(locked.base, { credentials });
    const b = blobFile(500);
    expect(await c.pushBlob(b.file, b)).toBe('uploaded');
    expect(await c.hasBlob(b.digest)).toBe(true);
  });

  it('gets Bearer tokens from the realm per scope, caches them, and never sends Authorization to a storage redirect', async () => {
    const proxy = await startBearerProxy(plain, { user: USER, password: PASSWORD, redirectBlobs: true });
    try {
      const c = client(proxy.base, { credentials: creds(), chunkSize: 4096 });
      const b = blobFile(10_000);
      expect(await c.pushBlob(b.file, b)).toBe('uploaded');
      const digest = await c.putManifest('bearer', ociLayerManifest({ layerDigest: b.digest, layerSize: b.size, annotations: { k: 'v' } }));
      expect((await c.getManifest('bearer'))?.digest).toBe(digest);
      const dest = path.join(work, 'bearer.bin');
      expect(await c.getBlob(b.digest, dest)).toBe(true);
      expect(fs.readFileSync(dest).equals(b.bytes)).toBe(true);
      expect(proxy.storageAuthorizations).toEqual([undefined]); // the redirect was followed, without the token
      expect(proxy.tokenRequests).toEqual([
        { method: 'GET', scopes: [`repository:${c.repository}:pull`], auth: 'basic' },
        { method: 'GET', scopes: [`repository:${c.repository}:pull,push`], auth: 'basic' },
      ]);
      expect(proxy.requests.filter((r) => !r.authorized)).toHaveLength(1); // only the first, anonymous request

      // A mount asks for pull on the source repository too.
      const other = client(proxy.base, { credentials: creds() });
      expect(await other.pushBlob(b.file, { ...b, mountFrom: c.repository })).toBe('mounted');
      expect(proxy.tokenRequests.at(-1)!.scopes).toEqual([`repository:${other.repository}:pull,push`, `repository:${c.repository}:pull`]);

      const bad = await rejection(client(proxy.base, { credentials: creds('wrong-Bearer-pw-1') }).hasBlob(b.digest));
      expect(bad.code).toBe('SLUGC_CACHE_REMOTE_AUTH');
      expect(bad.message).toMatch(/token service refused the credentials/);
      expect(everything(bad)).not.toContain('wrong-Bearer-pw-1');
    } finally {
      await proxy.close();
    }
  });

  it('exchanges a docker identitytoken at the realm; anonymous tokens may pull but not push', async () => {
    const proxy = await startBearerProxy(plain, { user: USER, password: PASSWORD, identityToken: 'refresh-token-xyz', anonymousPull: true });
    try {
      const dir = tempDir('slugc-docker-config-');
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ auths: { [`http://${proxy.host}`]: { username: '<token>', identitytoken: 'refresh-token-xyz' } } }));
      const credentials = registryCredentials(proxy.host, { DOCKER_CONFIG: dir });
      expect(credentials?.kind).toBe('identity');
      const c = client(proxy.base, { credentials });
      const b = blobFile(300);
      expect(await c.pushBlob(b.file, b)).toBe('uploaded');
      expect(proxy.tokenRequests.every((t) => t.method === 'POST' && t.auth === 'refresh')).toBe(true);

      const anon = new OciClient({ base: proxy.base, repository: c.repository });
      expect(await anon.hasBlob(b.digest)).toBe(true);
      const small = blobFile(6);
      const denied = await rejection(anon.pushBlob(small.file, small));
      expect(denied.code).toBe('SLUGC_CACHE_REMOTE_AUTH');
    } finally {
      await proxy.close();
    }
  });

  it('reads Bearer and Basic challenges', () => {
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"')).toEqual({
      scheme: 'bearer',
      realm: 'https://auth.example/token',
      service: 'registry.example',
      scope: 'repository:a/b:pull,push',
    });
    expect(parseChallenge('Basic realm="x"')).toEqual({ scheme: 'basic' });
    expect(parseChallenge('Bearer service="x"')).toBeUndefined();
    expect(parseChallenge(null)).toBeUndefined();
  });
});

describe('OciClient failures', () => {
  it('fails fast with SLUGC_CACHE_REMOTE when the registry is down, and works again once it is back', async () => {
    const reg = await startOciRegistry();
    try {
      const c = client(reg.base, { timeoutMs: 5000 });
      const b = blobFile(100);
      await c.pushBlob(b.file, b);
      await reg.stop();
      const t0 = Date.now();
      const e = await rejection(c.hasBlob(b.digest));
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(e.code).toBe('SLUGC_CACHE_REMOTE');
      expect(e.message).toMatch(/: the registry at http:\/\/127\.0\.0\.1:\d+ cannot be reached \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)\.$/);
      await reg.start();
      expect(await c.hasBlob(b.digest)).toBe(true); // same port, same data
      await reg.kill();
      expect((await rejection(c.getBlob(b.digest, path.join(work, 'down.bin')))).code).toBe('SLUGC_CACHE_REMOTE');
      expect(fs.existsSync(path.join(work, 'down.bin'))).toBe(false);
    } finally {
      await reg.close();
    }
  });

  it('times out against a server that accepts the connection and never answers', async () => {
    const silent = await startSilentServer();
    try {
      const c = client(silent.base, { timeoutMs: 300 });
      const t0 = Date.now();
      const e = await rejection(c.getManifest('latest'));
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(280);
      expect(took).toBeLessThan(2000);
      expect(e.code).toBe('SLUGC_CACHE_REMOTE');
      expect(e.message).toMatch(/did not answer GET http:\/\/127\.0\.0\.1:\d+\/v2\/slugc-cache\/t\d+-\d+\/manifests\/latest within 0\.3s/);
      expect(silent.connections()).toBe(1);
    } finally {
      await silent.close();
    }
  });

  it('times out a blob download that stalls halfway, and leaves nothing behind', async () => {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-length': '100000', 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(1000)); // then nothing
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const c = client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { timeoutMs: 300 });
      const dir = path.join(work, 'stalled');
      const e = await rejection(c.getBlob(`sha256:${'b'.repeat(64)}`, path.join(dir, 'x.tgz')));
      expect(e.code).toBe('SLUGC_CACHE_REMOTE');
      expect(e.message).toMatch(/the download stalled for 0\.3s/);
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("retries a read answered 5xx and a manifest refused for a blob another push is committing (distribution's race)", async () => {
    const injected: string[] = [];
    let headFailures = 1;
    let manifestFailures = 2;
    const flaky: typeof globalThis.fetch = async (input, init) => {
      const url = String(input);
      if (init?.method === 'HEAD' && headFailures > 0) {
        headFailures--;
        injected.push('HEAD 500');
        return new Response(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'unknown error' }] }), { status: 500 });
      }
      if (init?.method === 'PUT' && url.includes('/manifests/') && manifestFailures > 0) {
        manifestFailures--;
        injected.push('PUT manifest 400');
        return new Response(JSON.stringify({ errors: [{ code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown to registry' }] }), { status: 400 });
      }
      return globalThis.fetch(input, init);
    };
    const c = client(plain.base, { fetch: flaky });
    const b = blobFile(50);
    expect(await c.pushBlob(b.file, b)).toBe('uploaded');
    expect(await c.putManifest('x', ociLayerManifest({ layerDigest: b.digest, layerSize: 50 }))).toMatch(/^sha256:/);
    expect(injected).toEqual(['HEAD 500', 'PUT manifest 400', 'PUT manifest 400']);
    // A manifest naming a blob that was never pushed still fails, with a hint.
    const e = await rejection(c.putManifest('y', ociLayerManifest({ layerDigest: `sha256:${'c'.repeat(64)}`, layerSize: 1 })));
    expect(e.code).toBe('SLUGC_CACHE_REMOTE');
    expect(e.hint).toMatch(/Push the layer/);
  });

  it('lets three builds push the same blob and manifest at the same time', async () => {
    const name = repo();
    const [a, b, c] = [0, 1, 2].map(() => new OciClient({ base: plain.base, repository: name, chunkSize: 256 * 1024 })) as [OciClient, OciClient, OciClient];
    const blob = blobFile(1024 * 1024 + 7);
    const manifest = ociLayerManifest({ layerDigest: blob.digest, layerSize: blob.size, annotations: { 'dev.slugc.built-by': 'fleet' } });
    const push = async (client: OciClient) => {
      const how = await client.pushBlob(blob.file, blob);
      return { how, digest: await client.putManifest('shared', manifest) };
    };
    const results = await Promise.all([push(a), push(b), push(c)]);
    expect(new Set(results.map((r) => r.digest)).size).toBe(1);
    for (const r of results) expect(['uploaded', 'exists']).toContain(r.how);
    const got = await a.getManifest('shared');
    expect(got?.manifest).toEqual(manifest);
    const dest = path.join(work, 'concurrent.bin');
    expect(await b.getBlob(blob.digest, dest)).toBe(true);
    expect(fs.readFileSync(dest).equals(blob.bytes)).toBe(true);
    expect(await a.listTags()).toEqual(['shared']);
  });
});
