// Test support (not part of the buildpack): an npm registry on 127.0.0.1 for
// running the REAL package managers (npm, pnpm, yarn 1, yarn berry) in tests.
// Tiny packages defined in code are packed on the fly as real npm tarballs;
// every other request is proxied unchanged to the real registry, so the
// package managers themselves (pnpm, yarn, @yarnpkg/cli-dist, npm) resolve
// through the same URL. Tarballs are byte-for-byte the same on every start
// (fixed mtimes, no gzip timestamp), so lockfiles made against one server
// install against the next.
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import zlib from 'node:zlib';
import semver from 'semver';
import { afterAll, beforeAll } from 'vitest';

/** A file of a test package: text (mode 0644; 0755 for `bin` targets) or text with a mode. */
export type NpmTestFile = string | { content: string; mode: number };

/** A package served by {@link startNpmRegistry}, packed on the fly. */
export interface NpmTestPackage {
  /** `name` or `@scope/name`. */
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  /** package.json `bin`: a path, or command name → path. */
  bin?: string | Record<string, string>;
  /** package.json `scripts` (`postinstall` etc. also set `hasInstallScript`). */
  scripts?: Record<string, string>;
  /** Other package.json fields (`engines`, `main`, `type`...). */
  extra?: Record<string, unknown>;
  /** Files besides package.json (which is generated unless given here), relative to the package root. */
  files: Record<string, NpmTestFile>;
}

/** Options of {@link startNpmRegistry}. */
export interface NpmRegistryOptions {
  /** More packages (a name@version already among the defaults replaces it). */
  packages?: NpmTestPackage[];
  /** Serve {@link DEFAULT_NPM_PACKAGES} too (default true). */
  defaults?: boolean;
  /** Where everything else is proxied (default https://registry.npmjs.org); `false`: answer 404 instead (fully offline). */
  upstream?: string | false;
  /** Port on 127.0.0.1 (default: an ephemeral one). Give the previous server's port to reuse lockfiles that record URLs (yarn 1, npm). */
  port?: number;
  /** The server stops itself after this long (default 10 minutes). */
  lifetimeMs?: number;
}

/** A running registry. */
export interface NpmRegistry {
  /** `http://127.0.0.1:<port>/` (with the trailing slash). */
  url: string;
  port: number;
  /** `METHOD path` of every request, in order (proxied ones too). */
  requests: string[];
  /** The paths that were proxied upstream (or refused with 404 when offline). */
  proxied: string[];
  /** The tarball URL of a served package. */
  tarballUrl(name: string, version: string): string;
  /** Stops listening and closes every socket, client and upstream. */
  close(): Promise<void>;
}

/** Modified time of every served package and tarball entry: npm's own fixed date (1985-10-26T08:15:00Z). */
const FIXED_DATE = new Date('1985-10-26T08:15:00.000Z');
const PUBLISHED = '2020-01-01T00:00:00.000Z';

const js = (s: string) => `'use strict';\n${s}\n`;
const nodeBin = (s: string) => `#!/usr/bin/env node\n'use strict';\n${s}\n`;

/**
 * The packages served by default:
 * - `left@1.0.0`, `left@1.1.0`: no deps; `require('left')` is `'left@<version>'`.
 * - `right@1.0.0`: depends on `left@^1.0.0`; `require('right')` is `'right+left@<v>'`.
 * - `devtool@1.0.0`: a devDependency-style tool; bin `devtool` prints `devtool ran <args>`.
 * - `hello-bin@1.0.0`: bin `hello` prints `hello from hello-bin`.
 * - `with-postinstall@1.0.0`: `postinstall` writes `postinstall-ran` (text `ok`) into its own
 *   package dir and, when set, `$INIT_CWD/with-postinstall-ran`.
 * - `@scope/util@1.0.0`: `require('@scope/util')` is `'@scope/util@1.0.0'`.
 */
