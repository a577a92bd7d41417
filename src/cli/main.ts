import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { DEFAULT_CACHE_MAX_BYTES, build, buildEnv, checkOutput, defaultCacheDir, validateBuildOptions, type BuildOptions } from '../build.js';
import { clearCache, listCache, parseSize, pruneCache, validAppName } from '../cache/manage.js';
import { RemoteLayerCache, parseRemoteCacheUrl } from '../cache/remote/index.js';
import { prepareBuildDir } from '../build-dir.js';
import { APP_DIR_INVALID, checkAppBase, normalizeAppBase } from '../app-base.js';
import { detect, detectFailure } from '../detect.js';
import { builtinBuildpacks } from '../../buildpacks/index.js';
import { parseEnvAssignment, readEnvFile } from '../env-file.js';
import { SlugcError, errorMessage } from '../errors.js';
import { createLogger, formatBytes, type Logger } from '../log.js';
import { slugcVersion } from '../package.js';
import { hostStack, sourceCommit } from '../stack.js';
import { loadBuildpackArg } from './load-buildpack.js';
import { planBuildpacks } from '../buildpack-ref.js';
import { defaultFetch } from '../net/download.js';
import { slugProcessTypes, spawnDyno, unpackSlug } from '../dyno.js';
import { inspectSlug } from '../inspect.js';
import fs from 'node:fs';
import os from 'node:os';

/** Where the CLI reads and writes; injected by tests. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  cwd: string;
  env: Record<string, string | undefined>;
}

/** Exit codes: 0 ok, 1 build failed, 2 usage error, 130 interrupted, 141 output pipe closed (as for SIGPIPE). */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130, brokenPipe: 141 } as const;

const collect = (v: string, prev: string[]) => [...prev, v];

