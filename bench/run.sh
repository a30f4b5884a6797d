#!/bin/sh
# bench/run.sh: sparkgate vs the test backend direct vs nghttpx, in one run.
#
#   bench/run.sh
#
# Builds sparkgate and tests/backend/sc-test-backend if needed, then runs
# bench/bench.py, which starts the backend (h2c + TLS), sparkgate and nghttpx
# on ephemeral loopback ports, measures with h2load (unary Config calls,
# streaming ExecutePlan) and a Python client (1,000 idle TLS connections),
# writes raw outputs to bench/out/ and regenerates docs/benchmarks.md.
# Section 4 (authentication cost) runs sparkgate without auth, with a static
# token, RS256 and ES256 JWTs (token cache on and off) and a JWT verification
# micro-benchmark (bench/jwt_verify_bench.c, built below).  Section 5 (plan policy)
# runs bench/plan_bench.c (built below), one 64 MiB LocalRelation request through every
# front, and unary calls through sparkgate without and with the shipped profiles.
# The proxies' configurations, each nghttpx flag explained, are at the top of
# bench/bench.py.  Stops by itself (hard deadline BENCH_DEADLINE, 420 s; about 5 minutes);
# every process it started is stopped on exit or interrupt.
# Needs: h2load (nghttp2-client), nghttpx (nghttp2-proxy), openssl, python3.
set -eu

cd "$(dirname "$0")/.."
PY=/usr/bin/python3

for t in h2load nghttpx openssl "$PY"; do
    command -v "$t" >/dev/null 2>&1 || {
        echo "bench: $t not found (apt-get install nghttp2-client nghttp2-proxy openssl python3)" >&2
        exit 1
    }
done

if [ ! -f Makefile ]; then
    test -x configure || autoreconf -fi
    ./configure
fi
BENCH_STALE=
buildlog=$(mktemp "${TMPDIR:-/tmp}/bench-build.XXXXXX")
if ! make -s -j2 sparkgate tests/backend/sc-test-backend >"$buildlog" 2>&1; then
    if [ -x "${BENCH_SPARKGATE:-sparkgate}" ] && [ -x tests/backend/sc-test-backend ]; then
        echo "bench: WARNING: the build failed; benchmarking the existing binaries" >&2
        tail -n 5 "$buildlog" >&2
        BENCH_STALE=1
    else
        cat "$buildlog" >&2; rm -f "$buildlog"
        exit 1
    fi
fi
rm -f "$buildlog"
export BENCH_STALE

# Section 4's JWT micro-benchmark (bench/jwt_verify_bench.c): built here, not by
# Makefile.am, with the project's own compile and link lines - automake's $(COMPILE)
# and $(LINK) from the generated Makefile, i.e. the CFLAGS/warnings/hardening the
# daemon gets - against src/libsgparse.a (auth_jwt.c, auth_jwk.c).  The exact
# commands go to bench/out/bin/build.txt for the report.  Optional: without it the
# report says so and the end-to-end cold measurement stands alone.
mkdir -p bench/out/bin
JVB=bench/out/bin/jwt-verify-bench
JVB_RULE='JVB_CC = $(COMPILE) -c -o bench/out/bin/jwt_verify_bench.o bench/jwt_verify_bench.c
JVB_LD = $(LINK) bench/out/bin/jwt_verify_bench.o src/libsgparse.a $(SSL_LIBS) $(JANSSON_LIBS) $(PTHREAD_LIBS) $(LIBS)
bench/out/bin/jwt-verify-bench: bench/jwt_verify_bench.c src/libsgparse.a src/auth_jwt.h ; $(file >bench/out/bin/build.txt,$(JVB_CC))$(file >>bench/out/bin/build.txt,$(JVB_LD))$(JVB_CC) && $(JVB_LD)'
buildlog=$(mktemp "${TMPDIR:-/tmp}/bench-build.XXXXXX")
if ! make --no-print-directory -s --eval "$JVB_RULE" "$JVB" >"$buildlog" 2>&1; then
    echo "bench: WARNING: bench/jwt_verify_bench.c did not build; no micro-benchmark" >&2
    tail -n 5 "$buildlog" >&2
    rm -f "$JVB"
fi
rm -f "$buildlog"

# Section 5's plan inspection micro-benchmark (bench/plan_bench.c), built the same way
# against src/libsgparse.a (plan.c, policy.c, sqlclass.c) and zstd; commands in
# bench/out/bin/build-plan.txt.  Optional as well: without it the report says so.
PB=bench/out/bin/plan-bench
PB_RULE='PB_CC = $(COMPILE) -c -o bench/out/bin/plan_bench.o bench/plan_bench.c
PB_LD = $(LINK) bench/out/bin/plan_bench.o src/libsgparse.a $(ZSTD_LIBS) $(SSL_LIBS) $(JANSSON_LIBS) $(PTHREAD_LIBS) $(LIBS)
bench/out/bin/plan-bench: bench/plan_bench.c src/libsgparse.a src/plan.h src/policy.h ; $(file >bench/out/bin/build-plan.txt,$(PB_CC))$(file >>bench/out/bin/build-plan.txt,$(PB_LD))$(PB_CC) && $(PB_LD)'
buildlog=$(mktemp "${TMPDIR:-/tmp}/bench-build.XXXXXX")
if ! make --no-print-directory -s --eval "$PB_RULE" "$PB" >"$buildlog" 2>&1; then
    echo "bench: WARNING: bench/plan_bench.c did not build; no plan micro-benchmark" >&2
    tail -n 5 "$buildlog" >&2
    rm -f "$PB"
fi
rm -f "$buildlog"

mkdir -p bench/out
# bench.py makes itself a process group leader (setpgrp): its pid is the group id,
# and every server and h2load it starts is in that group.
"$PY" bench/bench.py &
pid=$!
cleanup() {
    kill -TERM "$pid" 2>/dev/null || true
    sleep 1
    kill -KILL -- "-$pid" 2>/dev/null || true
}
trap 'cleanup; exit 130' INT TERM
rc=0
wait "$pid" || rc=$?
# anything left behind (after a crash of bench.py) goes too; normally nothing is
kill -KILL -- "-$pid" 2>/dev/null || true
exit "$rc"
