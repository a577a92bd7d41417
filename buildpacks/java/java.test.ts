// The Java buildpack's tests, on slugc/testing, offline: OpenJDK (and Maven)
// come from Debian's packages through the suite's shared cache; builds run a
// stand-in mvnw/gradlew that compiles with the JDK slugc installed, or real
// Maven against a loopback HTTP server over Debian's /usr/share/maven-repo.
// The build's PATH has no java or mvn of the host's.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clearCache } from 'slugc';
import { cleanup, execRecorder, fakeFetch, runBuild, runCompile, runDetect, sandboxPath, startProcess, tempDir, testApp, unpackSlugToTemp, type AppFile } from 'slugc/testing';
import { httpServerSource, jarBytes, serveDir, standInBuildScript, type DirServer } from '../../test/support/java.js';
import { jvmProfileScript } from './memory.js';
import { javaBuildpack } from './index.js';

afterEach(cleanup);

const cacheDir = process.env.SLUGC_TEST_CACHE ?? tempDir('slugc-cache-');
const apps: string[] = [];
let n = 0;
/** An app name of this run's own on the shared cache, cleared at the end. */
const appName = () => {
  const name = `java-test-${process.pid}-${n++}`;
  apps.push(name);
  return name;
};
afterAll(() => {
  for (const a of apps) clearCache(cacheDir, a);
});

/** A PATH with basic shell tools (and find) but no java, javac or mvn: the build must use what slugc installed. */
function buildPath(): string {
  const dir = sandboxPath();
  for (const tool of ['find', 'chmod', 'cut', 'awk', 'which', 'expr', 'uname', 'readlink', 'xargs']) {
    const found = ['/usr/bin', '/bin'].map((d) => path.join(d, tool)).find((p) => fs.existsSync(p));
    if (found && !fs.existsSync(path.join(dir, tool))) fs.symlinkSync(found, path.join(dir, tool));
  }
  return dir;
}
const hostEnv = () => ({ ...process.env, PATH: buildPath() });

const mvnwApp = (extra: Record<string, AppFile> = {}) =>
  testApp({
    'pom.xml': '<project><modelVersion>4.0.0</modelVersion><groupId>demo</groupId><artifactId>app</artifactId><version>1.0</version></project>\n',
    mvnw: { content: standInBuildScript('demo.Main'), mode: 0o755 },
    'src/main/java/demo/Main.java': httpServerSource('hello from maven'),
    ...extra,
  });

describe('detect', () => {
  it('names the Maven, Gradle or JAR file that decided, and says what it looked for when nothing matches', async () => {
    for (const f of ['pom.xml', 'pom.atom', 'pom.clj', 'pom.groovy', 'pom.rb', 'pom.scala', 'pom.yaml', 'pom.yml', 'mvnw', 'build.gradle', 'build.gradle.kts', 'settings.gradle', 'settings.gradle.kts', 'gradlew']) {
      expect(await runDetect(javaBuildpack, testApp({ [f]: '' }))).toMatchObject({ pass: true, detected: 'Java', reason: `found ${f}` });
    }
    expect(await runDetect(javaBuildpack, testApp({ 'app.jar': jarBytes({ 'Main-Class': 'demo.Main' }) }))).toMatchObject({ pass: true, reason: 'found app.jar (an executable JAR, Main-Class demo.Main)' });
    expect(await runDetect(javaBuildpack, testApp({ 'app.jar': jarBytes({ 'Main-Class': 'org.springframework.boot.loader.launch.JarLauncher', 'Start-Class': 'demo.App' }) }))).toMatchObject({ pass: true, reason: expect.stringMatching(/Main-Class demo\.App/) });
    const lib = await runDetect(javaBuildpack, testApp({ 'lib.jar': jarBytes({ 'Created-By': 'test' }) }));
    expect(lib).toMatchObject({ pass: false, reason: expect.stringMatching(/lib\.jar has no Main-Class/) });
    const no = await runDetect(javaBuildpack, testApp({ 'index.js': '' }));
    expect(no.pass).toBe(false);
    expect(no.reason).toMatch(/pom\.xml, pom\.atom/);
  });
});

