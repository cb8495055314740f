#!/bin/sh
# timeout: 300
#
# The S3 fixture (tests/lib/rgw, Ceph RADOS Gateway on 127.0.0.1) is a real
# S3: with aws-cli as an independent client, objects round-trip byte for
# byte, Range GETs and multipart uploads work, listings paginate, and wrong
# secrets, unknown keys, anonymous reads, skewed clocks and another user's
# reads are refused with the codes AWS gives. Afterwards no process and no
# listening port of the fixture may be left.
#
# Debian 12's aws-cli (2.9.19) crashes on any error whose <Message> is empty,
# as RGW's are ("argument of type 'NoneType' is not iterable"), so refusals
# are read from its --debug log: the status line and the <Code> of the body
# the server really sent. The skewed clock is signed by curl --aws-sigv4,
# which signs with an x-amz-date header given to it (no faketime here).
set -u

: "${LB_TOP:?}" "${LB_TMP:?}"
fails=0
ok() { echo "ok - $*"; }
bad() { echo "FAIL - $*"; fails=$((fails + 1)); }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else bad "$desc"; return 1; fi; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

AWS=${LB_AWS:-/usr/bin/aws}
[ -x "$AWS" ] || { echo "FAIL: $AWS missing: awscli not installed (make deps)"; exit 1; }
command -v curl > /dev/null || { echo "FAIL: curl missing (make deps)"; exit 1; }

# No user's ~/.aws may change what is tested; no pager without a terminal.
export AWS_CONFIG_FILE=$LB_TMP/no-aws-config AWS_SHARED_CREDENTIALS_FILE=$LB_TMP/no-aws-creds
export AWS_PAGER= AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=1
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_CA_BUNDLE

RGW=$LB_TOP/tests/lib/rgw
FX=$LB_TMP/rgw
trap '"$RGW" stop "$FX" > /dev/null 2>&1' EXIT
trap 'exit 1' INT TERM HUP

t0=$(now_ms)
"$RGW" start "$FX" || { echo "FAIL: fixture did not start"; exit 1; }
t_start=$(( $(now_ms) - t0 ))
. "$FX/env"
EP=$AWS_ENDPOINT_URL
s3() { "$AWS" --endpoint-url "$EP" s3api "$@"; }

# refused WANT_STATUS WANT_CODE [env...] -- s3api args: the request is
# answered with that HTTP status and that S3 error code.
refused() {
	want_status=$1 want_code=$2; shift 2
	envs=
	while [ "$1" != -- ]; do envs="$envs $1"; shift; done; shift
	env $envs "$AWS" --endpoint-url "$EP" --debug s3api "$@" > /dev/null 2> debug.log
	got_status=$(sed -n 's/.*HTTP\/1\.1" \([0-9][0-9]*\) .*/\1/p' debug.log | tail -n 1)
	got_code=$(grep -o '<Code>[^<]*</Code>' debug.log | tail -n 1 | sed 's/<[^>]*>//g')
	if [ "$got_status" = "$want_status" ] && [ "$got_code" = "$want_code" ]; then
		return 0
	fi
	echo "    got HTTP ${got_status:-none} ${got_code:-no code}, want $want_status $want_code"
	return 1
}

B=lifeboat-fixture-test
quiet() { "$@" > /dev/null; }
check "create bucket" quiet s3 create-bucket --bucket "$B"

# -- put and get, byte for byte
head -c 300000 /dev/urandom > obj
check "put object" quiet s3 put-object --bucket "$B" --key dir/obj --body obj
s3 get-object --bucket "$B" --key dir/obj got > /dev/null
check "get object: same bytes" cmp -s obj got

# -- ranges
s3 get-object --bucket "$B" --key dir/obj --range bytes=0-9 r1 > /dev/null
head -c 10 obj > want1
check "range bytes=0-9: first 10 bytes" cmp -s want1 r1
s3 get-object --bucket "$B" --key dir/obj --range bytes=-10 r2 > /dev/null
tail -c 10 obj > want2
check "range bytes=-10: last 10 bytes" cmp -s want2 r2
s3 get-object --bucket "$B" --key dir/obj --range bytes=299990- r3 > /dev/null
check "range bytes=299990-: last 10 bytes" cmp -s want2 r3
check "range past the end: 416 InvalidRange" \
	refused 416 InvalidRange -- get-object --bucket "$B" --key dir/obj --range bytes=300000-300100 r4

# -- multipart: two parts, the first at the 4 KiB minimum the fixture allows
head -c 8192 /dev/urandom > part1
head -c 3000 /dev/urandom > part2
cat part1 part2 > mp
up=$(s3 create-multipart-upload --bucket "$B" --key mp --query UploadId --output text)
e1=$(s3 upload-part --bucket "$B" --key mp --upload-id "$up" --part-number 1 --body part1 --query ETag --output text | tr -d '"')
e2=$(s3 upload-part --bucket "$B" --key mp --upload-id "$up" --part-number 2 --body part2 --query ETag --output text | tr -d '"')
printf '{"Parts":[{"PartNumber":1,"ETag":"%s"},{"PartNumber":2,"ETag":"%s"}]}' "$e1" "$e2" > parts.json
etag=$(s3 complete-multipart-upload --bucket "$B" --key mp --upload-id "$up" \
	--multipart-upload "file://$PWD/parts.json" --query ETag --output text)
