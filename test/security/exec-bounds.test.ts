// What a command run through exec can do to the build: print without end,
// leave processes behind, hold its output open past its timeout. Each is
// bounded in time, memory and the size of the error it becomes.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createExec } from '../../src/exec.js';
import { createLogger, type SlugcError } from '../../src/index.js';
import { alive, gone, killRecorded, pidFile } from '../support/processes.js';
import { cleanup, tempDir } from 'slugc/testing';

afterEach(async () => {
  killRecorded();
  await cleanup();
});

const readPid = (f: string) => Number(fs.readFileSync(f, 'utf8').trim());
const exec = (log = createLogger()) => createExec({ log, cwd: tempDir(), env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });

describe('exec output', () => {
  it('splits 50 MB printed without a newline in linear time, and logs one line cut at 64 KiB with the cut marked', { timeout: 60_000 }, async () => {
    const log = createLogger();
    const started = Date.now();
    const r = await exec(log)('sh', ['-c', "head -c 50000000 /dev/zero | tr '\\0' a"]);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.truncated).toBe(true);
    expect(r.stdout.length).toBe(4 * 1024 * 1024);
    const lines = log.text().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBeLessThan(70 * 1024);
    expect(lines[0]).toMatch(/^ {7}a{65536}… \[\d+ more characters not shown\]$/);
  });

  it('turns a failing command with one 5 MB line into an error of a few KB, keeping the end of the line', { timeout: 60_000 }, async () => {
    const err = (await exec()('sh', ['-c', "head -c 5000000 /dev/zero | tr '\\0' a; printf 'THE-END'; exit 1"]).catch((e: unknown) => e)) as SlugcError;
    expect(err.code).toBe('SLUGC_COMMAND_FAILED');
    expect(err.message.length).toBeLessThan(20_000);
    expect(JSON.stringify(err.toJSON()).length).toBeLessThan(20_000);
    expect(err.message).toMatch(/…a+THE-END$/);
  });

  it('keeps the error tail bounded by lines and bytes, and shows the last lines', { timeout: 60_000 }, async () => {
    const err = (await exec()('sh', ['-c', 'i=0; while [ $i -lt 2000 ]; do echo "line $i $(printf "%0500d" 0)"; i=$((i+1)); done; echo last; exit 2']).catch((e: unknown) => e)) as SlugcError;
    expect(err.code).toBe('SLUGC_COMMAND_FAILED');
    expect(err.message.length).toBeLessThan(12_000);
    expect(err.message).toMatch(/line 1999 0+\n\s+last$/);
  });

  it('says when the captured output was cut, and never when it was not', { timeout: 60_000 }, async () => {
    const big = await exec()('sh', ['-c', "head -c 5000000 /dev/zero | tr '\\0' b >&2; echo small"], { quiet: true });
    expect(big).toMatchObject({ stdout: 'small\n', truncated: true });
    expect(Buffer.byteLength(big.stderr)).toBe(4 * 1024 * 1024);
    const small = await exec()('sh', ['-c', 'echo hi; echo there >&2'], { quiet: true });
    expect(small).toEqual({ stdout: 'hi\n', stderr: 'there\n', truncated: false });
  });

  it('decodes characters and CRLF line ends split across chunks', { timeout: 60_000 }, async () => {
    const log = createLogger();
    const r = await exec(log)('bash', ['-c', "printf 'price \\xe2\\x82'; sleep 0.2; printf '\\xac 5\\r'; sleep 0.2; printf '\\nnext\\r\\n'"]);
    expect(r.stdout).toBe('price € 5\r\nnext\r\n');
    expect(log.text()).toBe('       price € 5\n       next\n');
  });
});

describe('exec processes', () => {
  it('leaves no process of the command\'s group running once it returned, whether it succeeded or failed', { timeout: 60_000 }, async () => {
    for (const exit of [0, 1]) {
      const f = pidFile();
      const started = Date.now();
      const run = exec()('bash', ['-c', `sleep 300 & echo $! > ${f}; echo started; exit ${exit}`]);
      if (exit) await expect(run).rejects.toMatchObject({ code: 'SLUGC_COMMAND_FAILED' });
      else await expect(run).resolves.toMatchObject({ stdout: 'started\n' });
      // The sleep held stdout open: exec used to wait for it (300 s).
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await gone(readPid(f)), `exit ${exit}`).toBe(true);
    }
  });

  it('stops waiting for output a process in another session holds open, once the command exited', { timeout: 60_000 }, async () => {
    const f = pidFile();
    const started = Date.now();
    const log = createLogger();
    // It waits (a bounded while) until the other session is up: else the group kill at its exit could stop it first.
    const r = await exec(log)('bash', ['-c', `setsid sh -c 'echo $$ > ${f}; exec sleep 300' & for i in $(seq 100); do [ -s ${f} ] && break; sleep 0.05; done; echo done`]);
    expect(r.stdout).toBe('done\n');
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(log.text()).toMatch(/still holds its output open; slugc stopped waiting for it/);
    expect(alive(readPid(f))).toBe(true); // out of reach of the group kill: the test's cleanup stops it
  });

  it('ends at its timeout even when a process in another session holds the output open', { timeout: 60_000 }, async () => {
    const f = pidFile();
    const started = Date.now();
    const err = (await exec()('bash', ['-c', `setsid sh -c 'echo $$ > ${f}; exec sleep 300' & sleep 300`], { timeoutMs: 1000 }).catch((e: unknown) => e)) as SlugcError;
    expect(err).toMatchObject({ code: 'SLUGC_COMMAND_FAILED', hint: expect.stringMatching(/ran longer than 1000 ms/) });
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});
