import { readAppFile } from '../fs/app-file.js';

/** One place a version request may come from. */
export interface VersionRequestFile {
  /** The file, relative to the app, e.g. `.python-version`. */
  file: string;
  /** Takes the request out of the file's text; undefined when the file names none. May throw a `ConfigFileError`. */
  read(text: string, file: string): string | undefined;
  /** How the log names it, e.g. `requires-python in pyproject.toml` (default: the file name). */
  label?: string;
}

/** A version request and where it came from. */
export interface VersionRequest {
  /** The request, e.g. `3.11` or `>=3.9,<3.13`; undefined when no file has one. */
  request?: string;
  /** Where it came from, e.g. `.python-version`. */
  from?: string;
}

/**
 * The version request from the first of several files that has one, in the
 * order given, naming that file; `{}` when none has. Files are read with
 * `readAppFile` (never through a link out of the app). Pass the result to
 * `installRuntimeLayer` (as `request` and `requestFrom`), whose trace names
 * the file in the log.
 */
export function requestFrom(appDir: string, files: readonly VersionRequestFile[]): VersionRequest {
  for (const f of files) {
    const text = readAppFile(appDir, f.file);
    if (text === null) continue;
    const request = f.read(text, f.file)?.trim();
    if (request) return { request, from: f.label ?? f.file };
  }
  return {};
}

/** Reads a file that holds just a version (`.python-version`, `.ruby-version`, `.nvmrc`): the first line that is not a comment. */
export function firstLine(text: string): string | undefined {
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/#.*/, '').trim())
    .find(Boolean);
}
