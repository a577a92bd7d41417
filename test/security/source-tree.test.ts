// Source trees slugc could not copy used to end as "a bug in slugc": each
// case now has its own code and hint. And one rule for symlinks that point
// out of the app, the same in `slugc build` and `slugc run`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { build, prepareBuildDir, type Buildpack } from 'slugc';
import { cleanup, tempDir, testApp } from 'slugc/testing';
import { copyStep } from '../../src/build-dir.js';
import { cliBin, runCli } from '../support/cli.js';

afterEach(cleanup);

const plain: Buildpack = { id: 'test/plain', name: 'Plain', detect: async () => ({ pass: true, reason: 'always' }), compile: async () => {}, release: async () => ({ processTypes: { web: 'cat pw' } }) };
const opts = () => ({ output: path.join(tempDir(), 'slug.tgz'), cacheDir: tempDir(), hostEnv: { PATH: process.env.PATH } });

describe('source trees slugc cannot copy as they are', () => {
  it('names a file whose name is not UTF-8, and .slugignore can leave it out', async () => {
    const app = testApp({ 'data/ok.txt': 'x' });
    const bad = Buffer.concat([Buffer.from(path.join(app.dir, 'data') + '/'), Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x74])]);
    fs.writeFileSync(bad, 'latin-1 name');
    await expect(build({ ...opts(), sourceDir: app.dir, buildpacks: [plain] })).rejects.toMatchObject({
      code: 'SLUGC_SOURCE_NAME_INVALID',
      message: expect.stringMatching(/Couldn't copy "data\/"f\\xff\\xfe\.t: its name is not valid UTF-8/),
      hint: expect.stringMatching(/\.slugignore/),
    });
    app.write({ '.slugignore': 'data/f*\n' });
    const r = await build({ ...opts(), sourceDir: app.dir, buildpacks: [plain] });
    expect(r.slug.metadata.contents.entries).toBeGreaterThan(0);
  });

  it('names a file it may not read (as a user other than its owner)', () => {
    const app = testApp({ 'secret.key': 'k', 'ok.txt': '' });
    fs.chmodSync(path.join(app.dir, 'secret.key'), 0o600);
    fs.chmodSync(path.dirname(app.dir), 0o755);
    fs.chmodSync(app.dir, 0o755);
    const out = tempDir();
    fs.chmodSync(out, 0o777);
    // As nobody: root reads everything, so only another user meets the permission.
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--', cliBin, 'build', app.dir, '-b', 'x/y', '--no-cache', '-o', path.join(out, 's.tgz')], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: out, TMPDIR: out, NO_COLOR: '1' },
    });
    expect(r.stderr).toMatch(/Couldn't read secret\.key in the source dir: permission denied/);
    expect(r.stderr).toMatch(/SLUGC_SOURCE_UNREADABLE/);
    expect(r.status).toBe(1);
  });

  it('names a path too long for the file system', () => {
    const app = testApp({ 'a.txt': '' });
    // Made with relative paths (cd, then mkdir), so the whole path can pass PATH_MAX (4096).
    const seg = 'd'.repeat(250);
    const r = spawnSync('bash', ['-c', `cd "${app.dir}" && for i in $(seq 1 17); do mkdir ${seg} && cd ${seg} || exit 1; done; echo x > f.txt`]);
    expect(r.status).toBe(0);
    const dest = path.join(tempDir(), 'app');
    try {
      expect(() => prepareBuildDir(app.dir, dest)).toThrow(expect.objectContaining({ code: 'SLUGC_SOURCE_PATH_TOO_LONG', hint: expect.stringMatching(/Shorten/) }));
    } finally {
      // GNU rm walks with relative paths; Node's rmSync cannot remove what is deeper than PATH_MAX.
      spawnSync('rm', ['-rf', app.dir, dest]);
    }
  });

  it('maps a file that vanished between listing and copying to SLUGC_SOURCE_CHANGED', () => {
    const vanished = Object.assign(new Error("ENOENT: no such file or directory, copyfile 'a'"), { code: 'ENOENT' });
    expect(() =>
      copyStep('/src/a', 'a', () => {
        throw vanished;
      }),
    ).toThrow(expect.objectContaining({ code: 'SLUGC_SOURCE_CHANGED', hint: expect.stringMatching(/Something is changing the app dir/) }));
  });

  it('says a file disappeared while copying, instead of a bug, when a watcher deletes files during a real copy', () => {
    const app = testApp({ 'a.txt': '' });
    // A watcher deleting files as they appear: the copy meets one that readdir listed and then vanished.
    const dir = path.join(app.dir, 'churn');
    fs.mkdirSync(dir);
    const churn = spawnSync('bash', ['-c', `for i in $(seq 1 1500); do : > "${dir}/f$i"; done`]);
    expect(churn.status).toBe(0);
    const deleter = spawnSync('bash', ['-c', `( for i in $(seq 1 1500); do rm -f "${dir}/f$i"; done ) & node -e "
      const { prepareBuildDir } = await import('${path.join(path.dirname(cliBin), '..', 'index.js')}');
      try { prepareBuildDir('${app.dir}', '${path.join(tempDir(), 'app')}'); console.log('copied'); } catch (e) { console.log(e.code); }
    " --input-type=module; wait`], { encoding: 'utf8', timeout: 60_000 });
    // Either the copy won the race, or it lost and said why: never a raw ENOENT.
    expect(deleter.stdout.trim()).toMatch(/^(copied|SLUGC_SOURCE_CHANGED)$/);
  });
});

describe('symlinks that point out of the app', () => {
  it('are packed with a warning at build, and created by slugc run (one rule for both)', async () => {
    const app = testApp({ pw: { link: '/etc/hostname' }, root: { link: '/' }, up: { link: '../../x' }, 'in.txt': 'x', inside: { link: 'in.txt' } });
    const r = await build({ ...opts(), sourceDir: app.dir, buildpacks: [plain] });
    expect(r.log).toMatch(/3 symlinks in the slug point outside the app: pw -> \/etc\/hostname, root -> \/, up -> \.\.\/\.\.\/x/);
    const run = runCli(['run', r.slug.path]);
    expect(run.stderr).not.toMatch(/malicious|broken|UNSAFE/);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(fs.readFileSync('/etc/hostname', 'utf8'));
  });
});
