import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Buildpack } from './buildpack.js';
import { downloadVerified, fetchUrl } from './net/download.js';
import { SlugcError, errorMessage } from './errors.js';
import { extractArchive } from './archive/extract.js';
import type { Logger } from './log.js';
import { mirrorUrl } from './net/mirror.js';
import { shellBuildpack } from './classic.js';
import { readAppFile } from './fs/app-file.js';
import { parseJson } from './sdk/config-file.js';
import { writeFileAtomic } from './fs/atomic.js';

/** What {@link resolveBuildpackRef} needs to fetch a buildpack. */
export interface BuildpackRefContext {
  cacheRoot: string;
  fetch: typeof globalThis.fetch;
  log: Logger;
  offline?: boolean;
  mirror?: string;
  /** Where relative paths are resolved (the app dir for app.json and .buildpacks). */
  cwd: string;
  /** The buildpacks ids resolve to (by id or alias) and auto-detection asks, in order. */
  builtins: readonly Buildpack[];
}

/** Finds a buildpack in a list by id or alias (`slugc/nodejs`, `heroku/nodejs`). */
export function findBuildpack(list: readonly Buildpack[], id: string): Buildpack | undefined {
  return list.find((b) => b.id === id || (b.aliases ?? []).includes(id));
}

/** Every id and alias of a list, for messages. */
export function buildpackIds(list: readonly Buildpack[]): string {
  return list.flatMap((b) => [b.id, ...(b.aliases ?? [])]).join(', ') || '(none)';
}

/** Heroku's ids of its official buildpacks that are not built in (yet). */
const HEROKU_IDS = new Set(['heroku/python', 'heroku/ruby', 'heroku/java', 'heroku/go', 'heroku/php', 'heroku/scala', 'heroku/gradle', 'heroku/clojure']);

/**
 * Turns a buildpack reference into a buildpack:
 * - a built-in id (`slugc/nodejs`, `heroku/nodejs`);
 * - a local directory holding a classic buildpack (`bin/compile`);
 * - a `.tgz`, `.tar.gz` or `.zip` at an `http(s)://` or `file://` URL,
 *   pinned with `#sha256=<hex>` (verified) or not (cached by URL);
 * - a git URL (`https://…/x.git#ref`, `git@host:x.git`, `git://…`),
 *   cloned when git can reach it, cached by URL and ref.
 */
