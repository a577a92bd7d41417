#!/usr/bin/env -S node --
// `node --`: Node 20 would otherwise take our own `--env-file` option as its own
// (and exit 9 on a missing file, or load the file into slugc's environment).
import { main } from './main.js';

// A reader that went away (`slugc inspect x | head -1`) may make a write fail
// after main() is done: that is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exitCode ??= 141;
  });
}

// The only place that exits the process.
main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(` !     ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  },
);
