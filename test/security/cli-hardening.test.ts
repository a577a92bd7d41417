// What a careless pipe, a closed terminal, a killed build or a bad flag did
// to the CLI: each now ends cleanly, says what happened, and leaves no temp
// dir, lock or partial slug behind.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, runBuild, tempDir, testApp } from 'slugc/testing';
import { cliBin, runCli } from '../support/cli.js';
import { alive } from '../support/processes.js';

afterEach(cleanup);

/** A buildpack module the CLI loads with -b: writes files, optionally runs a shell command. */
function jsBuildpack(compileShell = ''): string {
  const file = path.join(tempDir('slugc-bp-'), 'bp.mjs');
  fs.writeFileSync(
    file,
    `export default { id: 'test/js', name: 'JS', async detect() { return { pass: true, reason: 'always' }; },
      async compile(ctx) { ctx.log.info('compiling'); ${compileShell ? `await ctx.exec('bash', ['-c', ${JSON.stringify(compileShell)}]);` : ''} },
      async release() { return { processTypes: { web: 'sleep 1' } }; } };`,
  );
  return file;
}

/** Runs the CLI with its own TMPDIR, so what it leaves there can be counted. */
function spawnCli(args: string[], tmp: string) {
  return spawn(process.execPath, ['--', cliBin, ...args], { env: { ...process.env, TMPDIR: tmp, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
}

const exitOf = (child: ReturnType<typeof spawn>) => new Promise<{ code: number | null; signal: string | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));

describe('a closed output pipe (EPIPE)', () => {
  it('ends `slugc build | head -1` without a stack trace, and leaves no temp dir, lock or partial slug', () => {
    const tmp = tempDir('slugc-tmp-');
    const out = tempDir();
    const cache = tempDir('slugc-cache-');
    const app = testApp({ 'a.txt': 'x'.repeat(1000) }).dir;
    const script = `"${process.execPath}" -- "${cliBin}" build "${app}" -b "${jsBuildpack('for i in $(seq 1 200); do echo line $i; done')}" --cache-dir "${cache}" --app piped -o "${out}/slug.tgz" | head -1; echo "status=\${PIPESTATUS[0]}" >&2`;
    const r = spawnSync('bash', ['-c', script], { env: { ...process.env, TMPDIR: tmp, NO_COLOR: '1' }, encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/EPIPE|at .*\.js:\d+|Unhandled/);
    expect(r.stderr).toMatch(/status=(141|0)/);
    expect(fs.readdirSync(tmp)).toEqual([]);
    // The build dir (in the app's cache dir) went to the trash, which a background thread or the next build empties.
    expect(fs.readdirSync(path.join(cache, 'apps', 'piped', 'work'))).toEqual([]);
    expect(fs.existsSync(path.join(cache, 'apps', 'piped.lock'))).toBe(false);
    expect(fs.readdirSync(out).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('ends `slugc inspect | head -1` quietly', async () => {
    const run = await runBuild({ app: testApp({ 'a.txt': '' }), buildpacks: [{ id: 'x', name: 'X', detect: async () => ({ pass: true, reason: 'y' }), compile: async () => {} }] });
    const r = spawnSync('bash', ['-c', `"${process.execPath}" -- "${cliBin}" inspect "${run.slugPath}" | head -1`], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/EPIPE|Error/);
  });
});

describe('a closed terminal (SIGHUP)', () => {
  it('stops the build like Ctrl-C: its commands end, temp dir and lock go, exit 130', async () => {
    const tmp = tempDir('slugc-tmp-');
    const cache = tempDir('slugc-cache-');
    const pidFile = path.join(tempDir(), 'pid');
    const child = spawnCli(['build', testApp({ 'a.txt': '' }).dir, '-b', jsBuildpack(`sleep 300 & echo $! > ${pidFile}; wait`), '--cache-dir', cache, '--app', 'hup', '-o', path.join(tempDir(), 's.tgz')], tmp);
    for (let i = 0; i < 200 && !fs.existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
    const sleeper = Number(fs.readFileSync(pidFile, 'utf8'));
    child.kill('SIGHUP');
    const { code } = await exitOf(child);
    expect(code).toBe(130);
    let alive = true;
    for (let i = 0; i < 40 && alive; i++) {
      try {
        process.kill(sleeper, 0);
        await new Promise((r) => setTimeout(r, 50));
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
    expect(fs.readdirSync(tmp)).toEqual([]);
    expect(fs.readdirSync(path.join(cache, 'apps', 'hup', 'work'))).toEqual([]);
    expect(fs.existsSync(path.join(cache, 'apps', 'hup.lock'))).toBe(false);
  });
});

describe('a build killed with SIGKILL', () => {
  it('leaves an orphan that the next build of the app stops before it takes over the lock', async () => {
    const tmp = tempDir('slugc-tmp-');
    const cache = tempDir('slugc-cache-');
    const pidFile = path.join(tempDir(), 'pid');
    // The orphan is in its own session (setsid), as a daemonising tool would be.
    const first = spawnCli(['build', testApp({ 'a.txt': '' }).dir, '-b', jsBuildpack(`setsid sh -c 'echo $$ > ${pidFile}; while :; do sleep 0.1; done' & sleep 300`), '--cache-dir', cache, '--app', 'killed', '-o', path.join(tempDir(), 's.tgz')], tmp);
    for (let i = 0; i < 200 && !fs.existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 100));
    const orphan = Number(fs.readFileSync(pidFile, 'utf8'));
    first.kill('SIGKILL');
    await exitOf(first);
    expect(alive(orphan)).toBe(true); // still running after its build died
    try {
      const second = runCli(['build', testApp({ 'a.txt': '' }).dir, '-b', jsBuildpack(), '--cache-dir', cache, '--app', 'killed', '-o', path.join(tempDir(), 's2.tgz')]);
      expect(second.code).toBe(0);
      expect(second.stderr).toMatch(/Taking over a stale cache lock/);
      expect(second.stderr).toMatch(new RegExp(`Stopped \\d+ process(es)? the killed build left running \\([^)]*\\b${orphan}\\b`));
      expect(alive(orphan)).toBe(false);
      // The killed build's dir was moved out of the way; the trash keeps at most a couple of entries.
      expect(fs.readdirSync(path.join(cache, 'apps', 'killed', 'work'))).toEqual([]);
      expect(fs.readdirSync(path.join(cache, 'apps', 'killed', 'trash')).length).toBeLessThanOrEqual(3);
    } finally {
      try {
        process.kill(orphan, 'SIGKILL');
      } catch {
        /* stopped by the build, as it should be */
      }
    }
  });
});

describe('flags that make no sense', () => {
  it('are usage errors (exit 2) before any work: --env-file that is missing, --app ../x, --stack ../x, --mirror ftp://x', () => {
    const app = testApp({ 'a.txt': '' }).dir;
    const out = path.join(tempDir(), 's.tgz');
    const missing = runCli(['build', app, '-o', out, '--env-file', '/nonexistent/env']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Couldn't read the env file \/nonexistent\/env/);
    expect(missing.stderr).not.toMatch(/^node:/m);
    for (const flag of [['--app', '../x'], ['--stack', '../x'], ['--mirror', 'ftp://x']]) {
      const r = runCli(['build', app, '-o', out, ...flag]);
      expect(r.code, flag.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/SLUGC_USAGE/);
    }
  });

  it('refuses -o naming a directory, a path under a file, or a file of the source app, and leaves the source as it was', () => {
    const app = testApp({ 'server.js': 'console.log(1)\n', sub: { link: 'server.js' } });
    const dir = tempDir();
    expect(runCli(['build', app.dir, '-o', dir]).stderr).toMatch(/it is a directory/);
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, '');
    expect(runCli(['build', app.dir, '-o', path.join(file, 'slug.tgz')]).stderr).toMatch(/is a file/);
    const r = runCli(['build', app.dir, '-o', path.join(app.dir, 'server.js')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/server\.js in the app's source, which slugc never modifies/);
    expect(fs.readFileSync(path.join(app.dir, 'server.js'), 'utf8')).toBe('console.log(1)\n');
  });
});

describe('slugc inspect on what is not a slug', () => {
  it('says so with exit 1 for garbage and a directory, and prints JSON errors with --json', () => {
    const garbage = path.join(tempDir(), 'g.tgz');
    fs.writeFileSync(garbage, 'not a slug at all');
    const g = runCli(['inspect', garbage]);
    expect(g.code).toBe(1);
    expect(g.stderr).toMatch(/not gzip'd/);
    const d = runCli(['inspect', tempDir()]);
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/it is a directory/);
    expect(d.stderr).not.toMatch(/bug/);
    const j = runCli(['inspect', garbage, '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, error: { code: 'SLUGC_INVALID_INPUT' } });
  });
});

describe('slugc run on a tarball without ./app', () => {
  it('removes its temp dir', () => {
    const tmp = tempDir('slugc-tmp-');
    const src = tempDir();
    fs.writeFileSync(path.join(src, 'x'), '');
    const tgz = path.join(tempDir(), 'bad.tgz');
    spawnSync('tar', ['-czf', tgz, '-C', src, 'x']);
    const r = spawnSync(process.execPath, ['--', cliBin, 'run', tgz], { env: { ...process.env, TMPDIR: tmp }, encoding: 'utf8' });
    expect(r.stderr).toMatch(/it is not a slug/);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });
});

describe('slugc cache clear', () => {
  it('removes fetched buildpacks too, and leaves a running build its lock and layers', () => {
    const cache = tempDir('slugc-cache-');
    for (const d of ['apps/idle/layers', 'apps/busy/layers', 'buildpacks/unpacked/x', 'downloads/sha256']) fs.mkdirSync(path.join(cache, d), { recursive: true });
    fs.mkdirSync(path.join(cache, 'apps', 'busy.lock'));
    fs.writeFileSync(path.join(cache, 'apps', 'busy.lock', 'owner.json'), JSON.stringify({ pid: process.pid, host: 'h', since: '', nonce: 'n' }));
    const r = runCli(['cache', 'clear', '--cache-dir', cache]);
    expect(r.stderr).toMatch(/Left busy alone: a build of it is running/);
    expect(fs.existsSync(path.join(cache, 'apps', 'idle'))).toBe(false);
    expect(fs.existsSync(path.join(cache, 'apps', 'busy.lock'))).toBe(true);
    expect(fs.existsSync(path.join(cache, 'apps', 'busy', 'layers'))).toBe(true);
    fs.rmSync(path.join(cache, 'apps', 'busy.lock'), { recursive: true });
    expect(runCli(['cache', 'clear', '--cache-dir', cache]).code).toBe(0);
    expect(fs.readdirSync(cache).sort()).toEqual(['apps']);
    expect(fs.readdirSync(path.join(cache, 'apps'))).toEqual([]);
  });
});
