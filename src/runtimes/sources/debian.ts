/**
 * The `debian` runtime source: language runtimes (Python 3.11, Ruby 3.1,
 * OpenJDK 17 on `debian-12`) made from the stack's own Debian packages,
 * unpacked into a directory that runs from anywhere.
 *
 * How it works, without touching the host's apt or dpkg state:
 *
 * - **Private apt state.** Every apt call runs with
 *   `-o Dir::State=<cacheRoot>/apt/<stack>/state`,
 *   `-o Dir::Cache=<cacheRoot>/apt/<stack>/cache` and
 *   `-o Dir::State::status=<state>/status` (an empty file: nothing is
 *   "installed"), over the host's own sources (`/etc/apt/sources.list*`)
 *   and apt config (proxies, keyrings). The source runs its own
 *   `apt-get update` into that state when its lists are missing or older
 *   than a day, and says so in the log. It never runs `apt-get install`,
 *   never writes `/var/lib/apt`, `/var/cache/apt` or `/var/lib/dpkg`.
 *   Because the sources are the host's, it only works when the build host
 *   is the stack (`/etc/os-release` says `debian-12` for `debian-12`) and
 *   for the host's architecture (it checks the result with `ldd`).
 * - **list(name)** asks the private apt cache (`apt-cache show
 *   --no-all-versions`) for the candidate of each package of the runtime
 *   and returns one artifact: the main package's upstream version as
 *   semver, `format: 'deb'`, a `url` of `debian:<pkg>=<version>,...`
 *   (display only), `checksum` = `sha256:` of the manifest (sorted lines
 *   `name version sha256`), and `meta.packages` = `[{ name, version,
 *   sha256, filename, size }]` with each .deb's SHA256 from the Packages
 *   index (which apt verified against the signed Release file).
 * - **install(artifact, dest)** takes each .deb from the content-addressed
 *   store (`<cacheRoot>/downloads/sha256/<hex>`, re-hashed on every use)
 *   or `apt-get download`s the missing ones (same private options) into a
 *   temp dir beside the store, verifies each against `meta.packages` and
 *   renames it in; then `dpkg-deb -x` each into `dest` and makes the tree
 *   relocatable (see {@link DEBIAN_RUNTIMES} for what each runtime needs):
 *   absolute symlinks into the tree become relative, host-generated files
 *   like `/etc/ssl/certs/java/cacerts` are copied in, command links
 *   (`ruby` -> `ruby3.1`) are added, `#!/usr/bin/ruby` lines become
 *   `#!/usr/bin/env ruby`. It returns the env with `${RUNTIME_DIR}` (e.g.
 *   `JAVA_HOME=${RUNTIME_DIR}/usr/lib/jvm/java-17-openjdk-amd64`) and the
 *   shared libraries the stack must provide (`ldd` of the main binaries
 *   and extension modules; anything "not found" is a warning).
 * - **Offline** (`ctx.offline`): no `apt-get update`; `list` uses the lists
 *   already in the cache, and `install` fails at once, naming the
 *   packages, when any .deb is not in the store.
 *
 * Errors: apt-get/apt-cache missing or failing (no route to the mirror, a
 * version gone from it) raise `SLUGC_DOWNLOAD_FAILED` with apt's output
 * tail; a .deb whose SHA256 differs raises `SLUGC_CHECKSUM_MISMATCH` (a bad
 * file in the store is deleted first, so the next build downloads it
 * again). An unknown runtime name, stack or architecture lists nothing.
 *
 * For buildpacks: values in `env` replace, so a buildpack that already has
 * `LD_LIBRARY_PATH` should join them; Ruby's `GEM_HOME` points into the
 * runtime (so the host's `/var/lib/gems` is never seen) and should be set
 * to the app's vendor dir before installing gems; Python's `pip` exists
 * only inside a venv (`python3 -m venv DIR` works, see DEBIAN_RUNTIMES).
 *
 * @module
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { acquireLock } from '../../cache/lock.js';
import { ChecksumMismatchError, SlugcError } from '../../errors.js';
import { formatBytes } from '../../log.js';
import { hostStack } from '../../stack.js';
import { indentLines, outputTail } from '../../text.js';
import type { InstalledRuntime, RuntimeArtifact, RuntimeSource, SourceContext } from '../types.js';
import {
  DEBIAN_ARCHES,
  DEBIAN_RUNTIMES,
  debianVersionToSemver,
  fillArch,
  type DebianRuntimeTable,
} from './debian-runtimes.js';
import { addLinks, applyPatches, lddCheck, relocateSymlinks, rewriteRuntimeShebangs, runCommand, type CommandRunner } from './debian-unpack.js';

export { DEBIAN_RUNTIMES, debianVersionToSemver, type DebianRuntimeSpec, type DebianRuntimeTable } from './debian-runtimes.js';
export type { CommandResult, CommandRunner } from './debian-unpack.js';

/** One .deb of a runtime, as `meta.packages` holds it. */
export interface DebianPackageRef {
  /** The package name, e.g. `python3.11`. */
  name: string;
  /** The Debian version, e.g. `3.11.2-6+deb12u9`. */
  version: string;
  /** The .deb's SHA256 (lowercase hex) from the Packages index. */
  sha256: string;
  /** Its path on the mirror, e.g. `pool/main/p/python3.11/python3.11_3.11.2-6+deb12u9_amd64.deb`. */
  filename: string;
  /** Its size in bytes. */
  size?: number;
}

