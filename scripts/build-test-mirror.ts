// Builds the runtime mirror folder the tests serve over loopback HTTP:
//   node dist/scripts/build-test-mirror.js [--out DIR] [--cache DIR] [--node 22 ...] [--debian python --debian ruby --debian jdk]
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../src/log.js';
import { buildMirror } from '../src/testing/build-mirror.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: path.resolve('.slugc-cache', 'test-mirror') },
    cache: { type: 'string', default: path.resolve('.slugc-cache', 'test-cache') },
    node: { type: 'string', multiple: true, default: ['22'] },
    debian: { type: 'string', multiple: true, default: [] },
  },
});
const log = createLogger({ stdout: process.stdout, stderr: process.stderr });
log.step(`Building a runtime mirror in ${values.out}`);
const r = await buildMirror({ out: values.out!, cacheRoot: values.cache!, node: values.node!, debian: values.debian!, log });
log.info(`mirror: ${r.url}`);
for (const [name, url] of Object.entries(r.inventories)) log.info(`inventory ${name}: ${url}`);
