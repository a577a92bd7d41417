// The Python buildpack's tests, on slugc/testing, offline: Python comes from
// Debian's packages (the suite's shared cache downloads it once), packages
// are wheels the tests write themselves, served from a --find-links folder
// in the app or a loopback PEP 503 index.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clearCache } from 'slugc';
import { assertProcessType, assertSlugContains, cleanup, execRecorder, runBuild, runCompile, runDetect, startProcess, tempDir, testApp, unpackSlugToTemp, type AppFile } from 'slugc/testing';
import { serveSimpleIndex, writeWheel, type SimpleIndex } from '../../test/support/python.js';
import { pythonBuildpack } from './index.js';

afterEach(cleanup);

const cacheDir = process.env.SLUGC_TEST_CACHE ?? tempDir('slugc-cache-');
const apps: string[] = [];
let n = 0;
/** An app name of this run's own on the shared cache, cleared at the end. */
const appName = () => {
  const name = `python-test-${process.pid}-${n++}`;
  apps.push(name);
  return name;
};
afterAll(() => {
  for (const a of apps) clearCache(cacheDir, a);
});

/** Wheels every test can use: greet (with a console script), a dependency. Kept for the whole file (not per test). */
const wheelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-wheels-'));
afterAll(() => fs.rmSync(wheelDir, { recursive: true, force: true }));
const greet = writeWheel(wheelDir, { name: 'greet', version: '1.0', files: { 'greet/__init__.py': "def hello():\n    print('hello from greet')\n\nWORD = 'hi'\n" }, scripts: { greet: 'greet:hello' } });
const greet2 = writeWheel(wheelDir, { name: 'greet', version: '2.0', files: { 'greet/__init__.py': "def hello():\n    print('hello from greet 2')\n\nWORD = 'hi2'\n" }, scripts: { greet: 'greet:hello' } });
const helper = writeWheel(wheelDir, { name: 'tiny-helper', version: '0.3', files: { 'tiny_helper/__init__.py': "NAME = 'helper'\n" } });
const devtool = writeWheel(wheelDir, { name: 'devtool', version: '9.9', files: { 'devtool/__init__.py': '' } });
const wheelFiles = (...ws: { file: string }[]) => Object.fromEntries(ws.map((w) => [`wheels/${path.basename(w.file)}`, fs.readFileSync(w.file)]));

/** A web app on the stdlib's http.server that imports an installed package. */
const server = `import os, http.server, greet, tiny_helper
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{greet.WORD} {tiny_helper.NAME} {os.environ.get('PYTHONUNBUFFERED')}".encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()
`;

const requirementsApp = (extra: Record<string, AppFile> = {}) =>
  testApp({
    'requirements.txt': '--find-links wheels\n--no-index\n-r requirements/base.txt\n',
    'requirements/base.txt': 'greet==1.0\ntiny-helper==0.3\n',
    'server.py': server,
    Procfile: 'web: python3 server.py\n',
    ...wheelFiles(greet, helper),
    ...extra,
  });

describe('detect', () => {
  it('names the file that decided, and says what it looked for when nothing matches', async () => {
    for (const f of ['requirements.txt', 'pyproject.toml', 'Pipfile', 'uv.lock', 'setup.py', '.python-version', 'runtime.txt']) {
      expect(await runDetect(pythonBuildpack, testApp({ [f]: '' }))).toMatchObject({ pass: true, detected: 'Python', reason: `found ${f}` });
    }
    const no = await runDetect(pythonBuildpack, testApp({ 'index.js': '' }));
    expect(no.pass).toBe(false);
    expect(no.reason).toMatch(/requirements\.txt, pyproject\.toml/);
  });
});

