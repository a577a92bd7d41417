import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { CommandFailedError, SlugcError } from './errors.js';
import type { Logger } from './log.js';
import { TAIL_BYTES, TAIL_LINES, outputTail } from './text.js';

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
  /** What it printed on stdout, up to {@link MAX_CAPTURE} bytes. */
  stdout: string;
  /** What it printed on stderr, up to {@link MAX_CAPTURE} bytes. */
  stderr: string;
  /**
   * True when stdout or stderr was longer than {@link MAX_CAPTURE} and was
   * cut: never parse such output (the log still got all of it). Fakes may
   * leave it out, which means false.
   */
  truncated?: boolean;
}

/**
 * Runs a command (no shell), streams its output into the build log indented,
 * and throws a {@link CommandFailedError} with the tail of its output when it
 * exits non-zero. When it ends, whatever else is left in its process group
 * is killed.
 */
export type ExecFn = (command: string, args: string[], options?: ExecOptions) => Promise<ExecResult>;

/** How much stdout/stderr a result keeps in memory; the log gets all of it. */
export const MAX_CAPTURE = 4 * 1024 * 1024;
/** The longest line the log shows; the rest is cut and the cut marked (a 50 MB line would otherwise be 50 MB of log). */
export const MAX_LINE = 64 * 1024;
/**
 * How long to wait for a command's output pipes once it exited or was
 * killed: a process it started in a session of its own (`setsid`) is not in
 * the killed group and may hold them open forever.
 */
const PIPE_GRACE_MS = 2_000;

/** What {@link createExec} needs. */
export interface CreateExecOptions {
  log: Logger;
  cwd: string;
  env: Record<string, string>;
  signal?: AbortSignal;
}

/** How a command run by {@link runCommand} ended, and what it printed. */
export interface CommandOutcome {
  /** Stdout, up to {@link MAX_CAPTURE} bytes. */
  stdout: string;
  /** Stderr, up to {@link MAX_CAPTURE} bytes. */
  stderr: string;
  /** True when stdout or stderr was cut. */
  truncated: boolean;
  /** True when stdout was cut at {@link MAX_CAPTURE}. */
  stdoutTruncated: boolean;
  /** True when stderr was cut at {@link MAX_CAPTURE}. */
  stderrTruncated: boolean;
  /** Exit code, or null when it was killed by a signal. */
  code: number | null;
  /** The signal that killed it, if one did. */
  signal: NodeJS.Signals | null;
  /** Set when slugc killed it. */
  killedBy: 'timeout' | 'abort' | null;
  /** Its last lines (stdout and stderr as they came), bounded in lines and bytes; not yet scrubbed. */
  tail: string;
}

/**
 * Splits a stream into lines in time linear in its length, however it is
 * chunked: only new text is searched for newlines, a line's pieces are
 * joined once, characters split across chunks are decoded whole, and a line
 * longer than {@link MAX_LINE} keeps its start for the log and its end for
 * the error tail, the rest only counted.
 */
class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private parts: string[] = [];
  private kept = 0;
  private cut = 0;
  private end = '';

  /** `onLine(shown, tail)`: the line as the log shows it, and as the error tail keeps it. */
  constructor(private readonly onLine: (shown: string, tail: string) => void) {}

  write(chunk: Buffer): void {
    this.take(this.decoder.write(chunk));
  }

  /** Flushes the last line, which may have no newline. */
  finish(): void {
    this.take(this.decoder.end());
    if (this.kept || this.cut) this.flush();
  }

  private take(s: string): void {
    let from = 0;
    for (let nl = s.indexOf('\n'); nl >= 0; nl = s.indexOf('\n', from)) {
      this.add(s, from, nl);
      this.flush();
      from = nl + 1;
    }
    this.add(s, from, s.length);
  }

  private add(s: string, from: number, to: number): void {
    if (to <= from) return;
    const room = MAX_LINE - this.kept;
    if (room > 0) {
      const piece = s.slice(from, Math.min(to, from + room));
      this.parts.push(piece);
      this.kept += piece.length;
    }
    const over = to - from - Math.max(room, 0);
    if (over > 0) {
      this.cut += over;
      // Only the last TAIL_BYTES characters of the line can reach an error.
      const last = s.slice(Math.max(to - TAIL_BYTES, to - over), to);
      this.end = last.length >= TAIL_BYTES ? last : (this.end + last).slice(-TAIL_BYTES);
    }
  }

  private flush(): void {
    let head = this.parts.join('');
    let end = this.end;
    let cut = this.cut;
    if (cut && end.endsWith('\r')) {
      end = end.slice(0, -1);
      cut--;
    } else if (!cut && head.endsWith('\r')) head = head.slice(0, -1);
    this.parts = [];
    this.kept = 0;
    this.cut = 0;
    this.end = '';
    if (!cut) this.onLine(head, head);
    else this.onLine(`${head}… [${cut} more characters not shown]`, `…${(head + end).slice(-TAIL_BYTES)}`);
  }
}

/** Keeps the first {@link MAX_CAPTURE} bytes of a stream, and whether there was more. */
class Capture {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  truncated = false;

  add(chunk: Buffer): void {
    const room = MAX_CAPTURE - this.bytes;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.bytes += kept.length;
  }

  text(): string {
    return Buffer.concat(this.chunks, this.bytes).toString('utf8');
  }
}

/**
 * The last non-blank lines of a command's output, kept small as it runs:
 * never more than {@link TAIL_LINES} lines, and old lines go once the newer
 * ones alone fill {@link TAIL_BYTES}.
 */
class Tail {
  private readonly lines: string[] = [];
  private size = 0;

