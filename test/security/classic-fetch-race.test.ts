// First use of a URL buildpack by several builds at once, on one cache dir:
// each must get a complete buildpack, and none may remove or replace the
// copy another one is using.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, runBuild, tempDir, testApp } from 'slugc/testing';
import { cliBin, repoRoot } from '../support/cli.js';

afterEach(cleanup);

const BUILDS = 6;
/** End-to-end: slugc processes building at once (the race itself is hit reliably by the racer processes below). */
const CLI_ROUNDS = 1;
// In one process the critical sections are synchronous; one round of in-process builds is enough to check they all work.
const IN_PROCESS_ROUNDS = 1;

/** A .tgz of the tool-installer fixture, with one top-level dir (stripped on unpack). */
function tarball(): { file: string; sha: string } {
  const file = path.join(tempDir(), 'tool-installer.tgz');
  const r = spawnSync('tar', ['-czf', file, '-C', path.join(repoRoot, 'fixtures', 'buildpacks'), 'tool-installer']);
  expect(r.status).toBe(0);
  return { file, sha: crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex') };
}

/** A .tgz of a classic buildpack with many files: removing or unpacking it takes a while, as a real one does. */
function bigTarball(): { file: string } {
  const dir = path.join(tempDir(), 'big-bp');
  fs.cpSync(path.join(repoRoot, 'fixtures', 'buildpacks', 'tool-installer'), dir, { recursive: true });
  for (let i = 0; i < 100; i++) {
    fs.mkdirSync(path.join(dir, 'lib', `d${i % 20}`), { recursive: true });
    fs.writeFileSync(path.join(dir, 'lib', `d${i % 20}`, `f${i}.sh`), `# helper ${i}\n`.repeat(20));
  }
  const file = path.join(tempDir(), 'big-bp.tgz');
  expect(spawnSync('tar', ['-czf', file, '-C', path.dirname(dir), 'big-bp']).status).toBe(0);
  return { file };
}

/** Serves one file on 127.0.0.1; every request gets it. Closed by the caller. */
async function serveFile(file: string): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  const body = fs.readFileSync(file);
  let requests = 0;
  const server = http.createServer((_req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': String(body.length) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/buildpacks/tool-installer.tgz`,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Builds the same app with `ref` BUILDS times at once on one fresh cache dir; returns why each failed. */
async function buildAtOnce(ref: string): Promise<string[]> {
  const cacheDir = tempDir('slugc-cache-');
  const runs = await Promise.allSettled(Array.from({ length: BUILDS }, (_, i) => runBuild({ app: testApp({ 'a.txt': `${i}` }), buildpacks: [ref], cacheDir, appName: `race-${i}` })));
  return runs.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message)] : []));
}

