import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SlugcError, VersionUnsatisfiableError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { createRuntimeInstaller, type RuntimeRequest } from '../../src/runtimes/install.js';
import { createInventorySource } from '../../src/runtimes/sources/inventory.js';
import type { SourceContext } from '../../src/runtimes/types.js';
import { serveMirror, type MirrorFault, type MirrorServer } from '../../src/testing/mirror-server.js';
import { tempDir } from 'slugc/testing';

const ORIGIN = 'https://runtimes.test';

/** A mirror folder with two tiny "hello" runtimes and an inventory listing them under a fictitious origin. */
function makeMirror(opts: { badChecksum?: string } = {}) {
  const dir = tempDir('slugc-mirror-');
  const artifacts = ['1.0.0', '1.1.0'].map((v) => {
    const src = tempDir();
    fs.mkdirSync(path.join(src, `hello-${v}`, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(src, `hello-${v}`, 'bin', 'hello'), `#!/bin/sh\necho "hello ${v}"\n`, { mode: 0o755 });
    const rel = `runtimes.test/hello/hello-${v}.tar.gz`;
    fs.mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true });
    spawnSync('tar', ['-czf', path.join(dir, rel), '-C', src, `hello-${v}`]);
    const sha = crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, rel))).digest('hex');
    return { version: v, os: 'linux', arch: process.arch, url: `${ORIGIN}/hello/hello-${v}.tar.gz`, checksum: v === opts.badChecksum ? `sha256:${'ab'.repeat(32)}` : `sha256:${sha}`, stripComponents: 1, env: { HELLO_HOME: '${RUNTIME_DIR}' } };
  });
  fs.mkdirSync(path.join(dir, 'runtimes.test', 'inventory'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'runtimes.test', 'inventory', 'hello.json'), JSON.stringify({ schema: 1, name: 'hello', aliases: { stable: '1.0' }, artifacts }));
  return dir;
}

const servers: MirrorServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});
async function serve(dir: string, faults: Record<string, MirrorFault> = {}) {
  const s = await serveMirror(dir, { faults, maxLifetimeMs: 60_000 });
  servers.push(s);
  return s;
}

function installer(extra: Partial<SourceContext> = {}) {
  const log = createLogger();
  const ctx: SourceContext = { cacheRoot: tempDir('slugc-cache-'), fetch: globalThis.fetch, log, stack: 'debian-12', os: 'linux', arch: process.arch, offline: false, tmpDir: tempDir(), ...extra };
  return { runtimes: createRuntimeInstaller(ctx), ctx, log };
}
const request = (extra: Partial<RuntimeRequest> = {}): RuntimeRequest => ({
  name: 'hello',
  defaultRequest: 'stable',
  sources: [createInventorySource(`${ORIGIN}/inventory/hello.json`)],
  ...extra,
});
/** Nothing half-written: the verified store holds only complete, verified files, and no runtime dir is left incomplete. */
function expectNoLeftovers(cacheRoot: string) {
  const store = path.join(cacheRoot, 'downloads', 'sha256');
  expect(fs.existsSync(store) ? fs.readdirSync(store) : []).toEqual([]);
  const runtimes = path.join(cacheRoot, 'runtimes', 'hello');
  expect(fs.existsSync(runtimes) ? fs.readdirSync(runtimes) : []).toEqual([]);
}

