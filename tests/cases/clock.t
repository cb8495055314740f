#!/bin/sh
# timeout: 240
#
# lifeboat clock on the host, never changing the host's clock (--dry-run):
# the time from a real S3 server's Date (Ceph RGW) over HTTP (used only
# when no NTP server was named, or when allowed, and said to be
# unauthenticated) and over HTTPS (verified); a certificate refused for its
# dates alone is asked again with the dates unchecked, one refused for its
# chain or its name is not; a time outside the certificate's own validity is
# refused. With faketime (host build: our clock 6 years ahead, then 2
# behind) the step is found through a certificate that looks expired or not
# yet valid. NTP from BusyBox's ntpd as a server, when port 123 is free.
# SigV4: requests signed with a clock an hour off (LIFEBOAT_TEST_TIME) are
# refused as RequestTimeTooSkewed, signed again with the server's time, and
# succeed.
set -u
: "${LB_TOP:?}" "${LB_BIN:?}" "${LB_TMP:?}" "${LB_OUT:?}"
command -v radosgw > /dev/null || { echo "skip: radosgw not installed"; exit 77; }
command -v aws > /dev/null || { echo "skip: aws-cli not installed (creates the bucket)"; exit 77; }
command -v python3 > /dev/null || { echo "skip: python3 not installed"; exit 77; }
python3 -c 'import cryptography' 2> /dev/null || { echo "skip: python3-cryptography not installed"; exit 77; }
[ -x "$LB_BIN" ] || { echo "FAIL: $LB_BIN missing: run make lifeboat"; exit 1; }
cd "$LB_TMP"
RGW=$LB_TOP/tests/lib/rgw D=$LB_TMP/rgw
pids=
trap 'for p in $pids; do kill "$p" 2> /dev/null; done; "$RGW" stop "$D" > /dev/null 2>&1' EXIT
trap 'exit 1' INT TERM HUP
"$RGW" start "$D" --both || { echo "FAIL: rgw fixture did not start"; exit 1; }
. "$D/env"
HTTP=$AWS_ENDPOINT_URL HTTPS=$LB_RGW_HTTPS_URL CA=$AWS_CA_BUNDLE
unset AWS_CA_BUNDLE
fail=0
ok() { echo "ok - $*"; }
bad() { echo "FAIL - $*"; fail=1; }

# clk ARGS...: lifeboat clock --dry-run, stdout in out, stderr in err;
# returns its status. Never a real config or kernel command line.
: > empty.conf
clk() {
	"$LB_BIN" clock --dry-run --config empty.conf --cmdline empty.conf "$@" > out 2> err
	rc=$?
	cat err out | sed 's/^/    /'
	return $rc
}
val() { sed -n "s/^$1=//p" out; }
# small SECONDS: |step| under a minute (the host's clock is right)
small() { awk -v s="$1" 'BEGIN { exit !(s > -60 && s < 60) }'; }
near() { awk -v s="$1" -v w="$2" 'BEGIN { exit !(s > w - 120 && s < w + 120) }'; }

# ---- HTTP: unauthenticated ----
if clk --endpoint "$HTTP" --store s3://clock/x && [ "$(val source)" = http-date ] && small "$(val step)" &&
	grep -q 'plain HTTP, which is unauthenticated: used because there is no other source' err; then
	ok "plain HTTP Date used without another source, said to be unauthenticated (step $(val step) s)"
else
	bad "plain HTTP Date without another source"
fi
# an NTP server was named (nothing answers on port 1): HTTP's Date is refused
if ! clk --endpoint "$HTTP" --ntp 127.0.0.1:1 && grep -q 'not taking the time from .*plain HTTP is unauthenticated' err; then
	ok "plain HTTP Date refused when an NTP server was named and failed"
else
	bad "plain HTTP Date with a failed NTP server must be refused"
