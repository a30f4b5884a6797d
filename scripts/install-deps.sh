#!/bin/sh
# Installs every build, test, demo and benchmark dependency of sparkgate from
# Debian 12 (bookworm) packages, and upgrades the two runtime libraries whose
# security fixes sparkgate relies on:
#   libnghttp2-14 >= 1.52.0-1+deb12u3 (CVE-2026-27135: abort after terminate)
#   libevent 2.1.12-stable-8+deb12u1
# unicode-data: the SQL classifier's unit test checks its case-folding table
# against UnicodeData.txt over every code point.
# clang-format-14: `make format-check` (scripts/test.sh runs it); the style
# in .clang-format is tuned for version 14.
# Idempotent: a second run installs nothing.  Needs root (or sudo).
set -eu

SUDO=
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

PKGS="
  build-essential autoconf automake libtool pkg-config autoconf-archive
  clang-14 libclang-rt-14-dev clang-format-14
  libnghttp2-dev libevent-dev libssl-dev libjansson-dev libjwt-dev libzstd-dev check
  nghttp2-client nghttp2-proxy openssl zstd
  python3 python3-grpcio python3-protobuf protobuf-compiler
  python3-jwt python3-cryptography python3-h2 python3-hyperframe python3-hpack
  mandoc procps python3-pytest python3-pytest-timeout
  unicode-data
"

missing=
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

need_upgrade=0
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo 0; }
if ! dpkg --compare-versions "$(ver libnghttp2-14)" ge 1.52.0-1+deb12u3; then need_upgrade=1; fi
if ! dpkg --compare-versions "$(ver libevent-2.1-7)" ge 2.1.12-stable-8+deb12u1; then need_upgrade=1; fi

if [ -n "$missing" ] || [ "$need_upgrade" = 1 ]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -q --no-install-recommends $missing \
        libnghttp2-14 libevent-2.1-7 libevent-core-2.1-7 libevent-extra-2.1-7 \
        libevent-openssl-2.1-7 libevent-pthreads-2.1-7
fi

# Refuse to continue on a vulnerable library: the tests would pass on a
# machine we must not ship to.
if ! dpkg --compare-versions "$(ver libnghttp2-14)" ge 1.52.0-1+deb12u3; then
    echo "install-deps: libnghttp2-14 $(ver libnghttp2-14) < 1.52.0-1+deb12u3" >&2; exit 1
fi
if ! dpkg --compare-versions "$(ver libevent-2.1-7)" ge 2.1.12-stable-8+deb12u1; then
    echo "install-deps: libevent $(ver libevent-2.1-7) < 2.1.12-stable-8+deb12u1" >&2; exit 1
fi
echo "install-deps: all dependencies present"
