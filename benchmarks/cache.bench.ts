// Rebuild speed of a Node app with a large dependency tree, as whole
// `slugc build` processes in one run:
//   npm run bench:cache [-- --app DIR --runs N]
//
// Each run, on a fresh cache dir seeded with the verified downloads, the
// registry documents and npm's own cache (so the cold time is the build, not
// the network): a cold build, a no-change rebuild, a rebuild after a
// one-line change to the app's own code, and a rebuild after a lockfile
// change that adds one package. `sync` before every build. Every slug is
// checked: `gzip -t`, its listing, the no-change slug byte-identical to the
// cold one, and (once, untimed) the code-change and lockfile-change slugs
// byte-identical to cold builds of the same sources.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { median, run, seededCache, sha256, slugcBuild as buildProcess, verifySlug as verify, copyApp as copyAppTo } from './support.js';

const { values } = parseArgs({
  options: {
    app: { type: 'string', default: path.resolve('fixtures/apps/node-large') },
    runs: { type: 'string', default: '3' },
    'seed-from': { type: 'string', default: path.resolve('.slugc-cache/test-cache') },
    // The package the lockfile change adds (no dependencies of its own); its registry data is read with `npm view`.
    add: { type: 'string', default: 'left-pad@1.3.0' },
  },
});
const appSrc = path.resolve(values.app!);
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a whole number >= 1');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-bench-cache-'));
const APP = 'bench';

type Kind = 'cold' | 'nochange' | 'code' | 'lockfile';
const KINDS: Kind[] = ['cold', 'nochange', 'code', 'lockfile'];
const LABEL: Record<Kind, string> = {
  cold: 'cold (no layers)',
  nochange: 'no change',
  code: 'one-line change to server.js',
  lockfile: `lockfile change adding ${values.add}`,
};

/** One whole `slugc build` process on a cache dir. */
const slugcBuild = (src: string, cache: string, out: string) => buildProcess(src, path.join(work, out), ['--cache-dir', cache, '--app', APP]);
const freshCache = (name: string, seed: string) => seededCache(path.join(work, name), seed, APP);

/** The app with one more production dependency in package.json and package-lock.json. */
function addPackage(dir: string): void {
  const [name, version] = values.add!.split(/(?<=.)@/) as [string, string];
  const dist = JSON.parse(run('npm', ['view', `${name}@${version}`, 'dist', '--json'])) as { tarball: string; integrity: string };
  const pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  pj.dependencies[name] = `^${version}`;
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pj, null, 2) + '\n');
  const lock = JSON.parse(fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8'));
  lock.packages[''].dependencies[name] = `^${version}`;
  lock.packages[`node_modules/${name}`] = { version, resolved: dist.tarball, integrity: dist.integrity, license: 'WTFPL' };
  fs.writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2) + '\n');
}

const copyApp = (name: string) => copyAppTo(appSrc, work, name);

