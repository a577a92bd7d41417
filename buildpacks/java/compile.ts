import fs from 'node:fs';
import path from 'node:path';
import {
  SlugcError,
  VersionUnsatisfiableError,
  assertInside,
  urlCredentials,
  appFileExists,
  createDebianSource,
  dependencyLayer,
  installRuntimeLayer,
  parseProperties,
  readAppFile,
  readConfigFile,
  requestFrom,
  resolveAppFile,
  runtimeSources,
  type CompileContext,
  type InstalledRuntimeResult,
} from 'slugc/sdk';
import { javaBuildTool } from './detect.js';
import { jarInfo, jarsIn } from './jar.js';
import { JDK_HOME } from './layout.js';
import { MAVEN_DEBIAN_PACKAGES } from './maven-runtime.js';
import { jvmProfileScript } from './memory.js';
import { parseJavaRuntimeVersion } from './version.js';

/** Options of the Java buildpack. */
export interface JavaBuildpackOptions {
  /** The JDK version request when the app names none (default: the newest the sources offer). */
  defaultVersion?: string;
}

/** Maven's goals and options when MAVEN_CUSTOM_GOALS / MAVEN_CUSTOM_OPTS are not set (Heroku's, less `dependency:list`). */
export const DEFAULT_MAVEN_GOALS = ['clean', 'install'];
export const DEFAULT_MAVEN_OPTS = ['-DskipTests'];
const SYSTEM_PROPERTIES = 'system.properties';
const PROPS_OPTIONS = { code: 'SLUGC_JAVA_SYSTEM_PROPERTIES_INVALID' } as const;

/** Installs the JDK, then builds the app with Maven or Gradle (or nothing, for an executable JAR). */
export async function compileJava(ctx: CompileContext, options: JavaBuildpackOptions = {}): Promise<void> {
  const app = javaBuildTool(ctx.appDir) ?? { tool: 'jar' as const, file: '' };
  if (app.tool === 'jar') await checkJarApp(ctx);
  const props = readConfigFile(ctx.appDir, SYSTEM_PROPERTIES, 'properties', PROPS_OPTIONS) ?? {};

  ctx.log.step('Installing the JDK');
  const jdk = await installJdk(ctx, options);
  const jdkVersion = jdk.runtime.artifact.version;
  ctx.log.info(`OpenJDK ${jdkVersion} at ${JDK_HOME}`);
  const javaHome = jdk.env.JAVA_HOME ?? jdk.dir;
  if (!jdk.env.JAVA_HOME) ctx.exportEnv({ JAVA_HOME: javaHome });
  await ctx.profileD('jvmcommon.sh', (jdk.runtime.env.JAVA_HOME ? '' : `export JAVA_HOME="\${JAVA_HOME:-$HOME/${JDK_HOME}}"\n`) + jvmProfileScript());

  if (app.tool === 'maven') await buildMaven(ctx, { javaHome, jdkVersion, props });
  else if (app.tool === 'gradle') await buildGradle(ctx, { javaHome, jdkVersion });
  else ctx.log.info('An executable JAR: nothing to build');
}

/** The JDK request from system.properties' java.runtime.version. */
export function jdkRequest(appDir: string): { request?: string; requestFrom?: string } {
  const r = requestFrom(appDir, [
    {
      file: SYSTEM_PROPERTIES,
      label: `java.runtime.version in ${SYSTEM_PROPERTIES}`,
      read: (text, file) => {
        const value = parseProperties(text, file, PROPS_OPTIONS)['java.runtime.version'];
        return value?.trim() ? parseJavaRuntimeVersion(value, file).version : undefined;
      },
    },
  ]);
  return r.request ? { request: r.request, requestFrom: r.from! } : {};
}

async function installJdk(ctx: CompileContext, options: JavaBuildpackOptions) {
  return installRuntimeLayer(ctx, {
    name: 'jdk',
    displayName: 'OpenJDK',
    ...jdkRequest(ctx.appDir),
    defaultRequest: options.defaultVersion ?? '*',
    sources: runtimeSources(ctx.env, { lang: 'JDK', defaults: ['debian'], sources: { debian: () => createDebianSource() } }),
    path: JDK_HOME,
    profileD: 'jdk.sh',
  }).catch((e: unknown) => {
    if (e instanceof VersionUnsatisfiableError) {
      throw new VersionUnsatisfiableError('OpenJDK', e.requested, e.available, `Write one of the available versions as java.runtime.version in ${SYSTEM_PROPERTIES}, or add a source that has it: SLUGC_JDK_INVENTORY=<url of an inventory file> (see docs/runtimes.md), or SLUGC_JDK_SOURCES=inventory,debian.`);
    }
    throw e;
  });
}

