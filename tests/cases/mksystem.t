#!/usr/bin/env python3
# timeout: 900
#
# The restore drill's fixture (tests/lib/mksystem) boots, and its damaged
# twin does not. Builds both images (cold: debootstrap, several minutes;
# warm: seconds from the cache), then under QEMU (TCG unless the CPU offers
# vmx/svm), system and data disk on virtio:
#   - the good disk under SeaBIOS and under OVMF reaches the marker
#     LIFEBOAT-DRILL-OK with the data file's hash, then powers off;
#   - the damaged disk under SeaBIOS and OVMF gives no marker, and the
#     failure is recognised early: SeaBIOS jumping to a boot sector that
#     prints nothing, firmware falling through to network boot, GRUB
#     errors, a kernel panic.
# Prints the build time and the time from QEMU start to the marker.
import os
import re
import shutil
import subprocess
import sys
import time

top = os.environ["LB_TOP"]
tmp = os.environ["LB_TMP"]
sys.path.insert(0, os.path.join(top, "tests", "lib"))
from vm import VM, Timeout, accel, OVMF_CODE, OVMF_VARS  # noqa: E402

if os.geteuid() != 0:
    print("skip: needs root (loop devices, mount, chroot)")
    sys.exit(77)

fail = 0


def ok(msg):
    print("ok - " + msg, flush=True)


def bad(msg):
    global fail
    print("FAIL - " + msg, flush=True)
    fail = 1


class DiskVM(VM):
    """A guest that boots from its first disk, as a restored server would.
    (vm.VM knows kernel, CD, USB and network boots only; this reuses its
    console, log and deadlines.) SeaBIOS's own messages go to the debug
    port, captured in NAME.bios.log."""

    def __init__(self, workdir, system, data, uefi=False, name="guest"):
        self.workdir, self.name = workdir, name
        self.log_path = os.path.join(workdir, name + ".console.log")
        self.bios_log = os.path.join(workdir, name + ".bios.log")
        args = ["qemu-system-x86_64", "-machine", "q35", "-m", "768",
                "-display", "none", "-monitor", "none", "-serial", "stdio",
                "-no-reboot", "-debugcon", "file:" + self.bios_log,
                "-global", "isa-debugcon.iobase=0x402"] + accel()
        if uefi:
            vars_copy = os.path.join(workdir, name + ".OVMF_VARS.fd")
            shutil.copyfile(OVMF_VARS, vars_copy)
            args += ["-drive", "if=pflash,format=raw,readonly=on,file=" + OVMF_CODE,
                     "-drive", "if=pflash,format=raw,file=" + vars_copy]
        args += ["-drive", "if=none,id=sys,format=raw,file=" + system,
                 "-device", "virtio-blk-pci,drive=sys,serial=system,bootindex=0",
                 "-drive", "if=none,id=data,format=raw,file=" + data,
                 "-device", "virtio-blk-pci,drive=data,serial=data",
                 "-netdev", "user,id=n0,restrict=on",
                 "-device", "virtio-net-pci,netdev=n0"]
        self.args = args
        self.buf, self.prompt, self.proc, self.t0 = "", "", None, None


# Up to the end of the line: a match on a half-arrived line would cut the hash.
MARKER = r"LIFEBOAT-DRILL-OK host=(\S+) root=(\S+) data=(\S+) sha256=(\S+)\r?\n"
# What a failed boot says on the serial console, so the drill need not wait
# out its whole limit.
FAILED = (r"grub rescue>|(?m:^error: [^\n]*)|Kernel panic[^\n]*|"
          r"Start PXE over|iPXE [0-9]|No bootable device|Boot failed[^\n]*|"
          # OVMF: the system disk is boot option one (bootindex=0).
          r"BdsDxe: failed to load[^\n]*\n|EFI Internal Shell")
# SeaBIOS logs the jump into the boot sector; GRUB's banner follows within
# a second or two here. Silence long after it means dead boot code.
SILENT_AFTER_JUMP = 20


