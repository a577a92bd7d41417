import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigFileError,
  ERROR_CODE_PATTERN,
  SlugcError,
  firstLine,
  isSlugcError,
  parseTomlText,
  refuseConflictingLockfiles,
  requestFrom,
  rewriteShebangs,
  runtimeSources,
  type RuntimeSource,
  urlCredentials,
} from 'slugc/sdk';
import { cleanup, tempDir, testApp } from 'slugc/testing';

afterEach(cleanup);

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

describe('refuseConflictingLockfiles', () => {
  const pythonTools = { pip: ['requirements.txt'], pipenv: ['Pipfile', 'Pipfile.lock'], poetry: ['poetry.lock'], uv: ['uv.lock'] };

  it('returns null when no tool has a lockfile', () => {
    expect(refuseConflictingLockfiles(testApp({ 'app.py': '' }).dir, pythonTools)).toBeNull();
  });

  it('returns the one tool that has lockfiles, with the files found in the order given', () => {
    const app = testApp({ 'Pipfile.lock': '{}', 'Pipfile': '', 'app.py': '' });
    expect(refuseConflictingLockfiles(app.dir, pythonTools)).toEqual({ tool: 'pipenv', files: ['Pipfile', 'Pipfile.lock'] });
  });

  it('does not count a lockfile that links out of the app', () => {
    const app = testApp({ 'uv.lock': { link: '/etc/passwd' }, 'poetry.lock': '' });
    expect(refuseConflictingLockfiles(app.dir, pythonTools)).toEqual({ tool: 'poetry', files: ['poetry.lock'] });
  });

  it('refuses lockfiles of two tools, listing every file and tool', () => {
    const app = testApp({ 'requirements.txt': 'flask\n', 'poetry.lock': '', 'uv.lock': '' });
    const err = slugcError(() => refuseConflictingLockfiles(app.dir, pythonTools, { what: 'Python package managers' }));
    expect(err.code).toBe('SLUGC_LOCKFILE_CONFLICT');
    expect(err.message).toBe("Couldn't choose between Python package managers: the app has lockfiles of 3: requirements.txt (pip); poetry.lock (poetry); uv.lock (uv).");
    expect(err.hint).toBe('Keep the lockfile of the one you use and delete the others: pip or poetry or uv.');
    expect(err.details).toEqual({ lockfiles: { pip: ['requirements.txt'], poetry: ['poetry.lock'], uv: ['uv.lock'] } });
  });

  it('takes a buildpack error code of its own', () => {
    const app = testApp({ 'package-lock.json': '{}', 'yarn.lock': '', 'pnpm-lock.yaml': '' });
    const err = slugcError(() =>
      refuseConflictingLockfiles(app.dir, { npm: ['package-lock.json', 'npm-shrinkwrap.json'], yarn: ['yarn.lock'], pnpm: ['pnpm-lock.yaml'] }, { code: 'ACME_NODE_LOCKFILES' }),
    );
    expect(err.code).toBe('ACME_NODE_LOCKFILES');
    for (const text of ['package-lock.json (npm)', 'yarn.lock (yarn)', 'pnpm-lock.yaml (pnpm)', 'between tools']) expect(err.message).toContain(text);
  });
});

