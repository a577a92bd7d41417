// Files slugc reads from the app never follow a link out of it: a Procfile,
// app.json, .buildpacks, .slugignore or package.json that links to a host
// file is refused, and the host file's content never reaches slug.json, the
// log or an error.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { build, type Buildpack } from 'slugc';
import { nodejsBuildpack } from 'slugc/buildpacks';
import { cleanup, tempDir, testApp } from 'slugc/testing';

afterEach(cleanup);

const SECRET = 'root-only-secret-4e1d';
/** A host file with a secret, outside every app (stands for /etc/shadow or a key file). */
function hostFile(text = `web: ${SECRET}\n`): string {
  const file = path.join(tempDir('slugc-host-'), 'secret');
  fs.writeFileSync(file, text, { mode: 0o600 });
  return file;
}

const plain: Buildpack = { id: 'test/plain', name: 'Plain', detect: async () => ({ pass: true, reason: 'always' }), compile: async () => {} };
const opts = () => ({ output: path.join(tempDir(), 'slug.tgz'), cacheDir: tempDir(), hostEnv: { PATH: process.env.PATH } });

async function failure(p: Promise<unknown>): Promise<{ code: string; text: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code: string; message: string; hint?: string; toJSON?: () => unknown };
    return { code: err.code, text: `${err.message}\n${err.hint ?? ''}\n${JSON.stringify(err.toJSON?.() ?? {})}` };
  }
  throw new Error('expected the build to fail');
}

describe('app files that link out of the app', () => {
  it('refuses a Procfile that links to a host file, without reading it', async () => {
    const app = testApp({ Procfile: { link: hostFile() } });
    const f = await failure(build({ ...opts(), sourceDir: app.dir, buildpacks: [plain] }));
    expect(f.code).toBe('SLUGC_UNSAFE_APP_FILE');
    expect(f.text).toMatch(/Procfile: it is a symlink that leads out of the app dir/);
    expect(f.text).not.toContain(SECRET);
  });

  it('refuses a Procfile reached through a linked dir, and one given as /etc/passwd', async () => {
    const outside = path.dirname(hostFile());
    const viaDir = testApp({ conf: { link: outside }, Procfile: { link: 'conf/secret' } });
    expect((await failure(build({ ...opts(), sourceDir: viaDir.dir, buildpacks: [plain] }))).code).toBe('SLUGC_UNSAFE_APP_FILE');
    const passwd = testApp({ Procfile: { link: '/etc/passwd' } });
    const f = await failure(build({ ...opts(), sourceDir: passwd.dir, buildpacks: [plain] }));
    expect(f.code).toBe('SLUGC_UNSAFE_APP_FILE');
    expect(f.text).not.toMatch(/root:x:0:0/);
  });

  it('refuses an app.json or .buildpacks that links to a host file', async () => {
    for (const file of ['app.json', '.buildpacks']) {
      const app = testApp({ [file]: { link: hostFile(`{"buildpacks": [{"url": "${SECRET}"}]}\n`) }, 'a.txt': '' });
      const f = await failure(build({ ...opts(), sourceDir: app.dir }));
      expect(f.code, file).toBe('SLUGC_UNSAFE_APP_FILE');
      expect(f.text).toContain(`Couldn't read ${file}: it is a symlink that leads out of the app dir`);
      expect(f.text).not.toContain(SECRET);
    }
  });

  it('follows a link that stays inside the app', async () => {
    const app = testApp({ 'config/Procfile.prod': 'web: ./serve\n', Procfile: { link: 'config/Procfile.prod' } });
    const r = await build({ ...opts(), sourceDir: app.dir, buildpacks: [plain] });
    expect(r.release.processTypes).toEqual({ web: './serve' });
  });

  it('refuses a Procfile that is a directory instead of ignoring it', async () => {
    const app = testApp({ 'Procfile/web': 'x' });
    const f = await failure(build({ ...opts(), sourceDir: app.dir, buildpacks: [plain] }));
    expect(f.code).toBe('SLUGC_UNSAFE_APP_FILE');
    expect(f.text).toMatch(/Procfile: it is a directory/);
  });

  it('refuses a .slugignore that links out of the app', async () => {
    const app = testApp({ '.slugignore': { link: hostFile(`${SECRET}\n`) }, 'a.txt': '' });
    const f = await failure(build({ ...opts(), sourceDir: app.dir, buildpacks: [plain] }));
    expect(f.code).toBe('SLUGC_UNSAFE_APP_FILE');
    expect(f.text).not.toContain(SECRET);
  });

  it('refuses a package.json that links out of the app, in detect and compile alike', async () => {
    const app = testApp({ 'package.json': { link: hostFile(`{"name": "${SECRET}"}`) } });
    const f = await failure(build({ ...opts(), sourceDir: app.dir, buildpacks: [nodejsBuildpack] }));
    expect(f.code).toBe('SLUGC_NO_BUILDPACK');
    expect(f.text).not.toContain(SECRET);
  });
});

describe('Procfile commands', () => {
  it('refuses a NUL byte or another control character in a command at build time, naming the line', async () => {
    const app = testApp({ Procfile: 'web: ./serve\nworker: ./work\u0000 --now\n' });
    const f = await failure(build({ ...opts(), sourceDir: app.dir, buildpacks: [plain] }));
    expect(f.code).toBe('SLUGC_PROCFILE_INVALID');
    expect(f.text).toMatch(/line 2: the command of "worker" contains a control character/);
  });
});
