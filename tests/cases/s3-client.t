#!/bin/sh
# timeout: 240
#
# 'lifeboat s3' against a real S3 server (Ceph RGW from tests/lib/rgw):
# put/get round trip of a few MB, ranged get, head, listing across pages
# (LIFEBOAT_LIST_PAGE=2), rm, presigned GET; refusals with their exit codes
# and one clear line: wrong secret (403 SignatureDoesNotMatch, exit 4),
# another user's object (403 AccessDenied, exit 4), unknown bucket
# (404 NoSuchBucket, exit 3), missing key (404, exit 3), nothing listening
# (exit 1), usage (exit 2). Over TLS: trusted with the fixture's CA bundle,
# refused without it (there is no insecure switch). Against a fake server:
# 503 SlowDown and 500 retried with backoff, 4xx never, the retry count
# bounded. No secret may appear in anything lifeboat prints.
set -u

: "${LB_TOP:?}" "${LB_BIN:?}" "${LB_TMP:?}"
fail() { echo "FAIL: $*"; [ -f "$LB_TMP/all.log" ] && tail -n 20 "$LB_TMP/all.log"; exit 1; }
RGW=$LB_TOP/tests/lib/rgw
[ -x "$RGW" ] || { echo "skip: tests/lib/rgw (the Ceph RGW fixture) is not there"; exit 77; }
command -v radosgw > /dev/null || { echo "skip: radosgw not installed"; exit 77; }
command -v aws > /dev/null || { echo "skip: aws-cli not installed (creates the bucket)"; exit 77; }
[ -x "$LB_BIN" ] || fail "$LB_BIN missing: run make lifeboat"

# ---- offline: the signing clock seam and addressing, through presign ----
# With LIFEBOAT_TEST_TIME the URL is the AWS S3 documentation's example.
url=$(env -u AWS_SESSION_TOKEN LIFEBOAT_TEST_TIME=20130524T000000Z AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE \
	AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY AWS_REGION=us-east-1 \
	"$LB_BIN" s3 presign s3://examplebucket/test.txt --expires 86400 \
	--endpoint https://s3.amazonaws.com --virtual-host) || fail "presign"
[ "$url" = "$(cat "$LB_TOP/tests/fixtures/sigv4/s3-presigned-get/s3-presigned-get.url")" ] ||
	fail "presign with LIFEBOAT_TEST_TIME: $url"
p() { env -u AWS_ENDPOINT_URL -u AWS_REGION -u AWS_DEFAULT_REGION AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK "$LB_BIN" s3 presign "$@" | cut -d'?' -f1; }
[ "$(p s3://b/k --region eu-west-1)" = https://b.s3.eu-west-1.amazonaws.com/k ] || fail "AWS default: $(p s3://b/k --region eu-west-1)"
[ "$(p s3://b.dotted/k)" = https://s3.us-east-1.amazonaws.com/b.dotted/k ] || fail "dotted bucket: $(p s3://b.dotted/k)"
[ "$(p s3://b/a%20b/c --endpoint http://10.0.0.1:9000)" = http://10.0.0.1:9000/b/a%2520b/c ] ||
	fail "endpoint: $(p s3://b/a%20b/c --endpoint http://10.0.0.1:9000)"
[ "$(p s3://b/k --endpoint http://minio:9000 --virtual-host)" = http://b.minio:9000/k ] || fail "virtual host"
echo "ok: presign golden URL and addressing"

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

# ---- TLS: the fixture's CA via AWS_CA_BUNDLE or --ca-bundle, never unverified ----
T=$LB_TMP/rgw-tls
"$RGW" start "$T" --tls || fail "tests/lib/rgw start --tls"
trap '"$RGW" stop "$T"; "$RGW" stop "$D"' EXIT
TLS_URL=$(sed -n 's/^AWS_ENDPOINT_URL=//p' "$T/env")
case $TLS_URL in https://*) ;; *) fail "TLS fixture endpoint is $TLS_URL" ;; esac
aws --endpoint-url "$TLS_URL" --ca-bundle "$T/ca.pem" s3api create-bucket --bucket "$B" > /dev/null ||
	fail "aws s3api create-bucket over TLS"
LBENV="AWS_ENDPOINT_URL=$TLS_URL AWS_CA_BUNDLE=$T/ca.pem"
lb put small "s3://$B/tls" && lb get "s3://$B/tls" -o small.back && cmp small small.back ||
	fail "put/get over TLS with AWS_CA_BUNDLE: $(cat err)"
LBENV="-u AWS_CA_BUNDLE AWS_ENDPOINT_URL=$TLS_URL"
lb head "s3://$B/tls" --ca-bundle "$T/ca.pem" || fail "head over TLS with --ca-bundle: $(cat err)"
LBENV="-u AWS_CA_BUNDLE AWS_ENDPOINT_URL=$TLS_URL LIFEBOAT_RETRIES=0"
expect 1 '[Cc]ertificate|SSL|TLS' head "s3://$B/tls"
LBENV=
echo "ok: TLS verified with the fixture's CA, refused without it"

# ---- retries, against a fake server that answers what it is told ----
cat > fake.py << 'PY'
import http.server, sys
plan = sys.argv[1].split(",")   # statuses to answer, in order; the last repeats
count = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):
        global count
        status = int(plan[min(count, len(plan) - 1)])
        count += 1
        with open("fake.count", "w") as f:
            f.write(str(count))
        self.send_response(status)
        self.send_header("Content-Length", "5" if status == 200 else "0")
        self.send_header("x-amz-request-id", "fake-%d" % count)
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
with open("fake.port", "w") as f:
    f.write(str(s.server_address[1]))
s.serve_forever()
PY
# fake PLAN RETRIES WANT_EXIT WANT_REQUESTS PATTERN
fake() {
	rm -f fake.port fake.count
	python3 fake.py "$1" & fpid=$!
	i=0; while [ ! -s fake.port ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	[ -s fake.port ] || fail "fake server did not start"
	LBENV="LIFEBOAT_RETRIES=$2 LIFEBOAT_TEST_SEED=7 AWS_ENDPOINT_URL=http://127.0.0.1:$(cat fake.port)"
	expect "$3" "$5" head "s3://$B/key"
	LBENV=
	kill $fpid; wait $fpid 2> /dev/null
	[ "$(cat fake.count)" = "$4" ] || fail "plan $1: $(cat fake.count) requests, want $4"
}
fake 503,500,200 3 0 3 '^lifeboat: .*HTTP 500; retry 2/3 in [0-9]+ ms$'
fake 503 2 1 3 'HTTP 503 .*request id fake-3'
fake 429,200 1 0 2 'HTTP 429; retry 1/1 in 60 ms$'  # LIFEBOAT_TEST_SEED makes the jitter exact
fake 403 5 4 1 'HTTP 403'
fake 404 5 3 1 'HTTP 404'
fake 400,200 5 1 1 'HTTP 400'
echo "ok: retries on 5xx and 429 only, bounded by LIFEBOAT_RETRIES"

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
