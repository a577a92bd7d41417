import type { DebianSourceOptions } from 'slugc/sdk';

/**
 * Maven from the stack's own packages, for the `debian` runtime source:
 * Debian's `maven` and the Java libraries it depends on (its Depends,
 * followed by hand, leaving out the JRE: the JDK runtime provides Java).
 * Unpacked, `usr/share/maven/bin/mvn` finds its home from where it is, and
 * its `conf` link to `/etc/maven` is re-pointed into the unpacked tree.
 * Build-only: it stays in the runtime store and never reaches the slug.
 */
export const MAVEN_DEBIAN_PACKAGES: NonNullable<DebianSourceOptions['packages']> = {
  'debian-12': {
    maven: {
      main: 'maven',
      packages: [
        'maven',
        'libmaven3-core-java',
        'libaopalliance-java',
        'libapache-pom-java',
        'libatinject-jsr330-api-java',
        'libcdi-api-java',
        'libcommons-cli-java',
        'libcommons-io-java',
        'libcommons-lang3-java',
        'libcommons-parent-java',
        'liberror-prone-java',
        'libgeronimo-annotation-1.3-spec-java',
        'libgeronimo-interceptor-3.0-spec-java',
        'libguava-java',
        'libguice-java',
        'libjansi-java',
        'libjsr305-java',
        'libmaven-parent-java',
        'libmaven-resolver-java',
        'libmaven-shared-utils-java',
        'libplexus-cipher-java',
        'libplexus-classworlds-java',
        'libplexus-component-annotations-java',
        'libplexus-interpolation-java',
        'libplexus-sec-dispatcher-java',
        'libplexus-utils2-java',
        'libsisu-inject-java',
        'libsisu-plexus-java',
        'libslf4j-java',
        'libwagon-file-java',
        'libwagon-http-shaded-java',
        'libwagon-provider-api-java',
      ],
      binDirs: ['usr/share/maven/bin'],
      env: { MAVEN_HOME: '${RUNTIME_DIR}/usr/share/maven' },
      ldd: [],
    },
  },
};
