#!/bin/sh
# timeout: 240
#
# 'lifeboat s3' against a real S3 server (Ceph RGW from tests/lib/rgw):
# put/get round trip of a few MB, ranged get, head, listing across pages
# (LIFEBOAT_LIST_PAGE=2), rm, presigned GET; refusals with their exit codes
# and one clear line: wrong secret (403 SignatureDoesNotMatch, exit 4),
# another user's object (403 AccessDenied, exit 4), unknown bucket
# (404 NoSuchBucket, exit 3), missing key (404, exit 3), nothing listening
# (exit 1), usage (exit 2). No secret may appear in anything lifeboat prints.
set -u

: "${LB_TOP:?}" "${LB_BIN:?}" "${LB_TMP:?}"
fail() { echo "FAIL: $*"; [ -f "$LB_TMP/all.log" ] && tail -n 20 "$LB_TMP/all.log"; exit 1; }
RGW=$LB_TOP/tests/lib/rgw
[ -x "$RGW" ] || { echo "skip: tests/lib/rgw (the Ceph RGW fixture) is not there"; exit 77; }
command -v radosgw > /dev/null || { echo "skip: radosgw not installed"; exit 77; }
command -v aws > /dev/null || { echo "skip: aws-cli not installed (creates the bucket)"; exit 77; }
[ -x "$LB_BIN" ] || fail "$LB_BIN missing: run make lifeboat"

D=$LB_TMP/rgw
"$RGW" start "$D" || fail "tests/lib/rgw start"
trap '"$RGW" stop "$D"' EXIT
. "$D/env"
SECRET1=$AWS_SECRET_ACCESS_KEY
SECRET2=${LB_RGW_USER2_SECRET_ACCESS_KEY:-}
B=lb-s3-client

# lb ARGS...: run 'lifeboat s3' (with env(1) arguments from $LBENV), keep
# its stdout in out, stderr in err, both appended to all.log for the secret
# check at the end; returns its status. ($LBENV rather than VAR=x before a
# function call: shells disagree on whether such assignments outlive it.)
LBENV=
lb() {
	# shellcheck disable=SC2086
	env $LBENV "$LB_BIN" s3 "$@" > "$LB_TMP/out" 2> "$LB_TMP/err"
	rc=$?
	{ echo "## s3 $*: exit $rc"; cat "$LB_TMP/out" "$LB_TMP/err"; } >> "$LB_TMP/all.log"
	return $rc
}
# expect RC PATTERN ARGS...: exit status RC and one stderr line matching PATTERN
expect() {
	want=$1 pat=$2
	shift 2
	lb "$@"
	rc=$?
	[ $rc = "$want" ] || fail "s3 $*: exit $rc, want $want"
	grep -Eq "$pat" "$LB_TMP/err" || fail "s3 $*: no line matching '$pat' in: $(cat "$LB_TMP/err")"
	echo "ok: s3 $* -> exit $rc: $(head -n 1 "$LB_TMP/err")"
}

aws s3api create-bucket --bucket "$B" > /dev/null || fail "aws s3api create-bucket"

# ---- round trip, byte-identical ----
head -c 5000000 /dev/urandom > data
lb put data "s3://$B/dir/data.bin" || fail "put: $(cat err)"
lb get "s3://$B/dir/data.bin" -o back || fail "get: $(cat err)"
cmp data back || fail "get returned different bytes"
echo "ok: put/get round trip of 5000000 bytes"
# through stdout too, and with the aws-cli reading what we wrote
lb get "s3://$B/dir/data.bin" && cmp data out || fail "get to stdout differs"
aws s3 cp "s3://$B/dir/data.bin" viaaws > /dev/null && cmp data viaaws || fail "aws-cli reads other bytes"

# ---- ranged get ----
lb get "s3://$B/dir/data.bin" --range 1000000-1065535 -o part || fail "ranged get: $(cat err)"
dd if=data of=want bs=1000000 skip=1 count=1 2> /dev/null
head -c 65536 want > want.part
cmp part want.part || fail "ranged get returned other bytes"
lb get "s3://$B/dir/data.bin" --range 4999990- -o tail || fail "open-ended range: $(cat err)"
[ "$(wc -c < tail)" = 10 ] || fail "range 4999990- gave $(wc -c < tail) bytes"
echo "ok: ranged get"

