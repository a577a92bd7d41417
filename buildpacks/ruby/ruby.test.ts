// The Ruby buildpack's tests, on slugc/testing, offline: Ruby comes from
// Debian's packages (the suite's shared cache downloads it once), gems are
// .gem files the tests write themselves, shipped in the app's vendor/cache
// or served from a loopback static gem source (`gem generate_index`).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clearCache } from 'slugc';
import { assertProcessType, assertSlugContains, cleanup, execRecorder, runBuild, runCompile, runDetect, startProcess, tempDir, testApp, unpackSlugToTemp, type AppFile } from 'slugc/testing';
import { gemfileAndLock, generateGemIndex, rubyInventory, serveGemSource, writeGem, type GemSource } from '../../test/support/ruby.js';
import { rubyBuildpack } from './index.js';

afterEach(cleanup);

const cacheDir = process.env.SLUGC_TEST_CACHE ?? tempDir('slugc-cache-');
const apps: string[] = [];
let n = 0;
/** An app name of this run's own on the shared cache, cleared at the end. */
const appName = () => {
  const name = `ruby-test-${process.pid}-${n++}`;
  apps.push(name);
  return name;
};
afterAll(() => {
  for (const a of apps) clearCache(cacheDir, a);
});

/** Gems every test can use. Kept for the whole file (not per test). */
const gemDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-gems-'));
afterAll(() => fs.rmSync(gemDir, { recursive: true, force: true }));
const greet = writeGem(gemDir, {
  name: 'greet',
  version: '1.0',
  files: { 'lib/greet.rb': 'module Greet; WORD = "hi"; end\n', 'exe/greet': '#!/usr/bin/env ruby\nrequire "greet"\nputs "hello from greet #{Greet::WORD}"\n' },
  executables: ['greet'],
});
const greet2 = writeGem(gemDir, {
  name: 'greet',
  version: '2.0',
  files: { 'lib/greet.rb': 'module Greet; WORD = "hi2"; end\n', 'exe/greet': '#!/usr/bin/env ruby\nrequire "greet"\nputs "hello from greet #{Greet::WORD}"\n' },
  executables: ['greet'],
});
// Named like libraries the runtime carries: Ruby's default gem ostruct (on RUBYLIB) and Debian's webrick gem.
const ostruct = writeGem(gemDir, { name: 'ostruct', version: '99.0', files: { 'lib/ostruct.rb': 'class OpenStruct; VERSION = "99.0-bundled"; end\n' } });
const webrick = writeGem(gemDir, { name: 'webrick', version: '99.0', files: { 'lib/webrick.rb': 'module WEBrick; VERSION = "99.0-bundled"; end\n' } });
// A stand-in Rack server: `rackup config.ru -p PORT` serves the config.ru's app on 127.0.0.1.
const tinyrack = writeGem(gemDir, {
  name: 'tinyrack',
  version: '0.1',
  executables: ['rackup'],
  files: {
    'lib/tinyrack.rb': 'module Tinyrack; class Builder; attr_reader :app; def run(a) = (@app = a); end; end\n',
    'exe/rackup': `#!/usr/bin/env ruby
require "socket"
require "tinyrack"
port = Integer(ARGV[ARGV.index("-p") + 1])
ru = ARGV.find { |a| a.end_with?(".ru") } || "config.ru"
b = Tinyrack::Builder.new
b.instance_eval(File.read(ru), ru)
server = TCPServer.new("127.0.0.1", port)
$stdout.sync = true
puts "tinyrack on #{port}"
loop do
  s = server.accept
  line = s.gets.to_s
  while (l = s.gets) && l != "\\r\\n"; end
  status, _headers, body = b.app.call("REQUEST_METHOD" => line.split(" ")[0], "PATH_INFO" => line.split(" ")[1])
  text = body.join
  s.write "HTTP/1.1 #{status} OK\\r\\nContent-Length: #{text.bytesize}\\r\\nConnection: close\\r\\n\\r\\n#{text}"
  s.close
end
`,
  },
});
// A stand-in rake: loads the Rakefile's `task`s, lists them with -P, runs the named ones.
const rake = writeGem(gemDir, {
  name: 'rake',
  version: '99.0',
  executables: ['rake'],
  files: {
    'lib/rake.rb': 'module Rake; VERSION = "99.0-bundled"; TASKS = {}; end\ndef task(name, &blk) = (Rake::TASKS[name.to_s] = blk)\n',
    'exe/rake': `#!/usr/bin/env ruby
require "rake"
load "Rakefile"
if ARGV.include?("-P")
  Rake::TASKS.each_key { |t| puts "rake #{t}" }
  exit
end
ARGV.each { |t| (Rake::TASKS[t] or abort("rake aborted! Don't know how to build task '#{t}'")).call }
`,
  },
});
const cached = (...gems: { file: string }[]) => Object.fromEntries(gems.map((g) => [`vendor/cache/${path.basename(g.file)}`, fs.readFileSync(g.file)]));

