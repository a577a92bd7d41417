import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { parse as parseToml, TomlError } from 'smol-toml';
import { SlugcError, type ErrorCode } from '../errors.js';
import { readAppFile } from '../fs/app-file.js';
import { createRequire } from 'node:module';

/** The config formats {@link readConfigFile} reads. */
export type ConfigFormat = 'json' | 'toml' | 'ini' | 'properties' | 'yaml';

/** Where a config file is wrong: 1-based line and column. */
export interface ConfigPosition {
  line: number;
  column: number;
}

/** Options of the config readers. */
export interface ConfigFileOptions {
  /** The error code for a file that does not parse (default `SLUGC_CONFIG_INVALID`). */
  code?: ErrorCode;
  /** What to do about it (default: fix the syntax at that place). */
  hint?: string;
}

/** An INI-like file: the keys before any `[section]` are under `''`. */
export type IniData = Record<string, Record<string, string>>;

/** A config file that does not parse; says which file, line and column. */
export class ConfigFileError extends SlugcError {
  /** The file, relative to the app. */
  readonly file: string;
  /** Where, when known. */
  readonly position: ConfigPosition | undefined;

  constructor(file: string, reason: string, position: ConfigPosition | undefined, options: ConfigFileOptions = {}) {
    const where = position ? ` at line ${position.line}, column ${position.column}` : '';
    super(options.code ?? 'SLUGC_CONFIG_INVALID', `Couldn't parse ${file}${where}: ${reason}`, {
      hint: options.hint ?? `Fix ${file}${position ? ` at line ${position.line}` : ''}.`,
      details: { file, ...(position ?? {}) },
    });
    this.file = file;
    this.position = position;
  }
}

/** 1-based line and column of a character offset. */
export function positionAt(text: string, offset: number): ConfigPosition {
  const before = text.slice(0, Math.max(0, offset));
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/** jsonc-parser's error names, in words. */
const JSON_ERRORS: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a property name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected ":"',
  CommaExpected: 'expected ","',
  CloseBraceExpected: 'expected "}"',
  CloseBracketExpected: 'expected "]"',
  EndOfFileExpected: 'expected the end of the file',
  InvalidCommentToken: 'comments are not allowed in JSON',
  UnexpectedEndOfComment: 'unexpected end of a comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'unexpected end of a number',
  InvalidUnicode: 'invalid unicode escape',
  InvalidEscapeCharacter: 'invalid escape character',
  InvalidCharacter: 'invalid character in a string',
};

/**
 * Parses JSON; a syntax error names the file, line and column (found with
 * jsonc-parser in strict mode, since V8's own messages often have no
 * position) and never quotes the file's text.
 */
export function parseJson(text: string, file: string, options: ConfigFileOptions = {}): unknown {
  const body = text.replace(/^\uFEFF/, '');
  try {
    return JSON.parse(body);
  } catch {
    if (body.trim() === '') throw new ConfigFileError(file, 'the file is empty', { line: 1, column: 1 }, options);
    const errors: ParseError[] = [];
    parseJsonc(body, errors, { allowTrailingComma: false, disallowComments: true, allowEmptyContent: false });
    const first = errors[0];
    if (!first) throw new ConfigFileError(file, 'not valid JSON', undefined, options);
    const name = printParseErrorCode(first.error);
    throw new ConfigFileError(file, JSON_ERRORS[name] ?? name, positionAt(body, first.offset), options);
  }
}

/** Parses TOML (1.0); a syntax error names the file, line and column. */
export function parseTomlText(text: string, file: string, options: ConfigFileOptions = {}): Record<string, unknown> {
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      const reason = e.message.split('\n')[0]!.replace(/^Invalid TOML document:\s*/, '');
      throw new ConfigFileError(file, reason, { line: e.line, column: e.column }, options);
    }
    throw e;
  }
}

/**
 * Parses an INI-like file (setup.cfg, .npmrc, pip.conf): `[section]`
 * headers, `key = value` or `key: value`, `#` and `;` comments, and
 * indented continuation lines appended to the previous value (as Python's
 * configparser does). A line that is none of these names its line and column.
 */
export function parseIni(text: string, file: string, options: ConfigFileOptions = {}): IniData {
  const data: IniData = { '': {} };
  let section = '';
  let lastKey: string | null = null;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (!raw.trim() || /^\s*[#;]/.test(raw)) return;
    if (/^\s/.test(raw) && lastKey !== null) {
      const cur = data[section]![lastKey]!;
      data[section]![lastKey] = cur ? `${cur}\n${raw.trim()}` : raw.trim();
      return;
    }
    const head = /^\s*\[([^\]]*)\]\s*$/.exec(raw);
    if (head) {
      section = head[1]!.trim();
      data[section] ??= {};
      lastKey = null;
      return;
    }
    const m = /^\s*([^=:\s][^=:]*?)\s*[=:]\s?(.*)$/.exec(raw);
    if (!m) {
      const column = raw.length - raw.trimStart().length + 1;
      throw new ConfigFileError(file, `expected "key = value" or a [section], found ${JSON.stringify(raw.trim().slice(0, 60))}`, { line, column }, options);
    }
    lastKey = m[1]!;
    data[section]![lastKey] = m[2]!.trim();
  });
  return data;
}

