/**
 * The packaging benchmark's generated corpus: a node_modules-shaped app
 * modelled on the one measured in shared/reference/perf-baselines.md,
 * generated once (deterministically) into os.tmpdir() and reused.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Bump when the generator changes, so an old cached corpus isn't reused. */
const CORPUS_VERSION = 1;

/** mulberry32: a tiny seeded PRNG, so the corpus is the same on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Generates pseudo-source text. The mix of boilerplate lines, a per-file set
 * of favourite identifiers, a package vocabulary and a global one, with
 * skewed picks, was tuned until GNU gzip -6 compresses the whole tar stream
 * 4.9× (183.3 MB to 37.4 MB; the file data alone 4.3×), near the real
 * node_modules in perf-baselines.md (184 MB to 34.8 MB, 5.3×). Random bytes
 * would not compress, and repeated text would compress (and run) unrealistically well.
 */
class TextGen {
  readonly rnd: () => number;
  private readonly syllables = ['ba', 'co', 'de', 'fi', 'ga', 'he', 'in', 'jo', 'ka', 'lu', 'me', 'no', 'op', 'pa', 'qu', 're', 'si', 'to', 'un', 'va', 'we', 'xe', 'yo', 'za', 'st', 'tr', 'pl', 'ch', 'sh', 'th', 'er', 'an', 'al', 'or', 'ex', 'ic', 'ul', 'ent'];
  private readonly words: string[];
  private readonly global: string[];
  private static readonly BOILERPLATE = [
    "'use strict';", "Object.defineProperty(exports, '__esModule', { value: true });", 'var _this = this;',
    "if (typeof callback !== 'function') {", "  throw new TypeError('callback must be a function');", '}',
    'module.exports = exports.default;', 'var __importDefault = (this && this.__importDefault) || function (mod) {',
    '  return (mod && mod.__esModule) ? mod : { default: mod };', '};', 'exports.default = void 0;',
    'if (options === void 0) { options = {}; }', 'return Promise.resolve(result);',
    'const hasOwnProperty = Object.prototype.hasOwnProperty;', 'for (var i = 0; i < arguments.length; i++) {',
    '  var source = arguments[i];', '  for (var key in source) {', '    if (Object.prototype.hasOwnProperty.call(source, key)) {',
    '      target[key] = source[key];', '    }', '  }', 'return target;', '} catch (err) {', '  return callback(err);',
    '} finally {', '/**', ' * @param {Object} options', ' * @returns {Promise<void>}', ' */', '  if (err) return reject(err);',
    '  resolve(data);', '});', 'export default function () {', '  enumerable: true,', '  configurable: true,', '  writable: true,',
    '  get: function () { return this._value; },', '});',
  ];

  private static readonly SEGMENTS = ['AAAA', 'SAAS', 'CAAC', 'GAAG', 'EAAE', 'IAAI', 'KAAK', 'OAAO', 'AAAA,CAAC', 'QAAQ', 'MAAM', 'YAAY', 'CAAA', 'GAAA'];

  constructor(seed: number) {
    this.rnd = prng(seed);
    this.words = Array.from({ length: 300 }, () => this.rawWord());
    this.global = Array.from({ length: 400 }, () => this.ident()).concat(
      'length prototype call apply push map filter value options callback err result key obj args name type data index this module exports Object Array String Promise Symbol undefined null true false'.split(' '),
    );
  }

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  /** Picks from `arr`, strongly favouring its first elements (a Zipf-like skew). */
  pick<T>(arr: readonly T[]): T {
    return arr[Math.floor(arr.length * Math.pow(this.rnd(), 2.5))] as T;
  }
  private rawWord(): string {
    let s = '';
    const n = 1 + this.int(3);
    for (let i = 0; i < n; i++) s += this.syllables[this.int(this.syllables.length)];
    return s;
  }
  word(): string {
    return this.pick(this.words);
  }
  ident(): string {
    const n = 1 + this.int(3);
    let s = this.rawWord();
    for (let i = 1; i < n; i++) {
      const w = this.rawWord();
      s += w.charAt(0).toUpperCase() + w.slice(1);
    }
    return s;
  }
  vocabulary(n: number): string[] {
    return Array.from({ length: n }, () => this.ident());
  }
  sentence(min: number, spread: number): string {
    return Array.from({ length: min + this.int(spread) }, () => this.word()).join(' ');
  }