export async function resolveBuildpackRef(ref: string, ctx: BuildpackRefContext): Promise<Buildpack> {
  const builtin = findBuildpack(ctx.builtins, ref);
  if (builtin) return builtin;
  if (HEROKU_IDS.has(ref)) {
    throw new SlugcError('SLUGC_BUILDPACK_LOAD', `Couldn't use ${ref}: slugc does not have it built in yet.`, {
      hint: `Built in: ${buildpackIds(ctx.builtins)}. Point to the classic buildpack's git or tarball URL instead.`,
    });
  }
  const [base, fragment] = splitFragment(ref);
  if (/^(https?|file):\/\//.test(base) && /\.(tgz|tar\.gz|zip)$/i.test(new URL(base).pathname)) return fetchArchiveBuildpack(base, fragment, ctx);
  if (/^(git@|git:\/\/|ssh:\/\/)/.test(base) || /\.git$/.test(base) || /^https?:\/\//.test(base)) return cloneBuildpack(base, fragment, ctx);
  const dir = path.resolve(ctx.cwd, base.startsWith('file://') ? new URL(base).pathname : base);
  if (fs.existsSync(path.join(dir, 'bin', 'compile'))) return shellBuildpack(dir);
  throw new SlugcError('SLUGC_BUILDPACK_LOAD', `Couldn't find the buildpack ${JSON.stringify(ref)}.`, {
    hint: 'Use a built-in id (heroku/nodejs), a directory with bin/compile, a .tgz/.zip URL (pin it with #sha256=...), or a git URL (url#ref).',
  });
}

function splitFragment(ref: string): [string, string | undefined] {
  const i = ref.indexOf('#');
  return i < 0 ? [ref, undefined] : [ref.slice(0, i), ref.slice(i + 1)];
}

const cacheKey = (s: string) => crypto.createHash('sha256').update(s).digest('hex').slice(0, 24);

async function fetchArchiveBuildpack(url: string, fragment: string | undefined, ctx: BuildpackRefContext): Promise<Buildpack> {
  const pin = fragment ? /^sha256[=:]([0-9a-fA-F]{64})$/.exec(fragment)?.[1]?.toLowerCase() : undefined;
  if (fragment && !pin) {
    throw new SlugcError('SLUGC_BUILDPACK_LOAD', `Couldn't read the pin #${fragment} of ${url}.`, { hint: 'Pin a tarball buildpack as URL#sha256=<64 hex digits>.' });
  }
  const root = path.join(ctx.cacheRoot, 'buildpacks');
  const byUrl = path.join(root, 'by-url', `${cacheKey(url)}.json`);
  let sha = pin;
  if (!sha) {
    try {
      const recorded = (JSON.parse(fs.readFileSync(byUrl, 'utf8')) as { sha256?: unknown }).sha256;
      sha = typeof recorded === 'string' && /^[0-9a-f]{64}$/.test(recorded) ? recorded : undefined; // it names a dir
    } catch {
      sha = undefined;
    }
  }
  const unpacked = sha ? path.join(root, 'archives', sha) : undefined;
  if (unpacked && isComplete(unpacked)) {
    ctx.log.info(`Buildpack ${url}: using the copy cached earlier (sha256 ${sha!.slice(0, 12)}…)`);
    return shellBuildpack(buildpackRoot(path.join(unpacked, 'buildpack')), { id: url });
  }
  let file: string;
  if (pin) {
    file = (await downloadVerified({ url: mirrorUrl(url, ctx.mirror), checksum: { algorithm: 'sha256', hex: pin }, cacheRoot: ctx.cacheRoot, fetch: ctx.fetch, log: ctx.log, label: `buildpack ${url}`, offline: Boolean(ctx.offline), ...(ctx.mirror ? { mirror: ctx.mirror } : {}) })).path;
  } else {
    if (ctx.offline) throw new SlugcError('SLUGC_OFFLINE', `Couldn't get the buildpack ${url} offline: it is not in the cache.`, { hint: 'Build once online, or pin it (#sha256=...) and put it on the mirror.' });
    ctx.log.warn(`Buildpack ${url} is not pinned; pin it with #sha256=<hex> so a changed file is refused.`);
    const res = await fetchUrl(mirrorUrl(url, ctx.mirror), ctx.fetch).catch((e: unknown) => {
      throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't download the buildpack ${url}: ${errorMessage(e)}`, { hint: 'Check the URL and the network.' });
    });
    if (!res.ok) throw new SlugcError('SLUGC_DOWNLOAD_FAILED', `Couldn't download the buildpack ${url}: HTTP ${res.status}.`, { hint: 'Check the URL.' });
    const body = Buffer.from(await res.arrayBuffer());
    sha = crypto.createHash('sha256').update(body).digest('hex');
    const store = path.join(ctx.cacheRoot, 'downloads', 'sha256');
    fs.mkdirSync(store, { recursive: true });
    file = path.join(store, sha);
    // Content-addressed: a concurrent writer writes the same bytes, and each renames a temp file of its own.
    if (!fs.existsSync(file)) writeFileAtomic(file, body);
    ctx.log.info(`Buildpack ${url}: sha256 ${sha} (pin it with #sha256=${sha})`);
  }
  const dest = path.join(root, 'archives', sha!);
  if (!isComplete(dest)) {
    const tmp = tempSibling(dest);
    try {
      await extractArchive(file, path.join(tmp, 'buildpack'));
      buildpackRoot(path.join(tmp, 'buildpack')); // an archive without bin/ is refused before it is cached
      fs.writeFileSync(path.join(tmp, COMPLETE), JSON.stringify({ url, sha256: sha }));
      publish(tmp, dest);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true }); // the loser's copy, or a half-unpacked one
    }
  }
  fs.mkdirSync(path.dirname(byUrl), { recursive: true });
  writeFileAtomic(byUrl, JSON.stringify({ url, sha256: sha }));
  return shellBuildpack(buildpackRoot(path.join(dest, 'buildpack')), { id: url });
}

/**
 * The file that marks a cached buildpack dir complete. It is written into
 * the temp dir before that is renamed into place, so a dir at its final
 * path always has it: a dir without it is never used.
 */
const COMPLETE = '.slugc-complete';

function isComplete(dir: string): boolean {
  return fs.existsSync(path.join(dir, COMPLETE));
}

/** A fresh temp path beside `dest` (same file system, so the rename into place is atomic). */
function tempSibling(dest: string): string {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  return `${dest}.tmp-${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
}

/**
 * Moves the complete dir `tmp` to `dest` unless a complete one is there:
 * several builds (processes) may fetch the same buildpack at once on one
 * cache. `rename` is atomic and fails on an existing non-empty dir, so the
 * first one in wins and a copy another build may be using is never removed
 * or replaced; the others keep theirs in `tmp` for the caller to discard.
 */
function publish(tmp: string, dest: string): void {
  try {
    fs.renameSync(tmp, dest);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    if (!isComplete(dest)) {
      throw new SlugcError('SLUGC_BUILDPACK_LOAD', `Couldn't cache the buildpack at ${dest}: something that is not a complete copy is in the way.`, {
        hint: `Remove ${dest} (or clear the cache with \`slugc cache clear\`) and build again.`,
      });
    }
  }
}

