#!/bin/sh
# timeout: 300
#
# The C unit tests of recovery/ (tests/unit/test_*.c), built for the host
# with ASan+UBSan and run against tests/fixtures/sysfs. Output is TAP; any
# "not ok", sanitizer report or build error fails this case.
set -u

: "${LB_TOP:?}"
OUT=${LB_OUT:-$LB_TOP/out}
# The host sysroot holds the same pinned library versions as the product,
# built for glibc (make host-libs).
SYSROOT=$OUT/build/sysroot-host
[ -f "$SYSROOT/.done" ] || { echo "FAIL: $SYSROOT missing: run make host-libs (make test does)"; exit 1; }

echo "# make -C recovery O=$OUT/build/recovery-check SYSROOT=$SYSROOT CC=gcc check"
make -s -C "$LB_TOP/recovery" O="$OUT/build/recovery-check" SYSROOT="$SYSROOT" CC=gcc check > unit.log 2>&1
rc=$?
cat unit.log
if [ $rc -ne 0 ]; then
	echo "FAIL: unit tests (make check exit $rc)"
	exit 1
fi
if grep -q '^not ok' unit.log; then
	echo "FAIL: a unit test reported not ok"
	exit 1
fi
n=$(grep -c '^ok ' unit.log)
[ "$n" -gt 0 ] || { echo "FAIL: no test ran"; exit 1; }
echo "PASS: $n unit tests"
