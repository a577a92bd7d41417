// Times a cold build, a warm no-change rebuild and a rebuild after a one-line
// lockfile change of a Node app with a large dependency tree, beside plain
// `npm ci` on the same app, in one run:
//   npm run bench:cache [-- --app DIR --runs N]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build, createLogger } from '../src/index.js';

const { values } = parseArgs({
  options: {
    app: { type: 'string', default: path.resolve('fixtures/apps/node-large') },
    runs: { type: 'string', default: '1' },
    'downloads-from': { type: 'string', default: path.resolve('.slugc-cache/test-cache') },
  },
});
const appSrc = path.resolve(values.app!);
const runs = Number(values.runs);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-bench-cache-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const copyApp = (name: string) => {
  const d = path.join(work, name);
  fs.cpSync(appSrc, d, { recursive: true });
  return d;
};
/** Seeds a fresh cache with the verified downloads store only, so "cold" measures the build, not the internet. */
const freshCache = (name: string) => {
  const c = path.join(work, name);
  const from = path.join(values['downloads-from']!, 'downloads');
  if (fs.existsSync(from)) spawnSync('cp', ['-al', from, path.join(c, 'downloads')], { stdio: 'ignore' });
  fs.mkdirSync(c, { recursive: true });
  return c;
};
const time = async (f: () => Promise<unknown> | unknown) => {
  const t = performance.now();
  await f();
  return (performance.now() - t) / 1000;
};
const npmCi = (dir: string, cache: string) => {
  const r = spawnSync('npm', ['ci', '--include=dev', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, env: { ...process.env, npm_config_cache: cache }, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`npm ci failed in ${dir}`);
};
const slugcBuild = async (src: string, cache: string, out: string) => {
  const r = await build({ sourceDir: src, output: path.join(work, out), cacheDir: cache, app: 'bench', logger: createLogger() });
  return r;
};

const lockPackages = Object.keys((JSON.parse(fs.readFileSync(path.join(appSrc, 'package-lock.json'), 'utf8')) as { packages: object }).packages).length - 1;
console.log(`app: ${appSrc} (${lockPackages} packages in package-lock.json), runs: ${runs}`);
type Row = 'npmCold' | 'npmWarm' | 'cold' | 'warm' | 'changed';
const rows: Record<Row, number[]> = { npmCold: [], npmWarm: [], cold: [], warm: [], changed: [] };
let hits = '';
for (let i = 0; i < runs; i++) {
  const npmCache = path.join(work, `npm-cache-${i}`);
  rows.npmCold.push(await time(() => npmCi(copyApp(`npm-cold-${i}`), npmCache)));
  rows.npmWarm.push(await time(() => npmCi(copyApp(`npm-warm-${i}`), npmCache)));
  const src = copyApp(`slugc-${i}`);
  const cache = freshCache(`cache-${i}`);
  rows.cold.push(await time(() => slugcBuild(src, cache, `cold-${i}.tgz`)));
  let warm;
  rows.warm.push(await time(async () => (warm = await slugcBuild(src, cache, `warm-${i}.tgz`))));
  const lockFile = path.join(src, 'package-lock.json');
  fs.writeFileSync(lockFile, fs.readFileSync(lockFile, 'utf8').replace('"version": "1.0.0"', '"version": "1.0.1"'));
  let changed;
  rows.changed.push(await time(async () => (changed = await slugcBuild(src, cache, `changed-${i}.tgz`))));
  const states = (r: { cache: { layers: { layer: string; state: string }[] } } | undefined) => r?.cache.layers.map((l) => `${l.layer}:${l.state}`).join(' ');
  hits = `warm: ${states(warm)}; changed: ${states(changed)}`;
}
const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)])) as Record<Row, number>;
const f = (n: number) => n.toFixed(2);
console.log('\n| build | median s | vs slugc cold | vs plain npm ci (cold npm cache) |');
console.log('|---|---|---|---|');
console.log(`| plain \`npm ci\`, empty npm cache | ${f(m.npmCold)} | | 1.00× |`);
console.log(`| plain \`npm ci\`, warm npm cache | ${f(m.npmWarm)} | | ${f(m.npmWarm / m.npmCold)}× |`);
console.log(`| slugc cold (no layers) | ${f(m.cold)} | 1.00× | ${f(m.cold / m.npmCold)}× |`);
console.log(`| slugc warm, nothing changed | ${f(m.warm)} | **${f(m.warm / m.cold)}×** | ${f(m.warm / m.npmCold)}× |`);
console.log(`| slugc after a one-line lockfile change | ${f(m.changed)} | **${f(m.changed / m.cold)}×** | ${f(m.changed / m.npmCold)}× |`);
console.log(`\nlayers: ${hits}`);
fs.rmSync(work, { recursive: true, force: true });
