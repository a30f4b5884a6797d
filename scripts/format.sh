#!/bin/sh
# clang-format over sparkgate's C sources: src/, tests/unit/, tests/fuzz/
# and tests/backend/ (which has its own .clang-format).  Generated files
# (src/plan_schema.c, src/plan_schema.h, src/sqlclass_fold.h) stay as their
# generators in tools/ write them (make check compares plan_schema.*).  The style was tuned with clang-format 14 (Debian 12);
# another major version formats differently, hence the pinned binary
# (override with CLANG_FORMAT=...).
#
#   scripts/format.sh --check   change nothing; list the files that differ
#                               and exit 1 (make format-check, scripts/test.sh)
#   scripts/format.sh           rewrite them in place (make format)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
CLANG_FORMAT=${CLANG_FORMAT:-clang-format-14}

if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
    echo "format: $CLANG_FORMAT not found (scripts/install-deps.sh installs it)" >&2
    exit 2
fi

files=$(ls src/*.[ch] tests/unit/*.[ch] tests/fuzz/*.[ch] tests/backend/*.[ch] |
    grep -v -x -e src/plan_schema.c -e src/plan_schema.h -e src/sqlclass_fold.h)

case ${1:-} in
--check)
    bad=0
    for f in $files; do
        if ! "$CLANG_FORMAT" --style=file --dry-run -Werror "$f" >/dev/null 2>&1; then
            echo "format-check: $f differs from its .clang-format"
            bad=$((bad + 1))
        fi
    done
    if [ "$bad" -gt 0 ]; then
        echo "format-check: $bad file(s) to reformat: make format (or scripts/format.sh)" >&2
        exit 1
    fi
    echo "format-check: $(echo "$files" | wc -l) files clean"
    ;;
"")
    # shellcheck disable=SC2086
    "$CLANG_FORMAT" --style=file -i $files
    ;;
*)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac
