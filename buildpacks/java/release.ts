import { appFileExists, isSlugcError, resolveAppFile, type ReleaseContext, type ReleaseInfo } from 'slugc/sdk';
import { javaBuildTool } from './detect.js';
import { jarInfo, jarsIn } from './jar.js';
import { JAR_DIRS } from './layout.js';

/** A runnable JAR the build left, and whether it is Spring Boot's. */
export interface RunnableJar {
  file: string;
  springBoot: boolean;
}

/** The runnable JARs (a `Main-Class` in the manifest) where the app's build tool leaves them, or at the root for a JAR app. */
export async function runnableJars(appDir: string): Promise<{ dir: string; jars: RunnableJar[] }> {
  const tool = javaBuildTool(appDir)?.tool ?? 'jar';
  const dir = tool === 'jar' ? '.' : JAR_DIRS[tool];
  const jars: RunnableJar[] = [];
  for (const jar of jarsIn(appDir, dir)) {
    try {
      const real = resolveAppFile(appDir, jar);
      if (real === null) continue;
      const info = await jarInfo(real, jar);
      if (info.mainClass) jars.push({ file: jar, springBoot: info.springBoot });
    } catch (e) {
      if (!isSlugcError(e)) throw e;
    }
  }
  return { dir, jars };
}

/** The web command for a runnable JAR: Spring Boot is told the port. */
export function webCommand(jar: RunnableJar): string {
  // A plain file name stays as it is (what users read in slug.json); anything else is quoted for the shell.
  const file = /^[A-Za-z0-9._/+-]+$/.test(jar.file) ? jar.file : `'${jar.file.replace(/'/g, `'\\''`)}'`;
  return `java ${jar.springBoot ? '-Dserver.port=$PORT ' : ''}$JAVA_OPTS -jar ${file}`;
}

/**
 * `web: java -jar <jar>` when there is no Procfile and exactly one runnable
 * JAR where the build tool puts them (`target/`, `build/libs/`, or the
 * root of a JAR app); otherwise no default, and the log says what to add.
 */
export async function releaseJava(ctx: ReleaseContext): Promise<ReleaseInfo> {
  if (appFileExists(ctx.appDir, 'Procfile')) return {};
  const { dir, jars } = await runnableJars(ctx.appDir);
  if (jars.length === 1) return { processTypes: { web: webCommand(jars[0]!) } };
  const where = dir === '.' ? 'the app root' : `${dir}/`;
  ctx.log.warn(
    jars.length
      ? `No default web process: ${where} has ${jars.length} runnable JARs (${jars.map((j) => j.file).join(', ')}). Add a Procfile, e.g. \`web: ${webCommand(jars[0]!)}\`.`
      : `No default web process: no runnable JAR (one with a Main-Class) in ${where}. Add a Procfile, e.g. \`web: java $JAVA_OPTS -cp target/classes com.example.Main\`.`,
  );
  return {};
}
