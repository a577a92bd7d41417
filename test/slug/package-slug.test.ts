import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { packageSlug } from '../../src/package.js';

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
});
function tempDir(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `slugc-pkgslug-${label}-`));
  temps.push(dir);
  return dir;
}

describe('packageSlug with a segment cache', () => {
  it('passes the cache to the packer and says in the log how much was reused; the slug is the same', async () => {
    const app = tempDir('app');
    fs.mkdirSync(path.join(app, 'node_modules/big'), { recursive: true });
    fs.writeFileSync(path.join(app, 'node_modules/big/index.js'), crypto.randomBytes(600_000).toString('hex')); // 1.2 MB
    fs.writeFileSync(path.join(app, 'index.js'), 'console.log(1);\n');
    const segmentCache = path.join(tempDir('cache'), 'segments');
    const metadata = { process_types: { web: 'node index.js' }, stack: { name: 'debian-12' }, buildpack_provided_description: null, commit: null, commit_description: null, buildpacks: [], runtimes: [], config_vars: {}, addons: [], timings: {} };
    const outputs = [];
    for (const cache of [undefined, segmentCache, segmentCache]) {
      const log = createLogger();
      const out = await packageSlug({ appDir: app, output: path.join(tempDir('out'), 'slug.tgz'), metadata, log, ...(cache ? { segmentCache: cache } : {}) });
      outputs.push({ checksum: out.metadata.checksum, text: log.text() });
    }
    expect(new Set(outputs.map((o) => o.checksum)).size).toBe(1);
    expect(outputs[0]?.text).toMatch(/Compressed 5 entries \(1\.1M\) to [\d.]+[KM] in [\d.]+s\n/);
    expect(outputs[1]?.text).not.toContain('reused');
    expect(outputs[2]?.text).toMatch(/Compressed 5 entries \(1\.1M\) to [\d.]+[KM] in [\d.]+s \(1\.1M reused from 1 cached segment\)\n/);
  });
});