describe('a requirements.txt app', () => {
  it('boots from the slug: the web process imports installed packages, a console script runs, no build path anywhere', async () => {
    const run = await runBuild({ app: requirementsApp(), buildpacks: [pythonBuildpack], cacheDir, appName: appName() });
    expect(run.log).toMatch(/Python 3\.11\.\d+ at \.heroku\/python/);
    expect(run.log).toMatch(/no version requested: using the default/);
    for (const f of ['.heroku/python/usr/bin/python3.11', '.heroku/python-packages/greet/__init__.py', '.heroku/python-packages/bin/greet', '.profile.d/python.sh']) assertSlugContains(run, f);
    expect(run.slugJson.runtimes[0]).toMatchObject({ name: 'python', version: expect.stringMatching(/^3\.11\./) });
    const web = await startProcess(run, 'web');
    const res = await fetch(web.url);
    expect(await res.text()).toBe('hi helper 1');
    web.stop();
    const script = await startProcess({ slugPath: run.slugPath, release: { processTypes: { web: 'greet; exec python3 -m http.server $PORT --bind 127.0.0.1' } } }, 'web');
    await new Promise((r) => setTimeout(r, 200));
    expect(script.output()).toMatch(/hello from greet/);
    script.stop();
    // No file of the slug names the build dir (console scripts, .pyc, dist-info, .profile.d).
    const unpacked = await unpackSlugToTemp(run.slugPath);
    const offenders: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && /slugc-[A-Za-z0-9]{6}\/app/.test(fs.readFileSync(p).toString('latin1'))) offenders.push(path.relative(unpacked, p));
      }
    };
    walk(unpacked);
    expect(offenders).toEqual([]);
    expect(fs.readFileSync(path.join(unpacked, '.heroku/python-packages/bin/greet'), 'utf8')).toMatch(/^#!\/usr\/bin\/env python3(\.11)?\n/);
    expect(fs.readFileSync(path.join(unpacked, '.profile.d/python.sh'), 'utf8')).toMatch(/export PYTHONPATH="\$HOME\/\.heroku\/python-packages"/);
  });

  it('runs no pip at all when nothing changed, and reinstalls saying why when an included requirements file changes', async () => {
    const app = requirementsApp();
    const name = appName();
    const first = await runCompile(pythonBuildpack, { app, cacheDir, appName: name });
    expect(first.layers.map((l) => [l.layer, l.state])).toEqual([['runtime', 'new'], ['python-packages', 'new']]);
    const rec = execRecorder();
    const second = await runCompile(pythonBuildpack, { app, cacheDir, appName: name, exec: rec.exec });
    expect(second.layers.map((l) => [l.layer, l.state])).toEqual([['runtime', 'restored'], ['python-packages', 'restored']]);
    expect(rec.commands.filter((c) => c.line.includes('pip'))).toEqual([]);
    expect(second.log).toMatch(/requirements\.txt, requirements\/base\.txt unchanged: packages restored from the cache, pip not run/);
    expect(fs.existsSync(path.join(second.appDir, '.heroku/python-packages/greet/__init__.py'))).toBe(true);
    app.write({ 'requirements/base.txt': 'greet==2.0\ntiny-helper==0.3\n', ...wheelFiles(greet2) });
    const third = await runCompile(pythonBuildpack, { app, cacheDir, appName: name });
    expect(third.layers.find((l) => l.layer === 'python-packages')?.reason).toMatch(/^key changed: .*requirements\/base\.txt_sha256/);
    expect(fs.readFileSync(path.join(third.appDir, '.heroku/python-packages/greet/__init__.py'), 'utf8')).toMatch(/greet 2/);
  });
});

describe('index settings from the build env', () => {
  let index: SimpleIndex;
  beforeAll(async () => {
    index = await serveSimpleIndex(wheelDir);
  });
  afterAll(() => index.close());

  it('installs from PIP_INDEX_URL and never shows its password in the log or the slug', async () => {
    const secretUrl = index.url.replace('http://', 'http://builder:s3cret-index-pass@');
    const run = await runBuild({ app: testApp({ 'requirements.txt': 'greet==1.0\n' }), buildpacks: [pythonBuildpack], cacheDir, appName: appName(), env: { PIP_INDEX_URL: secretUrl } });
    expect(index.requests).toContain('/simple/greet/');
    expect(run.log).not.toContain('s3cret-index-pass');
    expect(JSON.stringify(run.slugJson)).not.toContain('s3cret-index-pass');
    const unpacked = await unpackSlugToTemp(run.slugPath);
    const hits = fs.readdirSync(path.join(unpacked, '.heroku/python-packages'), { recursive: true, encoding: 'utf8' }).filter((f) => {
      const p = path.join(unpacked, '.heroku/python-packages', f);
      return fs.statSync(p).isFile() && fs.readFileSync(p, 'utf8').includes('s3cret-index-pass');
    });
    expect(hits).toEqual([]);
  });

  it('fails with pip\'s own message when a requirement is not on the index', async () => {
    const err = (await runCompile(pythonBuildpack, { app: testApp({ 'requirements.txt': 'no-such-package==1.0\n' }), cacheDir, appName: appName(), env: { PIP_INDEX_URL: index.url } }).then(
      () => new Error('expected a failure'),
      (e: unknown) => e,
    )) as Error & { code: string };
    expect(err).toMatchObject({ code: 'SLUGC_COMMAND_FAILED' });
    expect(err.message).toMatch(/No matching distribution found for no-such-package==1\.0/);
  });
});

