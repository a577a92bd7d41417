// An app in a subdirectory of its repo (`--app-dir`, `appBase`, the APP_BASE config var):
// buildpacks that declare `workspaces` build it from the repo root, others get the
// subdirectory alone (Heroku's APP_BASE); bad values fail with SLUGC_APP_DIR_INVALID.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Buildpack, CompileContext, DetectContext } from 'slugc';
import { cleanup, runBuild, runCompile, runDetect, testApp, treeHash, type BuildFailure } from 'slugc/testing';
import { runCli } from './support/cli.js';

afterEach(cleanup);

/** A buildpack that records the dirs it was given and writes a marker into the app's dir. */
function recorder(workspaces: boolean): Buildpack & { seen: { detect?: DetectContext; compile?: CompileContext } } {
  const seen: { detect?: DetectContext; compile?: CompileContext } = {};
  return {
    id: workspaces ? 'test/ws' : 'test/alone',
    name: 'Recorder',
    ...(workspaces ? { workspaces: true } : {}),
    seen,
    async detect(ctx) {
      seen.detect = ctx;
      return fs.existsSync(path.join(ctx.projectDir, 'manifest.txt')) ? { pass: true, name: 'Recorded', reason: 'found manifest.txt' } : { pass: false, reason: 'no manifest.txt' };
    },
    async compile(ctx) {
      seen.compile = ctx;
      fs.writeFileSync(path.join(ctx.projectDir, 'compiled.txt'), 'yes\n');
      await ctx.profileD('recorder', 'export RECORDED=1');
    },
    async release() {
      return { processTypes: { worker: 'sh work.sh' } };
    },
  };
}

const repo = () =>
  testApp({
    'README.md': 'a repo\n',
    Procfile: 'web: echo the root app\n',
    'apps/api/manifest.txt': 'api\n',
    'apps/api/Procfile': 'web: sh serve.sh --port $PORT\n',
    'apps/api/serve.sh': 'echo api\n',
    'apps/site/index.html': '<p>site</p>\n',
    'my app/manifest.txt': 'spaced\n',
  });

