#!/usr/bin/env bash
# Installs what the test suite needs beyond Node and npm, on a fresh Debian
# machine. Idempotent: does nothing when everything is already there.
set -euo pipefail
need=()
command -v tar >/dev/null || need+=(tar)
command -v gzip >/dev/null || need+=(gzip)
command -v git >/dev/null || need+=(git)
command -v xz >/dev/null || need+=(xz-utils)      # tar.xz extraction tests
command -v zstd >/dev/null || need+=(zstd)        # tar.zst extraction tests
command -v pgrep >/dev/null || need+=(procps)     # process-cleanup tests
command -v unzip >/dev/null || need+=(unzip)      # zip round-trip tests
command -v pigz >/dev/null || need+=(pigz)        # the packaging benchmark's baseline (tar | pigz -6)
command -v docker-registry >/dev/null || need+=(docker-registry) # the remote layer cache tests (an OCI registry on 127.0.0.1)
command -v htpasswd >/dev/null || need+=(apache2-utils)          # ... with htpasswd (bcrypt) auth
command -v dpkg-deb >/dev/null || need+=(dpkg)    # the debian runtime source
command -v cc >/dev/null || need+=(gcc libc6-dev) # Ruby native-extension tests (the stack's compiler)
command -v make >/dev/null || need+=(make)
command -v strip >/dev/null || need+=(binutils)   # strips build paths from gems' native libraries
# Debian's Maven plugins, for the Java buildpack's real Maven build against a
# loopback repository serving /usr/share/maven-repo (no Maven Central here).
for pkg in libmaven-compiler-plugin-java libmaven-jar-plugin-java libmaven-resources-plugin-java libsurefire-java libmaven-install-plugin-java libmaven-clean-plugin-java; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"
  else
    echo "scripts/setup.sh: please install: ${need[*]}" >&2
    exit 1
  fi
fi
