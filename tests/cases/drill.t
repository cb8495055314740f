#!/bin/sh
# timeout: 1500
#
# The restore drill (tests/lib/drill, what `make drill` runs) on a point
# whose system disk boots, which must pass, and on one whose boot loader was
# wiped before the backup, which the drill must report as failed.
set -u
: "${LB_TOP:?}" "${LB_OUT:?}"
fail=0
if "$LB_TOP/tests/lib/drill" --report "$LB_TMP/good" > good.log 2>&1; then
	echo "ok - drill on a bootable system: PASS"; sed 's/^/    /' "$LB_TMP/good/report.txt"
else
	echo "FAIL - drill on a bootable system did not pass:"; tail -n 30 good.log; fail=1
fi
if "$LB_TOP/tests/lib/drill" --damaged --report "$LB_TMP/bad" > bad.log 2>&1; then
	echo "FAIL - drill on a system with a wiped boot loader passed"; fail=1
elif grep -q '^restore drill: FAIL' "$LB_TMP/bad/report.txt" && grep -q '"result": "fail"' "$LB_TMP/bad/report.json" &&
	grep -q 'restore in Lifeboat' "$LB_TMP/bad/report.txt"; then
	echo "ok - drill on a system with a wiped boot loader: restored, then reported FAIL"; sed 's/^/    /' "$LB_TMP/bad/report.txt"
else
	echo "FAIL - damaged drill failed for the wrong reason:"; tail -n 30 bad.log; fail=1
fi
exit $fail