fi
if clk --endpoint "$HTTP" --ntp 127.0.0.1:1 --http-date && [ "$(val source)" = http-date ]; then
	ok "--http-date allows it"
else
	bad "--http-date"
fi
echo "clock_http_date = yes" > allow.conf
if "$LB_BIN" clock --dry-run --config allow.conf --cmdline empty.conf --endpoint "$HTTP" --ntp 127.0.0.1:1 > out 2> err &&
	[ "$(val source)" = http-date ]; then
	ok "clock_http_date = yes in the config allows it"
else
	bad "clock_http_date in the config"; cat err
fi

# ---- HTTPS: verified ----
if clk --endpoint "$HTTPS" --store s3://clock/x --ca-bundle "$CA" && [ "$(val source)" = https-date ] &&
	small "$(val step)" && ! grep -q 'unchecked' err out; then
	ok "HTTPS Date over a verified connection (step $(val step) s)"
else
	bad "HTTPS Date"
fi
if ! clk --endpoint "$HTTPS" && grep -q 'server certificate refused' err && ! grep -q 'asking again' err; then
	ok "HTTPS without the CA: refused, never asked again without the dates"
else
	bad "HTTPS with an untrusted chain must be refused outright"
fi

# ---- certificates wrong only by their dates, and by more ----
python3 - <<'EOF' || { echo "FAIL: making the test certificates"; exit 1; }
import datetime, ipaddress
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
now = datetime.datetime.now(datetime.timezone.utc)
def name(cn): return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
def save(path, key, cert):
    open(path + ".key", "wb").write(key.private_bytes(serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    open(path + ".pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
cak = ec.generate_private_key(ec.SECP256R1())
ca = (x509.CertificateBuilder().subject_name(name("clock test CA")).issuer_name(name("clock test CA"))
      .public_key(cak.public_key()).serial_number(1)
      .not_valid_before(now - datetime.timedelta(days=30)).not_valid_after(now + datetime.timedelta(days=30))
      .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
      .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
      .sign(cak, hashes.SHA256()))
save("ca2", cak, ca)
for tag, ip, start, end in (("expired", "127.0.0.1", -20, -10), ("expired-name", "127.0.0.2", -20, -10)):
    k = ec.generate_private_key(ec.SECP256R1())
    c = (x509.CertificateBuilder().subject_name(name(ip)).issuer_name(ca.subject)
         .public_key(k.public_key()).serial_number(2 if tag == "expired" else 3)
         .not_valid_before(now + datetime.timedelta(days=start)).not_valid_after(now + datetime.timedelta(days=end))
         .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
         .sign(cak, hashes.SHA256()))
    save(tag, k, c)
EOF
# An HTTPS server that dates its answers (Python's http.server adds Date),
# with one of those certificates.
cat > https.py <<'EOF'
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):
        self.send_response(403); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[1] + ".pem", sys.argv[1] + ".key")
s.socket = ctx.wrap_socket(s.socket, server_side=True)
open(sys.argv[1] + ".port", "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
for tag in expired expired-name; do
	python3 https.py "$tag" & pids="$pids $!"
done
for i in $(seq 50); do [ -s expired.port ] && [ -s expired-name.port ] && break; sleep 0.1; done
if ! clk --endpoint "https://127.0.0.1:$(cat expired.port)" --ca-bundle ca2.pem &&
	grep -q 'server certificate refused: The certificate validity has expired (by this machine' err &&
	grep -q 'asking again with the certificate.s dates unchecked' err &&
	grep -q 'outside its own certificate.s validity' err; then
	ok "a certificate expired by the server's own time: asked again without the dates, then refused"
else
	bad "an expired certificate with a right clock must be refused after the second look"
fi
if ! clk --endpoint "https://127.0.0.1:$(cat expired-name.port)" --ca-bundle ca2.pem &&
	grep -q 'server certificate refused' err && ! grep -q 'asking again' err; then
	ok "a certificate expired and for another name: refused outright (only dates are forgiven)"
else
	bad "an expired certificate for another name must be refused without a second look"
fi

# ---- a wrong clock of our own (faketime, on the host build) ----
host_lb=
for b in "$LB_OUT/build/recovery-host/lifeboat" "$LB_OUT/build/recovery-valgrind/lifeboat"; do
	[ -x "$b" ] && host_lb=$b && break
done
lib=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
if [ -n "$host_lb" ] && [ -r "$lib" ]; then
	for shift in "+2190d -189216000" "-730d 63072000"; do
		set -- $shift
		LD_PRELOAD=$lib FAKETIME=$1 FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS=verify_asan_link_order=0 \
			"$host_lb" clock --dry-run --config empty.conf --cmdline empty.conf --endpoint "$HTTPS" \
			--store s3://clock/x --ca-bundle "$CA" > out 2> err
		rc=$?
		sed 's/^/    /' err out
		if [ $rc = 0 ] && [ "$(val source)" = https-date ] && grep -q 'certificate dates unchecked' out &&
			near "$(val step)" "$2"; then
			ok "our clock $1 off: the certificate looked $([ "$2" -lt 0 ] && echo expired || echo 'not yet valid'); time from HTTPS, step $(val step) s"
		else
			bad "our clock $1 off: expected the HTTPS Date with the dates unchecked and a step near $2 s"
		fi
	done
else
	echo "# no host build or no libfaketime: the wrong-clock HTTPS cases are left to clock-rtc.t"
fi

# ---- NTP from BusyBox's ntpd (a stratum-1 server on its own clock) ----
bb=$LB_OUT/build/busybox/busybox
if [ -x "$bb" ] && "$bb" ntpd --help 2>&1 | grep -q -- '-l'; then
	"$bb" ntpd -n -l -I lo > ntpd.log 2>&1 & pids="$pids $!"
	sleep 1
	if kill -0 "$!" 2> /dev/null; then
		if clk --ntp 127.0.0.1 --endpoint "$HTTP" && [ "$(val source)" = ntp ] && small "$(val step)"; then
			ok "NTP first, from BusyBox ntpd on 127.0.0.1 (step $(val step) s)"
		else
			bad "NTP from BusyBox ntpd"
		fi
	else
		echo "# BusyBox ntpd could not serve on port 123 ($(head -c 200 ntpd.log)): NTP not checked"
	fi
else
	echo "# no BusyBox with ntpd built: NTP not checked"
fi
if ! (unset AWS_ENDPOINT_URL; clk) && grep -q 'no NTP server and no object store endpoint' err; then
	ok "no source at all: exit 1, said so"
else
	bad "no source"
fi

# ---- SigV4 with a clock an hour behind: signed again with the server's ----
aws --endpoint-url "$HTTP" s3api create-bucket --bucket clock > /dev/null || bad "create-bucket"
echo hello > obj
if LIFEBOAT_TEST_TIME=$(date -u -d '-1 hour' +%Y%m%dT%H%M%SZ) "$LB_BIN" s3 put obj s3://clock/obj 2> err &&
	grep -q 'RequestTimeTooSkewed: the server.s clock (.*) is 3[56][0-9][0-9] s ahead of ours; signing with its time' err; then
	ok "put signed an hour behind: RequestTimeTooSkewed, signed again with the server's clock"
else
	bad "SigV4 skew retry (put)"; cat err
fi
if LIFEBOAT_TEST_TIME=$(date -u -d '+3 hours' +%Y%m%dT%H%M%SZ) "$LB_BIN" s3 head s3://clock/obj > out 2> err &&
	grep -q 'HTTP 403: the server.s clock (.*) is 10[78][0-9][0-9] s behind ours' err; then
	ok "HEAD (no body to say why) signed 3 hours ahead: the 403's Date tells, signed again"
else
	bad "SigV4 skew retry (head)"; cat err out
fi
exit $fail
