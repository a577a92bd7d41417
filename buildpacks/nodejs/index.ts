/**
 * The Node.js buildpack: npm apps, Node from the npm registry (or an
 * inventory), dependencies cached on the lockfile. Written only against
 * `slugc/sdk`, as a third party would write it.
 */
import type { Buildpack } from 'slugc/sdk';
import { compileNodejs, type NodejsBuildpackOptions } from './compile.js';
import { detectNodejs } from './detect.js';
import { releaseNodejs } from './release.js';

export { DEFAULT_NODE_MAJOR, NODE_HOME, type NodejsBuildpackOptions } from './compile.js';
export { PACKAGE_JSON_INVALID } from './package-json.js';

/** Creates the Node.js buildpack. */
export function createNodejsBuildpack(options: NodejsBuildpackOptions = {}): Buildpack {
  return {
    id: 'slugc/nodejs',
    name: 'Node.js',
    aliases: ['heroku/nodejs', 'nodejs'],
    // npm, yarn and pnpm workspaces: an app in a subdirectory installs at the workspace root.
    workspaces: true,
    detect: detectNodejs,
    compile: (ctx) => compileNodejs(ctx, options),
    release: releaseNodejs,
  };
}

/** The Node.js buildpack with default options. */
export const nodejsBuildpack: Buildpack = createNodejsBuildpack();