describe('an app in a subdirectory of its repo', () => {
  it('a buildpack without workspaces gets the subdirectory alone, as Heroku APP_BASE does', async () => {
    const app = repo();
    const before = treeHash(app.dir);
    const bp = recorder(false);
    const r = await runBuild({ app, appBase: 'apps/api', buildpacks: [bp] });
    expect(bp.seen.detect!.appDir).toBe(bp.seen.detect!.projectDir);
    expect(bp.seen.compile!.appDir).toBe(bp.seen.compile!.projectDir);
    expect(r.files).toEqual(expect.arrayContaining(['Procfile', 'manifest.txt', 'serve.sh', 'compiled.txt', '.profile.d/recorder.sh']));
    expect(r.files.some((f) => f.startsWith('apps/') || f === 'README.md')).toBe(false);
    expect(r.release.processTypes).toEqual({ web: 'sh serve.sh --port $PORT', worker: 'sh work.sh' });
    expect(r.log).toMatch(/App dir apps\/api: built on its own \(test\/alone builds an app alone\); the rest of the repo is not in the slug/);
    expect(treeHash(app.dir)).toBe(before);
  });

  it('a workspaces buildpack gets the whole repo and the app dir; the Procfile is the app’s and every process starts there', async () => {
    const app = repo();
    const bp = recorder(true);
    const r = await runBuild({ app, appBase: './apps/api/', buildpacks: [bp] });
    expect(path.relative(bp.seen.detect!.appDir, bp.seen.detect!.projectDir)).toBe('apps/api');
    expect(path.relative(bp.seen.compile!.appDir, bp.seen.compile!.projectDir)).toBe('apps/api');
    expect(r.files).toEqual(expect.arrayContaining(['README.md', 'Procfile', 'apps/api/compiled.txt', 'apps/site/index.html', '.profile.d/recorder.sh']));
    expect(r.release.processTypes).toEqual({ web: 'cd apps/api && sh serve.sh --port $PORT', worker: 'cd apps/api && sh work.sh' });
    expect(r.release.processTypeSources).toEqual({ web: 'Procfile', worker: 'test/ws' });
    expect(r.slugJson.process_types).toEqual(r.release.processTypes);

    const spaced = await runBuild({ app, appBase: 'my app', buildpacks: [recorder(true)] });
    expect(spaced.release.processTypes).toEqual({ worker: "cd 'my app' && sh work.sh" });
  });

  it('detect and compile in the test kit take appBase the same way', async () => {
    const app = repo();
    expect(await runDetect(recorder(true), app, { appBase: 'apps/api' })).toMatchObject({ pass: true });
    expect(await runDetect(recorder(true), app, { appBase: 'apps/site' })).toMatchObject({ pass: false });
    const ws = await runCompile(recorder(true), { app, appBase: 'apps/api' });
    expect(ws.projectDir).toBe(path.join(ws.appDir, 'apps/api'));
    expect(fs.existsSync(path.join(ws.appDir, 'README.md'))).toBe(true);
    const alone = await runCompile(recorder(false), { app, appBase: 'apps/api' });
    expect(alone.projectDir).toBe(alone.appDir);
    expect(fs.readdirSync(alone.appDir).sort()).toEqual(['.profile.d', 'Procfile', 'compiled.txt', 'manifest.txt', 'serve.sh']);
  });

  it.each([
    ['/etc', /it is an absolute path/],
    ['../elsewhere', /it leads out of the repo/],
    ['apps/../../x', /it leads out of the repo/],
    ['.git/hooks', /\.git is never part of a build/],
    ['apps/missing', /apps\/missing does not exist in/],
    ['README.md', /README\.md is not a directory/],
    ['link', /link is a symlink/],
    ['ignored', /\.slugignore leaves it out/],
  ])('refuses %s with SLUGC_APP_DIR_INVALID', async (appBase, message) => {
    const app = repo();
    fs.mkdirSync(path.join(app.dir, 'ignored'));
    fs.writeFileSync(path.join(app.dir, 'ignored', 'manifest.txt'), 'x\n');
    fs.writeFileSync(path.join(app.dir, '.slugignore'), 'ignored/\n');
    fs.symlinkSync('apps/api', path.join(app.dir, 'link'));
    const err = (await runBuild({ app, appBase, buildpacks: [recorder(true)] }).catch((e: unknown) => e)) as BuildFailure;
    expect(err.code).toBe('SLUGC_APP_DIR_INVALID');
    expect(err.message).toMatch(message);
    expect(err.hint).toBeTruthy();
  });

  it('APP_BASE as a config var; "." is the repo itself', async () => {
    const app = repo();
    const viaConfig = await runBuild({ app, env: { APP_BASE: 'apps/api' }, buildpacks: [recorder(false)] });
    expect(viaConfig.log).toMatch(/App dir: apps\/api \(the APP_BASE config var\)/);
    expect(viaConfig.files).toContain('serve.sh');
    fs.writeFileSync(path.join(app.dir, 'manifest.txt'), 'root\n');
    const root = await runBuild({ app, appBase: '.', buildpacks: [recorder(true)] });
    expect(root.release.processTypes).toEqual({ web: 'echo the root app', worker: 'sh work.sh' });
  });

  it('the CLI: --app-dir on build and detect; a bad value is a usage error (exit 2)', () => {
    const app = testApp({ 'README.md': 'x\n', 'packages/web/package.json': '{"name":"web"}' });
    const bad = runCli(['build', app.dir, '--app-dir', '../x', '-o', path.join(app.dir, '..', 'slug.tgz')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Couldn't use "\.\.\/x" \(--app-dir\) as the app dir: it leads out of the repo/);
    const missing = runCli(['build', app.dir, '--app-dir', 'packages/nope', '-o', path.join(app.dir, '..', 'slug.tgz'), '--no-cache']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/SLUGC_APP_DIR_INVALID/);
    const detect = runCli(['detect', app.dir, '--app-dir', 'packages/web', '--json']);
    expect(detect.code).toBe(0);
    const report = JSON.parse(detect.stdout) as { selected: string[]; answers: { id: string; reason: string }[] };
    expect(report.selected).toEqual(['slugc/nodejs']);
    expect(report.answers.find((a) => a.id === 'slugc/nodejs')!.reason).toBe('found package.json in packages/web');
    const text = runCli(['detect', app.dir, '--app-dir', 'packages/web']);
    expect(text.stdout).toContain(`-----> Detecting buildpacks for ${app.dir} (app dir packages/web)`);
    expect(text.stdout).toMatch(/yes {2}slugc\/nodejs \(Node\.js\): found package\.json in packages\/web/);
  });
});
