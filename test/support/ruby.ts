// Ruby gems for tests, made here: `.gem` files written directly (a plain tar
// of metadata.gz, data.tar.gz and checksums.yaml.gz; the metadata a YAML
// Gem::Specification), no rubygems.org and no `gem build`; a Gemfile.lock
// for them; and a static gem source (`gem generate_index` with the Ruby the
// debian source installed) served over loopback HTTP.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';

/** A gem to write. */
export interface GemSpec {
  name: string;
  version: string;
  /** Files of the gem, path -> text (e.g. `lib/greet.rb`, `exe/greet`, `ext/x/extconf.rb`). */
  files: Record<string, string>;
  /** Executables in `bindir` (default `exe`), by name. */
  executables?: string[];
  bindir?: string;
  /** `extconf.rb` paths of C extensions, e.g. `ext/hello/extconf.rb`. */
  extensions?: string[];
  /** Runtime dependencies, name -> requirement (e.g. `>= 0`). */
  dependencies?: Record<string, string>;
}

/** A tar (ustar) of `entries`, written by hand: the format is small and fixed. */
export function tar(entries: [string, Buffer, number?][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, data, mode] of entries) {
    const h = Buffer.alloc(512);
    h.write(name, 0, 100);
    h.write(`${(mode ?? 0o644).toString(8).padStart(7, '0')}\0`, 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write(`${(0).toString(8).padStart(11, '0')}\0`, 136); // mtime 0: the same bytes every time
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    h.write('wheel', 265);
    h.write('wheel', 297);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    parts.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const gz = (b: Buffer) => zlib.gzipSync(b, { level: 9, mtime: 0 } as zlib.ZlibOptions);
const yamlStr = (s: string) => `'${s.replace(/'/g, "''")}'`;
const requirementYaml = (req: string, indent: string) => {
  const lines = [`${indent}requirements:`];
  for (const r of req.split(',').map((x) => x.trim())) {
    const m = /^(~>|>=|<=|!=|=|>|<)?\s*(\S+)$/.exec(r)!;
    lines.push(`${indent}- - ${JSON.stringify(m[1] ?? '=')}`, `${indent}  - !ruby/object:Gem::Version`, `${indent}    version: ${yamlStr(m[2]!)}`);
  }
  return lines.join('\n');
};

/** The YAML Gem::Specification of a gem (what `metadata.gz` holds). */
export function gemMetadata(spec: GemSpec): string {
  const bindir = spec.bindir ?? 'exe';
  const list = (xs: string[]) => (xs.length ? '\n' + xs.map((x) => `- ${yamlStr(x)}`).join('\n') : ' []');
  const deps = Object.entries(spec.dependencies ?? {});
  const depYaml = deps.length
    ? '\n' +
      deps
        .map(([n, r]) => [`- !ruby/object:Gem::Dependency`, `  name: ${yamlStr(n)}`, `  requirement: !ruby/object:Gem::Requirement`, requirementYaml(r, '    '), `  type: :runtime`, `  prerelease: false`, `  version_requirements: !ruby/object:Gem::Requirement`, requirementYaml(r, '    ')].join('\n'))
        .join('\n')
    : ' []';
  return `--- !ruby/object:Gem::Specification
name: ${yamlStr(spec.name)}
version: !ruby/object:Gem::Version
  version: ${yamlStr(spec.version)}
platform: ruby
authors:
- slugc tests
autorequire:
bindir: ${yamlStr(bindir)}
cert_chain: []
date: 2024-01-01 00:00:00.000000000 Z
dependencies:${depYaml}
description:
email:
executables:${list(spec.executables ?? [])}
extensions:${list(spec.extensions ?? [])}
extra_rdoc_files: []
files:${list(Object.keys(spec.files).sort())}
homepage:
licenses: []
metadata: {}
post_install_message:
rdoc_options: []
require_paths:
- lib
required_ruby_version: !ruby/object:Gem::Requirement
${requirementYaml('>= 0', '  ')}
required_rubygems_version: !ruby/object:Gem::Requirement
${requirementYaml('>= 0', '  ')}
requirements: []
rubygems_version: 3.3.15
signing_key:
specification_version: 4
summary: A gem made by the slugc tests
test_files: []
`;
}

/** Writes `<name>-<version>.gem` into `dir`; returns its path and sha256. */
export function writeGem(dir: string, spec: GemSpec): { file: string; sha256: string; name: string; version: string } {
  const bindir = spec.bindir ?? 'exe';
  const data = gz(tar(Object.entries(spec.files).sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, t]) => [p, Buffer.from(t), p.startsWith(`${bindir}/`) ? 0o755 : 0o644])));
  const metadata = gz(Buffer.from(gemMetadata(spec)));
  const sums = (algo: string) => `  metadata.gz: ${crypto.createHash(algo).update(metadata).digest('hex')}\n  data.tar.gz: ${crypto.createHash(algo).update(data).digest('hex')}\n`;
  const checksums = gz(Buffer.from(`---\nSHA256:\n${sums('sha256')}SHA512:\n${sums('sha512')}`));
  const gem = tar([
    ['metadata.gz', metadata],
    ['data.tar.gz', data],
    ['checksums.yaml.gz', checksums],
  ]);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${spec.name}-${spec.version}.gem`);
  fs.writeFileSync(file, gem);
  return { file, sha256: crypto.createHash('sha256').update(gem).digest('hex'), name: spec.name, version: spec.version };
}

/** A gem in a lock: name, version and its dependencies. */
export interface LockGem {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
}

/** A Gemfile and its Gemfile.lock for `gems` from `remote` (the Gemfile depends on each of `direct`, default all). */
export function gemfileAndLock(gems: LockGem[], options: { remote?: string; direct?: string[]; ruby?: string; bundledWith?: string; rubyDirective?: string } = {}): { Gemfile: string; 'Gemfile.lock': string } {
  const remote = options.remote ?? 'https://rubygems.org/';
  const direct = options.direct ?? gems.map((g) => g.name);
  const Gemfile = `source ${JSON.stringify(remote)}\n${options.rubyDirective ? `${options.rubyDirective}\n` : ''}${direct.map((d) => `gem ${JSON.stringify(d)}\n`).join('')}`;
  const specs = [...gems]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((g) => `    ${g.name} (${g.version})\n${Object.entries(g.dependencies ?? {}).map(([n, r]) => `      ${n}${r ? ` (${r})` : ''}\n`).join('')}`)
    .join('');
  const lock = `GEM\n  remote: ${remote}\n  specs:\n${specs}\nPLATFORMS\n  ruby\n  x86_64-linux\n\nDEPENDENCIES\n${[...direct].sort().map((d) => `  ${d}\n`).join('')}${options.ruby ? `\nRUBY VERSION\n   ruby ${options.ruby}\n` : ''}\nBUNDLED WITH\n   ${options.bundledWith ?? '2.3.15'}\n`;
  return { Gemfile, 'Gemfile.lock': lock };
}

/** The env that runs the debian source's relocated Ruby at `dir` (as its runtime table says). */
export function rubyRuntimeEnv(dir: string): Record<string, string> {
  const api = '3.1.0';
  const multi = fs.readdirSync(path.join(dir, 'usr/lib')).find((n) => /-linux-gnu$/.test(n)) ?? 'x86_64-linux-gnu';
  const u = (p: string) => path.join(dir, p);
  return {
    PATH: `${u('usr/bin')}:/usr/bin:/bin`,
    LD_LIBRARY_PATH: u(`usr/lib/${multi}`),
    RUBYLIB: [`usr/lib/ruby/vendor_ruby/${api}`, `usr/lib/${multi}/ruby/vendor_ruby/${api}`, 'usr/lib/ruby/vendor_ruby', `usr/lib/ruby/${api}`, `usr/lib/${multi}/ruby/${api}`].map(u).join(':'),
    GEM_HOME: u(`usr/lib/ruby/gems/${api}`),
    GEM_PATH: [`usr/lib/ruby/gems/${api}`, `usr/share/rubygems-integration/${api}`, 'usr/share/rubygems-integration/all'].map(u).join(':'),
    HOME: dir,
  };
}

/** Makes `dir` (holding `gems/*.gem`) a static gem source with the runtime's `gem generate_index`. */
export function generateGemIndex(rubyDir: string, dir: string): void {
  execFileSync(path.join(rubyDir, 'usr/bin/ruby'), [path.join(rubyDir, 'usr/bin/gem'), 'generate_index', '-d', dir], { env: rubyRuntimeEnv(rubyDir), stdio: 'pipe', timeout: 60_000 });
}

/** A running static gem source. */
export interface GemSource {
  /** `http://127.0.0.1:<port>/`. */
  url: string;
  /** Paths asked for. */
  requests: string[];
  close(): Promise<void>;
}

/** Serves the files of `dir` (a `gem generate_index` folder) on 127.0.0.1; `auth` (user:pass) is required when given. */
export async function serveGemSource(dir: string, options: { auth?: string } = {}): Promise<GemSource> {
  const requests: string[] = [];
  const root = path.resolve(dir);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.pathname);
    if (options.auth && req.headers.authorization !== `Basic ${Buffer.from(options.auth).toString('base64')}`) {
      return void res.writeHead(401, { 'www-authenticate': 'Basic realm="gems"' }).end();
    }
    const file = path.resolve(root, '.' + decodeURIComponent(url.pathname));
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(fs.readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const timer = setTimeout(() => server.close(), 10 * 60_000); // stops itself at the latest after 10 minutes
  timer.unref();
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * The debian source's Ruby at `rubyDir` as an inventory (`file://`) for
 * `SLUGC_RUBY_INVENTORY`, with its C headers (Debian's `ruby3.1-dev` added,
 * fetched with `apt-get download` when the runtime lacks them) or without
 * (`usr/include` removed), so the tests do not depend on whether the debian
 * runtime's package list has the headers. Packed as a tar (uncompressed:
 * faster; the same bytes every time, so the shared cache keeps one copy per
 * kind) with the runtime's own env.
 */
