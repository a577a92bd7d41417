// Lockfiles of Pipenv, uv and Poetry, written inline in their real formats,
// turned into pinned, hash-checked requirements without running any tool.
import crypto from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { SlugcError, parseTomlText } from 'slugc/sdk';
import { cleanup } from 'slugc/testing';
import { LOCKFILE_INVALID, LOCKFILE_UNSUPPORTED, normalizePackageName, pipfileLockToRequirements, poetryLockToRequirements, uvLockToRequirements } from './lockfiles.js';

afterEach(cleanup);

/** A sha256 as lockfiles write it; the same file name always gets the same one. */
const sha = (file: string) => crypto.createHash('sha256').update(file).digest('hex');
const h = (file: string) => `sha256:${sha(file)}`;

/** The error a call throws (fails the test when it throws none). */
function thrown(f: () => unknown): SlugcError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SlugcError);
    return e as SlugcError;
  }
  throw new Error('expected an error');
}

describe('normalizePackageName', () => {
  it('lower-cases and turns each run of -, _ and . into one -', () => {
    expect(normalizePackageName('Flask_SQLAlchemy')).toBe('flask-sqlalchemy');
    expect(normalizePackageName('zope.interface')).toBe('zope-interface');
    expect(normalizePackageName('a-_.-b')).toBe('a-b');
  });
});

// ---------------------------------------------------------------------------

const pipfileLock = (def: Record<string, unknown>, develop: Record<string, unknown> = {}, meta: Record<string, unknown> = {}) =>
  JSON.stringify(
    {
      _meta: {
        hash: { sha256: sha('Pipfile') },
        'pipfile-spec': 6,
        requires: { python_version: '3.12' },
        sources: [{ name: 'pypi', url: 'https://pypi.org/simple', verify_ssl: true }],
        ...meta,
      },
      default: def,
      develop,
    },
    null,
    4,
  );

