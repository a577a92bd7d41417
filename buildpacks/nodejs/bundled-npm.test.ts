// The npm bundled with each Node.js release: the lookup over the committed
// table, the table's own consistency, and scripts/bundled-npm.mjs (which
// generates it from the Node.js release index) run as a child process on
// small indexes written here, read from a file, a file: URL and a local HTTP
// server.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_NPM_DATA } from './bundled-npm-table.js';
import { BUNDLED_NPM_TABLE, bundledNpm } from './bundled-npm.js';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const SCRIPT = path.join(repoRoot, 'scripts', 'bundled-npm.mjs');
const TABLE_FILE = path.join(import.meta.dirname, 'bundled-npm-table.ts');

describe('bundledNpm', () => {
  it('knows the npm of known releases, old and new', () => {
    // Pairs from the Node.js release index (its "npm" field).
    expect(bundledNpm('24.0.0')).toBe('11.3.0');
    expect(bundledNpm('22.12.0')).toBe('10.9.0');
    expect(bundledNpm('22.11.0')).toBe('10.9.0');
    expect(bundledNpm('20.18.0')).toBe('10.8.2');
    expect(bundledNpm('18.19.0')).toBe('10.2.3');
    expect(bundledNpm('16.18.0')).toBe('8.19.2');
    expect(bundledNpm('14.1.0')).toBe('6.14.4');
    expect(bundledNpm('4.9.1')).toBe('2.15.11');
    expect(bundledNpm('0.12.17')).toBe('2.15.1');
    expect(bundledNpm('0.6.3')).toBe('1.1.0-alpha-2');
  });

  it('accepts a leading v', () => {
    expect(bundledNpm('v22.12.0')).toBe('10.9.0');
    expect(bundledNpm('v0.12.17')).toBe('2.15.1');
  });

  it('answers null for a release it does not know, and for anything that is not an exact version', () => {
    expect(bundledNpm('99.0.0')).toBeNull();
    expect(bundledNpm('0.6.2')).toBeNull(); // released before npm came with Node
    expect(bundledNpm('22')).toBeNull();
    expect(bundledNpm('22.12')).toBeNull();
    expect(bundledNpm('^22.12.0')).toBeNull();
    expect(bundledNpm('vv22.12.0')).toBeNull();
    expect(bundledNpm('')).toBeNull();
    expect(bundledNpm('constructor')).toBeNull();
    expect(bundledNpm('__proto__')).toBeNull();
  });

  it('knows its newest release and describes itself', () => {
    expect(bundledNpm(BUNDLED_NPM_TABLE.newestNode)).toBe(BUNDLED_NPM_DATA.npm[BUNDLED_NPM_TABLE.newestNode]);
    expect(BUNDLED_NPM_TABLE.size).toBe(Object.keys(BUNDLED_NPM_DATA.npm).length);
    expect(BUNDLED_NPM_TABLE.size).toBeGreaterThan(700);
    expect(BUNDLED_NPM_TABLE.source).toContain('nodejs.org/dist/index.json');
    expect(BUNDLED_NPM_TABLE.generated).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(Object.isFrozen(BUNDLED_NPM_TABLE)).toBe(true);
  });
});

