#!/usr/bin/env python3
# timeout: 120
"""lifeboat console on the build host, on a pseudo-terminal (so the echo-off
and type-ahead code runs), against a directory store with a two-disk point
and image files as targets. No QEMU: the quick twin of console.t, also run
under the sanitizers (sanitizers.t).

Checked: the config's store offered as the default; a store that is not a
directory refused with what to do, and asked again; a too-small target
refused; b back from the second disk to the first, whose choice is offered
again; a target already taken refused; a skipped disk; a wrong confirmation
sends back to the disks with nothing written; the restore of both disks byte
for byte; exit statuses 0 (restored) and 3 (left); a world-readable config
with a secret refused, the console still usable."""
import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["LB_TOP"], "tests/lib"))
from vm import Pty, Timeout  # noqa: E402

lb = os.environ["LB_BIN"]
for k in [k for k in os.environ if k.startswith("AWS_")]:
    del os.environ[k]  # the console offers them as defaults
tmp = os.environ["LB_TMP"]
failed = []
MiB = 1 << 20


def check(cond, msg):
    print(("ok - " if cond else "FAIL - ") + msg, flush=True)
    if not cond:
        failed.append(msg)
    return cond


def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)


def zeros(path):
    return zeros_from(path, 0)


def zeros_from(path, off):
    with open(path, "rb") as f:
        f.seek(off)
        b = f.read()
        return b.count(0) == len(b)


def console(*args):
    c = Pty(tmp, [lb, "console"] + list(args), name="console-%d" % len(os.listdir(tmp)))
    c.ask = lambda prompt, answer, timeout=20: (c.expect(prompt, timeout), c.send(answer + "\n"))
    return c


def W(text):
    return r"\s+".join(re.escape(w) for w in text.split())


# A two-disk point: system (8 MiB, GPT) and data1 (4 MiB of random bytes).
store = os.path.join(tmp, "store")
os.makedirs(store)
sysimg, dataimg = os.path.join(tmp, "sys-src.img"), os.path.join(tmp, "data-src.img")
sh("truncate -s 8M %s && printf 'label: gpt\\n,4M\\n' | sfdisk -q %s && head -c 2M /dev/urandom | "
   "dd of=%s bs=1M seek=3 conv=notrunc status=none && head -c 4M /dev/urandom > %s"
   % (sysimg, sysimg, sysimg, dataimg))
sh("%s backup --server web01 --disk system=%s --disk data1=%s --chunk-size 1M %s > /dev/null 2>&1"
   % (lb, sysimg, dataimg, store))
small, t1, t2 = (os.path.join(tmp, n) for n in ("small.img", "t1.img", "t2.img"))
for p, size in ((small, 2), (t1, 8), (t2, 8)):
    with open(p, "wb") as f:
        f.truncate(size * MiB)
conf = os.path.join(tmp, "site.conf")
with open(conf, "w") as f:
    f.write("store = %s\n" % store)
os.chmod(conf, 0o600)

c = console("--config", conf)
try:
    c.ask(r"Choice \[1\]: ", "")
    c.ask(r"Store \[%s\]: " % re.escape(store), "/nonexistent/copy")
    c.expect(W("/nonexistent/copy is not a directory: mount the disk that holds the copy first"))
    check(True, "a store that is not a directory is refused with what to do")
    c.ask(r"Store \[/nonexistent/copy\]: ", store)
    c.expect(r"OK: 1 server with restore points\.")
    c.ask(r"Server \(number or name\) \[1\]: ", "")
    m = c.expect(r"(?s)Restore points of web01.*?Point \(number, or an ID\) \[1\]: ")
    check("system 8.0M, data1 4.0M" in m.group(0), "the point is listed with both disks and their sizes")
    c.send("\n")

    c.expect(r"disks \(1 of 2 of the point\)")
    c.ask(r"Target for system \(number, name or path; s skips it\)[^:]*: ", small)
    c.expect(W("%s: 2097152 bytes is smaller than disk system of the point (8388608 bytes)" % small))
    check(True, "a too-small target is refused with its reason")
    c.ask(r"Target for system \(number, name or path; s skips it\)[^:]*: ", t1)
    c.expect(r"Disk system -> %s\." % re.escape(t1))
    c.expect(r"disks \(2 of 2 of the point\)")
    c.ask(r"Target for data1 \(number, name or path; s skips it\)[^:]*: ", "b")
    c.expect(r"disks \(1 of 2 of the point\)")
    c.expect(r"Chosen before: %s\." % re.escape(t1))
    c.ask(r"Target for system \(number, name or path; s skips it\) \[%s\]: " % re.escape(t1), "")
    c.expect(r"Disk system -> %s\." % re.escape(t1))
    check(True, "b from the second disk went back to the first, its choice offered as the default")
    c.ask(r"Target for data1 \(number, name or path; s skips it\)[^:]*: ", t1)
    c.expect(W("%s is already the target of disk system" % t1))
    check(True, "a target already taken by another disk is refused")
    c.ask(r"Target for data1 \(number, name or path; s skips it\)[^:]*: ", "s")
    c.expect(r"Disk data1 is skipped")
    m = c.expect(r"(?s)Step 6 of 7: confirm ===\n(.*?)Type (\S+) to confirm: ")
    check("not restored (skipped)" in m.group(1) and m.group(2) == t1,
          "the plan shows system -> t1 and data1 skipped, and asks for t1 by name")
    c.send("yes\n")
    c.expect(W("'yes' is not %s: nothing was written. Back to the disks." % t1))
    check(zeros(t1) and zeros(t2) and zeros(small), "a wrong confirmation wrote nothing")
    c.ask(r"Target for data1 \(number, name or path; s skips it\)[^:]*: ", t2)
    # The plan's order: the boot disk (system) last.
    asked = []
    for _ in range(2):
        asked.append(c.expect(r"Type (\S+) to confirm: ").group(1))
        c.send(asked[-1] + "\n")
    check(asked == [t2, t1], "each target typed by name, the boot disk's last")
    m = c.expect(r"(Done: web01/\S+\s+is\s+restored|The restore FAILED)", 60)
    check(m.group(1).startswith("Done"), "both disks restored")
    c.ask(r"What next ===(?s:.*)Choice: ", "1")
    rc = c.wait()
    check(rc == 0, "exit status 0 after a restore (got %s)" % rc)