/** Options of {@link createDebianSource}. */
export interface DebianSourceOptions {
  /** Runtimes per stack, merged over {@link DEBIAN_RUNTIMES} (a stack's entries replace same-named ones). */
  packages?: DebianRuntimeTable;
  /** The apt-get command; default `apt-get`. */
  aptGet?: string;
  /** The apt-cache command; default `apt-cache`. */
  aptCache?: string;
  /** The dpkg-deb command; default `dpkg-deb`. */
  dpkgDeb?: string;
  /** The ldd command; default `ldd`. */
  ldd?: string;
  /** Runs commands (tests wrap it to count calls). */
  run?: CommandRunner;
  /** Extra apt options, each `Key=Value`, passed as `-o` to every apt call. */
  aptOptions?: string[];
  /** The host's os-release file; default `/etc/os-release`. */
  osRelease?: string;
  /** The host's architecture in Node's names; default `process.arch`. */
  hostArch?: string;
  /** Lists older than this are refreshed; default one day. */
  maxListAgeMs?: number;
}

/** The private apt dirs of a stack under a cache root. */
export interface DebianAptPaths {
  /** `<cacheRoot>/apt/<stack>`. */
  root: string;
  /** `Dir::State`. */
  state: string;
  /** `Dir::Cache`. */
  cache: string;
  /** The private, empty `Dir::State::status`. */
  status: string;
  /** `Dir::State::lists`. */
  lists: string;
  /** Touched after each successful `apt-get update`. */
  stamp: string;
}

/** Where the private apt state of `stack` lives. */
export function debianAptPaths(cacheRoot: string, stack: string): DebianAptPaths {
  const root = path.join(cacheRoot, 'apt', stack);
  const state = path.join(root, 'state');
  const cache = path.join(root, 'cache');
  return { root, state, cache, status: path.join(state, 'status'), lists: path.join(state, 'lists'), stamp: path.join(state, 'slugc-updated') };
}

