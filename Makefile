# Lifeboat: a bootable environment that restores server disks from S3.
#
# Targets a user runs:
#   make deps     install the Debian packages the build and the tests need
#   make          the ISO and PXE files for BOARD (default pc-x86_64):
#                   out/lifeboat.iso               hybrid BIOS+UEFI ISO, dd-able to USB
#                   out/pxe/{vmlinuz,initrd.img,boot.ipxe}
#                   out/bin/lifeboat               the static program (runs on the host too)
#   make drill    the restore drill: a bootable Debian disk backed up into a local
#                 object store, restored by Lifeboat in QEMU, booted; report in out/drill/
#   make run      boot the ISO in QEMU with three disks, console on this terminal
#   make test     build everything and run the whole test suite (tests/run)
#   make fuzz     the libFuzzer harnesses (tests/fuzz/) in out/build/recovery-fuzz/fuzz/
#   make bench    bench/restore-speed: restore and backup of a 4 GiB system disk against
#                 curl|zstd|dd, bmaptool and casync, from nginx and Ceph RGW, HTTP and
#                 HTTPS, on loopback and over a 1 Gbit/s link, with the machine's limits
#                 bench/lifecycle: 10 daily backups against full copies, scrub and gc speed
#   make clean    remove out/ (the build cache in ~/.cache/lifeboat stays)
#   make clean-cache   remove the build cache as well (next build is cold)
#   make help     this text
#
# Third-party sources are pinned in package/<name>/<name>.pin, fetched through
# a private apt configuration into $(LB_CACHE)/dl and built there, keyed by
# their inputs: a warm cache makes a clean checkout build in seconds.

BOARD    ?= pc-x86_64
OUT      ?= $(CURDIR)/out
LB_CACHE ?= $(HOME)/.cache/lifeboat
JOBS     ?= $(shell nproc)
export LB_CACHE LB_OUT := $(OUT) JOBS

VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo 0.0.0-dev)
# The build time is what the clock of a booted Lifeboat never goes below; it
# also names the ISO's file-system UUID (YYYY-MM-DD-hh-mm-ss-cc). Written
# once per make run in out/build/epoch, so the initramfs and the ISO agree.
EPOCH_FILE := $(OUT)/build/epoch

DEBIAN_PACKAGES := build-essential musl-tools flex bison bc libelf-dev libssl-dev \
	rsync cpio kmod zstd xz-utils bzip2 file python3 cmake pkg-config \
	curl ca-certificates debian-archive-keyring dpkg-dev apt-utils gpg gpg-agent \
	grub-pc-bin grub-efi-amd64-bin grub-common xorriso mtools dosfstools \
	qemu-system-x86 qemu-utils ovmf ipxe-qemu \
	gdisk fdisk e2fsprogs util-linux jq debootstrap time \
	ceph-mon ceph-osd radosgw ceph-common awscli s3cmd openssl \
	nginx-light casync bmap-tools socat iproute2 nftables \
	clang-14 libclang-rt-14-dev valgrind faketime

.PHONY: all deps drill run test bench clean clean-cache help lifeboat host-lifeboat host-libs libs kernel busybox bom iso pxe \
	fuzz valgrind-lifeboat

all: iso pxe lifeboat

help:
	@sed -n '3,23p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (it calls apt-get)"; exit 1; fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBIAN_PACKAGES)

$(EPOCH_FILE): FORCE
	@mkdir -p $(dir $@)
	@date +%s > $@

libs:
	@package/build sysroot musl > /dev/null

kernel:
	@package/build linux $(BOARD) > /dev/null

busybox:
	@package/build busybox > /dev/null

lifeboat: libs
	@$(MAKE) -s -C recovery O=$(OUT)/build/recovery-musl SYSROOT=$(OUT)/build/sysroot-musl \
		CC=musl-gcc STATIC=1 LIFEBOAT_VERSION=$(VERSION)
	@mkdir -p $(OUT)/bin
	@cp $(OUT)/build/recovery-musl/lifeboat $(OUT)/bin/lifeboat.tmp && mv $(OUT)/bin/lifeboat.tmp $(OUT)/bin/lifeboat