  /** About `size` bytes of JavaScript-looking source. */
  js(size: number, vocab: readonly string[]): Buffer {
    const local = Array.from({ length: 12 + this.int(20) }, () => (this.chance(0.5) ? this.pick(vocab) : this.pick(this.global)));
    const id = (): string => (this.chance(0.75) ? this.pick(local) : this.chance(0.5) ? this.pick(vocab) : this.pick(this.global));
    const lit = (): string => {
      const r = this.rnd();
      if (r < 0.3) return String(this.int(r < 0.2 ? 10 : 1000));
      if (r < 0.6) return `'${this.word()} ${this.word()}'`;
      if (r < 0.8) return id();
      return ['null', 'true', 'false', 'undefined', '0', '1', '[]', '{}'][this.int(8)] as string;
    };
    const lines: string[] = [];
    let len = 0;
    let depth = 0;
    while (len < size) {
      const ind = '  '.repeat(depth);
      let line: string;
      const r = this.rnd();
      if (this.chance(0.42)) line = ind + this.pick(TextGen.BOILERPLATE);
      else if (depth === 0) {
        if (r < 0.2) line = `const ${id()} = require('${this.word()}${this.chance(0.3) ? '/' + this.word() : ''}');`;
        else if (r < 0.35) line = `// ${this.sentence(3, 10)}`;
        else if (r < 0.45) line = `module.exports.${id()} = ${id()};`;
        else {
          line = `${this.chance(0.3) ? 'async ' : ''}function ${id()}(${Array.from({ length: this.int(4) }, id).join(', ')}) {`;
          depth++;
        }
      } else if (r < 0.12) {
        line = `${ind}if (${id()}.${id()} ${['===', '!==', '<', '>'][this.int(4)]} ${lit()}) {`;
        depth++;
      } else if (r < 0.17 && depth < 5) {
        line = `${ind}for (let i = 0; i < ${id()}.length; i++) {`;
        depth++;
      } else if (r < 0.35) line = `${ind}const ${id()} = ${id()}.${id()}(${lit()}, ${lit()});`;
      else if (r < 0.5) line = `${ind}${id()}.${id()} = ${lit()};`;
      else if (r < 0.58) line = `${ind}return ${id()}(${lit()});`;
      else if (r < 0.62) line = `${ind}throw new TypeError('${this.sentence(2, 6)}');`;
      else if (r < 0.7) line = `${ind}// ${this.sentence(3, 8)}`;
      else if (r < 0.85 || depth > 4) {
        depth--;
        line = `${'  '.repeat(depth)}}`;
      } else {
        line = `${ind}${id()}(${lit()}, function (${id()}) {`;
        depth++;
      }
      lines.push(line);
      len += line.length + 1;
    }
    return Buffer.from(lines.join('\n') + '\n').subarray(0, size);
  }

  /** About `size` bytes of TypeScript declarations. */
  dts(size: number, vocab: readonly string[]): Buffer {
    const lines: string[] = [];
    let len = 0;
    const types = ['string', 'number', 'boolean', 'void', 'unknown', 'Promise<void>', 'Buffer', 'string[]', 'Record<string, unknown>'];
    while (len < size) {
      const r = this.rnd();
      const line =
        r < 0.4 ? `export declare function ${this.pick(vocab)}(${this.pick(vocab)}: ${this.pick(types)}, options?: ${this.pick(vocab)}Options): ${this.pick(types)};`
        : r < 0.7 ? `    ${this.pick(vocab)}${this.chance(0.3) ? '?' : ''}: ${this.pick(types)};`
        : r < 0.8 ? `export interface ${this.pick(vocab)}Options {`
        : r < 0.9 ? '}'
        : `/** ${this.sentence(4, 10)} */`;
      lines.push(line);
      len += line.length + 1;
    }
    return Buffer.from(lines.join('\n') + '\n').subarray(0, size);
  }

  /** About `size` bytes of README-like prose. */
  markdown(size: number, name: string): Buffer {
    const lines = [`# ${name}`, '', `${this.sentence(8, 20)}.`, '', '## Install', '', '```sh', `npm install ${name}`, '```', ''];
    let len = lines.join('\n').length;
    while (len < size) {
      const line = this.chance(0.1) ? `## ${this.sentence(1, 3)}` : this.chance(0.2) ? `- \`${this.word()}\`: ${this.sentence(3, 10)}` : `${this.sentence(6, 20)}.`;
      lines.push(line, '');
      len += line.length + 2;
    }
    return Buffer.from(lines.join('\n')).subarray(0, size);
  }