describe('a Maven app with mvnw', () => {
  it('builds with the JDK slugc installed (no host java or mvn), and the kit boots `java -jar` from the slug and queries it', async () => {
    const run = await runBuild({ app: mvnwApp(), buildpacks: [javaBuildpack], cacheDir, appName: appName(), hostEnv: hostEnv() });
    expect(run.log).toMatch(/OpenJDK 17\.\d+\.\d+ at \.jdk/);
    expect(run.log).toMatch(/Building with the Maven wrapper \.\/mvnw: clean install/);
    expect(run.release.processTypes.web).toBe('java $JAVA_OPTS -jar target/app.jar');
    expect(run.slugJson.runtimes[0]).toMatchObject({ name: 'jdk', version: expect.stringMatching(/^17\./) });
    const unpacked = await unpackSlugToTemp(run.slugPath);
    const args = fs.readFileSync(path.join(unpacked, 'target/build-args.txt'), 'utf8');
    expect(args).toMatch(/^-B -Dmaven\.repo\.local=\S+\/repository -s \S+\/maven-settings-empty\.xml -DskipTests clean install$/m);
    expect(args).toMatch(/JAVA_HOME=\S+\/\.jdk\/usr\/lib\/jvm\/java-17-openjdk-\w+/);
    expect(args).toMatch(/^java=\S+\/\.jdk\/\S+\/bin\/java mvn=$/m); // java from slugc's JDK, no mvn anywhere
    expect(fs.readFileSync(path.join(unpacked, '.profile.d/jdk.sh'), 'utf8')).toMatch(/export JAVA_HOME="\$HOME\/\.jdk\/usr\/lib\/jvm\/java-17-openjdk-\w+"/);
    expect(fs.existsSync(path.join(unpacked, '.profile.d/jvmcommon.sh'))).toBe(true);
    // The Maven repository is build-only: not in the slug.
    expect(run.files.some((f) => f.includes('repository/'))).toBe(false);
    const web = await startProcess(run, 'web');
    expect(await (await fetch(web.url)).text()).toBe('hello from maven 17');
    web.stop();
  });

  it('runs -B -DskipTests clean install by default, MAVEN_CUSTOM_GOALS/OPTS instead, with the repository in a build-only layer keyed on pom.xml', async () => {
    const name = appName();
    const app = mvnwApp();
    const rec = execRecorder();
    const first = await runCompile(javaBuildpack, { app, cacheDir, appName: name, exec: rec.exec });
    const mvn = rec.commands.find((c) => c.command.endsWith('/mvnw'))!;
    // Without settings of the app's, an empty settings file: never the build host's ~/.m2/settings.xml.
    expect(mvn.args).toEqual(['-B', expect.stringMatching(/^-Dmaven\.repo\.local=.*\/repository$/), '-s', expect.stringMatching(/maven-settings-empty\.xml$/), '-DskipTests', 'clean', 'install']);
    expect(mvn.env).toMatchObject({ JAVA_HOME: expect.stringMatching(/\.jdk\/usr\/lib\/jvm\/java-17/), MAVEN_SKIP_RC: 'true' });
    expect(mvn.args[1]).not.toContain(first.appDir);
    expect(first.layers.map((l) => [l.layer, l.state])).toEqual([['runtime', expect.any(String)], ['maven-repository', 'new']]);
    const rec2 = execRecorder();
    const second = await runCompile(javaBuildpack, { app, cacheDir, appName: name, exec: rec2.exec, env: { MAVEN_CUSTOM_GOALS: 'package', MAVEN_CUSTOM_OPTS: '-Pprod -DskipTests=false' } });
    expect(second.layers.find((l) => l.layer === 'maven-repository')?.state).toBe('restored');
    expect(rec2.commands.find((c) => c.command.endsWith('/mvnw'))!.args.slice(4)).toEqual(['-Pprod', '-DskipTests=false', 'package']);
    app.write({ 'pom.xml': '<project><modelVersion>4.0.0</modelVersion><groupId>demo</groupId><artifactId>app</artifactId><version>2.0</version></project>\n' });
    const third = await runCompile(javaBuildpack, { app, cacheDir, appName: name, exec: execRecorder().exec });
    expect(third.layers.find((l) => l.layer === 'maven-repository')?.reason).toMatch(/lockfile_sha256/);
  });

  it('passes the app\'s settings.xml, MAVEN_SETTINGS_PATH, or MAVEN_SETTINGS_URL (fetched, never logged with its credentials)', async () => {
    const settings = '<settings><servers><server><id>corp</id><username>builder</username><password>s3cret-repo-pass</password></server></servers></settings>\n';
    const rec = execRecorder();
    const app = mvnwApp({ 'settings.xml': settings, 'config/other.xml': settings });
    const r1 = await runCompile(javaBuildpack, { app, cacheDir, appName: appName(), exec: rec.exec });
    expect(rec.commands.at(-1)!.args).toEqual(expect.arrayContaining(['-s', path.join(fs.realpathSync(r1.appDir), 'settings.xml')]));
    const rec2 = execRecorder();
    await runCompile(javaBuildpack, { app, cacheDir, appName: appName(), exec: rec2.exec, env: { MAVEN_SETTINGS_PATH: 'config/other.xml' } });
    expect(rec2.commands.at(-1)!.args.join(' ')).toMatch(/-s \S+\/config\/other\.xml/);

    const served = tempDir();
    fs.mkdirSync(path.join(served, 'settings.example'));
    fs.writeFileSync(path.join(served, 'settings.example/settings.xml'), settings);
    let auth: string | null = null;
    const ff = fakeFetch(served);
    const fetchWithAuth = (async (input: string | URL | Request, init?: RequestInit) => {
      auth = new Headers(init?.headers).get('authorization');
      return ff.fetch(input, init);
    }) as typeof globalThis.fetch;
    const rec3 = execRecorder((c) => (c.command.endsWith('/mvnw') ? { stdout: 'Downloading from corp: http://builder:s3cret-repo-pass@repo.example/x.pom\n' } : undefined));
    const r3 = await runCompile(javaBuildpack, { app: mvnwApp(), cacheDir, appName: appName(), exec: rec3.exec, fetch: fetchWithAuth, env: { MAVEN_SETTINGS_URL: 'https://ci:url-t0ken-pass@settings.example/settings.xml' } });
    expect(ff.calls).toEqual(['https://settings.example/settings.xml']); // credentials in a header, not the URL
    expect(auth).toBe(`Basic ${Buffer.from('ci:url-t0ken-pass').toString('base64')}`);
    const sArg = rec3.commands.at(-1)!.args;
    const file = sArg[sArg.indexOf('-s') + 1]!;
    expect(file).not.toContain(r3.appDir); // in the build's temp dir, never the slug
    expect(r3.log).toMatch(/Maven settings: downloaded from MAVEN_SETTINGS_URL \(https:\/\/settings\.example\/settings\.xml\)/);
    expect(r3.log).not.toContain('url-t0ken-pass');
    expect(r3.log).not.toContain('s3cret-repo-pass');
    await expect(runCompile(javaBuildpack, { app: mvnwApp(), cacheDir, appName: appName(), exec: execRecorder().exec, env: { MAVEN_SETTINGS_PATH: 'nope.xml' } })).rejects.toMatchObject({ code: 'SLUGC_JAVA_MAVEN_SETTINGS_MISSING' });
  });

  it('fails with the compiler\'s message when the code does not compile', async () => {
    const app = mvnwApp({ 'src/main/java/demo/Main.java': 'package demo;\npublic class Main { int x = missingSymbol; }\n' });
    await expect(runCompile(javaBuildpack, { app, cacheDir, appName: appName(), hostEnv: hostEnv() })).rejects.toMatchObject({
      code: 'SLUGC_COMMAND_FAILED',
      message: expect.stringMatching(/Main\.java:2: error: cannot find symbol/),
      hint: expect.stringMatching(/Maven could not build the app/),
    });
  });
});

