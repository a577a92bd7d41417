import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/cache/lock.js';
import { createLogger } from '../../src/index.js';
import { cleanup, tempDir } from 'slugc/testing';

afterEach(cleanup);

describe('the cache lock', () => {
  it('makes a second build wait, saying so, until the first releases it', async () => {
    const dir = path.join(tempDir(), 'apps', 'x');
    const first = await acquireLock(dir);
    const log = createLogger();
    let got = false;
    const second = acquireLock(dir, { log, pollMs: 20 }).then((l) => {
      got = true;
      return l;
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(got).toBe(false);
    expect(log.text()).toMatch(/Waiting for another build using this cache \(process \d+/);
    first.release();
    (await second).release();
    expect(got).toBe(true);
  });

  it('takes over a lock left by a process that no longer exists', async () => {
    const dir = path.join(tempDir(), 'x');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    fs.mkdirSync(`${dir}.lock`, { recursive: true });
    fs.writeFileSync(path.join(`${dir}.lock`, 'owner.json'), JSON.stringify({ pid: Number(dead.stdout), host: os.hostname(), since: 'then' }));
    const log = createLogger();
    const lock = await acquireLock(dir, { log, timeoutMs: 2000 });
    expect(log.text()).toMatch(/stale cache lock left by process \d+/);
    lock.release();
    expect(fs.existsSync(`${dir}.lock`)).toBe(false);
  });

  it('gives up after the timeout with a code and a hint', async () => {
    const dir = path.join(tempDir(), 'x');
    const held = await acquireLock(dir);
    await expect(acquireLock(dir, { timeoutMs: 100, pollMs: 20 })).rejects.toMatchObject({ code: 'SLUGC_CACHE_LOCKED', hint: expect.stringMatching(/remove .*\.lock/) });
    held.release();
  });
});
