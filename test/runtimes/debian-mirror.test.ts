import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { createRuntimeInstaller, runtimeEnv } from '../../src/runtimes/install.js';
import { createInventorySource } from '../../src/runtimes/sources/inventory.js';
import { buildMirror, DEFAULT_DEBIAN_ORIGIN } from '../../src/testing/build-mirror.js';
import { serveMirror, type MirrorServer } from '../../src/testing/mirror-server.js';
import { hostStack } from '../../src/stack.js';
import { repoRoot, sharedCacheDir } from '../support/cli.js';
import { sandboxPath, tempDir } from 'slugc/testing';

// The mirror builder turns the stack's Debian Python into a relocatable
// tarball with an inventory; the inventory source then installs it over
// loopback HTTP, and it runs with no system Python on PATH.
let server: MirrorServer;
const mirrorDir = path.join(repoRoot, '.slugc-cache', 'test-mirror-debian');
beforeAll(async () => {
  const mirror = await buildMirror({ out: mirrorDir, cacheRoot: sharedCacheDir(), node: ['22'], debian: ['python'] });
  expect(mirror.inventories.python).toMatch(/^file:\/\//);
  server = await serveMirror(mirrorDir, { maxLifetimeMs: 5 * 60_000 });
}, 300_000);
afterAll(() => server?.close());

describe('a Debian runtime published on a mirror', () => {
  it('has an inventory with a sha256 and the env the runtime needs', () => {
    const inv = JSON.parse(fs.readFileSync(path.join(mirrorDir, 'inventory', 'python.json'), 'utf8'));
    expect(inv.artifacts[0]).toMatchObject({
      version: expect.stringMatching(/^3\.11\./),
      stacks: [hostStack()],
      url: expect.stringMatching(new RegExp(`^${DEFAULT_DEBIAN_ORIGIN.replace(/\./g, '\\.')}/`)),
      checksum: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      stripComponents: 1,
    });
  });

  it('installs through the inventory source over loopback HTTP and runs with the system Python out of PATH', async () => {
    const ctx = { cacheRoot: tempDir('slugc-cache-'), fetch: globalThis.fetch, log: createLogger(), stack: hostStack(), os: 'linux', arch: process.arch, offline: false, tmpDir: tempDir(), mirror: server.url };
    const r = await createRuntimeInstaller(ctx).install({ name: 'python', request: '3.11', defaultRequest: '3.11', sources: [createInventorySource(`${server.url}/inventory/python.json`)] });
    expect(server.requests.some((p) => /python-3\.11\.\d+-.*\.tar\.gz$/.test(p))).toBe(true);
    // Moved away from where it was unpacked, as in a slug.
    const moved = path.join(tempDir(), 'somewhere', 'python');
    fs.mkdirSync(path.dirname(moved), { recursive: true });
    fs.cpSync(r.dir, moved, { recursive: true, verbatimSymlinks: true });
    const env = runtimeEnv(r.env, moved);
    const PATH = [...r.binDirs.map((b) => path.join(moved, b)), sandboxPath()].join(':');
    const out = spawnSync('python3', ['-c', 'import sys, ssl, sqlite3; print(sys.version_info[:2], sys.prefix)'], { env: { ...env, PATH, HOME: moved }, encoding: 'utf8' });
    expect(out.stderr).toBe('');
    expect(out.stdout).toMatch(new RegExp(`^\\(3, 11\\) ${moved.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });
});