describe('requestFrom and firstLine', () => {
  const files = [
    { file: '.python-version', read: firstLine },
    {
      file: 'pyproject.toml',
      label: 'requires-python in pyproject.toml',
      read: (text: string, file: string) => {
        const project = parseTomlText(text, file).project as { 'requires-python'?: string } | undefined;
        return project?.['requires-python'];
      },
    },
    { file: 'runtime.txt', read: (text: string) => firstLine(text)?.replace(/^python-/, '') },
  ];

  it('takes the request from the first file that has one, named by its label', () => {
    const app = testApp({ 'pyproject.toml': '[project]\nrequires-python = " >=3.11 "\n', 'runtime.txt': 'python-3.9.1\n' });
    expect(requestFrom(app.dir, files)).toEqual({ request: '>=3.11', from: 'requires-python in pyproject.toml' });
  });

  it('names the file when there is no label, and the order given wins', () => {
    const app = testApp({ '.python-version': '3.12\n', 'pyproject.toml': '[project]\nrequires-python = ">=3.11"\n' });
    expect(requestFrom(app.dir, files)).toEqual({ request: '3.12', from: '.python-version' });
  });

  it('skips files that name no request', () => {
    const app = testApp({ '.python-version': '# just a comment\n\n', 'pyproject.toml': '[project]\nname = "app"\n', 'runtime.txt': 'python-3.10.4\n' });
    expect(requestFrom(app.dir, files)).toEqual({ request: '3.10.4', from: 'runtime.txt' });
  });

  it('returns {} when no file has a request', () => {
    expect(requestFrom(testApp({ 'app.py': '' }).dir, files)).toEqual({});
    expect(requestFrom(testApp({ '.python-version': '   \n' }).dir, files)).toEqual({});
  });

  it('lets a syntax error of a request file through, naming the line', () => {
    const app = testApp({ 'pyproject.toml': '[project]\nrequires-python = \n' });
    let err: unknown;
    try {
      requestFrom(app.dir, files);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigFileError);
    expect((err as ConfigFileError).position?.line).toBe(2);
  });

  it('never reads a request file through a link out of the app', () => {
    const app = testApp({ '.python-version': { link: '/etc/passwd' } });
    expect(slugcError(() => requestFrom(app.dir, files)).code).toBe('SLUGC_UNSAFE_APP_FILE');
  });

  it('firstLine skips comments and blank lines and trims', () => {
    expect(firstLine('# pinned by the team\n\n   \n  3.11.4  # latest\n3.12\n')).toBe('3.11.4');
    expect(firstLine('\r\n# x\r\n20\r\n')).toBe('20');
    expect(firstLine('# only comments\n\n')).toBeUndefined();
    expect(firstLine('')).toBeUndefined();
  });
});

describe('runtimeSources', () => {
  const fake = (name: string): RuntimeSource => ({
    kind: name,
    describe: () => `fake ${name}`,
    list: async () => [],
    install: async () => {
      throw new Error('not used');
    },
  });
  const options = { lang: 'python', defaults: ['debian'], sources: { debian: () => fake('debian'), github: () => fake('github') } };
  const described = (env: Record<string, string>) => runtimeSources(env, options).map((s) => s.describe());

  it('uses the defaults when nothing is set', () => {
    expect(described({})).toEqual(['fake debian']);
  });

  it('puts the inventory first when SLUGC_<LANG>_INVENTORY is set', () => {
    const sources = runtimeSources({ SLUGC_PYTHON_INVENTORY: 'file:///srv/python.json' }, options);
    expect(sources.map((s) => s.describe())).toEqual(['inventory file:///srv/python.json', 'fake debian']);
    expect(sources[0]!.kind).toBe('inventory');
  });

  it('follows SLUGC_<LANG>_SOURCES, in its order, over the defaults and the inventory rule', () => {
    expect(described({ SLUGC_PYTHON_SOURCES: 'github, debian' })).toEqual(['fake github', 'fake debian']);
    expect(described({ SLUGC_PYTHON_SOURCES: 'github', SLUGC_PYTHON_INVENTORY: 'https://inv.test/python.json' })).toEqual(['fake github']);
    expect(described({ SLUGC_PYTHON_SOURCES: 'debian,inventory', SLUGC_PYTHON_INVENTORY: 'https://inv.test/python.json' })).toEqual(['fake debian', 'inventory https://inv.test/python.json']);
  });

  it('reads only the settings of its own language', () => {
    expect(described({ SLUGC_NODE_SOURCES: 'npm', SLUGC_NODE_INVENTORY: 'file:///x.json' })).toEqual(['fake debian']);
  });

  it('refuses an unknown source name, listing the known ones', () => {
    const err = slugcError(() => runtimeSources({ SLUGC_PYTHON_SOURCES: 'debian,pypi' }, options));
    expect(err.code).toBe('SLUGC_INVALID_INPUT');
    expect(err.message).toBe(`Couldn't use the PYTHON source "pypi" named in SLUGC_PYTHON_SOURCES.`);
    expect(err.hint).toBe('Known sources: inventory, debian, github.');
  });

  it('refuses the inventory source without its URL, saying which variable to set', () => {
    const err = slugcError(() => runtimeSources({ SLUGC_PYTHON_SOURCES: 'inventory' }, options));
    expect(err.code).toBe('SLUGC_INVALID_INPUT');
    expect(err.message).toBe("Couldn't use the inventory source for PYTHON: SLUGC_PYTHON_INVENTORY is not set.");
    expect(err.hint).toContain('Set SLUGC_PYTHON_INVENTORY');
  });

  it('refuses a SOURCES setting that names no source', () => {
    const err = slugcError(() => runtimeSources({ SLUGC_PYTHON_SOURCES: ' , ' }, options));
    expect(err.code).toBe('SLUGC_INVALID_INPUT');
    expect(err.hint).toBe('List one or more of: inventory, debian, github.');
  });
});