/** The dir holding `bin/`: the archive root, or its only top-level dir. */
function buildpackRoot(dir: string): string {
  if (fs.existsSync(path.join(dir, 'bin'))) return dir;
  const entries = fs.readdirSync(dir);
  const only = entries.length === 1 ? path.join(dir, entries[0]!) : undefined;
  if (only && fs.existsSync(path.join(only, 'bin'))) return only;
  throw new SlugcError('SLUGC_BUILDPACK_LOAD', `Couldn't find bin/ in the buildpack archive unpacked at ${dir}.`, { hint: 'A classic buildpack archive holds bin/detect, bin/compile and bin/release at its root or in one top-level dir.' });
}

async function cloneBuildpack(url: string, gitRef: string | undefined, ctx: BuildpackRefContext): Promise<Buildpack> {
  const dest = path.join(ctx.cacheRoot, 'buildpacks', 'git', cacheKey(`${url}#${gitRef ?? ''}`));
  const id = gitRef ? `${url}#${gitRef}` : url;
  if (isComplete(dest)) {
    ctx.log.info(`Buildpack ${url}${gitRef ? `#${gitRef}` : ''}: using the clone cached earlier`);
    return shellBuildpack(dest, { id });
  }
  if (ctx.offline) throw new SlugcError('SLUGC_OFFLINE', `Couldn't clone the buildpack ${url} offline.`, { hint: 'Build once online so the clone is cached.' });
  const tmp = tempSibling(dest);
  try {
    const args = ['clone', '--quiet', '--depth', '1', ...(gitRef ? ['--branch', gitRef] : []), '--', url, tmp];
    const r = spawnSync('git', args, { encoding: 'utf8', timeout: 120_000, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
    if (r.status !== 0) {
      throw new SlugcError('SLUGC_BUILDPACK_LOAD', `Couldn't clone the buildpack ${url}${gitRef ? ` at ${gitRef}` : ''}: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`, {
        hint: 'Check that git can reach the URL from this machine and that the ref exists; or use a pinned .tgz URL.',
      });
    }
    fs.writeFileSync(path.join(tmp, COMPLETE), '');
    publish(tmp, dest);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true }); // the loser's clone, or a failed one
  }
  return shellBuildpack(dest, { id });
}

/** Where the buildpack order came from. */
export type OrderSource = 'explicit' | 'app.json' | '.buildpacks' | 'auto';

/**
 * The buildpack refs an app names: app.json `buildpacks` (`[{ "url": … }]`),
 * else `.buildpacks` (one ref per line, `#` comments), else none.
 */
export function appBuildpackRefs(appDir: string): { source: OrderSource; refs: string[] } {
  // Read with readAppFile: an app.json or .buildpacks that links out of the app is refused, never read.
  const appJsonText = readAppFile(appDir, 'app.json');
  if (appJsonText !== null) {
    const doc = (parseJson(appJsonText, 'app.json', { code: 'SLUGC_INVALID_INPUT', hint: 'Fix the JSON syntax of app.json.' }) ?? {}) as { buildpacks?: unknown };
    if (typeof doc === 'object' && doc.buildpacks !== undefined) {
      if (!Array.isArray(doc.buildpacks) || !doc.buildpacks.every((b) => typeof b === 'object' && b !== null && typeof (b as { url?: unknown }).url === 'string')) {
        throw new SlugcError('SLUGC_INVALID_INPUT', "Couldn't read app.json buildpacks: expected a list of { \"url\": \"...\" }.", { hint: 'Write "buildpacks": [{ "url": "heroku/nodejs" }].' });
      }
      const refs = (doc.buildpacks as { url: string }[]).map((b) => b.url);
      if (refs.length) return { source: 'app.json', refs };
    }
  }
  const dotfile = readAppFile(appDir, '.buildpacks');
  if (dotfile !== null) {
    const refs = dotfile
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    if (refs.length) return { source: '.buildpacks', refs };
  }
  return { source: 'auto', refs: [] };
}


/** The candidates for detect, and where their order came from. */
export interface BuildpackPlan {
  buildpacks: Buildpack[];
  source: OrderSource;
  /** True when the order was given (flags, app.json, .buildpacks): then all of them run. */
  explicit: boolean;
}

/**
 * Which buildpacks to ask, in order: the given ones (`--buildpack`), else
 * app.json `buildpacks`, else `.buildpacks`, else the built-ins for
 * auto-detection.
 */
export async function planBuildpacks(appDir: string, given: (Buildpack | string)[] | undefined, ctx: Omit<BuildpackRefContext, 'cwd'> & { cwd?: string }): Promise<BuildpackPlan> {
  const resolve = (refs: (Buildpack | string)[], cwd: string) => Promise.all(refs.map((r) => (typeof r === 'string' ? resolveBuildpackRef(r, { ...ctx, cwd }) : r)));
  if (given?.length) return { buildpacks: await resolve(given, ctx.cwd ?? process.cwd()), source: 'explicit', explicit: true };
  const fromApp = appBuildpackRefs(appDir);
  if (fromApp.refs.length) return { buildpacks: await resolve(fromApp.refs, appDir), source: fromApp.source, explicit: true };
  return { buildpacks: [...ctx.builtins], source: 'auto', explicit: false };
}