/** Runs the CLI's build; resolves with its exit code and output (killed after 120 s). */
function cliBuild(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliBin, 'build', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** The same, from BUILDS slugc processes at once on one fresh cache dir (the race is between processes: CI jobs sharing a cache). */
async function cliBuildsAtOnce(ref: string): Promise<string[]> {
  const cacheDir = tempDir('slugc-cache-');
  const out = tempDir();
  const runs = await Promise.all(
    Array.from({ length: BUILDS }, (_, i) => cliBuild([testApp({ 'a.txt': `${i}` }).dir, '-b', ref, '--cache-dir', cacheDir, '--app', `race-${i}`, '-o', path.join(out, `${i}.tgz`)])),
  );
  return runs.flatMap((r) => (r.code === 0 ? [] : [r.output.split('\n').filter((l) => l.includes('!')).join('\n') || r.output]));
}

/**
 * What each of the racing processes runs: at the same wall-clock moments,
 * fetch the buildpack into a fresh cache (one per round, shared by all the
 * processes) and run its bin/detect; prints one line per failure.
 */
const RACER = `
import { resolveBuildpackRef } from ${JSON.stringify(path.join(repoRoot, 'dist', 'src', 'buildpack-ref.js'))};
import { createLogger } from ${JSON.stringify(path.join(repoRoot, 'dist', 'src', 'log.js'))};
const [ref, base, start, rounds, step] = process.argv.slice(2);
for (let i = 0; i < Number(rounds); i++) {
  const at = Number(start) + i * Number(step) + Math.random() * 40;
  while (Date.now() < at) await new Promise((r) => setTimeout(r, Math.min(5, at - Date.now())));
  try {
    const bp = await resolveBuildpackRef(ref, { cacheRoot: base + '/' + i, fetch: globalThis.fetch, log: createLogger(), cwd: base, builtins: [] });
    const d = await bp.detect({ appDir: base, stack: 's', env: { PATH: process.env.PATH }, log: createLogger() });
    if (!d.pass) console.log('round ' + i + ': ' + d.reason);
  } catch (e) {
    console.log('round ' + i + ': ' + e.message);
  }
}
`;

/** Runs RACER in BUILDS processes at once; returns every failure they printed. */
async function raceProcesses(ref: string, rounds: number): Promise<string[]> {
  const dir = tempDir();
  const script = path.join(dir, 'racer.mjs');
  fs.writeFileSync(script, RACER);
  const start = Date.now() + 2000; // every process is up by then
  const runs = await Promise.all(
    Array.from(
      { length: BUILDS },
      () =>
        new Promise<string>((resolve) => {
          const child = spawn(process.execPath, [script, ref, path.join(dir, 'cache'), String(start), String(rounds), '150'], { stdio: ['ignore', 'pipe', 'pipe'] });
          let output = '';
          child.stdout.on('data', (c: Buffer) => (output += c.toString()));
          child.stderr.on('data', (c: Buffer) => (output += c.toString()));
          const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
          child.on('close', (code) => {
            clearTimeout(timer);
            resolve(code === 0 ? output : `${output}exit ${code}\n`);
          });
        }),
    ),
  );
  return runs.flatMap((o) => o.split('\n').filter(Boolean));
}

describe('first use of a URL buildpack by concurrent builds', () => {
  it('gives every one of several processes fetching it at the same moment a complete buildpack (.tgz at file:// and http://, git)', async () => {
    const { file } = bigTarball();
    const server = await serveFile(file);
    const repo = path.join(tempDir(), 'bp.git');
    fs.cpSync(path.join(repoRoot, 'fixtures', 'buildpacks', 'tool-installer'), repo, { recursive: true });
    const git = (...args: string[]) => expect(spawnSync('git', ['-C', repo, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args]).status).toBe(0);
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-qm', 'v1');
    try {
      const failures = { file: await raceProcesses(`file://${file}`, 12), http: await raceProcesses(server.url, 12), git: await raceProcesses(`${repo}#main`, 8) };
      expect(failures).toEqual({ file: [], http: [], git: [] });
    } finally {
      await server.close();
    }
  });

  it('gives every one of several slugc processes a complete buildpack (.tgz over HTTP, file://, git)', async () => {
    const { file } = tarball();
    const server = await serveFile(file);
    const repo = path.join(tempDir(), 'bp.git');
    fs.cpSync(path.join(repoRoot, 'fixtures', 'buildpacks', 'tool-installer'), repo, { recursive: true });
    const git = (...args: string[]) => expect(spawnSync('git', ['-C', repo, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args]).status).toBe(0);
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-qm', 'v1');
    try {
      for (let round = 0; round < CLI_ROUNDS; round++) {
        expect(await cliBuildsAtOnce(server.url), `round ${round}, http`).toEqual([]);
        expect(await cliBuildsAtOnce(`file://${file}`), `round ${round}, file://`).toEqual([]);
        expect(await cliBuildsAtOnce(`file://${repo}#main`), `round ${round}, git`).toEqual([]);
      }
    } finally {
      await server.close();
    }
  });

  it('gives every build a complete .tgz buildpack fetched over HTTP (unpinned and pinned)', async () => {
    const { file, sha } = tarball();
    const server = await serveFile(file);
    try {
      for (let round = 0; round < IN_PROCESS_ROUNDS; round++) {
        expect(await buildAtOnce(server.url), `round ${round}, unpinned`).toEqual([]);
        expect(await buildAtOnce(`${server.url}#sha256=${sha}`), `round ${round}, pinned`).toEqual([]);
      }
      expect(server.requests()).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });

  it('gives every build a complete .tgz buildpack from a file:// URL, and a later build uses the cached copy', async () => {
    const { file } = tarball();
    const url = `file://${file}`;
    for (let round = 0; round < IN_PROCESS_ROUNDS; round++) expect(await buildAtOnce(url), `round ${round}`).toEqual([]);
    const cacheDir = tempDir('slugc-cache-');
    await runBuild({ app: testApp({}), buildpacks: [url], cacheDir, appName: 'first' });
    const again = await runBuild({ app: testApp({}), buildpacks: [url], cacheDir, appName: 'second' });
    expect(again.log).toMatch(/using the copy cached earlier/);
  });

  it('gives every build a complete clone of a git buildpack', async () => {
    const repo = path.join(tempDir(), 'bp.git');
    fs.cpSync(path.join(repoRoot, 'fixtures', 'buildpacks', 'tool-installer'), repo, { recursive: true });
    const git = (...args: string[]) => expect(spawnSync('git', ['-C', repo, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args]).status).toBe(0);
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-qm', 'v1');
    git('tag', 'v1');
    for (let round = 0; round < IN_PROCESS_ROUNDS; round++) expect(await buildAtOnce(`${repo}#v1`), `round ${round}`).toEqual([]);
  });
});
