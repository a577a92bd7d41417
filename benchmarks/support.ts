// What the build benchmarks share: whole `slugc build` processes, seeded caches, slug checks.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const cli = path.resolve('dist/src/cli/bin.js');
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const sha256 = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

/** Runs a command; throws with its stderr when it fails; returns stdout. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr?.slice(-2000)}`);
  return r.stdout;
}

/** One whole `slugc build` process after `sync`: wall seconds, the slug, its per-step timings and layer outcomes. */
export function slugcBuild(src: string, slug: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  run('sync', []);
  const t = performance.now();
  const r = spawnSync(process.execPath, ['--', cli, 'build', src, '-o', slug, '--quiet', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
  const s = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`slugc build ${src} failed:\n${r.stderr.slice(-3000)}`);
  const meta = JSON.parse(fs.readFileSync(slug.replace(/\.tgz$/, '.json'), 'utf8')) as {
    timings: { steps: Record<string, number> };
    cache: { layers: { layer: string; hit: boolean; reason: string }[] };
  };
  const layers = meta.cache.layers.map((l) => `${l.layer}:${l.hit ? (/remote/.test(l.reason) ? 'remote' : 'hit') : l.reason.split(/[:;]/)[0]}`).join(' ');
  const steps = Object.entries(meta.timings.steps).map(([n, ms]) => `${n} ${(ms / 1000).toFixed(2)}`).join(', ');
  return { s, slug, steps, layers, stderr: r.stderr };
}

/** `gzip -t`, then the sorted listing of a slug. */
export function verifySlug(slug: string): string[] {
  run('gzip', ['-t', slug]);
  return run('tar', ['-tzf', slug]).split('\n').filter(Boolean).sort();
}

/**
 * A fresh cache dir seeded (hard links) with what makes a cold build the
 * build and not the network: the verified downloads and the registry
 * documents, and, with `npmCacheOf`, npm's own cache of that app.
 */
export function seededCache(dir: string, seed: string, npmCacheOf?: string): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const d of ['downloads', 'metadata']) if (fs.existsSync(path.join(seed, d))) run('cp', ['-al', path.join(seed, d), path.join(dir, d)]);
  if (npmCacheOf) {
    const npmCache = path.join(seed, 'apps', npmCacheOf, 'buildpacks', 'slugc_nodejs', 'npm-cache');
    if (fs.existsSync(npmCache)) {
      const to = path.join(dir, 'apps', npmCacheOf, 'buildpacks', 'slugc_nodejs');
      fs.mkdirSync(to, { recursive: true });
      run('cp', ['-al', npmCache, path.join(to, 'npm-cache')]);
    }
  }
  return dir;
}

/** A copy of the app under `work` (the benchmarks edit copies, never the fixture). */
export function copyApp(appSrc: string, work: string, name: string): string {
  const d = path.join(work, name);
  fs.cpSync(appSrc, d, { recursive: true });
  return d;
}
