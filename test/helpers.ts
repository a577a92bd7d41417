import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

export const repoRoot = path.resolve(import.meta.dirname, '..');
export const cliBin = path.join(repoRoot, 'dist', 'src', 'cli', 'bin.js');
export const fixturesDir = path.join(repoRoot, 'fixtures', 'apps');

/** The cache dir shared by end-to-end tests (see global-setup.ts). */
export function sharedCacheDir(): string {
  const dir = process.env.SLUGC_TEST_CACHE ?? path.join(repoRoot, '.slugc-cache', 'test-cache');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/** A fresh temp dir removed after the test. */
export function tempDir(prefix = 'slugc-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes an app from an inline file tree into a temp dir; values are contents, or `{ link }` for symlinks. */
export function writeApp(files: Record<string, string | { link: string } | { content: string; mode: number }>): string {
  const dir = tempDir('slugc-app-');
  for (const [rel, v] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof v === 'string') fs.writeFileSync(p, v);
    else if ('link' in v) fs.symlinkSync(v.link, p);
    else fs.writeFileSync(p, v.content, { mode: v.mode });
  }
  return dir;
}

/** Copies a fixture app into a temp dir. */
export function copyFixture(name: string): string {
  const dir = path.join(tempDir('slugc-fixture-'), name);
  fs.cpSync(path.join(fixturesDir, name), dir, { recursive: true, verbatimSymlinks: true });
  return dir;
}

/** A hash of a whole tree: paths, modes, link targets, contents and mtimes. */
export function treeHash(dir: string): string {
  const h = crypto.createHash('sha256');
  const walk = (rel: string) => {
    const names = fs.readdirSync(path.join(dir, rel)).sort();
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const p = path.join(dir, r);
      const st = fs.lstatSync(p);
      h.update(`${r}\0${st.mode}\0${st.mtimeMs}\0`);
      if (st.isSymbolicLink()) h.update(fs.readlinkSync(p));
      else if (st.isDirectory()) walk(r);
      else h.update(fs.readFileSync(p));
    }
  };
  walk('');
  return h.digest('hex');
}

/** sha256 of a file. */
export function fileSha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Runs the built CLI and returns its exit code and output. */
export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliBin, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * A bin dir holding only the shell tools a process needs, so PATH carries
 * none of the host's language runtimes (no node, python, perl, ruby, java).
 */
export function sandboxBin(): string {
  const dir = tempDir('slugc-bin-');
  for (const tool of ['sh', 'bash', 'env', 'cat', 'ls', 'mkdir', 'rm', 'dirname', 'basename', 'uname', 'sed', 'grep', 'tr', 'head', 'sleep']) {
    const found = ['/usr/bin', '/bin'].map((d) => path.join(d, tool)).find((p) => fs.existsSync(p));
    if (found) fs.symlinkSync(found, path.join(dir, tool));
  }
  return dir;
}

/** Unpacks a slug with GNU tar into a new dir; returns the `app` dir. */
export function unpackSlug(slug: string): string {
  const dir = tempDir('slugc-run-');
  const r = spawnSync('tar', ['-xzf', slug, '-C', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar -xzf failed: ${r.stderr}`);
  return path.join(dir, 'app');
}

/**
 * Starts a process type the way a dyno does: `bash -c` with HOME set to the
 * unpacked app dir, `.profile.d/*.sh` sourced, PORT set, and a PATH without the
 * host's language runtimes. Resolves once the port answers.
 */
export async function startWeb(appDir: string, command: string, timeoutMs = 30_000): Promise<{ url: string; output: () => string; stop: () => void }> {
  const port = await freePort();
  const script = `for f in "$HOME"/.profile.d/*.sh; do [ -f "$f" ] && . "$f"; done; exec ${command}`;
  const child: ChildProcess = spawn('/bin/bash', ['-c', script], {
    cwd: appDir,
    env: { HOME: appDir, PORT: String(port), PATH: sandboxBin(), LANG: 'C.UTF-8' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const stop = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  cleanups.push(stop);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode} before answering:\n${output}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return { url: `http://127.0.0.1:${port}/`, output: () => output, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  stop();
  throw new Error(`port ${port} did not answer within ${timeoutMs} ms:\n${output}`);
}