/** An app that is only JARs: at least one must be executable, and each must be readable. */
async function checkJarApp(ctx: CompileContext): Promise<void> {
  const jars = jarsIn(ctx.appDir, '.');
  const runnable: string[] = [];
  for (const jar of jars) {
    const info = await jarInfo(resolveAppFile(ctx.appDir, jar)!, jar);
    if (info.mainClass) runnable.push(`${jar} (Main-Class ${info.startClass ?? info.mainClass})`);
  }
  if (!runnable.length) {
    throw new SlugcError('SLUGC_JAVA_JAR_NOT_EXECUTABLE', `Couldn't find an executable JAR in the app root${jars.length ? `: ${jars.join(', ')} ${jars.length === 1 ? 'has' : 'have'} no Main-Class in META-INF/MANIFEST.MF` : ''}.`, {
      hint: 'Commit a JAR built with a Main-Class (e.g. `jar --create --file app.jar --main-class com.example.Main -C classes .`), or the pom.xml or build.gradle that builds it.',
    });
  }
  ctx.log.info(`Executable JAR${runnable.length > 1 ? 's' : ''}: ${runnable.join(', ')}`);
}

/** Words of a setting such as MAVEN_CUSTOM_GOALS, or the default when it is unset or blank. */
function words(value: string | undefined, fallback: readonly string[]): string[] {
  const w = (value ?? '').split(/\s+/).filter(Boolean);
  return w.length ? w : [...fallback];
}

/** Secrets in a Maven settings.xml: `<password>`s, `<passphrase>`s and credentials in `<url>`s. */
export function settingsSecrets(xml: string): string[] {
  const out: string[] = [];
  for (const m of xml.matchAll(/<(password|passphrase|privateKey)>\s*([^<]+?)\s*<\/\1>/g)) out.push(m[2]!);
  for (const m of xml.matchAll(/<url>\s*([^<]+?)\s*<\/url>/g)) out.push(...urlCredentials(m[1]!));
  for (const m of xml.matchAll(/<value>\s*([^<]+?)\s*<\/value>/g)) if (/^(Bearer|Basic)\s/i.test(m[1]!)) out.push(m[1]!); // HTTP header credentials
  return out.filter((s) => s.length >= 4);
}

/** A URL without its user info, for the log. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(a URL)';
  }
}

/**
 * The settings.xml to pass to Maven, as Heroku picks it: MAVEN_SETTINGS_PATH
 * (a file of the app), else MAVEN_SETTINGS_URL (fetched into the build's
 * temp dir, so it is never in the slug), else a settings.xml at the app's
 * root. Secrets in it are redacted from the log.
 */
async function mavenSettings(ctx: CompileContext): Promise<string | null> {
  const fromApp = (rel: string, why: string): string => {
    const text = readAppFile(ctx.appDir, rel);
    if (text === null) {
      throw new SlugcError('SLUGC_JAVA_MAVEN_SETTINGS_MISSING', `Couldn't read the Maven settings ${rel} named by ${why}: there is no such file in the app.`, {
        hint: `Commit ${rel}, or set MAVEN_SETTINGS_PATH to a settings file inside the app (relative to its root).`,
      });
    }
    ctx.log.redact(settingsSecrets(text));
    ctx.log.info(`Maven settings: ${rel} (${why})`);
    return resolveAppFile(ctx.appDir, rel)!;
  };
  const settingsPath = ctx.env.MAVEN_SETTINGS_PATH;
  if (settingsPath) return fromApp(path.isAbsolute(settingsPath) ? path.relative(ctx.appDir, settingsPath) : settingsPath, 'MAVEN_SETTINGS_PATH');
  const url = ctx.env.MAVEN_SETTINGS_URL;
  if (url) {
    ctx.log.redact(urlCredentials(url));
    const shown = safeUrl(url);
    // fetch refuses URLs with credentials: they go in an Authorization header instead.
    const headers: Record<string, string> = {};
    let target = url;
    try {
      const u = new URL(url);
      if (u.username || u.password) {
        const basic = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
        ctx.log.redact([basic]);
        headers.authorization = `Basic ${basic}`;
        u.username = '';
        u.password = '';
        target = u.toString();
      }
    } catch {
      throw new SlugcError('SLUGC_JAVA_MAVEN_SETTINGS_DOWNLOAD_FAILED', "Couldn't download the Maven settings from MAVEN_SETTINGS_URL: it is not a URL.", { hint: 'Set MAVEN_SETTINGS_URL to an http(s) URL of a settings.xml.' });
    }
    let res: Response;
    try {
      res = await ctx.fetch(target, { signal: ctx.signal, headers });
    } catch (e) {
      throw new SlugcError('SLUGC_JAVA_MAVEN_SETTINGS_DOWNLOAD_FAILED', `Couldn't download the Maven settings from MAVEN_SETTINGS_URL (${shown}): ${(e as Error).message}.`, {
        hint: 'Check that the build reaches that URL, or commit a settings.xml and unset MAVEN_SETTINGS_URL.',
      });
    }
    if (!res.ok) {
      throw new SlugcError('SLUGC_JAVA_MAVEN_SETTINGS_DOWNLOAD_FAILED', `Couldn't download the Maven settings from MAVEN_SETTINGS_URL (${shown}): HTTP ${res.status}.`, {
        hint: 'Check the URL and its credentials, or commit a settings.xml and unset MAVEN_SETTINGS_URL.',
      });
    }
    const text = await res.text();
    ctx.log.redact(settingsSecrets(text));
    const file = path.join(ctx.tmpDir, 'maven-settings.xml');
    fs.writeFileSync(file, text, { mode: 0o600 });
    ctx.log.info(`Maven settings: downloaded from MAVEN_SETTINGS_URL (${shown})`);
    return file;
  }
  if (appFileExists(ctx.appDir, 'settings.xml')) return fromApp('settings.xml', 'committed in the app');
  return null;
}