/** Runs the slugc CLI and returns its exit code; never exits the process itself. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  // `slugc build | head -1`: once the reader is gone, writing fails with EPIPE.
  // Stop the build as for Ctrl-C (so the temp dir, the lock and the partial
  // slug are cleaned up), write nothing more, exit 141 as a shell would.
  const pipe = new AbortController();
  const onStreamError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') pipe.abort();
  };
  io.stdout.on?.('error', onStreamError);
  io.stderr.on?.('error', onStreamError);
  const out = io;
  io = {
    ...out,
    stdout: guardStream(out.stdout, pipe.signal),
    stderr: guardStream(out.stderr, pipe.signal),
  };
  let json = false;
  const program = new Command('slugc')
    .description('Compile an app into a Heroku-style slug.')
    .version(slugcVersion())
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });

  const envFrom = (opts: { env: string[]; envFile?: string }) => {
    const env: Record<string, string> = {};
    if (opts.envFile) Object.assign(env, readEnvFile(path.resolve(io.cwd, opts.envFile)));
    for (const e of opts.env) {
      const [k, v] = parseEnvAssignment(e);
      env[k] = v;
    }
    return env;
  };
  const makeLogger = (quiet: boolean): Logger =>
    json ? createLogger({ stdout: io.stderr, stderr: io.stderr, quiet, progress: false }) : createLogger({ stdout: io.stdout, stderr: io.stderr, quiet });

  program
    .command('build')
    .description('Build the app in DIR (default .) into a slug.')
    .argument('[dir]', 'the app source dir (with --app-dir: the repo)', '.')
    .option('--app-dir <path>', "the app's subdirectory of DIR, for an app in a monorepo, e.g. packages/web (default: the APP_BASE config var, else DIR)")
    .option('-o, --output <file>', 'where to write the slug (parent dirs are created)', 'slug.tgz')
    .option('-b, --buildpack <ref>', 'a buildpack to run: built-in id, JS module, classic buildpack dir, .tgz/.zip URL (#sha256=…) or git URL (#ref); repeat for several', collect, [])
    .option('-e, --env <KEY=VALUE>', 'a config var; repeat for several', collect, [])
    .option('--env-file <file>', 'read config vars from a dotenv file')
    .option('--cache-dir <dir>', 'the cache dir (default: $XDG_CACHE_HOME/slugc)')
    .option('--stack <name>', 'the stack the slug will run on (default: the host)')
    .option('--mirror <url>', 'download runtimes from this mirror (http(s) or file://; default: $SLUGC_MIRROR)')
    .option('--offline', 'use only the cache and the mirror; fail at once when something is missing')
    .option('--app <name>', "the app's cache namespace (default: $SLUGC_APP, else the dir's name and a hash of its path)")
    .option('--no-cache', 'build without reading or writing the cache')
    .option('--cache-remote <url>', 'a shared layer cache on an OCI registry, e.g. oci://registry:5000/slugc-cache (https:// for TLS; default: $SLUGC_CACHE_REMOTE)')
    .option('--cache-max-size <size>', 'cap on cached layers, e.g. 2G (default: $SLUGC_CACHE_MAX_SIZE, else 10G)')
    .option('--json', 'print one JSON result (or error) on stdout; logs go to stderr')
    .option('-q, --quiet', 'print only warnings and errors')
    .action(async (dir: string, opts: { appDir?: string; output: string; buildpack: string[]; env: string[]; envFile?: string; cacheDir?: string; stack?: string; mirror?: string; offline?: boolean; app?: string; cache: boolean; cacheRemote?: string; cacheMaxSize?: string; json?: boolean; quiet?: boolean }) => {
      json = Boolean(opts.json);
      const logger = makeLogger(Boolean(opts.quiet));
      const buildpacks = await Promise.all(opts.buildpack.map((b) => loadBuildpackArg(b, io.cwd)));
      // Ctrl-C or a TERM: stop the buildpack's commands (own process groups), clean up, exit 130.
      const controller = new AbortController();
      const buildOptions: BuildOptions = {
        builtins: builtinBuildpacks,
        signal: controller.signal,
        sourceDir: path.resolve(io.cwd, dir),
        ...(opts.appDir !== undefined ? { appBase: opts.appDir } : {}),
        output: path.resolve(io.cwd, opts.output),
        env: envFrom(opts),
        logger,
        hostEnv: io.env,
        ...(buildpacks.length ? { buildpacks } : {}),
        ...(opts.cacheDir ? { cacheDir: path.resolve(io.cwd, opts.cacheDir) } : {}),
        ...(opts.stack ? { stack: opts.stack } : {}),
        ...(opts.mirror ? { mirror: opts.mirror } : {}),
        ...(opts.offline ? { offline: true } : {}),
        ...(opts.app ? { app: opts.app } : {}),
        ...(opts.cache === false ? { noCache: true } : {}),
        ...(opts.cacheRemote ? { cacheRemote: opts.cacheRemote } : {}),
        ...(opts.cacheMaxSize ? { cacheMaxBytes: sizeArg(opts.cacheMaxSize) } : {}),
      };
      // Bad flags (--app ../x, --stack ../x, --mirror ftp://x, -o naming a directory or a source file) are usage errors: exit 2, before any work.
      try {
        validateBuildOptions(buildOptions);
        if (opts.appDir !== undefined) normalizeAppBase(opts.appDir, '--app-dir');
        checkOutput(path.resolve(buildOptions.output!), buildOptions.sourceDir);
        if (opts.cacheRemote) parseRemoteCacheUrl(opts.cacheRemote);
      } catch (e) {
        if (e instanceof SlugcError && (e.code === 'SLUGC_INVALID_INPUT' || e.code === 'SLUGC_CACHE_REMOTE_INVALID' || e.code === APP_DIR_INVALID)) throw new SlugcError('SLUGC_USAGE', e.message, { ...(e.hint ? { hint: e.hint } : {}), details: e.details });
        throw e;
      }
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      process.once('SIGHUP', onSignal); // a closed terminal stops the build like Ctrl-C, cleaning up
      pipe.signal.addEventListener('abort', onSignal, { once: true });
      const result = await build(buildOptions).finally(() => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        process.off('SIGHUP', onSignal);
        pipe.signal.removeEventListener('abort', onSignal);
      });
      if (json) {
        io.stdout.write(
          JSON.stringify({ ok: true, slug: result.slug.path, metadata_path: result.slug.metadataPath, metadata: result.slug.metadata, detect: result.detect, timings: { ...result.timings, steps: result.steps }, cache: result.cache }, null, 2) + '\n',
        );
      }
    });

  program
    .command('detect')
    .description("Show every buildpack's answer for the app in DIR, and which would build it.")
    .argument('[dir]', 'the app source dir (with --app-dir: the repo)', '.')
    .option('--app-dir <path>', "the app's subdirectory of DIR, for an app in a monorepo, e.g. packages/web")
    .option('-b, --buildpack <ref>', 'a buildpack to ask (same forms as for build); repeat for several', collect, [])
    .option('--stack <name>', 'the stack (default: the host)')
    .option('--json', 'print the report as JSON')
    .action(async (dir: string, opts: { appDir?: string; buildpack: string[]; stack?: string; json?: boolean }) => {
      json = Boolean(opts.json);
      const sourceDir = path.resolve(io.cwd, dir);
      const base = normalizeAppBase(opts.appDir, '--app-dir');
      const work = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-detect-'));
      try {
        const appDir = path.join(work, 'app');
        prepareBuildDir(sourceDir, appDir);
        checkAppBase(sourceDir, base, '--app-dir');
        const projectDir = path.join(appDir, base);
        const stack = opts.stack ?? hostStack();
        const log = createLogger();
        const loaded = await Promise.all(opts.buildpack.map((b) => loadBuildpackArg(b, io.cwd)));
        const plan = await planBuildpacks(projectDir, loaded, { cacheRoot: defaultCacheDir(io.env), fetch: defaultFetch(io.env), log, cwd: io.cwd, builtins: builtinBuildpacks });
        const candidates = plan.buildpacks;
        const env = buildEnv({ appDir, stack, commit: sourceCommit(sourceDir, io.env), config: {}, hostEnv: io.env, log });
        // Every candidate is asked, so the report shows each answer; an order that was given must all apply.
        const report = await detect({ appDir, projectDir, buildpacks: candidates, explicit: plan.explicit, ...(plan.source !== 'auto' ? { source: plan.source } : {}), stack, env, log });
        if (detectFailure(report)) exitCode = EXIT.failed;
        if (json) {
          io.stdout.write(JSON.stringify({ ok: report.selected.length > 0, ...report }, null, 2) + '\n');
          return;
        }
        const orderFrom = { explicit: '--buildpack flags', 'app.json': 'app.json buildpacks', '.buildpacks': 'the .buildpacks file', auto: 'auto-detection over the built-in buildpacks (first match wins)' }[report.source];
        io.stdout.write(`-----> Detecting buildpacks for ${sourceDir}${base ? ` (app dir ${base})` : ''}\n`);
        io.stdout.write(`       order: ${orderFrom}\n`);
        for (const a of report.answers) {
          io.stdout.write(`       ${a.pass ? 'yes' : 'no '}  ${a.id}${a.detected ? ` (${a.detected})` : ''}: ${a.reason}\n`);
        }
        for (const w of report.warnings) io.stderr.write(` !     ${w}\n`);
        if (report.selected.length) io.stdout.write(`-----> Would build with: ${report.selected.join(', ')}\n`);
        else io.stderr.write(' !     No buildpack detected. Add the file a buildpack looks for, or choose one with --buildpack.\n');
      } finally {
        fs.rmSync(work, { recursive: true, force: true });
      }
    });

  program
    .command('run')
    .description('Run a process of a slug the way a dyno does: unpacked dir as HOME, .profile.d sourced, PORT set.')
    .argument('<slug>', 'a slug.tgz, or an app dir (an unpacked slug)')
    .argument('[process...]', 'a process type (default web), or -- and a command')
    .option('-e, --env <KEY=VALUE>', 'a config var; repeat for several', collect, [])
    .option('--env-file <file>', 'read config vars from a dotenv file')
    .option('-p, --port <port>', 'PORT for the process (default: PORT from the environment, else 5000)')
    .action(async (slug: string, rest: string[], opts: { env: string[]; envFile?: string; port?: string }) => {
      const target = path.resolve(io.cwd, slug);
      let appDir = target;
      let work: string | undefined;
      if (!fs.existsSync(target)) throw new SlugcError('SLUGC_USAGE', `Couldn't find ${slug}.`, { hint: 'Pass a slug.tgz or an unpacked app dir.' });
      try {
        if (fs.statSync(target).isFile()) {
          work = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-run-'));
          appDir = await unpackSlug(target, work);
        }
        const types = slugProcessTypes(appDir, work ? target : undefined);
        const dashed = argv.indexOf('--');
        const command = dashed >= 0 ? argv.slice(dashed + 1).join(' ') : types[rest[0] ?? 'web'];
        if (!command) {
          throw new SlugcError('SLUGC_USAGE', `Couldn't run ${rest[0] ?? 'web'}: the slug has no such process type (it has: ${Object.keys(types).join(', ') || 'none'}).`, {
            hint: 'Name one of its process types, or give a command after --.',
          });
        }
        // As `heroku local` and foreman: --port, else PORT (a config var, then slugc's own env), else 5000.
        const config = envFrom(opts);
        const [portText, portFrom] = opts.port !== undefined ? [opts.port, '--port'] : config.PORT !== undefined ? [config.PORT, 'the PORT config var'] : io.env.PORT ? [io.env.PORT, 'PORT'] : ['5000', 'the default'];
        const port = Number(portText);
        if (!/^\d+$/.test(portText.trim()) || !Number.isInteger(port) || port <= 0 || port > 65535) {
          throw new SlugcError('SLUGC_USAGE', `Couldn't use port ${JSON.stringify(portText)} from ${portFrom}: not a port number.`, { hint: 'Give a port number, e.g. --port 5000.' });
        }
        const child = spawnDyno({ appDir, command, port, env: config, path: io.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', stdio: ['inherit', 'pipe', 'pipe'] });
        child.stdout?.on('data', (c: Buffer) => io.stdout.write(c));
        child.stderr?.on('data', (c: Buffer) => io.stderr.write(c));
        const forward = (sig: NodeJS.Signals) => () => {
          try {
            process.kill(-child.pid!, sig);
          } catch {
            /* gone */
          }
        };
        const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => [sig, forward(sig)] as const);
        for (const [sig, h] of handlers) process.on(sig, h);
        exitCode = await new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 + (os.constants.signals[sig] ?? 0) : 1))));
        for (const [sig, h] of handlers) process.off(sig, h);
      } finally {
        if (work) fs.rmSync(work, { recursive: true, force: true });
      }
    });

  program
    .command('inspect')
    .description("Show a slug's process types, size, checksum, runtimes and largest directories.")
    .argument('<slug>', 'a slug.tgz')
    .option('--json', 'print JSON')
    .action((slug: string, o: { json?: boolean }) => {
      json = Boolean(o.json);
      const r = inspectSlug(path.resolve(io.cwd, slug));
      if (o.json) {
        io.stdout.write(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      io.stdout.write(`-----> ${r.path}\n`);
      io.stdout.write(`       size ${formatBytes(r.size)} (${formatBytes(r.bytes)} in ${r.entries} entries), stack ${r.stack ?? 'unknown'}\n`);
      io.stdout.write(`       checksum ${r.checksum}${r.checksumMatches === null ? ' (no slug.json beside it)' : r.checksumMatches ? ' (matches slug.json)' : ' (DOES NOT match slug.json)'}\n`);
      io.stdout.write('-----> Process types\n');
      for (const [k, v] of Object.entries(r.processTypes)) io.stdout.write(`       ${k}: ${v}\n`);
      if (!Object.keys(r.processTypes).length) io.stdout.write('       none\n');
      io.stdout.write('-----> Runtimes\n');
      for (const x of r.runtimes) io.stdout.write(`       ${x.name} ${x.version}\n`);
      if (!r.runtimes.length) io.stdout.write('       none recorded\n');
      io.stdout.write('-----> Largest directories\n');
      for (const d of r.largestDirs) io.stdout.write(`       ${formatBytes(d.bytes).padStart(8)}  ${d.path}\n`);
      if (r.checksumMatches === false) exitCode = EXIT.failed;
    });

  const cache = program.command('cache').description('Look at and manage the build cache.');
  const cacheDirOf = (o: { cacheDir?: string }) => (o.cacheDir ? path.resolve(io.cwd, o.cacheDir) : defaultCacheDir(io.env));
  cache
    .command('ls')
    .description('List cached layers: app, buildpack, layer, state, size, last use, key.')
    .option('--cache-dir <dir>', 'the cache dir (default: $XDG_CACHE_HOME/slugc)')
    .option('--remote [url]', "list an app's layers in the remote cache instead (default: $SLUGC_CACHE_REMOTE); needs --app")
    .option('--app <name>', 'the app (with --remote)')
    .option('--json', 'print JSON')
    .action(async (o: { cacheDir?: string; json?: boolean; remote?: string | boolean; app?: string }) => {
      if (o.remote !== undefined) {
        const url = typeof o.remote === 'string' ? o.remote : io.env.SLUGC_CACHE_REMOTE;
        if (!url) throw new SlugcError('SLUGC_USAGE', "Couldn't list the remote cache: no URL.", { hint: 'Pass --remote oci://host:port/repo, or set SLUGC_CACHE_REMOTE.' });
        if (!o.app) throw new SlugcError('SLUGC_USAGE', "Couldn't list the remote cache: which app?", { hint: 'Pass --app <name> (the namespace `slugc build --app` uses).' });
        const remote = new RemoteLayerCache({ url, app: validAppName(o.app), log: createLogger({ stdout: io.stderr, stderr: io.stderr, progress: false }), env: io.env, fetch: defaultFetch(io.env) });
        const entries = await remote.list();
        if (o.json) {
          io.stdout.write(JSON.stringify({ url: remote.location.url, app: o.app, layers: entries }, null, 2) + '\n');
          return;
        }
        io.stdout.write(`-----> Remote cache ${remote.location.url}, app ${o.app}\n`);
        if (!entries.length) io.stdout.write('       no layers\n');
        for (const e of entries) {
          const key = Object.entries(e.key).map(([k, v]) => `${k}=${String(v).length > 12 ? `${String(v).slice(0, 8)}..` : String(v)}`).join(' ');
          io.stdout.write(`       ${e.buildpack}/${e.layer}  ${formatBytes(e.size)}  ${e.created || '-'}  ${key}\n`);
        }
        return;
      }
      const listing = listCache(cacheDirOf(o));
      if (o.json) {
        io.stdout.write(JSON.stringify(listing, null, 2) + '\n');
        return;
      }
      io.stdout.write(`-----> Cache ${listing.root}\n`);
      if (!listing.layers.length) io.stdout.write('       no layers\n');
      for (const l of listing.layers) {
        const key = l.key ? Object.entries(l.key).map(([k, v]) => `${k}=${String(v).length > 12 ? `${String(v).slice(0, 8)}..` : String(v)}`).join(' ') : '';
        io.stdout.write(`       ${l.app}  ${l.buildpack}/${l.layer}  ${l.state}  ${formatBytes(l.size)}  ${l.lastUsed ?? '-'}  ${key}\n`);
      }
      const s = listing.shared;
      io.stdout.write(`       shared: downloads ${formatBytes(s.downloads)}, runtimes ${formatBytes(s.runtimes)}, registry documents ${formatBytes(s.metadata)}\n`);
    });
  cache
    .command('prune')
    .description('Remove broken layers and leftovers, then least recently used layers above the cap.')
    .option('--cache-dir <dir>', 'the cache dir (default: $XDG_CACHE_HOME/slugc)')
    .option('--max-size <size>', 'keep at most this much, e.g. 2G (default: $SLUGC_CACHE_MAX_SIZE, else 10G)')
    .option('--json', 'print JSON')
    .action((o: { cacheDir?: string; maxSize?: string; json?: boolean }) => {
      const maxBytes = o.maxSize ? sizeArg(o.maxSize) : io.env.SLUGC_CACHE_MAX_SIZE ? sizeArg(io.env.SLUGC_CACHE_MAX_SIZE) : DEFAULT_CACHE_MAX_BYTES;
      const r = pruneCache(cacheDirOf(o), { maxBytes });
      if (o.json) {
        io.stdout.write(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      for (const x of r.removed) io.stdout.write(`       removed ${x.app} ${x.buildpack}/${x.layer} (${formatBytes(x.size)}): ${x.why}\n`);
      io.stdout.write(`-----> Freed ${formatBytes(r.freed)}; layers now take ${formatBytes(r.remaining)}\n`);
    });
  cache
    .command('clear')
    .description('Remove the whole cache, or one app\'s layers with --app.')
    .option('--cache-dir <dir>', 'the cache dir (default: $XDG_CACHE_HOME/slugc)')
    .option('--app <name>', "only this app's layers")
    .action((o: { cacheDir?: string; app?: string }) => {
      const r = clearCache(cacheDirOf(o), o.app);
      for (const b of r.busy) io.stderr.write(` !     Left ${b} alone: a build of it is running (it holds the cache lock).\n`);
      if (!o.app && !r.shared) io.stderr.write(' !     Left the shared downloads and runtimes alone while a build runs; run again when it is done.\n');
      io.stdout.write(`-----> Cleared ${o.app ? `the layers of ${o.app} in ` : r.busy.length ? 'what no running build uses in ' : ''}${cacheDirOf(o)}\n`);
      if (r.busy.length) exitCode = EXIT.failed;
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    if (pipe.signal.aborted) return EXIT.brokenPipe;
    const err =
      e instanceof SlugcError ? e : new SlugcError('SLUGC_BUILDPACK_FAILED', `Couldn't finish: ${errorMessage(e)}`, { cause: e, hint: 'This looks like a bug in slugc; please report it.' });
    if (json) {
      io.stdout.write(JSON.stringify({ ok: false, error: err.toJSON() }, null, 2) + '\n');
    } else {
      const where = [err.stage && `stage ${err.stage}`, err.buildpack && `buildpack ${err.buildpack}`].filter(Boolean).join(', ');
      for (const line of `${err.message}`.split('\n')) io.stderr.write(` !     ${line}\n`);
      io.stderr.write(` !     [${err.code}${where ? `; ${where}` : ''}]\n`);
      if (err.hint) io.stderr.write(` !     Hint: ${err.hint}\n`);
    }
    return err.code === 'SLUGC_USAGE' || err.code === 'SLUGC_ENV_INVALID' ? EXIT.usage : err.code === 'SLUGC_ABORTED' ? EXIT.interrupted : EXIT.failed;
  } finally {
    io.stdout.removeListener?.('error', onStreamError);
    io.stderr.removeListener?.('error', onStreamError);
  }
  return pipe.signal.aborted ? EXIT.brokenPipe : exitCode;
}

/** A stream that swallows writes once the pipe is known to be closed (no EPIPE storm, no crash). */
function guardStream(stream: NodeJS.WritableStream, closed: AbortSignal): NodeJS.WritableStream {
  return new Proxy(stream, {
    get(target, prop, receiver) {
      if (prop === 'write') {
        return (chunk: unknown, ...rest: unknown[]) => {
          if (closed.aborted) return true;
          return (target.write as (...a: unknown[]) => boolean).call(target, chunk, ...rest);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}


function sizeArg(s: string): number {
  const n = parseSize(s);
  if (n === null || n <= 0) {
    throw new SlugcError('SLUGC_USAGE', `Couldn't read the size ${JSON.stringify(s)}.`, { hint: 'Write sizes as bytes or with K, M, G, e.g. 500M or 2G.' });
  }
  return n;
}
