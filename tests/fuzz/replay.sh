#!/bin/sh
# Runs every fuzz target over its committed corpus (make check).  Without
# --enable-fuzzing the targets are linked with replay_main.c; with it they
# are libFuzzer binaries and get -runs=0 (replay only).  The targets are the
# tests/fuzz/fuzz_*.c files: one that Makefile.am does not build, or that
# has no corpus, fails here instead of going unreplayed.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
pass=0
fail=0
for src in "$top_srcdir"/tests/fuzz/fuzz_*.c; do
    t=$(basename "$src" .c)
    t=${t#fuzz_}
    bin="$top_builddir/tests/fuzz/fuzz_$t"
    corpus="$top_srcdir/tests/fuzz/corpus/$t"
    if "$bin" -runs=0 "$corpus" >/dev/null 2>&1 || "$bin" "$corpus"; then
        echo "PASS: fuzz_$t"
        pass=$((pass + 1))
    else
        echo "FAIL: fuzz_$t"
        fail=$((fail + 1))
    fi
done
echo "fuzz replay: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
