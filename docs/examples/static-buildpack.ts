// A complete third-party buildpack written only against the public API. CI
// type-checks this file (tsconfig.test.json) and test/docs-examples.test.ts
// builds an app with it.
import fs from 'node:fs';
import path from 'node:path';
import type { Buildpack } from 'slugc';

/** Serves a `public/` dir with a tiny shell web server it writes into the slug. */
export const staticBuildpack: Buildpack = {
  id: 'example/static',
  name: 'Static site',
  async detect(ctx) {
    return fs.existsSync(path.join(ctx.appDir, 'public', 'index.html'))
      ? { pass: true, name: 'Static', reason: 'found public/index.html' }
      : { pass: false, reason: 'no public/index.html' };
  },
  async compile(ctx) {
    ctx.log.step('Preparing the static site');
    const files = fs.readdirSync(path.join(ctx.appDir, 'public'));
    ctx.log.info(`${files.length} file(s) in public/`);
    // Paths in .profile.d are in terms of $HOME: the slug runs wherever it is unpacked.
    await ctx.profileD('static', 'export STATIC_ROOT="$HOME/public"');
    ctx.exportEnv({ STATIC_ROOT: path.join(ctx.appDir, 'public') });
    await ctx.exec('sh', ['-c', 'echo "site has $(ls "$STATIC_ROOT" | wc -l) file(s)"']);
  },
  async release() {
    return { processTypes: { web: 'cat "$STATIC_ROOT/index.html"' } };
  },
};

export default staticBuildpack;
