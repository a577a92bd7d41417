// A build fleet's shared layer cache on an OCI registry, as whole `slugc build` processes in one run:
//   npm run bench:remote [-- --app DIR --runs N]
// Per run: a cold build without any cache (the baseline); machine A's cold build with
// --cache-remote (it pushes); machine B's first build, on its own empty cache (downloads
// and registry documents seeded, npm's cache not), through the registry; then B again
// (local warm). The registry is Debian's docker-registry on 127.0.0.1 with filesystem
// storage. Every slug is checked (gzip -t) and all four must be byte-identical.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { median, run, seededCache, sha256, slugcBuild, verifySlug, copyApp as copyAppTo } from './support.js';

const { values } = parseArgs({
  options: {
    app: { type: 'string', default: path.resolve('fixtures/apps/node-large') },
    runs: { type: 'string', default: '3' },
    'seed-from': { type: 'string', default: path.resolve('.slugc-cache/test-cache') },
  },
});
const appSrc = path.resolve(values.app!);
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a whole number >= 1');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-bench-remote-'));
const APP = 'bench-remote';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** docker-registry on 127.0.0.1 with filesystem storage; stopped at exit. */
async function startRegistry(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const dir = path.join(work, 'registry');
  fs.mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'config.yml');
  fs.writeFileSync(config, `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${dir}/data }, delete: { enabled: true } }\nhttp: { addr: 127.0.0.1:${port}, secret: bench }\n`);
  const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  process.once('exit', () => child.kill('SIGKILL'));
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/v2/`)).ok) return { url: `oci://127.0.0.1:${port}/slugc-cache`, child };
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('docker-registry did not start (is it installed? scripts/setup.sh installs it)');
}

const copyApp = (name: string) => copyAppTo(appSrc, work, name);

console.log(`app: ${appSrc}, runs: ${runs}, node ${process.version}, ${os.availableParallelism()} CPUs, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const registry = await startRegistry();
console.log(`registry: ${registry.url} (docker-registry, filesystem storage)`);

// Seed: one untimed build fills the downloads, registry documents and npm's cache.
const seed = path.join(work, 'seed');
fs.mkdirSync(seed);
for (const d of ['downloads', 'metadata']) if (fs.existsSync(path.join(values['seed-from']!, d))) run('cp', ['-al', path.join(values['seed-from']!, d), path.join(seed, d)]);
slugcBuild(copyApp('seed-src'), path.join(work, 'seed.tgz'), ['--cache-dir', seed, '--app', APP]);

type Kind = 'cold' | 'pushA' | 'remoteB' | 'warmB';
const KINDS: Kind[] = ['cold', 'pushA', 'remoteB', 'warmB'];
const LABEL: Record<Kind, string> = {
  cold: 'cold, no remote cache (baseline)',
  pushA: 'machine A: cold, pushing to the registry',
  remoteB: "machine B: first build, through the registry",
  warmB: 'machine B again: local warm',
};
const rows: Record<Kind, number[]> = { cold: [], pushA: [], remoteB: [], warmB: [] };
const details: string[] = [];
const src = copyApp('src');
let reference: string | undefined;
for (let i = 0; i < runs; i++) {
  // Each run its own repository: B finds exactly what A pushed in this run.
  const remote = registry.url.replace(/slugc-cache$/, `slugc-cache-${i}`);
  const r = {} as Record<Kind, ReturnType<typeof slugcBuild>>;
  r.cold = slugcBuild(src, path.join(work, `cold-${i}.tgz`), ['--cache-dir', seededCache(path.join(work, `c-${i}`), seed, APP), '--app', APP]);
  r.pushA = slugcBuild(src, path.join(work, `a-${i}.tgz`), ['--cache-dir', seededCache(path.join(work, `a-${i}`), seed, APP), '--app', APP, '--cache-remote', remote]);
  const cacheB = seededCache(path.join(work, `b-${i}`), seed); // no npm cache: B must not need npm
  r.remoteB = slugcBuild(src, path.join(work, `b-${i}.tgz`), ['--cache-dir', cacheB, '--app', APP, '--cache-remote', remote]);
  r.warmB = slugcBuild(src, path.join(work, `b2-${i}.tgz`), ['--cache-dir', cacheB, '--app', APP, '--cache-remote', remote]);
  if (!/remote/.test(r.remoteB.layers)) throw new Error(`run ${i + 1}: machine B restored nothing from the registry: ${r.remoteB.layers}\n${r.remoteB.stderr}`);
  for (const k of KINDS) {
    verifySlug(r[k].slug);
    reference ??= sha256(r[k].slug);
    if (sha256(r[k].slug) !== reference) throw new Error(`run ${i + 1}: the ${k} slug differs from the others`);
    rows[k].push(r[k].s);
    details.push(`run ${i + 1} ${k.padEnd(8)} ${r[k].s.toFixed(2).padStart(6)} s  steps ${r[k].steps}  [${r[k].layers}]`);
  }
}
registry.child.kill();
console.log('verified: every slug passes gzip -t and all are byte-identical (cold, A, B through the registry, B warm)\n');
console.log(details.join('\n'));
const ratio = (k: Kind) => median(rows[k].map((v, i) => v / rows.cold[i]!));
console.log('\n| build (whole `slugc build` process) | median s | min–max s | vs cold (median of per-run ratios) |');
console.log('|---|---|---|---|');
for (const k of KINDS) console.log(`| ${LABEL[k]} | ${median(rows[k]).toFixed(2)} | ${Math.min(...rows[k]).toFixed(2)}–${Math.max(...rows[k]).toFixed(2)} | ${k === 'cold' ? '1.00×' : `**${ratio(k).toFixed(2)}×**`} |`);
fs.rmSync(work, { recursive: true, force: true });