describe('system.properties and the JDK', () => {
  it('lists the versions there are, and how to add a source, for a version no source has; refuses another vendor', async () => {
    await expect(runCompile(javaBuildpack, { app: mvnwApp({ 'system.properties': 'java.runtime.version=99\n' }), cacheDir, appName: appName(), exec: execRecorder().exec })).rejects.toMatchObject({
      code: 'SLUGC_VERSION_UNSATISFIABLE',
      message: expect.stringMatching(/Available: 17\.\d+\.\d+/),
      hint: expect.stringMatching(/SLUGC_JDK_INVENTORY/),
    });
    await expect(runCompile(javaBuildpack, { app: mvnwApp({ 'system.properties': 'java.runtime.version=zulu-17\n' }), cacheDir, appName: appName(), exec: execRecorder().exec })).rejects.toMatchObject({
      code: 'SLUGC_JAVA_VENDOR_UNSUPPORTED',
      hint: expect.stringMatching(/java\.runtime\.version=17/),
    });
  });

  it('installs the requested 17 (and openjdk-17), naming system.properties in the log', async () => {
    const r = await runCompile(javaBuildpack, { app: mvnwApp({ 'system.properties': '# the JDK\njava.runtime.version = openjdk-17\n' }), cacheDir, appName: appName(), exec: execRecorder().exec });
    expect(r.log).toMatch(/java\.runtime\.version in system\.properties requests "17"/);
  });

  it('sizes JAVA_TOOL_OPTIONS from the cgroup memory limit, only when there is one and no heap size is set', () => {
    const dir = tempDir();
    const limit = path.join(dir, 'memory.max');
    const script = path.join(dir, 'jvm.sh');
    fs.writeFileSync(script, jvmProfileScript([limit, path.join(dir, 'missing')]));
    const opts = (value: string | null, env: Record<string, string> = {}) => {
      if (value === null) fs.rmSync(limit, { force: true });
      else fs.writeFileSync(limit, `${value}\n`);
      return execFileSync('sh', ['-c', `. "${script}"; printf %s "$JAVA_TOOL_OPTIONS"`], { env: { PATH: process.env.PATH!, ...env } }).toString();
    };
    expect(opts(String(512 * 1024 * 1024))).toBe('-XX:MaxRAMPercentage=60.0 -Xss512k -XX:CICompilerCount=2');
    expect(opts(String(2 * 1024 * 1024 * 1024))).toBe('-XX:MaxRAMPercentage=80.0');
    expect(opts(String(2 * 1024 * 1024 * 1024), { JAVA_TOOL_OPTIONS: '-Dfile.encoding=UTF-8' })).toBe('-Dfile.encoding=UTF-8 -XX:MaxRAMPercentage=80.0');
    expect(opts(String(2 * 1024 * 1024 * 1024), { JAVA_TOOL_OPTIONS: '-Xmx300m' })).toBe('-Xmx300m');
    expect(opts('max')).toBe('');
    expect(opts('9223372036854771712')).toBe('');
    expect(opts(null)).toBe('');
  });
});

