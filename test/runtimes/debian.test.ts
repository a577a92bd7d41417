import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../src/log.js';
import {
  createDebianSource,
  debianAptPaths,
  debianManifest,
  debianVersionToSemver,
  parseStanzas,
  type CommandRunner,
  type DebianPackageRef,
  type DebianRuntimeTable,
} from '../../src/runtimes/sources/debian.js';
import { relocateSymlinks, rewriteRuntimeShebangs, runCommand } from '../../src/runtimes/sources/debian-unpack.js';
import { createRuntimeInstaller } from '../../src/runtimes/install.js';
import type { InstalledRuntime, RuntimeArtifact, SourceContext } from '../../src/runtimes/types.js';

// These tests need the build host's Debian mirror (as CI has); the ~130 MB of
// .debs land in the shared test cache once per machine.
const sharedCache = process.env.SLUGC_TEST_CACHE ?? path.resolve('.slugc-cache/test-cache');
fs.mkdirSync(sharedCache, { recursive: true });

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-debian-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
let n = 0;
function newDir(prefix: string): string {
  const d = path.join(scratch, `${prefix}-${++n}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** A logger that keeps its lines, and a ctx around it. */
function context(over: Partial<SourceContext> = {}): SourceContext & { log: Logger } {
  return {
    cacheRoot: sharedCache,
    fetch: globalThis.fetch,
    log: createLogger(),
    stack: 'debian-12',
    os: 'linux',
    arch: process.arch,
    offline: false,
    tmpDir: newDir('tmp'),
    ...over,
  };
}

/** A runner that records every command, so tests can count apt-get calls. */
function recordingRunner(): { run: CommandRunner; calls: string[][]; count: (sub: string) => number } {
  const calls: string[][] = [];
  return {
    calls,
    run: (command, args, options) => {
      calls.push([command, ...args]);
      return runCommand(command, args, options);
    },
    count: (sub) => calls.filter((c) => /apt-get$/.test(c[0]!) && c.includes(sub)).length,
  };
}

/** What the host's apt and dpkg state looks like: every path, size and mtime, plus `dpkg -l`. */
function hostAptSnapshot(): string {
  const h = crypto.createHash('sha256');
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = fs.readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      h.update(`${p} ${st.size} ${st.mtimeMs} ${st.mode}\n`);
      if (st.isDirectory()) walk(p);
    }
  };
  for (const d of ['/var/lib/apt', '/var/cache/apt']) walk(d);
  h.update(fs.readFileSync('/var/lib/dpkg/status'));
  h.update(execFileSync('dpkg', ['-l'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }));
  return h.digest('hex');
}

const hostBefore = hostAptSnapshot();

/** A bin dir with only the tools the checks need: no python, ruby or java of the host. */
function toolsDir(): string {
  const dir = newDir('tools');
  for (const t of ['sh', 'env', 'cat', 'ls', 'dirname', 'basename', 'uname']) {
    const found = ['/usr/bin', '/bin'].map((d) => path.join(d, t)).find((p) => fs.existsSync(p));
    if (found) fs.symlinkSync(found, path.join(dir, t));
  }
  return dir;
}

/** The env to run an installed runtime from `dir`: its bin dirs + the tools dir on PATH, its env with ${RUNTIME_DIR} filled. */
function runtimeEnv(installed: InstalledRuntime, dir: string): Record<string, string> {
  const env: Record<string, string> = {
    PATH: [...installed.binDirs.map((b) => path.join(dir, b)), toolsDir()].join(':'),
    HOME: newDir('home'),
    LANG: 'C.UTF-8',
  };
  for (const [k, v] of Object.entries(installed.env)) env[k] = v.split('${RUNTIME_DIR}').join(dir);
  return env;
}

function runIn(env: Record<string, string>, command: string, args: string[], cwd?: string): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(command, args, { env, encoding: 'utf8', cwd: cwd ?? env.HOME });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** `ldd` of files under `dir`: lines that say "not found". */
function lddNotFound(dir: string, files: string[], env: Record<string, string>): string[] {
  const r = spawnSync('ldd', files.map((f) => path.join(dir, f)), { encoding: 'utf8', env: { ...env, PATH: '/usr/bin:/bin' } });
  return r.stdout.split('\n').filter((l) => l.includes('not found'));
}

interface Installed {
  artifact: RuntimeArtifact;
  installed: InstalledRuntime;
  /** Where it runs from after being moved. */
  dir: string;
  env: Record<string, string>;
  ctx: SourceContext & { log: Logger };
  recorder: ReturnType<typeof recordingRunner>;
  ms: number;
}

/** Lists `name`, installs it, then moves the dir elsewhere. */
async function installAndMove(name: string): Promise<Installed> {
  const recorder = recordingRunner();
  const source = createDebianSource({ run: recorder.run });
  const ctx = context();
  const started = Date.now();
  const list = await source.list(name, ctx);
  expect(list).toHaveLength(1);
  const artifact = list[0]!;
  const first = path.join(newDir('install'), name);
  const installed = await source.install(artifact, first, ctx);
  const dir = path.join(newDir('moved'), `${name}-elsewhere`);
  fs.renameSync(first, dir);
  return { artifact, installed, dir, env: runtimeEnv(installed, dir), ctx, recorder, ms: Date.now() - started };
}

/** A second install of the same artifact downloads nothing and leaves the store files as they were. */
async function expectSecondInstallFromStore(x: Installed): Promise<void> {
  const refs = x.artifact.meta!.packages as DebianPackageRef[];
  const store = path.join(sharedCache, 'downloads', 'sha256');
  const stamps = refs.map((r) => fs.statSync(path.join(store, r.sha256)).mtimeMs);
  const recorder = recordingRunner();
  const ctx = context();
  const again = await createDebianSource({ run: recorder.run }).install(x.artifact, path.join(newDir('again'), 'rt'), ctx);
  expect(recorder.count('download')).toBe(0);
  expect(recorder.count('update')).toBe(0);
  expect(refs.map((r) => fs.statSync(path.join(store, r.sha256)).mtimeMs)).toEqual(stamps);
  expect(ctx.log.text()).toMatch(/from the cache/);
  expect(again.env).toEqual(x.installed.env);
}

describe('debianVersionToSemver', () => {
  it('reads the upstream version of Debian versions as semver', () => {
    expect(debianVersionToSemver('3.11.2-6+deb12u9')).toBe('3.11.2');
    expect(debianVersionToSemver('3.1.7+really3.1.2-0+deb12u1')).toBe('3.1.2');
    expect(debianVersionToSemver('3.1.2-7+deb12u1')).toBe('3.1.2');
    expect(debianVersionToSemver('17.0.21.1+2-1~deb12u1')).toBe('17.0.21');
    expect(debianVersionToSemver('17.0.15+6-1~deb12u1')).toBe('17.0.15');
    expect(debianVersionToSemver('1:2.3-1')).toBe('2.3.0');
    expect(debianVersionToSemver('2:6.2.1+dfsg1-1.1')).toBe('6.2.1');
    expect(debianVersionToSemver('1.18')).toBe('1.18.0');
    expect(debianVersionToSemver('abc')).toBeNull();
  });

  it('parses apt-cache show stanzas, ignoring continuation lines', () => {
    const s = parseStanzas('Package: a\nVersion: 1-1\nDescription: x\n more\n\nPackage: b\nSHA256: ff\n');
    expect(s).toEqual([
      { Package: 'a', Version: '1-1', Description: 'x' },
      { Package: 'b', SHA256: 'ff' },
    ]);
  });
});

describe('making an unpacked tree relocatable', () => {
  it('re-points absolute links into the tree, copies known host files in, and reports what dangles', () => {
    const dest = newDir('reloc');
    fs.mkdirSync(path.join(dest, 'etc/app'), { recursive: true });
    fs.mkdirSync(path.join(dest, 'usr/lib/app'), { recursive: true });
    fs.writeFileSync(path.join(dest, 'etc/app/conf'), 'x');
    fs.symlinkSync('/etc/app/conf', path.join(dest, 'usr/lib/app/conf'));
    fs.symlinkSync('/etc/os-release', path.join(dest, 'usr/lib/app/os-release'));
    fs.symlinkSync('/etc/slugc-no-such-file', path.join(dest, 'usr/lib/app/gone'));
    fs.symlinkSync('/etc/hostname', path.join(dest, 'usr/lib/app/unknown'));
    const r = relocateSymlinks(dest, ['/etc/os-release', '/etc/slugc-no-such-file']);
    expect(fs.readlinkSync(path.join(dest, 'usr/lib/app/conf'))).toBe('../../../etc/app/conf');
    expect(fs.readlinkSync(path.join(dest, 'usr/lib/app/os-release'))).toBe('../../../etc/os-release');
    expect(fs.lstatSync(path.join(dest, 'etc/os-release')).isFile()).toBe(true);
    expect(r).toEqual({ repointed: 2, copied: ['/etc/os-release'], missingHostFiles: ['/etc/slugc-no-such-file'], dangling: expect.arrayContaining(['usr/lib/app/gone', 'usr/lib/app/unknown']) });
  });

  it("points scripts at the runtime's own interpreter through /usr/bin/env", () => {
    const dest = newDir('shebang');
    fs.mkdirSync(path.join(dest, 'usr/bin'), { recursive: true });
    fs.writeFileSync(path.join(dest, 'usr/bin/ruby3.1'), '', { mode: 0o755 });
    fs.writeFileSync(path.join(dest, 'usr/bin/a'), '#!/usr/bin/ruby3.1\nputs 1\n', { mode: 0o755 });
    fs.writeFileSync(path.join(dest, 'usr/bin/b'), '#!/usr/bin/ruby3.1 -w\nputs 1\n', { mode: 0o755 });
    fs.writeFileSync(path.join(dest, 'usr/bin/c'), '#!/bin/sh\necho\n', { mode: 0o755 });
    expect(rewriteRuntimeShebangs(dest, ['usr/bin']).sort()).toEqual(['usr/bin/a', 'usr/bin/b']);
    expect(fs.readFileSync(path.join(dest, 'usr/bin/a'), 'utf8')).toBe('#!/usr/bin/env ruby3.1\nputs 1\n');
    expect(fs.readFileSync(path.join(dest, 'usr/bin/b'), 'utf8')).toBe('#!/usr/bin/env -S ruby3.1 -w\nputs 1\n');
    expect(fs.readFileSync(path.join(dest, 'usr/bin/c'), 'utf8')).toBe('#!/bin/sh\necho\n');
    expect(fs.statSync(path.join(dest, 'usr/bin/a')).mode & 0o777).toBe(0o755);
  });
});

describe('the debian source, python', () => {
  let x: Installed;
  beforeAll(async () => {
    x = await installAndMove('python');
  });

  it('lists one python 3.11 artifact with every package and its sha256', () => {
    const a = x.artifact;
    expect(a.version).toMatch(/^3\.11\.\d+$/);
    expect(a).toMatchObject({ name: 'python', os: 'linux', arch: process.arch, stacks: ['debian-12'], format: 'deb' });
    const refs = a.meta!.packages as DebianPackageRef[];
    expect(refs.map((r) => r.name)).toContain('python3.11-minimal');
    for (const r of refs) expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(a.checksum).toBe(`sha256:${crypto.createHash('sha256').update(debianManifest(refs)).digest('hex')}`);
    expect(a.url).toMatch(/^debian:python3\.11=3\.11\.\d+-/);
  });

  it('runs python3.11 from the dir it was moved to, with no system python on PATH', () => {
    const r = runIn(x.env, 'python3.11', ['-c', 'import ssl, sqlite3, ctypes, lzma, venv, sys; print(6*7); print(sys.prefix); print(ssl.OPENSSL_VERSION)']);
    expect(r.stderr).toBe('');
    const [answer, prefix] = r.stdout.split('\n');
    expect(answer).toBe('42');
    expect(prefix).toBe(path.join(x.dir, 'usr'));
    expect(runIn(x.env, 'python3', ['-c', 'import sys; print(sys.executable)']).stdout.trim()).toBe(path.join(x.dir, 'usr', 'bin', 'python3'));
  });

  it('makes a venv with pip from the unpacked wheels', () => {
    const venv = path.join(newDir('venv'), 'venv');
    const made = runIn(x.env, 'python3', ['-m', 'venv', venv]);
    expect(made.stderr).toBe('');
    expect(made.status).toBe(0);
    const pip = runIn(x.env, path.join(venv, 'bin', 'python'), ['-m', 'pip', '--isolated', '--version']);
    expect(pip.stdout).toMatch(/^pip \d+/);
    expect(pip.stdout).toContain(venv);
  });

  it('needs no library ldd cannot find, and names the system libraries it uses', () => {
    expect(lddNotFound(x.dir, ['usr/bin/python3.11', ...fs.readdirSync(path.join(x.dir, 'usr/lib/python3.11/lib-dynload')).map((f) => `usr/lib/python3.11/lib-dynload/${f}`)], x.env)).toEqual([]);
    expect(x.installed.systemLibraries).toEqual(expect.arrayContaining(['libc.so.6', 'libssl.so.3', 'libsqlite3.so.0', 'libffi.so.8']));
  });

  it('installs a second time from the store, downloading nothing', async () => {
    await expectSecondInstallFromStore(x);
  });

  it("serves the runtime installer, which unpacks it into the cache's runtimes dir", async () => {
    const installer = createRuntimeInstaller(context());
    const r = await installer.install({ name: 'python', request: '3.11', defaultRequest: '3', sources: [createDebianSource()] });
    expect(r.artifact.version).toMatch(/^3\.11\./);
    expect(r.record.source).toMatch(/^debian:python3\.11=/);
    const env = runtimeEnv(r, r.dir);
    expect(runIn(env, 'python3', ['-c', 'import sys; print(sys.prefix)']).stdout.trim()).toBe(path.join(r.dir, 'usr'));
  });
});

describe('the debian source, ruby', () => {
  let x: Installed;
  beforeAll(async () => {
    x = await installAndMove('ruby');
  });

  it('lists one ruby 3.1 artifact', () => {
    expect(x.artifact.version).toMatch(/^3\.1\.\d+$/);
    expect((x.artifact.meta!.packages as DebianPackageRef[]).map((r) => r.name)).toEqual(expect.arrayContaining(['ruby3.1', 'libruby3.1', 'ruby-bundler', 'libyaml-0-2']));
  });

  it('runs ruby from the dir it was moved to, with its gems and nothing of the host', () => {
    const r = runIn(x.env, 'ruby', ['-e', 'require "json"; puts 6*7']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('42\n');
    const paths = runIn(x.env, 'ruby', ['-e', 'require "yaml"; require "openssl"; require "rubygems"; puts Gem.path; puts Gem.dir; puts RbConfig.ruby']);
    expect(paths.stderr).toBe('');
    for (const p of paths.stdout.trim().split('\n')) expect(p.startsWith(x.dir + '/')).toBe(true);
    expect(runIn(x.env, 'bundle', ['--version']).stdout).toMatch(/^Bundler version 2\.\d+/);
    expect(runIn(x.env, 'gem', ['--version']).stdout).toMatch(/^3\.\d+/);
    expect(x.installed.env.LD_LIBRARY_PATH).toMatch(/^\$\{RUNTIME_DIR\}\/usr\/lib\/[a-z0-9_]+-linux-gnu$/);
  });

  it('needs no library ldd cannot find', () => {
    const ext = path.join(x.dir, 'usr/lib', fs.readdirSync(path.join(x.dir, 'usr/lib')).find((d) => d.endsWith('-linux-gnu'))!, 'ruby/3.1.0');
    const exts = execFileSync('find', [ext, '-name', '*.so'], { encoding: 'utf8' }).trim().split('\n').map((f) => path.relative(x.dir, f));
    expect(lddNotFound(x.dir, ['usr/bin/ruby3.1', ...exts], x.env)).toEqual([]);
    expect(x.installed.systemLibraries).toContain('libc.so.6');
    expect(x.installed.systemLibraries).not.toContain('libruby-3.1.so.3.1');
    expect(x.installed.systemLibraries).not.toContain('libyaml-0.so.2');
  });

  it('installs a second time from the store, downloading nothing', async () => {
    await expectSecondInstallFromStore(x);
  });
});

describe('the debian source, jdk', () => {
  let x: Installed;
  beforeAll(async () => {
    x = await installAndMove('jdk');
  });

  it('lists one jdk 17 artifact', () => {
    expect(x.artifact.version).toMatch(/^17\.0\.\d+$/);
    expect(x.installed.env.JAVA_HOME).toMatch(/^\$\{RUNTIME_DIR\}\/usr\/lib\/jvm\/java-17-openjdk-(amd64|arm64)$/);
  });

  it('runs java and javac from the dir it was moved to, with no system java on PATH', () => {
    const v = runIn(x.env, 'java', ['-XshowSettings:properties', '-version']);
    expect(v.status).toBe(0);
    expect(v.stderr).toMatch(/openjdk version "17\.0\./);
    expect(v.stderr).toContain(`java.home = ${x.env.JAVA_HOME}`);
    const src = newDir('hello');
    fs.writeFileSync(path.join(src, 'Hello.java'), 'public class Hello { public static void main(String[] a) { System.out.println("Hello " + (6 * 7)); } }\n');
    const c = runIn(x.env, 'javac', ['-d', 'out', 'Hello.java'], src);
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
    expect(runIn(x.env, 'java', ['-cp', 'out', 'Hello'], src).stdout).toBe('Hello 42\n');
  });

  it('points every link of its conf and CA store inside the runtime', () => {
    const home = x.env.JAVA_HOME!;
    for (const f of ['conf/security/java.security', 'lib/jvm.cfg', 'lib/security/cacerts']) {
      const real = fs.realpathSync(path.join(home, f));
      expect(real.startsWith(x.dir + '/')).toBe(true);
    }
    const absolute = execFileSync('find', [x.dir, '-type', 'l', '-lname', '/*'], { encoding: 'utf8' }).trim();
    expect(absolute).toBe('');
    const keys = runIn(x.env, 'keytool', ['-list', '-cacerts', '-storepass', 'changeit']);
    expect(keys.stdout).toMatch(/Your keystore contains [1-9]\d* entries/);
  });

  it('needs no library ldd cannot find', () => {
    const home = path.relative(x.dir, x.env.JAVA_HOME!);
    expect(lddNotFound(x.dir, [`${home}/bin/java`, `${home}/bin/javac`, `${home}/lib/server/libjvm.so`], x.env)).toEqual([]);
    expect(x.installed.systemLibraries).toEqual(expect.arrayContaining(['libc.so.6', 'libz.so.1']));
  });

  it('installs a second time from the store, downloading nothing', async () => {
    await expectSecondInstallFromStore(x);
  });
});

describe('the debian source, its apt state, checks and errors', () => {
  // A one-package runtime keeps these quick; each test gets the same fresh cache root.
  const tiny: DebianRuntimeTable = { 'debian-12': { tiny: { main: 'rubygems-integration', packages: ['rubygems-integration'], binDirs: [], env: {}, ldd: [] } } };
  const cacheRoot = newDir('fresh-cache');

  it('runs its own apt-get update into a private state when it has no lists, and says so', async () => {
    const recorder = recordingRunner();
    const ctx = context({ cacheRoot });
    const list = await createDebianSource({ packages: tiny, run: recorder.run }).list('tiny', ctx);
    expect(list).toHaveLength(1);
    expect(ctx.log.text()).toMatch(/Updating the private debian-12 apt lists \(there are none yet\)/);
    expect(recorder.count('update')).toBe(1);
    const updateCall = recorder.calls.find((c) => c.includes('update'))!.join(' ');
    const p = debianAptPaths(cacheRoot, 'debian-12');
    expect(updateCall).toContain(`Dir::State=${p.state}`);
    expect(updateCall).toContain(`Dir::State::status=${p.status}`);
    expect(updateCall).toContain(`Dir::Cache=${p.cache}`);
    expect(fs.readdirSync(p.lists).some((f) => f.includes('_Packages'))).toBe(true);
    expect(fs.readFileSync(p.status, 'utf8')).toBe('');

    // Fresh lists are not updated again.
    const again = recordingRunner();
    await createDebianSource({ packages: tiny, run: again.run }).list('tiny', context({ cacheRoot }));
    expect(again.count('update')).toBe(0);
    // Lists older than a day are.
    const old = recordingRunner();
    const oldCtx = context({ cacheRoot });
    await createDebianSource({ packages: tiny, run: old.run, maxListAgeMs: 0 }).list('tiny', oldCtx);
    expect(old.count('update')).toBe(1);
    expect(oldCtx.log.text()).toMatch(/hours old/);
  });

  it('refuses a tampered .deb in the store, deletes it, and downloads it again next time', async () => {
    const source = createDebianSource({ packages: tiny });
    const ctx = context({ cacheRoot });
    const [a] = await source.list('tiny', ctx);
    await source.install(a!, path.join(newDir('t'), 'rt'), ctx);
    const ref = (a!.meta!.packages as DebianPackageRef[])[0]!;
    const stored = path.join(cacheRoot, 'downloads', 'sha256', ref.sha256);
    fs.appendFileSync(stored, 'tampered');
    await expect(source.install(a!, path.join(newDir('t'), 'rt'), ctx)).rejects.toMatchObject({ code: 'SLUGC_CHECKSUM_MISMATCH' });
    expect(fs.existsSync(stored)).toBe(false);
    const recorder = recordingRunner();
    const dest = path.join(newDir('t'), 'rt');
    await createDebianSource({ packages: tiny, run: recorder.run }).install(a!, dest, ctx);
    expect(recorder.count('download')).toBe(1);
    expect(fs.existsSync(path.join(dest, 'usr/lib/ruby/vendor_ruby/rubygems/defaults/operating_system.rb'))).toBe(true);
  });

  it('refuses an artifact whose meta names a wrong sha256', async () => {
    const source = createDebianSource({ packages: tiny });
    const ctx = context({ cacheRoot });
    const [a] = await source.list('tiny', ctx);
    const refs = (a!.meta!.packages as DebianPackageRef[]).map((r) => ({ ...r, sha256: 'ab'.repeat(32) }));
    // The artifact's checksum covers the package list...
    await expect(source.install({ ...a!, meta: { ...a!.meta, packages: refs } }, path.join(newDir('w'), 'rt'), ctx)).rejects.toMatchObject({
      code: 'SLUGC_CHECKSUM_MISMATCH',
    });
    // ...and a consistent but wrong list fails on the downloaded file.
    const forged: RuntimeArtifact = { ...a!, meta: { ...a!.meta, packages: refs }, checksum: `sha256:${crypto.createHash('sha256').update(debianManifest(refs)).digest('hex')}` };
    const err = await source.install(forged, path.join(newDir('w'), 'rt'), ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SLUGC_CHECKSUM_MISMATCH' });
    expect(String((err as Error).message)).toContain('rubygems-integration');
    expect(fs.existsSync(path.join(cacheRoot, 'downloads', 'sha256', 'ab'.repeat(32)))).toBe(false);
  });

  it('works offline from the cache, and fails fast naming a package that is not there', async () => {
    const recorder = recordingRunner();
    const source = createDebianSource({ packages: tiny, run: recorder.run, maxListAgeMs: 0 });
    const ctx = context({ cacheRoot, offline: true });
    const [a] = await source.list('tiny', ctx);
    expect(recorder.count('update')).toBe(0);
    await source.install(a!, path.join(newDir('o'), 'rt'), ctx);
    fs.rmSync(path.join(cacheRoot, 'downloads', 'sha256', (a!.meta!.packages as DebianPackageRef[])[0]!.sha256));
    const started = Date.now();
    const err = await source.install(a!, path.join(newDir('o'), 'rt'), ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SLUGC_DOWNLOAD_FAILED' });
    expect((err as Error).message).toMatch(/offline.*rubygems-integration/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(recorder.count('download')).toBe(0);
    // Without lists in the cache, listing offline fails too.
    await expect(source.list('tiny', context({ cacheRoot: newDir('empty'), offline: true }))).rejects.toMatchObject({ code: 'SLUGC_DOWNLOAD_FAILED', message: expect.stringMatching(/offline/) });
  });

  it('lists nothing for another stack or an unknown runtime, and says why', async () => {
    const ctx = context({ cacheRoot, stack: 'heroku-24' });
    expect(await createDebianSource().list('python', ctx)).toEqual([]);
    expect(ctx.log.text()).toMatch(/no python for heroku-24.*knows no packages for the stack heroku-24/);
    expect(await createDebianSource().list('cobol', context({ cacheRoot }))).toEqual([]);
    const arm = context({ cacheRoot, arch: process.arch === 'arm64' ? 'x64' : 'arm64' });
    expect(await createDebianSource().list('python', arm)).toEqual([]);
    expect(arm.log.text()).toMatch(/build host's architecture/);
    const elsewhere = path.join(newDir('osr'), 'os-release');
    fs.writeFileSync(elsewhere, 'ID=ubuntu\nVERSION_ID="24.04"\n');
    const ub = context({ cacheRoot });
    expect(await createDebianSource({ osRelease: elsewhere }).list('python', ub)).toEqual([]);
    expect(ub.log.text()).toMatch(/this host is ubuntu-24\.04, not debian-12/);
  });

  it('fails with SLUGC_DOWNLOAD_FAILED when apt-get is missing', async () => {
    const err = await createDebianSource({ aptGet: '/nonexistent/apt-get' })
      .list('python', context({ cacheRoot: newDir('noapt') }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SLUGC_DOWNLOAD_FAILED', message: expect.stringMatching(/apt-get is not installed/) });
  });

  it("fails with SLUGC_DOWNLOAD_FAILED and apt's output when the mirror cannot be reached", async () => {
    const dir = newDir('unreachable');
    fs.writeFileSync(path.join(dir, 'sources.list'), 'deb [trusted=yes] http://127.0.0.1:9/debian bookworm main\n');
    const source = createDebianSource({ aptOptions: ['Acquire::Retries=0', `Dir::Etc::sourcelist=${path.join(dir, 'sources.list')}`, `Dir::Etc::sourceparts=${path.join(dir, 'none')}`] });
    const err = await source.list('python', context({ cacheRoot: newDir('noreach') })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SLUGC_DOWNLOAD_FAILED' });
    expect((err as Error).message).toMatch(/Couldn't update the debian-12 apt lists/);
    expect((err as Error).message).toMatch(/127\.0\.0\.1/);
    expect((err as { hint?: string }).hint).toMatch(/mirror/);
  });
});

describe('the host', () => {
  it("keeps its apt lists, apt cache and installed packages as they were", () => {
    expect(hostAptSnapshot()).toBe(hostBefore);
  });
});
