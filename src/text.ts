/**
 * Text helpers shared by errors, logs and the test kit: one definition of
 * "the tail of a command's output" and of the 7-space body indent.
 */

/** Lines kept of a failing command's output. */
export const TAIL_LINES = 30;
/** Bytes kept of a failing command's output (a 5 MB line must not become a 5 MB error). */
export const TAIL_BYTES = 8 * 1024;

/**
 * The last non-blank lines of some output, at most `lines` of them and at
 * most `bytes` long; a longer single line keeps its end, marked with `…`.
 */
export function outputTail(text: string, options: { lines?: number; bytes?: number } = {}): string {
  const maxLines = options.lines ?? TAIL_LINES;
  const maxBytes = options.bytes ?? TAIL_BYTES;
  // Only the end of the text can matter: never split a huge text whole.
  const window = text.length > maxBytes * 4 ? text.slice(-maxBytes * 4) : text;
  const lines = window.split(/\r?\n/).filter((l) => l.trim());
  const kept: string[] = [];
  let size = 0;
  for (let i = lines.length - 1; i >= 0 && kept.length < maxLines; i--) {
    let line = lines[i]!;
    const room = maxBytes - size;
    if (room <= 0) break;
    if (Buffer.byteLength(line) > room) {
      line = `…${line.slice(-Math.max(room - 3, 1))}`;
      kept.unshift(line);
      break;
    }
    kept.unshift(line);
    size += Buffer.byteLength(line) + 1;
  }
  return kept.join('\n');
}

/** Indents every line as a log body (7 spaces, Heroku's convention). */
export function indentLines(text: string, prefix = '       '): string {
  return text
    .replace(/\s+$/, '')
    .split('\n')
    .map((l) => `${prefix}${l}`)
    .join('\n');
}