  /** A source map: JSON whose `mappings` are base64-VLQ-looking noise, as real ones are (they compress 2–3×). */
  sourceMap(size: number, vocab: readonly string[]): Buffer {
    const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const head = `{"version":3,"file":"index.js","sources":["../src/index.ts"],"names":${JSON.stringify(vocab.slice(0, 40))},"mappings":"`;
    const parts: string[] = [head];
    let len = head.length;
    while (len < size) {
      let seg = '';
      const n = 4 + this.int(4);
      // Mostly the short, repetitive segments real maps are full of ("AAAA", "SAAS", "CAAC").
      if (this.chance(0.7)) seg = TextGen.SEGMENTS[this.int(this.chance(0.7) ? 4 : TextGen.SEGMENTS.length)] as string;
      else for (let i = 0; i < n; i++) seg += b64[this.chance(0.6) ? this.int(8) : this.int(64)];
      seg += this.chance(0.15) ? ';' : ',';
      parts.push(seg);
      len += seg.length;
    }
    parts.push('"}\n');
    return Buffer.from(parts.join('')).subarray(0, size);
  }

  /** Incompressible bytes (native addons, images). */
  binary(size: number): Buffer {
    const b = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) b[i] = this.int(256);
    return b;
  }
}

const MIT = `MIT License\n\nCopyright (c) Contributors\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software and associated documentation files (the "Software"), to deal\nin the Software without restriction, including without limitation the rights\nto use, copy, modify, merge, publish, distribute, sublicense, and/or sell\ncopies of the Software, and to permit persons to whom the Software is\nfurnished to do so, subject to the following conditions:\n\nThe above copyright notice and this permission notice shall be included in all\ncopies or substantial portions of the Software.\n\nTHE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\nIMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,\nFITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.\n`;

/**
 * Writes the corpus: an app with 684 packages in node_modules (some scoped,
 * some nested in another's node_modules, 40 `.bin` symlinks), 27,429 files in
 * 2,784 directories, file sizes log-normal around a ~790 B median, plus a few
 * large bundles, a source map and a binary addon: 160.0 MB of data in all,
 * the shape of the app in perf-baselines.md (27,477 files, 2,611 dirs, 40
 * symlinks, 160.7 MB, median 742 B).
 */
