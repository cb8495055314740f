#!/usr/bin/env python3
# Status callbacks of `lifeboat deploy` on the host, against receivers this
# test runs on 127.0.0.1. The machine is a fixture tree (tests/fixtures/sysfs/
# qemu plus a NIC, DMI ids, cpuinfo and meminfo), and every deployment stops
# before a byte is written (a hint that matches no disk, a refused config),
# so nothing on the host is touched. Checked: the failed event (machine id
# from the NIC's MAC, seq, time, stage, reason, the log's tail, the
# inventory); the bearer token sent and never printed; a receiver answering
# 500 gets retries and then the event; one that never answers or is not
# there costs the bounded flush time, no more; credentials for the callback
# are refused on the kernel command line.
# timeout: 120
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

top, tmp = os.environ["LB_TOP"], os.environ["LB_TMP"]
lb = os.environ["LB_BIN"]
failed = []
TOKEN = "cb-token-%d" % os.getpid()


def check(cond, msg):
    print(("ok - " if cond else "FAIL - ") + msg, flush=True)
    if not cond:
        failed.append(msg)
    return cond


# ---- the machine: a fixture tree with a NIC and DMI ids ----
fx = os.path.join(tmp, "fx")
shutil.copytree(os.path.join(top, "tests/fixtures/sysfs/qemu"), fx, symlinks=True)
net = os.path.join(fx, "sys/devices/pci0000:00/0000:00:03.0/virtio0/net/eth0")
os.makedirs(net)
for k, v in (("address", "52:54:00:ab:cd:01"), ("type", "1"), ("carrier", "1"), ("operstate", "up"),
             ("speed", "1000")):
    open(os.path.join(net, k), "w").write(v + "\n")
os.symlink("../../../virtio0", os.path.join(net, "device"))
os.makedirs(os.path.join(fx, "sys/class/net"))
os.symlink("../../devices/pci0000:00/0000:00:03.0/virtio0/net/eth0", os.path.join(fx, "sys/class/net/eth0"))
dmi = os.path.join(fx, "sys/class/dmi/id")
os.makedirs(dmi)
for k, v in (("sys_vendor", "QEMU"), ("product_name", "Standard PC (Q35 + ICH9, 2009)"),
             ("product_uuid", "00000000-0000-0000-0000-000000000000"), ("product_serial", "RACK-0042")):
    open(os.path.join(dmi, k), "w").write(v + "\n")
open(os.path.join(fx, "proc/cpuinfo"), "w").write(
    "processor\t: 0\nmodel name\t: Fixture CPU @ 2.0GHz\n\nprocessor\t: 1\nmodel name\t: Fixture CPU @ 2.0GHz\n")
open(os.path.join(fx, "proc/meminfo"), "w").write("MemTotal:        2048000 kB\nMemFree:  1 kB\n")
envx = dict(os.environ, LIFEBOAT_SYSFS=fx + "/sys", LIFEBOAT_PROC=fx + "/proc", LIFEBOAT_DEV=fx + "/dev",
            LIFEBOAT_MEDIUM_UUID_FILE=fx + "/none")


# ---- receivers ----
class Receiver(http.server.BaseHTTPRequestHandler):
    fail_first = 0
    got = []
    auth = []

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        cls = type(self)
        if cls.fail_first > 0:
            cls.fail_first -= 1
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        cls.got.append(json.loads(body))
        cls.auth.append(self.headers.get("Authorization"))
        self.send_response(204)
        self.end_headers()


def receiver(fail_first=0):
    cls = type("R", (Receiver,), {"fail_first": fail_first, "got": [], "auth": []})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), cls)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, cls


