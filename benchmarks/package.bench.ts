/**
 * Packaging benchmark: slugc's packer against GNU `tar -czf`, `tar | pigz -6`
 * and the npm `tar` package, as whole processes, on the same trees in one run.
 *
 *   npm run bench:package                          # build, then both inputs
 *   node dist/benchmarks/package.bench.js [--input corpus|node|all] [--dir D] [--runs N]
 *
 * Inputs: the generated 27k-file corpus (package-corpus.ts), and a Node
 * slug tree: fixtures/apps/node-large built once with the CLI and unpacked
 * into os.tmpdir()/slugc-bench-node-slug-v1 (kept between runs). `--dir`
 * measures any tree instead (it gets one extra file, removed at the end).
 *
 * Each round takes turns: tar -czf, tar | pigz -6, npm tar, slugc cold with
 * no segment cache, slugc cold with an empty segment cache, and slugc
 * rebuilding after a change to the app's own code (a warm segment cache,
 * left by the previous round; before every round the one file
 * `slugc-bench-change.js` at the tree's root gets other contents). Before
 * every timed run: `sync`, and the whole tree read once (the page cache of
 * this machine kind empties after 10–30 s idle). Every output goes to a new
 * directory (creating files right after deleting many is slow here).
 *
 * Every output is verified after the timed runs: `gzip -t`, and unpacked
 * with GNU tar into a new dir whose tree (names, types, modes, link
 * targets, content hashes) must equal the source's at the time of the run;
 * slugc's three outputs of a round must be byte-identical. A case whose
 * check fails prints no figures.
 */

import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ChildReport } from './package-child.js';
import { describeTree, ensureCorpus } from './package-corpus.js';

/** Seconds since the epoch used as every entry's mtime (2024-01-01). */
const BENCH_MTIME = 1_704_067_200;
/** Bump when the way the Node slug tree is made changes. */
const NODE_TREE_VERSION = 1;
/** The file changed before every round: the "app code" of the rebuild case. */
const CHANGE_FILE = 'slugc-bench-change.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const childScript = path.join(here, 'package-child.js');
const timeBin = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

interface Run {
  /** Whole-process wall seconds. */
  seconds: number;
  bytes: number;
  /** Peak RSS in KiB, when known. */
  maxRssKiB?: number;
  output: string;
  /** Which version of the change file the tree had. */
  state: number;
  round: number;
  report?: ChildReport;
}

interface Case {
  name: string;
  /** Short name for the summary lines. */
  id: 'gnu' | 'pigz' | 'npm' | 'cold' | 'empty' | 'warm';
  run: (dir: string, out: string, round: number) => Run | Omit<Run, 'state' | 'round' | 'output'>;
}

function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Reads every file once (through a pipe: GNU tar skips reading when the archive is /dev/null itself). */
function warm(dir: string): void {
  sh('sh', ['-c', 'tar -cf - -C "$1" . | cat > /dev/null', 'sh', dir]);
}

