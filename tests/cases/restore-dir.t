#!/bin/sh
# timeout: 300
#
# Backup and restore round trips through a directory store (the same layout
# as a bucket): a two-disk server with a real GPT and ext4, byte-identical
# restores, an incremental backup that uploads only what changed, a delta
# restore that fetches only what changed, and the refusals: corrupt,
# missing and truncated chunks, a malformed manifest, a target too small, a
# mounted target. Failed restores must leave the target's partition table
# wiped.
set -u
: "${LB_BIN:?}" "${LB_TMP:?}"
cd "$LB_TMP"
fail=0
ok() { echo "ok - $*"; }
bad() { echo "FAIL - $*"; fail=1; }
lb() { "$LB_BIN" "$@"; }
LOOP=
cleanup() {
	mountpoint -q mnt 2>/dev/null && umount mnt
	[ -n "$LOOP" ] && losetup -d "$LOOP"
}
trap cleanup EXIT

# The server: a 64 MiB system disk (GPT, ext4 with files) and a 24 MiB
# data disk with random blocks between zeros.
mkdir -p root/etc root/data store
echo "lifeboat test system" > root/etc/issue
head -c 6M /dev/urandom > root/data/random.bin
seq 1 200000 > root/data/numbers.txt
truncate -s 64M sys.img
mkfs.ext4 -q -F -L ROOT -d root -E offset=1048576 sys.img 60M
sgdisk -n1:2048:+60M -t1:8300 -c1:root sys.img > /dev/null
truncate -s 24M data.img
for off in 1 7 13 19; do head -c 1M /dev/urandom | dd of=data.img bs=1M seek=$off conv=notrunc status=none; done

id1=$(lb backup --server web01 --disk system=sys.img --disk data1=data.img --chunk-size 1M "$LB_TMP/store" 2> b1.err)
rc=$?; cat b1.err
[ $rc = 0 ] && [ -n "$id1" ] && ok "backup stored $id1" || { bad "backup exited $rc"; exit 1; }
up1=$(sed -n 's/.* \([0-9]*\) chunks uploaded.*/\1/p' b1.err | tail -n 1)
lb list "$LB_TMP/store" > list.txt && grep -q "^web01 .*backup .*system:64.0M data1:24.0M" list.txt &&
	ok "list shows it: $(tail -n 1 list.txt)" || { bad "list:"; cat list.txt; }
lb show "$LB_TMP/store" web01/latest > show.txt && grep -q "table:     gpt" show.txt && ok "show: gpt system disk" || { bad "show:"; cat show.txt; }

# Full restore into fresh files, one of them larger than the source.
truncate -s 64M t-sys.img; truncate -s 32M t-data.img
lb restore --yes --disk system=t-sys.img --disk data1=t-data.img "$LB_TMP/store" "$id1" > r1.out 2>&1 ||
	{ bad "restore exited $?"; cat r1.out; }
cmp -s sys.img t-sys.img && ok "system disk restored byte-identical" || bad "system disk differs"
cmp -s -n $((24 << 20)) data.img t-data.img && ok "data disk restored byte-identical (onto a larger target)" ||
	bad "data disk differs"

# Onto a larger disk: the backup GPT moves to the new end, and the table
# and the file system check out.
truncate -s 96M big.img
lb restore --yes --disk system=big.img "$LB_TMP/store" "$id1" > big.out 2>&1 || { bad "restore onto 96M exited $?"; cat big.out; }
# (The first MiB differs by design: the moved GPT's header and MBR size.)
cmp -s -i 1048576 -n $((59 << 20)) sys.img big.img && ok "larger target: MiB 1 to 60 match the source" || bad "larger target differs"
if sgdisk -v big.img 2>&1 | grep -q 'No problems found'; then
	ok "larger target: sgdisk -v finds no problems ($(sgdisk -p big.img | grep -m1 'sectors,'))"
else
	bad "larger target: sgdisk -v:"; sgdisk -v big.img
fi
grep -q 'backup GPT moved' big.out && ok "$(grep -m1 'backup GPT moved' big.out)" || bad "no GPT move reported"
[ "$(blkid -p -O 1048576 -s LABEL -o value big.img)" = ROOT ] && ok "larger target: ext4 ROOT found at 1 MiB" || bad "no ext4 at 1 MiB"

# Incremental: change one file; the second backup uploads only changed chunks.
head -c 1M /dev/urandom | dd of=sys.img bs=1M seek=40 conv=notrunc status=none
id2=$(lb backup --server web01 --disk system=sys.img --disk data1=data.img --chunk-size 1M "$LB_TMP/store" 2> b2.err)
up2=$(sed -n 's/.* \([0-9]*\) chunks uploaded.*/\1/p' b2.err | tail -n 1)
[ "$up2" = 1 ] && ok "incremental backup uploaded $up2 chunk (first backup: $up1)" || { bad "incremental uploaded '$up2' chunks, want 1"; cat b2.err; }
[ "$id2" != "$id1" ] || bad "second backup has the same id"

# Delta restore of the second point onto the restored first one.
lb restore --yes --progress=json --disk system=t-sys.img "$LB_TMP/store" web01/latest > r2.json 2> r2.err ||
	{ bad "delta restore exited $?"; cat r2.err; }
fetched=$(grep '"disk_done"' r2.json | sed 's/.*"fetched":\([0-9]*\).*/\1/')
[ "$fetched" = 1 ] && ok "delta restore fetched $fetched chunk" || { bad "delta restore fetched '$fetched' chunks, want 1"; cat r2.json; }
cmp -s sys.img t-sys.img && ok "delta-restored disk byte-identical" || bad "delta-restored disk differs"
grep -q '"event":"finished"' r2.json && ok "progress JSON ends with finished" || bad "no finished event"

# On a terminal the operator confirms by typing the target's name; a wrong
# answer writes nothing. (script(1) gives the restore a terminal.)
truncate -s 64M typed.img
printf 'sda\n' | script -qec "$LB_BIN restore --disk system=typed.img $LB_TMP/store $id1" /dev/null > typed1.out 2>&1; rc=$?
[ $rc = 3 ] && [ "$(tr -d '\0' < typed.img | wc -c)" = 0 ] && grep -q "nothing was written" typed1.out &&
	ok "a wrong typed confirmation: exit 3, nothing written" || { bad "wrong confirmation (exit $rc)"; cat typed1.out; }
printf 'typed.img\n' | script -qec "$LB_BIN restore --disk system=typed.img $LB_TMP/store $id1" /dev/null > typed2.out 2>&1; rc=$?
[ $rc = 0 ] && grep -q "Type typed.img to confirm" typed2.out && ok "typing the target's name restores" || { bad "typed confirmation (exit $rc)"; cat typed2.out; }
lb restore --disk system=typed.img "$LB_TMP/store" "$id1" < /dev/null > notty.out 2>&1; rc=$?
[ $rc != 0 ] && grep -q "pass --yes" notty.out && ok "without a terminal and without --yes: refused" || { bad "no tty (exit $rc)"; cat notty.out; }

# A dry run writes nothing.
truncate -s 64M dry.img
lb restore --dry-run --disk system=dry.img "$LB_TMP/store" web01/latest > dry.out 2>&1
[ "$(tr -d '\0' < dry.img | wc -c)" = 0 ] && grep -q 'dry run' dry.out && ok "dry run wrote nothing: $(grep -- '->' dry.out | head -n 1)" || bad "dry run"

# Refusals. Each must exit non-zero, say what and where, and leave no
# bootable half-disk behind: the target's first MiB must read as zeros.
label_wiped() { [ "$(head -c 1M "$1" | tr -d '\0' | wc -c)" = 0 ]; }
# The victim chunk: chunk 1 of the system disk of the second point (the
# start of the ext4 file system, never zero), read from its index.
idx=$(jq -r '.disks[] | select(.name == "system") | .index.key' "store/points/${id2%%/*}/${id2#*/}.json")
h=$(od -An -tx1 -v -j $((32 + 32 * 1)) -N 32 "store/$idx" | tr -d ' \n')
chunk=store/chunks/$(echo "$h" | cut -c1-4)/$h.zst
[ -f "$chunk" ] || { bad "cannot find chunk 1 ($chunk)"; exit 1; }
name=$(basename "$chunk")
cp "$chunk" saved.zst

