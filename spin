#!/usr/bin/env bash
# The Spinstream launcher: finds a JDK 21+, builds what is missing or stale, and runs the `spin` command line.
#   ./spin local            a real broker + registry on this machine, with the topics (Ctrl-C stops it)
#   ./spin test             the whole test suite (what CI runs)
#   ./spin test --fast      only the tests that need no broker (tag "broker" left out)
#   ./spin test --no-fault  everything but the fault matrix and the soak (tag "fault" left out)
#   ./spin build            build everything, skip tests
#   ./spin <command> ...    any other command of the command line (./spin --help lists them)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MIN_JAVA=21

die() { echo "spin: $*" >&2; exit 1; }

# Feature version of the JDK at $1 (0 if it is not a JDK).
jdk_version() {
  local home="$1" v
  [ -x "$home/bin/java" ] && [ -x "$home/bin/javac" ] || { echo 0; return; }
  if [ -f "$home/release" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release")
  else
    v=$("$home/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  fi
  [ "${v:-0}" = 1 ] && v=8
  echo "${v:-0}"
}

# JAVA_HOME first, then the usual install folders, newest first.
find_jdk() {
  local candidates=() c
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  for c in $(ls -d /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/* 2>/dev/null | sort -rV); do
    candidates+=("$c")
  done
  for c in "${candidates[@]}"; do
    if [ "$(jdk_version "$c")" -ge "$MIN_JAVA" ]; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

JDK="$(find_jdk)" || die "no JDK $MIN_JAVA+ found (looked at JAVA_HOME=${JAVA_HOME:-unset} and /usr/lib/jvm, /usr/java, /opt/java, ~/.sdkman).
Install one (for example Temurin 21 or newer) or set JAVA_HOME to it."
export JAVA_HOME="$JDK"
JAVA="$JDK/bin/java"
# DJL runs offline: libtorch comes from the pytorch-native-cpu jar and unpacks into the build output.
export DJL_CACHE_DIR="${DJL_CACHE_DIR:-$ROOT/target/djl-cache}"
JVM_FLAGS=(--enable-native-access=ALL-UNNAMED -Djava.awt.headless=true -Dai.djl.offline=true "-Dspin.home=$ROOT"
  "-DDJL_CACHE_DIR=$DJL_CACHE_DIR" "-Dai.djl.pytorch.num_threads=${SPIN_THREADS:-2}" -Dai.djl.pytorch.num_interop_threads=1)
# glibc's malloc raises its mmap threshold each time a large block is freed (up to 32 MiB), after which the
# training step's tensors of 1-32 MiB land in the heap's arenas and fragment them: measured on a 12-layer
# Qwen2.5-1.5B-shaped LoRA step, 1.2 GiB more resident after two steps than with the threshold held at 1 MiB.
# Transparent huge pages for the mapped blocks cut the page faults of fresh mappings (a fifth of the step's sys time).
# A GLIBC_TUNABLES of the user's own is left as it is.
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=1048576:glibc.malloc.hugetlb=1}"
if [ "$(jdk_version "$JDK")" -ge 24 ]; then
  # Maven's own libraries and Kafka's clients still call sun.misc.Unsafe; JDK 24+ warns on every start without this.
  export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
  JVM_FLAGS+=(--sun-misc-unsafe-memory-access=allow)
fi

mvn_cmd() {
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is not on PATH: install Maven 3.8+ (Debian: apt-get install maven)"
  (cd "$ROOT" && mvn -B "$@")
}

CLASSPATH_FILE="$ROOT/cli/target/classpath.txt"
stale() {
  [ -f "$CLASSPATH_FILE" ] || return 0
  [ -n "$(find "$ROOT" -path "$ROOT/.git" -prune -o \( -path '*/src/*' -o -name pom.xml \) -newer "$CLASSPATH_FILE" -print -quit)" ]
}

build() {
  echo "spin: building (JDK $JDK)..." >&2
  mvn_cmd -q -DskipTests package "$@" >&2 || die "the build failed; run ./spin build to see why"
  # The classpath file is the build's time stamp; Maven leaves it untouched when its content is unchanged.
  touch "$CLASSPATH_FILE"
}

case "${1:-}" in
  test)
    shift
    if [ "${1:-}" = "--fast" ]; then
      shift
      set -- -DexcludedGroups=broker "$@"
    elif [ "${1:-}" = "--no-fault" ]; then
      shift
      set -- -DexcludedGroups=fault "$@"
    fi
    mvn_cmd verify "$@"
    exit $?
    ;;
  build)
    shift
    mvn_cmd -DskipTests package "$@"
    exit $?
    ;;
esac

if stale; then build; fi
exec "$JAVA" "${JVM_FLAGS[@]}" ${SPIN_JAVA_OPTS:-} -cp "$ROOT/cli/target/classes:$(cat "$CLASSPATH_FILE")" \
  io.spinstream.cli.SpinCommand "$@"
