import path from 'node:path';
import { appFileExists, isSlugcError, resolveAppFile, type DetectContext, type Detection } from 'slugc/sdk';
import { jarInfo, jarsIn } from './jar.js';
import { GRADLE_FILES, MAVEN_FILES } from './layout.js';

/** How the app is built. */
export type JavaBuildTool = 'maven' | 'gradle' | 'jar';

/** What decided: the build tool and the file that says so. */
export interface JavaApp {
  tool: JavaBuildTool;
  /** The file that decided, e.g. `pom.xml` or `app.jar`. */
  file: string;
}

/** The build tool from the app's root files: Maven's first (as Heroku's buildpack order), then Gradle's; null when neither. */
export function javaBuildTool(appDir: string): JavaApp | null {
  const maven = MAVEN_FILES.find((f) => appFileExists(appDir, f));
  if (maven) return { tool: 'maven', file: maven };
  const gradle = GRADLE_FILES.find((f) => appFileExists(appDir, f));
  if (gradle) return { tool: 'gradle', file: gradle };
  return null;
}

/**
 * Java applies to a Maven app (a `pom.*` or `mvnw`), a Gradle app
 * (`build.gradle(.kts)`, `settings.gradle(.kts)`, `gradlew`) or an app that
 * is an executable JAR at its root (a manifest with `Main-Class`); the
 * answer names the file. A JAR that cannot be read still passes, so the
 * build says what is wrong with it.
 */
export async function detectJava(ctx: DetectContext): Promise<Detection> {
  const app = javaBuildTool(ctx.appDir);
  if (app) return { pass: true, name: 'Java', reason: `found ${app.file}` };
  const jars = jarsIn(ctx.appDir, '.');
  const library: string[] = [];
  for (const jar of jars) {
    try {
      const real = resolveAppFile(ctx.appDir, jar);
      if (real === null) continue;
      const info = await jarInfo(real, jar);
      if (info.mainClass) return { pass: true, name: 'Java', reason: `found ${jar} (an executable JAR, Main-Class ${info.startClass ?? info.mainClass})` };
      library.push(jar);
    } catch (e) {
      if (isSlugcError(e)) return { pass: true, name: 'Java', reason: `found ${jar} (a JAR the build cannot read yet)` };
      throw e;
    }
  }
  const looked = `none of ${[...MAVEN_FILES, ...GRADLE_FILES].join(', ')} or an executable .jar in the app root`;
  return { pass: false, reason: library.length ? `${looked} (${library.map((j) => path.basename(j)).join(', ')} ${library.length === 1 ? 'has' : 'have'} no Main-Class)` : looked };
}
