/**
 * One pack in a process of its own, for the packaging benchmark
 * (package.bench.ts): `node dist/benchmarks/package-child.js '<json spec>'`.
 * It loads only what it packs with (slugc's packer from dist, or the npm
 * `tar` package), so its whole wall time is what a user would see of a
 * packer, Node's start-up included. Prints one line of JSON.
 */

interface Spec {
  tool: 'slugc' | 'npm-tar';
  dir: string;
  output: string;
  mtime: number;
  level?: number;
  segmentCache?: string;
}

/** What the child reports. */
export interface ChildReport {
  /** Seconds inside the pack call. */
  seconds: number;
  size: number;
  /** Peak RSS of the process, main thread and workers together, in KiB. */
  maxRssKiB: number;
  segments?: number;
  segmentsSpliced?: number;
  bytesSpliced?: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
const t0 = performance.now();
let report: ChildReport;
if (spec.tool === 'npm-tar') {
  const tar = await import('tar');
  const fs = await import('node:fs');
  await tar.c({ gzip: true, portable: true, cwd: spec.dir, file: spec.output }, ['.']);
  report = { seconds: (performance.now() - t0) / 1000, size: fs.statSync(spec.output).size, maxRssKiB: process.resourceUsage().maxRSS };
} else {
  const { packDirectory } = await import('../src/slug/pack.js');
  const r = await packDirectory({
    dir: spec.dir,
    output: spec.output,
    mtime: spec.mtime,
    level: spec.level ?? 6,
    ...(spec.segmentCache !== undefined ? { segmentCache: spec.segmentCache } : {}),
  });
  report = {
    seconds: (performance.now() - t0) / 1000,
    size: r.size,
    maxRssKiB: process.resourceUsage().maxRSS,
    segments: r.segments,
    segmentsSpliced: r.segmentsSpliced,
    bytesSpliced: r.bytesSpliced,
  };
}
process.stdout.write(JSON.stringify(report) + '\n');
