// Java apps for tests, made here: JAR files written directly as zips (a
// manifest and a few entries, no JDK needed), a stand-in `mvnw`/`gradlew`
// that compiles with the JDK slugc installed ($JAVA_HOME/bin/javac, jar),
// a tiny com.sun.net.httpserver web app, and a loopback HTTP server over a
// directory (a Maven repository) that logs what it was asked for.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { zip } from './zip.js';

export { zip };

/** A JAR's bytes: a manifest with `attributes` (none: no manifest) and more entries. */
export function jarBytes(attributes: Record<string, string> | null, files: Record<string, string | Buffer> = {}): Buffer {
  const entries: [string, Buffer][] = [];
  if (attributes) {
    const mf = ['Manifest-Version: 1.0', ...Object.entries(attributes).map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n\r\n';
    entries.push(['META-INF/MANIFEST.MF', Buffer.from(mf)]);
  }
  for (const [p, b] of Object.entries(files)) entries.push([p, Buffer.isBuffer(b) ? b : Buffer.from(b)]);
  return zip(entries);
}

/** A web app on the JDK's com.sun.net.httpserver: answers `text` (plus the java.version) on 127.0.0.1:$PORT. */
export function httpServerSource(text: string, pkg = 'demo'): string {
  return `package ${pkg};

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

public class Main {
  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(System.getenv("PORT"));
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
    server.createContext("/", exchange -> {
      byte[] body = ("${text} " + Runtime.version().feature()).getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    server.start();
  }
}
`;
}

/**
 * A stand-in `mvnw`: records its arguments and env in `target/mvnw-args.txt`,
 * then compiles src/main/java with the JDK at $JAVA_HOME (slugc's) into
 * target/app.jar with `Main-Class: <mainClass>` — as a real wrapper would,
 * without downloading Maven.
 */
export function standInBuildScript(mainClass: string, out = 'target'): string {
  return `#!/bin/sh
set -e
mkdir -p ${out}/classes
echo "$@" > ${out}/build-args.txt
echo "JAVA_HOME=$JAVA_HOME" >> ${out}/build-args.txt
echo "java=$(command -v java || true) mvn=$(command -v mvn || true)" >> ${out}/build-args.txt
"$JAVA_HOME/bin/javac" -d ${out}/classes $(find src/main/java -name '*.java')
"$JAVA_HOME/bin/jar" --create --file ${out}/app.jar --main-class ${mainClass} -C ${out}/classes .
echo "[INFO] BUILD SUCCESS"
`;
}

/** A running loopback HTTP server over a directory. */
export interface DirServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Paths asked for, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** Serves `root` read-only on 127.0.0.1 (GET and HEAD; links followed, `..` refused); stops itself after 10 minutes at the latest. */
export async function serveDir(root: string): Promise<DirServer> {
  const requests: string[] = [];
  const base = fs.realpathSync(root);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const rel = decodeURIComponent(url.pathname);
    requests.push(rel);
    const file = path.join(base, rel);
    if (!file.startsWith(base + path.sep) || (req.method !== 'GET' && req.method !== 'HEAD')) return void res.writeHead(404).end();
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      return void res.writeHead(404).end();
    }
    if (!st.isFile()) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': st.size });
    if (req.method === 'HEAD') return void res.end();
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const timer = setTimeout(() => server.close(), 10 * 60_000);
  timer.unref();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