def boot(vm, limit):
    """Boot and classify: ('ok', match, seconds) or ('failed', why, seconds)."""
    rx = "(?:%s)|(%s)" % (MARKER, FAILED)
    jumped = None
    until = time.monotonic() + limit
    while time.monotonic() < until:
        try:
            m = vm.expect(rx, 1)
            if m.group(5):
                return "failed", m.group(5).strip(), vm.elapsed()
            return "ok", m, vm.elapsed()
        except Timeout as e:
            if vm.proc.poll() is not None:
                return "failed", str(e), vm.elapsed()
        try:
            bios = open(vm.bios_log, errors="replace").read()
        except OSError:
            bios = ""
        if re.search(r"No bootable device|Boot failed", bios):
            return "failed", "SeaBIOS: " + re.findall(r"No bootable device|Boot failed[^\n]*", bios)[0], vm.elapsed()
        if jumped is None and "Booting from 0000:7c00" in bios:
            jumped = vm.elapsed()
        # expect() consumes the console only on a match, so an empty buffer
        # means the boot sector has printed nothing at all.
        if jumped is not None and not vm.buf.strip() and vm.elapsed() - jumped > SILENT_AFTER_JUMP:
            return "failed", ("nothing on the console %ds after SeaBIOS jumped to the boot sector"
                              % SILENT_AFTER_JUMP), vm.elapsed()
    return "failed", "no marker within %ds" % limit, vm.elapsed()


# Build (or take from the cache) both systems.
mk = os.path.join(top, "tests", "lib", "mksystem")
t0 = time.monotonic()
for args in (["good.img"], ["damaged.img", "--damaged"]):
    r = subprocess.run([mk] + args, cwd=tmp, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=840)
    print(r.stdout, end="")
    if r.returncode != 0:
        bad("mksystem %s exited %d" % (" ".join(args), r.returncode))
        sys.exit(1)
ok("mksystem built both systems in %.0fs" % (time.monotonic() - t0))

good, damaged = os.path.join(tmp, "good.img"), os.path.join(tmp, "damaged.img")
data = os.path.join(tmp, "good-data.img")
for img, size in ((good, 2 << 30), (damaged, 2 << 30), (data, 256 << 20)):
    st = os.stat(img)
    if st.st_size != size:
        bad("%s is %d bytes, want %d" % (img, st.st_size, size))
    else:
        ok("%s: %d MiB, %d MiB allocated" % (os.path.basename(img), st.st_size >> 20,
                                             st.st_blocks * 512 >> 20))
for img in (good, damaged, data):
    v = subprocess.run(["sgdisk", "-v", img], stdout=subprocess.PIPE, text=True)
    if "No problems found" not in v.stdout:
        bad("sgdisk -v %s:\n%s" % (img, v.stdout))
expect_sum = open(os.path.join(tmp, "good-data.sha256")).read().split()[0]

# The data file's hash, read from the image itself rather than trusted from
# the sidecar file.
loop = subprocess.run(["losetup", "--find", "--show", "--read-only", "-o", str(1 << 20), data],
                      stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
try:
    content = subprocess.run(["debugfs", "-R", "cat /drill.bin", loop], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, check=True).stdout
finally:
    subprocess.run(["losetup", "-d", loop])
import hashlib  # noqa: E402
if hashlib.sha256(content).hexdigest() == expect_sum and len(content) == 1 << 20:
    ok("data disk: drill.bin (1 MiB) hashes to %s..." % expect_sum[:16])
else:
    bad("data disk: drill.bin does not match good-data.sha256")

for fw in ("bios", "uefi"):
    # The damaged twin shares the good one's data disk (identical content).
    with DiskVM(tmp, good, data, uefi=(fw == "uefi"), name="good-" + fw) as vm:
        verdict, what, secs = boot(vm, 300)
        if verdict != "ok":
            bad("good system (%s) did not boot: %s (log: %s)" % (fw, what, vm.log_path))
            subprocess.run(["tail", "-n", "30", vm.log_path])
            continue
        host, root, dev, got = what.groups()[:4]
        if (host, root, dev, got) == ("lbdrill", "/dev/vda3", "/dev/vdb1", expect_sum):
            ok("good system (%s): marker after %.1fs: %s" % (fw, secs, what.group(0)))
        else:
            bad("good system (%s): unexpected marker %s" % (fw, what.group(0)))
        try:
            vm.proc.wait(timeout=60)
            ok("good system (%s): powered off at %.1fs" % (fw, vm.elapsed()))
        except subprocess.TimeoutExpired:
            bad("good system (%s): still running 60s after the marker" % fw)

    with DiskVM(tmp, damaged, data, uefi=(fw == "uefi"), name="damaged-" + fw) as vm:
        verdict, what, secs = boot(vm, 120)
        if verdict == "failed" and "no marker within" not in what:
            ok("damaged system (%s): no boot, recognised after %.1fs: %s" % (fw, secs, what))
        elif verdict == "failed":
            bad("damaged system (%s): not recognised early: %s" % (fw, what))
        else:
            bad("damaged system (%s) booted: %s" % (fw, what.group(0)))

sys.exit(fail)