describe('a pyproject.toml project', () => {
  it('builds and installs the app itself with an in-tree PEP 517 backend (backend-path), offline', async () => {
    const backend = `import os, zipfile, hashlib, base64
def _h(b): return 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode()
def get_requires_for_build_wheel(config_settings=None): return []
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = 'myapp-0.1-py3-none-any.whl'
    files = {'myapp/__init__.py': open('src/myapp/__init__.py','rb').read(),
             'myapp-0.1.dist-info/METADATA': b'Metadata-Version: 2.1\\nName: myapp\\nVersion: 0.1\\nRequires-Dist: greet\\n',
             'myapp-0.1.dist-info/WHEEL': b'Wheel-Version: 1.0\\nGenerator: inline\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n'}
    record = ''.join(f'{p},{_h(b)},{len(b)}\\n' for p, b in files.items()) + 'myapp-0.1.dist-info/RECORD,,\\n'
    with zipfile.ZipFile(os.path.join(wheel_directory, name), 'w') as z:
        for p, b in files.items(): z.writestr(p, b)
        z.writestr('myapp-0.1.dist-info/RECORD', record)
    return name
`;
    const app = testApp({
      'pyproject.toml': '[build-system]\nrequires = []\nbuild-backend = "inline_backend"\nbackend-path = ["_build"]\n\n[project]\nname = "myapp"\nversion = "0.1"\nrequires-python = ">=3.9,<3.13"\ndependencies = ["greet"]\n',
      '_build/inline_backend.py': backend,
      'src/myapp/__init__.py': "VALUE = 'from myapp'\n",
      ...wheelFiles(greet),
    });
    const r = await runCompile(pythonBuildpack, { app, cacheDir, appName: appName(), env: { PIP_FIND_LINKS: 'wheels', PIP_NO_INDEX: '1' } });
    expect(r.log).toMatch(/requires-python in pyproject\.toml requests/);
    expect(fs.readFileSync(path.join(r.appDir, '.heroku/python-packages/myapp/__init__.py'), 'utf8')).toMatch(/from myapp/);
    expect(fs.existsSync(path.join(r.appDir, '.heroku/python-packages/greet'))).toBe(true);
  });
});