describe('rewriteShebangs', () => {
  /** A build root with a bin dir, as a Python install would leave it. */
  function layout() {
    const root = path.join(tempDir('slugc-shebang-'), 'app');
    const bin = path.join(root, '.heroku', 'python', 'bin');
    fs.mkdirSync(bin, { recursive: true });
    const python = path.join(bin, 'python3');
    return { root, bin, python };
  }

  it('rewrites a script whose interpreter is inside root to #!/usr/bin/env, keeping the body and mode', () => {
    const { root, bin, python } = layout();
    const body = 'import sys\nfrom flask import main\nsys.exit(main())\n';
    fs.writeFileSync(path.join(bin, 'flask'), `#!${python}\n${body}`, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, 'private'), `#!${python}\n${body}`, { mode: 0o750 });
    fs.chmodSync(path.join(bin, 'private'), 0o750);
    const rewritten = rewriteShebangs([bin], { root });
    expect(rewritten.sort()).toEqual([path.join(bin, 'flask'), path.join(bin, 'private')]);
    expect(fs.readFileSync(path.join(bin, 'flask'), 'utf8')).toBe(`#!/usr/bin/env python3\n${body}`);
    expect(fs.statSync(path.join(bin, 'flask')).mode & 0o7777).toBe(0o755);
    expect(fs.statSync(path.join(bin, 'private')).mode & 0o7777).toBe(0o750);
    expect(fs.readdirSync(bin).filter((n) => n.includes('slugc-tmp'))).toEqual([]);
  });

  it('uses env -S when the #! line has arguments', () => {
    const { root, bin, python } = layout();
    fs.writeFileSync(path.join(bin, 'tool'), `#!${python} -u -W ignore\nprint(1)\n`, { mode: 0o755 });
    rewriteShebangs([bin], { root });
    expect(fs.readFileSync(path.join(bin, 'tool'), 'utf8')).toBe('#!/usr/bin/env -S python3 -u -W ignore\nprint(1)\n');
  });

  it('leaves /usr/bin/env lines, interpreters outside root, binaries and symlinks alone', () => {
    const { root, bin, python } = layout();
    const outside = tempDir('slugc-outside-');
    const target = path.join(outside, 'target');
    const targetText = `#!${python}\nprint("target")\n`;
    fs.writeFileSync(target, targetText, { mode: 0o755 });
    const files: Record<string, string | Buffer> = {
      envline: '#!/usr/bin/env python3\nprint(1)\n',
      system: '#!/usr/bin/python3\nprint(1)\n',
      plain: 'no shebang\n',
      binary: Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.from(`${python}\n`)]),
    };
    for (const [n, c] of Object.entries(files)) fs.writeFileSync(path.join(bin, n), c, { mode: 0o755 });
    fs.symlinkSync(target, path.join(bin, 'linked'));
    fs.mkdirSync(path.join(bin, 'subdir'));
    fs.writeFileSync(path.join(bin, 'subdir', 'nested'), `#!${python}\n`, { mode: 0o755 });

    expect(rewriteShebangs([bin, path.join(root, 'missing-dir')], { root })).toEqual([]);
    for (const [n, c] of Object.entries(files)) expect(fs.readFileSync(path.join(bin, n))).toEqual(Buffer.from(c));
    expect(fs.lstatSync(path.join(bin, 'linked')).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(target, 'utf8')).toBe(targetText);
    expect(fs.readFileSync(path.join(bin, 'subdir', 'nested'), 'utf8')).toBe(`#!${python}\n`);
  });

  it('does not touch interpreters in a sibling dir whose name starts like root', () => {
    const { root, bin } = layout();
    const sibling = `${root}-other/bin/python3`;
    fs.writeFileSync(path.join(bin, 'tool'), `#!${sibling}\n`, { mode: 0o755 });
    expect(rewriteShebangs([bin], { root })).toEqual([]);
    expect(fs.readFileSync(path.join(bin, 'tool'), 'utf8')).toBe(`#!${sibling}\n`);
  });

  it('writes a new file instead of changing a hard-linked one in place', () => {
    const { root, bin, python } = layout();
    const store = path.join(tempDir('slugc-store-'), 'pip');
    const text = `#!${python}\nimport pip\n`;
    fs.writeFileSync(store, text, { mode: 0o755 });
    fs.linkSync(store, path.join(bin, 'pip'));
    expect(fs.statSync(store).nlink).toBe(2);
    expect(rewriteShebangs([bin], { root })).toEqual([path.join(bin, 'pip')]);
    expect(fs.readFileSync(path.join(bin, 'pip'), 'utf8')).toBe('#!/usr/bin/env python3\nimport pip\n');
    expect(fs.readFileSync(store, 'utf8')).toBe(text);
    expect(fs.statSync(store).nlink).toBe(1);
    expect(fs.statSync(path.join(bin, 'pip')).nlink).toBe(1);
  });

  it('rewrites what a custom match accepts', () => {
    const { bin } = layout();
    fs.writeFileSync(path.join(bin, 'rake'), '#!/opt/ruby/bin/ruby -w\nputs 1\n', { mode: 0o755 });
    fs.writeFileSync(path.join(bin, 'other'), '#!/usr/bin/perl\n', { mode: 0o755 });
    expect(rewriteShebangs([bin], { match: (p) => p.startsWith('/opt/ruby/') })).toEqual([path.join(bin, 'rake')]);
    expect(fs.readFileSync(path.join(bin, 'rake'), 'utf8')).toBe('#!/usr/bin/env -S ruby -w\nputs 1\n');
    expect(fs.readFileSync(path.join(bin, 'other'), 'utf8')).toBe('#!/usr/bin/perl\n');
  });

  it('rewrites nothing without a root or a match', () => {
    const { bin, python } = layout();
    fs.writeFileSync(path.join(bin, 'tool'), `#!${python}\n`, { mode: 0o755 });
    expect(rewriteShebangs([bin])).toEqual([]);
  });
});

