#!/bin/sh
# timeout: 120
#
# lifeboat disks on real block devices: two sparse images on loop devices,
# a GPT (ext4 mounted + active swap) on one, an MBR (vfat, unused) on the
# other; the JSON must agree with blkid and the kernel, and the unused disk
# must not be marked in use. Then the vfat UUID is declared the boot medium.
# Needs root, losetup with --partscan, sgdisk, sfdisk, mkfs.ext4, mkfs.vfat,
# mkswap/swapon, blkid, jq.
#
# A kernel without CONFIG_EFI_PARTITION/CONFIG_MSDOS_PARTITION (some CI VMs)
# creates no partition devices; then the tables are still checked through
# libblkid, and the file-system, mount and swap checks run on whole loop
# devices instead (the "whole-disk variant", announced in the log).
set -u

skip() { echo "skip: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (loop devices, mount, swapon)"
for tool in losetup sgdisk sfdisk mkfs.ext4 mkfs.vfat mkswap swapon swapoff blkid jq mount umount; do
	command -v "$tool" >/dev/null 2>&1 || skip "$tool not installed"
done
: "${LB_BIN:?LB_BIN must name the lifeboat binary}"
[ -x "$LB_BIN" ] || { echo "FAIL: $LB_BIN is not executable"; exit 1; }
TMP=${LB_TMP:-$(pwd)}

L1= L2= LOOPS= MNT=$TMP/mnt SWAP=
cleanup() {
	[ -n "$SWAP" ] && swapoff "$SWAP" 2>/dev/null
	mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
	for l in $LOOPS; do losetup -d "$l"; done
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fails=0
check() { # check <what> <got> <want>
	if [ "$2" = "$3" ]; then
		echo "ok - $1 ($2)"
	else
		echo "FAIL - $1: got '$2', want '$3'"
		fails=$((fails + 1))
	fi
}
die() { echo "FAIL: $*"; exit 1; }

truncate -s 64M "$TMP/gpt.img" && truncate -s 32M "$TMP/mbr.img" || die "truncate"
L1=$(losetup --find --show --partscan "$TMP/gpt.img") || skip "losetup --find failed (no loop support here?)"
LOOPS=$L1
L2=$(losetup --find --show --partscan "$TMP/mbr.img") || die "losetup $TMP/mbr.img"
LOOPS="$LOOPS $L2"
N1=${L1#/dev/} N2=${L2#/dev/}
echo "# gpt disk $L1, mbr disk $L2"

# GPT: p1 16 MiB at sector 2048 (ext4), p2 the rest (swap)
sgdisk -n 1:2048:+16M -c 1:lbroot -t 1:8300 -n 2:0:0 -t 2:8200 "$L1" >/dev/null || die "sgdisk $L1"
printf 'label: dos\nstart=2048, size=40960, type=c\n' | sfdisk -q "$L2" >/dev/null || die "sfdisk $L2"
blockdev --rereadpt "$L1" 2>/dev/null; blockdev --rereadpt "$L2" 2>/dev/null
# sgdisk/sfdisk ask the kernel to re-read; wait for the nodes
i=0
while [ ! -b "${L1}p2" ] || [ ! -b "${L2}p1" ]; do
	[ $i -ge 30 ] && break
	sleep 0.1; i=$((i + 1))
done
uuid() { blkid -p -o value -s UUID "$1"; }
ptuuid() { blkid -p -o value -s PTUUID "$1"; }
d() { jq -r --arg n "$1" ".disks[] | select(.name == \$n) | $2" disks.json; }
export LIFEBOAT_MEDIUM_UUID_FILE="$TMP/no-medium"

if [ ! -e "/sys/block/$N1/${N1}p1" ]; then
	echo "# the kernel created no partitions for $L1 (no CONFIG_EFI_PARTITION/CONFIG_MSDOS_PARTITION?)"
	echo "# => whole-disk variant: tables via libblkid, file systems on whole loop devices"
	"$LB_BIN" disks --json > disks.json 2> disks.err; rc=$?
	check "exit status" "$rc" 0
	cat disks.err
	check "$N1 pttype" "$(d "$N1" .pttype)" gpt
	check "$N1 ptuuid" "$(d "$N1" .ptuuid)" "$(ptuuid "$L1")"
	check "$N2 pttype" "$(d "$N2" .pttype)" dos
	check "$N2 ptuuid" "$(d "$N2" .ptuuid)" "$(ptuuid "$L2")"
	check "$N1 partitions (none in sysfs)" "$(d "$N1" '.partitions | length')" 0

	for n in 3 4 5; do
		truncate -s 32M "$TMP/whole$n.img" || die "truncate"
		l=$(losetup --find --show "$TMP/whole$n.img") || die "losetup whole$n.img"
		LOOPS="$LOOPS $l"
		eval "L$n=$l"
	done
	N3=${L3#/dev/} N4=${L4#/dev/} N5=${L5#/dev/}
	mkfs.ext4 -q -F -L lbroot "$L3" || die "mkfs.ext4"
	mkswap -L lbswap "$L4" >/dev/null || die "mkswap"
	mkfs.vfat -n LBFAT "$L5" >/dev/null || die "mkfs.vfat"
	mkdir -p "$MNT" && mount "$L3" "$MNT" || die "mount $L3"
	swapon "$L4" 2>/dev/null && SWAP=$L4 || skip "swapon not permitted here"

	"$LB_BIN" disks --json > disks.json 2>/dev/null
	check "$N3 size" "$(d "$N3" .size)" 33554432
	check "$N3 fs_type" "$(d "$N3" .fs_type)" ext4
	check "$N3 label" "$(d "$N3" .label)" lbroot
	check "$N3 uuid" "$(d "$N3" .uuid)" "$(uuid "$L3")"
	check "$N3 mountpoints" "$(d "$N3" '.mountpoints | join(",")')" "$MNT"
	check "$N3 in_use" "$(d "$N3" .in_use)" true
	check "$N3 swap" "$(d "$N3" .swap)" false
	check "$N4 fs_type" "$(d "$N4" .fs_type)" swap
	check "$N4 label" "$(d "$N4" .label)" lbswap
	check "$N4 uuid" "$(d "$N4" .uuid)" "$(uuid "$L4")"
	check "$N4 swap" "$(d "$N4" .swap)" true
	check "$N4 in_use" "$(d "$N4" .in_use)" true
	check "$N5 fs_type" "$(d "$N5" .fs_type)" vfat
	check "$N5 label" "$(d "$N5" .label)" LBFAT
	check "$N5 uuid" "$(d "$N5" .uuid)" "$(uuid "$L5")"
	check "$N5 unused disk not marked" "$(d "$N5" '[.in_use, .swap, (.mountpoints|length), (.holders|length), .boot_medium] | map(tostring) | join(",")')" "false,false,0,0,false"
	check "$N1 (table only) not in use" "$(d "$N1" .in_use)" false

	"$LB_BIN" disks > table.txt 2>/dev/null
	cat table.txt
	check "table: $N3 mounted" "$(grep -c "^$N3 .*mounted $MNT\$" table.txt)" 1
	check "table: $N4 swap" "$(grep -c "^$N4 .*swap\$" table.txt)" 1

	uuid "$L5" > "$TMP/medium-uuid"
	LIFEBOAT_MEDIUM_UUID_FILE="$TMP/medium-uuid" "$LB_BIN" disks --json > disks.json 2>/dev/null
	check "$N5 boot_medium" "$(d "$N5" .boot_medium)" true
	check "$N5 in_use as boot medium" "$(d "$N5" .in_use)" true
	check "$N3 not boot medium" "$(d "$N3" .boot_medium)" false
	[ "$fails" -eq 0 ] || { echo "FAIL: $fails check(s) failed"; exit 1; }
	echo "PASS: all checks (whole-disk variant)"
	exit 0
fi
for p in "${L1}p1" "${L1}p2" "${L2}p1"; do
	[ -b "$p" ] || die "partition node $p did not appear"
done

mkfs.ext4 -q -F -L lbroot "${L1}p1" || die "mkfs.ext4"
mkswap -L lbswap "${L1}p2" >/dev/null || die "mkswap"
mkfs.vfat -n LBFAT "${L2}p1" >/dev/null || die "mkfs.vfat"
mkdir -p "$MNT" && mount "${L1}p1" "$MNT" || die "mount ${L1}p1"
swapon "${L1}p2" 2>/dev/null && SWAP="${L1}p2" || skip "swapon not permitted here"

"$LB_BIN" disks --json > disks.json 2> disks.err; rc=$?
check "exit status" "$rc" 0
jq -e . disks.json >/dev/null || die "output is not JSON: $(head -c 300 disks.json)"
cat disks.err

check "$N1 listed once" "$(jq --arg n "$N1" '[.disks[] | select(.name == $n)] | length' disks.json)" 1
check "$N1 type" "$(d "$N1" .type)" loop
check "$N1 size" "$(d "$N1" .size)" 67108864
check "$N1 backing_file" "$(d "$N1" .backing_file)" "$TMP/gpt.img"
check "$N1 pttype" "$(d "$N1" .pttype)" gpt
check "$N1 ptuuid" "$(d "$N1" .ptuuid)" "$(ptuuid "$L1")"
check "$N1 partitions" "$(d "$N1" '.partitions | length')" 2
check "${N1}p1 number" "$(d "$N1" '.partitions[0].number')" 1
check "${N1}p1 start" "$(d "$N1" '.partitions[0].start')" $((2048 * 512))
check "${N1}p1 size" "$(d "$N1" '.partitions[0].size')" $((16 * 1024 * 1024))
check "${N1}p1 fs_type" "$(d "$N1" '.partitions[0].fs_type')" ext4
check "${N1}p1 label" "$(d "$N1" '.partitions[0].label')" lbroot
check "${N1}p1 uuid" "$(d "$N1" '.partitions[0].uuid')" "$(uuid "${L1}p1")"
check "${N1}p1 part_label" "$(d "$N1" '.partitions[0].part_label')" lbroot
check "${N1}p1 part_uuid" "$(d "$N1" '.partitions[0].part_uuid')" "$(blkid -p -o value -s PART_ENTRY_UUID "${L1}p1")"
check "${N1}p1 mountpoints" "$(d "$N1" '.partitions[0].mountpoints | join(",")')" "$MNT"
check "${N1}p1 in_use" "$(d "$N1" '.partitions[0].in_use')" true
check "${N1}p1 swap" "$(d "$N1" '.partitions[0].swap')" false
check "${N1}p2 start" "$(d "$N1" '.partitions[1].start')" $(( (2048 + 32768) * 512 ))
check "${N1}p2 fs_type" "$(d "$N1" '.partitions[1].fs_type')" swap
check "${N1}p2 label" "$(d "$N1" '.partitions[1].label')" lbswap
check "${N1}p2 uuid" "$(d "$N1" '.partitions[1].uuid')" "$(uuid "${L1}p2")"
check "${N1}p2 swap" "$(d "$N1" '.partitions[1].swap')" true
check "${N1}p2 in_use" "$(d "$N1" '.partitions[1].in_use')" true
check "${N1}p2 mountpoints" "$(d "$N1" '.partitions[1].mountpoints | length')" 0
check "$N1 whole disk not mounted itself" "$(d "$N1" '.mountpoints | length')" 0
check "$N1 in_use (through partitions)" "$(d "$N1" .in_use)" true
check "$N1 boot_medium" "$(d "$N1" .boot_medium)" false

check "$N2 size" "$(d "$N2" .size)" 33554432
check "$N2 pttype" "$(d "$N2" .pttype)" dos
check "$N2 ptuuid" "$(d "$N2" .ptuuid)" "$(ptuuid "$L2")"
check "$N2 partitions" "$(d "$N2" '.partitions | length')" 1
check "${N2}p1 start" "$(d "$N2" '.partitions[0].start')" $((2048 * 512))
check "${N2}p1 size" "$(d "$N2" '.partitions[0].size')" $((40960 * 512))
check "${N2}p1 fs_type" "$(d "$N2" '.partitions[0].fs_type')" vfat
check "${N2}p1 label" "$(d "$N2" '.partitions[0].label')" LBFAT
check "${N2}p1 uuid" "$(d "$N2" '.partitions[0].uuid')" "$(uuid "${L2}p1")"
check "${N2}p1 in_use" "$(d "$N2" '.partitions[0].in_use')" false
check "$N2 unused disk not marked" "$(d "$N2" '[.in_use, .swap, (.mountpoints|length), (.holders|length), .boot_medium] | map(tostring) | join(",")')" "false,false,0,0,false"

# the table says the same in words
"$LB_BIN" disks > table.txt 2>/dev/null
cat table.txt
check "table: ${N1}p1 mounted" "$(grep -c "^  ${N1}p1 .*mounted $MNT\$" table.txt)" 1
check "table: ${N1}p2 swap" "$(grep -c "^  ${N1}p2 .*swap\$" table.txt)" 1

# the vfat partition's UUID declared as the medium Lifeboat booted from
uuid "${L2}p1" > "$TMP/medium-uuid"
LIFEBOAT_MEDIUM_UUID_FILE="$TMP/medium-uuid" "$LB_BIN" disks --json > disks.json 2>/dev/null
check "$N2 boot_medium" "$(d "$N2" .boot_medium)" true
check "$N2 in_use as boot medium" "$(d "$N2" .in_use)" true
check "$N1 not boot medium" "$(d "$N1" .boot_medium)" false
LIFEBOAT_MEDIUM_UUID_FILE="$TMP/medium-uuid" "$LB_BIN" disks > table.txt 2>/dev/null
check "table: $N2 boot medium" "$(grep -c "^$N2 .*boot medium\$" table.txt)" 1

if [ "$fails" -ne 0 ]; then
	echo "FAIL: $fails check(s) failed"
	exit 1
fi
echo "PASS: all checks"