describe('lockfiles, installed with pip alone (no pipenv, uv or poetry downloaded)', () => {
  const findLinks = { PIP_FIND_LINKS: 'wheels', PIP_NO_INDEX: '1' };
  const pipfileLock = (greetHash = greet.sha256) =>
    JSON.stringify({
      _meta: { requires: { python_version: '3.11' }, 'pipfile-spec': 6, sources: [{ name: 'pypi', url: 'https://pypi.org/simple', verify_ssl: true }] },
      default: {
        greet: { hashes: [`sha256:${greetHash}`], index: 'pypi', version: '==1.0' },
        'tiny-helper': { hashes: [`sha256:${helper.sha256}`], index: 'pypi', markers: "python_version >= '3.8'", version: '==0.3' },
      },
      develop: { devtool: { hashes: [`sha256:${devtool.sha256}`], version: '==9.9' } },
    });
  const installed = (dir: string) => fs.readdirSync(path.join(dir, '.heroku/python-packages')).filter((f) => !f.includes('.') && f !== 'bin').sort();

  it('installs the default section of Pipfile.lock, hash-checked, without the develop section', async () => {
    const app = testApp({ Pipfile: '[packages]\ngreet = "*"\n', 'Pipfile.lock': pipfileLock(), ...wheelFiles(greet, helper, devtool) });
    const r = await runCompile(pythonBuildpack, { app, cacheDir, appName: appName(), env: findLinks });
    expect(r.log).toMatch(/Pipfile\.lock \(_meta\.requires\) requests "3\.11"/);
    expect(r.log).toMatch(/Pipfile\.lock: 2 packages pinned, every one hash-checked/);
    expect(installed(r.appDir)).toEqual(['greet', 'tiny_helper']);
  });

  it('refuses a package whose hash does not match the lock', async () => {
    const app = testApp({ Pipfile: '', 'Pipfile.lock': pipfileLock('0'.repeat(64)), ...wheelFiles(greet, helper) });
    await expect(runCompile(pythonBuildpack, { app, cacheDir, appName: appName(), env: findLinks })).rejects.toMatchObject({
      code: 'SLUGC_COMMAND_FAILED',
      message: expect.stringMatching(/DO NOT MATCH THE HASHES/),
    });
  });

  it('installs the main dependencies of uv.lock (markers kept, dev group left out)', async () => {
    const uvLock = `version = 1
requires-python = ">=3.11"

[[package]]
name = "devtool"
version = "9.9"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://files.example/devtool-9.9-py3-none-any.whl", hash = "sha256:${devtool.sha256}" }]

[[package]]
name = "greet"
version = "1.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://files.example/greet-1.0-py3-none-any.whl", hash = "sha256:${greet.sha256}" }]

[[package]]
name = "myapp"
version = "0.1.0"
source = { virtual = "." }
dependencies = [
    { name = "greet" },
    { name = "tiny-helper", marker = "python_full_version >= '3.8'" },
]

[package.dev-dependencies]
dev = [{ name = "devtool" }]

[[package]]
name = "tiny-helper"
version = "0.3"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://files.example/tiny_helper-0.3-py3-none-any.whl", hash = "sha256:${helper.sha256}" }]
`;
    const app = testApp({ 'pyproject.toml': '[project]\nname = "myapp"\nversion = "0.1.0"\nrequires-python = ">=3.11"\ndependencies = ["greet", "tiny-helper"]\n', 'uv.lock': uvLock, ...wheelFiles(greet, helper, devtool) });
    const r = await runCompile(pythonBuildpack, { app, cacheDir, appName: appName(), env: findLinks });
    expect(r.log).toMatch(/requires-python in uv\.lock requests/);
    expect(r.log).toMatch(/uv\.lock: 2 packages pinned, every one hash-checked/);
    expect(installed(r.appDir)).toEqual(['greet', 'tiny_helper']);
  });

  it('installs the main group of poetry.lock 2.0, found through pyproject.toml, without the dev group', async () => {
    const pkg = (name: string, version: string, w: { file: string; sha256: string }) =>
      `[[package]]\nname = "${name}"\nversion = "${version}"\ndescription = ""\noptional = false\npython-versions = "*"\nfiles = [\n    {file = "${path.basename(w.file)}", hash = "sha256:${w.sha256}"},\n]\n`;
    const poetryLock = `${pkg('devtool', '9.9', devtool)}\n${pkg('greet', '1.0', greet)}\n${pkg('tiny-helper', '0.3', helper)}\n[metadata]\nlock-version = "2.0"\npython-versions = "^3.11"\ncontent-hash = "0000"\n`;
    const pyproject = '[tool.poetry]\nname = "myapp"\nversion = "0.1.0"\ndescription = ""\nauthors = []\npackage-mode = false\n\n[tool.poetry.dependencies]\npython = "^3.11"\ngreet = "1.0"\ntiny-helper = "0.3"\n\n[tool.poetry.group.dev.dependencies]\ndevtool = "*"\n';
    const app = testApp({ 'pyproject.toml': pyproject, 'poetry.lock': poetryLock, ...wheelFiles(greet, helper, devtool) });
    const r = await runCompile(pythonBuildpack, { app, cacheDir, appName: appName(), env: findLinks });
    expect(r.log).toMatch(/poetry\.lock: 2 packages pinned, every one hash-checked/);
    expect(installed(r.appDir)).toEqual(['greet', 'tiny_helper']);
  });
});