/** The command that runs Maven: the app's ./mvnw, or Maven from a runtime source. */
async function mavenCommand(ctx: CompileContext, props: Record<string, string>): Promise<{ command: string; what: string }> {
  const requested = props['maven.version']?.trim();
  if (appFileExists(ctx.appDir, 'mvnw') && !requested) {
    const file = resolveAppFile(ctx.appDir, 'mvnw')!;
    fs.chmodSync(file, fs.statSync(file).mode | 0o755);
    return { command: file, what: 'the Maven wrapper ./mvnw' };
  }
  ctx.log.step('Installing Maven');
  const maven = await ctx.runtimes
    .install({
      name: 'maven',
      displayName: 'Maven',
      ...(requested ? { request: requested, requestFrom: `maven.version in ${SYSTEM_PROPERTIES}` } : {}),
      defaultRequest: '*',
      sources: runtimeSources(ctx.env, { lang: 'MAVEN', defaults: ['debian'], sources: { debian: () => createDebianSource({ packages: MAVEN_DEBIAN_PACKAGES }) } }),
    })
    .catch((e: unknown) => {
      if (e instanceof VersionUnsatisfiableError) {
        throw new VersionUnsatisfiableError('Maven', e.requested, e.available, `Write one of the available versions as maven.version in ${SYSTEM_PROPERTIES} (or remove it), commit a Maven wrapper (mvnw), or add a source that has it: SLUGC_MAVEN_INVENTORY=<url of an inventory file> (see docs/runtimes.md).`);
      }
      throw e;
    });
  for (const line of maven.trace) ctx.log.info(line);
  const mvn = findMvn(maven);
  return { command: mvn, what: `Maven ${maven.artifact.version} (${maven.source}, build-only)` };
}

/** `mvn` in one of the Maven runtime's bin dirs. */
function findMvn(runtime: InstalledRuntimeResult): string {
  for (const b of [...runtime.binDirs, 'bin']) {
    const p = path.join(runtime.dir, b, 'mvn');
    if (fs.existsSync(p)) return p;
  }
  throw new SlugcError('SLUGC_JAVA_MAVEN_RUNTIME_INVALID', `Couldn't find mvn in the Maven ${runtime.artifact.version} runtime from ${runtime.source}.`, { hint: 'The runtime must have bin/mvn in one of its binDirs.' });
}

