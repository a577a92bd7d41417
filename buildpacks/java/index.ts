/**
 * The Java buildpack: OpenJDK from the stack's packages (or an inventory),
 * the app built with Maven (its wrapper, or Maven from the stack's
 * packages) or the Gradle wrapper, the Maven repository and Gradle caches
 * kept as build-only layers; or an executable JAR run as it is. Written
 * only against `slugc/sdk`.
 */
import type { Buildpack } from 'slugc/sdk';
import { compileJava, type JavaBuildpackOptions } from './compile.js';
import { detectJava } from './detect.js';
import { releaseJava } from './release.js';

export { JDK_HOME } from './layout.js';
export type { JavaBuildpackOptions } from './compile.js';

/** Creates the Java buildpack. */
export function createJavaBuildpack(options: JavaBuildpackOptions = {}): Buildpack {
  return {
    id: 'slugc/java',
    name: 'Java',
    aliases: ['heroku/java', 'heroku/gradle', 'java'],
    detect: detectJava,
    compile: (ctx) => compileJava(ctx, options),
    release: releaseJava,
  };
}

/** The Java buildpack with default options. */
export const javaBuildpack: Buildpack = createJavaBuildpack();
