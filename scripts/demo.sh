#!/bin/sh
# scripts/demo.sh: sparkgate in one command, on a fresh Debian 12 clone.
#
#   1. installs the Debian dependencies (scripts/install-deps.sh; sudo if not root)
#   2. builds sparkgate and the test backend if needed
#   3. generates development certificates into certs/
#   4. starts the test Spark Connect backend (127.0.0.1:15003, h2c) and
#      sparkgate with conf/demo.json (TLS on 127.0.0.1:15002)
#   5. runs scripts/demo_client.py: real Spark Connect calls through sparkgate,
#      including a Python UDF the demo user's profile refuses, then
#      "sparkgate explain" on that request and the audit log lines
#   6. stops both with SIGTERM and shows sparkgate draining and exiting 0
#
# Logs and records are kept in .demo/.  Exits non-zero if anything failed.
set -eu

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEMO=$ROOT/.demo
PY=/usr/bin/python3
SG_PORT=15002
BE_PORT=15003

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

say "installing dependencies (scripts/install-deps.sh)"
sh scripts/install-deps.sh

say "building (out of tree, in build-demo/)"
# Out of tree so that scripts/test.sh (which builds in build-gcc/ and
# build-asan/) works before or after the demo in the same checkout: an
# in-tree ./configure would make every VPATH configure refuse the tree.
BUILD=$ROOT/build-demo
SG=$BUILD/sparkgate
BE=$BUILD/tests/backend/sc-test-backend
if [ -f config.status ]; then
    # left by an older in-tree build: VPATH builds refuse such a tree
    make distclean >/dev/null 2>&1 || rm -f config.status
fi
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
    autoreconf -fi
fi
mkdir -p "$BUILD"
if [ ! -f "$BUILD/Makefile" ] || [ configure -nt "$BUILD/Makefile" ]; then
    (cd "$BUILD" && "$ROOT/configure" >configure.out 2>&1) || { cat "$BUILD/configure.out"; die "configure failed"; }
fi
# only what the demo runs (the full `make` also builds docs and tests);
# make itself decides what is out of date
make -C "$BUILD" -j2 sparkgate tests/backend/sc-test-backend >"$BUILD/make.out" 2>&1 \
    || { cat "$BUILD/make.out"; die "build failed"; }
"$SG" --version

say "development certificates (certs/gen-dev-certs.sh certs)"
sh certs/gen-dev-certs.sh certs

mkdir -p "$DEMO"
rm -f "$DEMO/backend-record.jsonl" "$DEMO/sparkgate.log" "$DEMO/backend.out" "$DEMO/backend.err"

port_busy() {
    "$PY" -c 'import socket,sys
s=socket.socket()
s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"
}
for p in $SG_PORT $BE_PORT; do
    if port_busy "$p"; then die "port $p is already in use (another demo running?)"; fi
done

BE_PID=
SG_PID=
cleanup() {
    for pid in $SG_PID $BE_PID; do
        kill "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting the test backend on 127.0.0.1:$BE_PORT"
"$BE" --listen 127.0.0.1:$BE_PORT --name demo-backend \
    --record "$DEMO/backend-record.jsonl" >"$DEMO/backend.out" 2>"$DEMO/backend.err" &
BE_PID=$!
i=0
until grep -q '^READY' "$DEMO/backend.out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -le 100 ] || { cat "$DEMO/backend.err" >&2; die "backend did not become ready"; }
    kill -0 "$BE_PID" 2>/dev/null || { cat "$DEMO/backend.err" >&2; die "backend exited"; }
    sleep 0.1
done
cat "$DEMO/backend.out"

DEMO_TOKEN=sparkgate-demo-token
say "the demo token is \"$DEMO_TOKEN\"; conf/demo.json holds only its digest:"
echo "printf %s $DEMO_TOKEN | build-demo/sparkgate hash-token  ->  $(printf %s "$DEMO_TOKEN" | "$SG" hash-token)"

say "checking the configuration: build-demo/sparkgate -t -c conf/demo.json"
"$SG" -t -c conf/demo.json

say "starting sparkgate on 127.0.0.1:$SG_PORT (TLS, ALPN h2)"
"$SG" -c conf/demo.json 2>"$DEMO/sparkgate.log" &
SG_PID=$!
i=0
until port_busy $SG_PORT; do
    i=$((i + 1))
    [ $i -le 100 ] || { cat "$DEMO/sparkgate.log" >&2; die "sparkgate did not start listening"; }
    kill -0 "$SG_PID" 2>/dev/null || { cat "$DEMO/sparkgate.log" >&2; die "sparkgate exited"; }
    sleep 0.1
done
echo "sparkgate pid $SG_PID is listening"

say "running scripts/demo_client.py through sparkgate"
rc=0
"$PY" scripts/demo_client.py --port $SG_PORT --ca certs/ca.pem --token "$DEMO_TOKEN" \
    --record "$DEMO/backend-record.jsonl" --workdir "$DEMO" || rc=$?

if [ -f "$DEMO/udf-request.bin" ]; then
    say "sparkgate explain: the refused request, offline, against every profile"
    "$SG" explain -c conf/demo.json "$DEMO/udf-request.bin" || rc=$?
fi

say "sparkgate's audit lines (one per policy decision)"
grep ' audit ' "$DEMO/sparkgate.log" | tail -n 6

say "last lines of sparkgate's log ($DEMO/sparkgate.log)"
tail -n 15 "$DEMO/sparkgate.log"

say "stopping sparkgate (SIGTERM: stop accepting, drain, exit)"
nlog=$(wc -l <"$DEMO/sparkgate.log")
kill -TERM "$SG_PID"
sg_rc=0
wait "$SG_PID" || sg_rc=$?
SG_PID=
tail -n +"$((nlog + 1))" "$DEMO/sparkgate.log"
echo "sparkgate exited with status $sg_rc"
[ "$sg_rc" = 0 ] || rc=1

kill -TERM "$BE_PID" 2>/dev/null || true
wait "$BE_PID" 2>/dev/null || true
BE_PID=

if [ "$rc" = 0 ]; then
    say "demo passed.  Point a Spark Connect client at: sc://localhost:$SG_PORT/;use_ssl=true;token=$DEMO_TOKEN"
    echo "(trusting the dev CA certs/ca.pem, e.g. GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=$ROOT/certs/ca.pem)"
else
    say "demo FAILED (status $rc); logs in $DEMO/"
fi
exit "$rc"