export const DEFAULT_NPM_PACKAGES: readonly NpmTestPackage[] = [
  { name: 'left', version: '1.0.0', files: { 'index.js': js(`module.exports = 'left@1.0.0';`) } },
  { name: 'left', version: '1.1.0', files: { 'index.js': js(`module.exports = 'left@1.1.0';`) } },
  { name: 'right', version: '1.0.0', dependencies: { left: '^1.0.0' }, files: { 'index.js': js(`module.exports = 'right+' + require('left');`) } },
  {
    name: 'devtool',
    version: '1.0.0',
    bin: { devtool: 'bin/devtool.js' },
    files: { 'index.js': js(`module.exports = 'devtool';`), 'bin/devtool.js': nodeBin(`console.log(['devtool ran', ...process.argv.slice(2)].join(' '));`) },
  },
  {
    name: 'hello-bin',
    version: '1.0.0',
    bin: { hello: 'bin/hello.js' },
    files: { 'bin/hello.js': nodeBin(`console.log('hello from hello-bin');`) },
  },
  {
    name: 'with-postinstall',
    version: '1.0.0',
    scripts: { postinstall: 'node postinstall.js' },
    files: {
      'index.js': js(`module.exports = 'with-postinstall';`),
      'postinstall.js': js(
        [
          `const fs = require('fs');`,
          `const path = require('path');`,
          `fs.writeFileSync(path.join(__dirname, 'postinstall-ran'), 'ok');`,
          `if (process.env.INIT_CWD) { try { fs.writeFileSync(path.join(process.env.INIT_CWD, 'with-postinstall-ran'), 'ok'); } catch {} }`,
          `console.log('with-postinstall: postinstall ran');`,
        ].join('\n'),
      ),
    },
  },
  { name: '@scope/util', version: '1.0.0', files: { 'index.js': js(`module.exports = '@scope/util@1.0.0';`) } },
];

// --- packing ---------------------------------------------------------------

function tarHeader(name: string, size: number, mode: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => void Buffer.from(s).copy(h, off, 0, len);
  const octal = (n: number, off: number, len: number) => put(n.toString(8).padStart(len - 1, '0') + '\0', off, len);
  // ustar: names over 100 bytes go to the 155-byte prefix field, split at a slash.
  let prefix = '';
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155);
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new Error(`test package path too long for ustar: ${name}`);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
  }
  put(base, 0, 100);
  octal(mode, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(Math.floor(FIXED_DATE.getTime() / 1000), 136, 12);
  put('0', 156, 1);
  put('ustar\0' + '00', 257, 8);
  put(prefix, 345, 155);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

/** The package.json written into the tarball. */
export function packageJsonOf(pkg: NpmTestPackage): Record<string, unknown> {
  const out: Record<string, unknown> = { name: pkg.name, version: pkg.version };
  if (pkg.files['index.js'] !== undefined) out.main = 'index.js';
  for (const key of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'bin', 'scripts'] as const) {
    if (pkg[key] !== undefined) out[key] = pkg[key];
  }
  out.license = 'MIT';
  return { ...out, ...pkg.extra };
}

