#!/bin/sh
# timeout: 300
#
# Backup and restore against a real S3 server (Ceph RGW on 127.0.0.1): a
# two-disk point round trip, byte-identical; the point read object by
# object with aws-cli (manifest, index, a chunk decompressed with zstd and
# checked against its name); an incremental backup and a delta restore;
# wrong secret and wrong bucket refused with S3's own words; the secret
# never printed.
set -u
: "${LB_TOP:?}" "${LB_BIN:?}" "${LB_TMP:?}"
cd "$LB_TMP"
RGW=$LB_TOP/tests/lib/rgw FX=$LB_TMP/rgw
trap '"$RGW" stop "$FX" >/dev/null 2>&1' EXIT
trap 'exit 1' INT TERM HUP
"$RGW" start "$FX" || { echo "FAIL: rgw fixture did not start"; exit 1; }
. "$FX/env"
AWS=${LB_AWS:-/usr/bin/aws}
$AWS --endpoint-url "$AWS_ENDPOINT_URL" s3api create-bucket --bucket lbtest > /dev/null || { echo "FAIL: create-bucket"; exit 1; }
STORE=s3://lbtest/site1/backups
fail=0
ok() { echo "ok - $*"; }
bad() { echo "FAIL - $*"; fail=1; }
lb() { "$LB_BIN" "$@"; }

truncate -s 48M sys.img
mkdir -p root && head -c 5M /dev/urandom > root/blob && seq 1 100000 > root/numbers
mkfs.ext4 -q -F -L ROOT -d root -E offset=1048576 sys.img 44M
sgdisk -n1:2048:+44M -t1:8300 sys.img > /dev/null
truncate -s 16M data.img
head -c 3M /dev/urandom | dd of=data.img bs=1M seek=5 conv=notrunc status=none

t0=$(date +%s.%N)
id1=$(lb backup --server db01 --disk system=sys.img --disk data1=data.img --chunk-size 1M "$STORE" 2> b1.err)
rc=$?; cat b1.err
[ $rc = 0 ] && ok "backup to $STORE: $id1 ($(echo "$(date +%s.%N) - $t0" | bc) s)" || { bad "backup exited $rc"; exit 1; }
lb list "$STORE" | grep -q "^db01 .*system:48.0M data1:16.0M" && ok "list" || bad "list: $(lb list "$STORE" 2>&1)"

truncate -s 48M t-sys.img; truncate -s 16M t-data.img
lb restore --yes --disk system=t-sys.img --disk data1=t-data.img "$STORE" db01/latest > r1.out 2>&1 || { bad "restore exited $?"; cat r1.out; }
cmp -s sys.img t-sys.img && cmp -s data.img t-data.img && ok "both disks restored byte-identical from S3" || bad "restored disks differ"

# The point, object by object, with another client.
key=$($AWS --endpoint-url "$AWS_ENDPOINT_URL" s3api list-objects-v2 --bucket lbtest --prefix site1/backups/points/db01/ \
	--query 'Contents[0].Key' --output text)
$AWS --endpoint-url "$AWS_ENDPOINT_URL" s3 cp "s3://lbtest/$key" manifest.json > /dev/null &&
	jq -e '.format == "lifeboat-restore-point" and (.disks | length) == 2' manifest.json > /dev/null &&
	ok "aws-cli reads the manifest $key" || bad "manifest via aws-cli"
idx=$(jq -r '.disks[0].index.key' manifest.json)
$AWS --endpoint-url "$AWS_ENDPOINT_URL" s3 cp "s3://lbtest/site1/backups/$idx" index.lbi > /dev/null &&
	[ "$(sha256sum index.lbi | cut -c1-64)" = "$(jq -r '.disks[0].index.sha256' manifest.json)" ] &&
	ok "aws-cli reads the index; its SHA-256 matches the manifest" || bad "index via aws-cli"
chunk=$($AWS --endpoint-url "$AWS_ENDPOINT_URL" s3api list-objects-v2 --bucket lbtest --prefix site1/backups/chunks/ \
	--query 'Contents[0].Key' --output text)
$AWS --endpoint-url "$AWS_ENDPOINT_URL" s3 cp "s3://lbtest/$chunk" c.zst > /dev/null
h=$(zstd -dc c.zst | sha256sum | cut -c1-64)
[ "$chunk" = "site1/backups/chunks/$(echo "$h" | cut -c1-4)/$h.zst" ] &&
	ok "a chunk read with aws-cli and zstd hashes to its name" || bad "chunk $chunk hashes to $h"

# Incremental backup and delta restore.
head -c 1M /dev/urandom | dd of=sys.img bs=1M seek=30 conv=notrunc status=none
lb backup --server db01 --disk system=sys.img --disk data1=data.img --chunk-size 1M "$STORE" > /dev/null 2> b2.err
up=$(sed -n 's/.* \([0-9]*\) chunks uploaded.*/\1/p' b2.err | tail -n 1)
[ "$up" = 1 ] && ok "incremental backup uploaded $up chunk" || { bad "incremental uploaded '$up'"; cat b2.err; }
lb restore --yes --progress=json --disk system=t-sys.img "$STORE" db01/latest > r2.json 2> r2.err
fetched=$(grep '"disk_done"' r2.json | sed 's/.*"fetched":\([0-9]*\).*/\1/')
[ "$fetched" = 1 ] && cmp -s sys.img t-sys.img && ok "delta restore fetched $fetched chunk, byte-identical" ||
	{ bad "delta restore fetched '$fetched'"; cat r2.err; }

# Refusals with S3's own words, and no secret in any output.
AWS_SECRET_ACCESS_KEY=wrongwrongwrongwrongwrongwrongwrongwrong0 lb list "$STORE" > w.out 2>&1; rc=$?
[ $rc != 0 ] && grep -q SignatureDoesNotMatch w.out && ok "wrong secret: exit $rc: $(grep -m1 SignatureDoesNotMatch w.out)" || { bad "wrong secret (exit $rc)"; cat w.out; }
lb restore --yes --disk system=t-sys.img s3://nosuchbucket/x db01/latest > nb.out 2>&1; rc=$?
[ $rc != 0 ] && grep -q NoSuchBucket nb.out && ok "wrong bucket: exit $rc: $(grep -m1 NoSuchBucket nb.out)" || { bad "wrong bucket (exit $rc)"; cat nb.out; }
cat b1.err b2.err r1.out r2.json r2.err w.out nb.out | grep -qF "$AWS_SECRET_ACCESS_KEY" && bad "the secret key appears in lifeboat's output" || ok "the secret key appears in no output"
exit $fail
