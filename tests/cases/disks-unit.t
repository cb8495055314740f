#!/bin/sh
# timeout: 300
#
# The C unit tests of recovery/ (tests/unit/test_*.c), built for the host
# with ASan+UBSan and run against tests/fixtures/sysfs. Output is TAP; any
# "not ok", sanitizer report or build error fails this case.
set -u

skip() { echo "skip: $*"; exit 77; }
: "${LB_TOP:?}"
OUT=${LB_OUT:-$LB_TOP/out}
command -v make >/dev/null 2>&1 || skip "make not installed"
command -v cc >/dev/null 2>&1 || skip "no host C compiler"
pkg-config --exists blkid libzstd libcurl 2>/dev/null ||
	skip "host dev libraries missing (libblkid-dev libzstd-dev libcurl4-openssl-dev)"
[ -e /usr/include/mbedtls/version.h ] || skip "host libmbedtls-dev missing"

echo "# make -C recovery O=$OUT/host check"
make -s -C "$LB_TOP/recovery" O="$OUT/host" check > unit.log 2>&1
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
