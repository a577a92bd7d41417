// Rebuild speed of an app in an npm-workspaces monorepo (`--app-dir`), as whole
// processes in one run:
//   npm run bench:monorepo [-- --app DIR --runs N]
//
// The repo is made from the large Node fixture: its app becomes packages/web
// (depending on a workspace package packages/lib), the root declares the
// workspaces, and the root lockfile is made with `npm install
// --package-lock-only` against the registry. Each run, on a fresh cache dir
// seeded with the verified downloads, registry documents and npm's own cache:
// `npm ci` alone at the root (the plain package manager on the same input,
// same npm cache), a cold `slugc build --app-dir packages/web`, a no-change
// rebuild, and a no-change rebuild with NODE_MODULES_CACHE=false (the
// workspace installed on every build, as slugc did before the workspace
// layer). `sync` before each. Every slug passes `gzip -t`; the rebuilds list
// the same entries as the cold slug, and the no-change slug equals it byte
// for byte.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { copyApp, median, run, seededCache, sha256, slugcBuild, verifySlug } from './support.js';

const { values } = parseArgs({
  options: {
    app: { type: 'string', default: path.resolve('fixtures/apps/node-large') },
    runs: { type: 'string', default: '3' },
    'seed-from': { type: 'string', default: path.resolve('.slugc-cache/test-cache') },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a whole number >= 1');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-bench-monorepo-'));
const APP = 'bench-monorepo';

// The repo.
const repo = path.join(work, 'repo');
fs.mkdirSync(path.join(repo, 'packages', 'lib'), { recursive: true });
copyApp(path.resolve(values.app!), path.join(repo, 'packages'), 'web');
fs.rmSync(path.join(repo, 'packages', 'web', 'package-lock.json'), { force: true });
const web = JSON.parse(fs.readFileSync(path.join(repo, 'packages', 'web', 'package.json'), 'utf8'));
web.name = 'web';
web.dependencies = { ...web.dependencies, lib: '1.0.0' };
fs.writeFileSync(path.join(repo, 'packages', 'web', 'package.json'), JSON.stringify(web, null, 2) + '\n');
fs.writeFileSync(path.join(repo, 'packages', 'lib', 'package.json'), JSON.stringify({ name: 'lib', version: '1.0.0', main: 'index.js' }, null, 2) + '\n');
fs.writeFileSync(path.join(repo, 'packages', 'lib', 'index.js'), "module.exports = 'lib';\n");
fs.writeFileSync(path.join(repo, 'package.json'), JSON.stringify({ name: 'monorepo', private: true, workspaces: ['packages/*'] }, null, 2) + '\n');
run('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: repo });
const packages = Object.keys((JSON.parse(fs.readFileSync(path.join(repo, 'package-lock.json'), 'utf8')) as { packages: object }).packages).length - 1;
console.log(`repo: ${repo} (packages/web from ${values.app}; ${packages} entries in the root package-lock.json), runs: ${runs}, node ${process.version}, npm ${run('npm', ['--version']).trim()}, ${os.availableParallelism()} CPUs, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

const build = (cache: string, out: string, more: string[] = []) => slugcBuild(repo, path.join(work, out), ['--app-dir', 'packages/web', '--cache-dir', cache, '--app', APP, ...more]);

// Seed: one untimed build fills the downloads, registry documents and npm's cache.
const seed = path.join(work, 'seed');
fs.mkdirSync(seed);
for (const d of ['downloads', 'metadata']) if (fs.existsSync(path.join(values['seed-from']!, d))) run('cp', ['-al', path.join(values['seed-from']!, d), path.join(seed, d)]);
build(seed, 'seed.tgz');
const npmCache = path.join(seed, 'apps', APP, 'buildpacks', 'slugc_nodejs', 'npm-cache');
console.log('seeded: downloads, registry documents, npm cache\n');

type Kind = 'npmci' | 'cold' | 'nochange' | 'uncached';
const KINDS: Kind[] = ['npmci', 'cold', 'nochange', 'uncached'];
const LABEL: Record<Kind, string> = {
  npmci: '`npm ci` alone at the root (same npm cache)',
  cold: 'slugc cold (no layers)',
  nochange: 'slugc no change (workspace layer)',
  uncached: 'slugc no change, NODE_MODULES_CACHE=false (installs, as before)',
};
const rows: Record<Kind, number[]> = { npmci: [], cold: [], nochange: [], uncached: [] };
const details: string[] = [];
const coldSums = new Set<string>();
for (let i = 0; i < runs; i++) {
  // The plain package manager: npm ci on a fresh copy of the repo, with a copy of the seeded npm cache.
  const plain = copyApp(repo, work, `plain-${i}`);
  const plainCache = path.join(work, `npm-cache-${i}`);
  run('cp', ['-al', npmCache, plainCache]);
  run('sync', []);
  const t = performance.now();
  run('npm', ['ci', '--include=dev', '--no-audit', '--no-fund', '--prefer-offline', '--cache', plainCache], { cwd: plain });
  rows.npmci.push((performance.now() - t) / 1000);
  if (!fs.existsSync(path.join(plain, 'node_modules', 'lib'))) throw new Error('npm ci did not link the workspace package');
  fs.rmSync(plain, { recursive: true, force: true });

  const cache = seededCache(path.join(work, `cache-${i}`), seed, APP);
  const cold = build(cache, `cold-${i}.tgz`);
  const nochange = build(cache, `nochange-${i}.tgz`);
  const uncached = build(cache, `uncached-${i}.tgz`, ['-e', 'NODE_MODULES_CACHE=false']);
  rows.cold.push(cold.s);
  rows.nochange.push(nochange.s);
  rows.uncached.push(uncached.s);
  details.push(`run ${i + 1} npm ci ${rows.npmci[i]!.toFixed(2)} s`);
  for (const [k, r] of [['cold', cold], ['nochange', nochange], ['uncached', uncached]] as const) details.push(`run ${i + 1} ${k.padEnd(8)} ${r.s.toFixed(2).padStart(6)} s  steps ${r.steps}  [${r.layers}]`);
  // Checks.
  const listing = JSON.stringify(verifySlug(cold.slug));
  if (!listing.includes('./app/node_modules/lib') || !listing.includes('./app/packages/web/server.js')) throw new Error(`run ${i + 1}: the cold slug lacks the workspace link or the app`);
  if (JSON.stringify(verifySlug(nochange.slug)) !== listing || JSON.stringify(verifySlug(uncached.slug)) !== listing) throw new Error(`run ${i + 1}: a rebuild lists other entries than the cold slug`);
  if (sha256(nochange.slug) !== sha256(cold.slug)) throw new Error(`run ${i + 1}: the no-change slug differs from the cold one`);
  if (!/workspace_node_modules:hit/.test(nochange.layers)) throw new Error(`run ${i + 1}: the no-change rebuild did not restore the workspace layer: ${nochange.layers}`);
  if (/workspace_node_modules/.test(uncached.layers) || uncached.steps.includes('install 0.00')) throw new Error(`run ${i + 1}: the NODE_MODULES_CACHE=false rebuild did not install: ${uncached.steps} [${uncached.layers}]`);
  coldSums.add(sha256(cold.slug));
}
if (coldSums.size > 1) throw new Error('the cold slugs differ between runs');
console.log('verified: every slug passes gzip -t and holds packages/web and the node_modules/lib workspace link; both rebuilds list the same entries as cold; no-change = cold byte for byte, in every run; cold slugs equal across runs\n');
console.log(details.join('\n'));
const ratio = (k: Kind, to: Kind) => median(rows[k].map((v, i) => v / rows[to][i]!));
console.log('\n| what (whole processes) | median s | min–max s | vs slugc cold | vs npm ci alone |');
console.log('|---|---|---|---|---|');
for (const k of KINDS) {
  console.log(`| ${LABEL[k]} | ${median(rows[k]).toFixed(2)} | ${Math.min(...rows[k]).toFixed(2)}–${Math.max(...rows[k]).toFixed(2)} | ${ratio(k, 'cold').toFixed(2)}× | ${ratio(k, 'npmci').toFixed(2)}× |`);
}
fs.rmSync(work, { recursive: true, force: true });
