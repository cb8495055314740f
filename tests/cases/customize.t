#!/usr/bin/env python3
# timeout: 300
#
# A site config and CA embedded into a built ISO with iso/customize (no
# rebuild) are there when the customized ISO boots: the config makes init
# start the unattended deploy, the files have their modes, and the ISO is
# still recognised as
# the boot medium (same UUID). The deploy stops before any store is asked:
# the config's hint names a disk this machine does not have. The PXE initrd
# path of iso/customize is exercised by deploy.t.
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["LB_TOP"], "tests/lib"))
from vm import VM  # noqa: E402

top, out, tmp = os.environ["LB_TOP"], os.environ["LB_OUT"], os.environ["LB_TMP"]
fails = []


def check(cond, msg):
    print(("ok - " if cond else "FAIL - ") + msg)
    if not cond:
        fails.append(msg)


conf, ca, iso = os.path.join(tmp, "site.conf"), os.path.join(tmp, "ca.pem"), os.path.join(tmp, "site.iso")
with open(conf, "w") as f:
    f.write("store = s3://siteconfig-bucket/p\npoint = web01/latest\ndisk.system = serial=NO-SUCH\n")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", os.path.join(tmp, "k.pem"),
                "-out", ca, "-days", "1", "-subj", "/CN=lifeboat-site-ca"], check=True, capture_output=True)
subprocess.run([os.path.join(top, "iso/customize"), "--config", conf, "--ca", ca, "--iso",
                os.path.join(out, "lifeboat.iso"), iso], check=True)
uuid = lambda p: subprocess.run(["blkid", "-p", "-s", "UUID", "-o", "value", p], capture_output=True,
                                text=True).stdout.strip()
check(uuid(iso) == uuid(os.path.join(out, "lifeboat.iso")), "the customized ISO keeps the UUID %s" % uuid(iso))

with VM(tmp, "cdrom", iso=iso, name="site") as vm:
    vm.expect(r"Lifeboat: shell", 60)  # the menu; the default entry boots after its timeout
    vm.expect(r"lifeboat: boot medium: /dev/sr0", 90)
    vm.expect(r"lifeboat: ready: action=deploy", 90)
    check(True, "the embedded config made init start the unattended deploy")
    vm.expect(r"lifeboat: deploy FAILED", 60)
    vm.expect(r"lifeboat# ", 30)
    rc, text = vm.run("stat -c %a /etc/lifeboat/lifeboat.conf; grep -c 'BEGIN CERTIFICATE' /etc/lifeboat/ca.pem; "
                      "grep -o 'matches no disk; nothing was written' /run/lifeboat/boot.log | head -n 1")
    lines = text.split()
    check(lines[:2] == ["600", "1"], "config mode 600 and the CA in /etc/lifeboat/ca.pem (%s)" % " ".join(lines[:2]))
    check("matches no disk" in text, "the deploy used the embedded hint (serial=NO-SUCH) and stopped, writing nothing")
    vm.send("poweroff -f\n")
sys.exit(1 if fails else 0)
