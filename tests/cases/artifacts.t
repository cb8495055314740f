#!/bin/sh
# timeout: 120
#
# What `make` leaves in out/ is what the README promises: a hybrid ISO
# (BIOS and UEFI El Torito, MBR and GPT for USB) within its size budget, PXE
# files from the same build, an initramfs holding static programs, the CA
# bundle, the bill of materials and the ISO's own UUID, and libraries built
# the way the pins say (libcurl speaks HTTP and HTTPS only; mbedTLS has
# AES-NI).
set -u
: "${LB_TOP:?}" "${LB_OUT:?}" "${LB_BIN:?}"
fail=0
ok() { echo "ok - $*"; }
bad() { echo "FAIL - $*"; fail=1; }

iso=$LB_OUT/lifeboat.iso
[ -r "$iso" ] || { echo "FAIL: $iso missing (run make)"; exit 1; }
size=$(stat -c %s "$iso")
[ "$size" -le $((64 << 20)) ] && ok "ISO is $((size >> 20)) MiB (budget 64 MiB)" || bad "ISO is $size bytes, over 64 MiB"

xorriso -indev "$iso" -report_el_torito plain > eltorito.txt 2>/dev/null
grep -q 'El Torito boot img :   1  BIOS' eltorito.txt && ok "El Torito BIOS image" || bad "no BIOS El Torito image"
grep -q 'El Torito boot img :   2  UEFI' eltorito.txt && ok "El Torito UEFI image" || bad "no UEFI El Torito image"
# As a disk (USB stick): an MBR boot signature and a GPT with the EFI
# system partition.
[ "$(dd if="$iso" bs=1 skip=510 count=2 2>/dev/null | od -An -tx1 | tr -d ' ')" = 55aa ] &&
	ok "MBR boot signature" || bad "no MBR boot signature"
sgdisk -p "$iso" 2>/dev/null | grep -q 'EF00' && ok "GPT with an EFI system partition" || bad "no GPT EFI system partition"

uuid=$(blkid -s UUID -o value "$iso")
label=$(blkid -s LABEL -o value "$iso")
[ "$label" = LIFEBOAT ] && ok "volume label LIFEBOAT" || bad "volume label '$label'"

# The initramfs inside the ISO.
xorriso -osirrox on -indev "$iso" -extract /boot/initrd.img initrd.img -extract /boot/vmlinuz vmlinuz \
	-extract /lifeboat/bom.txt bom.txt > /dev/null 2>&1 || { echo "FAIL: cannot extract from the ISO"; exit 1; }
cmp -s initrd.img "$LB_OUT/pxe/initrd.img" && ok "PXE initrd is the ISO's" || bad "PXE initrd differs from the ISO's"
cmp -s vmlinuz "$LB_OUT/pxe/vmlinuz" && ok "PXE kernel is the ISO's" || bad "PXE kernel differs from the ISO's"
grep -q 'initrd=initrd.img' "$LB_OUT/pxe/boot.ipxe" && ok "boot.ipxe names the initrd on the kernel line (UEFI)" || bad "boot.ipxe lacks initrd="
mkdir root
(cd root && zstd -dc ../initrd.img | cpio -id --quiet) || { echo "FAIL: initramfs does not unpack"; exit 1; }
for f in init bin/busybox bin/sh usr/bin/lifeboat etc/ssl/certs/ca-certificates.crt etc/lifeboat/bom.txt \
	etc/lifeboat/build-epoch etc/lifeboat/medium-uuid etc/lifeboat/version etc/lifeboat/udhcpc.script; do
	[ -e "root/$f" ] || bad "initramfs lacks /$f"
done
for f in bin/busybox usr/bin/lifeboat; do
	file -L "root/$f" | grep -q 'statically linked' && ok "/$f is static" || bad "/$f is not static: $(file -L root/$f)"
done
[ "$(cat root/etc/lifeboat/medium-uuid)" = "$uuid" ] && ok "initramfs knows the ISO's UUID $uuid" ||
	bad "initramfs medium-uuid $(cat root/etc/lifeboat/medium-uuid) != ISO UUID $uuid"
ncert=$(grep -c 'BEGIN CERTIFICATE' root/etc/ssl/certs/ca-certificates.crt)
[ "$ncert" -gt 100 ] && ok "CA bundle with $ncert certificates" || bad "CA bundle has $ncert certificates"
cmp -s bom.txt root/etc/lifeboat/bom.txt && ok "the ISO's and the image's BOM agree" || bad "BOMs differ"

# The bill of materials names every component with the pinned (or
# resolved) version, licence and checksum, and the patches applied to it.
for p in linux busybox mbedtls curl zstd util-linux json-c; do
	(. "$LB_TOP/package/$p/$p.pin"
	 line=$(grep "^$p " bom.txt) || { echo "FAIL - BOM lacks $p"; exit 1; }
	 echo "$line" | grep -q "$SHA256" || echo "$line" | grep -q 'pin not on the mirror' ||
		{ echo "FAIL - BOM line for $p has neither the pinned sha256 nor a fallback note: $line"; exit 1; }
	 for f in "$LB_TOP/package/$p"/[0-9][0-9][0-9][0-9]-*.patch; do
		[ -f "$f" ] || continue
		echo "$line" | grep -qF "+$(basename "$f")" || { echo "FAIL - BOM line for $p does not name its patch $(basename "$f")"; exit 1; }
	 done
	 echo "ok - BOM: $line") || fail=1
done

# The program's libraries are the pinned ones.
"$LB_BIN" --version > version.txt
for v in "libcurl 8.14.1" "mbedtls 3.6.6" "zstd 1.5.7" "libblkid 2.41.5" "json-c 0.18"; do
	grep -qx "$v" version.txt && ok "lifeboat links $v" || bad "lifeboat --version lacks '$v': $(tr '\n' ' ' < version.txt)"
done
sysroot=$LB_OUT/build/sysroot-musl
protos=$(sed -n 's/^supported_protocols="\(.*\)"/\1 /p' "$sysroot/lib/pkgconfig/libcurl.pc")
[ "$protos" = "HTTP HTTPS " ] && ok "libcurl protocols: $protos" || bad "libcurl protocols: $protos (want HTTP HTTPS only)"
grep -q '^#define MBEDTLS_AESNI_C' "$sysroot/include/mbedtls/mbedtls_config.h" && ok "mbedTLS built with AES-NI" || bad "mbedTLS without AESNI_C"
grep -q '^#define MBEDTLS_THREADING_PTHREAD' "$sysroot/include/mbedtls/mbedtls_config.h" && ok "mbedTLS thread-safe" || bad "mbedTLS without threading"
exit $fail
