import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Buildpack } from '../../src/index.js';
import { assertLogContains, assertProcessType, assertSlugContains, cleanup, execRecorder, fakeFetch, runBuild, startProcess, tempDir, testApp } from 'slugc/testing';
import { repoRoot } from '../support/cli.js';

afterEach(cleanup);

/** A buildpack whose web process is a shell command given in `web.sh`. */
const shellWeb: Buildpack = {
  id: 'test/shell-web',
  name: 'Shell web',
  async detect() {
    return { pass: true, reason: 'always' };
  },
  async compile() {},
  async release() {
    return { processTypes: { web: 'bash web.sh', worker: 'sleep 1000' } };
  },
};

describe('startProcess', () => {
  it('fails with a clear timeout and the process output when the port never opens', async () => {
    const run = await runBuild({ app: testApp({ 'web.sh': 'echo "starting but never listening"; sleep 60\n' }), buildpacks: [shellWeb] });
    const err = await startProcess(run, 'web', { timeoutMs: 800 }).catch((e: unknown) => e as Error);
    expect(err).toMatchObject({ code: 'SLUGC_COMMAND_FAILED' });
    expect((err as Error).message).toMatch(/did not answer within 800 ms[\s\S]*starting but never listening/);
  });

  it('fails at once, with its output, when the process exits early', async () => {
    const run = await runBuild({ app: testApp({ 'web.sh': 'echo "missing config" >&2; exit 3\n' }), buildpacks: [shellWeb] });
    const started = Date.now();
    const err = (await startProcess(run, 'web').catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/exited \(3\) before opening port \d+[\s\S]*missing config/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('runs with a PATH holding no language runtimes unless asked to keep the host one', async () => {
    const run = await runBuild({ app: testApp({ 'web.sh': 'command -v node python3 perl > found.txt; exec sleep 60 & echo; exit 9\n' }), buildpacks: [shellWeb] });
    await startProcess(run, 'web', { timeoutMs: 2000 }).catch(() => undefined);
    const probe = await runBuild({ app: testApp({ 'web.sh': 'echo "node=$(command -v node || echo none)"; exit 4\n' }), buildpacks: [shellWeb] });
    expect(((await startProcess(probe).catch((e: unknown) => e)) as Error).message).toMatch(/node=none/);
    expect(((await startProcess(probe, 'web', { keepHostPath: true }).catch((e: unknown) => e)) as Error).message).toMatch(/node=\/\S+node/);
  });

  it('names the process types there are when asked for one that is missing', async () => {
    const run = await runBuild({ app: testApp({ 'web.sh': '' }), buildpacks: [shellWeb] });
    await expect(startProcess(run, 'clock')).rejects.toThrow(/no such process type \(it has: web, worker\)/);
  });
});

describe('cleanup', () => {
  it('kills started processes and removes every temp dir, even after a failed test', async () => {
    const app = testApp({ 'web.sh': 'exec sleep 60\n' });
    const run = await runBuild({ app, buildpacks: [shellWeb] });
    const err = await startProcess(run, 'web', { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    // A process started but not stopped by the test:
    const worker = await startProcess({ slugPath: run.slugPath, release: { processTypes: { web: 'node -e "require(\'http\').createServer().listen(process.env.PORT, \'127.0.0.1\')"' } } }, 'web', { keepHostPath: true });
    const pgid = Number(spawnSync('ps', ['-o', 'pgid=', '-p', String(process.pid)], { encoding: 'utf8' }).stdout.trim());
    expect(pgid).toBeGreaterThan(0);
    const dirs = [app.dir, path.dirname(run.slugPath), worker.appDir];
    expect(dirs.every((d) => fs.existsSync(d))).toBe(true);
    await cleanup();
    expect(dirs.some((d) => fs.existsSync(d))).toBe(false);
    await expect(fetch(worker.url)).rejects.toThrow();
  });

  it('cleans up when the test process itself dies', () => {
    // A child process uses the kit from the built package, starts a web process, and crashes.
    const script = `
      import { runBuild, startProcess, testApp } from 'slugc/testing';
      const app = testApp({ 'web.sh': 'exec sleep 60' });
      const run = await runBuild({ app, buildpacks: [{ id: 'x', name: 'X', detect: async () => ({ pass: true, reason: 'y' }), compile: async () => {}, release: async () => ({ processTypes: { web: 'node -e "require(\\'http\\').createServer().listen(process.env.PORT, \\'127.0.0.1\\')"' } }) }] });
      const web = await startProcess(run, 'web', { keepHostPath: true });
      console.log(JSON.stringify({ dirs: [app.dir, web.appDir], port: web.port }));
      throw new Error('the test crashed');
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toMatch(/the test crashed/);
    const { dirs, port } = JSON.parse(r.stdout) as { dirs: string[]; port: number };
    expect(dirs.some((d) => fs.existsSync(d))).toBe(false);
    const probe = spawnSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]);
    expect(probe.status).not.toBe(0);
  });
});

describe('fakes passed in as parameters', () => {
  it('fakeFetch serves a mirror-shaped folder and records every URL', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'example.test', 'pkg'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'example.test', 'pkg', 'index.json'), '{"ok":true}');
    const f = fakeFetch(dir, { 'https://example.test/down': () => new Response('', { status: 503 }) });
    expect(await (await f.fetch('https://example.test/pkg')).json()).toEqual({ ok: true });
    expect((await f.fetch('https://example.test/missing')).status).toBe(404);
    expect((await f.fetch('https://example.test/down')).status).toBe(503);
    expect(f.calls).toEqual(['https://example.test/pkg', 'https://example.test/missing', 'https://example.test/down']);
  });

  it('execRecorder records commands instead of running them, and can fail one', async () => {
    const bp: Buildpack = {
      id: 'test/cmds',
      name: 'Cmds',
      detect: async () => ({ pass: true, reason: 'always' }),
      async compile(ctx) {
        ctx.exportEnv({ FOO: 'bar' });
        await ctx.exec('make', ['install']);
        await ctx.exec('rm', ['-rf', '/'], { cwd: '/tmp' });
      },
    };
    const rec = execRecorder();
    const run = await runBuild({ app: testApp({}), buildpacks: [bp], exec: rec.exec });
    expect(rec.commands.map((c) => c.line)).toEqual(['make install', 'rm -rf /']);
    expect(rec.commands[0]).toMatchObject({ env: expect.objectContaining({ FOO: 'bar', STACK: expect.any(String) }), cwd: expect.stringMatching(/app$/) });
    expect(rec.commands[1]!.cwd).toBe('/tmp');
    expect(run.slugPath).toBeTruthy();
    const failing = execRecorder((c) => (c.command === 'make' ? { code: 2, stderr: 'make: *** no rule' } : undefined));
    await expect(runBuild({ app: testApp({}), buildpacks: [bp], exec: failing.exec })).rejects.toMatchObject({
      code: 'SLUGC_COMMAND_FAILED',
      buildpack: 'test/cmds',
      message: expect.stringMatching(/make install[\s\S]*no rule/),
      log: expect.any(String),
    });
  });
});

describe('assertions', () => {
  it('say what was expected and what there is', async () => {
    const run = await runBuild({ app: testApp({ 'web.sh': '', 'lib/a.js': '' }), buildpacks: [shellWeb] });
    assertSlugContains(run, 'lib/a.js');
    assertSlugContains(run, './app/lib/');
    assertProcessType(run, 'web', /bash/);
    assertLogContains(run, 'Discovering process types');
    expect(() => assertSlugContains(run, 'lib/b.js')).toThrow(/Expected the slug to contain lib\/b\.js, but it does not\. .*It has \d+ entries/);
    expect(() => assertProcessType(run, 'web', 'node x')).toThrow(/to be node x, but it is "bash web.sh"/);
    expect(() => assertLogContains(run, 'never printed')).toThrow(/none did\. The log:\n {2}\| -----> /);
  });
});