# The same program built for the host (glibc) with AddressSanitizer and
# UBSan, against the same pinned library versions, for the tests.
host-libs:
	@package/build sysroot host > /dev/null

host-lifeboat: host-libs
	@$(MAKE) -s -C recovery O=$(OUT)/build/recovery-host SYSROOT=$(OUT)/build/sysroot-host \
		CC=gcc SANITIZE=1 LIFEBOAT_VERSION=$(VERSION)

# libFuzzer harnesses (clang) over the library code, for tests/cases/fuzz.t.
fuzz: host-libs
	@$(MAKE) -s -C recovery O=$(OUT)/build/recovery-fuzz SYSROOT=$(OUT)/build/sysroot-host fuzz \
		LIFEBOAT_VERSION=$(VERSION)

# A plain host build (no sanitizers: valgrind cannot run ASan binaries; glibc,
# dynamically linked, so memcheck sees every malloc) for tests/cases/valgrind.t.
valgrind-lifeboat: host-libs
	@$(MAKE) -s -C recovery O=$(OUT)/build/recovery-valgrind SYSROOT=$(OUT)/build/sysroot-host \
		CC=gcc CFLAGS="-O1 -g" LIFEBOAT_VERSION=$(VERSION)

bom: libs kernel busybox
	@package/bom > $(OUT)/bom.txt.tmp && mv $(OUT)/bom.txt.tmp $(OUT)/bom.txt

$(OUT)/build/initrd.img: lifeboat busybox bom $(EPOCH_FILE) FORCE
	@LB_VERSION=$(VERSION) LB_BUILD_EPOCH=$$(cat $(EPOCH_FILE)) \
	LB_MEDIUM_UUID=$$(date -u -d @$$(cat $(EPOCH_FILE)) +%Y-%m-%d-%H-%M-%S-00) \
		initramfs/mkinitramfs $@ $(OUT)/build/busybox/busybox $(OUT)/bin/lifeboat $(OUT)/bom.txt

iso: kernel $(OUT)/build/initrd.img
	@LB_MEDIUM_UUID=$$(date -u -d @$$(cat $(EPOCH_FILE)) +%Y-%m-%d-%H-%M-%S-00) \
		iso/mkiso $(OUT)/lifeboat.iso $(OUT)/build/linux-$(BOARD)/arch/x86/boot/bzImage \
		$(OUT)/build/initrd.img $(OUT)/bom.txt
	@echo "built $(OUT)/lifeboat.iso ($$(du -h $(OUT)/lifeboat.iso | cut -f1))"

pxe: kernel $(OUT)/build/initrd.img
	@mkdir -p $(OUT)/pxe
	@cp $(OUT)/build/linux-$(BOARD)/arch/x86/boot/bzImage $(OUT)/pxe/vmlinuz
	@cp $(OUT)/build/initrd.img $(OUT)/pxe/initrd.img
	@cp iso/boot.ipxe $(OUT)/pxe/boot.ipxe
	@echo "built $(OUT)/pxe/ (vmlinuz, initrd.img, boot.ipxe)"

drill: all
	tests/lib/drill --report $(OUT)/drill

run: all
	tests/lib/qemu-run $(OUT)/lifeboat.iso

test: all host-lifeboat valgrind-lifeboat fuzz
	tests/run

bench: lifeboat host-libs
	bench/restore-speed $(OUT)/bin/lifeboat
	bench/lifecycle $(OUT)/bin/lifeboat
	bench/faults $(OUT)/bin/lifeboat

clean:
	rm -rf $(OUT)

clean-cache: clean
	rm -rf $(LB_CACHE)

FORCE:
