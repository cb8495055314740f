#!/usr/bin/env python3
# A machine whose RTC is years off deploys anyway: Lifeboat boots in QEMU
# (TCG, direct kernel, the product initrd plus a site config by
# iso/customize) with -rtc base= two years in the past and six in the
# future, and deploys a point from Ceph RGW on the host (guestfwd). Over
# HTTPS the certificate (valid two days from now, for IP 10.0.2.100) looks
# not yet valid or expired to the guest: init's `lifeboat clock` asks again
# with the dates unchecked (chain and name checked), takes the time from
# RGW's Date and sets the clock; TLS and SigV4 then work. Over HTTP (no NTP
# server known) the Date is taken and said to be unauthenticated. Each boot
# must deploy the target byte for byte and its console must name the
# clock's source and step.
# timeout: 900
import datetime
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["LB_TOP"], "tests/lib"))
from vm import VM  # noqa: E402

top, out, tmp = os.environ["LB_TOP"], os.environ["LB_OUT"], os.environ["LB_TMP"]
lb = os.environ.get("LB_BIN", os.path.join(out, "bin/lifeboat"))
rgw = os.path.join(top, "tests/lib/rgw")
fx = os.path.join(tmp, "rgw")
failed = []

for f in ("pxe/vmlinuz", "pxe/initrd.img"):
    if not os.path.exists(os.path.join(out, f)):
        print("FAIL - %s missing: run make" % f)
        sys.exit(1)


def sh(cmd):
    return subprocess.run(cmd, shell=True, check=True)


def check(cond, msg):
    print(("ok - " if cond else "FAIL - ") + msg, flush=True)
    if not cond:
        failed.append(msg)
    return cond


os.environ["LB_RGW_TLS_SAN"] = "IP:10.0.2.100"
sh("%s start %s --both > /dev/null" % (rgw, fx))
try:
    env = dict(l.split("=", 1) for l in subprocess.run(
        ". %s/env && env | grep -E '^(AWS_|LB_RGW_)'" % fx, shell=True, check=True, capture_output=True,
        text=True).stdout.splitlines() if "=" in l)
    os.environ.update(env)
    https_port = int(env["LB_RGW_HTTPS_URL"].rsplit(":", 1)[1])
    sh("/usr/bin/aws --endpoint-url %s s3api create-bucket --bucket rtc > /dev/null" % env["AWS_ENDPOINT_URL"])
    src = os.path.join(tmp, "src.img")
    sh("truncate -s 24M %s && head -c 2M /dev/urandom | dd of=%s bs=1M seek=4 conv=notrunc status=none" % (src, src))
    sh("%s backup --server rtc01 --disk system=%s --chunk-size 1M s3://rtc/site > /dev/null 2>&1" % (lb, src))

    def boot(name, rtc, endpoint):
        conf = os.path.join(tmp, name + ".conf")
        lines = ["store = s3://rtc/site", "point = rtc01/latest", "endpoint = " + endpoint, "region = us-east-1",
                 "access_key_id = " + env["AWS_ACCESS_KEY_ID"],
                 "secret_access_key = " + env["AWS_SECRET_ACCESS_KEY"],
                 "ca_bundle = /etc/lifeboat/ca.pem", "disk.system = serial=LB-RTC-TARGET"]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(conf, 0o600)
        initrd = os.path.join(tmp, name + ".initrd")
        sh("%s/iso/customize --config %s --ca %s --initrd %s/pxe/initrd.img %s"
           % (top, conf, env["AWS_CA_BUNDLE"], out, initrd))
        target = os.path.join(tmp, name + ".img")
        with open(target, "wb") as f:
            f.truncate(32 << 20)
        vm = VM(tmp, "direct", kernel=os.path.join(out, "pxe/vmlinuz"), initrd=initrd,
                append="console=ttyS0,115200n8 lifeboat.after=poweroff", disks=[("virtio", target, "LB-RTC-TARGET")],
                guestfwd=[(80, int(env["LB_RGW_PORT"]), "exec"), (443, https_port, "exec")], name=name, mem=768,
                extra=["-rtc", "base=" + rtc.strftime("%Y-%m-%dT%H:%M:%S")])
        with vm:
            try:
                m = vm.expect(r"lifeboat: deploy (finished: OK|FAILED)", 300)
                result = m.group(1)
            except Exception as e:  # a timeout or QEMU gone: the log says why
                result = "no end (%s)" % e
            t = vm.elapsed()
        console = open(vm.log_path, errors="replace").read()
        same = subprocess.run(["cmp", "-s", "-n", str(24 << 20), src, target]).returncode == 0
        return result, t, console, same

    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    cases = (("past-https", now.replace(year=now.year - 2), "https://10.0.2.100:443", "https-date", "starts in the future",
              r"\+[0-9]+\."),
             ("future-https", now.replace(year=now.year + 6), "https://10.0.2.100:443", "https-date", "has expired",
              r"-18[0-9]{7}\."),
             ("past-http", now.replace(year=now.year - 2), "http://10.0.2.100:80", "http-date", None,
              r"\+[0-9]+\."))
    for name, rtc, endpoint, source, why, step in cases:
        result, t, console, same = boot(name, rtc, endpoint)
        lines = [l for l in console.splitlines() if "clock" in l]
        print("\n".join("    " + l for l in lines))
        check(result == "finished: OK" and same,
              "%s: RTC at %s, deploy over %s: %s in %.0f s, target %s" %
              (name, rtc.strftime("%Y-%m-%d"), endpoint.split(":")[0], result, t,
               "byte-identical" if same else "DIFFERENT"))
        setl = [l for l in lines if "clock: set from " + source in l]
        check(setl and re.search(r"\(" + step, setl[0]),
              "%s: the console names the source (%s) and the step" % (name, source))
        if why:
            check(("server certificate refused: The certificate validity " + why) in console and
                  "certificate dates unchecked" in console,
                  "%s: the certificate looked '%s' by the RTC; asked again with the dates unchecked" % (name, why))
        else:
            check("unauthenticated: used because there is no other source" in console,
                  "%s: the plain-HTTP Date is said to be unauthenticated" % name)
        check(env["AWS_SECRET_ACCESS_KEY"] not in console, "%s: the secret key is not on the console" % name)
finally:
    subprocess.run("%s stop %s > /dev/null 2>&1" % (rgw, fx), shell=True)
sys.exit(1 if failed else 0)
