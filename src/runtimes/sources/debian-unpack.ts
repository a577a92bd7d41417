/**
 * What the `debian` source does to an unpacked set of `.deb`s so the runtime
 * runs from any directory: absolute symlinks re-pointed inside it, files
 * Debian generates at install time copied in from the host, command links,
 * interpreter lines, small patches; and the `ldd` check that names the
 * shared libraries the stack must provide.
 *
 * @module
 */
import { rewriteShebangs } from '../../fs/shebangs.js';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../log.js';
import type { DebianPatch } from './debian-runtimes.js';

/** What a finished command did; `code` is null when it could not start or was killed. */
export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Why it could not start (e.g. ENOENT), if so. */
  error?: Error;
}

/** Runs a command without a shell; injectable so tests can count or fake calls. */
export type CommandRunner = (
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; signal?: AbortSignal },
) => Promise<CommandResult>;

const MAX_CAPTURE = 8 * 1024 * 1024;

/** The default {@link CommandRunner}: `spawn`, output captured (up to 8 MB each). */
export const runCommand: CommandRunner = (command, args, options) =>
  new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    const done = (r: CommandResult) => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };
    let child;
    try {
      child = spawn(command, args, {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (e) {
      done({ code: null, stdout, stderr, error: e instanceof Error ? e : new Error(String(e)) });
      return;
    }
    child.stdout.on('data', (b: Buffer) => {
      if (stdout.length < MAX_CAPTURE) stdout += b.toString('utf8');
    });
    child.stderr.on('data', (b: Buffer) => {
      if (stderr.length < MAX_CAPTURE) stderr += b.toString('utf8');
    });
    child.on('error', (e) => done({ code: null, stdout, stderr, error: e }));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });

/** Every entry below `dir` (not following links), as paths relative to it. */
function* walk(dir: string, rel = ''): Generator<{ rel: string; dirent: fs.Dirent }> {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
  } catch {
    return;
  }
  for (const d of entries) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    yield { rel: r, dirent: d };
    if (d.isDirectory()) yield* walk(dir, r);
  }
}

/** What {@link relocateSymlinks} did. */
export interface RelocateReport {
  /** Absolute links now relative, pointing inside the runtime dir. */
  repointed: number;
  /** Host files copied in (absolute paths). */
  copied: string[];
  /** Known host files the host lacks; links to them dangle. */
  missingHostFiles: string[];
  /** Links (absolute or relative) whose target is not inside the runtime dir, relative paths. */
  dangling: string[];
}

/**
 * Re-points every absolute symlink below `dest` whose target exists inside
 * `dest` (`/etc/x` -> `dest/etc/x`) as a relative link; for targets listed
 * in `hostFiles` that are absent, copies the host's file in first (following
 * its links). Reports links left dangling.
 */
export function relocateSymlinks(dest: string, hostFiles: readonly string[]): RelocateReport {
  const report: RelocateReport = { repointed: 0, copied: [], missingHostFiles: [], dangling: [] };
  const root = path.resolve(dest);
  for (const { rel, dirent } of [...walk(root)]) {
    if (!dirent.isSymbolicLink()) continue;
    const link = path.join(root, rel);
    const target = fs.readlinkSync(link);
    if (!path.isAbsolute(target)) {
      const resolved = path.resolve(path.dirname(link), target);
      if (!isInside(root, resolved) || !exists(resolved)) report.dangling.push(rel);
      continue;
    }
    const inside = path.join(root, target);
    if (!exists(inside) && hostFiles.includes(target)) {
      if (copyHostFile(target, inside)) report.copied.push(target);
      else if (!report.missingHostFiles.includes(target)) report.missingHostFiles.push(target);
    }
    if (exists(inside)) {
      fs.unlinkSync(link);
      fs.symlinkSync(path.relative(path.dirname(link), inside) || '.', link);
      report.repointed++;
    } else {
      report.dangling.push(rel);
    }
  }
  return report;
}

function copyHostFile(hostPath: string, to: string): boolean {
  try {
    if (!fs.statSync(hostPath).isFile()) return false;
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(hostPath, to);
    fs.chmodSync(to, 0o644);
    return true;
  } catch {
    return false;
  }
}

