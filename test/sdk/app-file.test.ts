import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { APP_FILE_MAX_BYTES, SlugcError, appFileExists, appFileSha256, manifestChanges, readAppFile, resolveAppFile, treeManifest } from 'slugc/sdk';
import { cleanup, tempDir, testApp } from 'slugc/testing';

afterEach(cleanup);

/** A file outside every app, with content that must never show up in an error. */
const SECRET = 'host-secret-7f3a9c-do-not-print';
function hostSecretFile(): string {
  const file = path.join(tempDir('slugc-host-'), 'id_ed25519');
  fs.writeFileSync(file, `${SECRET}\n`);
  return file;
}

/** Runs `f`, which must throw a SlugcError, and returns it. */
function slugcError(f: () => unknown): SlugcError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SlugcError);
    return e as SlugcError;
  }
  throw new Error('expected a SlugcError, but nothing was thrown');
}

describe('readAppFile', () => {
  it('reads a regular file of the app as text, without a byte order mark', () => {
    const app = testApp({ 'Procfile': '\uFEFFweb: node server.js\n', 'config/settings.ini': 'a = 1\n' });
    expect(readAppFile(app.dir, 'Procfile')).toBe('web: node server.js\n');
    expect(readAppFile(app.dir, 'config/settings.ini')).toBe('a = 1\n');
    expect(readAppFile(app.dir, './config/../Procfile')).toBe('web: node server.js\n');
  });

  it('returns null when the file does not exist, or its dir does not', () => {
    const app = testApp({ 'Procfile': 'web: x\n' });
    expect(readAppFile(app.dir, 'package.json')).toBeNull();
    expect(readAppFile(app.dir, 'no/such/dir/file.txt')).toBeNull();
  });

  it('refuses a symlink to /etc/passwd without printing the host file', () => {
    const app = testApp({ 'Procfile': { link: '/etc/passwd' } });
    const err = slugcError(() => readAppFile(app.dir, 'Procfile'));
    expect(err.code).toBe('SLUGC_UNSAFE_APP_FILE');
    expect(err.message).toBe("Couldn't read Procfile: it is a symlink that leads out of the app dir.");
    expect(err.details).toEqual({ file: 'Procfile' });
    const passwd = fs.readFileSync('/etc/passwd', 'utf8');
    const firstEntry = passwd.split('\n')[0]!;
    expect(firstEntry.length).toBeGreaterThan(0);
    expect(`${err.message}\n${err.hint}`).not.toContain(firstEntry);
  });

  it('refuses a symlink to a host file, and never puts its content in the error', () => {
    const app = testApp({ 'package.json': { link: hostSecretFile() } });
    const err = slugcError(() => readAppFile(app.dir, 'package.json'));
    expect(err.code).toBe('SLUGC_UNSAFE_APP_FILE');
    expect(JSON.stringify(err.toJSON())).not.toContain(SECRET);
    expect(err.stack ?? '').not.toContain(SECRET);
  });

  it('refuses a path through a linked directory that leads outside the app', () => {
    const secret = hostSecretFile();
    const app = testApp({ 'keys': { link: path.dirname(secret) }, 'etc': { link: '/etc' } });
    const err = slugcError(() => readAppFile(app.dir, 'keys/id_ed25519'));
    expect(err.code).toBe('SLUGC_UNSAFE_APP_FILE');
    expect(err.message).toContain('keys/id_ed25519');
    expect(err.message).toContain('leads out of the app dir');
    expect(err.message).not.toContain(SECRET);
    expect(slugcError(() => readAppFile(app.dir, 'etc/passwd')).code).toBe('SLUGC_UNSAFE_APP_FILE');
  });

  it('refuses ../ paths and absolute paths before looking at the disk', () => {
    const app = testApp({ 'Procfile': 'web: x\n' });
    fs.writeFileSync(path.join(path.dirname(app.dir), 'x'), SECRET);
    for (const rel of ['../x', 'sub/../../x', path.join(path.dirname(app.dir), 'x'), '/etc/passwd']) {
      const err = slugcError(() => readAppFile(app.dir, rel));
      expect(err.code).toBe('SLUGC_UNSAFE_APP_FILE');
      expect(err.message).toBe(`Couldn't read ${rel}: the path leaves the app dir.`);
    }
  });

  it('refuses a directory where a file belongs', () => {
    const app = testApp({ 'Procfile/web': 'x' });
    const err = slugcError(() => readAppFile(app.dir, 'Procfile'));
    expect(err.code).toBe('SLUGC_UNSAFE_APP_FILE');
    expect(err.message).toBe("Couldn't read Procfile: it is a directory.");
  });

  it('refuses a file over maxBytes, and reads one at the limit', () => {
    const app = testApp({ 'big.json': 'x'.repeat(101), 'ok.json': 'y'.repeat(100) });
    const err = slugcError(() => readAppFile(app.dir, 'big.json', { maxBytes: 100 }));
    expect(err.code).toBe('SLUGC_UNSAFE_APP_FILE');
    expect(err.message).toBe("Couldn't read big.json: it is 101 bytes, more than the 100 a config file may have.");
    expect(readAppFile(app.dir, 'ok.json', { maxBytes: 100 })).toBe('y'.repeat(100));
    expect(APP_FILE_MAX_BYTES).toBe(16 * 1024 * 1024);
  });

  it('follows a symlink that stays inside the app, also through a linked dir', () => {
    const app = testApp({
      'config/real.properties': 'java.runtime.version=21\n',
      'system.properties': { link: 'config/real.properties' },
      'conf': { link: 'config' },
    });
    app.write({ 'abs.properties': { link: path.join(app.dir, 'config', 'real.properties') } });
    expect(readAppFile(app.dir, 'system.properties')).toBe('java.runtime.version=21\n');
    expect(readAppFile(app.dir, 'conf/real.properties')).toBe('java.runtime.version=21\n');
    expect(readAppFile(app.dir, 'abs.properties')).toBe('java.runtime.version=21\n');
    expect(resolveAppFile(app.dir, 'system.properties')).toBe(path.join(fs.realpathSync(app.dir), 'config', 'real.properties'));
  });

  it('says where a dangling symlink points instead of treating it as no file', () => {
    const app = testApp({ '.python-version': { link: 'versions/missing' }, 'Procfile': { link: '/nonexistent/slugc-test/Procfile' } });
    const err = slugcError(() => readAppFile(app.dir, '.python-version'));
    expect(err.code).toBe('SLUGC_UNSAFE_APP_FILE');
    expect(err.message).toBe("Couldn't read .python-version: it is a symlink to versions/missing, which does not exist in the app.");
    expect(err.hint).toBe('Commit .python-version as a regular file.');
    expect(slugcError(() => readAppFile(app.dir, 'Procfile')).message).toContain('symlink to /nonexistent/slugc-test/Procfile');
  });

  it('refuses symlinks that loop', () => {
    const app = testApp({ 'a': { link: 'b' }, 'b': { link: 'a' } });
    const err = slugcError(() => readAppFile(app.dir, 'a'));
    expect(err.code).toBe('SLUGC_UNSAFE_APP_FILE');
    expect(err.message).toBe("Couldn't read a: its symlinks loop.");
  });
});