/** Runs a shell pipeline as one timed process; peak RSS (the largest process in it) from /usr/bin/time when installed. */
function shellCase(script: string): Case['run'] {
  return (dir, out) => {
    const rss = `${out}.rss`;
    const argv = timeBin ? [timeBin, '-f', '%M', '-o', rss, 'sh', '-c', script, 'sh', out, dir] : ['sh', '-c', script, 'sh', out, dir];
    const t0 = performance.now();
    const r = spawnSync(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    const seconds = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr.toString()}`);
    const maxRssKiB = timeBin ? Number(fs.readFileSync(rss, 'utf8').trim().split('\n').pop()) : undefined;
    return { seconds, bytes: fs.statSync(out).size, ...(maxRssKiB ? { maxRssKiB } : {}) };
  };
}

/** A child Node process that loads only the packer (package-child.ts) and packs once. */
function childCase(spec: (round: number) => Record<string, unknown>): Case['run'] {
  return (dir, out, round) => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [childScript, JSON.stringify({ dir, output: out, mtime: BENCH_MTIME, ...spec(round) })], { encoding: 'utf8' });
    const seconds = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`child pack failed: ${r.stderr}`);
    const report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as ChildReport;
    return { seconds, bytes: report.size, maxRssKiB: report.maxRssKiB, report };
  };
}

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function sha256File(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (let n = fs.readSync(fd, buf); n > 0; n = fs.readSync(fd, buf)) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Names, types, modes, link targets and content hashes of a tree (the root itself left out), one line each. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(root, rel))) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const abs = path.join(root, r);
      const st = fs.lstatSync(abs);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.set(r, `dir ${mode}`);
        walk(r);
      } else if (st.isSymbolicLink()) out.set(r, `link -> ${fs.readlinkSync(abs)}`);
      else if (st.isFile()) out.set(r, `file ${mode} ${sha256File(abs)}`);
      else out.set(r, 'other');
    }
  };
  walk('');
  return out;
}

function diffTrees(want: Map<string, string>, got: Map<string, string>): string[] {
  const diffs: string[] = [];
  for (const [k, v] of want) if (got.get(k) !== v) diffs.push(`${k}: want ${v}, got ${got.get(k) ?? 'nothing'}`);
  for (const k of got.keys()) if (!want.has(k)) diffs.push(`${k}: not in the source`);
  return diffs;
}

/** Contents of the change file in state `n`: a few lines of app code. */
function changeContents(n: number): string {
  return `// Changed by the packaging benchmark (state ${n}).\nmodule.exports = function handler(req, res) {\n  res.end('state ${n}');\n};\n`;
}

/**
 * The Node slug tree: fixtures/apps/node-large built once with the CLI (Node
 * runtime downloads seeded from the test cache when there is one) and
 * unpacked, kept in os.tmpdir() between runs.
 */
function ensureNodeTree(): string {
  const root = path.join(os.tmpdir(), `slugc-bench-node-slug-v${NODE_TREE_VERSION}`);
  if (fs.existsSync(path.join(root, '.complete'))) return path.join(root, 'app');
  const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'bin.js');
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
  console.log(`Building fixtures/apps/node-large once into ${root}…`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-bench-node-build-'));
  try {
    const cache = path.join(work, 'cache');
    fs.mkdirSync(cache);
    const seed = path.join(repoRoot, '.slugc-cache', 'test-cache', 'downloads');
    if (fs.existsSync(seed)) sh('cp', ['-al', seed, path.join(cache, 'downloads')]);
    const slug = path.join(work, 'slug.tgz');
    sh(process.execPath, ['--', cli, 'build', path.join(repoRoot, 'fixtures', 'apps', 'node-large'), '-o', slug, '--cache-dir', cache, '--app', 'bench-pack', '--quiet']);
    const partial = `${root}.partial-${process.pid}`;
    fs.rmSync(root, { recursive: true, force: true });
    fs.mkdirSync(partial, { recursive: true });
    sh('tar', ['-xzf', slug, '-C', partial]);
    fs.writeFileSync(path.join(partial, '.complete'), '');
    fs.renameSync(partial, root);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return path.join(root, 'app');
}

const CASES: Case[] = [
  { id: 'gnu', name: 'tar -czf (GNU, gzip -6)', run: shellCase('tar -czf "$1" -C "$2" .') },
  { id: 'pigz', name: 'tar -cf - | pigz -6', run: shellCase('tar -cf - -C "$2" . | pigz -6 > "$1"') },
  { id: 'npm', name: 'npm tar c({gzip, portable})', run: childCase(() => ({ tool: 'npm-tar' })) },
];

interface Summary {
  name: string;
  id: Case['id'];
  runs: Run[];
  error?: string;
}

/** Undone on exit, even on Ctrl-C: the change file put into a tree, the work dir. */
const cleanups: Array<() => void> = [];
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const undo of cleanups.splice(0).reverse()) undo();
    process.exit(130);
  });
}

