import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Buildpack } from 'slugc';
import { cleanup, runBuild, testApp } from 'slugc/testing';
import { cliBin, runCli } from '../support/cli.js';

afterEach(cleanup);

const shell: Buildpack = {
  id: 'test/shell',
  name: 'Shell',
  detect: async () => ({ pass: true, reason: 'always' }),
  async compile(ctx) {
    await ctx.profileD('greeting', 'export GREETING="hello from profile.d"');
  },
  async release() {
    return { processTypes: { web: 'bash web.sh', hello: 'echo "$GREETING, HOME=$HOME, PORT=$PORT, NAME=$NAME"' } };
  },
};

describe('slugc run', () => {
  it('runs a process type the way a dyno does: HOME, .profile.d, PORT, config vars', async () => {
    const run = await runBuild({ app: testApp({ 'web.sh': '' }), buildpacks: [shell] });
    const r = runCli(['run', run.slugPath, 'hello', '--env', 'NAME=slugc', '--port', '6001']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^hello from profile\.d, HOME=\/\S+\/app, PORT=6001, NAME=slugc$/m);
  });

  it('takes PORT from the environment when --port is not given, as heroku local does; --port wins; a bad one is a usage error', async () => {
    const run = await runBuild({ app: testApp({ 'web.sh': '' }), buildpacks: [shell] });
    expect(runCli(['run', run.slugPath, 'hello'], { env: { PORT: '6123' } }).stdout).toMatch(/PORT=6123,/);
    expect(runCli(['run', run.slugPath, 'hello', '--env', 'PORT=6124'], { env: { PORT: '6123' } }).stdout).toMatch(/PORT=6124,/);
    expect(runCli(['run', run.slugPath, 'hello', '--port', '6002'], { env: { PORT: '6123' } }).stdout).toMatch(/PORT=6002,/);
    expect(runCli(['run', run.slugPath, 'hello'], { env: { PORT: '' } }).stdout).toMatch(/PORT=5000,/);
    const bad = runCli(['run', run.slugPath, 'hello'], { env: { PORT: 'eighty' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Couldn't use port "eighty" from PORT: not a port number/);
  });

  it('runs a one-off command after --, and exits with its code', async () => {
    const run = await runBuild({ app: testApp({ 'web.sh': '', 'data.txt': 'payload' }), buildpacks: [shell] });
    const r = runCli(['run', run.slugPath, '--', 'cat data.txt; exit 7']);
    expect(r.stdout).toBe('payload');
    expect(r.code).toBe(7);
  });

  it('runs from an unpacked app dir, reading its Procfile', () => {
    const app = testApp({ Procfile: 'web: echo "from the Procfile in $HOME"\n' });
    const r = runCli(['run', app.dir]);
    expect(r.stdout.trim()).toBe(`from the Procfile in ${app.dir}`);
  });

  it('says which process types there are when the one asked for is missing', async () => {
    const run = await runBuild({ app: testApp({ 'web.sh': '' }), buildpacks: [shell] });
    const r = runCli(['run', run.slugPath, 'clock']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no such process type \(it has: web, hello\)/);
  });

  it('forwards SIGTERM to the whole process group', async () => {
    const run = await runBuild({ app: testApp({ 'web.sh': 'trap "echo got TERM; exit 0" TERM; echo ready; while true; do sleep 0.1; done\n' }), buildpacks: [shell] });
    const child = spawn(process.execPath, [cliBin, 'run', run.slugPath, 'web'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    for (let i = 0; i < 100 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(out).toMatch(/got TERM/);
    expect(code).toBe(0);
  });
});

describe('slugc inspect', () => {
  it('shows process types, size, a verified checksum, runtimes and the largest dirs', async () => {
    const big = 'x'.repeat(200_000);
    const run = await runBuild({ app: testApp({ 'web.sh': '', 'assets/big.txt': big, 'lib/small.js': 'y' }), buildpacks: [shell] });
    const r = runCli(['inspect', run.slugPath, '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ checksum: run.slugJson.checksum, checksumMatches: true, processTypes: { web: 'bash web.sh' }, size: fs.statSync(run.slugPath).size });
    expect(report.largestDirs[0]).toEqual({ path: 'assets/', bytes: 200_000 });
    const text = runCli(['inspect', run.slugPath]);
    expect(text.stdout).toMatch(/checksum SHA256:[0-9a-f]{64} \(matches slug\.json\)/);
    expect(text.stdout).toMatch(/195\.3K {2}assets\//);
  });

  it('fails when the slug does not match its slug.json', async () => {
    const run = await runBuild({ app: testApp({ 'web.sh': '' }), buildpacks: [shell] });
    const copy = path.join(path.dirname(run.slugPath), 'other.tgz');
    fs.copyFileSync(run.slugPath, copy);
    fs.writeFileSync(path.join(path.dirname(run.slugPath), 'other.json'), JSON.stringify({ ...run.slugJson, checksum: 'SHA256:00' }));
    const r = runCli(['inspect', copy]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/DOES NOT match slug\.json/);
  });
});
