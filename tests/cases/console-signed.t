#!/usr/bin/env python3
# timeout: 120
"""lifeboat console with a trusted key (trust_key in its config, as the
image's /etc/lifeboat/trusted-keys would give it), on a pseudo-terminal
against a directory store holding an older point signed by that key and a
newer unsigned one. The console says at its start that signatures are
checked; the unsigned point is listed as refused and cannot be picked, by
number or by its ID (an ID, which starts with digits, was once taken for a
number out of the list); the signed one can. A trusted key that cannot be read
stops the console. Also run under the sanitizers (sanitizers.t)."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["LB_TOP"], "tests/lib"))
from vm import Pty, Timeout  # noqa: E402

lb = os.environ["LB_BIN"]
for k in [k for k in os.environ if k.startswith("AWS_") or k.startswith("LIFEBOAT_")]:
    del os.environ[k]
tmp = os.environ["LB_TMP"]
failed = []


def check(cond, msg):
    print(("ok - " if cond else "FAIL - ") + msg, flush=True)
    if not cond:
        failed.append(msg)


def console(conf):
    c = Pty(tmp, [lb, "console", "--config", conf], name="console-%d" % len(os.listdir(tmp)))
    c.ask = lambda prompt, answer, timeout=20: (c.expect(prompt, timeout), c.send(answer + "\n"))
    return c


def W(text):
    return r"\s+".join(re.escape(w) for w in text.split())


store, img = os.path.join(tmp, "store"), os.path.join(tmp, "sys.img")
os.makedirs(store)
subprocess.run("cd %s && %s key generate --out site > /dev/null 2>&1 && head -c 1M /dev/urandom > %s && "
               "truncate -s 4M %s" % (tmp, lb, img, img), shell=True, check=True)
out = lambda *a: subprocess.run([lb] + list(a), capture_output=True, text=True, check=True).stdout.strip()
signed = out("backup", "--server", "web01", "--disk", "system=" + img, "--chunk-size", "1M", "--sign-key",
             os.path.join(tmp, "site"), store)
unsigned = out("backup", "--server", "web01", "--disk", "system=" + img, "--chunk-size", "1M", store)
conf = os.path.join(tmp, "site.conf")
with open(conf, "w") as f:
    f.write("store = %s\ntrust_key = %s/site.pub\n" % (store, tmp))

c = console(conf)
try:
    c.expect(W("Signatures are checked: only points signed by the trusted key are offered."))
    check(True, "the console says that signatures are checked")
    c.ask(r"Choice \[1\]: ", "")
    c.ask(r"Store \[%s\]: " % re.escape(store), "")
    c.ask(r"Server \(number or name\) \[1\]: ", "")
    m = c.expect(r"(?s)Restore points of web01.*?Point \(number, or an ID\): ")
    check(re.search(r"\n\s*1\s+\(refused, see above: not offered\)",
                    m.group(0)) and "is not signed" in m.group(0) and re.search(r"\n\s*2\s+\d{4}-", m.group(0)),
          "the newer unsigned point is listed as refused, the signed one offered, no default")
    c.send("1\n")
    c.expect(W("Point 1 was refused (see above): pick another."))
    c.ask(r"Point \(number, or an ID\): ", unsigned.split("/")[1])
    c.expect(W("is not a point of web01 that can be read"))
    check(True, "the unsigned point cannot be picked, by number or by its ID")
    c.ask(r"Point \(number, or an ID\): ", signed.split("/")[1])
    c.expect(r"Point %s: backup" % re.escape(signed))
    check(True, "the signed point %s is picked by its ID" % signed)
    c.ask(r"Target for system[^:]*: ", "q")
    check(c.wait() == 3, "left without restoring (exit 3)")
except Timeout as e:
    check(False, "console with a trusted key: %s" % e)
    c.wait(5)

with open(os.path.join(tmp, "broken.pub"), "w") as f:
    f.write("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n")
with open(conf, "w") as f:
    f.write("store = %s\ntrust_key = %s/broken.pub\n" % (store, tmp))
c = console(conf)
try:
    c.expect(W("A trusted key cannot be read (see above): nothing is restored until it is fixed."))
    check(c.wait() == 1, "a trusted key that cannot be read stops the console (exit 1)")
except Timeout as e:
    check(False, "broken key: %s" % e)
    c.wait(5)
sys.exit(1 if failed else 0)
