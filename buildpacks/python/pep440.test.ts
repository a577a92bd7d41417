// PEP 440 specifiers as node-semver ranges, checked by what semver.satisfies
// says of real Python versions, and the plain version files.
import semver from 'semver';
import { afterEach, describe, expect, it } from 'vitest';
import { SlugcError, requestFrom, requestToRange } from 'slugc/sdk';
import { cleanup, testApp } from 'slugc/testing';
import { PYTHON_VERSION_INVALID, parsePythonVersionFile, parseRuntimeTxt, pep440ToSemverRange, pep440VersionToSemver, pythonVersionRequest } from './pep440.js';

afterEach(cleanup);

const VERSIONS = ['3.8.18', '3.9.0', '3.11.0', '3.11.2', '3.11.9', '3.12.0', '3.13.1', '4.0.0'];

const range = (spec: string) => pep440ToSemverRange(spec, 'pyproject.toml', 7);
const matching = (spec: string) => VERSIONS.filter((v) => semver.satisfies(v, range(spec)));

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

describe('pep440ToSemverRange', () => {
  it.each([
    ['>=3.9,<3.13', '>=3.9.0 <3.13.0'],
    ['~=3.11', '>=3.11.0 <4.0.0'],
    ['~=3.11.2', '>=3.11.2 <3.12.0'],
    ['==3.11.*', '>=3.11.0 <3.12.0'],
    ['==3.*', '>=3.0.0 <4.0.0'],
    ['==3.11', '3.11.0'],
    ['==3.11.4', '3.11.4'],
    ['!=3.11.1', '<3.11.1 || >3.11.1'],
    ['!=3.11.*', '<3.11.0 || >=3.12.0'],
    ['<=3.12', '<=3.12.0'],
    ['>3.11', '>3.11.0'],
    ['<3.11', '<3.11.0'],
    ['===3.11.2', '3.11.2'],
  ])('%s → %s', (spec, expected) => {
    expect(range(spec)).toBe(expected);
    expect(semver.validRange(range(spec))).not.toBeNull();
  });

  it.each([
    ['>=3.9,<3.13', ['3.9.0', '3.11.0', '3.11.2', '3.11.9', '3.12.0']],
    ['~=3.11', ['3.11.0', '3.11.2', '3.11.9', '3.12.0', '3.13.1']],
    ['~=3.11.2', ['3.11.2', '3.11.9']],
    ['==3.11.*', ['3.11.0', '3.11.2', '3.11.9']],
    ['==3.*', ['3.8.18', '3.9.0', '3.11.0', '3.11.2', '3.11.9', '3.12.0', '3.13.1']],
    ['==3.11', ['3.11.0']],
    ['==3.11.0', ['3.11.0']],
    ['==3.11.2', ['3.11.2']],
    ['==3.11.4', []],
    ['!=3.11.2', ['3.8.18', '3.9.0', '3.11.0', '3.11.9', '3.12.0', '3.13.1', '4.0.0']],
    ['!=3.11.*', ['3.8.18', '3.9.0', '3.12.0', '3.13.1', '4.0.0']],
    ['<=3.12', ['3.8.18', '3.9.0', '3.11.0', '3.11.2', '3.11.9', '3.12.0']],
    ['>3.11', ['3.11.2', '3.11.9', '3.12.0', '3.13.1', '4.0.0']],
    ['<3.11', ['3.8.18', '3.9.0']],
    ['>=3.12', ['3.12.0', '3.13.1', '4.0.0']],
    ['===3.11.2', ['3.11.2']],
    ['>=3.9,<3.13,!=3.11.2', ['3.9.0', '3.11.0', '3.11.9', '3.12.0']],
    ['>=3.8,!=3.9.0,!=3.11.*,<4', ['3.8.18', '3.12.0', '3.13.1']],
    ['~=3.11,!=3.12.0', ['3.11.0', '3.11.2', '3.11.9', '3.13.1']],
  ])('%s is satisfied by %j of the versions', (spec, expected) => {
    expect(matching(spec)).toEqual(expected);
  });

  it('tolerates whitespace around operators, versions and commas, a leading v, and a trailing comma', () => {
    expect(range('  >= 3.9 ,  < 3.13  ')).toBe('>=3.9.0 <3.13.0');
    expect(range('>=v3.9')).toBe('>=3.9.0');
    expect(range('== 3.11.*')).toBe('>=3.11.0 <3.12.0');
    expect(range('>=3.9,')).toBe('>=3.9.0');
  });

  it('reads an empty specifier set as any version, as PEP 440 does', () => {
    expect(range('')).toBe('*');
    expect(range('  ')).toBe('*');
  });

  it('expands != into two ranges, each with the other bounds, and drops what is empty', () => {
    expect(range('>=3.9,<3.13,!=3.11.1')).toBe('>=3.9.0 <3.11.1 || >3.11.1 <3.13.0');
    expect(range('>=3.12,!=3.11.1')).toBe('>=3.12.0');
    expect(range('!=3.11.1,!=3.12.0')).toBe('<3.11.1 || >3.11.1 <3.12.0 || >3.12.0');
    expect(range('==3.11.2,>=3.9')).toBe('3.11.2');
    expect(range('>=3.11,<=3.11')).toBe('3.11.0');
  });

  it('leaves pre-releases of the next line out without a "-0" that would turn pre-releases on in the resolver', () => {
    for (const spec of ['>=3.9,<3.13', '~=3.11', '==3.11.*', '!=3.11.*', '<3.13']) expect(range(spec)).not.toContain('-');
    expect(semver.satisfies('3.12.0-rc.1', range('==3.11.*'))).toBe(false);
    expect(semver.satisfies('3.13.0-rc.1', range('<3.13'))).toBe(false);
    expect(semver.satisfies('3.14.0-rc.1', range('~=3.11'))).toBe(false);
    // The SDK passes a semver range through unchanged.
    expect(requestToRange(range('>=3.9,<3.13')).range).toBe('>=3.9.0 <3.13.0');
  });

  it('translates pre-releases a specifier names, which opts them in as PEP 440 does', () => {
    expect(range('>=3.13.0rc1')).toBe('>=3.13.0-rc.1');
    expect(semver.satisfies('3.13.0-rc.2', range('>=3.13.0rc1'))).toBe(true);
    expect(semver.satisfies('3.13.0', range('>=3.13.0rc1'))).toBe(true);
    expect(semver.satisfies('3.13.0-b.3', range('>=3.13.0rc1'))).toBe(false);
    expect(range('==3.14.0a1')).toBe('3.14.0-a.1');
    expect(range('~=3.13.0rc1')).toBe('>=3.13.0-rc.1 <3.14.0');
  });

  it('refuses a bare version: it is a request, not a specifier, and says what to write', () => {
    const e = thrown(() => range('3.11'));
    expect(e.code).toBe(PYTHON_VERSION_INVALID);
    expect(e.message).toBe(`Couldn't read the Python version specifier "3.11" in pyproject.toml at line 7: "3.11" has no operator.`);
    expect(e.hint).toMatch(/"==3\.11\.\*" for that line/);
    expect(e.details).toEqual({ file: 'pyproject.toml', line: 7, specifier: '3.11' });
  });

  it.each([
    ['>=3.9,<3.13x', /"3\.13x" is not a PEP 440 version/],
    ['>=3.9;<3.13', /not a PEP 440 version/],
    ['~=3', /~= needs at least two components/],
    ['>=3.11.*', /only allowed with == and !=/],
    ['==3.11rc1.*', /must follow a release version/],
    ['^3.11', /Poetry's syntax/],
    ['=3.11', /no PEP 440 operator/],
    ['=>3.11', /no PEP 440 operator/],
    ['python>=3.9', /not a PEP 440 specifier/],
    ['==3.11.0.post1', /post-release/],
    ['>=3.13.0.dev0', /development release/],
    ['==3.11.2+local', /local version label/],
    ['>=1!3.9', /epoch/],
    ['==3.11.2.1', /more than three components/],
    ['===3.11', /no Python version is written "3\.11"/],
    ['===cpython', /compares strings/],
    ['>=3.13,<3.12', /no Python version satisfies all of it/],
    ['>3.11.1,<3.11.2', /no Python version satisfies all of it/],
    ['==3.11.2,==3.11.3', /no Python version satisfies all of it/],
  ])('refuses %s, naming the file, line and specifier', (spec, reason) => {
    const e = thrown(() => range(spec));
    expect(e.code).toBe(PYTHON_VERSION_INVALID);
    expect(e.message).toMatch(/^Couldn't read the Python version specifier .* in pyproject\.toml at line 7: /);
    expect(e.message).toContain(JSON.stringify(spec));
    expect(e.message).toMatch(reason);
    expect(e.hint).toBeTruthy();
  });

  it('names the file alone when the line is not known', () => {
    const e = thrown(() => pep440ToSemverRange('3.11', 'Pipfile'));
    expect(e.message).toMatch(/ in Pipfile: /);
    expect(e.details).toEqual({ file: 'Pipfile', specifier: '3.11' });
  });
});

describe('pep440VersionToSemver', () => {
  it('pads releases to three components and writes pre-releases the semver way', () => {
    expect(pep440VersionToSemver('3.12')).toBe('3.12.0');
    expect(pep440VersionToSemver('3.12.4')).toBe('3.12.4');
    expect(pep440VersionToSemver('3.12.0.0')).toBe('3.12.0');
    expect(pep440VersionToSemver('3.13.0rc1')).toBe('3.13.0-rc.1');
    expect(pep440VersionToSemver('3.13.0b2')).toBe('3.13.0-b.2');
    expect(pep440VersionToSemver('3.14.0-alpha.1')).toBe('3.14.0-a.1');
    expect(semver.lt(pep440VersionToSemver('3.13.0a7')!, pep440VersionToSemver('3.13.0b1')!)).toBe(true);
    expect(semver.lt(pep440VersionToSemver('3.13.0b4')!, pep440VersionToSemver('3.13.0rc1')!)).toBe(true);
  });

  it('says undefined for what no Python release is', () => {
    for (const v of ['3.11.0.post1', '3.11.2.1', '3.13.0.dev1', 'pypy3.9', '']) expect(pep440VersionToSemver(v)).toBeUndefined();
  });
});

describe('pythonVersionRequest', () => {
  it.each([
    ['3.11', '3.11'],
    ['3.11.2', '3.11.2'],
    ['3', '3'],
    [' 3.12 ', '3.12'],
    ['python-3.11.2', '3.11.2'],
    ['python-3.12', '3.12'],
    ['3.13.0rc1', '3.13.0-rc.1'],
  ])('reads %j as %j', (text, expected) => {
    expect(pythonVersionRequest(text)).toBe(expected);
  });

  it('gives requests the SDK turns into the right ranges', () => {
    const r = (text: string) => requestToRange(pythonVersionRequest(text)).range;
    expect(VERSIONS.filter((v) => semver.satisfies(v, r('3.11')))).toEqual(['3.11.0', '3.11.2', '3.11.9']);
    expect(VERSIONS.filter((v) => semver.satisfies(v, r('3.11.2')))).toEqual(['3.11.2']);
    expect(VERSIONS.filter((v) => semver.satisfies(v, r('3')))).toEqual(['3.8.18', '3.9.0', '3.11.0', '3.11.2', '3.11.9', '3.12.0', '3.13.1']);
  });

  it.each([
    ['pypy3.9', /"pypy3\.9" is not CPython/],
    ['pypy3.10-7.3.12', /not CPython/],
    ['miniconda3-latest', /not CPython/],
    ['3.11-dev', /development or free-threaded build/],
    ['3.13t', /development or free-threaded build/],
    ['3.11.x', /is a range/],
    ['latest', /"latest" is not a Python version/],
    ['garbage', /"garbage" is not a Python version/],
    ['3.11.2.1', /is not a Python version/],
    ['', /it is empty/],
  ])('refuses %j with SLUGC_PYTHON_VERSION_INVALID, naming the file', (text, reason) => {
    const e = thrown(() => pythonVersionRequest(text, '.python-version'));
    expect(e.code).toBe(PYTHON_VERSION_INVALID);
    expect(e.message).toMatch(/^Couldn't read the Python version in \.python-version: /);
    expect(e.message).toMatch(reason);
    expect(e.hint).toMatch(/^Write /);
  });

  it('says how to write the line a range meant', () => {
    expect(thrown(() => pythonVersionRequest('3.11.x')).hint).toBe('Write 3.11 for the newest 3.11.x.');
    expect(thrown(() => pythonVersionRequest('python-3.11.x', 'runtime.txt')).hint).toBe('Write python-3.11 for the newest 3.11.x.');
  });
});

describe('parsePythonVersionFile', () => {
  it('takes the first line that is not a comment (pyenv allows several; the first is the one it uses)', () => {
    expect(parsePythonVersionFile('# the app runs on\n\n3.12\n3.11\n')).toBe('3.12');
    expect(parsePythonVersionFile('\uFEFF3.11.2\r\n')).toBe('3.11.2');
    expect(parsePythonVersionFile('3.12 # production\n')).toBe('3.12');
  });

  it('says undefined when the file names no version', () => {
    expect(parsePythonVersionFile('')).toBeUndefined();
    expect(parsePythonVersionFile('# nothing yet\n\n')).toBeUndefined();
  });

  it('refuses "system" with a hint that names the file', () => {
    const e = thrown(() => parsePythonVersionFile('system\n3.12\n', 'api/.python-version'));
    expect(e.code).toBe(PYTHON_VERSION_INVALID);
    expect(e.message).toBe(`Couldn't read the Python version in api/.python-version: "system" means the Python of the machine, and a slug brings its own.`);
    expect(e.hint).toBe('Write the Python version the app needs in api/.python-version, e.g. 3.13 (the newest 3.13.x) or 3.13.1.');
  });

  it('is a read function for the SDK’s requestFrom', () => {
    const app = testApp({ '.python-version': '3.12\n', 'runtime.txt': 'python-3.11.2\n' }).dir;
    expect(requestFrom(app, [{ file: '.python-version', read: parsePythonVersionFile }, { file: 'runtime.txt', read: parseRuntimeTxt }])).toEqual({ request: '3.12', from: '.python-version' });
    expect(requestFrom(app, [{ file: 'runtime.txt', read: parseRuntimeTxt }])).toEqual({ request: '3.11.2', from: 'runtime.txt' });
  });
});

describe('parseRuntimeTxt', () => {
  it('reads python-X.Y.Z and python-X.Y', () => {
    expect(parseRuntimeTxt('python-3.11.2\n')).toBe('3.11.2');
    expect(parseRuntimeTxt('python-3.12')).toBe('3.12');
    expect(parseRuntimeTxt('\n')).toBeUndefined();
  });

  it('refuses another interpreter, naming runtime.txt and its format', () => {
    const e = thrown(() => parseRuntimeTxt('pypy3-7.3.1\n'));
    expect(e.code).toBe(PYTHON_VERSION_INVALID);
    expect(e.message).toMatch(/^Couldn't read the Python version in runtime\.txt: "pypy3-7\.3\.1" is not CPython/);
    expect(e.hint).toBe('Write python-3.13.1 (or python-3.13 for the newest 3.13.x).');
    expect(e.details).toEqual({ file: 'runtime.txt', request: 'pypy3-7.3.1' });
  });
});