describe('a Gradle app', () => {
  const gradleApp = (extra: Record<string, AppFile | null> = {}) =>
    testApp(Object.fromEntries(Object.entries<AppFile | null>({
      'build.gradle': "plugins { id 'java' }\n",
      'settings.gradle': "rootProject.name = 'app'\n",
      gradlew: { content: standInBuildScript('demo.Main', 'build/libs'), mode: 0o755 },
      'gradle/wrapper/gradle-wrapper.properties': 'distributionUrl=https\\://services.gradle.org/distributions/gradle-8.5-bin.zip\n',
      'src/main/java/demo/Main.java': httpServerSource('hello from gradle'),
      ...extra,
    }).filter((e): e is [string, AppFile] => e[1] !== null)));

  it('builds with ./gradlew (build -x check), caches in a build-only layer, and releases the one JAR in build/libs', async () => {
    const run = await runBuild({ app: gradleApp(), buildpacks: [javaBuildpack], cacheDir, appName: appName(), hostEnv: hostEnv() });
    expect(run.log).toMatch(/Building with the Gradle wrapper: build -x check/);
    expect(run.release.processTypes.web).toBe('java $JAVA_OPTS -jar build/libs/app.jar');
    const unpacked = await unpackSlugToTemp(run.slugPath);
    expect(fs.readFileSync(path.join(unpacked, 'build/libs/build-args.txt'), 'utf8')).toMatch(/^build -x check --no-daemon$/m);
    const web = await startProcess(run, 'web');
    expect(await (await fetch(web.url)).text()).toBe('hello from gradle 17');
    web.stop();
  });

  it('runs the stage task when build.gradle defines one, GRADLE_TASK when set, with GRADLE_USER_HOME in the cache', async () => {
    const rec = execRecorder();
    const r = await runCompile(javaBuildpack, { app: gradleApp({ 'build.gradle.kts': 'tasks.register("stage") { dependsOn("installDist") }\n', 'build.gradle': null }), cacheDir, appName: appName(), exec: rec.exec });
    const cmd = rec.commands.find((c) => c.command.endsWith('/gradlew'))!;
    expect(cmd.args).toEqual(['stage', '--no-daemon']);
    expect(cmd.env.GRADLE_USER_HOME).toBeTruthy();
    expect(cmd.env.GRADLE_USER_HOME).not.toContain(r.appDir);
    expect(r.layers.map((l) => l.layer)).toContain('gradle-cache');
    const rec2 = execRecorder();
    await runCompile(javaBuildpack, { app: gradleApp(), cacheDir, appName: appName(), exec: rec2.exec, env: { GRADLE_TASK: 'shadowJar' } });
    expect(rec2.commands.find((c) => c.command.endsWith('/gradlew'))!.args).toEqual(['shadowJar', '--no-daemon']);
  });

  it('refuses a Gradle app without a wrapper, saying to commit one', async () => {
    await expect(runCompile(javaBuildpack, { app: testApp({ 'build.gradle': '' }), cacheDir, appName: appName(), exec: execRecorder().exec })).rejects.toMatchObject({
      code: 'SLUGC_JAVA_GRADLE_WRAPPER_MISSING',
      hint: expect.stringMatching(/gradle wrapper.*commit/),
    });
  });
});