const configRu = `require "ostruct"
require "webrick"
require "greet"
run ->(env) { [200, {}, ["#{Greet::WORD} ostruct=#{OpenStruct::VERSION} webrick=#{WEBrick::VERSION} #{ENV["RACK_ENV"]} #{env["PATH_INFO"]}"]] }
`;
const rackApp = (extra: Record<string, AppFile> = {}) => testApp({ ...gemfileAndLock([greet, ostruct, webrick, tinyrack]), 'config.ru': configRu, ...cached(greet, ostruct, webrick, tinyrack), ...extra });

/** Files of `dir` whose bytes name a build dir. */
function buildPathOffenders(dir: string): string[] {
  const offenders: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /slugc-[A-Za-z0-9]{6}\/app/.test(fs.readFileSync(p).toString('latin1'))) offenders.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return offenders;
}

/** The runtime the debian source installed (a first build puts it in the shared cache). */
async function debianRubyDir(): Promise<string> {
  await runCompile(rubyBuildpack, { app: testApp({ ...gemfileAndLock([]) }), cacheDir, appName: appName() });
  const root = path.join(cacheDir, 'runtimes/ruby');
  const dir = fs
    .readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(root, `${e.name}.json`)))
    .map((e) => path.join(root, e.name))
    .find((d) => (JSON.parse(fs.readFileSync(`${d}.json`, 'utf8')) as { artifact: { url: string } }).artifact.url.startsWith('debian:'));
  if (!dir) throw new Error(`no runtime of the debian source in ${root}`);
  return dir;
}

describe('detect', () => {
  it('passes on a Gemfile, naming it, and says what it looked for otherwise', async () => {
    expect(await runDetect(rubyBuildpack, testApp({ Gemfile: '' }))).toMatchObject({ pass: true, detected: 'Ruby', reason: 'found Gemfile' });
    const no = await runDetect(rubyBuildpack, testApp({ 'Gemfile.lock': '', 'app.rb': '' }));
    expect(no.pass).toBe(false);
    expect(no.reason).toMatch(/no Gemfile/);
  });
});