describe('SlugcError and error codes', () => {
  it('takes a buildpack code of its own', () => {
    const err = new SlugcError('ACME_THING_BROKEN', "Couldn't do the thing.", { hint: 'Fix it.', details: { thing: 1 } });
    expect(err.code).toBe('ACME_THING_BROKEN');
    expect(err).toBeInstanceOf(Error);
    expect(isSlugcError(err)).toBe(true);
    expect(err.toJSON()).toEqual({ code: 'ACME_THING_BROKEN', message: "Couldn't do the thing.", hint: 'Fix it.', stage: undefined, buildpack: undefined, details: { thing: 1 } });
  });

  it('refuses a code that is not upper case words joined by _ with a TypeError', () => {
    for (const code of ['lower', 'SLUGC', 'Acme_Thing', 'ACME-THING', '_ACME_X', 'ACME__X', 'ACME_X_', '1ACME_X', '']) {
      expect(() => new SlugcError(code, 'x')).toThrow(TypeError);
    }
    expect(() => new SlugcError('lower', 'x')).toThrow(/upper case words joined by _.*"lower"/);
  });

  it('ERROR_CODE_PATTERN accepts the core codes and buildpack codes', () => {
    for (const ok of ['SLUGC_USAGE', 'SLUGC_NODEJS_PACKAGE_JSON_INVALID', 'ACME_PHP_EXTENSION_MISSING', 'A1_B2', 'X_1']) expect(ERROR_CODE_PATTERN.test(ok)).toBe(true);
    for (const bad of ['lower_case', 'SLUGC', 'ACME THING', 'ACME_thing', 'ACME_']) expect(ERROR_CODE_PATTERN.test(bad)).toBe(false);
  });

  it('instanceof holds for an error of another copy of slugc, carrying the brand', () => {
    const other = Object.assign(Object.create(Error.prototype) as Error, { name: 'SlugcError', message: "Couldn't do it.", code: 'ACME_OTHER_COPY', hint: undefined, details: {} });
    Object.defineProperty(other, Symbol.for('slugc.error'), { value: true });
    expect(other instanceof SlugcError).toBe(true);
    expect(isSlugcError(other)).toBe(true);
    // The brand makes it a SlugcError, not any subclass.
    expect(other instanceof ConfigFileError).toBe(false);
  });

  it('instanceof does not hold for plain errors or objects without the brand', () => {
    const lookalike = Object.assign(Object.create(Error.prototype) as Error, { code: 'ACME_OTHER_COPY' });
    const wrongBrand = Object.create(Error.prototype) as Error;
    Object.defineProperty(wrongBrand, Symbol.for('slugc.error'), { value: 'yes' });
    expect(lookalike instanceof SlugcError).toBe(false);
    expect(wrongBrand instanceof SlugcError).toBe(false);
    expect(new Error('x') instanceof SlugcError).toBe(false);
    expect(isSlugcError(null)).toBe(false);
    expect(isSlugcError('SLUGC_USAGE')).toBe(false);
  });

  it('subclasses keep ordinary instanceof', () => {
    const err = new ConfigFileError('a.json', 'bad', { line: 1, column: 2 });
    expect(err instanceof SlugcError).toBe(true);
    expect(err instanceof ConfigFileError).toBe(true);
    expect(new SlugcError('ACME_X', 'x') instanceof ConfigFileError).toBe(false);
  });
});

describe('urlCredentials', () => {
  it('finds the user info of every URL in a text, raw and decoded, and each part', () => {
    const text = 'PIP_INDEX_URL=https://builder:s3cr%40t-pass@pypi.internal/simple and <url>https://tok3n-only@maven.internal/repo</url> plus https://public.example/x';
    const found = urlCredentials(text);
    expect(found).toEqual(expect.arrayContaining(['builder:s3cr%40t-pass', 'builder:s3cr@t-pass', 's3cr%40t-pass', 's3cr@t-pass', 'builder', 'tok3n-only']));
    expect(found.some((s) => s.includes('public.example'))).toBe(false);
  });

  it('keeps a short user:password pair whole, but not its parts, which would redact ordinary words', () => {
    expect(urlCredentials('https://ab:cd@host/')).toEqual(['ab:cd']);
  });
});

describe('the log redaction', () => {
  it('takes one string as one secret, not as the characters it is made of', async () => {
    const { createLogger } = await import('slugc');
    const log = createLogger();
    log.redact('user:s3cret-value');
    log.redact(['an0ther-secret']);
    expect(log.scrub('auth user:s3cret-value and an0ther-secret')).toBe('auth [secret] and [secret]');
  });
});