function binTargets(pkg: NpmTestPackage): Set<string> {
  const bins = typeof pkg.bin === 'string' ? [pkg.bin] : Object.values(pkg.bin ?? {});
  return new Set(bins.map((b) => b.replace(/^\.\//, '')));
}

/** A real npm tarball (`package/...` entries, gzip) of `pkg`, the same bytes every time. */
export function packNpmTarball(pkg: NpmTestPackage): Buffer {
  const files: [string, NpmTestFile][] = Object.entries(pkg.files);
  if (pkg.files['package.json'] === undefined) files.unshift(['package.json', JSON.stringify(packageJsonOf(pkg), null, 2) + '\n']);
  const bins = binTargets(pkg);
  const parts: Buffer[] = [];
  for (const [rel, f] of files.sort(([a], [b]) => (a === 'package.json' ? -1 : b === 'package.json' ? 1 : a < b ? -1 : a > b ? 1 : 0))) {
    const data = Buffer.from(typeof f === 'string' ? f : f.content);
    const mode = typeof f === 'string' ? (bins.has(rel) ? 0o755 : 0o644) : f.mode;
    parts.push(tarHeader(`package/${rel}`, data.length, mode), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return zlib.gzipSync(Buffer.concat(parts), { level: 9 });
}

// --- the server -------------------------------------------------------------

interface Served {
  pkg: NpmTestPackage;
  tarball: Buffer;
  tarballPath: string;
  integrity: string;
  shasum: string;
}

const ABBREVIATED = 'application/vnd.npm.install-v1+json';
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'];

function tarballPath(name: string, version: string): string {
  return `/${name}/-/${name.replace(/^@[^/]+\//, '')}-${version}.tgz`;
}

function packuments(byName: Map<string, Served[]>, base: string) {
  const full = new Map<string, string>();
  const abbreviated = new Map<string, string>();
  const versionDocs = new Map<string, Record<string, unknown>>();
  for (const [name, list] of byName) {
    const versions: Record<string, unknown> = {};
    const short: Record<string, unknown> = {};
    const time: Record<string, string> = { created: PUBLISHED, modified: PUBLISHED };
    for (const s of list) {
      const dist = { tarball: base + s.tarballPath.slice(1), shasum: s.shasum, integrity: s.integrity };
      const manifest = packageJsonOf(s.pkg);
      const doc = { ...manifest, _id: `${name}@${s.pkg.version}`, dist };
      versions[s.pkg.version] = doc;
      versionDocs.set(`${name}@${s.pkg.version}`, doc);
      const hasInstallScript = INSTALL_SCRIPTS.some((k) => s.pkg.scripts?.[k] !== undefined);
      const pick: Record<string, unknown> = { name, version: s.pkg.version };
      for (const k of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'bin', 'engines', 'os', 'cpu'] as const) {
        if (manifest[k] !== undefined) pick[k] = manifest[k];
      }
      short[s.pkg.version] = { ...pick, ...(hasInstallScript ? { hasInstallScript: true } : {}), dist };
      time[s.pkg.version] = PUBLISHED;
    }
    const stable = list.map((s) => s.pkg.version).filter((v) => !semver.prerelease(v));
    const latest = semver.rsort(stable.length ? stable : list.map((s) => s.pkg.version))[0]!;
    const distTags = { latest };
    full.set(name, JSON.stringify({ _id: name, name, 'dist-tags': distTags, versions, time }));
    abbreviated.set(name, JSON.stringify({ name, 'dist-tags': distTags, modified: PUBLISHED, versions: short }));
    versionDocs.set(`${name}@latest`, versions[latest] as Record<string, unknown>);
  }
  return { full, abbreviated, versionDocs };
}

/** The package name (and a version or tag after it, if any) a registry path asks for, or null. */
function parsePackagePath(pathname: string): { name: string; rest?: string } | null {
  let p: string;
  try {
    p = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  const m = /^\/(@[^/@]+\/[^/@]+|[^/@][^/]*)(?:\/([^/]+))?\/?$/.exec(p);
  if (!m) return null;
  return m[2] === undefined ? { name: m[1]! } : { name: m[1]!, rest: m[2] };
}

/**
 * Starts the registry on 127.0.0.1: the given (and default) packages locally,
 * everything else proxied to the real registry. Stops itself after
 * `lifetimeMs` (10 minutes) at the latest.
 */
export async function startNpmRegistry(options: NpmRegistryOptions = {}): Promise<NpmRegistry> {
  const requests: string[] = [];
  const proxied: string[] = [];
  const upstream = options.upstream === false ? null : new URL(options.upstream ?? 'https://registry.npmjs.org/');
  const all = new Map<string, NpmTestPackage>();
  for (const p of [...(options.defaults === false ? [] : DEFAULT_NPM_PACKAGES), ...(options.packages ?? [])]) all.set(`${p.name}@${p.version}`, p);

  const byName = new Map<string, Served[]>();
  const tarballs = new Map<string, Served>();
  for (const pkg of all.values()) {
    if (!semver.valid(pkg.version)) throw new Error(`test package ${pkg.name}: invalid version ${pkg.version}`);
    const tarball = packNpmTarball(pkg);
    const s: Served = {
      pkg,
      tarball,
      tarballPath: tarballPath(pkg.name, pkg.version),
      integrity: `sha512-${crypto.createHash('sha512').update(tarball).digest('base64')}`,
      shasum: crypto.createHash('sha1').update(tarball).digest('hex'),
    };
    tarballs.set(s.tarballPath, s);
    byName.set(pkg.name, [...(byName.get(pkg.name) ?? []), s]);
  }

  const sockets = new Set<net.Socket>();
  const upstreamRequests = new Set<http.ClientRequest>();
  const agent = upstream ? new (upstream.protocol === 'https:' ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: 8 }) : null;
  let docs: ReturnType<typeof packuments> | null = null;

  const send = (req: http.IncomingMessage, res: http.ServerResponse, status: number, type: string, body: Buffer | string) => {
    const b = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'content-type': type, 'content-length': b.length, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : b);
  };

  const proxy = (req: http.IncomingMessage, res: http.ServerResponse, pathAndQuery: string) => {
    proxied.push(pathAndQuery);
    if (!upstream || !agent) return send(req, res, 404, 'application/json', JSON.stringify({ error: 'Not found (offline test registry)' }));
    const target = new URL(upstream.href.replace(/\/$/, '') + pathAndQuery);
    const headers: Record<string, string> = {};
    for (const h of ['accept', 'accept-encoding', 'user-agent', 'if-none-match', 'if-modified-since', 'npm-command', 'npm-session']) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const lib = target.protocol === 'https:' ? https : http;
    const up = lib.request(target, { method: req.method, headers, agent, timeout: 120_000 }, (ur) => {
      const h: http.OutgoingHttpHeaders = { ...ur.headers };
      for (const hop of ['connection', 'keep-alive', 'transfer-encoding', 'set-cookie']) delete h[hop];
      res.writeHead(ur.statusCode ?? 502, h);
      ur.pipe(res);
      ur.on('error', () => res.destroy());
    });
    upstreamRequests.add(up);
    up.on('close', () => upstreamRequests.delete(up));
    up.on('timeout', () => up.destroy(new Error('upstream timed out')));
    up.on('error', (e) => {
      if (!res.headersSent) send(req, res, 502, 'text/plain', `upstream ${target.href}: ${e.message}\n`);
      else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) up.destroy(); // the client went away mid-answer
    });
    up.end();
  };

  const server = http.createServer((req, res) => {
    const raw = req.url ?? '/';
    requests.push(`${req.method} ${raw}`);
    const url = new URL(raw, 'http://x');
    if (req.method === 'POST' && url.pathname.startsWith('/-/npm/v1/security/')) {
      // npm's audit: nothing known about these packages, and nothing sent upstream.
      req.resume();
      return send(req, res, 200, 'application/json', '{}');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      req.resume();
      return send(req, res, 405, 'text/plain', 'read-only test registry\n');
    }
    const tb = tarballs.get(url.pathname) ?? tarballs.get(decodeURIComponentSafe(url.pathname));
    if (tb) return send(req, res, 200, 'application/octet-stream', tb.tarball);
    const asked = parsePackagePath(url.pathname);
    if (asked && byName.has(asked.name)) {
      docs ??= packuments(byName, registry.url);
      if (asked.rest === undefined) {
        const short = (req.headers.accept ?? '').includes(ABBREVIATED);
        return send(req, res, 200, short ? ABBREVIATED : 'application/json', short ? docs.abbreviated.get(asked.name)! : docs.full.get(asked.name)!);
      }
      const doc = docs.versionDocs.get(`${asked.name}@${asked.rest}`);
      if (doc) return send(req, res, 200, 'application/json', JSON.stringify(doc));
      return send(req, res, 404, 'application/json', JSON.stringify({ error: 'version not found' }));
    }
    proxy(req, res, url.pathname + url.search);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      clearTimeout(timer);
      for (const r of upstreamRequests) r.destroy();
      agent?.destroy();
      server.close(() => resolve());
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
    }));
  const timer = setTimeout(() => void close(), options.lifetimeMs ?? 10 * 60_000);
  timer.unref();

  const registry: NpmRegistry = {
    url: `http://127.0.0.1:${port}/`,
    port,
    requests,
    proxied,
    tarballUrl: (name, version) => `http://127.0.0.1:${port}${tarballPath(name, version)}`,
    close,
  };
  return registry;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * One loopback registry for a test file: started before its tests, closed
 * after them; the returned function gives it to the tests.
 */
export function useNpmRegistry(options: NpmRegistryOptions = {}): () => NpmRegistry {
  let registry: NpmRegistry | undefined;
  beforeAll(async () => {
    registry = await startNpmRegistry(options);
  });
  afterAll(async () => {
    await registry?.close();
  });
  return () => {
    if (!registry) throw new Error('the loopback npm registry is not started: call useNpmRegistry() at the top of the test file');
    return registry;
  };
}
