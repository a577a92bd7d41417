/**
 * `slugc/buildpacks`: the built-in buildpacks, in auto-detection order.
 * Each imports only `slugc/sdk`.
 */
import type { Buildpack } from 'slugc/sdk';
import { nodejsBuildpack } from './nodejs/index.js';
import { rubyBuildpack } from './ruby/index.js';
import { pythonBuildpack } from './python/index.js';
import { javaBuildpack } from './java/index.js';

export { createNodejsBuildpack, nodejsBuildpack, DEFAULT_NODE_MAJOR, NODE_HOME, type NodejsBuildpackOptions } from './nodejs/index.js';
export { createJavaBuildpack, javaBuildpack, JDK_HOME, type JavaBuildpackOptions } from './java/index.js';
export { createRubyBuildpack, rubyBuildpack, BUNDLE_DIR as RUBY_BUNDLE_DIR, RUBY_HOME, type RubyBuildpackOptions } from './ruby/index.js';
export { createPythonBuildpack, pythonBuildpack, PACKAGES_DIR as PYTHON_PACKAGES_DIR, PYTHON_HOME, type PythonBuildpackOptions } from './python/index.js';

/** The built-in buildpacks, in auto-detection order (Heroku's: ruby, nodejs, python, java, ...). */
export const builtinBuildpacks: readonly Buildpack[] = [rubyBuildpack, nodejsBuildpack, pythonBuildpack, javaBuildpack];

/** Finds a built-in buildpack by id or alias (`slugc/nodejs`, `heroku/nodejs`). */
export function findBuiltinBuildpack(id: string): Buildpack | undefined {
  return builtinBuildpacks.find((b) => b.id === id || (b.aliases ?? []).includes(id));
}
