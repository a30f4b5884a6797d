#!/bin/sh
# make check: the generated sources are exactly what their generators write
# from the inputs kept in the tree, so a hand edit, or a field list changed
# without regenerating, fails here.
#   src/plan_schema.c, src/plan_schema.h <- tools/gen_plan_schema.py
#                                           tools/spark-connect-fields.json
# (src/sqlclass_fold.h needs UnicodeData.txt from outside the tree; the
# sqlclass unit suite checks its table against that file when installed.)
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
py=${PYTHON3:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

if ! "$py" "$top_srcdir/tools/gen_plan_schema.py" "$top_srcdir/tools/spark-connect-fields.json" \
    "$tmp" >"$tmp/gen.out" 2>&1; then
    cat "$tmp/gen.out"
    echo "FAIL: tools/gen_plan_schema.py"
    exit 1
fi
fail=0
for f in plan_schema.c plan_schema.h; do
    if cmp -s "$tmp/$f" "$top_srcdir/src/$f"; then
        echo "PASS: src/$f is what tools/gen_plan_schema.py writes"
    else
        diff -u "$top_srcdir/src/$f" "$tmp/$f" | head -n 40
        echo "FAIL: src/$f differs from tools/gen_plan_schema.py's output: rerun it"
        fail=1
    fi
done
exit $fail
