#!/bin/sh
# timeout: 300
#
# Scrub against a real S3 server (Ceph RGW on 127.0.0.1): three points, two
# of them sharing chunks; then one chunk deleted and another replaced by a
# corrupt frame and a third by a valid frame of other bytes, all with
# aws-cli. Scrub must name exactly the damaged points and chunks (disk,
# chunk number, key, what is wrong) and exit 3; --quick finds the deleted
# chunk only; a shared chunk is fetched once but reported in both points;
# a whole point scrubs clean (exit 0); a missing index and an unreadable
# manifest are damage too.
BUCKET=lbscrub . "$LB_TOP/tests/lib/s3case"
STORE=s3://lbscrub/s

# a: 8 random chunks of 64K; b: a's first 4, then 4 new (shares 4 with a);
# c: on its own, two disks.
head -c 524288 /dev/urandom > a.img
head -c 262144 a.img > b.img && head -c 262144 /dev/urandom >> b.img
head -c 393216 /dev/urandom > c1.img && truncate -s 512K c1.img; head -c 131072 /dev/urandom > c2.img
pa=$(lb backup --server web --disk system=a.img --chunk-size 64K "$STORE" 2>/dev/null)
pb=$(lb backup --server web --disk system=b.img --chunk-size 64K "$STORE" 2>/dev/null)
pc=$(lb backup --server db --disk system=c1.img --disk data1=c2.img --chunk-size 64K "$STORE" 2>/dev/null)
[ -n "$pa" ] && [ -n "$pb" ] && [ -n "$pc" ] || { bad "backups"; exit 1; }
lb scrub "$STORE" > s0.out 2>&1; rc=$?
[ $rc = 0 ] && [ "$(grep -c '^ok ' s0.out)" = 3 ] && ok "a whole store scrubs clean: $(tail -n1 s0.out)" || { bad "clean scrub exit $rc"; cat s0.out; }
grep -q "24 chunks referenced, 20 distinct" s0.out && ok "chunks shared by two points are fetched once (24 referenced, 20 fetched)" ||
	bad "shared chunks: $(tail -n1 s0.out)"

key() { # POINT DISK N: the key of chunk N of a disk
	$AWS s3 cp "$STORE/points/$1.json" m.json > /dev/null
	idx=$(jq -r --arg d "$2" '.disks[] | select(.name == $d) | .index.key' m.json)
	$AWS s3 cp "$STORE/$idx" i.lbi > /dev/null
	h=$(dd if=i.lbi bs=1 skip=$((32 + 32 * $3)) count=32 status=none | xxd -p -c 32)
	echo "chunks/$(echo "$h" | cut -c1-4)/$h.zst"
}
k_shared=$(key "$pa" system 2)   # in a and b
k_corrupt=$(key "$pa" system 6)  # a only
k_wrong=$(key "$pc" data1 1)     # c's second disk
$AWS s3 rm "s3://lbscrub/s/$k_shared" > /dev/null
$AWS s3 cp "s3://lbscrub/s/$k_corrupt" c.zst > /dev/null && head -c 2000 c.zst > cut.zst &&
	$AWS s3 cp cut.zst "s3://lbscrub/s/$k_corrupt" > /dev/null
head -c 65536 /dev/urandom > other.bin && zstd -q -c other.bin > other.zst && $AWS s3 cp other.zst "s3://lbscrub/s/$k_wrong" > /dev/null

lb scrub "$STORE" > s1.out 2> s1.err; rc=$?
cat s1.out
[ $rc = 3 ] && ok "damage found: exit $rc" || bad "scrub of a damaged store exited $rc"
grep -q "^damaged  $pa  disk system  chunk 2  $k_shared  missing$" s1.out &&
	grep -q "^damaged  $pb  disk system  chunk 2  $k_shared  missing$" s1.out &&
	ok "the deleted shared chunk is named in both points that use it" || bad "deleted chunk not reported exactly"
grep -q "^damaged  $pa  disk system  chunk 6  $k_corrupt  corrupt" s1.out &&
	ok "the truncated frame is named: $(grep "chunk 6" s1.out | sed 's/.*  //')" || bad "corrupt chunk not reported"
grep -q "^damaged  $pc  disk data1  chunk 1  $k_wrong  wrong content" s1.out &&
	ok "the frame of other bytes is named: $(grep "disk data1" s1.out | sed 's/.*  //')" || bad "wrong chunk not reported"
grep -q "^DAMAGED  $pa: 2 bad of 8 chunks" s1.out && grep -q "^DAMAGED  $pb: 1 bad of 8 chunks" s1.out &&
	grep -q "^DAMAGED  $pc: 1 bad of 8 chunks" s1.out && [ "$(grep -c '^damaged ' s1.out)" = 4 ] &&
	ok "exactly 4 damaged chunks in 3 damaged points" || bad "the damage summary"
grep -q "content hashes to" s1.err && ok "the log says what the wrong chunk hashes to" || bad "no hash mismatch in the log"

lb scrub --quick "$STORE" > q.out 2>&1; rc=$?
[ $rc = 3 ] && [ "$(grep -c '^damaged ' q.out)" = 2 ] && grep -q "$k_shared  missing" q.out && ! grep -q "$k_corrupt" q.out &&
	ok "--quick (HEAD only) finds the missing chunk, not the corrupt ones: $(tail -n1 q.out)" || { bad "--quick"; cat q.out; }

# One point, by id and by latest; a server.
lb scrub "$STORE" db/latest > one.out 2>&1; rc=$?
[ $rc = 3 ] && grep -q "^DAMAGED  $pc" one.out && [ "$(grep -c '^DAMAGED' one.out)" = 1 ] && ok "scrub db/latest checks that point only" || bad "scrub db/latest ($rc)"
head -c 65536 /dev/urandom > e.img
pe=$(lb backup --server mail --disk system=e.img --chunk-size 64K "$STORE" 2>/dev/null)
lb scrub "$STORE" mail > m.out 2>&1 && grep -q "^ok       $pe: 1 chunks whole" m.out && ok "a whole server scrubs clean (exit 0)" ||
	{ bad "scrub mail"; cat m.out; }

# A missing index and an unreadable manifest.
$AWS s3 cp "$STORE/points/$pe.json" m.json > /dev/null
$AWS s3 rm "$STORE/$(jq -r '.disks[0].index.key' m.json)" > /dev/null
printf '{"format": "lifeboat-restore-point"' > broken.json && $AWS s3 cp broken.json "$STORE/points/mail/20200101T000000Z-00000000.json" > /dev/null
lb scrub "$STORE" mail > m2.out 2>&1; rc=$?
[ $rc = 3 ] && grep -q "^damaged  $pe  disk system  index indexes/.*: missing" m2.out &&
	grep -q "^damaged  mail/20200101T000000Z-00000000  manifest .* cannot be read" m2.out &&
	ok "a missing index and an unreadable manifest are damage" || { bad "index/manifest damage"; cat m2.out; }
exit $fail
