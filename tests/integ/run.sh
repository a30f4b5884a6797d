#!/bin/sh
# tests/integ/run.sh: sparkgate's integration suite (pytest), run by
# `make check` (TESTS += tests/integ/run.sh) or by hand:
#
#   tests/integ/run.sh [pytest args...]      e.g. -k stream -x
#
# Uses /usr/bin/python3 (Debian's grpcio/protobuf/h2/pytest; a pyenv shim
# on PATH could not import them), or $SG_PYTHON.  Works from a VPATH build:
# binaries come from $top_builddir, the tests from $top_srcdir.  Temporary
# files (certificates, generated protobuf code, logs) go to a mktemp
# directory, never into the source tree; SG_INTEG_KEEP=1 keeps it.
# Exits with pytest's status.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "${top_srcdir:-$here/../..}" && pwd)
top_builddir=$(cd "${top_builddir:-$top_srcdir}" && pwd)
export top_srcdir top_builddir

PY=${SG_PYTHON:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1
export PYTHONUNBUFFERED=1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sg-integ.XXXXXX") || exit 99
export SG_INTEG_TMPDIR="$tmp"
cleanup() {
    if [ -z "${SG_INTEG_KEEP:-}" ]; then rm -rf "$tmp"; else echo "run.sh: kept $tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# a per-test hard limit when pytest-timeout is installed (every wait in the
# suite is bounded anyway; this only turns a bug in the suite into a failure)
timeout_opt=
if "$PY" -c 'import pytest_timeout' 2>/dev/null; then
    timeout_opt="--timeout=${SG_INTEG_TEST_TIMEOUT:-300}"
fi

cd "$top_srcdir" || exit 99
# shellcheck disable=SC2086
"$PY" -m pytest -q -ra -p no:cacheprovider $timeout_opt tests/integ "$@"
rc=$?
exit $rc