describe('a Rack app with its gems in vendor/cache', () => {
  it('boots from the slug: rackup from a bundled gem serves, bundled gems win over the runtime\'s, a gem executable runs, no build path anywhere', async () => {
    const run = await runBuild({ app: rackApp(), buildpacks: [rubyBuildpack], cacheDir, appName: appName() });
    expect(run.log).toMatch(/Ruby 3\.1\.\d+ at \.heroku\/ruby \(Bundler 2\.\d+\.\d+\)/);
    expect(run.log).toMatch(/vendor\/cache has gems: installing from it alone \(--local\)/);
    for (const f of ['.heroku/ruby/usr/bin/ruby3.1', 'vendor/bundle/ruby/3.1.0/gems/greet-1.0/lib/greet.rb', 'vendor/bundle/ruby/3.1.0/bin/greet', '.profile.d/ruby.sh', '.heroku/ruby-lib/rubygems.rb']) assertSlugContains(run, f);
    expect(run.slugJson.runtimes[0]).toMatchObject({ name: 'ruby', version: expect.stringMatching(/^3\.1\./) });
    assertProcessType(run, 'web', 'bundle exec rackup config.ru -p ${PORT:-5000}');
    assertProcessType(run, 'console', 'bundle exec irb');
    const web = await startProcess(run, 'web');
    const res = await fetch(new URL('/hello', web.url));
    // ostruct is a default gem of Ruby 3.1 (its copy is on RUBYLIB), webrick a Debian gem: the bundled ones win.
    expect(await res.text()).toBe('hi ostruct=99.0-bundled webrick=99.0-bundled production /hello');
    web.stop();
    const script = await startProcess({ slugPath: run.slugPath, release: { processTypes: { web: 'greet && bundle exec ruby -e "puts RUBY_VERSION" && exec bundle exec rackup -p $PORT' } } }, 'web');
    await new Promise((r) => setTimeout(r, 200));
    expect(script.output()).toMatch(/hello from greet hi\n3\.1\.\d+\n/);
    script.stop();
    const unpacked = await unpackSlugToTemp(run.slugPath);
    expect(buildPathOffenders(unpacked)).toEqual([]);
    expect(fs.readFileSync(path.join(unpacked, 'vendor/bundle/ruby/3.1.0/bin/greet'), 'utf8')).toMatch(/^#!\/usr\/bin\/env ruby(3\.1)?\n/);
    const profile = fs.readFileSync(path.join(unpacked, '.profile.d/ruby.sh'), 'utf8');
    expect(profile).toMatch(/export PATH="\$HOME\/\.heroku\/ruby\/usr\/bin:\$HOME\/bin:\$HOME\/vendor\/bundle\/ruby\/3\.1\.0\/bin:\$PATH"/);
    expect(profile).toMatch(/export GEM_PATH="\$HOME\/vendor\/bundle\/ruby\/3\.1\.0:/);
    expect(profile).toMatch(/export BUNDLE_PATH="\$HOME\/vendor\/bundle"/);
    expect(profile).toMatch(/export BUNDLE_WITHOUT="\$\{BUNDLE_WITHOUT:-development:test\}"/);
    expect(profile).toMatch(/export RACK_ENV="\$\{RACK_ENV:-production\}"/);
  });

  it('runs no bundle at all when nothing changed, and reinstalls saying why when Gemfile.lock changes', async () => {
    const app = rackApp();
    const name = appName();
    const first = await runCompile(rubyBuildpack, { app, cacheDir, appName: name });
    expect(first.layers.map((l) => [l.layer, l.state])).toEqual([['runtime', 'new'], ['gems', 'new']]);
    const rec = execRecorder();
    const second = await runCompile(rubyBuildpack, { app, cacheDir, appName: name, exec: rec.exec });
    expect(second.layers.map((l) => [l.layer, l.state])).toEqual([['runtime', 'restored'], ['gems', 'restored']]);
    expect(rec.commands.filter((c) => c.line.includes('bundle'))).toEqual([]);
    expect(second.log).toMatch(/Gemfile\.lock unchanged: gems restored from the cache, bundle install not run/);
    expect(fs.existsSync(path.join(second.appDir, 'vendor/bundle/ruby/3.1.0/gems/greet-1.0/lib/greet.rb'))).toBe(true);
    app.write({ ...gemfileAndLock([greet2, ostruct, webrick, tinyrack]), ...cached(greet2) });
    const third = await runCompile(rubyBuildpack, { app, cacheDir, appName: name });
    expect(third.layers.find((l) => l.layer === 'gems')?.reason).toMatch(/^key changed: .*Gemfile\.lock_sha256/);
    expect(fs.readFileSync(path.join(third.appDir, 'vendor/bundle/ruby/3.1.0/gems/greet-2.0/lib/greet.rb'), 'utf8')).toMatch(/hi2/);
    // bundle clean removed the old version.
    expect(fs.existsSync(path.join(third.appDir, 'vendor/bundle/ruby/3.1.0/gems/greet-1.0'))).toBe(false);
  });

  it('takes the Ruby version from RUBY VERSION, the Gemfile\'s ruby directive or .ruby-version, naming the file; warns on another BUNDLED WITH', async () => {
    const base = { ...cached(greet), 'config.ru': 'run ->(e) { [200, {}, ["ok"]] }\n' };
    const fromLock = await runCompile(rubyBuildpack, { app: testApp({ ...gemfileAndLock([greet], { ruby: '3.1.2p20', bundledWith: '2.4.22' }), ...base }), cacheDir, appName: appName() });
    expect(fromLock.log).toMatch(/RUBY VERSION in Gemfile\.lock requests "3\.1\.2"/);
    expect(fromLock.log).toMatch(/Gemfile\.lock was made with Bundler 2\.4\.22; this build uses the runtime's Bundler 2\.3\.\d+/);
    const fromGemfile = await runCompile(rubyBuildpack, { app: testApp({ ...gemfileAndLock([greet], { rubyDirective: 'ruby "~> 3.1", ">= 3.1.1"' }), ...base }), cacheDir, appName: appName() });
    expect(fromGemfile.log).toMatch(/the ruby directive in Gemfile requests ">=3\.1\.0 <4\.0\.0 >=3\.1\.1"/);
    // A computed directive is skipped for .ruby-version; SLUGC_RUBY_CACHE=false installs into a plain vendor/bundle.
    const fromFile = await runCompile(rubyBuildpack, { app: testApp({ ...gemfileAndLock([greet], { rubyDirective: 'ruby File.read(".ruby-version").strip.delete_prefix("ruby-")' }), '.ruby-version': 'ruby-3.1.2\n', ...base }), cacheDir, appName: appName(), env: { SLUGC_RUBY_CACHE: 'false' } });
    expect(fromFile.log).toMatch(/\.ruby-version requests "3\.1\.2"/);
    expect(fromFile.log).toMatch(/SLUGC_RUBY_CACHE=false: gems is not cached/);
    expect(fs.existsSync(path.join(fromFile.appDir, 'vendor/bundle/ruby/3.1.0/gems/greet-1.0/lib/greet.rb'))).toBe(true);
  });
});

describe('a static gem source on loopback', () => {
  let source: GemSource;
  let sourceDir: string | undefined;
  const secret = 'builder:s3cret-gem-pass';
  beforeAll(async () => {
    const rubyDir = await debianRubyDir();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-gem-source-'));
    sourceDir = dir;
    fs.mkdirSync(path.join(dir, 'gems'));
    for (const g of [greet, tinyrack]) fs.copyFileSync(g.file, path.join(dir, 'gems', path.basename(g.file)));
    generateGemIndex(rubyDir, dir);
    source = await serveGemSource(dir, { auth: secret });
  });
  afterAll(async () => {
    await source?.close();
    if (sourceDir) fs.rmSync(sourceDir, { recursive: true, force: true });
  });

  it('installs from the source with credentials from BUNDLE_<HOST>, never shown in the log or the slug', async () => {
    const run = await runBuild({ app: testApp({ ...gemfileAndLock([greet, tinyrack], { remote: source.url }), 'config.ru': 'require "greet"\nrun ->(e) { [200, {}, [Greet::WORD]] }\n' }), buildpacks: [rubyBuildpack], cacheDir, appName: appName(), env: { BUNDLE_127__0__0__1: secret } });
    expect(source.requests).toContain('/gems/greet-1.0.gem');
    expect(run.log).not.toContain('s3cret-gem-pass');
    expect(JSON.stringify(run.slugJson)).not.toContain('s3cret-gem-pass');
    const unpacked = await unpackSlugToTemp(run.slugPath);
    const hits = fs.readdirSync(unpacked, { recursive: true, encoding: 'utf8' }).filter((f) => {
      const p = path.join(unpacked, f);
      return fs.lstatSync(p).isFile() && fs.readFileSync(p, 'latin1').includes('s3cret-gem-pass');
    });
    expect(hits).toEqual([]);
    const web = await startProcess(run, 'web');
    expect(await (await fetch(web.url)).text()).toBe('hi');
    web.stop();
  });

  it('fails with Bundler\'s own message when a locked gem is not on the source', async () => {
    const app = testApp(gemfileAndLock([greet, { name: 'nosuchgem', version: '1.0' }], { remote: source.url }));
    await expect(runCompile(rubyBuildpack, { app, cacheDir, appName: appName(), env: { BUNDLE_127__0__0__1: secret } })).rejects.toMatchObject({
      code: 'SLUGC_COMMAND_FAILED',
      message: expect.stringMatching(/Your bundle is locked to nosuchgem \(1\.0\)[\s\S]*can no longer be\s+found in that source/),
    });
  });
});

describe('native extensions', () => {
  let work: string | undefined;
  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('compiles a gem\'s C extension against the slug\'s Ruby (a runtime with headers) and loads it when the slug boots elsewhere', async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-ruby-dev-'));
    const inventory = rubyInventory(await debianRubyDir(), work, { headers: true });
    const ext = writeGem(tempDir(), {
      name: 'hello_ext',
      version: '0.2',
      extensions: ['ext/hello_ext/extconf.rb'],
      files: {
        'ext/hello_ext/extconf.rb': 'require "mkmf"\ncreate_makefile("hello_ext")\n',
        'ext/hello_ext/hello_ext.c': '#include <ruby.h>\nstatic VALUE hello(VALUE self) { return rb_str_new_cstr("hello from C"); }\nvoid Init_hello_ext(void) { rb_define_global_function("hello_c", hello, 0); }\n',
      },
    });
    const app = testApp({ ...gemfileAndLock([ext, tinyrack]), ...cached(ext, tinyrack), 'config.ru': 'require "hello_ext"\nrun ->(e) { [200, {}, [hello_c]] }\n' });
    const run = await runBuild({ app, buildpacks: [rubyBuildpack], cacheDir, appName: appName(), env: { SLUGC_RUBY_INVENTORY: inventory, SLUGC_RUBY_SOURCES: 'inventory' } });
    expect(run.log).toMatch(/Stripped the debug info of \d+ native librar/);
    const web = await startProcess(run, 'web');
    expect(await (await fetch(web.url)).text()).toBe('hello from C');
    web.stop();
    expect(buildPathOffenders(await unpackSlugToTemp(run.slugPath))).toEqual([]);
  });
});

describe('Rails and rake', () => {
  it('releases Rails defaults and runs assets:precompile with RAILS_ENV=production (commands recorded, no Rails downloaded)', async () => {
    const lock = gemfileAndLock([{ name: 'railties', version: '7.1.0' }, { name: 'rake', version: '13.0.6' }, { name: 'puma', version: '6.4.0' }]);
    const app = testApp({ ...lock, Rakefile: 'require_relative "config/application"\n', 'config/application.rb': 'module App; end\n', 'config.ru': '' });
    const rec = execRecorder();
    const run = await runBuild({ app, buildpacks: [rubyBuildpack], cacheDir, appName: appName(), exec: rec.exec, noCache: true });
    assertProcessType(run, 'web', 'bin/rails server -p ${PORT:-5000} -e $RAILS_ENV');
    assertProcessType(run, 'console', 'bin/rails console');
    assertProcessType(run, 'rake', 'bundle exec rake');
    const lines = rec.commands.map((c) => c.args.slice(1).join(' '));
    expect(lines).toEqual(['install', 'clean', 'exec rake assets:precompile']);
    const install = rec.commands[0]!;
    expect(install.env).toMatchObject({ BUNDLE_DEPLOYMENT: 'true', BUNDLE_WITHOUT: 'development:test', BUNDLE_JOBS: String(os.availableParallelism()) });
    expect(rec.commands[2]!.env).toMatchObject({ RAILS_ENV: 'production' });
    const withoutOverride = execRecorder();
    await runCompile(rubyBuildpack, { app, cacheDir, appName: appName(), exec: withoutOverride.exec, env: { BUNDLE_WITHOUT: 'test' } });
    expect(withoutOverride.commands[0]!.env).toMatchObject({ BUNDLE_WITHOUT: 'test' });
  });

  it('fails the build with the task\'s output when assets:precompile fails; skips it when the Rakefile has no such task', async () => {
    const gems = gemfileAndLock([rake]);
    const failing = testApp({ ...gems, ...cached(rake), Rakefile: 'task "assets:precompile" do\n  abort "the assets are broken"\nend\n' });
    await expect(runCompile(rubyBuildpack, { app: failing, cacheDir, appName: appName() })).rejects.toMatchObject({
      code: 'SLUGC_COMMAND_FAILED',
      message: expect.stringMatching(/the assets are broken/),
      hint: expect.stringMatching(/assets:precompile failed/),
    });
    const fine = await runCompile(rubyBuildpack, { app: testApp({ ...gems, ...cached(rake), Rakefile: 'task "other" do\nend\n' }), cacheDir, appName: appName() });
    expect(fine.log).not.toMatch(/Running rake assets:precompile/);
    const ran = await runCompile(rubyBuildpack, { app: testApp({ ...gems, ...cached(rake), Rakefile: 'task "assets:precompile" do\n  puts "precompiled with rake #{Rake::VERSION}"\nend\n' }), cacheDir, appName: appName() });
    expect(ran.log).toMatch(/Running rake assets:precompile\n\s+precompiled with rake 99\.0-bundled/);
  });
});

describe('failures that say what to do', () => {
  it('asks for `bundle lock` when Gemfile.lock is missing', async () => {
    await expect(runCompile(rubyBuildpack, { app: testApp({ Gemfile: 'source "https://rubygems.org"\ngem "rack"\n' }), cacheDir, appName: appName() })).rejects.toMatchObject({
      code: 'SLUGC_RUBY_LOCKFILE_MISSING',
      hint: expect.stringMatching(/bundle lock/),
    });
  });

  it('names the line of a malformed Gemfile.lock', async () => {
    const lock = 'GEM\n  remote: https://rubygems.org/\n  specs:\n    rack 2.2.3\n\nPLATFORMS\n  ruby\n';
    await expect(runCompile(rubyBuildpack, { app: testApp({ Gemfile: '', 'Gemfile.lock': lock }), cacheDir, appName: appName() })).rejects.toMatchObject({
      code: 'SLUGC_RUBY_LOCKFILE_INVALID',
      message: expect.stringMatching(/Gemfile\.lock at line 4: expected a locked gem as "name \(version\)"/),
    });
  });

  it('lists the versions there are, and how to add a source, for a Ruby version no source has', async () => {
    await expect(runCompile(rubyBuildpack, { app: testApp(gemfileAndLock([], { ruby: '3.9.9p1' })), cacheDir, appName: appName() })).rejects.toMatchObject({
      code: 'SLUGC_VERSION_UNSATISFIABLE',
      message: expect.stringMatching(/Ruby version that satisfies "3\.9\.9"\. Available: 3\.1\.\d+/),
      hint: expect.stringMatching(/SLUGC_RUBY_INVENTORY/),
    });
  });

  it('names what is missing for a gem with a C extension: the compiler, else the runtime\'s C headers', async () => {
    const ext = writeGem(tempDir(), {
      name: 'hello_ext',
      version: '0.1',
      extensions: ['ext/hello_ext/extconf.rb'],
      files: { 'ext/hello_ext/extconf.rb': 'require "mkmf"\ncreate_makefile("hello_ext")\n', 'ext/hello_ext/hello_ext.c': '#include <ruby.h>\nvoid Init_hello_ext(void) {}\n', 'lib/hello.rb': 'require "hello_ext"\n' },
    });
    const app = testApp({ ...gemfileAndLock([ext]), ...cached(ext) });
    const bin = tempDir('slugc-nocc-');
    await expect(runCompile(rubyBuildpack, { app, cacheDir, appName: appName(), hostEnv: { ...process.env, PATH: bin } })).rejects.toMatchObject({
      code: 'SLUGC_RUBY_COMPILER_MISSING',
      message: expect.stringMatching(/native extension of hello_ext \(0\.1\): cc and make are not on PATH/),
    });
    // With a compiler, but a Ruby without its C headers.
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-ruby-noheaders-'));
    const inventory = rubyInventory(await debianRubyDir(), work, { headers: false });
    const noHeaders = runCompile(rubyBuildpack, { app, cacheDir, appName: appName(), env: { SLUGC_RUBY_INVENTORY: inventory, SLUGC_RUBY_SOURCES: 'inventory' } }).finally(() => fs.rmSync(work, { recursive: true, force: true }));
    await expect(noHeaders).rejects.toMatchObject({
      code: 'SLUGC_RUBY_HEADERS_MISSING',
      message: expect.stringMatching(/hello_ext \(0\.1\): the Ruby 3\.1\.\d+ runtime has no C headers/),
    });
  });
});