describe('resolveAppFile', () => {
  it('returns the real path of a file inside the app, and null for a missing one', () => {
    const app = testApp({ 'package.json': '{}' });
    expect(resolveAppFile(app.dir, 'package.json')).toBe(path.join(fs.realpathSync(app.dir), 'package.json'));
    expect(resolveAppFile(app.dir, 'yarn.lock')).toBeNull();
  });

  it('refuses the same links and paths readAppFile refuses', () => {
    const secret = hostSecretFile();
    const app = testApp({ 'Procfile': { link: '/etc/passwd' }, 'keys': { link: path.dirname(secret) } });
    for (const rel of ['Procfile', 'keys/id_ed25519', '../x']) {
      const err = slugcError(() => resolveAppFile(app.dir, rel));
      expect(err.code).toBe('SLUGC_UNSAFE_APP_FILE');
      expect(err.message).not.toContain(SECRET);
    }
  });
});

describe('appFileExists', () => {
  it('is true for a regular file and a link to one inside the app', () => {
    const app = testApp({ 'Gemfile.lock': 'x', 'link.lock': { link: 'Gemfile.lock' } });
    expect(appFileExists(app.dir, 'Gemfile.lock')).toBe(true);
    expect(appFileExists(app.dir, 'link.lock')).toBe(true);
  });

  it('is false for what readAppFile would refuse or not find', () => {
    const secret = hostSecretFile();
    const app = testApp({
      'passwd': { link: '/etc/passwd' },
      'keys': { link: path.dirname(secret) },
      'dangling': { link: 'nowhere' },
      'dir/file': 'x',
    });
    fs.writeFileSync(path.join(path.dirname(app.dir), 'x'), 'outside');
    expect(appFileExists(app.dir, 'passwd')).toBe(false);
    expect(appFileExists(app.dir, 'keys/id_ed25519')).toBe(false);
    expect(appFileExists(app.dir, 'dangling')).toBe(false);
    expect(appFileExists(app.dir, 'dir')).toBe(false);
    expect(appFileExists(app.dir, '../x')).toBe(false);
    expect(appFileExists(app.dir, 'missing')).toBe(false);
  });
});

describe('paths through files and lockfiles that are not files', () => {
  it('answers "no such file" for a path through a regular file, without a raw error', () => {
    const app = testApp({ Procfile: 'web: x\n' });
    expect(readAppFile(app.dir, 'Procfile/x')).toBeNull();
    expect(appFileExists(app.dir, 'Procfile/x')).toBe(false);
  });

  it('refuses a lockfile that is a directory with SLUGC_UNSAFE_APP_FILE', () => {
    const app = testApp({ 'hello.lock/x': '' });
    expect(() => appFileSha256(app.dir, 'hello.lock')).toThrow(expect.objectContaining({ code: 'SLUGC_UNSAFE_APP_FILE' }));
  });

  it('notices a chmod through a hard link in a tree manifest, as well as content changes', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'bin'), '#!/bin/sh\n', { mode: 0o755 });
    const manifest = treeManifest(dir);
    expect(manifestChanges(dir, manifest)).toEqual([]);
    const link = path.join(tempDir(), 'bin');
    fs.linkSync(path.join(dir, 'bin'), link);
    fs.chmodSync(link, 0o644);
    expect(manifestChanges(dir, manifest)).toEqual(['bin']);
  });
});