function generateCorpus(root: string): void {
  const g = new TextGen(20240101);
  const PACKAGES = 684;
  const TARGET_FILES = 27_400;
  const TARGET_BYTES = 160_000_000;
  const app = root;
  fs.mkdirSync(path.join(app, 'src'), { recursive: true });
  fs.mkdirSync(path.join(app, 'node_modules', '.bin'), { recursive: true });
  let bytes = 0;
  const put = (rel: string, data: Buffer | string, mode = 0o644): void => {
    const p = path.join(app, rel);
    fs.writeFileSync(p, data, { mode });
    bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  };
  const appVocab = g.vocabulary(120);
  put('package.json', JSON.stringify({ name: 'bench-app', version: '1.0.0', main: 'src/index.js', dependencies: {} }, null, 2) + '\n');
  put('Procfile', 'web: node src/index.js\n');
  for (let i = 0; i < 30; i++) put(`src/${g.ident()}${i}.js`, g.js(800 + g.int(6000), appVocab));

  // Files per package: heavy-tailed (a few packages like typescript or lodash
  // hold thousands of files, most a handful). Weights ~ 1/u^0.9, normalised.
  const weights = Array.from({ length: PACKAGES }, () => 1 / Math.pow(0.02 + g.int(1000) / 1000, 0.9));
  const wsum = weights.reduce((a, b) => a + b, 0);
  const names: string[] = [];
  const sizeOf = (): number => Math.min(1_500_000, Math.max(0, Math.round(750 * Math.exp(1.85 * gauss(g)))));
  const large: string[] = [];
  for (let p = 0; p < PACKAGES; p++) {
    let name = `${g.word()}-${g.word()}${p}`;
    if (g.chance(0.15)) name = `@${g.word()}/${name}`;
    // ~5% are nested under another package's own node_modules.
    const nested = p > 10 && g.chance(0.05) ? `${names[g.int(names.length)]}/node_modules/` : '';
    const pkgDir = `node_modules/${nested}${name}`;
    names.push(name);
    const vocab = g.vocabulary(150);
    // Directories: lib/ or dist/{cjs,esm}/ and sometimes a few more levels.
    const dirs = ['', 'lib/', ...(g.chance(0.25) ? ['dist/', 'dist/cjs/', 'dist/esm/'] : []), ...(g.chance(0.3) ? ['types/'] : [])];
    const extra = g.int(3) - (g.chance(0.4) ? 1 : 0);
    for (let i = 0; i < extra; i++) dirs.push(`${g.pick(dirs.filter((d) => d !== ''))}${g.word()}${i}/`);
    for (const d of dirs) fs.mkdirSync(path.join(app, pkgDir, d), { recursive: true });
    put(`${pkgDir}/package.json`, JSON.stringify({ name, version: `${1 + g.int(9)}.${g.int(20)}.${g.int(10)}`, description: g.sentence(4, 8), main: 'lib/index.js', license: 'MIT', repository: { type: 'git', url: `git+https://example.invalid/${name}.git` }, keywords: [g.word(), g.word()] }, null, 2) + '\n');
    put(`${pkgDir}/LICENSE`, MIT);
    put(`${pkgDir}/README.md`, g.markdown(500 + Math.min(20_000, sizeOf() * 2), name));
    const n = Math.max(1, Math.round(((weights[p] as number) / wsum) * (TARGET_FILES - 30 - 3 * PACKAGES)));
    for (let i = 0; i < n; i++) {
      const d = dirs[1 + g.int(dirs.length - 1)] ?? 'lib/';
      const size = sizeOf();
      const r = g.rnd();
      const base = `${g.word()}${i}`;
      if (d.startsWith('types/') || r < 0.15) put(`${pkgDir}/${d}${base}.d.ts`, g.dts(size, vocab));
      else if (r < 0.18) put(`${pkgDir}/${d}${base}.js.map`, g.sourceMap(size, vocab));
      else if (r < 0.21) put(`${pkgDir}/${d}${base}.md`, g.markdown(size, name));
      else if (r < 0.212) put(`${pkgDir}/${d}${base}.png`, g.binary(size));
      else put(`${pkgDir}/${d}${base}.js`, g.js(size, vocab));
    }
    if (p < 40) {
      fs.mkdirSync(path.join(app, pkgDir, 'bin'), { recursive: true });
      put(`${pkgDir}/bin/cli.js`, '#!/usr/bin/env node\n' + g.js(300 + g.int(2000), vocab).toString(), 0o755);
      fs.symlinkSync(`../${nested}${name}/bin/cli.js`, path.join(app, 'node_modules/.bin', name.replace(/^@.*\//, '')));
    }
    if (p % 120 === 7) large.push(pkgDir);
  }
  // The rest of the bytes as a few large files: bundles, a native addon, a big source map.
  const left = Math.max(0, TARGET_BYTES - bytes);
  large.forEach((pkgDir, i) => {
    const share = Math.floor((left - 3_000_000) / (large.length - 1));
    fs.mkdirSync(path.join(app, pkgDir, 'dist'), { recursive: true });
    if (i === 1) put(`${pkgDir}/dist/addon.node`, g.binary(3_000_000));
    else if (i === 2) put(`${pkgDir}/dist/bundle.js.map`, g.sourceMap(share, g.vocabulary(200)));
    else put(`${pkgDir}/dist/bundle.js`, g.js(share, g.vocabulary(400)));
  });
}

/** A standard normal sample (Box–Muller). */
function gauss(g: TextGen): number {
  const u = 1 - g.int(2 ** 30) / 2 ** 30;
  const v = g.int(2 ** 30) / 2 ** 30;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function ensureCorpus(): string {
  const dir = path.join(os.tmpdir(), `slugc-bench-corpus-v${CORPUS_VERSION}`);
  if (fs.existsSync(path.join(dir, '.complete'))) return path.join(dir, 'app');
  const partial = `${dir}.partial-${process.pid}`;
  console.log(`Generating the benchmark corpus in ${dir} (once)…`);
  const t0 = performance.now();
  fs.rmSync(dir, { recursive: true, force: true });
  generateCorpus(path.join(partial, 'app'));
  fs.writeFileSync(path.join(partial, '.complete'), '');
  fs.renameSync(partial, dir);
  console.log(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return path.join(dir, 'app');
}

/** Counts what the tree holds, to print the corpus shape. */
export function describeTree(dir: string): { files: number; dirs: number; symlinks: number; bytes: number; median: number } {
  const sizes: number[] = [];
  let dirs = 0;
  let symlinks = 0;
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d)) {
      const p = `${d}/${name}`;
      const st = fs.lstatSync(p);
      if (st.isDirectory()) {
        dirs++;
        walk(p);
      } else if (st.isSymbolicLink()) symlinks++;
      else if (st.isFile()) sizes.push(st.size);
    }
  };
  walk(dir);
  sizes.sort((a, b) => a - b);
  return { files: sizes.length, dirs, symlinks, bytes: sizes.reduce((a, b) => a + b, 0), median: sizes[sizes.length >> 1] ?? 0 };
}

