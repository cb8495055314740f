#!/usr/bin/env python3
# Credentials never show: with a distinctive access key, secret and session
# token, run backup, list, show, restore, gc --dry-run --verbose, a failing
# request (wrong secret: 403, with a session token), s3 ls, and a deploy
# (fixture machine, stopped before any write) whose config holds the
# secret, with a callback receiver; every output, log and event body is
# searched for the secret and the token. While a restore runs,
# /proc/PID/cmdline and /proc/PID/environ of lifeboat must not hold the
# secret (it came in through the environment and is blanked there once
# copied). A config file and a shared credentials file that others can read
# are refused, naming the file and its mode.
# timeout: 240
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time

top, tmp, out = os.environ["LB_TOP"], os.environ["LB_TMP"], os.environ["LB_OUT"]
lb = os.environ["LB_BIN"]
rgw = os.path.join(top, "tests/lib/rgw")
fx = os.path.join(tmp, "rgw")
failed = []
ACCESS = "LBSECRETSACCESSKEY01"
SECRET = "Zq7secretTESTvalue-must-never-show-9x4K"
TOKEN = "SessTOKEN-must-never-show-Qw8e"
CBTOKEN = "cb-TOKEN-must-never-show-P0o9"
seen = []  # every text lifeboat produced, searched at the end


def check(cond, msg):
    print(("ok - " if cond else "FAIL - ") + msg, flush=True)
    if not cond:
        failed.append(msg)
    return cond


if not shutil.which("radosgw") or not shutil.which("aws"):
    print("skip: radosgw or aws-cli not installed")
    sys.exit(77)


def run(args, env, **kw):
    p = subprocess.run([lb] + args, env=env, capture_output=True, text=True, errors="replace", **kw)
    seen.append(("lifeboat " + " ".join(args), p.stdout + p.stderr))
    return p


class Receiver(http.server.BaseHTTPRequestHandler):
    got = []

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Receiver.got.append(body.decode(errors="replace"))
        self.send_response(204)
        self.end_headers()


recv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=recv.serve_forever, daemon=True).start()

