#!/bin/sh
# timeout: 420
#
# Signed restore points, against a directory store and against a real S3
# server (Ceph RGW): keys made by `lifeboat key generate`; backups signed
# with --sign-key; a signed point restores with its key trusted, and
# OpenSSL verifies its signature independently; with a trusted key, each of
# these is refused with its message and nothing written to either target:
# an unsigned point, a point signed by an unknown key, a manifest changed
# after signing (also with the signature object "fixed up"), a chunk index
# swapped (the boot disk's, restored last: refused before the first disk is
# touched), an older point replayed under a newer name; `latest` skips
# unsigned, foreign-signed and replayed newer points and says which one it
# picked; without a trusted key an unsigned point restores as before and
# `show` says it is unsigned. Also deploy's trust_key (config only).
set -u
: "${LB_TOP:?}" "${LB_BIN:?}" "${LB_TMP:?}"
cd "$LB_TMP"
RGW=$LB_TOP/tests/lib/rgw FX=$LB_TMP/rgw
AWS=${LB_AWS:-/usr/bin/aws}
trap '"$RGW" stop "$FX" >/dev/null 2>&1' EXIT
trap 'exit 1' INT TERM HUP
fail=0
ok() { echo "ok - $*"; }
bad() { echo "FAIL - $*"; fail=1; }
lb() { "$LB_BIN" "$@"; }

lb key generate --out site > site.id 2> gen.err && lb key generate --out rogue > rogue.id 2>> gen.err ||
	{ bad "key generate: $(cat gen.err)"; exit 1; }
[ "$(stat -c %a site)" = 600 ] && [ "$(stat -c %a site.pub)" = 644 ] && ok "key generate: site (0600) and site.pub (0644)" ||
	bad "key modes: $(stat -c '%n %a' site site.pub)"
[ "$(lb key id site.pub)" = "$(openssl pkey -pubin -in site.pub -outform DER | sha256sum | cut -c1-64)" ] &&
	[ "$(lb key id site.pub)" = "$(cat site.id)" ] && ok "key id = SHA-256 of the DER public key, as OpenSSL computes it" ||
	bad "key id differs from OpenSSL's"
lb key generate --out site > /dev/null 2> again.err; rc=$?
[ $rc = 1 ] && grep -q "never overwritten" again.err && ok "key generate never overwrites a key" || bad "overwrite: exit $rc"
SITE=$(cut -c1-16 site.id) ROGUE=$(cut -c1-16 rogue.id)

# The source disks: a 4 MiB system disk (boot, restored last) in four
# versions, one per point, and a 2 MiB data disk.
head -c 2M /dev/urandom > base.bin
mkimg() { cp base.bin "sys-$1.img"; printf 'version %s\n' "$1" | dd of="sys-$1.img" bs=4096 seek=3 conv=notrunc status=none; truncate -s 4M "sys-$1.img"; }
for v in 1 2 3 4; do mkimg $v; done
head -c 1M /dev/urandom > data.img; truncate -s 2M data.img
head -c 4M /dev/urandom > t-sys.img; head -c 2M /dev/urandom > t-data.img
sums() { sha256sum t-sys.img t-data.img | cut -c1-64 | tr '\n' ' '; }
before=$(sums)

# restore_refused NAME PATTERN ARGS...: exit 1, PATTERN logged, and both
# targets exactly as they were.
restore_refused() {
	what=$1 pat=$2; shift 2
	lb restore --yes --disk system=t-sys.img --disk data1=t-data.img "$@" > refused.out 2>&1; rc=$?
	if [ $rc = 1 ] && grep -q -- "$pat" refused.out && [ "$(sums)" = "$before" ]; then
		ok "$LABEL: $what: refused, nothing written: $(grep -m1 -- "$pat" refused.out | sed 's/^lifeboat: //')"
	else
		bad "$LABEL: $what: exit $rc, want 1 with '$pat' and untouched targets:"; cat refused.out
	fi
}
restored() { # restored WHAT VERSION: targets hold sys-VERSION and data
	if cmp -s "sys-$2.img" t-sys.img && cmp -s data.img t-data.img; then ok "$LABEL: $1"; else bad "$LABEL: $1: targets differ from version $2"; fi
	head -c 4M /dev/urandom > t-sys.img; head -c 2M /dev/urandom > t-data.img; before=$(sums)
}

