import { SlugcError } from './errors.js';

/** Process type names as the Heroku Platform API accepts them. */
export const PROCESS_TYPE_PATTERN = /^[-\w]{1,128}$/;

/** Process types: name to command. */
export type ProcessTypes = Record<string, string>;

/**
 * Parses a Procfile strictly: each line is `type: command`; blank lines and
 * `#` comments are allowed. Any other line, an invalid type name, an empty
 * command or a type given twice is an error naming the line.
 */
export function parseProcfile(text: string, file = 'Procfile'): ProcessTypes {
  const types: ProcessTypes = {};
  const problems: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      problems.push(`line ${n}: expected "type: command", got ${JSON.stringify(raw)}`);
      return;
    }
    const name = line.slice(0, colon).trim();
    const command = line.slice(colon + 1).trim();
    if (!PROCESS_TYPE_PATTERN.test(name)) {
      problems.push(`line ${n}: process type ${JSON.stringify(name)} must match ${PROCESS_TYPE_PATTERN.source} (letters, digits, _ and -, at most 128)`);
      return;
    }
    if (/[\0-\x08\x0a-\x1f\x7f]/.test(command)) {
      problems.push(`line ${n}: the command of "${name}" contains a control character (${JSON.stringify(command.match(/[\0-\x08\x0a-\x1f\x7f]/)![0])}), which no shell runs`);
      return;
    }
    if (command === '') {
      problems.push(`line ${n}: process type "${name}" has no command`);
      return;
    }
    if (Object.hasOwn(types, name)) {
      problems.push(`line ${n}: process type "${name}" is defined twice`);
      return;
    }
    types[name] = command;
  });
  if (problems.length > 0) {
    throw new SlugcError('SLUGC_PROCFILE_INVALID', `Couldn't parse ${file}:\n${problems.map((p) => `  ${p}`).join('\n')}`, {
      hint: 'Each Procfile line is `<type>: <command>`, e.g. `web: node server.js`; comments start with #.',
      details: { problems },
    });
  }
  return types;
}
