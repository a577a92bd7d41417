/**
 * Every error slugc raises on purpose is a {@link SlugcError}: a stable `code`
 * callers can branch on, a message that says what could not be done, and a
 * `hint` that says what to do about it.
 */

import { indentLines } from './text.js';

/** The codes slugc's core raises. docs/errors.md lists each with its meaning. */
export type CoreErrorCode =
  | 'SLUGC_USAGE'
  | 'SLUGC_SOURCE_NOT_FOUND'
  | 'SLUGC_INVALID_INPUT'
  | 'SLUGC_NO_BUILDPACK'
  | 'SLUGC_BUILDPACK_LOAD'
  | 'SLUGC_BUILDPACK_FAILED'
  | 'SLUGC_PROCFILE_INVALID'
  | 'SLUGC_VERSION_UNSATISFIABLE'
  | 'SLUGC_REGISTRY'
  | 'SLUGC_DOWNLOAD_FAILED'
  | 'SLUGC_OFFLINE'
  | 'SLUGC_CACHE_LOCKED'
  | 'SLUGC_INVENTORY_INVALID'
  | 'SLUGC_CHECKSUM_MISMATCH'
  | 'SLUGC_UNSAFE_ARCHIVE_PATH'
  | 'SLUGC_COMMAND_FAILED'
  | 'SLUGC_SLUG_TOO_LARGE'
  | 'SLUGC_PACKAGE_FAILED'
  | 'SLUGC_ENV_INVALID'
  | 'SLUGC_ABORTED'
  | 'SLUGC_UNSAFE_APP_FILE'
  | 'SLUGC_CONFIG_INVALID'
  | 'SLUGC_LOCKFILE_CONFLICT'
  | 'SLUGC_APP_DIR_INVALID';

/**
 * A stable error code: one of the core's, or a buildpack's own (upper case
 * words joined by `_`, prefixed with the buildpack's name, e.g.
 * `SLUGC_NODEJS_PACKAGE_JSON_INVALID` or `ACME_PHP_EXTENSION_MISSING`). A
 * buildpack needs no change to the core to have codes of its own.
 */
export type ErrorCode = CoreErrorCode | (string & {});

/** The shape every error code has. */
export const ERROR_CODE_PATTERN = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/;

/** Marks slugc errors across copies of the library (a buildpack may bundle its own). */
const BRAND = Symbol.for('slugc.error');

/** Options every {@link SlugcError} takes. */
export interface SlugcErrorOptions {
  /** What the user should do about it. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
  /** Extra machine-readable details, included in `--json` output. */
  details?: Record<string, unknown>;
}

/** The base class of every error slugc raises on purpose. */
export class SlugcError extends Error {
  /** A stable code, e.g. `SLUGC_CHECKSUM_MISMATCH`. */
  readonly code: ErrorCode;
  /** What to do about it. */
  readonly hint: string | undefined;
  /** Machine-readable details. */
  readonly details: Record<string, unknown>;
  /** The stage that failed, set by the build when it wraps the error. */
  stage: Stage | undefined;
  /** The buildpack that failed, set by the build when it wraps the error. */
  buildpack: string | undefined;

  constructor(code: ErrorCode, message: string, options: SlugcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (!ERROR_CODE_PATTERN.test(code)) throw new TypeError(`slugc error codes are upper case words joined by _, e.g. ACME_CONFIG_INVALID; got ${JSON.stringify(code)}`);
    Object.defineProperty(this, BRAND, { value: true });
    this.name = 'SlugcError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details ?? {};
    this.stage = undefined;
    this.buildpack = undefined;
  }

  /** `instanceof SlugcError` also holds for errors of another copy of slugc (a buildpack may bundle its own). */
  static override [Symbol.hasInstance](x: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, x)) return true;
    return this === SlugcError && typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[BRAND] === true;
  }

  /** A plain object for `--json` output and events. */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      hint: this.hint,
      stage: this.stage,
      buildpack: this.buildpack,
      details: this.details,
    };
  }
}

/** The build stages, in order. */
export type Stage = 'prepare' | 'detect' | 'compile' | 'release' | 'package';

/** A command run by a buildpack exited non-zero; carries the tail of its output. */
export class CommandFailedError extends SlugcError {
  /** The command line that failed. */
  readonly command: string;
  /** Exit code, or null when killed by a signal. */
  readonly exitCode: number | null;
  /** The last lines the command printed. */
  readonly outputTail: string;

  constructor(command: string, exitCode: number | null, signal: string | null, outputTail: string, hint?: string) {
    const how = exitCode === null ? `was killed by ${signal ?? 'a signal'}` : `exited with code ${exitCode}`;
    super('SLUGC_COMMAND_FAILED', `Couldn't run \`${command}\`: it ${how}.\n${indentLines(outputTail)}`, {
      hint: hint ?? 'Read the output above; run the same command locally in the app dir to reproduce it.',
      details: { command, exitCode, signal, outputTail },
    });
    this.command = command;
    this.exitCode = exitCode;
    this.outputTail = outputTail;
  }
}

/** A version request that nothing available satisfies; lists what there is. */
export class VersionUnsatisfiableError extends SlugcError {
  /** What was asked for. */
  readonly requested: string;
  /** The versions that exist, newest first. */
  readonly available: string[];

  constructor(what: string, requested: string, available: string[], hint?: string) {
    const shown = available.slice(0, 15).join(', ') + (available.length > 15 ? `, … (${available.length} in all)` : '');
    super('SLUGC_VERSION_UNSATISFIABLE', `Couldn't find a ${what} version that satisfies "${requested}". Available: ${shown || 'none'}.`, {
      hint: hint ?? `Change the requested range to one of the available versions.`,
      details: { requested, available },
    });
    this.requested = requested;
    this.available = available;
  }
}

/** A downloaded artifact whose checksum does not match the expected one. */
export class ChecksumMismatchError extends SlugcError {
  constructor(what: string, expected: string, actual: string) {
    super('SLUGC_CHECKSUM_MISMATCH', `Couldn't verify ${what}: checksum mismatch.\n  expected ${expected}\n  actual   ${actual}`, {
      hint: 'The file was changed in transit or at its source. The download was deleted; retry, and if it persists check the registry or mirror.',
      details: { expected, actual },
    });
  }
}


/** True when `e` is a {@link SlugcError}. */
export function isSlugcError(e: unknown): e is SlugcError {
  return e instanceof SlugcError;
}

/** Turns anything thrown into a message, for logs. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Passes an error's message, hint and every string in its details (deeply)
 * through `scrub`, the log's redaction: what reaches a terminal, `--json` or
 * a caller is redacted exactly as the log is. Returns the same error.
 */
export function redactError<E extends SlugcError>(err: E, scrub: (text: string) => string): E {
  err.message = scrub(err.message);
  if (err.hint !== undefined) (err as { hint: string | undefined }).hint = scrub(err.hint);
  const seen = new WeakSet<object>();
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return scrub(v);
    if (typeof v !== 'object' || v === null || seen.has(v)) return v;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = walk(v[i]);
      return v;
    }
    for (const k of Object.keys(v)) (v as Record<string, unknown>)[k] = walk((v as Record<string, unknown>)[k]);
    return v;
  };
  walk(err.details);
  if (err instanceof CommandFailedError) {
    (err as { outputTail: string }).outputTail = scrub(err.outputTail);
    (err as { command: string }).command = scrub(err.command);
  }
  if (err.stack) err.stack = scrub(err.stack);
  return err;
}