subprocess.run([rgw, "start", fx], check=True, stdout=subprocess.DEVNULL)
try:
    envf = dict(l.split("=", 1) for l in subprocess.run(
        ". %s/env && env | grep -E '^(AWS_|LB_RGW_)'" % fx, shell=True, check=True, capture_output=True,
        text=True).stdout.splitlines() if "=" in l)
    subprocess.run(["radosgw-admin", "-c", os.path.join(fx, "ceph.conf"), "user", "create", "--uid", "secrets",
                    "--display-name", "secrets test", "--access-key", ACCESS, "--secret-key", SECRET],
                   check=True, stdout=subprocess.DEVNULL, timeout=30)
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base.update(HOME=tmp, AWS_ENDPOINT_URL=envf["AWS_ENDPOINT_URL"], AWS_REGION="us-east-1")
    env = dict(base, AWS_ACCESS_KEY_ID=ACCESS, AWS_SECRET_ACCESS_KEY=SECRET)
    subprocess.run(["aws", "--endpoint-url", envf["AWS_ENDPOINT_URL"], "s3api", "create-bucket", "--bucket", "sec"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    store = "s3://sec/site"

    # ---- a point: 192 MiB, mostly random (a restore long enough to look at) ----
    src = os.path.join(tmp, "src.img")
    with open(src, "wb") as f:
        f.truncate(192 << 20)
        f.seek(8 << 20)
        f.write(os.urandom(160 << 20))
    p = run(["backup", "--server", "sec01", "--disk", "system=" + src, "--chunk-size", "1M", store], env)
    check(p.returncode == 0, "backup with the credentials in the environment")
    check(run(["list", store], env).returncode == 0, "list")
    check(run(["show", store, "sec01/latest"], env).returncode == 0, "show")
    check(run(["gc", "--dry-run", "--verbose", store], env).returncode == 0, "gc --dry-run --verbose")
    check(run(["s3", "ls", "s3://sec/site/"], env).returncode == 0, "s3 ls")

    # ---- a restore, looked at from outside while it runs ----
    dst = os.path.join(tmp, "dst.img")
    with open(dst, "wb") as f:
        f.truncate(192 << 20)
    rlog = open(os.path.join(tmp, "restore.log"), "w+")
    proc = subprocess.Popen([lb, "restore", "--yes", "--workers", "1", "--disk", "system=" + dst, store,
                             "sec01/latest"], env=env, stdout=rlog, stderr=subprocess.STDOUT)
    samples, leaks = 0, []
    t0 = time.monotonic()
    while proc.poll() is None and time.monotonic() - t0 < 120:
        time.sleep(0.05)
        if time.monotonic() - t0 < 0.3:
            continue  # the store is opened (and the environment blanked) in the first moments
        try:
            for what in ("cmdline", "environ"):
                data = open("/proc/%d/%s" % (proc.pid, what), "rb").read()
                if SECRET.encode() in data:
                    leaks.append(what)
            samples += 1
        except OSError:
            break
    rc = proc.wait(timeout=120)
    rlog.seek(0)
    seen.append(("restore", rlog.read()))
    check(rc == 0, "restore (exit %d)" % rc)
    check(samples > 0 and not leaks, "/proc/PID/cmdline and environ of a running restore: no secret "
          "(%d samples over %.1f s%s)" % (samples, time.monotonic() - t0, ", found in " + ",".join(set(leaks))
                                          if leaks else ""))
    check(open(src, "rb").read() == open(dst, "rb").read(), "the restore is byte-identical")

    # ---- refusals ----
    bad = dict(env, AWS_SECRET_ACCESS_KEY=SECRET[::-1], AWS_SESSION_TOKEN=TOKEN)
    p = run(["list", store], bad)
    check(p.returncode != 0 and "403" in p.stdout + p.stderr, "a wrong secret (and a session token): 403, refused")
    p = run(["s3", "head", "s3://sec/nothing"], bad)
    check(p.returncode != 0, "s3 head with a wrong secret: refused")

    cred = os.path.join(tmp, ".aws", "credentials")
    os.makedirs(os.path.dirname(cred))
    with open(cred, "w") as f:
        f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (ACCESS, SECRET))
    os.chmod(cred, 0o600)
    p = run(["list", store], base)
    check(p.returncode == 0, "credentials from ~/.aws/credentials (mode 600)")
    os.chmod(cred, 0o644)
    p = run(["list", store], base)
    check(p.returncode != 0 and ("credentials %s: readable by others (mode 644)" % cred) in p.stderr,
          "a world-readable credentials file is refused, naming the file and the mode")
    other = os.path.join(tmp, "shared-creds")
    shutil.copy(cred, other)
    os.chmod(other, 0o640)
    p = run(["list", store], dict(base, AWS_SHARED_CREDENTIALS_FILE=other))
    check(p.returncode != 0 and ("credentials %s: readable by others (mode 640)" % other) in p.stderr,
          "AWS_SHARED_CREDENTIALS_FILE readable by the group: refused, naming the file and the mode")

    # ---- deploy with the secret in its config and a callback ----
    mfx = os.path.join(tmp, "fx")
    shutil.copytree(os.path.join(top, "tests/fixtures/sysfs/qemu"), mfx, symlinks=True)
    menv = dict(base, LIFEBOAT_SYSFS=mfx + "/sys", LIFEBOAT_PROC=mfx + "/proc", LIFEBOAT_DEV=mfx + "/dev",
                LIFEBOAT_MEDIUM_UUID_FILE=mfx + "/none")
    conf = os.path.join(tmp, "lifeboat.conf")
    with open(conf, "w") as f:
        f.write("store = %s\npoint = sec01/latest\nendpoint = %s\naccess_key_id = %s\nsecret_access_key = %s\n"
                "session_token = %s\ncallback = http://127.0.0.1:%d/ev\ncallback_token = %s\n"
                "callback_flush = 5\ndisk.system = serial=NO-SUCH-DISK\n"
                % (store, envf["AWS_ENDPOINT_URL"], ACCESS, SECRET, TOKEN, recv.server_address[1], CBTOKEN))
    os.chmod(conf, 0o600)
    cmdline = os.path.join(tmp, "cmdline")
    open(cmdline, "w").write("console=ttyS0\n")
    p = run(["deploy", "--config", conf, "--cmdline", cmdline], menv)
    check(p.returncode == 3 and Receiver.got, "deploy stopped before writing (no disk matches), events sent "
          "(%d)" % len(Receiver.got))
    os.chmod(conf, 0o644)
    p = run(["deploy", "--config", conf, "--cmdline", cmdline, "--dry-run"], menv)
    check(p.returncode == 2 and ("config %s:4: holds credentials but is readable by others (mode 644)" % conf)
          in p.stderr, "a world-readable config with credentials is refused, naming the file and the mode")
    os.chmod(conf, 0o600)
    open(cmdline, "w").write("console=ttyS0 lifeboat.secret_access_key=%s\n" % SECRET)
    p = run(["deploy", "--config", conf, "--cmdline", cmdline, "--dry-run"], menv)
    check(p.returncode != 0 and "lifeboat.secret_access_key refused" in p.stderr,
          "a secret on the kernel command line is refused (without repeating it)")

    # ---- the search ----
    for name, text in seen + [("event", e) for e in Receiver.got]:
        for s, what in ((SECRET, "secret"), (SECRET[::-1], "wrong secret"), (TOKEN, "session token"),
                        (CBTOKEN, "callback token")):
            if s in text:
                check(False, "the %s appears in %s" % (what, name))
    check(True, "no secret, session token or callback token in %d outputs and %d events" %
          (len(seen), len(Receiver.got)))
finally:
    recv.shutdown()
    subprocess.run([rgw, "stop", fx], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
sys.exit(1 if failed else 0)
