#!/usr/bin/env python3
# timeout: 300
#
# A site config, a CA and a trusted public key embedded into a built ISO
# with iso/customize (no rebuild) are there when the customized ISO boots: the config makes init
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
lb = os.environ.get("LB_BIN", os.path.join(out, "bin/lifeboat"))
subprocess.run([lb, "key", "generate", "--out", os.path.join(tmp, "site")], check=True, capture_output=True)
kid = subprocess.run([lb, "key", "id", os.path.join(tmp, "site.pub")], check=True, capture_output=True,
                     text=True).stdout.strip()
# a private key is refused, with nothing written
r = subprocess.run([os.path.join(top, "iso/customize"), "--trust-key", os.path.join(tmp, "site"), "--iso",
                    os.path.join(out, "lifeboat.iso"), os.path.join(tmp, "bad.iso")], capture_output=True, text=True)
check(r.returncode != 0 and "not a PEM public key" in r.stderr and not os.path.exists(os.path.join(tmp, "bad.iso")),
      "customize refuses a private key as --trust-key")
subprocess.run([os.path.join(top, "iso/customize"), "--config", conf, "--ca", ca, "--trust-key",
                os.path.join(tmp, "site.pub"), "--iso", os.path.join(out, "lifeboat.iso"), iso], check=True)
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
                      "stat -c %a /etc/lifeboat/trusted-keys/site.pub; lifeboat key id /etc/lifeboat/trusted-keys/site.pub; "
                      "grep -o 'matches no disk; nothing was written' /run/lifeboat/boot.log | head -n 1")
    lines = text.split()
    check(lines[:2] == ["600", "1"], "config mode 600 and the CA in /etc/lifeboat/ca.pem (%s)" % " ".join(lines[:2]))
    check(lines[2:4] == ["644", kid], "the trusted key in /etc/lifeboat/trusted-keys/site.pub, mode 644, id %s"
          % kid[:16])
    check(("trusted key site.pub: " + kid[:16]) in open(vm.log_path, errors="replace").read(),
          "init names the trusted key on the console at boot")
    check("matches no disk" in text, "the deploy used the embedded hint (serial=NO-SUCH) and stopped, writing nothing")
    vm.send("poweroff -f\n")
sys.exit(1 if fails else 0)
