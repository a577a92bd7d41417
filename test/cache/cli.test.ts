import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { cleanup, tempDir, testApp } from 'slugc/testing';

afterEach(cleanup);

function capture() {
  let text = '';
  const stream = new Writable({
    write(c: Buffer, _e, cb) {
      text += c.toString();
      cb();
    },
  });
  return { stream, text: () => text };
}
async function cli(args: string[]) {
  const out = capture();
  const err = capture();
  const code = await main(args, { stdout: out.stream, stderr: err.stream, cwd: process.cwd(), env: { PATH: process.env.PATH } });
  return { code, stdout: out.text(), stderr: err.text() };
}

/** A cache dir with one layer for each of two apps, built with a tiny buildpack. */
async function filledCache() {
  const cache = tempDir('slugc-cache-');
  const dir = tempDir();
  const bp = path.join(dir, 'bp.mjs');
  fs.writeFileSync(
    bp,
    `import fs from 'node:fs';
export default { id: 'test/tools', name: 'Tools',
  async detect() { return { pass: true, reason: 'always' }; },
  async compile(ctx) { const l = ctx.cache.layer('tools', { version: '1.2.3', stack: ctx.stack }); if (!l.hit) fs.writeFileSync(l.dir + '/tool', 'x'.repeat(5000)); } };`,
  );
  for (const app of ['alpha', 'beta']) {
    const r = await cli(['build', testApp({ 'a.txt': app }).dir, '-b', bp, '--cache-dir', cache, '--app', app, '-o', path.join(dir, `${app}.tgz`)]);
    expect(r.code).toBe(0);
  }
  return cache;
}

describe('slugc cache', () => {
  it('ls lists every layer with its key, state and size', async () => {
    const cache = await filledCache();
    const r = await cli(['cache', 'ls', '--cache-dir', cache, '--json']);
    expect(r.code).toBe(0);
    const listing = JSON.parse(r.stdout);
    expect(listing.layers.map((l: { app: string; layer: string; state: string; size: number; key: object }) => [l.app, l.layer, l.state, l.size, l.key])).toEqual([
      ['alpha', 'tools', 'ok', 5000, { version: '1.2.3', stack: expect.any(String) }],
      ['beta', 'tools', 'ok', 5000, { version: '1.2.3', stack: expect.any(String) }],
    ]);
    const text = await cli(['cache', 'ls', '--cache-dir', cache]);
    expect(text.stdout).toMatch(/alpha {2}test\/tools\/tools {2}ok {2}4\.9K .* version=1\.2\.3/);
  });

  it('prune evicts least recently used layers down to --max-size', async () => {
    const cache = await filledCache();
    const r = await cli(['cache', 'prune', '--cache-dir', cache, '--max-size', '6000', '--json']);
    // What is left: beta's layer, and both apps' segment caches (the packer's hints of their small slugs), which count too.
    const segmentBytes = ['alpha', 'beta'].flatMap((a) => fs.readdirSync(path.join(cache, 'apps', a, 'segments')).map((f) => fs.statSync(path.join(cache, 'apps', a, 'segments', f)).size)).reduce((x, y) => x + y, 0);
    expect(segmentBytes).toBeGreaterThan(0);
    expect(JSON.parse(r.stdout)).toEqual({ removed: [expect.objectContaining({ app: 'alpha', layer: 'tools', size: 5000 })], freed: 5000, remaining: 5000 + segmentBytes });
    expect((await cli(['cache', 'prune', '--cache-dir', cache, '--max-size', 'lots'])).code).toBe(2);
  });

  it('clear removes one app, then everything', async () => {
    const cache = await filledCache();
    await cli(['cache', 'clear', '--cache-dir', cache, '--app', 'alpha']);
    expect(JSON.parse((await cli(['cache', 'ls', '--cache-dir', cache, '--json'])).stdout).layers.map((l: { app: string }) => l.app)).toEqual(['beta']);
    await cli(['cache', 'clear', '--cache-dir', cache]);
    expect(JSON.parse((await cli(['cache', 'ls', '--cache-dir', cache, '--json'])).stdout).layers).toEqual([]);
  });
});
