// Python packages for tests, made here: wheels written directly as zip files
// (a dist-info with METADATA, WHEEL, RECORD, entry points), no PyPI, no build
// tool; and a PEP 503 simple index over loopback HTTP that serves them.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { zip } from './zip.js';

/** A wheel to write. */
export interface WheelSpec {
  name: string;
  version: string;
  /** Files of the package, path -> text. */
  files: Record<string, string>;
  /** Console scripts, name -> `module:function`. */
  scripts?: Record<string, string>;
  /** `Requires-Dist` lines. */
  requires?: string[];
}

const recordHash = (b: Buffer) => crypto.createHash('sha256').update(b).digest('base64url');

/** Writes `<name>-<version>-py3-none-any.whl` into `dir`; returns its path and sha256. */
export function writeWheel(dir: string, spec: WheelSpec): { file: string; sha256: string } {
  const dist = `${spec.name.replace(/-/g, '_')}-${spec.version}.dist-info`;
  const entries: [string, Buffer][] = Object.entries(spec.files).map(([p, t]) => [p, Buffer.from(t)]);
  const meta = [`Metadata-Version: 2.1`, `Name: ${spec.name}`, `Version: ${spec.version}`, ...(spec.requires ?? []).map((r) => `Requires-Dist: ${r}`)].join('\n') + '\n';
  entries.push([`${dist}/METADATA`, Buffer.from(meta)]);
  entries.push([`${dist}/WHEEL`, Buffer.from('Wheel-Version: 1.0\nGenerator: slugc-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n')]);
  if (spec.scripts) entries.push([`${dist}/entry_points.txt`, Buffer.from(`[console_scripts]\n${Object.entries(spec.scripts).map(([k, v]) => `${k} = ${v}\n`).join('')}`)]);
  const record = entries.map(([p, b]) => `${p},sha256=${recordHash(b)},${b.length}`).join('\n') + `\n${dist}/RECORD,,\n`;
  entries.push([`${dist}/RECORD`, Buffer.from(record)]);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${spec.name.replace(/-/g, '_')}-${spec.version}-py3-none-any.whl`);
  const data = zip(entries);
  fs.writeFileSync(file, data);
  return { file, sha256: crypto.createHash('sha256').update(data).digest('hex') };
}

/** A running PEP 503 simple index. */
export interface SimpleIndex {
  /** `http://127.0.0.1:<port>/simple/`. */
  url: string;
  /** Paths asked for. */
  requests: string[];
  close(): Promise<void>;
}

/** Serves the wheels in `dir` as a PEP 503 simple index on 127.0.0.1 (HTML pages, `#sha256=` on every link). */
export async function serveSimpleIndex(dir: string): Promise<SimpleIndex> {
  const requests: string[] = [];
  const norm = (n: string) => n.toLowerCase().replace(/[-_.]+/g, '-');
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.pathname);
    const wheels = fs.readdirSync(dir).filter((f) => f.endsWith('.whl'));
    const project = /^\/simple\/([^/]+)\/?$/.exec(url.pathname)?.[1];
    if (url.pathname === '/simple/' || url.pathname === '/simple') {
      const names = [...new Set(wheels.map((w) => norm(w.split('-')[0]!)))];
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!DOCTYPE html><html><body>${names.map((n) => `<a href="/simple/${n}/">${n}</a>`).join('')}</body></html>`);
    } else if (project) {
      const mine = wheels.filter((w) => norm(w.split('-')[0]!) === norm(project));
      if (!mine.length) return void res.writeHead(404).end('not found');
      const links = mine.map((w) => `<a href="/files/${w}#sha256=${crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, w))).digest('hex')}">${w}</a>`);
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!DOCTYPE html><html><body>${links.join('<br>')}</body></html>`);
    } else if (url.pathname.startsWith('/files/')) {
      const file = path.join(dir, path.basename(url.pathname));
      if (!fs.existsSync(file)) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(fs.readFileSync(file));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const timer = setTimeout(() => server.close(), 10 * 60_000); // stops itself at the latest after 10 minutes
  timer.unref();
  return {
    url: `http://127.0.0.1:${port}/simple/`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
