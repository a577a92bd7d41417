// Test support: a REAL OCI distribution registry (Debian's docker-registry,
// distribution 2.8; scripts/setup.sh installs it and htpasswd) on 127.0.0.1,
// for the remote layer cache's tests. Also, in front of it, a loopback proxy
// that demands Bearer tokens from a loopback token service (the real
// registry's own token auth needs certificates) and can redirect blob
// downloads to a "storage" server on another port, as S3-backed registries
// do; and a server that accepts connections and never answers.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The repository the registries' URLs name. */
export const TEST_REPOSITORY = 'slugc-cache';

/** Options of {@link startOciRegistry}. */
export interface OciRegistryOptions {
  /** Require these credentials (htpasswd auth, a bcrypt file made by `htpasswd -Bbn`). */
  htpasswd?: { user: string; password: string };
  /** `http.relativeurls`: answer with relative `Location` headers (default: absolute). */
  relativeUrls?: boolean;
}

/** A running docker-registry. */
export interface OciRegistry {
  /** `oci://127.0.0.1:<port>/slugc-cache`. */
  url: string;
  /** `http://127.0.0.1:<port>`. */
  base: string;
  /** `127.0.0.1:<port>`. */
  host: string;
  port: number;
  /** The storage root (filesystem driver). */
  dataDir: string;
  /** Where the registry keeps a blob's bytes (to damage them in a test). */
  blobDataPath(digest: string): string;
  /** Stops it (SIGTERM, then SIGKILL after 3 s); the data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** SIGKILL, at once: a crash. Resolves once it is gone. */
  kill(): Promise<void>;
  /** Stops it and removes its files. */
  close(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;
const live = new Set<ChildProcess>();
const dirs = new Set<string>();

process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts docker-registry on 127.0.0.1 with its storage in a temp dir; resolves once `GET /v2/` answers. */
export async function startOciRegistry(options: OciRegistryOptions = {}): Promise<OciRegistry> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-oci-registry-'));
  dirs.add(root);
  const dataDir = path.join(root, 'data');
  fs.mkdirSync(dataDir);
  let port = await freePort();
  const config = path.join(root, 'config.yml');
  const writeConfig = () => {
    const lines = [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${JSON.stringify(dataDir)}`,
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      `  secret: ${crypto.randomBytes(16).toString('hex')}`,
      `  relativeurls: ${options.relativeUrls ? 'true' : 'false'}`,
    ];
    if (htpasswdFile) lines.push('auth:', '  htpasswd:', '    realm: slugc-test-registry', `    path: ${JSON.stringify(htpasswdFile)}`);
    fs.writeFileSync(config, lines.join('\n') + '\n');
  };
  let htpasswdFile: string | undefined;
  if (options.htpasswd) {
    const r = spawnSync('htpasswd', ['-Bbn', options.htpasswd.user, options.htpasswd.password], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`htpasswd failed (${r.error?.message ?? r.stderr}); scripts/setup.sh installs it (apache2-utils)`);
    htpasswdFile = path.join(root, 'htpasswd');
    fs.writeFileSync(htpasswdFile, r.stdout.trim() + '\n', { mode: 0o600 });
  }
  writeConfig();
  let base = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    if (child) return;
    let stderr = '';
    // A clean environment: the registry reads REGISTRY_* variables as config overrides.
    const c = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    child = c;
    live.add(c);
    let gone = false;
    exited = new Promise<void>((resolve) => {
      c.once('exit', () => {
        gone = true;
        live.delete(c);
        if (child === c) child = undefined;
        resolve();
      });
      c.once('error', (e) => {
        stderr += `${e.message}\n`;
        gone = true;
        live.delete(c);
        if (child === c) child = undefined;
        resolve();
      });
    });
    c.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (gone) throw new Error(`docker-registry exited before it answered (scripts/setup.sh installs it):\n${stderr}`);
      try {
        const res = await fetch(`${base}/v2/`, { signal: AbortSignal.timeout(1000) });
        await res.body?.cancel();
        if ((res.status === 200 || res.status === 401) && res.headers.get('docker-distribution-api-version') === 'registry/2.0' && !gone) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`docker-registry did not answer on ${base} within ${READY_TIMEOUT_MS} ms:\n${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const stop = async (): Promise<void> => {
    const c = child;
    if (!c) return;
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };

  // Another test may take the port between freePort() and the registry's bind: pick another.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (e) {
      if (attempt >= 3 || !/address already in use/.test(String(e))) {
        fs.rmSync(root, { recursive: true, force: true });
        dirs.delete(root);
        throw e;
      }
      port = await freePort();
      base = `http://127.0.0.1:${port}`;
      writeConfig();
    }
  }
  return {
    url: `oci://127.0.0.1:${port}/${TEST_REPOSITORY}`,
    base,
    host: `127.0.0.1:${port}`,
    port,
    dataDir,
    blobDataPath(digest) {
      const hex = digest.replace(/^sha256:/, '');
      return path.join(dataDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    },
    stop,
    start,
    kill() {
      child?.kill('SIGKILL');
      return exited;
    },
    async close() {
      await stop();
      fs.rmSync(root, { recursive: true, force: true });
      dirs.delete(root);
    },
  };
}

/** Options of {@link startBearerProxy}. */
export interface BearerProxyOptions {
  /** The account the token service accepts (Basic). */
  user: string;
  password: string;
  /** An OAuth2 refresh token the token service also accepts (POST, `grant_type=refresh_token`), as docker's `identitytoken`. */
  identityToken?: string;
  /** Anonymous requests to the token service get pull access. */
  anonymousPull?: boolean;
  /** Blob downloads are redirected (307) to a storage server on another port, with a signature in the query. */
  redirectBlobs?: boolean;
}

/** A running {@link startBearerProxy}. */
export interface BearerProxy {
  /** `oci://127.0.0.1:<port>/slugc-cache`. */
  url: string;
  base: string;
  host: string;
  /** The token service's URL. */
  realm: string;
  /** Every token request: the scopes asked for and how the client authenticated. */
  tokenRequests: { method: string; scopes: string[]; auth: 'basic' | 'refresh' | 'anonymous' | 'refused' }[];
  /** Every registry request: `METHOD path`, and whether it carried a valid token. */
  requests: { method: string; path: string; authorized: boolean }[];
  /** The Authorization header of each request the storage server got (undefined: none). */
  storageAuthorizations: (string | undefined)[];
  close(): Promise<void>;
}

/**
 * A loopback proxy in front of `upstream` (a registry without auth) that
 * does what a registry with token auth does: a request without a token that
 * grants its scope gets 401 with `WWW-Authenticate: Bearer realm=...,
 * service=...,scope=...`; `GET <realm>?service=...&scope=...` with the
 * right Basic credentials gives a token. Everything else is passed through
 * unchanged (the Host header too, so the registry's Locations point here).
 */
export async function startBearerProxy(upstream: OciRegistry, options: BearerProxyOptions): Promise<BearerProxy> {
  const tokens = new Map<string, Set<string>>(); // token → "repo:action"
  const tokenRequests: BearerProxy['tokenRequests'] = [];
  const requests: BearerProxy['requests'] = [];
  const storageAuthorizations: BearerProxy['storageAuthorizations'] = [];
  const service = 'slugc-test-registry';
  let realm = '';
  let storageBase = '';

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, pathOverride?: string) => {
    const headers = { ...req.headers };
    delete headers.authorization;
    const up = http.request({ host: '127.0.0.1', port: upstream.port, method: pathOverride ? 'GET' : req.method, path: pathOverride ?? req.url, headers: pathOverride ? {} : headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    if (pathOverride) up.end();
    else req.pipe(up);
  };

  const grant = (scopes: string[], pullOnly: boolean): string => {
    const token = crypto.randomBytes(16).toString('hex');
    const allowed = new Set<string>();
    for (const s of scopes) {
      const m = /^repository:([^:]+):(.+)$/.exec(s);
      if (!m) continue;
      for (const action of m[2]!.split(',')) if (!pullOnly || action === 'pull') allowed.add(`${m[1]}:${action}`);
    }
    tokens.set(token, allowed);
    return token;
  };

  const tokenService = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => {
    const u = new URL(req.url ?? '/', realm);
    const json = (status: number, doc: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    if (req.method === 'POST') {
      const form = new URLSearchParams(body);
      const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
      const ok = options.identityToken !== undefined && form.get('grant_type') === 'refresh_token' && form.get('refresh_token') === options.identityToken && form.get('service') === service;
      tokenRequests.push({ method: 'POST', scopes, auth: ok ? 'refresh' : 'refused' });
      if (!ok) return json(401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid refresh token' }] });
      return json(200, { access_token: grant(scopes, false), expires_in: 300 });
    }
    const scopes = u.searchParams.getAll('scope');
    const auth = req.headers.authorization;
    if (u.searchParams.get('service') !== service) return json(400, { errors: [{ code: 'UNSUPPORTED', message: 'unknown service' }] });
    if (auth) {
      const expected = `Basic ${Buffer.from(`${options.user}:${options.password}`).toString('base64')}`;
      if (auth !== expected) {
        tokenRequests.push({ method: 'GET', scopes, auth: 'refused' });
        return json(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
      }
      tokenRequests.push({ method: 'GET', scopes, auth: 'basic' });
      return json(200, { token: grant(scopes, false), expires_in: 300 });
    }
    tokenRequests.push({ method: 'GET', scopes, auth: options.anonymousPull ? 'anonymous' : 'refused' });
    if (!options.anonymousPull) return json(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
    return json(200, { token: grant(scopes, true), expires_in: 300 });
  };

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', realm);
    if (u.pathname === '/token') {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => tokenService(req, res, body));
      return;
    }
    const m = /^\/v2\/(.+?)\/(blobs|manifests|tags)\//.exec(u.pathname);
    const needed: string[] = [];
    if (m) {
      needed.push(`${m[1]}:pull`);
      if (req.method !== 'GET' && req.method !== 'HEAD') needed.push(`${m[1]}:push`);
      const from = u.searchParams.get('from');
      if (from) needed.push(`${from}:pull`);
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const granted = token === undefined ? undefined : tokens.get(token);
    const authorized = granted !== undefined && needed.every((n) => granted.has(n));
    requests.push({ method: req.method ?? '', path: u.pathname, authorized });
    if (!authorized) {
      const scope = m ? `repository:${m[1]}:${req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'pull,push'}` : '';
      req.resume();
      res.writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': `Bearer realm="${realm}",service="${service}"${scope ? `,scope="${scope}"` : ''}`,
      });
      return res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
    }
    if (options.redirectBlobs && req.method === 'GET' && m?.[2] === 'blobs' && /\/blobs\/sha256:[a-f0-9]{64}$/.test(u.pathname)) {
      req.resume();
      return res.writeHead(307, { location: `${storageBase}/storage${u.pathname}?X-Amz-Signature=presigned-secret` }).end();
    }
    forward(req, res);
  });
  const storage = http.createServer((req, res) => {
    storageAuthorizations.push(req.headers.authorization);
    const u = new URL(req.url ?? '/', storageBase);
    if (!u.pathname.startsWith('/storage/v2/')) return res.writeHead(404).end();
    forward(req, res, u.pathname.slice('/storage'.length));
  });
  const listen = (s: http.Server) => new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as net.AddressInfo).port)));
  const port = await listen(server);
  const storagePort = await listen(storage);
  const base = `http://127.0.0.1:${port}`;
  realm = `${base}/token`;
  storageBase = `http://127.0.0.1:${storagePort}`;
  const close = async () => {
    for (const s of [server, storage]) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  };
  return { url: `oci://127.0.0.1:${port}/${TEST_REPOSITORY}`, base, host: `127.0.0.1:${port}`, realm, tokenRequests, requests, storageAuthorizations, close };
}

/** A server on 127.0.0.1 that accepts connections and never answers. */
export async function startSilentServer(): Promise<{ url: string; base: string; host: string; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let count = 0;
  const server = net.createServer((s) => {
    count++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `oci://127.0.0.1:${port}/${TEST_REPOSITORY}`,
    base: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    connections: () => count,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
