// How long buildpack tests take with slugc/testing, on the fixture Node app:
//   npm run bench:testing [-- --runs 5]
// (1) a unit test: detect + compile of the Node.js buildpack with commands
//     recorded, not run (runCompile + execRecorder), no slug packed: it
//     measures the kit and the buildpack's own logic;
// (2) a full test: build for real (npm ci against the registry, warm cache),
//     start the web process from the slug and get an HTTP answer.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { nodejsBuildpack } from 'slugc/buildpacks';
import { clearCache } from 'slugc';
import { cleanup, execRecorder, fixtureApp, runBuild, runCompile, runDetect, startProcess } from 'slugc/testing';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, cache: { type: 'string', default: path.resolve('.slugc-cache/test-cache') } } });
const runs = Number(values.runs);
const fixture = path.resolve('fixtures/apps/node-express');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = async (f: () => Promise<void>) => {
  const t = performance.now();
  await f();
  return (performance.now() - t) / 1000;
};

let n = 0;
async function unitTest() {
  const app = fixtureApp(fixture);
  const detected = await runDetect(nodejsBuildpack, app);
  if (!detected.pass) throw new Error('detect failed');
  const rec = execRecorder();
  // The shared cache gives the runtime download; an app name of its own keeps the
  // (never filled) layers of recorded commands away from other builds.
  const appName = `bench-unit-${process.pid}-${n++}`;
  const run = await runCompile(nodejsBuildpack, { app, exec: rec.exec, cacheDir: values.cache!, appName });
  clearCache(values.cache!, appName);
  if (!rec.commands.some((c) => c.line.startsWith('npm ci')) || !run.profileD('nodejs.sh')?.includes('$HOME/.heroku/node')) throw new Error('unexpected compile');
}

async function fullTest() {
  const app = fixtureApp(fixture);
  const run = await runBuild({ app, buildpacks: [nodejsBuildpack], cacheDir: values.cache!, appName: 'bench-full' });
  const web = await startProcess(run, 'web');
  const res = await fetch(web.url);
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  web.stop();
}

// One untimed run of each fills the cache (runtime download, layers).
await unitTest();
await fullTest();
await cleanup();
const unit: number[] = [];
const full: number[] = [];
for (let i = 0; i < runs; i++) {
  unit.push(await time(unitTest));
  full.push(await time(fullTest));
  await cleanup();
}
console.log(`fixture: ${fixture}, runs: ${runs} (after one warm-up run of each)\n`);
console.log('| test | median s | min s | max s |');
console.log('|---|---|---|---|');
console.log(`| detect + compile unit test (commands recorded, not run) | ${median(unit).toFixed(2)} | ${Math.min(...unit).toFixed(2)} | ${Math.max(...unit).toFixed(2)} |`);
console.log(`| full test: build, start web from the slug, HTTP GET | ${median(full).toFixed(2)} | ${Math.min(...full).toFixed(2)} | ${Math.max(...full).toFixed(2)} |`);