def hanging():
    """Takes connections and requests, never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    held = []

    def loop():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            held.append(c)
    threading.Thread(target=loop, daemon=True).start()
    return s, held


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def deploy(name, lines, cmdline="", mode=0o600):
    conf = os.path.join(tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(conf, mode)
    cl = os.path.join(tmp, name + ".cmdline")
    with open(cl, "w") as f:
        f.write(cmdline + "\n")
    t0 = time.monotonic()
    p = subprocess.run([lb, "deploy", "--config", conf, "--cmdline", cl], env=envx, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout + p.stderr, time.monotonic() - t0


base = ["store = %s/store" % tmp, "point = web07/latest", "disk.system = serial=NO-SUCH-DISK",
        "callback_token = " + TOKEN]

# 1. A hint that matches nothing: one failed event with everything in it.
srv, R = receiver()
url = "http://127.0.0.1:%d/hook?site=fra1" % srv.server_address[1]
rc, log, t = deploy("nomatch", base + ["callback = " + url])
check(rc == 3 and "matches no disk" in log, "a hint that matches no disk: exit 3 (%.1f s)" % t)
ev = R.got[0] if len(R.got) == 1 else {}
check(len(R.got) == 1 and ev.get("event") == "failed" and ev.get("seq") == 1 and ev.get("time", "").endswith("Z"),
      "one event arrived: failed, seq 1, with a time (%s)" % [e.get("event") for e in R.got])
check(ev.get("machine_id") == "52:54:00:ab:cd:01", "machine_id is the first NIC's MAC (%s)" % ev.get("machine_id"))
check(ev.get("stage") == "disks" and "matches no disk" in ev.get("reason", "") and ev.get("exit") == 3,
      "stage disks, reason and exit code: %s / %s" % (ev.get("stage"), ev.get("reason")))
check(any("NO-SUCH-DISK" in l and "matches no disk" in l for l in ev.get("log", [])),
      "the log's tail names the hint that failed (%d lines)" % len(ev.get("log", [])))
inv = ev.get("inventory", {})
serials = sorted(d.get("serial") or "" for d in inv.get("disks", []))
check("VDASERIAL01" in serials and "deadbeef0001" in serials and inv.get("cpu", {}).get("count") == 2
      and inv.get("cpu", {}).get("model") == "Fixture CPU @ 2.0GHz" and inv.get("memory_bytes") == 2048000 * 1024
      and inv.get("dmi", {}).get("product_serial") == "RACK-0042"
      and [n.get("mac") for n in inv.get("nics", [])] == ["52:54:00:ab:cd:01"]
      and inv.get("nics", [{}])[0].get("speed_mbps") == 1000,
      "the inventory has the fixture's disks (%s), CPU, memory, DMI and NIC" % ",".join(serials))
check(R.auth == ["Bearer " + TOKEN] and TOKEN not in log and "site=fra1" not in log,
      "the bearer token was sent, and neither it nor the URL's query is in the output")
srv.shutdown()

# 2. 500 for a while: retried, then delivered.
srv, R = receiver(fail_first=3)
rc, log, t = deploy("flaky", base + ["callback = http://127.0.0.1:%d/" % srv.server_address[1]])
check(rc == 3 and len(R.got) == 1 and R.got[0].get("seq") == 1 and "HTTP 500; retrying" in log
      and log.count("retrying") == 1 and "1 event(s) delivered, 0 refused, 0 dropped, 3 retries" in log,
      "a receiver answering 500 three times: retried (said once), then delivered (%.1f s)" % t)
srv.shutdown()

# 3. A receiver that never answers costs the flush time and no more.
s, held = hanging()
rc, log, t_hang = deploy("hang", base + ["callback = http://127.0.0.1:%d/" % s.getsockname()[1],
                                         "callback_flush = 2"])
check(rc == 3 and "gave up after 2.0 s with 1 event(s) not delivered" in log and 1.9 <= t_hang < 6,
      "a receiver that never answers: deploy gave up after the 2 s flush, %.1f s in all" % t_hang)
rc, log, t_none = deploy("hang0", base + ["callback = http://127.0.0.1:%d/" % s.getsockname()[1],
                                          "callback_flush = 0"])
check(rc == 3 and t_none < 1.8, "the same with callback_flush = 0: %.1f s (a request in flight is aborted within a second)" % t_none)
s.close()

# 4. Nobody listening: the same bound, one line about it.
rc, log, t = deploy("down", base + ["callback = http://127.0.0.1:%d/" % free_port(), "callback_flush = 1"])
check(rc == 3 and "Connection refused; retrying in the background" in log and "gave up after 1.0 s" in log
      and t < 5, "no receiver at all: retried in the background, gave up after the 1 s flush (%.1f s)" % t)

# 5. A config that cannot be fetched is reported to the callback named on
#    the kernel command line.
srv, R = receiver()
rc, log, t = deploy("badsha", ["disk.system = serial=X"],
                    cmdline="lifeboat.config=http://127.0.0.1:1/x.conf lifeboat.config_sha256=%s "
                            "lifeboat.callback=http://127.0.0.1:%d/" % ("0" * 63, srv.server_address[1]))
check(rc == 2 and len(R.got) == 1 and R.got[0].get("stage") == "config"
      and len(R.got[0].get("inventory", {}).get("disks", [])) >= 3,
      "a refused lifeboat.config is reported as failed at stage config, with the inventory")
srv.shutdown()

# 6. Credentials for the callback are refused where every process reads them.
rc, log, t = deploy("tokcl", base[:3], cmdline="lifeboat.callback_token=x")
check(rc == 2 and "lifeboat.callback_token refused" in log, "lifeboat.callback_token on the kernel command line: refused")
rc, log, t = deploy("tokmode", base + ["callback = http://127.0.0.1:1/"], mode=0o644)
check(rc == 2 and "holds credentials but is readable by others" in log,
      "a config with callback_token readable by others: refused")
rc, log, t = deploy("badurl", base + ["callback = ftp://127.0.0.1/"])
check(rc == 2 and "not an http:// or https:// URL" in log, "a callback that is not http(s): a config error")

sys.exit(1 if failed else 0)