async function benchTree(label: string, dir: string, runs: number, work: string): Promise<Summary[]> {
  const changeFile = path.join(dir, CHANGE_FILE);
  const original = fs.existsSync(changeFile) ? fs.readFileSync(changeFile) : undefined;
  const restore = (): void => {
    if (original !== undefined) fs.writeFileSync(changeFile, original);
    else fs.rmSync(changeFile, { force: true });
  };
  cleanups.push(restore);
  const warmCache = path.join(work, `${label}-segments`);
  const outRoot = path.join(work, `${label}-out`);
  fs.mkdirSync(outRoot);
  let emptyCaches = 0;
  const cases: Case[] = [
    ...CASES.filter((c) => c.id !== 'pigz' || onPath('pigz')),
    { id: 'cold', name: 'slugc cold, no segment cache', run: childCase(() => ({ tool: 'slugc' })) },
    { id: 'empty', name: 'slugc cold, empty segment cache', run: childCase(() => ({ tool: 'slugc', segmentCache: path.join(work, `${label}-empty-${emptyCaches++}`) })) },
    { id: 'warm', name: 'slugc rebuild, app code changed', run: childCase(() => ({ tool: 'slugc', segmentCache: warmCache })) },
  ];
  if (!onPath('pigz')) console.log('pigz: not installed (skipped; apt-get install pigz)');
  const results = new Map<Case['id'], Run[]>(cases.map((c) => [c.id, []]));
  try {
    // State 0, then the warm cache's first fill (untimed), from which round 1 is a rebuild after a change.
    fs.writeFileSync(changeFile, changeContents(0));
    sh(process.execPath, [childScript, JSON.stringify({ tool: 'slugc', dir, output: path.join(outRoot, 'prime.tgz'), mtime: BENCH_MTIME, segmentCache: warmCache })]);
    const shape = describeTree(dir);
    console.log(
      `\n${label}: ${dir}: ${shape.files} files, ${shape.dirs} dirs, ${shape.symlinks} symlinks, ` +
        `${(shape.bytes / 1e6).toFixed(1)} MB of data, median file ${shape.median} B`,
    );
    for (let round = 1; round <= runs; round++) {
      const state = round % 2 === 1 ? 1 : 2;
      fs.writeFileSync(changeFile, changeContents(state));
      for (const c of cases) {
        spawnSync('sync');
        warm(dir);
        const out = path.join(fs.mkdtempSync(path.join(outRoot, `${c.id}-`)), 'out.tgz');
        const m = { ...c.run(dir, out, round), output: out, state, round };
        (results.get(c.id) as Run[]).push(m);
        const extra = m.report?.segments !== undefined ? `  ${m.report.segmentsSpliced}/${m.report.segments} segments spliced (${((m.report.bytesSpliced ?? 0) / 1e6).toFixed(1)} MB)` : '';
        const rss = m.maxRssKiB ? `  ${((m.maxRssKiB * 1024) / 1e6).toFixed(0)} MB RSS` : '';
        console.log(`run ${round}: ${c.name.padEnd(34)} ${m.seconds.toFixed(2)} s  ${(m.bytes / 1e6).toFixed(2)} MB${rss}${extra}`);
      }
    }
  } finally {
    restore();
  }

  // Verification, after the timed runs (it creates many files).
  console.log(`\nVerifying ${[...results.values()].flat().length} outputs (gzip -t, unpacked with GNU tar and compared with the source)…`);
  const summaries: Summary[] = cases.map((c) => ({ name: c.name, id: c.id, runs: results.get(c.id) as Run[] }));
  const source = new Map<number, Map<string, string>>();
  const sourceFor = (state: number): Map<string, string> => {
    let s = source.get(state);
    if (s === undefined) {
      fs.writeFileSync(changeFile, changeContents(state));
      try {
        s = snapshot(dir);
      } finally {
        restore();
      }
      source.set(state, s);
    }
    return s;
  };
  const verifiedStreams = new Map<string, string | undefined>(); // tar stream sha256 -> error
  for (const s of summaries) {
    try {
      for (const r of s.runs) {
        const gzipT = spawnSync('gzip', ['-t', r.output], { encoding: 'utf8' });
        if (gzipT.status !== 0 || gzipT.stderr !== '') throw new Error(`gzip -t ${r.output}: ${gzipT.stderr}`);
        const stream = sh('sh', ['-c', 'gzip -dc "$1" | sha256sum', 'sh', r.output]).split(' ')[0] as string;
        if (!verifiedStreams.has(stream)) {
          const dest = fs.mkdtempSync(path.join(work, 'unpacked-'));
          const x = spawnSync('tar', ['-xzf', r.output, '-C', dest], { encoding: 'utf8' });
          let error: string | undefined = x.status !== 0 || x.stderr !== '' ? `tar -xzf: ${x.stderr}` : undefined;
          if (error === undefined) {
            const top = fs.readdirSync(dest);
            const root = top.length === 1 && top[0] === 'app' && s.id !== 'gnu' && s.id !== 'pigz' && s.id !== 'npm' ? path.join(dest, 'app') : dest;
            const diffs = diffTrees(sourceFor(r.state), snapshot(root));
            if (diffs.length > 0) error = `unpacked tree differs from the source: ${diffs.slice(0, 5).join('; ')}`;
          }
          fs.rmSync(dest, { recursive: true, force: true });
          verifiedStreams.set(stream, error);
        }
        const error = verifiedStreams.get(stream);
        if (error !== undefined) throw new Error(`${r.output}: ${error}`);
      }
    } catch (e) {
      s.error = (e as Error).message;
    }
  }
  // slugc's three outputs of a round are the same bytes.
  const slugcIds: Case['id'][] = ['cold', 'empty', 'warm'];
  for (let round = 1; round <= runs; round++) {
    const shas = slugcIds.map((id) => {
      const r = summaries.find((s) => s.id === id)?.runs.find((x) => x.round === round);
      return r ? sha256File(r.output) : '';
    });
    if (new Set(shas).size !== 1) {
      for (const s of summaries) if (slugcIds.includes(s.id)) s.error ??= `round ${round}: slugc outputs differ (${shas.map((x) => x.slice(0, 12)).join(' ')})`;
    }
  }
  for (const s of summaries) console.log(`  ${s.name}: ${s.error === undefined ? 'ok' : `FAILED: ${s.error}`}`);
  fs.rmSync(outRoot, { recursive: true, force: true });
  return summaries;
}

