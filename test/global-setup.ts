import fs from 'node:fs';
import path from 'node:path';

/**
 * One cache dir shared by every end-to-end test (and kept between local runs
 * under .slugc-cache/, which git ignores), so the Node runtime is downloaded
 * and unpacked once per machine, not once per test.
 */
export default function setup(): void {
  const dir = path.resolve('.slugc-cache', 'test-cache');
  fs.mkdirSync(dir, { recursive: true });
  process.env.SLUGC_TEST_CACHE = dir;
}