# suite LABEL STORE: everything, against one store; sget/sput/scount are
# the store's raw object access (a directory or aws-cli).
suite() {
	LABEL=$1 S=$2
	backup() { # backup VERSION [--sign-key K]
		v=$1; shift
		lb backup --server web01 --disk system=sys-$v.img --disk data1=data.img --chunk-size 256K "$@" "$S" 2>> backup.err
	}
	u1=$(backup 1) && sold=$(backup 1 --sign-key site) && s1=$(backup 2 --sign-key site) &&
		s2=$(backup 3 --sign-key rogue) && u2=$(backup 4) || { bad "$LABEL: backups: $(tail -n 3 backup.err)"; return; }
	ok "$LABEL: 5 points: $u1 (unsigned), $sold and $s1 (site key), $s2 (rogue key), $u2 (unsigned, newest)"
	id1=${s1#web01/}
	sget "points/$s1.sig" s1.sig && sget "points/$s1.json" s1.json &&
		[ "$(jq -r '.signatures[0].key_id' s1.sig)" = "$(cat site.id)" ] &&
		ok "$LABEL: points/$s1.sig stored beside the manifest, naming the site key" || bad "$LABEL: no signature object"
	{ printf 'lifeboat-signature-v1\npoints/%s.json\n' "$s1"; cat s1.json; } > msg
	jq -r '.signatures[0].signature' s1.sig | base64 -d > s1.der
	openssl dgst -sha256 -verify site.pub -signature s1.der msg > ossl.out 2>&1 &&
		ok "$LABEL: OpenSSL verifies the signature over the documented message ($(cat ossl.out))" ||
		bad "$LABEL: openssl: $(cat ossl.out)"

	# show, and restores that work
	lb show "$S" "$u1" 2>&1 | grep -q "^signature: unsigned" && ok "$LABEL: show says $u1 is unsigned" || bad "$LABEL: show unsigned"
	lb show "$S" "$s1" 2>&1 | grep -q "^signature: signed by key $SITE, not verified" &&
		ok "$LABEL: show without a trusted key: signed by $SITE, not verified" || bad "$LABEL: show signed: $(lb show "$S" "$s1" 2>&1 | grep sign)"
	lb show --trust-key site.pub "$S" "$s1" 2>&1 | grep -q "^signature: signed by trusted key $SITE (site.pub), verified" &&
		ok "$LABEL: show --trust-key: verified" || bad "$LABEL: show verified"
	lb restore --yes --trust-key site.pub --disk system=t-sys.img --disk data1=t-data.img "$S" "$s1" > r.out 2>&1 &&
		grep -q "signature verified: trusted key $SITE" r.out && restored "signed point restored with its key trusted" 2 ||
		{ bad "$LABEL: trusted restore exited $?"; cat r.out; }
	lb restore --yes --disk system=t-sys.img --disk data1=t-data.img "$S" "$u1" > r.out 2>&1 &&
		restored "no trusted key: the unsigned point $u1 restores as before" 1 || { bad "$LABEL: untrusted restore"; cat r.out; }

	# refusals with a trusted key
	restore_refused "unsigned point" "is not signed" --trust-key site.pub "$S" "$u1"
	restore_refused "signed by an unknown key" "signed by key $ROGUE, none of them trusted" --trust-key site.pub "$S" "$s2"
	mkdir -p image-keys && cp site.pub image-keys/
	export LIFEBOAT_TRUSTED_KEYS="$LB_TMP/image-keys"
	restore_refused "unsigned, with the key in a trusted-keys directory (as in the image)" "is not signed" "$S" "$u1"
	unset LIFEBOAT_TRUSTED_KEYS
	# A manifest changed after signing: its disk pointed at another point's
	# chunk list (a swapped index), then the same with the signature
	# object's hash fixed up.
	sget "points/$s2.json" s2.json
	jq --argjson i "$(jq '.disks[0].index' s2.json)" '.disks[0].index = $i' s1.json > s1-swapped.json
	sput s1-swapped.json "points/$s1.json"
	restore_refused "manifest changed after signing (another chunk list)" "changed after signing" --trust-key site.pub "$S" "$s1"
	jq --arg h "$(sha256sum s1-swapped.json | cut -c1-64)" '.manifest_sha256 = $h' s1.sig > s1-fixed.sig
	sput s1-fixed.sig "points/$s1.sig"
	restore_refused "... and its signature object's hash fixed up" "does not verify" --trust-key site.pub "$S" "$s1"
	sput s1.json "points/$s1.json"; sput s1.sig "points/$s1.sig"
	# The chunk index object itself replaced: the boot disk's, which is
	# restored last, so the data disk would be written first.
	idx=$(jq -r '.disks[] | select(.name == "system") | .index.key' s1.json)
	other=$(jq -r '.disks[] | select(.name == "system") | .index.key' s2.json)
	sget "$idx" idx.orig && sget "$other" idx.other && sput idx.other "$idx"
	restore_refused "chunk index of the boot disk swapped" "does not match the manifest (corrupt or replaced)" --trust-key site.pub "$S" "$s1"
	sput idx.orig "$idx"
	# An older signed point replayed under a newer name, as is and with
	# the signature object's manifest name edited to match.
	new=20991231T235959Z-0badcafe
	sget "points/$sold.json" sold.json && sget "points/$sold.sig" sold.sig
	sput sold.json "points/web01/$new.json" && sput sold.sig "points/web01/$new.sig"
	restore_refused "older point replayed under a newer name" "is for points/$sold.json, not points/web01/$new.json" \
		--trust-key site.pub "$S" "web01/$new"
	jq --arg k "points/web01/$new.json" '.manifest = $k' sold.sig > replay.sig && sput replay.sig "points/web01/$new.sig"
	restore_refused "... with the signature object renamed too" "does not verify" --trust-key site.pub "$S" "web01/$new"
	restore_refused "... and with no trusted key" "a renamed or replayed manifest is refused" "$S" "web01/$new"

	# latest: the replayed, the unsigned and the rogue-signed newer points
	# are skipped; it says what it picked.
	lb restore --yes --trust-key site.pub --disk system=t-sys.img --disk data1=t-data.img "$S" web01/latest > latest.out 2>&1
	rc=$?
	if [ $rc = 0 ] && grep -q "web01/latest: picked $s1 instead, the newest point signed by a trusted key; 3 newer points refused" latest.out; then
		restored "latest with a trusted key: $(grep -m1 'picked' latest.out | sed 's/^lifeboat: //')" 2
	else
		bad "$LABEL: latest with trust (exit $rc):"; cat latest.out
	fi
	lb list --trust-key site.pub "$S" > list.out 2> list.err
	[ "$(grep -c '^web01 ' list.out)" = 2 ] && grep -q "${sold#web01/}" list.out && grep -q "$id1" list.out &&
		ok "$LABEL: list --trust-key shows only the 2 points signed by the site key" || { bad "$LABEL: list --trust-key:"; cat list.out list.err; }
	srm "points/web01/$new.json"; srm "points/web01/$new.sig"
	lb restore --yes --disk system=t-sys.img --disk data1=t-data.img "$S" web01/latest > r.out 2>&1 &&
		restored "latest without a trusted key: the newest point $u2 (unsigned)" 4 || { bad "$LABEL: latest without trust"; cat r.out; }
	# A server whose points are all unsigned has nothing to restore.
	lb backup --server db02 --disk system=sys-1.img --chunk-size 256K "$S" > /dev/null 2>&1
	lb restore --yes --trust-key site.pub --disk system=t-sys.img "$S" db02/latest > r.out 2>&1; rc=$?
	[ $rc = 1 ] && grep -q "has no backup that is signed by a trusted key" r.out && [ "$(sums)" = "$before" ] &&
		ok "$LABEL: latest of a server with only unsigned points: refused, nothing written" || { bad "$LABEL: db02/latest (exit $rc)"; cat r.out; }

	# A signing key others can read is refused before anything is uploaded.
	n0=$(scount); cp site loose; chmod 644 loose
	lb backup --server web01 --disk system=sys-1.img --sign-key loose "$S" > /dev/null 2> loose.err; rc=$?
	[ $rc = 1 ] && grep -q "readable by group or others" loose.err && [ "$(scount)" = "$n0" ] &&
		ok "$LABEL: a signing key with mode 644 is refused; nothing uploaded ($n0 objects)" || { bad "$LABEL: loose key (exit $rc)"; cat loose.err; }
	rm -f loose
}

# 1. A directory store.
D=$LB_TMP/dstore; mkdir -p "$D"
sget() { cp "$D/$1" "$2"; }
sput() { mkdir -p "$(dirname "$D/$2")" && cp "$1" "$D/$2"; }
srm() { rm -f "$D/$1"; }
scount() { find "$D" -type f | wc -l; }
suite dir "$D"

# deploy: trust_key in the config (a host dry run over a fixture machine,
# whose NVMe disk the hint picks); refused on the kernel command line.
FX_SYS=$LB_TOP/tests/fixtures/sysfs/server
deploy() { # deploy POINT [CMDLINE]
	printf 'store = %s\npoint = %s\ndisk.system = serial=S64GNE0R123456\ntrust_key = %s\n' "$D" "$1" "$LB_TMP/site.pub" > site.conf
	printf '%s\n' "${2:-quiet}" > cmdline
	LIFEBOAT_SYSFS=$FX_SYS/sys LIFEBOAT_PROC=$FX_SYS/proc LIFEBOAT_DEV=$FX_SYS/dev LIFEBOAT_MEDIUM_UUID_FILE=/nonexistent \
		lb deploy --config site.conf --cmdline cmdline --dry-run > deploy.out 2>&1
}
deploy "$u1"; rc=$?
[ $rc = 1 ] && grep -q "is not signed" deploy.out && ok "deploy: trust_key in the config refuses the unsigned $u1" ||
	{ bad "deploy with trust_key, unsigned point (exit $rc):"; cat deploy.out; }
deploy "$s1"
grep -q "signature verified: trusted key $SITE ($LB_TMP/site.pub)" deploy.out &&
	ok "deploy: trust_key in the config verifies the signed $s1" || { bad "deploy with trust_key, signed point:"; cat deploy.out; }
deploy "$s1" "lifeboat.trust_key=/tmp/x.pub"; rc=$?
[ $rc != 0 ] && grep -q "lifeboat.trust_key refused" deploy.out && ok "deploy: lifeboat.trust_key= on the kernel command line is refused" ||
	{ bad "cmdline trust_key (exit $rc):"; cat deploy.out; }

# 2. Ceph RGW.
"$RGW" start "$FX" || { echo "FAIL: rgw fixture did not start"; exit 1; }
. "$FX/env"
$AWS --endpoint-url "$AWS_ENDPOINT_URL" s3api create-bucket --bucket signed > /dev/null || { echo "FAIL: create-bucket"; exit 1; }
P=s3://signed/site
sget() { $AWS --endpoint-url "$AWS_ENDPOINT_URL" s3 cp --quiet "$P/$1" "$2"; }
sput() { $AWS --endpoint-url "$AWS_ENDPOINT_URL" s3 cp --quiet "$1" "$P/$2"; }
srm() { $AWS --endpoint-url "$AWS_ENDPOINT_URL" s3 rm --quiet "$P/$1"; }
scount() { $AWS --endpoint-url "$AWS_ENDPOINT_URL" s3 ls --recursive "$P/" | wc -l; }
: > backup.err
suite rgw "$P"
exit $fail
