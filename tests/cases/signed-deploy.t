#!/usr/bin/env python3
# timeout: 600
#
# A trusted key embedded in the image (iso/customize --trust-key) in QEMU:
# the product kernel and PXE initrd, with a site config and the site's
# public key appended, deploy from Ceph RGW on the host (guestfwd). The
# store holds an older point signed by the site key and a newer unsigned
# one; with point = SERVER/latest the deployment must restore the signed
# one (the log says it picked it and why), byte for byte, and init must
# name the trusted key at boot. Then point = the unsigned one by its id:
# refused, nothing written to either disk.
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["LB_TOP"], "tests/lib"))
from vm import VM  # noqa: E402

top, out, tmp = os.environ["LB_TOP"], os.environ["LB_OUT"], os.environ["LB_TMP"]
lb = os.environ.get("LB_BIN", os.path.join(out, "bin/lifeboat"))
rgw, fx = os.path.join(top, "tests/lib/rgw"), os.path.join(tmp, "rgw")
failed = []


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


def check(cond, msg):
    print(("ok - " if cond else "FAIL - ") + msg)
    if not cond:
        failed.append(msg)


def zeros(path):
    with open(path, "rb") as f:
        return all(b.count(0) == len(b) for b in iter(lambda: f.read(1 << 20), b""))


for f in ("pxe/vmlinuz", "pxe/initrd.img"):
    if not os.path.exists(os.path.join(out, f)):
        print("FAIL - %s/%s missing (make)" % (out, f))
        sys.exit(1)


def boot(name, point, expect, timeout=300):
    conf = os.path.join(tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write("\n".join(["store = s3://signed/site", "point = " + point, "endpoint = http://10.0.2.100:80",
                           "region = us-east-1", "access_key_id = " + env["AWS_ACCESS_KEY_ID"],
                           "secret_access_key = " + env["AWS_SECRET_ACCESS_KEY"],
                           "disk.system = serial=LB-TARGET-0002"]) + "\n")
    os.chmod(conf, 0o600)
    initrd = os.path.join(tmp, name + ".initrd")
    sh("%s/iso/customize --config %s --trust-key %s/site.pub --initrd %s/pxe/initrd.img %s"
       % (top, conf, tmp, out, initrd))
    a, b = os.path.join(tmp, name + "-a.img"), os.path.join(tmp, name + "-b.img")
    for p in (a, b):
        with open(p, "wb") as f:
            f.truncate(48 << 20)
    vm = VM(tmp, "direct", kernel=os.path.join(out, "pxe/vmlinuz"), initrd=initrd,
            append="console=ttyS0,115200n8 lifeboat.after=poweroff",
            disks=[("virtio", a, "LB-OTHER-0001"), ("virtio", b, "LB-TARGET-0002")],
            guestfwd=[(80, int(env["LB_RGW_PORT"]))], name=name, mem=1024)
    with vm:
        m = vm.expect(expect, timeout)
        deadline = time.monotonic() + 60
        while vm.proc.poll() is None and time.monotonic() < deadline:
            try:
                vm._read(deadline)
            except Exception:
                break
    return m, a, b, open(vm.log_path, errors="replace").read()


sh("%s start %s > /dev/null" % (rgw, fx))
try:
    env = dict(l.split("=", 1) for l in
               subprocess.run(". %s/env && env | grep -E '^(AWS_|LB_RGW_)'" % fx, shell=True, check=True,
                              capture_output=True, text=True).stdout.split("\n") if "=" in l)
    os.environ.update(env)
    sh("/usr/bin/aws --endpoint-url %s s3api create-bucket --bucket signed > /dev/null" % env["AWS_ENDPOINT_URL"])
    sh("cd %s && %s key generate --out site > /dev/null 2>&1" % (tmp, lb))
    kid = subprocess.run([lb, "key", "id", os.path.join(tmp, "site.pub")], capture_output=True,
                         text=True).stdout.strip()
    src = {}
    for v in ("signed", "unsigned"):
        src[v] = os.path.join(tmp, v + ".img")
        sh("head -c 6M /dev/urandom > %s && truncate -s 40M %s && sgdisk -n1:2048:+30M %s > /dev/null"
           % (src[v], src[v], src[v]))
    signed = subprocess.run("%s backup --server web09 --disk system=%s --chunk-size 1M --sign-key %s/site "
                            "s3://signed/site 2>/dev/null" % (lb, src["signed"], tmp), shell=True, check=True,
                            capture_output=True, text=True).stdout.strip()
    unsigned = subprocess.run("%s backup --server web09 --disk system=%s --chunk-size 1M s3://signed/site "
                              "2>/dev/null" % (lb, src["unsigned"]), shell=True, check=True,
                              capture_output=True, text=True).stdout.strip()
    check(signed < unsigned, "points: %s signed by key %s, then %s unsigned" % (signed, kid[:16], unsigned))

    m, a, b, console = boot("latest", "web09/latest", r"lifeboat: deploy (finished: OK|FAILED)")
    check("trusted key site.pub: %s" % kid[:16] in console, "init names the embedded key at boot (%s)" % kid[:16])
    check("web09/latest: picked %s instead, the newest point signed by a trusted key" % signed in console,
          "latest skipped the newer unsigned point and said it picked %s" % signed)
    # a larger target: its GPT moved to its end, so the first MiB differs by design
    same = subprocess.run(["cmp", "-s", "-i", str(1 << 20), "-n", str(38 << 20), src["signed"], b]).returncode == 0
    check(m.group(1) == "finished: OK" and same and zeros(a),
          "the signed point was deployed onto LB-TARGET-0002 byte for byte; the other disk untouched")

    m, a, b, console = boot("unsigned", unsigned, r"lifeboat: deploy (finished: OK|FAILED)")
    check(m.group(1) == "FAILED" and "is not signed" in console and zeros(a) and zeros(b),
          "the unsigned point named by its id: deployment refused (%s), nothing written"
          % ("is not signed" if "is not signed" in console else "no refusal message"))
    check(env["AWS_SECRET_ACCESS_KEY"] not in console, "the secret key is not on the console")
finally:
    subprocess.run("%s stop %s > /dev/null 2>&1" % (rgw, fx), shell=True)
sys.exit(1 if failed else 0)
