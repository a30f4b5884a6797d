#!/bin/sh
# The test command (README.md, and what .ci/run calls).
#
# 1. installs every missing dependency from Debian (scripts/install-deps.sh);
# 2. checks the C sources against .clang-format (`make format-check`, i.e.
#    scripts/format.sh --check), once, before any build; a failure is
#    reported and fails the run, but the builds still run;
# 3. builds with gcc, warnings as errors, and runs `make check`
#    (Check unit suites + the integration suite against the real process);
# 4. builds again with clang, warnings as errors, ASan+UBSan, and runs
#    `make check` again;
# 5. prints one summary line: "N passed, N failed".
#
# Builds are out of tree (build-gcc/, build-asan/) so the source tree stays
# clean and the VPATH build is exercised.  Usage: scripts/test.sh [gcc|asan]...
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

sh scripts/install-deps.sh
if [ -f config.status ]; then
    # an in-tree configure (an older demo, or a hand build) makes every
    # VPATH configure below refuse the tree
    make distclean >/dev/null 2>&1 || rm -f config.status
fi
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
    autoreconf -fi
fi

jobs=$(nproc 2>/dev/null || echo 2)
builds=${*:-gcc asan}
failed_builds=

# the same check as `make format-check`, run from the source tree so that it
# needs no configured build directory
echo "=== format-check"
sh scripts/format.sh --check || failed_builds="$failed_builds format-check"

run_build() {
    name=$1
    shift
    dir="$top/build-$name"
    echo "=== build $name: configure $*"
    mkdir -p "$dir"
    (
        cd "$dir"
        "$top/configure" --enable-werror "$@" >configure.out 2>&1 || { cat configure.out; exit 1; }
        make -j"$jobs" >make.out 2>&1 || { cat make.out; exit 1; }
        echo "=== build $name: make check"
        make -j"$jobs" check || { 
            for f in tests/unit/*.log tests/integ/*.log; do
                [ -f "$f" ] && { echo "--- $f"; tail -n 200 "$f"; }
            done
            exit 1
        }
    ) || failed_builds="$failed_builds $name"
}

for b in $builds; do
    case $b in
    gcc) run_build gcc CC=gcc ;;
    asan) run_build asan CC=clang --enable-sanitizers ;;
    *) echo "unknown build $b" >&2; exit 2 ;;
    esac
done

# one closing line over every build: Check's "Checks: N, Failures: F, Errors: E"
# and pytest's "N passed[, M failed]"
passed=0
failed=0
for b in $builds; do
    dir="$top/build-$b"
    for log in "$dir"/tests/unit/*.log; do
        [ -f "$log" ] || continue
        line=$(grep -E 'Checks: [0-9]+' "$log" | tail -n 1 || true)
        [ -n "$line" ] || continue
        n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
        f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
        e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
        passed=$((passed + n - f - e))
        failed=$((failed + f + e))
    done
    for log in "$dir"/tests/integ/*.log "$dir"/tests/fuzz/*.log; do
        [ -f "$log" ] || continue
        line=$(grep -E '[0-9]+ (passed|failed)' "$log" | tail -n 1 || true)
        [ -n "$line" ] || continue
        p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
        f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || echo 0)
        e=$(echo "$line" | grep -oE '[0-9]+ errors?' | grep -oE '[0-9]+' || echo 0)
        passed=$((passed + p))
        failed=$((failed + f + e))
    done
done
if [ -n "$failed_builds" ]; then
    echo "FAILED builds:$failed_builds"
    [ "$failed" -gt 0 ] || failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