function printTable(label: string, summaries: Summary[]): void {
  const med = (id: Case['id'], f: (r: Run) => number): number | undefined => {
    const s = summaries.find((x) => x.id === id);
    return s && s.error === undefined && s.runs.length > 0 ? median(s.runs.map(f)) : undefined;
  };
  const pigzT = med('pigz', (r) => r.seconds);
  const pigzB = med('pigz', (r) => r.bytes);
  const gnuT = med('gnu', (r) => r.seconds);
  console.log(`\n${label}: whole processes, medians of ${summaries[0]?.runs.length ?? 0}`);
  console.log('| command | median s | min–max s | output MB | time vs pigz -6 | time vs tar -czf | size vs pigz -6 | peak RSS |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const s of summaries) {
    const name = s.name.replace(/\|/g, '\\|');
    if (s.error !== undefined) {
      console.log(`| ${name} | (not verified: no figures) | | | | | | |`);
      continue;
    }
    const ts = s.runs.map((r) => r.seconds);
    const t = median(ts);
    const b = median(s.runs.map((r) => r.bytes));
    const rss = s.runs.every((r) => r.maxRssKiB !== undefined) ? `${((median(s.runs.map((r) => r.maxRssKiB as number)) * 1024) / 1e6).toFixed(0)} MB` : '';
    const ratio = (x: number | undefined) => (x === undefined ? '' : `${(t / x).toFixed(2)}×`);
    console.log(
      `| ${name} | ${t.toFixed(2)} | ${Math.min(...ts).toFixed(2)}–${Math.max(...ts).toFixed(2)} | ${(b / 1e6).toFixed(2)} | ${ratio(pigzT)} | ${ratio(gnuT)} | ${pigzB === undefined ? '' : `${(b / pigzB).toFixed(3)}×`} | ${rss} |`,
    );
  }
  const cold = med('cold', (r) => r.seconds);
  const empty = med('empty', (r) => r.seconds);
  const warmT = med('warm', (r) => r.seconds);
  const size = med('cold', (r) => r.bytes);
  const rss = Math.max(...summaries.filter((s) => ['cold', 'empty', 'warm'].includes(s.id)).flatMap((s) => s.runs.map((r) => r.maxRssKiB ?? 0)));
  if (pigzT === undefined || pigzB === undefined || cold === undefined || empty === undefined || warmT === undefined || size === undefined) {
    console.log('Targets: not checked (a case is missing or failed verification)');
    return;
  }
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  console.log(`Targets (issue 14), ${label}:`);
  console.log(`  rebuild ≥ 3× faster than tar | pigz -6: ${(pigzT / warmT).toFixed(2)}× faster, ${verdict(pigzT / warmT >= 3)}`);
  console.log(`  cold ≤ 1.0× tar | pigz -6: ${(cold / pigzT).toFixed(2)}× with no segment cache, ${(empty / pigzT).toFixed(2)}× with an empty one, ${verdict(Math.max(cold, empty) <= pigzT)}`);
  console.log(`  size within 3 % of pigz's: ${((size / pigzB - 1) * 100).toFixed(2)} %, ${verdict(Math.abs(size / pigzB - 1) <= 0.03)}`);
  console.log(`  peak RSS < 150 MB: ${((rss * 1024) / 1e6).toFixed(0)} MB, ${verdict(rss * 1024 < 150e6)}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { dir: { type: 'string' }, runs: { type: 'string', default: '3' }, input: { type: 'string', default: 'all' } },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  const inputs: Array<[string, () => string]> = [];
  if (values.dir !== undefined) inputs.push([path.basename(path.resolve(values.dir)), () => path.resolve(values.dir as string)]);
  else {
    if (values.input === 'corpus' || values.input === 'all') inputs.push(['corpus', ensureCorpus]);
    if (values.input === 'node' || values.input === 'all') inputs.push(['node-large slug', ensureNodeTree]);
    if (inputs.length === 0) throw new Error(`--input takes corpus, node or all, got ${values.input}`);
  }
  const trees: Array<readonly [string, string]> = [];
  for (const [label, make] of inputs) {
    try {
      trees.push([label, make()]);
    } catch (e) {
      if (inputs.length === 1) throw e;
      console.log(`${label}: skipped, the tree could not be made: ${(e as Error).message.slice(0, 500)}`);
    }
  }
  spawnSync('sync'); // a freshly generated tree is still being written back
  const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`${new Date().toISOString()}  Node ${process.version}, zlib ${process.versions.zlib}, ${os.availableParallelism()} CPUs, ${os.cpus()[0]?.model ?? ''}`);
  console.log(`load average at start: ${load()}; ${runs} round(s), taking turns; page cache warmed before every run`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-bench-package-'));
  cleanups.push(() => fs.rmSync(work, { recursive: true, force: true }));
  try {
    const all: Array<[string, Summary[]]> = [];
    for (const [label, dir] of trees) all.push([label, await benchTree(label, dir, runs, work)]);
    for (const [label, summaries] of all) printTable(label, summaries);
    console.log(`\nload average at the end: ${load()}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();