# refuse_blank WHAT PATTERN: a restore onto a blank disk that carries an
# old, valid-looking partition table must fail saying PATTERN and leave that
# table wiped. (Blank, so that delta restore cannot find the chunk in place.)
refuse_blank() {
	truncate -s 0 victim.img; truncate -s 64M victim.img
	dd if=sys.img of=victim.img bs=1M count=1 conv=notrunc status=none  # an old, valid-looking label
	lb restore --yes --disk system=victim.img "$LB_TMP/store" "$id2" > refuse.out 2>&1
	rc=$?
	if [ $rc != 0 ] && grep -q "$2" refuse.out && label_wiped victim.img; then
		ok "$1: exit $rc, partition table wiped: $(grep "$2" refuse.out | head -n 1)"
	else
		bad "$1: exit $rc, wiped: $(label_wiped victim.img && echo yes || echo no)"; cat refuse.out
	fi
}
printf '\001' | dd of="$chunk" bs=1 seek=20 conv=notrunc status=none
refuse_blank "corrupt chunk" "$name"
# A well-formed frame of the right length with other bytes: only the hash
# check can catch it.
head -c 1M /dev/urandom > other.bin && zstd -q -c other.bin > "$chunk"
refuse_blank "substituted chunk" "content hashes to"
head -c 100 saved.zst > "$chunk"
refuse_blank "truncated chunk" "$name"
rm "$chunk"
refuse_blank "missing chunk" "missing from the store"
cp saved.zst "$chunk"

man=$(ls store/points/web01/*.json | tail -n 1)
cp "$man" saved.json
sed -i 's/"chunk_count": [0-9]*/"chunk_count": 7/' "$man"
truncate -s 64M fresh.img
lb restore --yes --disk system=fresh.img "$LB_TMP/store" web01/latest > m.out 2>&1
grep -q "chunk_count: 7, but size and chunk_size make" m.out && ok "malformed manifest of the newest point skipped: $(grep chunk_count m.out)" || { bad "malformed manifest"; cat m.out; }
cmp -s -n $((64 << 20)) sys.img fresh.img && bad "restored from a malformed manifest?" || true
head -c 2M /dev/urandom > "$man"
lb restore --yes --disk system=fresh.img "$LB_TMP/store" "$id2" > m2.out 2>&1; rc=$?
[ $rc != 0 ] && grep -q "more than the" m2.out && ok "oversized manifest refused: $(grep 'more than' m2.out)" || { bad "oversized manifest (exit $rc)"; cat m2.out; }
cp saved.json "$man"

truncate -s 32M small.img
sum=$(sha256sum small.img)
lb restore --yes --disk system=small.img "$LB_TMP/store" "$id2" > s.out 2>&1; rc=$?
[ $rc = 3 ] && grep -q "smaller than disk system" s.out && [ "$(sha256sum small.img)" = "$sum" ] &&
	ok "target too small refused (exit 3), untouched: $(grep smaller s.out)" || { bad "too small (exit $rc)"; cat s.out; }

# A mounted target (a loop device with a mounted file system).
truncate -s 64M mounted.img
mkfs.ext4 -q -F mounted.img
LOOP=$(losetup --find --show mounted.img)
mkdir -p mnt && mount "$LOOP" mnt
lb restore --yes --disk system="$LOOP" "$LB_TMP/store" "$id2" > mnt.out 2>&1; rc=$?
[ $rc = 3 ] && grep -q "mounted at" mnt.out && ok "mounted target refused (exit 3): $(grep 'mounted at' mnt.out)" || { bad "mounted target (exit $rc)"; cat mnt.out; }
exit $fail
