import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { trackCloser } from './cleanup.js';

/** A fault to inject for one path, to test how downloads fail. */
export interface MirrorFault {
  /** Answer with this HTTP status and no body. */
  status?: number;
  /** Send the headers (with the full content-length) and half the body, then cut the connection. */
  truncate?: boolean;
  /** How many requests the fault applies to (default: all). */
  times?: number;
}

/** Options of {@link serveMirror}. */
export interface MirrorServerOptions {
  /** Faults by URL path (e.g. `/registry.npmjs.org/npm`). */
  faults?: Record<string, MirrorFault>;
  /** The server stops itself after this long, whatever happens (default 10 minutes). */
  maxLifetimeMs?: number;
}

/** A running mirror server. */
export interface MirrorServer {
  /** Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash). */
  url: string;
  /** Paths requested so far, in order. */
  requests: string[];
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Serves a mirror folder over HTTP on 127.0.0.1 (a random free port), the way
 * an HTTP mirror on the local network would: files as they are, a directory
 * as its `index.json`, `..` refused. For tests: it records requests, can
 * inject faults, and stops itself after `maxLifetimeMs`.
 */
export async function serveMirror(dir: string, options: MirrorServerOptions = {}): Promise<MirrorServer> {
  const root = path.resolve(dir);
  const requests: string[] = [];
  const faults = new Map(Object.entries(options.faults ?? {}).map(([k, v]) => [k, { ...v }]));
  const server = http.createServer((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(urlPath);
    const fault = faults.get(urlPath);
    if (fault && (fault.times === undefined || fault.times > 0)) {
      if (fault.times !== undefined) fault.times--;
      if (fault.status) {
        res.writeHead(fault.status).end();
        return;
      }
    }
    let file = path.join(root, urlPath);
    if (urlPath.split('/').includes('..') || !(file === root || file.startsWith(root + path.sep))) {
      res.writeHead(400).end('bad path');
      return;
    }
    try {
      if (fs.statSync(file).isDirectory()) file = path.join(file, 'index.json');
      const body = fs.readFileSync(file);
      if (fault?.truncate) {
        res.writeHead(200, { 'content-length': String(body.length) });
        res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.destroy());
        return;
      }
      res.writeHead(200, { 'content-length': String(body.length), 'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  let closed = false;
  const close = () =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      closed = true;
      clearTimeout(timer);
      server.closeAllConnections();
      server.close(() => resolve());
    });
  const timer = setTimeout(() => void close(), options.maxLifetimeMs ?? 10 * 60_000);
  timer.unref();
  const untrack = trackCloser(close);
  server.once('close', untrack);
  return { url: `http://127.0.0.1:${port}`, requests, close };
}