# Ceph 16.2's CompleteMultipartUploadResult carries an empty <ETag> (a known
# RGW bug, fixed upstream later): a client must not depend on it, so the
# object's ETag is read back with HEAD.
echo "# complete-multipart-upload answered ETag '$etag'"
etag=$(s3 head-object --bucket "$B" --key mp --query ETag --output text)
case $etag in *-2\"|*-2) ok "multipart object: ETag $etag names 2 parts" ;;
	*) bad "multipart object: ETag '$etag' (upload $up, parts $e1 $e2)"; cat parts.json ;; esac
s3 get-object --bucket "$B" --key mp got-mp > /dev/null
check "multipart object: same bytes as the parts" cmp -s mp got-mp

# -- listing, two keys a page, continuation tokens followed by hand
echo x > small
for i in 1 2 3 4 5; do s3 put-object --bucket "$B" --key "list/k$i" --body small > /dev/null; done
tok= pages= keys=
while :; do
	set -- --bucket "$B" --prefix list/ --max-keys 2 --no-paginate
	[ -n "$tok" ] && set -- "$@" --continuation-token "$tok"
	s3 list-objects-v2 "$@" --output text \
		--query '[KeyCount, IsTruncated, NextContinuationToken, join(`,`, Contents[].Key)]' > page
	read -r n trunc next k < page || { bad "list page unreadable"; break; }
	pages="$pages $n"; keys="$keys${keys:+,}$k"
	[ "$trunc" = True ] || break
	tok=$next
	[ "${pages# 2 2 2}" = "$pages" ] || { bad "listing does not end"; break; }
done
check "list --max-keys 2 over 5 keys: pages of 2 2 1 (got$pages)" [ "$pages" = " 2 2 1" ]
check "list: all keys in order" [ "$keys" = list/k1,list/k2,list/k3,list/k4,list/k5 ]

# -- an independent second client
S3CMD="s3cmd --config=/dev/null --no-ssl --host=127.0.0.1:$LB_RGW_PORT --host-bucket=127.0.0.1:$LB_RGW_PORT \
	--access_key=$AWS_ACCESS_KEY_ID --secret_key=$AWS_SECRET_ACCESS_KEY --region=$AWS_REGION"
if command -v s3cmd > /dev/null; then
	$S3CMD --quiet get "s3://$B/mp" got-s3cmd > s3cmd.log 2>&1
	check "s3cmd reads the multipart object" cmp -s mp got-s3cmd || cat s3cmd.log
else
	bad "s3cmd not installed (make deps)"
fi

# -- refusals
check "wrong secret: 403 SignatureDoesNotMatch" refused 403 SignatureDoesNotMatch \
	AWS_SECRET_ACCESS_KEY=wrongSecretKey00000000000000000000000001 -- get-object --bucket "$B" --key dir/obj x
check "unknown access key: 403 InvalidAccessKeyId" refused 403 InvalidAccessKeyId \
	AWS_ACCESS_KEY_ID=LBNOSUCHACCESSKEY001 -- get-object --bucket "$B" --key dir/obj x
check "anonymous read: 403 AccessDenied" refused 403 AccessDenied \
	-- --no-sign-request get-object --bucket "$B" --key dir/obj x
code=$(curl -sS -o anon.xml -w '%{http_code}' "$EP/$B/dir/obj")
check "anonymous plain GET: 403 (got $code)" [ "$code" = 403 ]
check "second user reads the first user's object: 403 AccessDenied" refused 403 AccessDenied \
	AWS_ACCESS_KEY_ID="$LB_RGW_USER2_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$LB_RGW_USER2_SECRET_ACCESS_KEY" \
	-- get-object --bucket "$B" --key dir/obj x
check "second user lists the first user's bucket: 403 AccessDenied" refused 403 AccessDenied \
	AWS_ACCESS_KEY_ID="$LB_RGW_USER2_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$LB_RGW_USER2_SECRET_ACCESS_KEY" \
	-- list-objects-v2 --bucket "$B"
check "second user's own listing is empty" [ "$(env AWS_ACCESS_KEY_ID="$LB_RGW_USER2_ACCESS_KEY_ID" \
	AWS_SECRET_ACCESS_KEY="$LB_RGW_USER2_SECRET_ACCESS_KEY" "$AWS" --endpoint-url "$EP" s3api list-buckets \
	--query 'length(Buckets)' --output text)" = 0 ]

