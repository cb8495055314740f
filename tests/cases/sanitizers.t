#!/bin/sh
# timeout: 900
#
# The backup/restore, S3, callback, clock, secrets and crash-resume cases
# again, with lifeboat built for the host with AddressSanitizer,
# LeakSanitizer and UBSan (make host-lifeboat): any report fails, since
# UBSan is built not to recover and ASan exits non-zero.
set -u
: "${LB_TOP:?}" "${LB_OUT:?}"
asan=$LB_OUT/build/recovery-host/lifeboat
[ -x "$asan" ] || { echo "FAIL: $asan missing (make host-lifeboat; make test builds it)"; exit 1; }
fail=0
for t in restore-dir restore-s3 restore-parallel s3-client write-url console-host scrub import console-signed signed deploy-callback clock secrets crash-resume; do
	mkdir -p "$LB_TMP/$t"
	(cd "$LB_TMP/$t" && LB_BIN=$asan LB_TMP=$LB_TMP/$t "$LB_TOP/tests/cases/$t.t") > "$t.log" 2>&1
	rc=$?
	if grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error' "$t.log"; then
		echo "FAIL - $t: sanitizer report:"; grep -A20 'Sanitizer\|runtime error' "$t.log" | head -40; fail=1
	elif [ $rc != 0 ]; then
		echo "FAIL - $t under sanitizers (exit $rc):"; tail -n 20 "$t.log"; fail=1
	else
		echo "ok - $t: $(grep -c '^ok' "$t.log") checks clean under ASan/LSan/UBSan"
	fi
done
exit $fail
