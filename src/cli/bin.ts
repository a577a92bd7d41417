#!/usr/bin/env node
import { main } from './main.js';

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
