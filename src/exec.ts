import { spawn } from 'node:child_process';
import { CommandFailedError, SlugcError } from './errors.js';
import type { Logger } from './log.js';
import { TAIL_LINES, outputTail } from './text.js';

/** Options of one {@link ExecFn} call. */
export interface ExecOptions {
  /** Working directory; default: the app dir. */
  cwd?: string;
  /** Extra env vars on top of the build env. */
  env?: Record<string, string | undefined>;
  /** Do not stream the output to the log (it is still kept for errors). */
  quiet?: boolean;
  /** Kill the command after this many ms. */
  timeoutMs?: number;
  /** Hint shown when the command fails. */
  hint?: string;
  /** Print output lines as they are, not indented (for tools that format their own, like classic buildpacks). */
  raw?: boolean;
}

/** What a finished command printed. */
export interface ExecResult {
  /** Everything it printed on stdout. */
  stdout: string;
  /** Everything it printed on stderr. */
  stderr: string;
}

/**
 * Runs a command (no shell), streams its output into the build log indented,
 * and throws a {@link CommandFailedError} with the tail of its output when it
 * exits non-zero.
 */
export type ExecFn = (command: string, args: string[], options?: ExecOptions) => Promise<ExecResult>;

/** How many output lines a failure shows. */
/** How much stdout/stderr a result keeps in memory; the log gets all of it. */
const MAX_CAPTURE = 4 * 1024 * 1024;

/** What {@link createExec} needs. */
export interface CreateExecOptions {
  log: Logger;
  cwd: string;
  env: Record<string, string>;
  signal?: AbortSignal;
}

/** Creates the `exec` a buildpack gets in its context. */
export function createExec(base: CreateExecOptions): ExecFn {
  return (command, args, options = {}) =>
    new Promise<ExecResult>((resolve, reject) => {
      if (base.signal?.aborted) {
        reject(new SlugcError('SLUGC_ABORTED', `Couldn't run ${command}: the build was aborted.`));
        return;
      }
      const env: Record<string, string> = { ...base.env };
      for (const [k, v] of Object.entries(options.env ?? {})) {
        if (v === undefined) delete env[k];
        else env[k] = v;
      }
      const display = [command, ...args].join(' ');
      const child = spawn(command, args, {
        cwd: options.cwd ?? base.cwd,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // own process group, so a timeout or abort kills its children too
      });
      let stdout = '';
      let stderr = '';
      const tail: string[] = [];
      const partial = { out: '', err: '' };
      const onLine = (line: string, which: 'out' | 'err') => {
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        if (options.quiet) return;
        if (options.raw) base.log.raw(line, which);
        else base.log.output(line);
      };
      const feed = (which: 'out' | 'err', chunk: Buffer) => {
        const s = chunk.toString('utf8');
        if (which === 'out' && stdout.length < MAX_CAPTURE) stdout += s;
        if (which === 'err' && stderr.length < MAX_CAPTURE) stderr += s;
        const text = partial[which] + s;
        const parts = text.split(/\r?\n/);
        partial[which] = parts.pop() ?? '';
        for (const p of parts) onLine(p, which);
      };
      child.stdout.on('data', (c: Buffer) => feed('out', c));
      child.stderr.on('data', (c: Buffer) => feed('err', c));
      let killedBy: string | null = null;
      const kill = (why: string) => {
        killedBy = why;
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      };
      const timer = options.timeoutMs ? setTimeout(() => kill('timeout'), options.timeoutMs) : undefined;
      const onAbort = () => kill('abort');
      base.signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', (e: NodeJS.ErrnoException) => {
        if (timer) clearTimeout(timer);
        base.signal?.removeEventListener('abort', onAbort);
        reject(
          new SlugcError('SLUGC_COMMAND_FAILED', `Couldn't start \`${display}\`: ${e.code === 'ENOENT' ? 'command not found' : e.message}.`, {
            hint: 'Check that the buildpack installed the tool before running it.',
            cause: e,
          }),
        );
      });
      child.on('close', (code, sig) => {
        if (timer) clearTimeout(timer);
        base.signal?.removeEventListener('abort', onAbort);
        for (const w of ['out', 'err'] as const) if (partial[w]) onLine(partial[w], w);
        if (code === 0) {
          resolve({ stdout, stderr });
          return;
        }
        if (killedBy === 'abort') {
          reject(new SlugcError('SLUGC_ABORTED', `Couldn't finish \`${display}\`: the build was aborted.`));
          return;
        }
        const hint = killedBy === 'timeout' ? `It ran longer than ${options.timeoutMs} ms and was killed.` : options.hint;
        // The tail goes into the error (and --json output): secrets out, as in the log.
        reject(new CommandFailedError(base.log.scrub(display), code, sig, base.log.scrub(outputTail(tail.join('\n'))), hint));
      });
    });
}