describe('the committed table', () => {
  const keys = Object.keys(BUNDLED_NPM_DATA.npm);

  it('has valid versions, newest first, and its newestNode is the greatest', () => {
    expect(keys.filter((k) => semver.valid(k) !== k)).toEqual([]);
    expect(Object.values(BUNDLED_NPM_DATA.npm).filter((v) => semver.valid(v) !== v)).toEqual([]);
    expect(keys).toEqual([...keys].sort(semver.rcompare));
    expect(BUNDLED_NPM_DATA.newestNode).toBe(keys[0]);
    expect(BUNDLED_NPM_DATA.newestNode).toBe(semver.maxSatisfying(keys, '*', { includePrerelease: true }));
  });

  it('covers every Node.js major from 0.x on, with no major left empty', () => {
    const majors = new Set(keys.map((k) => semver.major(k)));
    const newestMajor = semver.major(BUNDLED_NPM_DATA.newestNode);
    // 1.x to 3.x were io.js releases: not in the Node.js index.
    const expected = [0, ...Array.from({ length: newestMajor - 3 }, (_, i) => i + 4)];
    expect([...majors].sort((a, b) => a - b)).toEqual(expected);
  });

  it('is exactly what the script writes for its data (the file is generated, not hand-edited)', async () => {
    // Without the 300 KB index in the repo, the check is on the format: an
    // index made of the table's own entries gives back the same bytes.
    const dir = tmpDir();
    const keysWithDate = keys.map((k, i) => ({ version: `v${k}`, npm: BUNDLED_NPM_DATA.npm[k], ...(i === 0 ? { date: BUNDLED_NPM_DATA.generated } : {}) }));
    const from = writeIndex(dir, keysWithDate.reverse());
    const out = path.join(dir, 'bundled-npm-table.ts');
    const r = await run(['--from', from, '--out', out, '--source', BUNDLED_NPM_DATA.source]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe(fs.readFileSync(TABLE_FILE, 'utf8'));
  });
});

// --- the script ------------------------------------------------------------

/** A small index in the real one's shape: unordered, one release before npm came with Node, extra fields. */
const FIXTURE = [
  { version: 'v20.18.0', date: '2024-10-03', files: ['linux-x64'], npm: '10.8.2', v8: '11.3.244.8', lts: 'Iron', security: false },
  { version: 'v22.12.0', date: '2024-12-03', files: ['linux-x64'], npm: '10.9.0', v8: '12.4.254.21', lts: 'Jod', security: false },
  { version: 'v22.9.0', date: '2024-09-17', files: ['linux-x64'], npm: '10.8.3', lts: false, security: false },
  { version: 'v18.20.6', date: '2025-01-21', files: ['linux-x64'], npm: '10.8.2', lts: 'Hydrogen', security: true },
  { version: 'v22.10.0', date: '2024-10-16', files: ['linux-x64'], npm: '10.9.0', lts: false, security: false },
  { version: 'v0.6.3', date: '2011-11-25', files: ['src'], npm: '1.1.0-alpha-2', lts: false, security: false },
  { version: 'v0.6.2', date: '2011-11-18', files: ['src'], v8: '3.6.6.8', lts: false, security: false },
];

function expectedJson(source: string): string {
  return `{
  "source": ${JSON.stringify(source)},
  "generated": "2025-01-21",
  "newestNode": "22.12.0",
  "npm": {
    "22.12.0": "10.9.0",
    "22.10.0": "10.9.0",
    "22.9.0": "10.8.3",
    "20.18.0": "10.8.2",
    "18.20.6": "10.8.2",
    "0.6.3": "1.1.0-alpha-2"
  }
}
`;
}

const dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-bundled-npm-'));
  dirs.push(d);
  return d;
}

function writeIndex(dir: string, index: unknown, name = 'index.json'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof index === 'string' ? index : JSON.stringify(index));
  return file;
}

