"""QEMU guests for the tests: start, talk over the serial console, stop.

The guest's first serial port is this process's pipe. Every byte it prints
goes to a log file as well, so a failing test leaves the whole console behind.
Everything waits under a hard deadline: a hung guest fails the test, it never
hangs it.
"""

import os
import pty
import re
import select
import shutil
import signal
import subprocess
import time

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"


def accel():
    """KVM only where the CPU really offers it. /dev/kvm on these machines
    can be a paravirtual nested hypervisor that hangs ordinary guests; vmx or
    svm in /proc/cpuinfo is what says a guest will run."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        flags = ""
    if os.path.exists("/dev/kvm") and re.search(r"\b(vmx|svm)\b", flags):
        return ["-accel", "kvm", "-cpu", "host"]
    return ["-accel", "tcg"]


class Timeout(Exception):
    pass


class Console:
    """What a test talks to: output collected into self.buf by _read(until)
    (which also writes self.log_path), searched by expect()."""

    def expect(self, pattern, timeout=30):
        """Wait for regex pattern on the console; returns the match and
        consumes the console up to its end."""
        rx = re.compile(pattern)
        until = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            if time.monotonic() >= until:
                raise Timeout("%s: no %r on the console within %ss (log: %s)"
                              % (self.name, pattern, timeout, self.log_path))
            self._read(until)


class Pty(Console):
    """A program on a pseudo-terminal of its own, as on a console: isatty()
    holds, echo can be turned off, type-ahead can be flushed."""

    def __init__(self, workdir, argv, name="pty"):
        self.name = name
        self.log_path = os.path.join(workdir, name + ".console.log")
        self.buf = ""
        self.log = open(self.log_path, "w")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execv(argv[0], argv)
            finally:
                os._exit(127)

    def _read(self, until):
        r, _, _ = select.select([self.fd], [], [], min(max(0.0, until - time.monotonic()), 0.5))
        if not r:
            return
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the program ended and closed the terminal
            data = b""
        if not data:
            raise Timeout("%s: the program ended (log: %s)" % (self.name, self.log_path))
        text = data.decode("utf-8", "replace").replace("\r", "")
        self.log.write(text)
        self.log.flush()
        self.buf += text

    def send(self, text):
        os.write(self.fd, text.encode())

    def wait(self, timeout=20):
        """The exit status, or None after killing it at the deadline."""
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.log.close()
                return os.waitstatus_to_exitcode(status)
            try:
                self._read(min(until, time.monotonic() + 0.1))
            except Timeout:
                time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        self.log.close()
        return None


class VM(Console):
    """One guest. disks: list of (kind, path, serial) with kind one of
    virtio, nvme, ahci. boot: 'direct' (kernel+initrd), 'cdrom' (iso, BIOS),
    'cdrom-uefi', 'usb' and 'usb-uefi' (the iso as a USB disk), 'pxe' (tftp
    dir, BIOS iPXE), 'pxe-uefi', 'disk' and 'disk-uefi' (the first disk).
    mac: the NIC's MAC (QEMU gives every guest 52:54:00:12:34:56 otherwise,
    so guests that run at once must each get their own)."""

    def __init__(self, workdir, boot, *, kernel=None, initrd=None, append="",
                 iso=None, tftp=None, bootfile="boot.ipxe", disks=(),
                 mem=768, smp=1, extra=(), guestfwd=(), name="guest", mac=None):
        self.workdir = workdir
        self.name = name
        self.log_path = os.path.join(workdir, name + ".console.log")
        args = ["qemu-system-x86_64", "-machine", "q35", "-m", str(mem),
                "-smp", str(smp), "-display", "none", "-vga", "std",
                "-monitor", "none", "-serial", "stdio", "-no-reboot"]
        args += accel()
        if boot.endswith("-uefi"):
            vars_copy = os.path.join(workdir, name + ".OVMF_VARS.fd")
            shutil.copyfile(OVMF_VARS, vars_copy)
            args += ["-drive", "if=pflash,format=raw,readonly=on,file=" + OVMF_CODE,
                     "-drive", "if=pflash,format=raw,file=" + vars_copy]
        # restrict=on: the guest reaches nothing but QEMU's DHCP/TFTP and the
        # guestfwd rules, each (guest port, host loopback port).
        netdev = "user,id=n0,restrict=on"
        # A rule (guest port, host port, "exec") runs a socat per connection
        # instead: a chardev is one connection, and once the server closed it
        # (a TLS handshake the guest gave up on) the port answers no more.
        for fwd in guestfwd:
            gport, hport = fwd[0], fwd[1]
            if len(fwd) > 2 and fwd[2] == "exec":
                netdev += ",guestfwd=tcp:10.0.2.100:%d-cmd:socat - TCP:127.0.0.1:%d" % (gport, hport)
            else:
                netdev += ",guestfwd=tcp:10.0.2.100:%d-tcp:127.0.0.1:%d" % (gport, hport)
        if boot == "direct":
            args += ["-kernel", kernel, "-initrd", initrd, "-append", append]
        elif boot.startswith("cdrom"):
            args += ["-drive", "if=none,id=cd,media=cdrom,readonly=on,file=" + iso,
                     "-device", "ide-cd,drive=cd,bus=ide.0,bootindex=0"]
        elif boot in ("disk", "disk-uefi"):
            pass  # the first disk boots (bootindex below)
        elif boot.startswith("usb"):
            # The ISO file written to a USB stick, as `dd` would.
            args += ["-device", "qemu-xhci,id=xhci",
                     "-drive", "if=none,id=usb,format=raw,readonly=on,file=" + iso,
                     "-device", "usb-storage,bus=xhci.0,drive=usb,bootindex=0"]
        elif boot.startswith("pxe"):
            netdev += ",tftp=%s,bootfile=%s" % (tftp, bootfile)
        else:
            raise ValueError("unknown boot mode " + boot)
        args += ["-netdev", netdev, "-device",
                 "virtio-net-pci,netdev=n0" + (",mac=" + mac if mac else "") +
                 (",bootindex=0" if boot.startswith("pxe") else "")]
        for i, (kind, path, serial) in enumerate(disks):
            did = "d%d" % i
            args += ["-drive", "if=none,id=%s,format=raw,file=%s" % (did, path)]
            bi = ",bootindex=1" if boot.startswith("disk") and i == 0 else ""
            if kind == "virtio":
                args += ["-device", "virtio-blk-pci,drive=%s,serial=%s%s" % (did, serial, bi)]
            elif kind == "nvme":
                args += ["-device", "nvme,drive=%s,serial=%s" % (did, serial)]
            elif kind == "ahci":
                args += ["-device", "ide-hd,drive=%s,bus=ide.%d,serial=%s" % (did, 1 + i, serial)]
            else:
                raise ValueError("unknown disk kind " + kind)
        args += list(extra)
        self.args = args
        self.buf = ""
        self.prompt = "lifeboat# "
        self.proc = None
        self.t0 = None

    def start(self):
        self.log = open(self.log_path, "w")
        self.log.write("# " + " ".join(self.args) + "\n")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        os.set_blocking(self.proc.stdout.fileno(), False)
        return self

    def elapsed(self):
        return time.monotonic() - self.t0

    def _read(self, until):
        fd = self.proc.stdout.fileno()
        wait = max(0.0, until - time.monotonic())
        r, _, _ = select.select([fd], [], [], min(wait, 0.5))
        if not r:
            if self.proc.poll() is not None:
                raise Timeout("%s: QEMU exited with %s" % (self.name, self.proc.returncode))
            return
        data = os.read(fd, 65536)
        if not data:
            self.proc.wait(timeout=5)
            raise Timeout("%s: QEMU exited with %s" % (self.name, self.proc.returncode))
        text = data.decode("utf-8", "replace").replace("\r", "")
        self.log.write(text)
        self.log.flush()
        self.buf += text

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def run(self, command, timeout=60):
        """Run a shell command in the guest; returns (exit status, output).
        The markers are quoted so the shell's echo of the command line
        never matches them."""
        tag = "LB%d" % int(time.monotonic() * 1000)
        self.send("echo @@%s'B'; %s; echo @@%s'E'$?\n" % (tag, command, tag))
        self.expect("@@%sB\n" % tag, timeout)
        m = self.expect(r"(?s)(.*?)@@%sE(\d+)\n" % tag, timeout)
        # Consume the next prompt too, so it never lands in the next output.
        self.expect(re.escape(self.prompt), timeout)
        return int(m.group(2)), m.group(1)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        if getattr(self, "log", None):
            self.log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
