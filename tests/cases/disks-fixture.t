#!/bin/sh
# timeout: 60
#
# End to end through the binary: "lifeboat disks --json" on each fixture tree
# of tests/fixtures/sysfs/<case>/ must equal <case>/expected.json (key order
# ignored), and the table must render. A changed schema shows up here as a
# diff; update expected.json deliberately when adding fields.
set -u

skip() { echo "skip: $*"; exit 77; }
: "${LB_TOP:?}" "${LB_BIN:?LB_BIN must name the lifeboat binary}"
command -v jq >/dev/null 2>&1 || skip "jq not installed"
FIX=$LB_TOP/tests/fixtures/sysfs
fails=0

for dir in "$FIX"/*/; do
	case=$(basename "$dir")
	[ -f "$dir/expected.json" ] || continue
	LIFEBOAT_SYSFS=$dir/sys LIFEBOAT_PROC=$dir/proc LIFEBOAT_DEV=$dir/dev \
	LIFEBOAT_MEDIUM_UUID_FILE=$dir/no-medium-uuid \
		"$LB_BIN" disks --json > "$case.json" 2> "$case.err"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL - $case: exit $rc"; cat "$case.err"; fails=$((fails + 1)); continue
	fi
	jq -S . "$dir/expected.json" > "$case.want" && jq -S . "$case.json" > "$case.got" ||
		{ echo "FAIL - $case: output is not JSON"; fails=$((fails + 1)); continue; }
	if diff -u "$case.want" "$case.got"; then
		echo "ok - $case: JSON matches expected.json"
	else
		echo "FAIL - $case: JSON differs from expected.json (diff above)"
		fails=$((fails + 1))
	fi
	LIFEBOAT_SYSFS=$dir/sys LIFEBOAT_PROC=$dir/proc LIFEBOAT_DEV=$dir/dev \
	LIFEBOAT_MEDIUM_UUID_FILE=$dir/no-medium-uuid \
		"$LB_BIN" disks --long > "$case.txt" 2>/dev/null ||
		{ echo "FAIL - $case: table exit $?"; fails=$((fails + 1)); }
	cat "$case.txt"
done

# usage errors are exit 2, help is exit 0
"$LB_BIN" disks --bogus >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && echo "ok - unknown option exits 2" || { echo "FAIL - unknown option exit $rc, want 2"; fails=$((fails + 1)); }
"$LB_BIN" no-such-command >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && echo "ok - unknown command exits 2" || { echo "FAIL - unknown command exit $rc, want 2"; fails=$((fails + 1)); }
"$LB_BIN" help disks | grep -q '^usage: lifeboat disks' && echo "ok - lifeboat help disks" ||
	{ echo "FAIL - lifeboat help disks"; fails=$((fails + 1)); }
"$LB_BIN" disks --help | grep -q -- '--json' && echo "ok - lifeboat disks --help" ||
	{ echo "FAIL - lifeboat disks --help"; fails=$((fails + 1)); }
"$LB_BIN" --version | grep -q '^libblkid ' && echo "ok - --version lists libraries" ||
	{ echo "FAIL - --version"; fails=$((fails + 1)); }

[ $fails -eq 0 ] || { echo "FAIL: $fails check(s)"; exit 1; }
echo "PASS"