describe('pipfileLockToRequirements', () => {
  const lock = pipfileLock(
    {
      flask: { hashes: [h('flask-3.0.3-py3-none-any.whl'), h('flask-3.0.3.tar.gz')], index: 'pypi', markers: "python_version >= '3.8'", version: '==3.0.3' },
      Flask_Cors: { hashes: [h('Flask_Cors-4.0.1.tar.gz')], index: 'pypi', version: '==4.0.1' },
      colorama: { hashes: [h('colorama-0.4.6-py2.py3-none-any.whl')], index: 'pypi', markers: "platform_system == 'Windows'", version: '==0.4.6' },
      requests: { extras: ['socks'], hashes: [h('requests-2.32.3.tar.gz')], index: 'pypi', version: '==2.32.3' },
    },
    { pytest: { hashes: [h('pytest-8.2.2.tar.gz')], index: 'pypi', version: '==8.2.2' } },
  );

  it('pins the default section with every hash and its markers, sorted by normalized name; develop is left out', () => {
    const r = pipfileLockToRequirements(lock);
    expect(r.requirements).toBe(
      [
        `colorama==0.4.6 ; platform_system == 'Windows' --hash=${h('colorama-0.4.6-py2.py3-none-any.whl')}`,
        `flask==3.0.3 ; python_version >= '3.8' ${[h('flask-3.0.3-py3-none-any.whl'), h('flask-3.0.3.tar.gz')].sort().map((x) => `--hash=${x}`).join(' ')}`,
        `flask-cors==4.0.1 --hash=${h('Flask_Cors-4.0.1.tar.gz')}`,
        `requests==2.32.3 --hash=${h('requests-2.32.3.tar.gz')}`,
        '',
      ].join('\n'),
    );
    expect(r.packages).toEqual(['colorama', 'flask', 'flask-cors', 'requests']);
    expect(r.unhashed).toEqual([]);
  });

  it('pins an entry without hashes and reports it, since pip checks hashes for the whole file or none', () => {
    const r = pipfileLockToRequirements(pipfileLock({ internal: { version: '==1.4.0', index: 'private' }, six: { version: '==1.16.0', hashes: [h('six-1.16.0.tar.gz')] } }));
    expect(r.requirements).toBe(`internal==1.4.0\nsix==1.16.0 --hash=${h('six-1.16.0.tar.gz')}\n`);
    expect(r.unhashed).toEqual(['internal']);
  });

  it('keeps only the hashes pip accepts (sha256, sha384, sha512) and refuses one that is not algorithm:hex', () => {
    const sha512 = `sha512:${'ab'.repeat(64)}`;
    const r = pipfileLockToRequirements(pipfileLock({ six: { version: '==1.16.0', hashes: [`md5:${'0'.repeat(32)}`, sha512.toUpperCase().replace('SHA512', 'sha512')] } }));
    expect(r.requirements).toBe(`six==1.16.0 --hash=${sha512}\n`);
    const e = thrown(() => pipfileLockToRequirements(pipfileLock({ six: { version: '==1.16.0', hashes: ['sha256 deadbeef'] } })));
    expect(e.code).toBe(LOCKFILE_INVALID);
    expect(e.message).toBe(`Couldn't read Pipfile.lock: the hash "sha256 deadbeef" of six is not "algorithm:hex".`);
    expect(thrown(() => pipfileLockToRequirements(pipfileLock({ six: { version: '==1.16.0', hashes: ['sha256:abc'] } }))).message).toMatch(/has 3 hex digits, not 64/);
  });

  it('refuses packages from git, a path, a URL or editable, naming each and saying what to do', () => {
    const e = thrown(() =>
      pipfileLockToRequirements(
        pipfileLock({
          mylib: { git: 'https://x-token:secret@github.com/acme/mylib.git', ref: '3f2a9c1' },
          shared: { editable: true, path: '../shared' },
          wheelie: { file: 'https://example.com/wheelie-1.0-py3-none-any.whl' },
          six: { version: '==1.16.0', hashes: [h('six-1.16.0.tar.gz')] },
        }),
      ),
    );
    expect(e.code).toBe(LOCKFILE_UNSUPPORTED);
    expect(e.message).toBe("Couldn't pin mylib (from a git repository), shared (from a local path), wheelie (from a URL) from Pipfile.lock: a hash-checked pip install takes packages from a package index only.");
    expect(e.message).not.toContain('secret');
    expect(e.hint).toMatch(/package index/);
    expect(e.hint).toMatch(/--find-links/);
    expect(e.details).toEqual({ file: 'Pipfile.lock', packages: ['mylib', 'shared', 'wheelie'] });
  });

  it('does not mind a VCS package among the dev packages', () => {
    const r = pipfileLockToRequirements(pipfileLock({ six: { version: '==1.16.0', hashes: [h('six-1.16.0.tar.gz')] } }, { devtools: { git: 'https://github.com/acme/devtools.git', ref: 'main' } }));
    expect(r.packages).toEqual(['six']);
  });

  it('names the line and column of a JSON syntax error', () => {
    const e = thrown(() => pipfileLockToRequirements('{\n  "_meta": {},\n  "default": {\n    "six": { "version": "==1.16.0", }\n  }\n}\n', 'api/Pipfile.lock'));
    expect(e.code).toBe(LOCKFILE_INVALID);
    expect(e.message).toMatch(/^Couldn't parse api\/Pipfile\.lock at line 4, column \d+: /);
  });

  it('refuses a format other than pipfile-spec 6, an entry with no exact version, and fields of the wrong type', () => {
    const spec = thrown(() => pipfileLockToRequirements(pipfileLock({}, {}, { 'pipfile-spec': 7 })));
    expect(spec.code).toBe(LOCKFILE_UNSUPPORTED);
    expect(spec.message).toBe("Couldn't read Pipfile.lock: its format (pipfile-spec 7) is not the one slugc reads (6).");
    const noVersion = thrown(() => pipfileLockToRequirements(pipfileLock({ six: { version: '*', hashes: [] } })));
    expect(noVersion.code).toBe(LOCKFILE_INVALID);
    expect(noVersion.message).toMatch(/six in "default" has no exact version/);
    const types = thrown(() => pipfileLockToRequirements(pipfileLock({ six: { version: '==1.16.0', hashes: 'sha256:x' } })));
    expect(types.code).toBe(LOCKFILE_INVALID);
    expect(types.message).toMatch(/^Couldn't read Pipfile\.lock:\n {2}default\.six\.hashes: /);
    expect(thrown(() => pipfileLockToRequirements('[]')).message).toBe("Couldn't read Pipfile.lock: it must hold a JSON object.");
  });

  it('keeps ===, and refuses a marker that would break out of its requirements line', () => {
    expect(pipfileLockToRequirements(pipfileLock({ legacy: { version: '===1.0-custom', hashes: [h('legacy.tar.gz')] } })).requirements).toBe(`legacy===1.0-custom --hash=${h('legacy.tar.gz')}\n`);
    for (const markers of ["python_version >= '3.8'\n--index-url https://evil.example/simple", "python_version >= '3.8' --no-binary :all:", "os_name == 'posix' # comment"]) {
      const e = thrown(() => pipfileLockToRequirements(pipfileLock({ six: { version: '==1.16.0', hashes: [h('six.tar.gz')], markers } })));
      expect(e.code).toBe(LOCKFILE_INVALID);
      expect(e.message).toMatch(/can't be written to a requirements file/);
    }
  });
});

// ---------------------------------------------------------------------------

const PYPI = 'source = { registry = "https://pypi.org/simple" }';

/** A registry [[package]] of uv.lock with an sdist and wheels, as uv writes it. */
function uvPackage(name: string, version: string, deps: string[] = [], wheels = [`${name}-${version}-py3-none-any.whl`], more = ''): string {
  const sdist = `${name}-${version}.tar.gz`;
  return [
    '[[package]]',
    `name = "${name}"`,
    `version = "${version}"`,
    PYPI,
    ...(deps.length ? ['dependencies = [', ...deps.map((d) => `    ${d},`), ']'] : []),
    `sdist = { url = "https://files.pythonhosted.org/packages/ab/cd/${sdist}", hash = "${h(sdist)}", size = 12345, upload-time = "2024-05-01T10:00:00.000Z" }`,
    'wheels = [',
    ...wheels.map((w) => `    { url = "https://files.pythonhosted.org/packages/ef/01/${w}", hash = "${h(w)}", size = 6789, upload-time = "2024-05-01T10:00:00.000Z" },`),
    ']',
    more,
  ].join('\n');
}

/** The --hash options of a uv package: its sdist's and wheels'. */
const uvHashes = (name: string, version: string, wheels = [`${name}-${version}-py3-none-any.whl`]) =>
  [`${name}-${version}.tar.gz`, ...wheels]
    .map(h)
    .sort()
    .map((x) => `--hash=${x}`)
    .join(' ');

const UV_ROOT = `[[package]]
name = "app"
version = "0.1.0"
source = { virtual = "." }
dependencies = [
    { name = "colorama", marker = "sys_platform == 'win32'" },
    { name = "flask" },
    { name = "httpx", extra = ["http2"] },
    { name = "tomli", marker = "python_full_version < '3.11'" },
]

[package.optional-dependencies]
postgres = [
    { name = "psycopg" },
]

[package.dev-dependencies]
dev = [
    { name = "devtool" },
    { name = "pytest" },
]

[package.metadata]
requires-dist = [
    { name = "colorama", marker = "sys_platform == 'win32'", specifier = ">=0.4" },
    { name = "flask", specifier = ">=3.0" },
    { name = "httpx", extras = ["http2"], specifier = ">=0.27" },
    { name = "psycopg", marker = "extra == 'postgres'", specifier = ">=3.1" },
    { name = "tomli", marker = "python_full_version < '3.11'", specifier = ">=2" },
]
provides-extras = ["postgres"]

[package.metadata.requires-dev]
dev = [
    { name = "devtool", git = "https://github.com/acme/devtool?rev=main" },
    { name = "pytest", specifier = ">=8.2" },
]
`;

const MARKUPSAFE_WHEELS = ['MarkupSafe-2.1.5-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', 'MarkupSafe-2.1.5-cp312-cp312-macosx_10_9_universal2.whl', 'MarkupSafe-2.1.5-cp312-cp312-win_amd64.whl'];

const UV_LOCK = [
  'version = 1\nrevision = 2\nrequires-python = ">=3.10"\n',
  uvPackage('anyio', '4.4.0', ['{ name = "idna" }', '{ name = "sniffio" }']),
  UV_ROOT,
  uvPackage('click', '8.1.7', [`{ name = "colorama", marker = "platform_system == 'Windows'" }`]),
  uvPackage('colorama', '0.4.6', [], ['colorama-0.4.6-py2.py3-none-any.whl']),
  `[[package]]
name = "devtool"
version = "0.3.0"
source = { git = "https://github.com/acme/devtool?rev=main#4f1d9991f5acc0ca119f9d443620b77f9d6b3370" }
`,
  uvPackage('flask', '3.0.3', ['{ name = "blinker" }', '{ name = "click" }', '{ name = "werkzeug" }']),
  uvPackage('blinker', '1.8.2'),
  uvPackage('h2', '4.1.0', ['{ name = "hpack" }', '{ name = "hyperframe" }']),
  uvPackage('hpack', '4.0.0'),
  uvPackage('httpx', '0.27.0', ['{ name = "anyio" }', '{ name = "idna" }'], undefined, '\n[package.optional-dependencies]\nhttp2 = [\n    { name = "h2" },\n]\nsocks = [\n    { name = "socksio" },\n]\n'),
  uvPackage('hyperframe', '6.0.1'),
  uvPackage('idna', '3.7'),
  uvPackage('iniconfig', '2.0.0'),
  uvPackage('markupsafe', '2.1.5', [], MARKUPSAFE_WHEELS),
  uvPackage('psycopg', '3.1.19'),
  uvPackage('pytest', '8.2.2', [`{ name = "colorama", marker = "sys_platform == 'win32'" }`, '{ name = "iniconfig" }', `{ name = "tomli", marker = "python_full_version < '3.11'" }`]),
  uvPackage('sniffio', '1.3.1'),
  uvPackage('socksio', '1.0.0'),
  uvPackage('tomli', '2.0.1'),
  uvPackage('werkzeug', '3.0.3', ['{ name = "markupsafe" }']),
].join('\n');

describe('uvLockToRequirements', () => {
  it('walks the main dependencies of the project transitively, with the extras an edge asks for, and leaves out dev groups and its own extras', () => {
    const r = uvLockToRequirements(UV_LOCK);
    expect(r.packages).toEqual(['anyio', 'blinker', 'click', 'colorama', 'flask', 'h2', 'hpack', 'httpx', 'hyperframe', 'idna', 'markupsafe', 'sniffio', 'tomli', 'werkzeug']);
    expect(r.unhashed).toEqual([]);
    expect(r.requirements).toBe(
      [
        `anyio==4.4.0 ${uvHashes('anyio', '4.4.0')}`,
        `blinker==1.8.2 ${uvHashes('blinker', '1.8.2')}`,
        `click==8.1.7 ${uvHashes('click', '8.1.7')}`,
        `colorama==0.4.6 ; (platform_system == 'Windows') or (sys_platform == 'win32') ${uvHashes('colorama', '0.4.6', ['colorama-0.4.6-py2.py3-none-any.whl'])}`,
        `flask==3.0.3 ${uvHashes('flask', '3.0.3')}`,
        `h2==4.1.0 ${uvHashes('h2', '4.1.0')}`,
        `hpack==4.0.0 ${uvHashes('hpack', '4.0.0')}`,
        `httpx==0.27.0 ${uvHashes('httpx', '0.27.0')}`,
        `hyperframe==6.0.1 ${uvHashes('hyperframe', '6.0.1')}`,
        `idna==3.7 ${uvHashes('idna', '3.7')}`,
        `markupsafe==2.1.5 ${uvHashes('markupsafe', '2.1.5', MARKUPSAFE_WHEELS)}`,
        `sniffio==1.3.1 ${uvHashes('sniffio', '1.3.1')}`,
        `tomli==2.0.1 ; python_full_version < '3.11' ${uvHashes('tomli', '2.0.1')}`,
        `werkzeug==3.0.3 ${uvHashes('werkzeug', '3.0.3')}`,
        '',
      ].join('\n'),
    );
  });

  it('collects the hash of the sdist and of every wheel', () => {
    const line = uvLockToRequirements(UV_LOCK).requirements.split('\n').find((l) => l.startsWith('markupsafe=='))!;
    expect(line.match(/--hash=/g)).toHaveLength(4);
  });

  it('ANDs the markers along a path and ORs the paths, through cycles; one unguarded path leaves the line unmarked', () => {
    const lock = `version = 1
revision = 1
requires-python = ">=3.9"

[[package]]
name = "api"
version = "1.0.0"
source = { editable = "." }
dependencies = [
    { name = "alpha", marker = "sys_platform == 'linux'" },
    { name = "gamma", marker = "python_full_version < '3.11'" },
    { name = "delta", marker = "platform_machine == 'x86_64' or platform_machine == 'aarch64'" },
]

${uvPackage('alpha', '1.0.0', [`{ name = "beta", marker = "implementation_name == 'cpython'" }`])}
${uvPackage('beta', '1.0.0', ['{ name = "alpha" }', '{ name = "gamma" }', `{ name = "epsilon", marker = "python_full_version >= '3.10'" }`])}
${uvPackage('gamma', '1.0.0')}
${uvPackage('delta', '1.0.0', [`{ name = "epsilon", marker = "os_name == 'posix'" }`])}
${uvPackage('epsilon', '1.0.0')}
`;
    const lines = Object.fromEntries(uvLockToRequirements(lock).requirements.trim().split('\n').map((l) => [l.split('==')[0], l.replace(/ --hash=\S+/g, '').replace(/^[^ ]+ ?/, '')]));
    expect(lines).toEqual({
      alpha: "; sys_platform == 'linux'",
      beta: "; implementation_name == 'cpython' and sys_platform == 'linux'",
      gamma: "; (implementation_name == 'cpython' and sys_platform == 'linux') or (python_full_version < '3.11')",
      delta: "; platform_machine == 'x86_64' or platform_machine == 'aarch64'",
      epsilon:
        "; (implementation_name == 'cpython' and python_full_version >= '3.10' and sys_platform == 'linux') or (os_name == 'posix' and (platform_machine == 'x86_64' or platform_machine == 'aarch64'))",
    });
    const unguarded = lock.replace(`{ name = "gamma", marker = "python_full_version < '3.11'" }`, '{ name = "gamma" }');
    expect(uvLockToRequirements(unguarded).requirements).toMatch(/^gamma==1\.0\.0 --hash=/m);
  });

  it('pins each version of a package the lock forks on, under the marker of its edge', () => {
    const lock = `version = 1
revision = 2
requires-python = ">=3.10"
resolution-markers = [
    "python_full_version >= '3.12'",
    "python_full_version < '3.12'",
]

[[package]]
name = "numpy"
version = "1.26.4"
${PYPI}
sdist = { url = "https://files.pythonhosted.org/numpy-1.26.4.tar.gz", hash = "${h('numpy-1.26.4.tar.gz')}" }

[[package]]
name = "numpy"
version = "2.0.0"
${PYPI}
sdist = { url = "https://files.pythonhosted.org/numpy-2.0.0.tar.gz", hash = "${h('numpy-2.0.0.tar.gz')}" }

[[package]]
name = "app"
version = "0.1.0"
source = { virtual = "." }
dependencies = [
    { name = "numpy", version = "1.26.4", source = { registry = "https://pypi.org/simple" }, marker = "python_full_version < '3.12'" },
    { name = "numpy", version = "2.0.0", source = { registry = "https://pypi.org/simple" }, marker = "python_full_version >= '3.12'" },
]
`;
    const r = uvLockToRequirements(lock);
    expect(r.requirements).toBe(
      `numpy==1.26.4 ; python_full_version < '3.12' --hash=${h('numpy-1.26.4.tar.gz')}\nnumpy==2.0.0 ; python_full_version >= '3.12' --hash=${h('numpy-2.0.0.tar.gz')}\n`,
    );
    expect(r.packages).toEqual(['numpy']);
  });

  it('pins a package its index gave no hash for, and reports it', () => {
    const lock = `version = 1
requires-python = ">=3.12"

[[package]]
name = "app"
version = "0.1.0"
source = { virtual = "." }
dependencies = [{ name = "internal-lib" }, { name = "six" }]

[[package]]
name = "internal-lib"
version = "2.1.0"
source = { registry = "https://pypi.internal.example/simple" }
wheels = [{ url = "https://pypi.internal.example/packages/internal_lib-2.1.0-py3-none-any.whl" }]

${uvPackage('six', '1.16.0')}
`;
    const r = uvLockToRequirements(lock);
    expect(r.requirements.split('\n')[0]).toBe('internal-lib==2.1.0');
    expect(r.unhashed).toEqual(['internal-lib']);
  });

  it('refuses a package from git, a path or another workspace member, naming each; the URL is not quoted', () => {
    const lock = `version = 1
requires-python = ">=3.12"

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "mylib" }, { name = "shared" }, { name = "vendored" }, { name = "six" }]

[[package]]
name = "mylib"
version = "0.5.0"
source = { git = "https://oauth2:s3cr3t@gitlab.example.com/acme/mylib?rev=v0.5.0#a1b2c3d4" }

[[package]]
name = "shared"
version = "0.1.0"
source = { editable = "packages/shared" }

[[package]]
name = "vendored"
version = "1.0.0"
source = { path = "vendor/vendored-1.0.0-py3-none-any.whl" }
wheels = [{ filename = "vendored-1.0.0-py3-none-any.whl", hash = "${h('vendored')}" }]

${uvPackage('six', '1.16.0')}
`;
    const e = thrown(() => uvLockToRequirements(lock));
    expect(e.code).toBe(LOCKFILE_UNSUPPORTED);
    expect(e.message).toBe("Couldn't pin mylib (from a git repository), shared (from an editable local directory), vendored (from a local path) from uv.lock: a hash-checked pip install takes packages from a package index only.");
    expect(e.message).not.toContain('s3cr3t');
    expect(e.hint).toMatch(/--find-links/);
  });

  it('does not mind a git package reached only through a dev group', () => {
    expect(uvLockToRequirements(UV_LOCK).packages).not.toContain('devtool');
  });

  it('refuses a lock format version other than 1, and a file with none', () => {
    const e = thrown(() => uvLockToRequirements(UV_LOCK.replace('version = 1\n', 'version = 2\n')));
    expect(e.code).toBe(LOCKFILE_UNSUPPORTED);
    expect(e.message).toBe("Couldn't read uv.lock: its lock format version 2 is not the one slugc reads (1).");
    expect(e.hint).toMatch(/uv lock/);
    const none = thrown(() => uvLockToRequirements(UV_LOCK.replace('version = 1\n', '')));
    expect(none.code).toBe(LOCKFILE_UNSUPPORTED);
    expect(none.message).toBe("Couldn't read uv.lock: it has no lock format `version`.");
  });

  it('names the line and column of a TOML syntax error', () => {
    const e = thrown(() => uvLockToRequirements('version = 1\nrequires-python = ">=3.12"\n\n[[package]]\nname = "app"\nversion = 0.1.0\nsource = { virtual = "." }\n', 'services/api/uv.lock'));
    expect(e.code).toBe(LOCKFILE_INVALID);
    expect(e.message).toBe("Couldn't parse services/api/uv.lock at line 6, column 14: illegal character in numeric literal");
    expect(e.details).toEqual({ file: 'services/api/uv.lock', line: 6, column: 14 });
    expect(e.hint).toBe('Lock again with `uv lock` and commit services/api/uv.lock.');
  });

  it('refuses a lock without the project, and an edge to a package it does not have', () => {
    const noRoot = thrown(() => uvLockToRequirements(`version = 1\n\n${uvPackage('six', '1.16.0')}`));
    expect(noRoot.code).toBe(LOCKFILE_INVALID);
    expect(noRoot.message).toBe(`Couldn't find the app's own project in uv.lock: no package has source { virtual = "." } or { editable = "." }.`);
    const dangling = thrown(() => uvLockToRequirements(UV_LOCK.replace(uvPackage('sniffio', '1.3.1'), '')));
    expect(dangling.code).toBe(LOCKFILE_INVALID);
    expect(dangling.message).toBe("Couldn't read uv.lock: anyio depends on sniffio, which has no [[package]] entry.");
  });

  it('lists fields of the wrong type by path', () => {
    const e = thrown(() => uvLockToRequirements('version = 1\n\n[[package]]\nname = "app"\nsource = { virtual = "." }\ndependencies = "flask"\n'));
    expect(e.code).toBe(LOCKFILE_INVALID);
    expect(e.message).toMatch(/^Couldn't read uv\.lock:\n {2}package\.0\.dependencies: /);
  });
});

// ---------------------------------------------------------------------------

/** A [[package]] of poetry.lock as Poetry writes it. */
function poetryPackage(name: string, version: string, more: { deps?: string; extras?: string; optional?: boolean; groups?: string[]; markers?: string; files?: string[]; source?: string } = {}): string {
  const files = more.files ?? [`${name.replace(/-/g, '_')}-${version}-py3-none-any.whl`, `${name}-${version}.tar.gz`];
  return [
    '[[package]]',
    `name = "${name}"`,
    `version = "${version}"`,
    `description = "The ${name} package"`,
    `optional = ${more.optional ?? false}`,
    'python-versions = ">=3.8"',
    ...(more.groups ? [`groups = [${more.groups.map((g) => `"${g}"`).join(', ')}]`] : []),
    ...(more.markers ? [`markers = ${more.markers}`] : []),
    'files = [',
    ...files.map((f) => `    {file = "${f}", hash = "${h(f)}"},`),
    ']',
    ...(more.deps ? ['', '[package.dependencies]', more.deps.trim()] : []),
    ...(more.extras ? ['', '[package.extras]', more.extras.trim()] : []),
    ...(more.source ? ['', '[package.source]', more.source.trim()] : []),
    '',
  ].join('\n');
}

const poetryHashes = (name: string, version: string) =>
  [`${name.replace(/-/g, '_')}-${version}-py3-none-any.whl`, `${name}-${version}.tar.gz`]
    .map(h)
    .sort()
    .map((x) => `--hash=${x}`)
    .join(' ');

const POETRY_20 = [
  '# This file is automatically @generated by Poetry 1.8.3 and should not be changed by hand.\n',
  poetryPackage('asgiref', '3.8.1', { deps: 'typing-extensions = {version = ">=4", markers = "python_version < \\"3.11\\""}' }),
  poetryPackage('certifi', '2024.2.2'),
  poetryPackage('charset-normalizer', '3.3.2'),
  poetryPackage('colorama', '0.4.6'),
  poetryPackage('django', '5.0.6', { deps: 'asgiref = ">=3.7.0,<4"\nbackports-zoneinfo = {version = "*", markers = "python_version < \\"3.9\\""}\nsqlparse = ">=0.3.1"\ntzdata = {version = "*", markers = "sys_platform == \\"win32\\""}', extras: 'argon2 = ["argon2-cffi (>=19.1.0)"]\nbcrypt = ["bcrypt"]' }),
  poetryPackage('idna', '3.7'),
  poetryPackage('iniconfig', '2.0.0'),
  poetryPackage('psycopg', '3.1.19', { optional: true, deps: 'typing-extensions = ">=4.1"\ntzdata = {version = "*", markers = "sys_platform == \\"win32\\""}' }),
  poetryPackage('pysocks', '1.7.1'),
  poetryPackage('pytest', '8.2.2', { deps: 'colorama = {version = "*", markers = "sys_platform == \\"win32\\""}\niniconfig = "*"' }),
  poetryPackage('requests', '2.32.3', {
    deps: 'certifi = ">=2017.4.17"\ncharset-normalizer = ">=2,<4"\nidna = ">=2.5,<4"\nPySocks = {version = ">=1.5.6,<1.5.7 || >1.5.7", optional = true}\nurllib3 = ">=1.21.1,<3"',
    extras: 'socks = ["PySocks (>=1.5.6,!=1.5.7)"]\nuse-chardet-on-py3 = ["chardet (>=3.0.2,<6)"]',
  }),
  poetryPackage('sqlparse', '0.5.0'),
  poetryPackage('tomli', '2.0.1'),
  poetryPackage('typing-extensions', '4.12.2', { optional: true }),
  poetryPackage('tzdata', '2024.1'),
  poetryPackage('urllib3', '2.2.1', { extras: 'socks = ["pysocks (>=1.5.6,!=1.5.7,<2.0)"]' }),
  '[extras]\npg = ["psycopg"]\n',
  '[metadata]\nlock-version = "2.0"\npython-versions = "^3.11"\ncontent-hash = "' + sha('pyproject') + '"\n',
].join('\n');

const POETRY_PYPROJECT = parseTomlText(
  `[tool.poetry]
name = "app"
version = "0.1.0"
description = ""
authors = ["Ada <ada@example.com>"]

[tool.poetry.dependencies]
python = "^3.11"
Django = "^5.0"
requests = { version = "^2.31", extras = ["socks"] }
tomli = { version = "^2.0", python = "<3.12" }
backports-zoneinfo = { version = "^0.2.1", python = "<3.9" }
psycopg = { version = "^3.1", optional = true }

[tool.poetry.extras]
pg = ["psycopg"]

[tool.poetry.group.dev.dependencies]
pytest = "^8.2"

[tool.poetry.dev-dependencies]
iniconfig = "*"

[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
`,
  'pyproject.toml',
);

const POETRY_MAIN = ['asgiref', 'certifi', 'charset-normalizer', 'django', 'idna', 'pysocks', 'requests', 'sqlparse', 'tomli', 'typing-extensions', 'tzdata', 'urllib3'];

describe('poetryLockToRequirements', () => {
  it('lock-version 2.0: walks the main dependencies of pyproject.toml with their extras, leaving out dev groups and the project’s extras', () => {
    const r = poetryLockToRequirements(POETRY_20, 'poetry.lock', POETRY_PYPROJECT);
    expect(r.packages).toEqual(POETRY_MAIN);
    expect(r.unhashed).toEqual([]);
    const lines = r.requirements.trim().split('\n');
    expect(lines).toContain(`django==5.0.6 ${poetryHashes('django', '5.0.6')}`);
    expect(lines).toContain(`pysocks==1.7.1 ${poetryHashes('pysocks', '1.7.1')}`);
    expect(lines).toContain(`tzdata==2024.1 ; sys_platform == "win32" ${poetryHashes('tzdata', '2024.1')}`);
    // Needed by asgiref on old Pythons only (psycopg, which needs it always, is an extra of the project).
    expect(lines).toContain(`typing-extensions==4.12.2 ; python_version < "3.11" ${poetryHashes('typing-extensions', '4.12.2')}`);
    // Poetry leaves out of the lock what no allowed Python needs (backports-zoneinfo, python < 3.9): skipped, not an error.
    expect(r.packages).not.toContain('backports-zoneinfo');
    // python = "<3.12" in pyproject.toml is a marker, so tomli is not installed where it is not needed.
    expect(lines).toContain(`tomli==2.0.1 ; python_full_version < '3.12' ${poetryHashes('tomli', '2.0.1')}`);
    expect(lines.every((l) => /--hash=sha256:[0-9a-f]{64}$/.test(l))).toBe(true);
  });

  it('lock-version 2.0: reads PEP 621 [project] dependencies when pyproject.toml has them', () => {
    const pyproject = parseTomlText(
      `[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = [
    "Django>=5.0",
    "requests[socks]>=2.31",
    "tomli>=2 ; python_version < '3.12'",
]

[project.optional-dependencies]
pg = ["psycopg>=3.1"]

[tool.poetry.group.dev.dependencies]
pytest = "^8.2"
`,
      'pyproject.toml',
    );
    const r = poetryLockToRequirements(POETRY_20, 'poetry.lock', pyproject);
    expect(r.packages).toEqual(POETRY_MAIN);
    expect(r.requirements).toMatch(/^tomli==2\.0\.1 ; python_version < '3\.12' --hash=/m);
  });

  it('lock-version 2.0: turns Poetry python restrictions into markers', () => {
    const pyproject = (python: string) => ({ tool: { poetry: { dependencies: { python: '^3.11', tomli: { version: '^2.0', python } } } } });
    const marker = (python: string) => /^tomli==2\.0\.1(?: ; (.*?))? --hash/m.exec(poetryLockToRequirements(POETRY_20, 'poetry.lock', pyproject(python)).requirements)?.[1];
    expect(marker('^3.8')).toBe("python_full_version >= '3.8' and python_full_version < '4'");
    expect(marker('~3.11')).toBe("python_full_version >= '3.11' and python_full_version < '3.12'");
    expect(marker('>=3.8,<3.12')).toBe("python_full_version >= '3.8' and python_full_version < '3.12'");
    expect(marker('3.11.*')).toBe("python_full_version >= '3.11' and python_full_version < '3.12'");
    expect(marker('<3.9 || >=3.12')).toBe("(python_full_version < '3.9') or (python_full_version >= '3.12')");
    expect(marker('*')).toBeUndefined();
    const e = thrown(() => marker('>=three'));
    expect(e.code).toBe(LOCKFILE_UNSUPPORTED);
    expect(e.message).toBe(`Couldn't read the python restriction ">=three" of tomli in pyproject.toml.`);
  });

  it('lock-version 2.0: needs pyproject.toml to tell main from dev', () => {
    const e = thrown(() => poetryLockToRequirements(POETRY_20));
    expect(e.code).toBe(LOCKFILE_UNSUPPORTED);
    expect(e.message).toBe("Couldn't tell the main dependencies from the dev ones in poetry.lock: lock-version 2.0 does not record groups, and there is no pyproject.toml to read them from.");
    expect(e.hint).toMatch(/Poetry 2/);
  });

  it('lock-version 2.0: says the lock is out of date when pyproject.toml depends on a package it does not lock', () => {
    const pyproject = { tool: { poetry: { dependencies: { python: '^3.11', django: '^5.0', gunicorn: '^22.0' } } } };
    const e = thrown(() => poetryLockToRequirements(POETRY_20, 'poetry.lock', pyproject));
    expect(e.code).toBe(LOCKFILE_INVALID);
    expect(e.message).toBe("Couldn't find gunicorn in poetry.lock, though pyproject.toml depends on it: the lock is older than pyproject.toml.");
    expect(e.hint).toBe('Run `poetry lock` and commit poetry.lock.');
  });

  it('lock-version 2.0: refuses to guess between two locked versions of a package', () => {
    const lock = POETRY_20.replace('[extras]', `${poetryPackage('sqlparse', '0.4.4')}\n[extras]`);
    const e = thrown(() => poetryLockToRequirements(lock, 'poetry.lock', POETRY_PYPROJECT));
    expect(e.code).toBe(LOCKFILE_UNSUPPORTED);
    expect(e.message).toBe("Couldn't tell which of the 2 versions of sqlparse in poetry.lock the app needs: lock-version 2.0 does not record it.");
  });

  const POETRY_21 = [
    '# This file is automatically @generated by Poetry 2.1.3 and should not be changed by hand.\n',
    poetryPackage('certifi', '2024.8.30', { groups: ['main'] }),
    poetryPackage('colorama', '0.4.6', { groups: ['main', 'dev'], markers: `{main = "platform_system == \\"Windows\\"", dev = "sys_platform == \\"win32\\""}` }),
    poetryPackage('click', '8.1.7', { groups: ['main'], deps: 'colorama = {version = "*", markers = "platform_system == \\"Windows\\""}' }),
    poetryPackage('exceptiongroup', '1.2.2', { groups: ['dev'], markers: '"python_version < \\"3.11\\""' }),
    poetryPackage('iniconfig', '2.0.0', { groups: ['dev'] }),
    poetryPackage('psycopg', '3.2.3', { groups: ['main'], optional: true, markers: '"extra == \\"pg\\""' }),
    poetryPackage('pytest', '8.3.3', { groups: ['dev'], deps: 'colorama = {version = "*", markers = "sys_platform == \\"win32\\""}\niniconfig = "*"' }),
    poetryPackage('tomli', '2.0.2', { groups: ['main', 'dev'], markers: `{dev = "python_version < \\"3.11\\""}` }),
    poetryPackage('tzdata', '2024.2', { groups: ['main'], markers: `'sys_platform == "win32"'` }),
    '[extras]\npg = ["psycopg"]\n',
    '[metadata]\nlock-version = "2.1"\npython-versions = ">=3.11,<4.0"\ncontent-hash = "' + sha('pyproject') + '"\n',
  ].join('\n');

  it('lock-version 2.1: takes the packages of the main group, with their main markers, without pyproject.toml', () => {
    const r = poetryLockToRequirements(POETRY_21);
    expect(r.packages).toEqual(['certifi', 'click', 'colorama', 'tomli', 'tzdata']);
    expect(r.requirements).toBe(
      [
        `certifi==2024.8.30 ${poetryHashes('certifi', '2024.8.30')}`,
        `click==8.1.7 ${poetryHashes('click', '8.1.7')}`,
        `colorama==0.4.6 ; platform_system == "Windows" ${poetryHashes('colorama', '0.4.6')}`,
        // Its markers name only the dev group: in main it is unconditional.
        `tomli==2.0.2 ${poetryHashes('tomli', '2.0.2')}`,
        `tzdata==2024.2 ; sys_platform == "win32" ${poetryHashes('tzdata', '2024.2')}`,
        '',
      ].join('\n'),
    );
  });

  it('accepts a private index ("legacy" source), reports a package without files, and refuses git, directory, file and url sources', () => {
    const legacy = 'type = "legacy"\nurl = "https://pypi.internal.example/simple"\nreference = "internal"';
    const ok = poetryLockToRequirements(
      POETRY_21.replace('[extras]', `${poetryPackage('internal-lib', '2.1.0', { groups: ['main'], files: [], source: legacy })}\n[extras]`),
    );
    expect(ok.requirements).toMatch(/^internal-lib==2\.1\.0\n/m);
    expect(ok.unhashed).toEqual(['internal-lib']);

    const sources = [
      poetryPackage('mylib', '0.5.0', { groups: ['main'], files: [], source: 'type = "git"\nurl = "https://deploy:tok3n@github.com/acme/mylib.git"\nreference = "v0.5.0"\nresolved_reference = "a1b2c3d4"' }),
      poetryPackage('shared', '0.1.0', { groups: ['main'], files: [], source: 'type = "directory"\nurl = "../shared"' }),
      poetryPackage('devonly', '0.1.0', { groups: ['dev'], files: [], source: 'type = "directory"\nurl = "../devonly"' }),
      poetryPackage('wheelie', '1.0.0', { groups: ['main'], files: [], source: 'type = "url"\nurl = "https://example.com/wheelie-1.0.0-py3-none-any.whl"' }),
    ].join('\n');
    const e = thrown(() => poetryLockToRequirements(POETRY_21.replace('[extras]', `${sources}\n[extras]`)));
    expect(e.code).toBe(LOCKFILE_UNSUPPORTED);
    expect(e.message).toBe("Couldn't pin mylib (from a git repository), shared (from a local directory), wheelie (from a URL) from poetry.lock: a hash-checked pip install takes packages from a package index only.");
    expect(e.message).not.toContain('tok3n');
    expect(e.hint).toMatch(/--find-links/);
  });

  it('refuses lock-version 1.x (and a lock without one) with a hint to lock again, and an unknown lock-version', () => {
    const v11 = thrown(() => poetryLockToRequirements(POETRY_20.replace('lock-version = "2.0"', 'lock-version = "1.1"'), 'poetry.lock', POETRY_PYPROJECT));
    expect(v11.code).toBe(LOCKFILE_UNSUPPORTED);
    expect(v11.message).toBe(`Couldn't read poetry.lock: its lock-version "1.1" is not one slugc reads (2.0 and 2.1).`);
    expect(v11.hint).toMatch(/Poetry 1\.8 \(`poetry lock --no-update`\) or Poetry 2 \(`poetry lock`\)/);
    const none = thrown(() => poetryLockToRequirements(POETRY_20.replace(/\[metadata\][^]*$/, ''), 'poetry.lock', POETRY_PYPROJECT));
    expect(none.message).toMatch(/lock-version \(none, so 1\.0\)/);
    expect(none.hint).toMatch(/poetry lock/);
    const v3 = thrown(() => poetryLockToRequirements(POETRY_20.replace('lock-version = "2.0"', 'lock-version = "3.0"'), 'poetry.lock', POETRY_PYPROJECT));
    expect(v3.code).toBe(LOCKFILE_UNSUPPORTED);
    expect(v3.message).toMatch(/"3\.0" is not one slugc reads/);
  });

  it('names the line and column of a TOML syntax error', () => {
    const e = thrown(() => poetryLockToRequirements('[[package]]\nname = "six"\nversion = 1.16.0\n'));
    expect(e.code).toBe(LOCKFILE_INVALID);
    expect(e.message).toBe("Couldn't parse poetry.lock at line 3, column 15: illegal character in numeric literal");
  });
});