/** The `-o` options that keep apt on the private state. */
export function debianAptOptions(p: DebianAptPaths, extra: readonly string[] = []): string[] {
  const opts = [
    `Dir::State=${p.state}`,
    `Dir::State::lists=${p.lists}/`,
    `Dir::State::status=${p.status}`,
    `Dir::State::extended_states=${path.join(p.state, 'extended_states')}`,
    `Dir::Cache=${p.cache}`,
    `Dir::Cache::archives=${path.join(p.cache, 'archives')}/`,
    `Dir::Cache::pkgcache=${path.join(p.cache, 'pkgcache.bin')}`,
    'Dir::Cache::srcpkgcache=',
    'Acquire::Languages=none',
    ...extra,
  ];
  return ['-q', ...opts.flatMap((o) => ['-o', o])];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Creates the `debian` runtime source. */
export function createDebianSource(options: DebianSourceOptions = {}): RuntimeSource {
  const table: DebianRuntimeTable = { ...DEBIAN_RUNTIMES };
  for (const [stack, runtimes] of Object.entries(options.packages ?? {})) table[stack] = { ...(table[stack] ?? {}), ...runtimes };
  const aptGet = options.aptGet ?? 'apt-get';
  const aptCache = options.aptCache ?? 'apt-cache';
  const dpkgDeb = options.dpkgDeb ?? 'dpkg-deb';
  const run = options.run ?? runCommand;
  const maxAge = options.maxListAgeMs ?? DAY_MS;
  const hostArch = options.hostArch ?? process.arch;
  const updating = new Map<string, Promise<void>>();

  const aptEnv = (): NodeJS.ProcessEnv => ({ ...process.env, LC_ALL: 'C', LANG: 'C', LANGUAGE: 'C', DEBIAN_FRONTEND: 'noninteractive' });

  /** Why this host cannot make runtimes for ctx, or null when it can. */
  const unsupported = (ctx: SourceContext): string | null => {
    if (!table[ctx.stack]) return `the debian source knows no packages for the stack ${ctx.stack} (it knows ${Object.keys(table).join(', ')})`;
    const host = hostStack(options.osRelease);
    if (host !== ctx.stack) return `it uses the build host's apt sources, and this host is ${host}, not ${ctx.stack}`;
    if (ctx.os !== 'linux') return `it makes linux runtimes, not ${ctx.os}`;
    if (!DEBIAN_ARCHES[ctx.arch]) return `it knows no Debian architecture for ${ctx.arch}`;
    if (ctx.arch !== hostArch) return `it makes runtimes for the build host's architecture (${hostArch}), not ${ctx.arch}`;
    return null;
  };

  const aptFailed = (what: string, r: { code: number | null; stdout: string; stderr: string; error?: Error }, command: string, hint: string): SlugcError => {
    const tail = outputTail(`${r.stdout}\n${r.stderr}`);
    const bin = command.split(' ')[0]!;
    const why = r.error
      ? (r.error as NodeJS.ErrnoException).code === 'ENOENT'
        ? `${bin} is not installed`
        : `${bin} could not run (${r.error.message})`
      : `\`${command}\` exited with code ${r.code}`;
    return new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't ${what}: ${why}.${tail ? `\n${indentLines(tail)}` : ''}`, {
      hint: r.error ? `The debian source needs apt (apt-get, apt-cache) and dpkg-deb on the build host; install them or use another runtime source.` : hint,
      details: { command, exitCode: r.code, outputTail: tail },
    });
  };

  const listsPresent = (p: DebianAptPaths): boolean => {
    try {
      return fs.readdirSync(p.lists).some((n) => n.includes('_Packages'));
    } catch {
      return false;
    }
  };

  /** Makes sure the private lists exist (and are fresh, online). */
  const ensureLists = async (ctx: SourceContext, p: DebianAptPaths, extra: string[]): Promise<void> => {
    const present = listsPresent(p);
    if (ctx.offline) {
      if (present) return;
      throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't read the ${ctx.stack} apt lists offline: there are none in the cache (${p.lists}).`, {
        hint: 'Build once online so the debian source can run apt-get update into its cache, or use another runtime source.',
      });
    }
    let ageMs = Infinity;
    try {
      ageMs = Date.now() - fs.statSync(p.stamp).mtimeMs;
    } catch {
      /* never updated */
    }
    if (present && ageMs < maxAge) return;
    const pending = updating.get(p.root);
    if (pending) return pending;
    const why = !present ? 'there are none yet' : ageMs === Infinity ? 'they were not made by slugc' : `they are ${Math.floor(ageMs / 3_600_000)} hours old`;
    const update = async () => {
      ctx.log.info(`Updating the private ${ctx.stack} apt lists (${why}): apt-get update into ${p.state}`);
      fs.mkdirSync(path.join(p.lists, 'partial'), { recursive: true });
      fs.mkdirSync(path.join(p.cache, 'archives', 'partial'), { recursive: true });
      if (!fs.existsSync(p.status)) fs.writeFileSync(p.status, '');
      const args = [...debianAptOptions(p, extra), '-o', 'APT::Update::Error-Mode=any', 'update'];
      const started = Date.now();
      let r = await run(aptGet, args, { env: aptEnv(), ...(ctx.signal ? { signal: ctx.signal } : {}) });
      if (r.code !== 0 && !r.error && /Could not get lock/i.test(r.stdout + r.stderr)) {
        await new Promise((res) => setTimeout(res, 3000)); // another build is updating the same lists
        r = await run(aptGet, args, { env: aptEnv(), ...(ctx.signal ? { signal: ctx.signal } : {}) });
      }
      if (r.code !== 0) {
        const err = aptFailed(`update the ${ctx.stack} apt lists`, r, `${aptGet} update`, "Check that the build host reaches its Debian mirror (the sources in /etc/apt/sources.list*, apt's proxy settings), or build offline with a filled cache.");
        if (!present) throw err;
        ctx.log.warn(`${err.message.split('\n')[0]} Using the lists from before.`);
        return;
      }
      fs.writeFileSync(p.stamp, `${new Date().toISOString()}\n`);
      ctx.log.info(`Updated the ${ctx.stack} apt lists in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    };
    const job = (async () => {
      // Builds in other processes share these lists: one updates, the others wait and then use its lists.
      fs.mkdirSync(p.root, { recursive: true });
      const lock = await acquireLock(path.join(p.root, 'update'), { log: ctx.log, ...(ctx.signal ? { signal: ctx.signal } : {}) });
      try {
        if (listsPresent(p) && fs.existsSync(p.stamp) && Date.now() - fs.statSync(p.stamp).mtimeMs < maxAge) return;
        await update();
      } finally {
        lock.release();
      }
    })();
    updating.set(p.root, job);
    try {
      await job;
    } finally {
      updating.delete(p.root);
    }
  };

  const privileged = (): string[] => (process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : []);

  return {
    kind: 'debian',
    describe() {
      return `debian packages (the build host's apt sources, private apt state)`;
    },

    async list(name, ctx) {
      const why = unsupported(ctx);
      if (why) {
        ctx.log.info(`The debian source has no ${name} for ${ctx.stack}/${ctx.arch}: ${why}.`);
        return [];
      }
      const spec = table[ctx.stack]?.[name];
      if (!spec) return [];
      const arch = DEBIAN_ARCHES[ctx.arch]!;
      const p = debianAptPaths(ctx.cacheRoot, ctx.stack);
      await ensureLists(ctx, p, options.aptOptions ?? []);
      const names = [...new Set([spec.main, ...spec.packages])];
      const r = await run(aptCache, [...debianAptOptions(p, options.aptOptions ?? []), 'show', '--no-all-versions', ...names], {
        env: aptEnv(),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      if (r.code !== 0) {
        throw aptFailed(`read the ${ctx.stack} apt lists`, r, `${aptCache} show`, `Delete ${p.root} so the next build runs apt-get update afresh.`);
      }
      const found = new Map<string, Record<string, string>>();
      for (const s of parseStanzas(r.stdout)) {
        const n = s.Package;
        if (!n || found.has(n)) continue;
        if (s.Architecture && s.Architecture !== 'all' && s.Architecture !== arch.debArch) continue;
        found.set(n, s);
      }
      const main = found.get(spec.main);
      if (!main) {
        ctx.log.info(`The debian source has no ${name}: ${spec.main} is not in the ${ctx.stack} apt lists.`);
        return [];
      }
      const missing = names.filter((n) => !found.has(n));
      if (missing.length) {
        throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't find ${missing.join(', ')} (part of ${name}) in the ${ctx.stack} apt lists.`, {
          hint: `The package set of ${name} names packages the host's apt sources do not have; check the sources in /etc/apt/sources.list* or the debian source's packages option.`,
          details: { missing },
        });
      }
      const refs: DebianPackageRef[] = [];
      for (const n of spec.packages) {
        const s = found.get(n)!;
        const sha256 = (s.SHA256 ?? '').toLowerCase();
        if (!/^[0-9a-f]{64}$/.test(sha256) || !s.Version || !s.Filename) {
          throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't read the SHA256 of ${n} from the ${ctx.stack} apt lists.`, {
            hint: `Delete ${p.root} so the next build runs apt-get update afresh.`,
          });
        }
        refs.push({ name: n, version: s.Version, sha256, filename: s.Filename, ...(s.Size ? { size: Number(s.Size) } : {}) });
      }
      const version = debianVersionToSemver(main.Version ?? '');
      if (!version) {
        ctx.log.info(`The debian source has no ${name}: ${spec.main} ${main.Version ?? '?'} is not a version it can read.`);
        return [];
      }
      const total = refs.reduce((a, b) => a + (b.size ?? 0), 0);
      ctx.log.info(`Found ${name} ${version} in the ${ctx.stack} apt lists (${spec.main} ${main.Version}, ${refs.length} packages, ${formatBytes(total)})`);
      return [
        {
          name,
          version,
          os: 'linux',
          arch: ctx.arch,
          stacks: [ctx.stack],
          url: `debian:${refs.map((x) => `${x.name}=${x.version}`).join(',')}`,
          checksum: `sha256:${sha256Hex(debianManifest(refs))}`,
          format: 'deb',
          meta: { stack: ctx.stack, debianVersion: main.Version, packages: refs },
        },
      ];
    },

    async install(artifact, dest, ctx) {
      const stack = artifact.stacks?.[0] ?? ctx.stack;
      const spec = table[stack]?.[artifact.name];
      const arch = DEBIAN_ARCHES[artifact.arch];
      if (!spec || !arch) {
        throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't install ${artifact.name} ${artifact.version} from debian packages: the debian source knows no ${artifact.name} for ${stack}/${artifact.arch}.`, {
          hint: 'Install artifacts only with the source that listed them.',
        });
      }
      const refs = packageRefs(artifact);
      const manifestSum = `sha256:${sha256Hex(debianManifest(refs))}`;
      if (manifestSum !== artifact.checksum) {
        throw new ChecksumMismatchError(`the package list of ${artifact.name} ${artifact.version}`, artifact.checksum, manifestSum);
      }
      const label = `${artifact.name} ${artifact.version}`;
      const storeDir = path.join(ctx.cacheRoot, 'downloads', 'sha256');
      fs.mkdirSync(storeDir, { recursive: true });

      // 1. The store: every file is re-hashed before it is trusted.
      const need: DebianPackageRef[] = [];
      for (const ref of refs) {
        const file = path.join(storeDir, ref.sha256);
        if (!fs.existsSync(file)) {
          need.push(ref);
          continue;
        }
        const actual = await sha256File(file);
        if (actual !== ref.sha256) {
          fs.rmSync(file, { force: true });
          throw new ChecksumMismatchError(`${ref.name} ${ref.version} in the cache (${file})`, `sha256:${ref.sha256}`, `sha256:${actual}`);
        }
      }

      // 2. Download what is missing with apt-get, verify, rename into the store.
      if (need.length && ctx.offline) {
        throw new SlugcError(
          'SLUGC_DOWNLOAD_FAILED',
          `Couldn't install ${label} offline: ${need.map((x) => `${x.name} ${x.version}`).join(', ')} ${need.length === 1 ? 'is' : 'are'} not in the cache.`,
          { hint: 'Build once online to fill the cache, or build without --offline.', details: { packages: need.map((x) => x.name) } },
        );
      }
      if (need.length) {
        const p = debianAptPaths(ctx.cacheRoot, stack);
        await ensureLists(ctx, p, options.aptOptions ?? []);
        const bytes = need.reduce((a, b) => a + (b.size ?? 0), 0);
        ctx.log.info(`Downloading ${need.length} of ${refs.length} packages of ${label} (${formatBytes(bytes)}) with apt-get download`);
        const tmp = fs.mkdtempSync(path.join(ctx.cacheRoot, 'downloads', '.tmp-debian-'));
        try {
          const started = Date.now();
          const r = await run(aptGet, [...debianAptOptions(p, options.aptOptions ?? []), ...privileged(), 'download', ...need.map((x) => `${x.name}=${x.version}`)], {
            cwd: tmp,
            env: aptEnv(),
            ...(ctx.signal ? { signal: ctx.signal } : {}),
          });
          if (r.code !== 0) {
            throw aptFailed(
              `download ${need.map((x) => `${x.name}=${x.version}`).join(' ')}`,
              r,
              `${aptGet} download`,
              'Check that the build host reaches its Debian mirror; if the version is gone from it (a newer security update replaced it), build again so the runtime is listed afresh.',
            );
          }
          const files = fs.readdirSync(tmp).filter((f) => f.endsWith('.deb'));
          for (const ref of need) {
            const base = path.basename(ref.filename);
            const file = files.includes(base) ? base : files.find((f) => f.startsWith(`${ref.name}_`));
            if (!file) {
              throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't download ${ref.name} ${ref.version}: apt-get download left no ${base}.`, {
                hint: 'Run the build again; if it persists, delete the apt state under the cache dir.',
              });
            }
            const actual = await sha256File(path.join(tmp, file));
            if (actual !== ref.sha256) throw new ChecksumMismatchError(`${ref.name} ${ref.version} (${ref.filename})`, `sha256:${ref.sha256}`, `sha256:${actual}`);
            fs.renameSync(path.join(tmp, file), path.join(storeDir, ref.sha256));
          }
          ctx.log.info(`Downloaded ${formatBytes(bytes)} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
        } finally {
          fs.rmSync(tmp, { recursive: true, force: true });
        }
      } else {
        ctx.log.info(`Using the ${refs.length} packages of ${label} from the cache`);
      }

      // 3. Unpack.
      fs.mkdirSync(dest, { recursive: true });
      if (fs.readdirSync(dest).length) {
        throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't install ${label} into ${dest}: the dir is not empty.`, { hint: 'Install into a new or empty dir.' });
      }
      for (const ref of refs) {
        const r = await run(dpkgDeb, ['-x', path.join(storeDir, ref.sha256), dest], { env: aptEnv(), ...(ctx.signal ? { signal: ctx.signal } : {}) });
        if (r.code !== 0) {
          const tail = outputTail(`${r.stdout}\n${r.stderr}`);
          throw new SlugcError('SLUGC_COMMAND_FAILED', `Couldn't unpack ${ref.name} ${ref.version}: ${r.error ? r.error.message : `dpkg-deb exited with code ${r.code}`}.${tail ? `\n${indentLines(tail)}` : ''}`, {
            hint: r.error ? 'The debian source needs dpkg-deb on the build host.' : 'The cached .deb may be damaged: delete it from the cache and build again.',
            details: { package: ref.name, outputTail: tail },
          });
        }
      }

      // 4. Make it relocatable.
      const hostFiles = (spec.hostFiles ?? []).map((f) => fillArch(f, arch));
      const rel = relocateSymlinks(dest, hostFiles);
      for (const f of rel.missingHostFiles) {
        ctx.log.warn(`${label}: ${f} is not on this host, so the runtime's link to it dangles${f.endsWith('/cacerts') ? ' (Java will trust no CA certificates; install ca-certificates-java on the build host)' : ''}.`);
      }
      const binDirs = spec.binDirs.map((b) => fillArch(b, arch));
      const links = addLinks(dest, Object.fromEntries(Object.entries(spec.links ?? {}).map(([k, v]) => [fillArch(k, arch), fillArch(v, arch)])));
      const shebangs = rewriteRuntimeShebangs(dest, binDirs);
      const patched = applyPatches(
        dest,
        (spec.patches ?? []).map((x) => ({ ...x, file: fillArch(x.file, arch) })),
        ctx.log,
      );
      const count = (k: number, what: string, plural = `${what}s`) => `${k} ${k === 1 ? what : plural}`;
      ctx.log.info(
        `Unpacked ${label}: ${count(rel.repointed, 'absolute link')} re-pointed into the runtime` +
          (rel.copied.length ? `, copied ${rel.copied.join(', ')} from the host` : '') +
          (links.length ? `, added ${links.map((l) => path.basename(l)).join(', ')}` : '') +
          (shebangs.length ? `, ${count(shebangs.length, 'script')} set to #!/usr/bin/env` : '') +
          (patched ? `, ${count(patched, 'patch', 'patches')} applied` : '') +
          (rel.dangling.length ? `; ${count(rel.dangling.length, 'link')} to files outside the packages left as they are` : ''),
      );

      // 5. Env, and the shared libraries the stack must provide.
      const env = Object.fromEntries(Object.entries(spec.env).map(([k, v]) => [k, fillArch(v, arch)]));
      const realEnv: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C' };
      for (const [k, v] of Object.entries(env)) realEnv[k] = v.split('${RUNTIME_DIR}').join(path.resolve(dest));
      const ldd = await lddCheck(dest, spec.ldd.map((f) => fillArch(f, arch)), realEnv, run, options.ldd);
      if (!ldd) ctx.log.warn(`Couldn't run ldd to check the shared libraries of ${label}.`);
      for (const [file, libs] of Object.entries(ldd?.missing ?? {})) {
        ctx.log.warn(`${label}: ${file} needs ${libs.join(', ')}, which this host does not have; the stack must provide ${libs.length === 1 ? 'it' : 'them'}.`);
      }
      const result: InstalledRuntime = { dir: dest, binDirs, env };
      if (ldd) result.systemLibraries = ldd.systemLibraries;
      return result;
    },
  };
}