except Timeout as e:
    check(False, "console flow: %s" % e)
    c.wait(5)
check(subprocess.run(["cmp", "-s", "-n", str(4 * MiB), dataimg, t2]).returncode == 0 and zeros_from(t2, 4 * MiB),
      "data1 restored byte for byte (and the rest of its larger target untouched)")
check(subprocess.run(["cmp", "-s", "-n", str(8 * MiB), sysimg, t1]).returncode == 0,
      "system restored byte for byte (same size: nothing moved)")
check(zeros(small), "the too-small target was never written")

# q leaves at once: exit 3, nothing restored.
c = console("--config", conf)
try:
    c.ask(r"Choice \[1\]: ", "q")
    c.expect(r"Leaving the restore console; nothing was restored\.")
    check(c.wait() == 3, "q leaves with exit status 3")
except Timeout as e:
    check(False, "q: %s" % e)
    c.wait(5)

# An S3 store where nothing listens: the secret typed on a real terminal is
# not echoed, and "connection refused" sends back to the endpoint.
with socket.socket() as k:
    k.bind(("127.0.0.1", 0))
    port = k.getsockname()[1]
secret = "s3cr3tNeverEchoed0000000000000000000000x"
c = console("--config", "/dev/null")
try:
    c.ask(r"Choice \[1\]: ", "")
    c.ask(r"Store: ", "s3://bucket/prefix")
    c.ask(r"Endpoint URL \(- for AWS S3\) \[none\]: ", "http://127.0.0.1:%d" % port)
    c.ask(r"Region \[us-east-1\]: ", "")
    c.ask(r"Access key ID: ", "AKIDEXAMPLE")
    c.ask(r"Secret access key \(not shown\): ", secret)
    c.ask(r"CA bundle file for a private CA \(- for none\) \[none\]: ", "")
    c.expect(W("Nothing answers at http://127.0.0.1:%d (connection refused): check the endpoint's host and port."
               % port))
    c.ask(r"Endpoint URL \(- for AWS S3\) \[http://127\.0\.0\.1:%d\]: " % port, "q")
    check(c.wait() == 3 and secret not in open(c.log_path).read(),
          "connection refused: explained, back to the endpoint; the secret was not echoed")
except Timeout as e:
    check(False, "refused endpoint: %s" % e)
    c.wait(5)

# A config that others may read must not lend its secret; the console
# says so and starts with empty fields.
with open(conf, "w") as f:
    f.write("store = s3://b/p\nsecret_access_key = hunter2hunter2\n")
os.chmod(conf, 0o644)
c = console("--config", conf)
try:
    c.expect(W("holds credentials but is readable by others (mode 644): chmod 600 it"))
    c.expect(W("The config file is not used (see above): type the store's details instead."))
    c.ask(r"Choice \[1\]: ", "")
    c.ask(r"Store: ", "q")
    check(c.wait() == 3 and "hunter2" not in open(c.log_path).read(),
          "a world-readable config with a secret is refused, not used")
except Timeout as e:
    check(False, "readable config: %s" % e)
    c.wait(5)

# Not a terminal and no input: the console ends at once (EOF), it never spins.
r = subprocess.run([lb, "console", "--config", "/dev/null"], stdin=subprocess.DEVNULL, capture_output=True,
                   text=True, timeout=20)
check(r.returncode == 3 and "The input ended" in r.stdout, "at the end of the input the console leaves (exit 3)")
sys.exit(1 if failed else 0)