describe('an app that is an executable JAR', () => {
  it('builds nothing and releases java -jar (with the port for Spring Boot); no default with two JARs; a corrupt JAR is a clear error', async () => {
    const plain = await runBuild({ app: testApp({ 'app.jar': jarBytes({ 'Main-Class': 'demo.Main' }) }), buildpacks: [javaBuildpack], cacheDir, appName: appName() });
    expect(plain.log).toMatch(/An executable JAR: nothing to build/);
    expect(plain.release.processTypes.web).toBe('java $JAVA_OPTS -jar app.jar');
    const boot = await runBuild({ app: testApp({ 'app.jar': jarBytes({ 'Main-Class': 'org.springframework.boot.loader.launch.JarLauncher', 'Start-Class': 'demo.App' }) }), buildpacks: [javaBuildpack], cacheDir, appName: appName() });
    expect(boot.release.processTypes.web).toBe('java -Dserver.port=$PORT $JAVA_OPTS -jar app.jar');
    const two = await runBuild({ app: testApp({ 'a.jar': jarBytes({ 'Main-Class': 'a.Main' }), 'b.jar': jarBytes({ 'Main-Class': 'b.Main' }) }), buildpacks: [javaBuildpack], cacheDir, appName: appName() });
    expect(two.release.processTypes.web).toBeUndefined();
    expect(two.log).toMatch(/No default web process: the app root has 2 runnable JARs \(a\.jar, b\.jar\)\. Add a Procfile/);
    const corrupt = jarBytes({ 'Main-Class': 'demo.Main' }).subarray(0, 60);
    await expect(runCompile(javaBuildpack, { app: testApp({ 'app.jar': Buffer.concat([corrupt, Buffer.alloc(40)]) }), cacheDir, appName: appName() })).rejects.toMatchObject({
      code: 'SLUGC_JAVA_JAR_INVALID',
      message: expect.stringMatching(/^Couldn't read the JAR app\.jar: /),
    });
  });
});

describe('a real Maven build against a loopback repository', () => {
  let repo: DirServer;
  beforeAll(async () => {
    repo = await serveDir('/usr/share/maven-repo');
  });
  afterAll(() => repo.close());

  const plugins = [
    ['maven-compiler-plugin', '3.10.1'],
    ['maven-resources-plugin', '3.3.0'],
    ['maven-surefire-plugin', '2.22.3'],
    ['maven-install-plugin', '3.1.0'],
  ]
    .map(([a, v]) => `<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>${a}</artifactId><version>${v}</version></plugin>`)
    .join('');
  const pom = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>demo</groupId><artifactId>web</artifactId><version>1.0</version><packaging>jar</packaging>
  <properties><maven.compiler.release>17</maven.compiler.release><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
  <build><plugins>${plugins}
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-jar-plugin</artifactId><version>3.3.0</version>
      <configuration><archive><manifest><mainClass>demo.Main</mainClass></manifest></archive></configuration></plugin>
  </plugins></build>
</project>
`;
  const settings = (url: string) => `<settings><mirrors><mirror><id>debian</id><mirrorOf>*</mirrorOf><url>${url}</url></mirror></mirrors></settings>\n`;

  it('builds with Maven from the stack\'s packages, boots the JAR, and a second build downloads nothing', async () => {
    const app = testApp({ 'pom.xml': pom, 'settings.xml': settings(repo.url), 'src/main/java/demo/Main.java': httpServerSource('hello from real maven') });
    // `clean` needs plexus-utils:1.1, which Debian's repository lacks: as real users do, pick the goals.
    const run = await runBuild({ app, buildpacks: [javaBuildpack], cacheDir, appName: appName(), hostEnv: hostEnv(), env: { MAVEN_CUSTOM_GOALS: 'install' } });
    expect(run.log).toMatch(/Building with Maven 3\.\d+\.\d+ \(debian/);
    expect(run.log).toMatch(/BUILD SUCCESS/);
    expect(repo.requests.length).toBeGreaterThan(10);
    expect(run.release.processTypes.web).toBe('java $JAVA_OPTS -jar target/web-1.0.jar');
    expect(run.files.some((f) => f.startsWith('.jdk/') )).toBe(true);
    expect(run.files.some((f) => f.includes('usr/share/maven/'))).toBe(false);
    const web = await startProcess(run, 'web');
    expect(await (await fetch(web.url)).text()).toBe('hello from real maven 17');
    web.stop();
    const before = repo.requests.length;
    const again = await run.rebuild();
    expect(again.log).toMatch(/Maven repository restored from the cache/);
    expect(repo.requests.slice(before)).toEqual([]);
  });

  it('fails naming the dependency the repository lacks', async () => {
    const withDep = pom.replace('<build>', '<dependencies><dependency><groupId>com.example</groupId><artifactId>not-there</artifactId><version>9.9</version></dependency></dependencies><build>');
    const app = testApp({ 'pom.xml': withDep, 'settings.xml': settings(repo.url), 'src/main/java/demo/Main.java': httpServerSource('x') });
    await expect(runCompile(javaBuildpack, { app, cacheDir, appName: appName(), hostEnv: hostEnv(), env: { MAVEN_CUSTOM_GOALS: 'install' } })).rejects.toMatchObject({
      code: 'SLUGC_COMMAND_FAILED',
      message: expect.stringMatching(/com\.example:not-there:jar:9\.9/),
    });
  });
});