export function rubyInventory(rubyDir: string, workDir: string, options: { headers: boolean }): string {
  const marker = JSON.parse(fs.readFileSync(`${rubyDir.replace(/\/+$/, '')}.json`, 'utf8')) as { env: Record<string, string>; binDirs: string[]; artifact: { version: string } };
  const kind = options.headers ? 'dev' : 'noheaders';
  const root = path.join(workDir, `root-${kind}`);
  fs.rmSync(root, { recursive: true, force: true });
  execFileSync('cp', ['-a', rubyDir, root], { stdio: 'pipe' });
  const hasHeaders = () => fs.existsSync(path.join(root, 'usr/include')) && fs.readdirSync(path.join(root, 'usr/include')).some((n) => fs.existsSync(path.join(root, 'usr/include', n, 'ruby.h')));
  if (options.headers && !hasHeaders()) {
    const debs = path.join(workDir, 'debs');
    fs.mkdirSync(debs, { recursive: true });
    if (!fs.readdirSync(debs).some((f) => f.startsWith('ruby3.1-dev_'))) execFileSync('apt-get', ['download', 'ruby3.1-dev'], { cwd: debs, stdio: 'pipe', timeout: 120_000 });
    execFileSync('dpkg', ['-x', path.join(debs, fs.readdirSync(debs).find((f) => f.startsWith('ruby3.1-dev_'))!), root], { stdio: 'pipe' });
  }
  if (!options.headers) fs.rmSync(path.join(root, 'usr/include'), { recursive: true, force: true });
  const tarball = path.join(workDir, `ruby-${marker.artifact.version}-${kind}.tar`);
  execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', tarball, '-C', root, '.'], { stdio: 'pipe', timeout: 120_000 });
  fs.rmSync(root, { recursive: true, force: true });
  const sha = crypto.createHash('sha256').update(fs.readFileSync(tarball)).digest('hex');
  const file = path.join(workDir, `ruby-inventory-${kind}.json`);
  const artifact = { version: marker.artifact.version, os: 'linux', arch: process.arch, url: `file://${tarball}`, checksum: `sha256:${sha}`, format: 'tar', binDirs: marker.binDirs, env: marker.env };
  fs.writeFileSync(file, JSON.stringify({ schema: 1, name: 'ruby', artifacts: [artifact] }, null, 2));
  return `file://${file}`;
}