describe('installing a runtime through a mirror', () => {
  it('downloads over real HTTP from the loopback mirror, verifies, extracts, and runs', async () => {
    const server = await serve(makeMirror());
    const { runtimes, ctx } = installer({ mirror: server.url });
    const r = await runtimes.install(request({ request: '1.x', requestFrom: 'test' }));
    expect(r.artifact.version).toBe('1.1.0');
    expect(spawnSync(path.join(r.dir, 'bin', 'hello'), { encoding: 'utf8' }).stdout).toBe('hello 1.1.0\n');
    expect(r.env).toEqual({ HELLO_HOME: '${RUNTIME_DIR}' });
    expect(r.trace.join('\n')).toMatch(/newest of 2 matching: 1\.1\.0/);
    expect(server.requests).toEqual(['/runtimes.test/inventory/hello.json', '/runtimes.test/hello/hello-1.1.0.tar.gz']);
    const again = await createRuntimeInstaller(ctx).install(request({ request: '1.x' }));
    expect(again.cached).toBe(true);
    expect(server.requests.filter((p) => p.endsWith('.tar.gz'))).toHaveLength(1);
  });

  it('reads a file:// mirror folder the same way, with the default request and an alias', async () => {
    const dir = makeMirror();
    const { runtimes } = installer({ mirror: pathToFileURL(dir).href });
    const r = await runtimes.install(request());
    expect(r.artifact.version).toBe('1.0.0');
    expect(r.trace[0]).toMatch(/no version requested: using the default, "stable"/);
  });

  it('works offline from a file:// mirror, and from the cache once an artifact was fetched', async () => {
    const dir = makeMirror();
    const noNetwork = (() => Promise.reject(new Error('network used offline'))) as typeof fetch;
    const first = installer({ mirror: pathToFileURL(dir).href, offline: true, fetch: noNetwork });
    expect((await first.runtimes.install(request({ request: '1.0.0' }))).artifact.version).toBe('1.0.0');
  });

  describe('failures, each refused with its code and nothing half-written left', () => {
    it('a checksum mismatch shows both checksums', async () => {
      const server = await serve(makeMirror({ badChecksum: '1.1.0' }));
      const { runtimes, ctx } = installer({ mirror: server.url });
      const err = (await runtimes.install(request({ request: '1.1.0' })).catch((e: unknown) => e)) as SlugcError;
      expect(err.code).toBe('SLUGC_CHECKSUM_MISMATCH');
      expect(err.message).toMatch(/expected sha256:(ab){32}\n\s+actual\s+sha256:[0-9a-f]{64}/);
      expectNoLeftovers(ctx.cacheRoot);
    });

    it('a truncated download is retried, then fails', async () => {
      const server = await serve(makeMirror(), { '/runtimes.test/hello/hello-1.1.0.tar.gz': { truncate: true } });
      const { runtimes, ctx, log } = installer({ mirror: server.url });
      await expect(runtimes.install(request({ request: '1.1.0' }))).rejects.toMatchObject({ code: 'SLUGC_DOWNLOAD_FAILED' });
      expect(server.requests.filter((p) => p.endsWith('1.1.0.tar.gz'))).toHaveLength(3);
      expect(log.text()).toMatch(/retrying \(2\/3\)/);
      expectNoLeftovers(ctx.cacheRoot);
    });

    it('an HTTP 404 is not retried', async () => {
      const server = await serve(makeMirror(), { '/runtimes.test/hello/hello-1.1.0.tar.gz': { status: 404 } });
      const { runtimes, ctx } = installer({ mirror: server.url });
      await expect(runtimes.install(request({ request: '1.1.0' }))).rejects.toMatchObject({
        code: 'SLUGC_DOWNLOAD_FAILED',
        message: expect.stringMatching(/HTTP 404/),
        hint: expect.stringMatching(/does not exist/),
      });
      expect(server.requests.filter((p) => p.endsWith('1.1.0.tar.gz'))).toHaveLength(1);
      expectNoLeftovers(ctx.cacheRoot);
    });

    it('an HTTP 500 is retried with backoff, and a later success is used', async () => {
      const server = await serve(makeMirror(), { '/runtimes.test/hello/hello-1.1.0.tar.gz': { status: 500, times: 1 } });
      const { runtimes } = installer({ mirror: server.url });
      expect((await runtimes.install(request({ request: '1.1.0' }))).artifact.version).toBe('1.1.0');
      expect(server.requests.filter((p) => p.endsWith('1.1.0.tar.gz'))).toHaveLength(2);
    });

    it('an HTTP 500 that persists fails after the last attempt', async () => {
      const server = await serve(makeMirror(), { '/runtimes.test/hello/hello-1.1.0.tar.gz': { status: 500 } });
      const { runtimes, ctx } = installer({ mirror: server.url });
      await expect(runtimes.install(request({ request: '1.1.0' }))).rejects.toMatchObject({ code: 'SLUGC_DOWNLOAD_FAILED', message: expect.stringMatching(/HTTP 500/) });
      expectNoLeftovers(ctx.cacheRoot);
    });

    it('an unreachable mirror says which URL it could not reach', async () => {
      const server = await serve(makeMirror());
      await server.close();
      const { runtimes } = installer({ mirror: server.url });
      await expect(runtimes.install(request())).rejects.toMatchObject({ code: 'SLUGC_DOWNLOAD_FAILED', message: expect.stringContaining(server.url) });
    });

    it('offline with a cold cache fails at once, naming the artifact, without touching the network', async () => {
      const dir = makeMirror();
      // The inventory is local (file://), the artifact is not, and there is no mirror.
      const inventory = pathToFileURL(path.join(dir, 'runtimes.test', 'inventory', 'hello.json')).href;
      let fetched = 0;
      const counting = (() => {
        fetched++;
        return Promise.reject(new Error('no'));
      }) as typeof fetch;
      const { runtimes, ctx } = installer({ offline: true, fetch: counting });
      const started = Date.now();
      const err = (await runtimes.install(request({ request: '1.1.0', sources: [createInventorySource(inventory)] })).catch((e: unknown) => e)) as SlugcError;
      expect(err.code).toBe('SLUGC_OFFLINE');
      expect(err.message).toMatch(/hello 1\.1\.0/);
      expect(err.hint).toMatch(/SLUGC_MIRROR/);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(fetched).toBe(0);
      expectNoLeftovers(ctx.cacheRoot);
    });

    it('an unsatisfiable version lists what there is', async () => {
      const { runtimes } = installer({ mirror: pathToFileURL(makeMirror()).href });
      const err = await runtimes.install(request({ request: '^2.0.0' })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VersionUnsatisfiableError);
      expect(err).toMatchObject({ available: ['1.1.0', '1.0.0'] });
    });

    it('an invalid inventory lists every problem', async () => {
      const dir = makeMirror();
      const file = path.join(dir, 'runtimes.test', 'inventory', 'hello.json');
      fs.writeFileSync(file, JSON.stringify({ schema: 1, name: 'hello', artifacts: [{ version: '1.0.0', url: 'ftp://x', checksum: 'md5:abc' }] }));
      const { runtimes } = installer({ mirror: pathToFileURL(dir).href });
      await expect(runtimes.install(request())).rejects.toMatchObject({
        code: 'SLUGC_INVENTORY_INVALID',
        details: { problems: [expect.stringMatching(/^artifacts\.0\.url:/), expect.stringMatching(/^artifacts\.0\.checksum:/)] },
      });
    });
  });
});