# ---- head ----
lb head "s3://$B/dir/data.bin" || fail "head: $(cat err)"
grep -qx 'size 5000000' out || fail "head: $(cat out)"
grep -q '^etag "' out || fail "head without etag: $(cat out)"
echo "ok: head"

# ---- listing over several pages ----
for i in 1 2 3 4 5 6 7; do
	echo "$i" > small
	lb put small "s3://$B/many/key $i&+=é" || fail "put many/$i: $(cat err)"
done
LBENV=LIFEBOAT_LIST_PAGE=2
lb ls -r "s3://$B/many/" || fail "ls: $(cat err)"
LBENV=
[ "$(grep -c 'many/key [1-7]&+=é$' out)" = 7 ] || fail "ls -r listed: $(cat out)"
if ls "$D"/log/client.rgw.*.log > /dev/null 2>&1; then
	pages=$(grep -c 'GET /'"$B"'?continuation-token=.*max-keys=2' "$D"/log/client.rgw.*.log)
	[ "$pages" -ge 3 ] || fail "7 keys at 2 a page took $pages continued requests, want >= 3"
fi
lb ls "s3://$B/" || fail "ls: $(cat err)"
grep -q 'PRE dir/$' out && grep -q 'PRE many/$' out || fail "ls with delimiter: $(cat out)"
echo "ok: ls across pages ($(grep -c . "$LB_TMP/out") top-level entries)"

# ---- rm ----
lb rm "s3://$B/many/key 7&+=é" || fail "rm: $(cat err)"
expect 3 '404' head "s3://$B/many/key 7&+=é"

# ---- presigned GET: no credentials needed ----
lb presign "s3://$B/dir/data.bin" --expires 300 || fail "presign: $(cat err)"
curl -sf -o viaurl "$(cat out)" && cmp data viaurl || fail "presigned URL does not fetch the object"
echo "ok: presigned GET"

# ---- refusals ----
LBENV=AWS_SECRET_ACCESS_KEY=wrong-secret-0000000000000000000000000
expect 4 'HTTP 403 SignatureDoesNotMatch' ls "s3://$B/"
LBENV=
expect 3 'HTTP 404 NoSuchBucket' ls "s3://no-such-bucket-lb/"
expect 3 'HTTP 404' get "s3://$B/missing" -o missing.out
[ ! -e missing.out ] || fail "a failed get left missing.out behind"
expect 3 'HTTP 404 NoSuchKey' get "s3://$B/missing" --range 0-9
if [ -n "${LB_RGW_USER2_ACCESS_KEY_ID:-}" ]; then
	LBENV="AWS_ACCESS_KEY_ID=$LB_RGW_USER2_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET2"
	expect 4 'HTTP 403 AccessDenied' get "s3://$B/dir/data.bin" --range 0-9
fi
LBENV="LIFEBOAT_RETRIES=1 LIFEBOAT_TEST_SEED=1"
expect 1 '127.0.0.1:1.*(Could not connect|Connection refused|Failed to connect)' \
	ls "s3://$B/" --endpoint http://127.0.0.1:1
LBENV="-u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE=$LB_TMP/none"
expect 4 'no S3 credentials' ls "s3://$B/"
LBENV=
expect 2 'wrong arguments|which of' get
expect 2 'not an s3://' get "http://$B/x"

# ---- secrets never printed ----
for s in "$SECRET1" "$SECRET2" wrong-secret-0000000000000000000000000; do
	[ -n "$s" ] || continue
	if grep -qF "$s" "$LB_TMP/all.log"; then
		fail "a secret key appears in lifeboat's output"
	fi
done
grep -q 'AWS4-HMAC-SHA256 Credential=' "$LB_TMP/all.log" && fail "an Authorization header appears in the output"
echo "ok: no secret in $(wc -l < "$LB_TMP/all.log") lines of output"
echo "PASS"