  add(line: string): void {
    if (!line.trim()) return;
    const l = line.length > TAIL_BYTES ? `…${line.slice(-TAIL_BYTES)}` : line;
    this.lines.push(l);
    this.size += l.length + 1;
    while (this.lines.length > TAIL_LINES || (this.lines.length > 1 && this.size - this.lines[0]!.length - 1 >= TAIL_BYTES)) {
      this.size -= this.lines.shift()!.length + 1;
    }
  }

  text(): string {
    return outputTail(this.lines.join('\n'));
  }
}

/**
 * Runs a command (no shell) in its own process group and reports how it
 * ended, whatever the exit code: the build log gets its output as lines (a
 * line cut at {@link MAX_LINE}); stdout and stderr are kept up to
 * {@link MAX_CAPTURE} each, with a flag when cut. Once it exits (or is
 * killed at `timeoutMs` or on abort) the rest of its process group is
 * killed, so nothing it started outlives it, and its output pipes are
 * waited for at most {@link PIPE_GRACE_MS}. Rejects only when it could not
 * start. {@link createExec} is this plus an error for a non-zero exit.
 */
export function runCommand(base: CreateExecOptions, command: string, args: string[], options: ExecOptions = {}): Promise<CommandOutcome> {
  return new Promise<CommandOutcome>((resolve, reject) => {
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
    let settled = false;
    let killedBy: 'timeout' | 'abort' | null = null;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let grace: NodeJS.Timeout | undefined;
    const capture = { out: new Capture(), err: new Capture() };
    const tail = new Tail();
    const lines = {
      out: new LineSplitter((shown, kept) => onLine(shown, kept, 'out')),
      err: new LineSplitter((shown, kept) => onLine(shown, kept, 'err')),
    };
    function onLine(shown: string, kept: string, which: 'out' | 'err'): void {
      tail.add(kept);
      if (options.quiet) return;
      if (options.raw) base.log.raw(shown, which);
      else base.log.output(shown);
    }
    const feed = (which: 'out' | 'err', chunk: Buffer) => {
      if (settled) return;
      capture[which].add(chunk);
      lines[which].write(chunk);
    };
    child.stdout.on('data', (c: Buffer) => feed('out', c));
    child.stderr.on('data', (c: Buffer) => feed('err', c));

    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* the group is already empty */
      }
    };
    // From the exit (or the kill) on, the pipes get a short grace: a process in
    // another session holding them must not keep the build waiting.
    const startGrace = () => {
      grace ??= setTimeout(() => {
        base.log.warn(`Something \`${base.log.scrub(display)}\` started in a session of its own still holds its output open; slugc stopped waiting for it (it may still be running).`);
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, PIPE_GRACE_MS);
    };
    const kill = (why: 'timeout' | 'abort') => {
      killedBy ??= why;
      killGroup();
      startGrace();
    };
    const timer = options.timeoutMs ? setTimeout(() => kill('timeout'), options.timeoutMs) : undefined;
    const onAbort = () => kill('abort');
    base.signal?.addEventListener('abort', onAbort, { once: true });
    const stop = () => {
      settled = true;
      if (timer) clearTimeout(timer);
      if (grace) clearTimeout(grace);
      base.signal?.removeEventListener('abort', onAbort);
    };
    const finish = () => {
      if (settled) return;
      stop();
      lines.out.finish();
      lines.err.finish();
      resolve({
        stdout: capture.out.text(),
        stderr: capture.err.text(),
        truncated: capture.out.truncated || capture.err.truncated,
        stdoutTruncated: capture.out.truncated,
        stderrTruncated: capture.err.truncated,
        // Not exited by the end of the grace after a kill: report it as killed.
        code: exit ? exit.code : null,
        signal: exit ? exit.signal : 'SIGKILL',
        killedBy,
        tail: tail.text(),
      });
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (settled) return;
      stop();
      killGroup();
      reject(
        new SlugcError('SLUGC_COMMAND_FAILED', `Couldn't start \`${base.log.scrub(display)}\`: ${e.code === 'ENOENT' ? 'command not found' : e.message}.`, {
          hint: 'Check that the buildpack installed the tool before running it.',
          cause: e,
        }),
      );
    });
    child.on('exit', (code, sig) => {
      exit = { code, signal: sig };
      if (timer) clearTimeout(timer); // it ended in time
      // Whatever it left running in its group (`cmd &`) goes with it, success or not.
      killGroup();
      startGrace();
    });
    child.on('close', () => finish());
  });
}

/** The error a command that did not exit 0 becomes: the tail of its output, secrets scrubbed. */
export function commandFailure(log: Logger, command: string, args: string[], outcome: CommandOutcome, options: Pick<ExecOptions, 'timeoutMs' | 'hint'> = {}): SlugcError {
  const display = [command, ...args].join(' ');
  if (outcome.killedBy === 'abort') return new SlugcError('SLUGC_ABORTED', `Couldn't finish \`${log.scrub(display)}\`: the build was aborted.`);
  const hint = outcome.killedBy === 'timeout' ? `It ran longer than ${options.timeoutMs} ms and was killed.` : options.hint;
  // The tail goes into the error (and --json output): secrets out, as in the log.
  return new CommandFailedError(log.scrub(display), outcome.code, outcome.signal, log.scrub(outcome.tail), hint);
}

/** Creates the `exec` a buildpack gets in its context. */
export function createExec(base: CreateExecOptions): ExecFn {
  return async (command, args, options = {}) => {
    const outcome = await runCommand(base, command, args, options);
    if (outcome.code !== 0 || outcome.killedBy) throw commandFailure(base.log, command, args, outcome, options);
    return { stdout: outcome.stdout, stderr: outcome.stderr, truncated: outcome.truncated };
  };
}