/**
 * Parses a Java `.properties` file (system.properties): `key=value`,
 * `key: value` or `key value`, `#`/`!` comments, `\` line continuations and
 * `\uXXXX` escapes. A bad escape names its line and column.
 */
export function parseProperties(text: string, file: string, options: ConfigFileOptions = {}): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    // A logical line and, for each of its characters, where it is in the file.
    let logical = '';
    const where: ConfigPosition[] = [];
    const append = (lineIndex: number) => {
      const raw = lines[lineIndex]!;
      const indent = raw.length - raw.trimStart().length;
      for (let c = indent; c < raw.length; c++) where.push({ line: lineIndex + 1, column: c + 1 });
      logical += raw.slice(indent);
    };
    append(i);
    if (!logical || logical.startsWith('#') || logical.startsWith('!')) continue;
    while (/(^|[^\\])(\\\\)*\\$/.test(logical) && i + 1 < lines.length) {
      logical = logical.slice(0, -1);
      where.pop();
      append(++i);
    }
    const m = /^((?:\\.|[^=:\s\\])+)\s*[=:\s]?\s*(.*)$/.exec(logical);
    if (!m) throw new ConfigFileError(file, `expected "key=value", found ${JSON.stringify(logical.slice(0, 60))}`, where[0], options);
    const unescape = (s: string, offset: number) =>
      s.replace(/\\(u([0-9a-fA-F]{0,4})|.)/g, (all, esc: string, hex: string | undefined, at: number) => {
        if (hex !== undefined) {
          if (hex.length !== 4) throw new ConfigFileError(file, `bad unicode escape ${JSON.stringify(all)}`, where[offset + at], options);
          return String.fromCharCode(parseInt(hex, 16));
        }
        return ({ t: '\t', n: '\n', r: '\r', f: '\f' } as Record<string, string>)[esc] ?? esc;
      });
    out[unescape(m[1]!, 0)] = unescape(m[2]!, logical.length - m[2]!.length);
  }
  return out;
}

/**
 * Parses YAML (one document; `.yarnrc.yml`, `pnpm-workspace.yaml`,
 * `pnpm-lock.yaml`); an error names the file, line and column and never
 * quotes the file's text. Aliases are refused beyond a small expansion limit.
 */
export function parseYaml(text: string, file: string, options: ConfigFileOptions = {}): unknown {
  // Loaded when first needed: start-up time counts for every command.
  const { parseDocument } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const e = doc.errors[0];
  if (e) {
    const [line, column] = e.linePos?.[0] ? [e.linePos[0].line, e.linePos[0].col] : [undefined, undefined];
    const reason = e.code === 'DUPLICATE_KEY' ? 'a key appears twice' : e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?.*$/, '');
    throw new ConfigFileError(file, reason, line !== undefined ? { line, column: column! } : undefined, options);
  }
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (err) {
    throw new ConfigFileError(file, err instanceof Error ? err.message : String(err), undefined, options);
  }
}

/**
 * Reads and parses a config file of the app, or returns null when there is
 * none. The file is read with {@link readAppFile} (no links out of the app);
 * a syntax error is a {@link ConfigFileError} naming the file, line and
 * column. Validate the result with a schema ({@link parseWithSchema}).
 */
export function readConfigFile(appDir: string, file: string, format: 'json', options?: ConfigFileOptions): unknown;
export function readConfigFile(appDir: string, file: string, format: 'toml', options?: ConfigFileOptions): Record<string, unknown> | null;
export function readConfigFile(appDir: string, file: string, format: 'ini', options?: ConfigFileOptions): IniData | null;
export function readConfigFile(appDir: string, file: string, format: 'properties', options?: ConfigFileOptions): Record<string, string> | null;
export function readConfigFile(appDir: string, file: string, format: 'yaml', options?: ConfigFileOptions): unknown;
export function readConfigFile(appDir: string, file: string, format: ConfigFormat, options: ConfigFileOptions = {}): unknown {
  const text = readAppFile(appDir, file);
  if (text === null) return null;
  switch (format) {
    case 'json':
      return parseJson(text, file, options);
    case 'toml':
      return parseTomlText(text, file, options);
    case 'ini':
      return parseIni(text, file, options);
    case 'properties':
      return parseProperties(text, file, options);
    case 'yaml':
      return parseYaml(text, file, options);
  }
}