/** Runs the script with plain Node (asynchronously: the HTTP tests serve from this process). */
function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = { ...process.env };
  delete base.NODE_RELEASE_INDEX_URL;
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { env: { ...base, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let server: http.Server;
let base = '';
beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/dist/index.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(FIXTURE));
    } else if (req.url === '/hang') {
      // Never answers: the script's timeout has to end it.
    } else {
      res.writeHead(404);
      res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('scripts/bundled-npm.mjs', () => {
  it('writes the table from an index file, newest release first, and says what it did', async () => {
    const dir = tmpDir();
    const from = writeIndex(dir, FIXTURE);
    const out = path.join(dir, 'out', 'table.json');
    const r = await run(['--from', from, '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe(expectedJson(from));
    expect(r.stdout).toBe(`bundled-npm: 6 Node.js releases with a bundled npm (of 7 in the index), newest 22.12.0 (npm 10.9.0), index dated 2025-01-21; wrote ${out}\n`);
    expect(fs.readdirSync(path.dirname(out))).toEqual(['table.json']); // no temp file left
  });

  it('gives byte-identical output when run again on the same index', async () => {
    const dir = tmpDir();
    const from = writeIndex(dir, FIXTURE);
    const a = path.join(dir, 'a.json');
    const b = path.join(dir, 'b.json');
    expect((await run(['--from', from, '--out', a])).code).toBe(0);
    const first = fs.readFileSync(a);
    expect((await run(['--from', from, '--out', a])).code).toBe(0);
    expect((await run(['--from', from, '--out', b])).code).toBe(0);
    expect(fs.readFileSync(a).equals(first)).toBe(true);
    expect(fs.readFileSync(b).equals(first)).toBe(true);
  });

  it('orders versions as semver does: numerically, a release above its prereleases', async () => {
    const dir = tmpDir();
    const index = [
      { version: 'v23.0.0-rc.1', npm: '10.9.0' },
      { version: 'v9.0.0', npm: '5.5.1' },
      { version: 'v23.0.0', npm: '10.9.0' },
      { version: 'v23.0.0-rc.10', npm: '10.9.0' },
      { version: 'v10.0.0', npm: '5.6.0' },
      { version: 'v23.0.0-rc.2', npm: '10.9.0' },
    ];
    const out = path.join(dir, 't.json');
    expect((await run(['--from', writeIndex(dir, index), '--out', out])).code).toBe(0);
    const table = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(Object.keys(table.npm)).toEqual(['23.0.0', '23.0.0-rc.10', '23.0.0-rc.2', '23.0.0-rc.1', '10.0.0', '9.0.0']);
    expect(table.newestNode).toBe('23.0.0');
    expect(table.generated).toBe('unknown'); // no dates in this index
  });

  it('writes a TypeScript module for a .ts output, carrying the same data', async () => {
    const dir = tmpDir();
    const from = writeIndex(dir, FIXTURE);
    const out = path.join(dir, 'table.ts');
    const r = await run(['--from', from, '--out', out, '--source', 'the fixture']);
    expect(r.code).toBe(0);
    const text = fs.readFileSync(out, 'utf8');
    expect(text).toMatch(/^\/\/ Generated by scripts\/bundled-npm\.mjs/);
    expect(text).toContain(`export const BUNDLED_NPM_DATA: { source: string; generated: string; newestNode: string; npm: Record<string, string> } = ${expectedJson('the fixture').trimEnd()};\n`);
    const mod = (await import(pathToFileURL(out).href)) as { BUNDLED_NPM_DATA: unknown };
    expect(mod.BUNDLED_NPM_DATA).toEqual(JSON.parse(expectedJson('the fixture')));
  });

  it('reads a file: URL, and records --source instead of --from when given', async () => {
    const dir = tmpDir();
    const url = pathToFileURL(writeIndex(dir, FIXTURE)).href;
    const out = path.join(dir, 't.json');
    expect((await run(['--from', url, '--out', out])).code).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe(expectedJson(url));
    expect((await run([`--from=${url}`, `--out=${out}`, '--source', 'a copy of https://nodejs.org/dist/index.json'])).code).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe(expectedJson('a copy of https://nodejs.org/dist/index.json'));
  });

  it('fetches an http index, from --from or else from NODE_RELEASE_INDEX_URL', async () => {
    const dir = tmpDir();
    const url = `${base}/dist/index.json`;
    const a = path.join(dir, 'a.json');
    const r = await run(['--from', url, '--out', a]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(fs.readFileSync(a, 'utf8')).toBe(expectedJson(url));
    const b = path.join(dir, 'b.json');
    expect((await run(['--out', b], { NODE_RELEASE_INDEX_URL: url })).code).toBe(0);
    expect(fs.readFileSync(b, 'utf8')).toBe(expectedJson(url));
  });

  it('fails clearly on an HTTP error and on a server that does not answer in time', async () => {
    const dir = tmpDir();
    const out = path.join(dir, 't.json');
    const notFound = await run(['--from', `${base}/nope.json`, '--out', out]);
    expect(notFound.code).toBe(1);
    expect(notFound.stderr).toBe(`bundled-npm: GET ${base}/nope.json: HTTP 404 Not Found\n`);
    const hang = await run(['--from', `${base}/hang`, '--out', out, '--timeout', '300']);
    expect(hang.code).toBe(1);
    expect(hang.stderr).toBe(`bundled-npm: GET ${base}/hang: no answer within 300 ms\n`);
    const refused = await run(['--from', 'http://127.0.0.1:1/index.json', '--out', out]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^bundled-npm: GET http:\/\/127\.0\.0\.1:1\/index\.json: \S/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it.each([
    ['not JSON', '{"version": "v1.0.0",', /: not JSON \(/],
    ['an object', { version: 'v22.12.0', npm: '10.9.0' }, /: expected a JSON array of Node\.js releases like \{"version":"v20\.18\.0","npm":"10\.8\.2"\}, got object$/],
    ['null', null, /: expected a JSON array of Node\.js releases .*, got null$/],
    ['an entry that is not an object', [{ version: 'v22.12.0', npm: '10.9.0' }, 'v22.11.0'], /: entry 1: expected an object like .*, got "v22\.11\.0"$/],
    ['an entry without a version', [{ npm: '10.9.0' }], /: entry 0: "version" is missing or not a version: undefined$/],
    ['a version that is not one', [{ version: 'v22.12', npm: '10.9.0' }], /: entry 0: "version" is missing or not a version: "v22\.12"$/],
    ['an npm that is not a version', [{ version: 'v22.12.0', npm: 10 }], /: entry 0 \(v22\.12\.0\): "npm" is not a version: 10$/],
    ['a bad date', [{ version: 'v22.12.0', npm: '10.9.0', date: 'December' }], /: entry 0 \(v22\.12\.0\): "date" is not a YYYY-MM-DD date: "December"$/],
    ['a release listed twice with different npms', [{ version: 'v22.12.0', npm: '10.9.0' }, { version: 'v22.12.0', npm: '10.9.1' }], /: entry 1: v22\.12\.0 is listed twice, with npm 10\.9\.0 and 10\.9\.1$/],
    ['no npm field anywhere', [{ version: 'v0.6.2' }, { version: 'v0.6.1' }], /: no release in it has an "npm" field \(2 entries\): not the Node\.js release index\?$/],
    ['an empty array', [], /: no release in it has an "npm" field \(0 entries\)/],
  ])('fails on %s, naming the problem, and writes nothing', async (_name, index, message) => {
    const dir = tmpDir();
    const from = writeIndex(dir, index);
    const out = path.join(dir, 't.json');
    const r = await run(['--from', from, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.startsWith(`bundled-npm: ${from}`)).toBe(true);
    expect(r.stderr.trimEnd()).toMatch(message);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('fails on a missing file', async () => {
    const dir = tmpDir();
    const missing = path.join(dir, 'no-such-index.json');
    const r = await run(['--from', missing, '--out', path.join(dir, 't.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`bundled-npm: cannot read ${missing}: no such file\n`);
  });

  it('refuses bad arguments with exit status 2', async () => {
    const dir = tmpDir();
    const from = writeIndex(dir, FIXTURE);
    const cases: [string[], RegExp][] = [
      [['--frm', from], /^bundled-npm: unknown argument "--frm"\nusage: /],
      [['--from'], /^bundled-npm: --from needs a value\n/],
      [['--from', from, '--out', path.join(dir, 't.txt')], /^bundled-npm: --out must name a \.ts or \.json file, got /],
      [['--from', from, '--out', path.join(dir, 't.json'), '--timeout', '1s'], /^bundled-npm: --timeout takes a whole number of milliseconds, got "1s"\n$/],
      [['--from', 'ftp://example.invalid/index.json', '--out', path.join(dir, 't.json')], /^bundled-npm: ftp:\/\/example\.invalid\/index\.json: only http:, https: and file: URLs or a path can be read\n$/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect(r.stderr).toMatch(message);
      expect(r.code).toBe(args[0] === '--from' && args[1]?.startsWith('ftp:') ? 1 : 2);
    }
    expect(fs.readdirSync(dir)).toEqual(['index.json']);
  });
});