function exists(p: string): boolean {
  try {
    fs.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function isInside(root: string, p: string): boolean {
  const r = path.relative(root, p);
  return r === '' || (!r.startsWith('..') && !path.isAbsolute(r));
}

/** Adds `links` (path -> target, relative to the runtime dir) whose path is free and whose target exists. */
export function addLinks(dest: string, links: Record<string, string>): string[] {
  const added: string[] = [];
  for (const [rel, target] of Object.entries(links)) {
    const link = path.join(dest, rel);
    let taken = true;
    try {
      fs.lstatSync(link);
    } catch {
      taken = false;
    }
    if (taken || !exists(path.resolve(path.dirname(link), target))) continue;
    fs.symlinkSync(target, link);
    added.push(rel);
  }
  return added;
}

/**
 * Rewrites `#!/usr/bin/ruby3.1`-style lines of scripts in `binDirs` whose
 * interpreter is one of the runtime's own commands to `#!/usr/bin/env
 * ruby3.1`, so they run the runtime found on PATH rather than a host path
 * that may not exist. Returns the files as `<binDir>/<name>`.
 */
export function rewriteRuntimeShebangs(dest: string, binDirs: readonly string[]): string[] {
  const ours = new Set<string>();
  for (const b of binDirs) {
    try {
      for (const n of fs.readdirSync(path.join(dest, b))) ours.add(n);
    } catch {
      /* no such dir */
    }
  }
  const dirs = binDirs.map((b) => path.join(dest, b));
  return rewriteShebangs(dirs, { match: (p) => ours.has(path.basename(p)) }).map((f) => path.relative(dest, f));
}

/** Applies patches; warns about those whose text is not found (a changed upstream file). */
export function applyPatches(dest: string, patches: readonly DebianPatch[], log: Logger): number {
  let applied = 0;
  for (const p of patches) {
    const file = path.join(dest, p.file);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      log.warn(`Couldn't patch ${p.file}: it is not in the packages (${p.why} is skipped).`);
      continue;
    }
    if (!text.includes(p.find)) {
      log.warn(`Couldn't patch ${p.file}: the text to replace is not there (${p.why} is skipped).`);
      continue;
    }
    const mode = fs.statSync(file).mode & 0o7777;
    fs.writeFileSync(file, text.replace(p.find, p.replace));
    fs.chmodSync(file, mode);
    applied++;
  }
  return applied;
}

/** What {@link lddCheck} found. */
export interface LddReport {
  /** Files checked, relative to the runtime dir. */
  checked: string[];
  /** Shared libraries (sonames) that resolve outside the runtime dir or not at all: what the stack must provide. */
  systemLibraries: string[];
  /** Libraries ldd could not find that are not in the runtime dir either: file -> sonames. */
  missing: Record<string, string[]>;
}

/**
 * Runs `ldd` on `entries` (relative files, or dirs ending in `/` meaning
 * every shared object below them) with `env` (e.g. LD_LIBRARY_PATH into the
 * runtime). A "not found" library that is itself inside the runtime dir (a
 * JDK's `libjvm.so`, found through the loading binary's RPATH) counts as
 * inside. Null when ldd cannot run.
 */
export async function lddCheck(
  dest: string,
  entries: readonly string[],
  env: NodeJS.ProcessEnv,
  run: CommandRunner,
  ldd = 'ldd',
): Promise<LddReport | null> {
  const root = path.resolve(dest);
  const files: string[] = [];
  for (const e of entries) {
    if (e.endsWith('/')) {
      for (const { rel, dirent } of walk(root, e.slice(0, -1))) {
        if (dirent.isFile() && /\.so(\.\d+)*$/.test(dirent.name) && !files.includes(rel)) files.push(rel);
      }
    } else if (exists(path.join(root, e)) && !files.includes(e)) {
      files.push(e);
    }
  }
  if (!files.length) return { checked: [], systemLibraries: [], missing: {} };
  const insideNames = new Set<string>();
  for (const { dirent } of walk(root)) if (/\.so(\.\d+)*$/.test(dirent.name)) insideNames.add(dirent.name);
  const system = new Set<string>();
  const missing: Record<string, string[]> = {};
  // One ldd per batch; with several files it prints a "file:" header before each.
  for (let i = 0; i < files.length; i += 50) {
    const batch = files.slice(i, i + 50);
    const abs = batch.map((f) => path.join(root, f));
    const r = await run(ldd, abs, { env });
    if (r.code === null && r.error) return null;
    let current = abs[0]!;
    for (const raw of r.stdout.split('\n')) {
      const line = raw.trimEnd();
      if (!line) continue;
      if (!/^\s/.test(line) && line.endsWith(':')) {
        current = line.slice(0, -1);
        continue;
      }
      const t = line.trim();
      const notFound = /^(\S+)\s+=>\s+not found$/.exec(t);
      if (notFound) {
        const name = notFound[1]!;
        if (insideNames.has(name)) continue;
        system.add(name);
        const rel = path.relative(root, current);
        const list = (missing[rel] ??= []);
        if (!list.includes(name)) list.push(name);
        continue;
      }
      const resolved = /^(\S+)\s+=>\s+(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(t);
      if (resolved) {
        if (!isInside(root, path.resolve(resolved[2]!))) system.add(resolved[1]!);
        continue;
      }
      const direct = /^(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(t); // the dynamic loader
      if (direct && !isInside(root, direct[1]!)) system.add(path.basename(direct[1]!));
    }
  }
  return { checked: files, systemLibraries: [...system].sort(), missing };
}
