import fs from 'node:fs';
import { SlugcError } from './errors.js';

/** Config var names as a shell accepts them. */
import { ENV_NAME_PATTERN } from './names.js';

/**
 * Parses dotenv-style text: `KEY=value` lines, optional `export ` prefix,
 * `#` comments, values optionally in single quotes (taken literally) or
 * double quotes (`\n`, `\"`, `\\` escapes). Every bad line is reported.
 */
export function parseEnvText(text: string, file = 'env file'): Record<string, string> {
  const vars: Record<string, string> = {};
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const body = line.startsWith('export ') ? line.slice(7).trimStart() : line;
    const eq = body.indexOf('=');
    if (eq <= 0) {
      problems.push(`line ${i + 1}: expected KEY=value`);
      return;
    }
    const key = body.slice(0, eq).trim();
    if (!ENV_NAME_PATTERN.test(key)) {
      problems.push(`line ${i + 1}: ${JSON.stringify(key)} is not a valid variable name`);
      return;
    }
    let value = body.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) {
      value = value.slice(1, -1);
    } else if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\(["\\n])/g, (_m, c: string) => (c === 'n' ? '\n' : c));
    } else if (value.startsWith('"') || value.startsWith("'")) {
      problems.push(`line ${i + 1}: unterminated quote in the value of ${key}`);
      return;
    }
    vars[key] = value;
  });
  if (problems.length) {
    throw new SlugcError('SLUGC_ENV_INVALID', `Couldn't parse ${file}:\n${problems.map((p) => `  ${p}`).join('\n')}`, {
      hint: 'Each line is KEY=value; quote values that hold spaces or #.',
      details: { problems },
    });
  }
  return vars;
}

/** Reads and parses an env file; see {@link parseEnvText}. */
export function readEnvFile(file: string): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new SlugcError('SLUGC_ENV_INVALID', `Couldn't read the env file ${file}.`, { hint: 'Check the path.', cause: e });
  }
  return parseEnvText(text, file);
}

/** Parses `KEY=value` as given to `--env`. */
export function parseEnvAssignment(s: string): [string, string] {
  const eq = s.indexOf('=');
  const key = eq > 0 ? s.slice(0, eq) : s;
  if (eq <= 0 || !ENV_NAME_PATTERN.test(key)) {
    throw new SlugcError('SLUGC_USAGE', `Couldn't read --env ${JSON.stringify(s)}: expected KEY=value.`, {
      hint: 'Pass config vars as --env NAME=value; names are letters, digits and _.',
    });
  }
  return [key, s.slice(eq + 1)];
}

/** Names that look like they hold secrets; their values are redacted from the log. */
export const SECRET_NAME_PATTERN = /(SECRET|TOKEN|PASSWORD|PASSWD|PASS|KEY|CREDENTIAL|AUTH|PRIVATE|CERT|_URL$)/i;