describe('hooks and Django', () => {
  it('runs bin/pre_compile and bin/post_compile, collectstatic when Django is installed, and releases gunicorn for one Django project', async () => {
    const django = writeWheel(tempDir(), { name: 'django', version: '5.0', files: { 'django/__init__.py': '' } });
    const gunicorn = writeWheel(tempDir(), { name: 'gunicorn', version: '22.0', files: { 'gunicorn/__init__.py': '' } });
    const app = testApp({
      'requirements.txt': '--find-links wheels\n--no-index\ndjango==5.0\ngunicorn==22.0\n',
      'manage.py': "import sys\nprint('collectstatic called with', ' '.join(sys.argv[1:]))\n",
      'mysite/settings.py': '',
      'mysite/wsgi.py': '',
      'bin/pre_compile': '#!/bin/sh\necho pre-compile ran\n',
      'bin/post_compile': { content: '#!/bin/sh\necho post-compile ran\n', mode: 0o755 },
      ...wheelFiles(django, gunicorn),
    });
    const run = await runBuild({ app, buildpacks: [pythonBuildpack], cacheDir, appName: appName() });
    const lines = run.log.split('\n').map((l) => l.trim());
    const order = ['pre-compile ran', 'post-compile ran', 'collectstatic called with collectstatic --noinput'].map((t) => lines.indexOf(t));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    assertProcessType(run, 'web', 'gunicorn mysite.wsgi');
    const skipped = await runCompile(pythonBuildpack, { app, cacheDir, appName: appName(), env: { DISABLE_COLLECTSTATIC: '1' } });
    expect(skipped.log).toMatch(/DISABLE_COLLECTSTATIC is set: collectstatic skipped/);
  });

  it('fails the build with the hook\'s output when bin/post_compile fails', async () => {
    const app = testApp({ 'requirements.txt': '', 'bin/post_compile': '#!/bin/sh\necho migrations are broken >&2\nexit 3\n' });
    await expect(runCompile(pythonBuildpack, { app, cacheDir, appName: appName() })).rejects.toMatchObject({ code: 'SLUGC_COMMAND_FAILED', message: expect.stringMatching(/migrations are broken/) });
  });
});

describe('failures that say what to do', () => {
  it('lists the versions there are, and how to add a source, for a version no source has', async () => {
    await expect(runCompile(pythonBuildpack, { app: testApp({ '.python-version': '3.99\n', 'requirements.txt': '' }), cacheDir, appName: appName() })).rejects.toMatchObject({
      code: 'SLUGC_VERSION_UNSATISFIABLE',
      message: expect.stringMatching(/Available: 3\.11\.\d+/),
      hint: expect.stringMatching(/SLUGC_PYTHON_INVENTORY/),
    });
  });

  it('refuses a runtime.txt that is not python-X.Y.Z, naming the file', async () => {
    await expect(runCompile(pythonBuildpack, { app: testApp({ 'runtime.txt': 'ruby-3.1\n', 'requirements.txt': '' }), cacheDir, appName: appName() })).rejects.toMatchObject({
      code: 'SLUGC_PYTHON_VERSION_INVALID',
      message: expect.stringMatching(/runtime\.txt/),
    });
  });

  it('refuses two lockfiles, and a Pipfile without its lock, saying which file to delete or create', async () => {
    await expect(runCompile(pythonBuildpack, { app: testApp({ 'requirements.txt': '', 'poetry.lock': '' }), cacheDir, appName: appName() })).rejects.toMatchObject({
      code: 'SLUGC_PYTHON_LOCKFILE_CONFLICT',
      message: expect.stringMatching(/requirements\.txt \(pip\); poetry\.lock \(poetry\)/),
    });
    await expect(runCompile(pythonBuildpack, { app: testApp({ Pipfile: '[packages]\n' }), cacheDir, appName: appName() })).rejects.toMatchObject({
      code: 'SLUGC_PYTHON_LOCKFILE_MISSING',
      hint: expect.stringMatching(/pipenv lock/),
    });
  });
});

