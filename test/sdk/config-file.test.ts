import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigFileError, SlugcError, parseIni, parseJson, parseProperties, parseTomlText, positionAt, readConfigFile } from 'slugc/sdk';
import { cleanup, tempDir, testApp } from 'slugc/testing';

afterEach(cleanup);

/** Runs `f`, which must throw a ConfigFileError, and returns it. */
function configError(f: () => unknown): ConfigFileError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigFileError);
    expect(e).toBeInstanceOf(SlugcError);
    return e as ConfigFileError;
  }
  throw new Error('expected a ConfigFileError, but nothing was thrown');
}

describe('positionAt', () => {
  it('turns a character offset into a 1-based line and column', () => {
    const text = 'ab\ncde\n\nf';
    expect(positionAt(text, 0)).toEqual({ line: 1, column: 1 });
    expect(positionAt(text, 1)).toEqual({ line: 1, column: 2 });
    expect(positionAt(text, 3)).toEqual({ line: 2, column: 1 });
    expect(positionAt(text, 5)).toEqual({ line: 2, column: 3 });
    expect(positionAt(text, 7)).toEqual({ line: 3, column: 1 });
    expect(positionAt(text, 8)).toEqual({ line: 4, column: 1 });
  });
});

describe('parseJson', () => {
  it('parses good JSON, with or without a byte order mark', () => {
    expect(parseJson('{\n  "name": "app",\n  "engines": { "node": "22.x" }\n}\n', 'package.json')).toEqual({ name: 'app', engines: { node: '22.x' } });
    expect(parseJson('\uFEFF[1, 2]', 'list.json')).toEqual([1, 2]);
  });

  it('names the file, line and column of a missing comma', () => {
    const err = configError(() => parseJson('{\n  "a": 1\n  "b": 2\n}\n', 'app.json'));
    expect(err.code).toBe('SLUGC_CONFIG_INVALID');
    expect(err.file).toBe('app.json');
    expect(err.position).toEqual({ line: 3, column: 3 });
    expect(err.message).toMatch(/^Couldn't parse app\.json at line 3, column 3: /);
    expect(err.hint).toBe('Fix app.json at line 3.');
    expect(err.details).toEqual({ file: 'app.json', line: 3, column: 3 });
  });

  it('names the line and column of a trailing comma in an object', () => {
    const err = configError(() => parseJson('{\n  "a": 1,\n}', 'composer.json'));
    expect(err.position).toEqual({ line: 3, column: 1 });
    expect(err.message).toContain('composer.json at line 3, column 1');
  });

  it('names the line and column of a single-quoted key', () => {
    const err = configError(() => parseJson("{\n  'a': 1\n}", 'x.json'));
    expect(err.position).toEqual({ line: 2, column: 3 });
  });

  it('names the line and column of text after the document', () => {
    const err = configError(() => parseJson('{"a": 1}\n{', 'x.json'));
    expect(err.position).toEqual({ line: 2, column: 1 });
    expect(err.message).toContain('x.json at line 2, column 1');
  });

  it('places an empty file at line 1, column 1', () => {
    const err = configError(() => parseJson('  \n', 'empty.json'));
    expect(err.position).toEqual({ line: 1, column: 1 });
  });

  it('uses the code and hint the caller passes', () => {
    const err = configError(() => parseJson('{"a": 1,\n}', 'x.json', { code: 'ACME_CONFIG_BROKEN', hint: 'Run acme fmt.' }));
    expect(err.code).toBe('ACME_CONFIG_BROKEN');
    expect(err.hint).toBe('Run acme fmt.');
    expect(err.position).toEqual({ line: 2, column: 1 });
  });
});

describe('parseTomlText', () => {
  it('parses TOML tables and arrays', () => {
    expect(parseTomlText('[project]\nname = "app"\nrequires-python = ">=3.11"\ndeps = ["a", "b"]\n', 'pyproject.toml')).toEqual({
      project: { name: 'app', 'requires-python': '>=3.11', deps: ['a', 'b'] },
    });
  });

  it('names the file, line and column of a bad value', () => {
    const err = configError(() => parseTomlText('[tool]\nname = "x"\nversion = = 3\n', 'pyproject.toml'));
    expect(err.code).toBe('SLUGC_CONFIG_INVALID');
    expect(err.position).toEqual({ line: 3, column: 11 });
    expect(err.message).toMatch(/^Couldn't parse pyproject\.toml at line 3, column 11: /);
    // One line of reason, without smol-toml's code excerpt.
    expect(err.message.split('\n')).toHaveLength(1);
  });

  it('uses the code passed in the options', () => {
    const err = configError(() => parseTomlText('a = 1\na = 2\n', 'Cargo.toml', { code: 'ACME_TOML_INVALID' }));
    expect(err.code).toBe('ACME_TOML_INVALID');
    expect(err.position?.line).toBe(2);
  });
});

describe('parseIni', () => {
  it('reads sections, both separators, comments and continuation lines', () => {
    const text = [
      '; a comment',
      '# another',
      'root = 1',
      '',
      '[metadata]',
      'name = my-app',
      'description:',
      '  line one',
      '',
      '  line two',
      'url: http://example.test/?a=b',
      '[ options ]',
      'install_requires =',
      '    requests',
      '    ; a comment inside the value is skipped',
      '    flask',
      'k=v',
    ].join('\n');
    expect(parseIni(text, 'setup.cfg')).toEqual({
      '': { root: '1' },
      metadata: { name: 'my-app', description: 'line one\nline two', url: 'http://example.test/?a=b' },
      options: { install_requires: 'requests\nflask', k: 'v' },
    });
  });

  it('reads CRLF line endings and a byte order mark', () => {
    expect(parseIni('\uFEFF[global]\r\nindex-url = https://pypi.test/simple\r\n', 'pip.conf')).toEqual({ '': {}, global: { 'index-url': 'https://pypi.test/simple' } });
  });

  it('names the line and column of a line that is neither a key nor a section', () => {
    const err = configError(() => parseIni('[a]\nk = v\nnot a pair\n', 'setup.cfg'));
    expect(err.position).toEqual({ line: 3, column: 1 });
    expect(err.message).toBe(`Couldn't parse setup.cfg at line 3, column 1: expected "key = value" or a [section], found "not a pair"`);
  });

  it('counts the indentation in the column of a bad indented line after a section', () => {
    const err = configError(() => parseIni('[a]\nk = v\n\n[b]\n  garbage\n', 'tox.ini', { code: 'ACME_INI_INVALID' }));
    expect(err.code).toBe('ACME_INI_INVALID');
    expect(err.position).toEqual({ line: 5, column: 3 });
    expect(err.message).toContain('tox.ini at line 5, column 3');
  });
});

describe('parseProperties', () => {
  it('reads =, : and space separators, comments, continuations and escapes', () => {
    const text = [
      '# comment',
      '! also a comment',
      'java.runtime.version=17',
      'b : 2',
      'c 3',
      'long = first \\',
      '    second \\',
      '    third',
      'unicode=caf\\u00e9 \\u2603',
      'tab=a\\tb',
      'key\\ with\\ spaces=x',
      'escaped\\:colon=y',
      'ends.with.backslash=c:\\\\',
      'empty=',
    ].join('\n');
    expect(parseProperties(text, 'system.properties')).toEqual({
      'java.runtime.version': '17',
      b: '2',
      c: '3',
      long: 'first second third',
      unicode: 'café ☃',
      tab: 'a\tb',
      'key with spaces': 'x',
      'escaped:colon': 'y',
      'ends.with.backslash': 'c:\\',
      empty: '',
    });
  });

  it('names the line and column of a short unicode escape', () => {
    const err = configError(() => parseProperties('a=1\nb=\\u12\n', 'system.properties'));
    expect(err.code).toBe('SLUGC_CONFIG_INVALID');
    expect(err.position).toEqual({ line: 2, column: 3 });
    expect(err.message).toBe(`Couldn't parse system.properties at line 2, column 3: bad unicode escape "\\\\u12"`);
  });

  it('names the column of a bad escape in the key', () => {
    const err = configError(() => parseProperties('a=1\nb\\u1=x\n', 'system.properties'));
    expect(err.position).toEqual({ line: 2, column: 2 });
  });

  it('names the line of a line with no key', () => {
    const err = configError(() => parseProperties('a=1\n\n=oops\n', 'system.properties', { code: 'ACME_PROPS_INVALID' }));
    expect(err.code).toBe('ACME_PROPS_INVALID');
    expect(err.position).toEqual({ line: 3, column: 1 });
    expect(err.message).toContain('system.properties at line 3, column 1');
  });
});

describe('readConfigFile', () => {
  it('returns null when the app has no such file', () => {
    const app = testApp({ 'Procfile': 'web: x\n' });
    expect(readConfigFile(app.dir, 'package.json', 'json')).toBeNull();
    expect(readConfigFile(app.dir, 'pyproject.toml', 'toml')).toBeNull();
    expect(readConfigFile(app.dir, 'setup.cfg', 'ini')).toBeNull();
    expect(readConfigFile(app.dir, 'system.properties', 'properties')).toBeNull();
  });

  it('reads each format from the app', () => {
    const app = testApp({
      'package.json': '\uFEFF{ "name": "app" }',
      'pyproject.toml': '[project]\nname = "app"\n',
      'setup.cfg': '[metadata]\nname = app\n',
      'system.properties': 'java.runtime.version=21\n',
    });
    expect(readConfigFile(app.dir, 'package.json', 'json')).toEqual({ name: 'app' });
    expect(readConfigFile(app.dir, 'pyproject.toml', 'toml')).toEqual({ project: { name: 'app' } });
    expect(readConfigFile(app.dir, 'setup.cfg', 'ini')).toEqual({ '': {}, metadata: { name: 'app' } });
    expect(readConfigFile(app.dir, 'system.properties', 'properties')).toEqual({ 'java.runtime.version': '21' });
  });

  it('names the file relative to the app, and the line and column, when it does not parse', () => {
    const app = testApp({ 'config/app.json': '{\n  "a": 1\n  "b": 2\n}\n' });
    const err = configError(() => readConfigFile(app.dir, 'config/app.json', 'json', { code: 'ACME_APP_JSON_INVALID' }));
    expect(err.code).toBe('ACME_APP_JSON_INVALID');
    expect(err.file).toBe('config/app.json');
    expect(err.message).toMatch(/^Couldn't parse config\/app\.json at line 3, column 3: /);
    expect(err.message).not.toContain(app.dir);
  });

  it('refuses a config file that links out of the app', () => {
    const outside = path.join(tempDir(), 'secret.toml');
    fs.writeFileSync(outside, 'token = "s3cr3t-value"\n');
    const app = testApp({ 'pyproject.toml': { link: outside } });
    let err: unknown;
    try {
      readConfigFile(app.dir, 'pyproject.toml', 'toml');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'SLUGC_UNSAFE_APP_FILE' });
    expect(String((err as Error).message)).not.toContain('s3cr3t-value');
  });
});

describe('parseJson and parseProperties, where V8 and continuations hide the place', () => {
  it('names the line and column of a trailing comma, a bare word and a missing value, without quoting the file', () => {
    const a = configError(() => parseJson('{\n  "deps": [1,]\n}', 'x.json'));
    expect(a.position).toEqual({ line: 2, column: 14 });
    expect(a.message).not.toMatch(/deps/);
    expect(configError(() => parseJson('{\n  "a": tru\n}', 'x.json')).position).toEqual({ line: 2, column: 8 });
    expect(configError(() => parseJson('{"a": }', 'x.json')).position).toEqual({ line: 1, column: 7 });
  });

  it('counts positions after a byte order mark from the text the reader sees', () => {
    expect(configError(() => parseJson('\uFEFF{"a":1,\n}', 'x.json')).position).toEqual({ line: 2, column: 1 });
  });

  it('places a bad escape of a properties file at its physical line and column, indented or continued', () => {
    expect(configError(() => parseProperties('a=1\n  b=x\\u12zz\n', 'f')).position).toEqual({ line: 2, column: 6 });
    expect(configError(() => parseProperties('a=1\nb=line \\\n  more \\u12\n', 'f')).position).toEqual({ line: 3, column: 8 });
  });
});
