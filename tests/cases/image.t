#!/bin/sh
# timeout: 300
#
# Images from backups, against a real S3 server (Ceph RGW on 127.0.0.1): a
# two-disk backup; a full, a system and a data image made from it share its
# chunks (no object uploaded); list shows backups and images apart;
# SERVER/latest stays the backup; an image restores byte-identical and
# survives the backup's removal and gc; --level 19 replaces stored frames
# by smaller ones of the same bytes (the backup shrinks too and still
# restores); image types that do not fit the disks are refused; image
# delete removes images only.
BUCKET=lbimg . "$LB_TOP/tests/lib/s3case"
STORE=s3://lbimg/i
objects() { $AWS s3api list-objects-v2 --bucket lbimg --prefix "i/$1" --query 'length(Contents || `[]`)' --output text; }
stored() { $AWS s3api list-objects-v2 --bucket lbimg --prefix i/chunks/ --query 'sum(Contents[].Size)' --output text; }

# Compressible disks (text), so a higher level has something to gain.
truncate -s 24M sys.img; mkdir -p root && seq 1 400000 > root/numbers && head -c 2M /dev/urandom > root/blob
mkfs.ext4 -q -F -L ROOT -d root -E offset=1048576 sys.img 22M && sgdisk -n1:2048:+22M -t1:8300 sys.img > /dev/null
seq 1000000 2000000 | head -c 6M > data.img && truncate -s 8M data.img
pb=$(lb backup --server web01 --disk system=sys.img --disk data1=data.img --chunk-size 1M --level 1 --label site=fra1 "$STORE" 2> b.err) ||
	{ bad "backup"; cat b.err; exit 1; }
c0=$(objects chunks/) i0=$(objects indexes/) bytes1=$(stored)

full=$(lb image create --from web01/latest --name "web base" --description "the web tier, Debian 12" "$STORE" 2> f.err) ||
	{ bad "image create full"; cat f.err; }
sysi=$(lb image create --from "$pb" --type system --name "web system" "$STORE" 2> s.err) || { bad "image create system"; cat s.err; }
datai=$(lb image create --from "$pb" --type data --name "web data" --label tier=data "$STORE" 2> d.err) || { bad "image create data"; cat d.err; }
[ "$(objects chunks/)" = "$c0" ] && [ "$(objects indexes/)" = "$i0" ] &&
	ok "three images share the backup's $c0 chunks and $i0 indexes: no object uploaded ($(sed 's/^lifeboat: //' f.err))" ||
	bad "images uploaded objects: $(objects chunks/) chunks, $(objects indexes/) indexes"
lb show --json "$STORE" "$full" > full.json
jq -e --arg p "${pb#web01/}" '.kind == "image" and .image_type == "full" and .name == "web base" and .parent == $p and
	.description == "the web tier, Debian 12" and .labels.site == "fra1" and (.disks | length) == 2' full.json > /dev/null &&
	ok "the full image's manifest: kind, type, name, description, parent, labels, both disks" || { bad "full image manifest"; cat full.json; }
lb show --json "$STORE" "$sysi" | jq -e '.image_type == "system" and (.disks | map(.name)) == ["system"] and .disks[0].boot' > /dev/null &&
	lb show --json "$STORE" "$datai" | jq -e '.image_type == "data" and (.disks | map(.name)) == ["data1"] and .labels.tier == "data"' > /dev/null &&
	ok "system and data images hold the right disk" || bad "system/data image disks"

lb list "$STORE" > list.out 2>&1
cat list.out
awk '/^BACKUPS/{s="b"} /^IMAGES/{s="i"} /^web01 /{print s, $3}' list.out > sections
[ "$(grep -c '^b backup' sections)" = 1 ] && [ "$(grep -c '^i image:' sections)" = 3 ] && grep -q '"web base"$' list.out &&
	ok "list: 1 backup under BACKUPS, 3 images under IMAGES, with their names" || bad "list sections"
lb show "$STORE" web01/latest | grep -q "^point:    $pb$" && ok "web01/latest is still the backup, not the newer images" ||
	bad "latest resolved to an image"

# The image restores; and survives the backup's removal and gc.
truncate -s 24M t-sys.img; truncate -s 8M t-data.img
lb restore --yes --disk system=t-sys.img --disk data1=t-data.img "$STORE" "$full" > r.out 2>&1 && cmp -s sys.img t-sys.img &&
	cmp -s data.img t-data.img && ok "the full image restores both disks byte-identical" || { bad "restore the image"; cat r.out; }

# Types that do not fit are refused.
lb image create --from "$pb" --type system --disk data1 --name x "$STORE" > /dev/null 2> e1.err; r1=$?
lb image create --from "$pb" --disk nosuch --name x "$STORE" > /dev/null 2> e2.err; r2=$?
lb image create --from "$pb" "$STORE" > /dev/null 2>&1; r3=$?
[ $r1 = 1 ] && grep -q "a system image needs its system disk" e1.err && [ $r2 = 1 ] && grep -q "no disk of that name" e2.err && [ $r3 = 2 ] &&
	ok "refused: a system image of a data disk, an unknown disk, no --name" || { bad "refusals: $r1 $r2 $r3"; cat e1.err e2.err; }

# --level 19: smaller frames of the same bytes, for the image and the backup.
z=$(lb image create --from "$pb" --name "web z19" --level 19 "$STORE" 2> z.err) || { bad "image --level 19"; cat z.err; }
bytes2=$(stored)
[ "$(objects chunks/)" = "$c0" ] && [ "$bytes2" -lt "$bytes1" ] &&
	ok "--level 19 replaced frames in place: stored chunks $bytes1 -> $bytes2 bytes, still $c0 objects ($(sed 's/^lifeboat: //' z.err))" ||
	bad "--level 19: $bytes1 -> $bytes2 bytes, $(objects chunks/) chunks"
lb scrub "$STORE" > sc.out 2>&1 && ok "every point (backup and images) scrubs clean after: $(tail -n1 sc.out)" || { bad "scrub after --level"; cat sc.out; }
truncate -s 24M t2.img
lb restore --yes --disk system=t2.img "$STORE" "$pb" > r2.out 2>&1 && cmp -s sys.img t2.img &&
	ok "the backup restores from the recompressed chunks" || { bad "restore after recompression"; cat r2.out; }

# Remove the backup (by hand: prune keeps a server's newest backup): to gc
# the images hold on to every chunk.
$AWS s3 rm "$STORE/points/$pb.json" > /dev/null
n=$((c0 + i0))
lb gc --dry-run "$STORE" > gc.out 2>&1 && grep -q "^listed $n objects .*: $n referenced, 0 unreferenced" gc.out &&
	lb scrub "$STORE" > sc2.out 2>&1 &&
	ok "with the backup gone, the images still reference all $n objects for gc; they scrub clean" ||
	{ bad "gc/scrub without the backup"; cat gc.out sc2.out; }
lb image delete "$STORE" "$datai" > del.out 2>&1 && ! lb show "$STORE" "$datai" > /dev/null 2>&1 &&
	ok "image delete: $(cat del.out)" || { bad "image delete"; cat del.out; }
pb2=$(lb backup --server web01 --disk system=sys.img --disk data1=data.img --chunk-size 1M "$STORE" 2>/dev/null)
lb image delete "$STORE" "$pb2" > del2.out 2>&1; rc=$?
[ $rc = 1 ] && grep -q "is a backup, not an image" del2.out && ok "image delete refuses a backup" || { bad "image delete of a backup: $rc"; cat del2.out; }
exit $fail
