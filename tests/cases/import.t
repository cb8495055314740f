#!/bin/sh
# timeout: 400
#
# Disk images made elsewhere, imported into restore points and exported
# back, against a real S3 server (Ceph RGW on 127.0.0.1). A 64 MiB GPT disk
# with an ext4 file system and holes is turned by qemu-img (Debian's
# qemu-utils) into qcow2 (v3; v2; deflate-compressed; zstd-compressed; 2 MiB
# clusters), VMDK (monolithicSparse) and VHD (dynamic; fixed; fixed with
# force_size). Each is backed up as it is (`backup --disk system=FILE`,
# the format told by its magic bytes), restored, and compared with
# `qemu-img convert -f FORMAT -O raw` of the same file: byte-identical. A
# qcow2 overlay, a streamOptimized VMDK and a VHDX are refused with the way
# out. Export writes a point back as raw and as qcow2: `qemu-img check`
# finds nothing wrong, qemu reads the same bytes, and importing the export
# gives the same disk digest.
BUCKET=lbimport . "$LB_TOP/tests/lib/s3case"
STORE=s3://lbimport/x
command -v qemu-img > /dev/null || { echo "skip: qemu-img (qemu-utils) missing"; exit 77; }

truncate -s 64M sys.img
mkdir -p root && head -c 6M /dev/urandom > root/blob && seq 1 300000 > root/numbers
mkfs.ext4 -q -F -L ROOT -d root -E offset=1048576 sys.img 40M
sgdisk -n1:2048:+40M -t1:8300 sys.img > /dev/null
head -c 3M /dev/urandom | dd of=sys.img bs=1M seek=50 conv=notrunc status=none # data past the file system, a hole between
ptuuid=$(blkid -p -o value -s PTUUID sys.img)

# name FORMAT OPTIONS...: the image, and qemu's own raw reading of it
mkimg() {
	name=$1 fmt=$2; shift 2
	qemu-img convert -f raw -O "$fmt" "$@" sys.img "$name" || { bad "qemu-img convert -O $fmt $* failed"; return 1; }
	qemu-img convert -f "$fmt" -O raw "$name" "$name.raw"
}
mkimg v3.qcow2 qcow2
mkimg v2.qcow2 qcow2 -o compat=0.10
mkimg deflate.qcow2 qcow2 -c
mkimg zstd.qcow2 qcow2 -c -o compression_type=zstd
mkimg big.qcow2 qcow2 -o cluster_size=2M
mkimg sparse.vmdk vmdk -o subformat=monolithicSparse
mkimg dynamic.vhd vpc -o subformat=dynamic
mkimg fixed.vhd vpc -o subformat=fixed
mkimg forced.vhd vpc -o subformat=fixed,force_size=on

for f in v3.qcow2 v2.qcow2 deflate.qcow2 zstd.qcow2 big.qcow2 sparse.vmdk dynamic.vhd fixed.vhd forced.vhd; do
	[ -f "$f.raw" ] || continue
	size=$(stat -c %s "$f.raw")
	id=$(lb backup --server imp --disk system="$f" --chunk-size 1M "$STORE" 2> "$f.err") || { bad "import $f"; cat "$f.err"; continue; }
	truncate -s "$size" "$f.out"
	if lb restore --yes --disk system="$f.out" "$STORE" "$id" > "$f.rst" 2>&1 && cmp -s "$f.raw" "$f.out"; then
		ok "$f ($(grep -o 'a [a-z0-9]* image of a [0-9]*-byte disk' "$f.err"), $(stat -c %s "$f") bytes of file): restores byte-identical to qemu-img convert -O raw"
	else
		bad "$f: the restore differs from qemu-img convert -O raw ($size bytes)"; cat "$f.rst"; cmp "$f.raw" "$f.out" | head -n 2
	fi
done
lb show --json "$STORE" imp/latest > m.json
jq -e --arg u "$ptuuid" '.disks[0].pttype == "gpt" and .disks[0].ptuuid == $u' m.json > /dev/null &&
	ok "an imported image's partition table is recorded (gpt, PTUUID $ptuuid as blkid reads it from the raw disk)" ||
	{ bad "pttype of the imported image"; jq '.disks[0] | {pttype, ptuuid}' m.json; }
zc=$(jq '.disks[0].zero_chunks' m.json)
[ "$zc" -ge 10 ] && ok "unallocated clusters are zero chunks ($zc of 64)" || bad "zero chunks of the import: $zc"

# Refused, with the way out.
refused() { # FILE PATTERN
	lb backup --server ref --disk system="$1" "$STORE" > /dev/null 2> "$1.err"; rc=$?
	[ $rc = 1 ] && grep -q "$2" "$1.err" && ok "$1 refused: $(grep -m1 "$2" "$1.err" | sed 's/^lifeboat: //')" ||
		{ bad "$1: exit $rc"; cat "$1.err"; }
}
qemu-img create -q -f qcow2 -b v3.qcow2 -F qcow2 overlay.qcow2
refused overlay.qcow2 "overlay on the backing file 'v3.qcow2'"
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized sys.img stream.vmdk
refused stream.vmdk "streamOptimized"
qemu-img convert -f raw -O vhdx sys.img disk.vhdx
refused disk.vhdx "VHDX"
lb list "$STORE" ref 2>/dev/null | grep -q '^ref ' && bad "a refused import left a point"

# Export, raw and qcow2.
pid=$(lb backup --server exp --disk system=sys.img --chunk-size 256K "$STORE" 2>/dev/null)
lb export --disk system "$STORE" "$pid" out.raw > e1.out 2>&1 && cmp -s sys.img out.raw &&
	ok "export raw: byte-identical, $(du -k out.raw | cut -f1) KiB allocated of 65536 (zero chunks are holes)" || { bad "export raw"; cat e1.out; }
lb export --format qcow2 "$STORE" exp/latest out.qcow2 > e2.out 2>&1 || { bad "export qcow2"; cat e2.out; }
qemu-img check out.qcow2 > chk.out 2>&1 && grep -q "No errors were found" chk.out &&
	ok "qemu-img check of the exported qcow2: $(head -n1 chk.out)" || { bad "qemu-img check"; cat chk.out; }
qemu-img convert -f qcow2 -O raw out.qcow2 back.raw && cmp -s sys.img back.raw &&
	ok "qemu reads the exported qcow2 as the original disk ($(stat -c %s out.qcow2) bytes of file)" || bad "qemu's reading of the export differs"
rid=$(lb backup --server exp2 --disk system=out.qcow2 --chunk-size 256K "$STORE" 2>/dev/null)
[ "$(lb show --json "$STORE" "$rid" | jq -r '.disks[0].digest')" = "$(lb show --json "$STORE" "$pid" | jq -r '.disks[0].digest')" ] &&
	ok "importing the exported qcow2 gives the original disk digest" || bad "round-trip digest differs"
lb export "$STORE" "$pid" out.raw > e3.out 2>&1; rc=$?
[ $rc = 1 ] && grep -q "File exists (--force overwrites it)" e3.out && cmp -s sys.img out.raw &&
	ok "export refuses to overwrite a file unless --force" || { bad "export over a file: $rc"; cat e3.out; }
$AWS s3 rm --recursive "$STORE/chunks/" > /dev/null
lb export --force "$STORE" "$pid" gone.raw > e4.out 2>&1; rc=$?
[ $rc = 1 ] && [ ! -e gone.raw ] && grep -q "missing from the store" e4.out &&
	ok "an export that fails leaves no file behind" || { bad "failed export: $rc"; cat e4.out; }
exit $fail
