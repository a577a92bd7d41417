/**
 * Where the JDK goes in the slug, and what is never in it.
 *
 * - The JDK is the runtime as installed (Debian's OpenJDK packages unpacked,
 *   or an inventory's build) at `.jdk`, as Heroku puts it, linked from the
 *   runtime store; `JAVA_HOME` and `PATH` come from `.profile.d/jdk.sh`.
 * - Maven (Debian's packages, unpacked in the runtime store) and the Maven
 *   repository (`-Dmaven.repo.local`) are build-only: they stay in the
 *   cache and never reach the slug. So do Gradle's caches (`GRADLE_USER_HOME`).
 * - What the build makes stays where the build tool puts it: `target/*.jar`
 *   for Maven, `build/libs/*.jar` for Gradle.
 */
export const JDK_HOME = '.jdk';

/** The files that make an app a Maven app (Heroku's Java buildpack looks for the same). */
export const MAVEN_FILES = ['pom.xml', 'pom.atom', 'pom.clj', 'pom.groovy', 'pom.rb', 'pom.scala', 'pom.yaml', 'pom.yml', 'mvnw'] as const;

/** The files that make an app a Gradle app (Heroku's Gradle buildpack looks for the same). */
export const GRADLE_FILES = ['build.gradle', 'build.gradle.kts', 'settings.gradle', 'settings.gradle.kts', 'gradlew'] as const;

/** Where each build tool leaves its JARs, relative to the app. */
export const JAR_DIRS = { maven: 'target', gradle: 'build/libs' } as const;