const lockPackages = Object.keys((JSON.parse(fs.readFileSync(path.join(appSrc, 'package-lock.json'), 'utf8')) as { packages: object }).packages).length - 1;
console.log(`app: ${appSrc} (${lockPackages} packages in package-lock.json), runs: ${runs}, node ${process.version}, ${os.availableParallelism()} CPUs, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

// Seed: one untimed build fills the downloads, registry documents and npm's cache.
const seed = path.join(work, 'seed');
fs.mkdirSync(seed);
for (const d of ['downloads', 'metadata']) if (fs.existsSync(path.join(values['seed-from']!, d))) run('cp', ['-al', path.join(values['seed-from']!, d), path.join(seed, d)]);
const seedSrc = copyApp('seed-src');
addPackage(seedSrc); // so the lockfile-change build finds its package in npm's cache too
slugcBuild(seedSrc, seed, 'seed.tgz');
console.log('seeded: downloads, registry documents, npm cache\n');

const rows: Record<Kind, number[]> = { cold: [], nochange: [], code: [], lockfile: [] };
const details: string[] = [];
let sources: { code: string; lockfile: string } | undefined;
const slugs: Record<Kind, string[]> = { cold: [], nochange: [], code: [], lockfile: [] };
for (let i = 0; i < runs; i++) {
  const src = copyApp(`src-${i}`);
  const cache = freshCache(`cache-${i}`, seed);
  const results = {} as Record<Kind, ReturnType<typeof slugcBuild>>;
  results.cold = slugcBuild(src, cache, `cold-${i}.tgz`);
  results.nochange = slugcBuild(src, cache, `nochange-${i}.tgz`);
  fs.appendFileSync(path.join(src, 'server.js'), `// edited ${i}\n`);
  results.code = slugcBuild(src, cache, `code-${i}.tgz`);
  if (i === 0) {
    // The first run's edited source, kept for the cold build it is compared with at the end.
    sources = { code: copyApp('code-src'), lockfile: '' };
    fs.cpSync(path.join(src, 'server.js'), path.join(sources.code, 'server.js'));
  }
  addPackage(src);
  results.lockfile = slugcBuild(src, cache, `lockfile-${i}.tgz`);
  if (i === 0) sources!.lockfile = (fs.cpSync(src, path.join(work, 'lockfile-src'), { recursive: true }), path.join(work, 'lockfile-src'));
  for (const k of KINDS) {
    rows[k].push(results[k].s);
    slugs[k].push(results[k].slug);
    details.push(`run ${i + 1} ${k.padEnd(8)} ${results[k].s.toFixed(2).padStart(6)} s  steps ${results[k].steps}  [${results[k].layers}]`);
  }
  // Checks of this run's slugs.
  const cold = verify(results.cold.slug);
  if (sha256(results.nochange.slug) !== sha256(results.cold.slug)) throw new Error(`run ${i + 1}: the no-change slug differs from the cold slug`);
  if (JSON.stringify(verify(results.code.slug)) !== JSON.stringify(cold)) throw new Error(`run ${i + 1}: the code-change slug lists other entries than the cold one`);
  const added = verify(results.lockfile.slug).filter((e) => !cold.includes(e));
  if (!added.length || added.some((e) => !e.startsWith(`./app/node_modules/${values.add!.split(/(?<=.)@/)[0]}`))) throw new Error(`run ${i + 1}: the lockfile-change slug adds ${JSON.stringify(added.slice(0, 5))}`);
  // The same edited app file in every run: the code-change slugs must all be equal.
  fs.writeFileSync(path.join(src, 'server.js'), fs.readFileSync(path.join(appSrc, 'server.js')));
}
for (const k of KINDS) if (new Set(slugs[k].map((s) => (k === 'code' || k === 'lockfile' ? null : sha256(s)))).size > 1) throw new Error(`${k} slugs differ between runs`);

// Warm equals cold: cold builds (fresh caches) of the changed sources give the same bytes.
const coldOf = (src: string, name: string) => slugcBuild(src, freshCache(`verify-${name}`, seed), `verify-${name}.tgz`).slug;
const codeCold = coldOf(sources!.code, 'code');
const lockCold = coldOf(sources!.lockfile, 'lockfile');
if (sha256(codeCold) !== sha256(slugs.code[0]!)) throw new Error('the code-change rebuild differs from a cold build of the same source');
if (sha256(lockCold) !== sha256(slugs.lockfile[0]!)) throw new Error('the lockfile-change rebuild differs from a cold build of the same source');
console.log('verified: every slug passes gzip -t; no-change = cold byte for byte in every run; code-change and lockfile-change rebuilds = cold builds of the same sources byte for byte; listings as expected\n');

console.log(details.join('\n'));
const m = Object.fromEntries(KINDS.map((k) => [k, median(rows[k])])) as Record<Kind, number>;
const ratio = (k: Kind) => median(rows[k].map((v, i) => v / rows.cold[i]!));
console.log('\n| build (whole `slugc build` process) | median s | min–max s | vs cold (median of per-run ratios) |');
console.log('|---|---|---|---|');
for (const k of KINDS) console.log(`| ${LABEL[k]} | ${m[k].toFixed(2)} | ${Math.min(...rows[k]).toFixed(2)}–${Math.max(...rows[k]).toFixed(2)} | ${k === 'cold' ? '1.00×' : `**${ratio(k).toFixed(2)}×**`} |`);
fs.rmSync(work, { recursive: true, force: true });