/** Builds a Maven app: `mvn -B -DskipTests clean install` with the Maven repository in a build-only layer. */
async function buildMaven(ctx: CompileContext, jdk: { javaHome: string; jdkVersion: string; props: Record<string, string> }): Promise<void> {
  const { command, what } = await mavenCommand(ctx, jdk.props);
  // Without settings of the app's, an empty file: Maven would otherwise read the build host's
  // ~/.m2/settings.xml (Java takes user.home from the account, not $HOME), and its credentials.
  const settings = (await mavenSettings(ctx)) ?? emptySettings(ctx.tmpDir);
  const repo = dependencyLayer(ctx, { name: 'maven-repository', lockfiles: ['pom.xml'], key: { jdk: jdk.jdkVersion }, optOut: 'SLUGC_MAVEN_CACHE' });
  if (repo.hit) ctx.log.info('Maven repository restored from the cache (pom.xml and the JDK unchanged)');
  const goals = words(ctx.env.MAVEN_CUSTOM_GOALS, DEFAULT_MAVEN_GOALS);
  const opts = words(ctx.env.MAVEN_CUSTOM_OPTS, DEFAULT_MAVEN_OPTS);
  const args = ['-B', `-Dmaven.repo.local=${path.join(repo.dir, 'repository')}`, ...(settings ? ['-s', settings] : []), ...opts, ...goals];
  ctx.log.step(`Building with ${what}: ${goals.join(' ')}`);
  await ctx.exec(command, args, {
    cwd: ctx.appDir,
    env: { JAVA_HOME: jdk.javaHome, MAVEN_SKIP_RC: 'true', MAVEN_USER_HOME: path.join(ctx.cacheDir, 'maven-user-home') },
    hint: 'Maven could not build the app; the end of its output is above (a compilation error names the file and line; "Could not resolve dependencies" names what the repository lacks: check settings.xml, MAVEN_SETTINGS_PATH or MAVEN_SETTINGS_URL).',
  });
  await repo.save();
  // The compiler plugin's incremental-build state lists absolute build paths: not for the slug.
  const status = path.join(ctx.appDir, 'target', 'maven-status');
  assertInside(ctx.appDir, status, 'target/maven-status');
  fs.rmSync(status, { recursive: true, force: true });
}

/** An empty Maven settings file in the temp dir. */
function emptySettings(tmpDir: string): string {
  const file = path.join(tmpDir, 'maven-settings-empty.xml');
  fs.writeFileSync(file, '<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0"/>\n');
  return file;
}

/** A `stage` task defined in the Gradle build file (Groovy or Kotlin DSL). */
export function definesStageTask(text: string): boolean {
  return /\btask\s*\(?\s*['"]?stage\b|tasks\s*\.\s*(register|create)\s*(<[^>]*>)?\s*\(\s*['"]stage['"]|\btasks\s*\[\s*['"]stage['"]|\bval\s+stage\s+by\s+tasks/.test(text);
}

/** Builds a Gradle app with its wrapper: `stage` when defined, else `build -x check` (GRADLE_TASK overrides). */
async function buildGradle(ctx: CompileContext, jdk: { javaHome: string; jdkVersion: string }): Promise<void> {
  if (!appFileExists(ctx.appDir, 'gradlew')) {
    throw new SlugcError('SLUGC_JAVA_GRADLE_WRAPPER_MISSING', "Couldn't build the Gradle app: it has no Gradle wrapper (gradlew).", {
      hint: 'Run `gradle wrapper` and commit gradlew, gradlew.bat and the gradle/wrapper dir: slugc builds Gradle apps only with their wrapper (the stack\'s Gradle is too old for JDK 17).',
    });
  }
  const file = resolveAppFile(ctx.appDir, 'gradlew')!;
  fs.chmodSync(file, fs.statSync(file).mode | 0o755);
  const buildFile = ['build.gradle', 'build.gradle.kts'].map((f) => readAppFile(ctx.appDir, f)).find((t) => t !== null) ?? '';
  const tasks = ctx.env.GRADLE_TASK?.trim() ? words(ctx.env.GRADLE_TASK, []) : definesStageTask(buildFile) ? ['stage'] : ['build', '-x', 'check'];
  const caches = dependencyLayer(ctx, { name: 'gradle-cache', lockfiles: ['gradle/wrapper/gradle-wrapper.properties'], key: { jdk: jdk.jdkVersion }, optOut: 'SLUGC_GRADLE_CACHE' });
  if (caches.hit) ctx.log.info('Gradle caches restored from the cache');
  ctx.log.step(`Building with the Gradle wrapper: ${tasks.join(' ')}${ctx.env.GRADLE_TASK?.trim() ? ' (GRADLE_TASK)' : ''}`);
  await ctx.exec(file, [...tasks, '--no-daemon'], {
    cwd: ctx.appDir,
    env: { JAVA_HOME: jdk.javaHome, GRADLE_USER_HOME: caches.dir },
    hint: 'Gradle could not build the app; the end of its output is above (a compilation error names the file and line).',
  });
  await caches.save();
}
