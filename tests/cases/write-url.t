#!/bin/sh
# timeout: 300
#
# lifeboat write: a 40 MiB GPT+ext4 image, raw and zstd-compressed,
# uploaded with aws-cli to a real S3 server (Ceph RGW over TLS on
# 127.0.0.1) and served by a plain web server (python3 http.server), put
# onto fresh image files from s3://, from a presigned https:// URL and from
# an http:// URL, byte-identical, with --sha256 of the file as served.
# Refusals: a wrong --sha256, a truncated .zst, garbage after the frame
# (each exit 1, an old partition table on the target wiped), a target
# smaller than the image (exit 3, target unchanged), a 404 (exit 1, target
# unchanged), an untrusted certificate, a mounted target (exit 3). No
# presigned signature appears in any output.
set -u
: "${LB_TOP:?}" "${LB_BIN:?}" "${LB_TMP:?}"
cd "$LB_TMP"
RGW=$LB_TOP/tests/lib/rgw FX=$LB_TMP/rgw
LOOP= HTTPD=
cleanup() {
	[ -n "$HTTPD" ] && kill "$HTTPD" 2>/dev/null
	mountpoint -q mnt 2>/dev/null && umount mnt
	[ -n "$LOOP" ] && losetup -d "$LOOP"
	"$RGW" stop "$FX" > /dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail=0
ok() { echo "ok - $*"; }
bad() { echo "FAIL - $*"; fail=1; }
lb() { "$LB_BIN" "$@"; }
label_wiped() { [ "$(head -c 1M "$1" | tr -d '\0' | wc -c)" = 0 ]; }

"$RGW" start "$FX" --tls || { echo "FAIL: rgw fixture did not start"; exit 1; }
. "$FX/env"
AWS=${LB_AWS:-/usr/bin/aws}
aws() { $AWS --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }
aws s3api create-bucket --bucket lbimg > /dev/null || { echo "FAIL: create-bucket"; exit 1; }

# The image: GPT, one ext4 partition with files; and its .zst (from a
# file, so the frame records its size).
mkdir -p root www && head -c 4M /dev/urandom > root/blob && seq 1 100000 > root/numbers
truncate -s 40M img.raw
mkfs.ext4 -q -F -L ROOT -d root -E offset=1048576 img.raw 38M
sgdisk -n1:2048:+38M -t1:8300 img.raw > /dev/null
zstd -q img.raw -o img.zst
RAW_SHA=$(sha256sum img.raw | cut -c1-64) ZST_SHA=$(sha256sum img.zst | cut -c1-64)
aws s3 cp img.raw s3://lbimg/img.raw > /dev/null && aws s3 cp img.zst s3://lbimg/img.zst > /dev/null ||
	{ echo "FAIL: upload with aws-cli"; exit 1; }

# The web server, on a port the kernel picks.
cp img.raw img.zst www/
head -c $(( $(stat -c %s img.zst) / 2 )) img.zst > www/half.zst
{ cat img.zst; echo "this is not a zstd frame"; } > www/garbage.zst
python3 -u -m http.server --bind 127.0.0.1 --directory www 0 > httpd.out 2>&1 &
HTTPD=$!
for _ in $(seq 50); do grep -q 'port [0-9]' httpd.out && break; sleep 0.1; done
PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' httpd.out | head -n 1)
[ -n "$PORT" ] || { echo "FAIL: http.server did not start"; cat httpd.out; exit 1; }
WEB=http://127.0.0.1:$PORT

# write NAME SOURCE SHA [options]: onto a fresh 40 MiB file, byte-identical.
write_ok() {
	name=$1 src=$2 sha=$3; shift 3
	truncate -s 0 "t-$name.img"; truncate -s 40M "t-$name.img"
	lb write --yes --sha256 "$sha" "$@" "$src" "t-$name.img" > "$name.out" 2>&1; rc=$?
	if [ $rc = 0 ] && cmp -s img.raw "t-$name.img"; then
		ok "$name: byte-identical ($(grep -m1 'image,' "$name.out" | sed 's/^lifeboat: //'))"
	else
		bad "$name: exit $rc"; cat "$name.out"
	fi
}
write_ok s3-raw s3://lbimg/img.raw "$RAW_SHA"
write_ok s3-zst s3://lbimg/img.zst "$ZST_SHA" --sha256-disk "$RAW_SHA"
url=$(lb s3 presign s3://lbimg/img.zst --expires 600) || bad "presign"
case $url in https://127.0.0.1:*X-Amz-Signature=*) ;; *) bad "presigned URL: ${url%%\?*}" ;; esac
write_ok presigned-https "$url" "$ZST_SHA" --ca-bundle "$AWS_CA_BUNDLE" --progress=json
grep -q '"event":"finished"' presigned-https.out && ok "progress JSON ends with finished" || bad "no finished event"
write_ok http-raw "$WEB/img.raw" "$RAW_SHA"
write_ok http-zst "$WEB/img.zst" "$ZST_SHA"
sgdisk -v t-http-zst.img 2>&1 | grep -q 'No problems found' && ok "sgdisk -v: the written GPT checks out" ||
	bad "sgdisk -v t-http-zst.img"

lb write --dry-run s3://lbimg/img.zst t-s3-raw.img > dry.out 2>&1; rc=$?
[ $rc = 0 ] && grep -q 'zstd image, 41943040 bytes by its frame header' dry.out && grep -q 'dry run' dry.out &&
	ok "dry run: $(grep 'image,' dry.out | sed 's/^ *//')" || { bad "dry run (exit $rc)"; cat dry.out; }

# refuse WHAT PATTERN SOURCE [options]: exit 1 saying PATTERN, and a target
# that carried an old, valid-looking partition table has it wiped.
refuse() {
	what=$1 pat=$2 src=$3; shift 3
	truncate -s 0 victim.img; truncate -s 40M victim.img
	dd if=img.raw of=victim.img bs=1M count=1 conv=notrunc status=none
	lb write --yes "$@" "$src" victim.img > refuse.out 2>&1; rc=$?
	cat refuse.out >> refusals.out
	if [ $rc = 1 ] && grep -q "$pat" refuse.out && label_wiped victim.img; then
		ok "$what: exit 1, partition table wiped: $(grep -m1 "$pat" refuse.out | sed 's/^lifeboat: //')"
	else
		bad "$what: exit $rc, wiped: $(label_wiped victim.img && echo yes || echo no)"; cat refuse.out
	fi
}
refuse "wrong --sha256" "SHA-256 as served is" s3://lbimg/img.zst --sha256 "$RAW_SHA"
refuse "wrong --sha256-disk" "SHA-256 of the image is" "$WEB/img.raw" --sha256-disk "$ZST_SHA"
refuse "truncated .zst" "ends inside zstd frame" "$WEB/half.zst"
refuse "garbage after the frame" "trailing garbage" "$WEB/garbage.zst"

# Refused before anything is written: the target stays as it was.
untouched() {
	what=$1 want_rc=$2 pat=$3 src=$4 target=$5; shift 5
	sum=$(sha256sum "$target")
	lb write --yes "$@" "$src" "$target" > u.out 2>&1; rc=$?
	cat u.out >> refusals.out
	if [ $rc = "$want_rc" ] && grep -q "$pat" u.out && [ "$(sha256sum "$target")" = "$sum" ]; then
		ok "$what: exit $rc, target unchanged: $(grep -m1 "$pat" u.out | sed 's/^lifeboat: //')"
	else
		bad "$what: exit $rc (want $want_rc)"; cat u.out
	fi
}
truncate -s 20M small.img
dd if=img.raw of=small.img bs=1M count=1 conv=notrunc status=none
untouched "raw image larger than the target" 3 "larger than small.img" s3://lbimg/img.raw small.img
untouched ".zst image larger than the target" 3 "larger than small.img" "$WEB/img.zst" small.img
truncate -s 40M fresh.img
untouched "404 from S3" 1 "HTTP 404 NoSuchKey" s3://lbimg/nosuch.zst fresh.img
untouched "404 from a web server" 1 "HTTP 404" "$WEB/nosuch.raw" fresh.img
label_wiped fresh.img && ok "after the 404s the target's first MiB is zeros" || bad "fresh.img touched"
untouched "untrusted certificate" 1 "certificate\|SSL\|TLS" "$url" fresh.img
env -u AWS_CA_BUNDLE "$LB_BIN" write --yes s3://lbimg/img.raw fresh.img > ca.out 2>&1; rc=$?
[ $rc = 1 ] && label_wiped fresh.img && ok "s3:// without the CA: exit 1" || { bad "s3:// without CA (exit $rc)"; cat ca.out; }

# A mounted target (a loop device with a mounted file system).
truncate -s 64M mounted.img
mkfs.ext4 -q -F mounted.img
LOOP=$(losetup --find --show mounted.img)
mkdir -p mnt && mount "$LOOP" mnt
lb write --yes "$WEB/img.raw" "$LOOP" > mnt.out 2>&1; rc=$?
[ $rc = 3 ] && grep -q "mounted at" mnt.out && ok "mounted target refused (exit 3): $(grep 'mounted at' mnt.out)" ||
	{ bad "mounted target (exit $rc)"; cat mnt.out; }

cat ./*.out | grep -q 'X-Amz-Signature\|X-Amz-Credential' && bad "a presigned query appears in lifeboat's output" ||
	ok "no presigned query in any output"
cat ./*.out | grep -qF "$AWS_SECRET_ACCESS_KEY" && bad "the secret key appears in lifeboat's output" ||
	ok "the secret key appears in no output"
exit $fail
