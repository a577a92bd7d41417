import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * Removing a build dir (tens of thousands of links and files) is not on the
 * way to the slug: it is renamed into a trash dir, which costs one rename,
 * and emptied by a worker thread in the background. The worker is unref'd:
 * a process that is done exits without waiting for it, and what it left is
 * emptied by the next build of the same app. The next build also removes
 * whatever is beyond the last few entries at once, so the trash is bounded.
 */

/** The code of the sweeper thread: empties `workerData.dir` entry by entry; vanished entries are fine. */
const SWEEPER = `
const fs = require('node:fs');
const path = require('node:path');
const { workerData } = require('node:worker_threads');
const remove = (p) => {
  let entries;
  try {
    entries = fs.readdirSync(p, { withFileTypes: true });
  } catch (e) {
    if (e.code === 'ENOTDIR') { try { fs.unlinkSync(p); } catch {} }
    return;
  }
  for (const e of entries) {
    const c = path.join(p, e.name);
    if (e.isDirectory()) remove(c);
    else try { fs.unlinkSync(c); } catch {}
  }
  try { fs.rmdirSync(p); } catch {}
};
let names = [];
try { names = fs.readdirSync(workerData.dir); } catch {}
for (const n of names) remove(path.join(workerData.dir, n));
`;

const sweeping = new Map<string, Worker>();

/** Starts emptying `trashDir` on a background thread, unless one already does in this process. */
export function sweepInBackground(trashDir: string): void {
  if (sweeping.has(trashDir)) return;
  let worker: Worker;
  try {
    worker = new Worker(SWEEPER, { eval: true, workerData: { dir: trashDir } });
  } catch {
    return; // no threads left: the next build sweeps
  }
  sweeping.set(trashDir, worker);
  worker.unref();
  const done = () => sweeping.delete(trashDir);
  worker.on('exit', done);
  worker.on('error', done);
}

/** Waits for this process's sweepers to finish (tests, and callers that want a quiet disk). */
export async function backgroundSweepsDone(): Promise<void> {
  await Promise.all([...sweeping.values()].map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve()))));
}

/**
 * Moves `dir` into `trashDir` (same filesystem: one rename) and starts the
 * sweeper. Returns false when it could not be moved; the caller removes it.
 */
export function moveToTrash(dir: string, trashDir: string): boolean {
  try {
    fs.mkdirSync(trashDir, { recursive: true });
    fs.renameSync(dir, path.join(trashDir, `${path.basename(dir)}-${process.pid}-${Date.now().toString(36)}`));
  } catch {
    return false;
  }
  sweepInBackground(trashDir);
  return true;
}

/**
 * Keeps the trash bounded: removes at once all but the `keep` newest entries
 * (left by processes that exited before their sweeper finished), then sweeps
 * the rest in the background.
 */
export function boundTrash(trashDir: string, keep = 2): void {
  let names: string[];
  try {
    names = fs.readdirSync(trashDir);
  } catch {
    return;
  }
  if (!names.length) return;
  const byAge = names
    .map((n) => {
      try {
        return { n, t: fs.lstatSync(path.join(trashDir, n)).mtimeMs };
      } catch {
        return { n, t: 0 };
      }
    })
    .sort((a, b) => b.t - a.t);
  for (const { n } of byAge.slice(keep)) fs.rmSync(path.join(trashDir, n), { recursive: true, force: true, maxRetries: 2 });
  sweepInBackground(trashDir);
}
