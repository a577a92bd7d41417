/**
 * The build log: Heroku's conventions (`-----> Title`, bodies indented 7
 * spaces, ` !     ` for warnings and errors on stderr), colour per line when
 * the stream is a TTY and `NO_COLOR` is unset, a JSON event stream for tools,
 * and progress lines for long work on a TTY.
 */

/** One thing that happened during a build, for tools (`onEvent`, `--json`). */
export type BuildEvent =
  | { type: 'step'; message: string }
  | { type: 'info'; message: string }
  | { type: 'warn'; message: string }
  | { type: 'error'; message: string }
  | { type: 'output'; message: string }
  | { type: 'progress'; id: string; label: string; done: number; total: number | null }
  | { type: 'stage'; stage: string; status: 'start' | 'end'; ms?: number };

/** Where log lines go: a sink the library writes to and nothing else. */
export interface Logger {
  /** A `-----> Title` header. */
  step(title: string): void;
  /** A body line, indented 7 spaces. */
  info(message: string): void;
  /** A ` !     ` warning on stderr. */
  warn(message: string): void;
  /** A ` !     ` error on stderr. */
  error(message: string): void;
  /** A line a command printed, indented 7 spaces. */
  output(line: string): void;
  /** A line printed as it is (classic buildpacks format their own output); `err` lines go to stderr. */
  raw(line: string, stream?: 'out' | 'err'): void;
  /** Progress of long work; shown only on a TTY, always sent as an event. */
  progress(id: string, label: string, done: number, total: number | null): void;
  /** Ends a progress line (on a TTY, moves to a new line). */
  progressDone(id: string): void;
  /** Any other event, passed to `onEvent` only. */
  event(e: BuildEvent): void;
  /** Adds values that must never appear in the log; they print as `[secret]`. */
  redact(values: Iterable<string> | string): void;
  /** `text` with every redacted value replaced by `[secret]` (for errors that quote output). */
  scrub(text: string): string;
  /** Everything printed so far, as plain text (no colour). */
  text(): string;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Where step, info and output lines go; default: nowhere. */
  stdout?: NodeJS.WritableStream;
  /** Where warnings and errors go; default: `stdout`. */
  stderr?: NodeJS.WritableStream;
  /** Colour lines; default: stdout is a TTY and `NO_COLOR` is unset. */
  color?: boolean;
  /** Show progress lines; default: stdout is a TTY. */
  progress?: boolean;
  /** Print only warnings and errors. */
  quiet?: boolean;
  /** Receives every event. */
  onEvent?: (e: BuildEvent) => void;
}

const INDENT = '       ';
const WARN = ' !     ';
const MIN_SECRET_LENGTH = 4; // shorter values would redact ordinary words

/** Creates a {@link Logger}. With no options it only records text and events. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const out = options.stdout;
  const err = options.stderr ?? out;
  const isTty = Boolean(out && (out as { isTTY?: boolean }).isTTY);
  const color = options.color ?? (isTty && !process.env.NO_COLOR);
  const showProgress = options.progress ?? isTty;
  const quiet = options.quiet ?? false;
  const secrets = new Set<string>();
  const lines: string[] = [];
  let progressOpen = false;
  let lastProgressAt = 0;

  const scrub = (s: string): string => {
    let r = s;
    for (const v of secrets) if (r.includes(v)) r = r.split(v).join('[secret]');
    return r;
  };
  const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const endProgress = () => {
    if (progressOpen && out) out.write('\n');
    progressOpen = false;
  };
  const emit = (e: BuildEvent) => options.onEvent?.(e);
  const write = (stream: NodeJS.WritableStream | undefined, plain: string, painted: string, always: boolean) => {
    lines.push(plain);
    if (!stream || (quiet && !always)) return;
    endProgress();
    stream.write(painted + '\n');
  };

  return {
    step(title) {
      const m = scrub(title);
      write(out, `-----> ${m}`, paint('1;36', `-----> ${m}`), false);
      emit({ type: 'step', message: m });
    },
    info(message) {
      for (const l of scrub(message).split('\n')) {
        write(out, INDENT + l, INDENT + l, false);
        emit({ type: 'info', message: l });
      }
    },
    output(line) {
      const l = scrub(line);
      write(out, INDENT + l, INDENT + l, false);
      emit({ type: 'output', message: l });
    },
    raw(line, stream = 'out') {
      const l = scrub(line);
      write(stream === 'err' ? err : out, l, l, stream === 'err');
      emit({ type: 'output', message: l });
    },
    warn(message) {
      for (const l of scrub(message).split('\n')) {
        write(err, WARN + l, paint('33', WARN + l), true);
        emit({ type: 'warn', message: l });
      }
    },
    error(message) {
      for (const l of scrub(message).split('\n')) {
        write(err, WARN + l, paint('31', WARN + l), true);
        emit({ type: 'error', message: l });
      }
    },
    progress(id, label, done, total) {
      emit({ type: 'progress', id, label, done, total });
      if (!showProgress || quiet || !out) return;
      const now = Date.now();
      if (now - lastProgressAt < 100 && total !== null && done < total) return;
      lastProgressAt = now;
      const pct = total ? ` ${Math.floor((done / total) * 100)}%` : '';
      out.write(`\r\x1b[2K${INDENT}${label}${pct} (${formatBytes(done)}${total ? ` of ${formatBytes(total)}` : ''})`);
      progressOpen = true;
    },
    progressDone() {
      endProgress();
    },
    event(e) {
      emit(e);
    },
    scrub(text) {
      return scrub(text);
    },
    redact(values) {
      // One string is one secret, not the characters it is made of.
      for (const v of typeof values === 'string' ? [values] : values) if (v.length >= MIN_SECRET_LENGTH) secrets.add(v);
    },
    text() {
      return lines.join('\n') + (lines.length ? '\n' : '');
    },
  };
}

/** Formats a byte count the way the log shows sizes (`12.3M`). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)}K`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)}M`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)}G`;
}