/** The manifest an artifact's checksum is taken of: sorted lines `name version sha256`. */
export function debianManifest(refs: readonly DebianPackageRef[]): string {
  return (
    refs
      .map((r) => `${r.name} ${r.version} ${r.sha256}`)
      .sort()
      .join('\n') + '\n'
  );
}

/** Reads and checks `meta.packages` of a debian artifact. */
function packageRefs(artifact: RuntimeArtifact): DebianPackageRef[] {
  const raw = artifact.meta?.packages;
  const bad = () =>
    new SlugcError('SLUGC_INVALID_INPUT', `Couldn't install ${artifact.name} ${artifact.version} from debian packages: its meta.packages is missing or malformed.`, {
      hint: 'Install artifacts only with the source that listed them.',
    });
  if (!Array.isArray(raw) || !raw.length) throw bad();
  return raw.map((x: unknown) => {
    const o = x as Partial<DebianPackageRef> | null;
    if (!o || typeof o.name !== 'string' || typeof o.version !== 'string' || typeof o.sha256 !== 'string' || typeof o.filename !== 'string') throw bad();
    if (!/^[a-z0-9][a-z0-9+.-]*$/.test(o.name) || !/^[0-9a-f]{64}$/.test(o.sha256) || /\s/.test(o.version)) throw bad();
    return { name: o.name, version: o.version, sha256: o.sha256, filename: o.filename, ...(typeof o.size === 'number' ? { size: o.size } : {}) };
  });
}

/** Parses deb822 stanzas (apt-cache show output); continuation lines are dropped. */
export function parseStanzas(text: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  let cur: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) {
      if (Object.keys(cur).length) out.push(cur);
      cur = {};
      continue;
    }
    if (/^\s/.test(line)) continue;
    const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
    if (m) cur[m[1]!] = m[2]!.trim();
  }
  if (Object.keys(cur).length) out.push(cur);
  return out;
}

function sha256Hex(s: string): string {
  return crypto.createHash('sha256').update(s).digest('hex');
}

async function sha256File(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}