# -- clock: curl signs with the x-amz-date it is given. Two minutes off is
# inside RGW's 15-minute window, which proves that such a signature is
# valid; one hour off must then be refused for the time alone.
sigv4_get() {
	curl -sS -o "$2" -w '%{http_code}' --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -H "x-amz-date: $1" "$EP/$B/dir/obj"
}
skewed() { # OFFSET WANT_STATUS WANT_CODE|-
	code=$(sigv4_get "$(date -u -d "$1" +%Y%m%dT%H%M%SZ)" skew.out)
	[ "$code" = "$2" ] || { echo "    got HTTP $code: $(cat skew.out)"; return 1; }
	[ "$3" = - ] && { cmp -s obj skew.out; return; }
	grep -q "<Code>$3</Code>" skew.out || { echo "    got $(cat skew.out)"; return 1; }
}
check "curl SigV4, clock 2 minutes behind: 200 and the object" skewed '-2 minutes' 200 -
check "clock 1 hour behind: 403 RequestTimeTooSkewed" skewed '-1 hour' 403 RequestTimeTooSkewed
check "clock 1 hour ahead: 403 RequestTimeTooSkewed" skewed '+1 hour' 403 RequestTimeTooSkewed

# -- resident memory of the fixture, for the record
rss=0
for f in "$FX"/pids/*.pid; do
	r=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$(cat "$f")/status" 2>/dev/null)
	rss=$((rss + ${r:-0}))
done
echo "# fixture resident memory: $((rss / 1024)) MiB"

# -- a second fixture beside the first, over TLS with a throw-away CA
FX2=$LB_TMP/rgw-tls
trap '"$RGW" stop "$FX" > /dev/null 2>&1; "$RGW" stop "$FX2" > /dev/null 2>&1' EXIT
t0=$(now_ms)
if "$RGW" start "$FX2" --tls; then
	t_tls=$(( $(now_ms) - t0 ))
	tls_env() { ( . "$FX2/env"; "$@" ); }
	check "TLS: endpoint is https" tls_env sh -c 'case $AWS_ENDPOINT_URL in https://127.0.0.1:*) exit 0 ;; esac; exit 1'
	check "TLS: aws-cli with AWS_CA_BUNDLE lists buckets" tls_env sh -c \
		'"$0" --endpoint-url "$AWS_ENDPOINT_URL" s3api list-buckets --query Owner.ID --output text | grep -qx lbtest' "$AWS"
	check "TLS: curl without the test CA refuses the certificate" tls_env sh -c \
		'curl -sS -o /dev/null "$AWS_ENDPOINT_URL/" 2> curl-tls.err; [ $? = 60 ]'
	check "TLS: stop" quiet "$RGW" stop "$FX2"
else
	bad "TLS fixture did not start"
fi

# -- stop: no process and no listening port may be left
pids=$(cat "$FX"/pids/*.pid)
# every port the fixture's processes listen on: their socket inodes, looked
# up in /proc/net/tcp (local address as hex ADDR:PORT, state 0A is LISTEN)
inodes=$(for p in $pids; do ls -l "/proc/$p/fd" 2>/dev/null; done | sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p')
ports=$(echo "$inodes" | awk 'NR == FNR { want[$1] = 1; next }
	$4 == "0A" && ($10 in want) { split($2, a, ":"); print a[2] }' \
	- /proc/net/tcp /proc/net/tcp6 | while read -r h; do printf '%d\n' "0x$h"; done | sort -un)
t0=$(now_ms)
check "stop" "$RGW" stop "$FX"
t_stop=$(( $(now_ms) - t0 ))
left=
for p in $pids; do
	[ -r "/proc/$p/stat" ] || continue
	[ "$(sed 's/^.*) //' "/proc/$p/stat" | cut -d' ' -f1)" = Z ] || left="$left $p"
done
for d in /proc/[0-9]*; do
	{ tr '\0' ' ' < "$d/cmdline"; } 2>/dev/null | grep -q "$FX/ceph.conf" &&
		[ "$(sed 's/^.*) //' "$d/stat" 2>/dev/null | cut -d' ' -f1)" != Z ] && left="$left ${d#/proc/}"
done
check "no fixture process left${left:+ (left:$left)}" [ -z "$left" ]
listening=
for port in $ports; do
	hex=$(printf '%04X' "$port")
	awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
		/proc/net/tcp /proc/net/tcp6 && listening="$listening $port"
done
check "no fixture port listening (checked: $(echo $ports))${listening:+ (listening:$listening)}" [ -z "$listening" ]
# monitor v1+v2, gateway, OSD public, cluster and heartbeat (v1+v2 each)
[ "$(echo $ports | wc -w)" -ge 11 ] || bad "too few fixture ports found to check: $ports"
check "stop is idempotent" "$RGW" stop "$FX"

echo "# timings: start ${t_start} ms, stop ${t_stop} ms, TLS start ${t_tls:-?} ms"
[ $fails -eq 0 ] || { echo "FAIL: $fails check(s)"; exit 1; }
echo "PASS"
